"""A completion report for the direct path, in the layout S3 Batch Operations writes its own.

``{location}/job-{job_id}/manifest.json`` lists one result CSV per task status under
``job-{job_id}/results/`` (no header), each row ``Bucket, Key, VersionId, TaskStatus, HTTPStatusCode,
ErrorCode, ResultMessage`` as real AWS rows have them (``report.RESULT_COLUMNS``: the status before
the code, whatever the ``ReportSchema`` line says), the key form-encoded (a space is ``+``, a ``+`` is
``%2B``, as ``report.decode_report_key`` reads it), CRLF line endings. ``manifest.json`` has AWS's
members in AWS's order: ``Format``, ``ReportCreationDate`` (with nanoseconds), ``Results``
(``TaskExecutionStatus``, ``Bucket``, ``MD5Checksum``, ``Key``) and ``ReportSchema``. So the same reader
and the same redrive serve both paths.

Rows are buffered until ``pending_bytes`` is large enough to ``flush`` into one streamed upload per
status (``s3_streams.StreamingUpload``): memory stays bounded however many objects a task tags.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from airflow_s3_batch_tagging.batch_jobs import validate_report_scope
from airflow_s3_batch_tagging.report import REPORT_FORMAT
from airflow_s3_batch_tagging.s3_streams import StreamingUpload

if TYPE_CHECKING:
    from airflow_s3_batch_tagging.objects import ObjectRef, S3Location

REPORT_SCHEMA = "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage"
"""The schema line AWS writes in ``manifest.json`` (its rows put ``HTTPStatusCode`` before ``ErrorCode``)."""
FLUSH_BYTES = 1024 * 1024
"""Rows buffered before ``flush`` is worth a call."""
_SUCCEEDED_MESSAGE = "Successful"


def encode_report_key(key: str) -> str:
    """A key as a completion report writes it: form-encoded, ``/`` kept (``a b+c`` -> ``a+b%2Bc``)."""
    return quote_plus(key, safe="/")


def report_creation_date(moment: dt.datetime) -> str:
    """``2025-07-20T21:18:22.395320000Z``: nanoseconds, as real report manifests carry them."""
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}000Z"


def direct_report_job_id(
    dag_id: str, task_id: str, run_id: str, map_index: int | None, try_number: int
) -> str:
    """The job id a direct task try names its report by: a UUID derived from the task instance and try."""
    index = -1 if map_index is None else map_index
    material = "\x1f".join((dag_id, task_id, run_id, str(index), str(try_number))).encode("utf-8")
    return str(uuid.UUID(hashlib.sha256(material).hexdigest()[:32]))


class DirectReportWriter:
    """Writes one direct task try's completion report below ``location`` as objects finish.

    :param client: a boto3-compatible S3 client.
    :param location: the ``s3://`` prefix of the report (the job's folder is created below it).
    :param job_id: the name of the job folder (``job-{job_id}``).
    :param scope: ``FailedTasksOnly`` (default) or ``AllTasks`` (succeeded objects too).
    """

    def __init__(
        self, client: Any, location: S3Location, job_id: str, *, scope: str = "FailedTasksOnly"
    ) -> None:
        self.client = client
        self.location = location
        self.job_id = job_id
        self.scope = validate_report_scope(scope)
        self.prefix = location.join(f"job-{job_id}")
        self.manifest_key = f"{self.prefix}/manifest.json"
        self.counts = {"succeeded": 0, "failed": 0}
        self._buffers = {"succeeded": io.StringIO(), "failed": io.StringIO()}
        self._writers = {
            status: csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
            for status, buffer in self._buffers.items()
        }
        self._uploads: dict[str, StreamingUpload] = {}

    @property
    def uri(self) -> str:
        """The report's folder, ``s3://bucket/prefix/job-{job_id}/``."""
        return f"s3://{self.location.bucket}/{self.prefix}/"

    @property
    def manifest_uri(self) -> str:
        return f"s3://{self.location.bucket}/{self.manifest_key}"

    @property
    def pending_bytes(self) -> int:
        return sum(buffer.tell() for buffer in self._buffers.values())

    def add(
        self, ref: ObjectRef, *, succeeded: bool, http_status: int, code: str = "", message: str = ""
    ) -> None:
        """Record one object's outcome (succeeded ones only with ``AllTasks``)."""
        status = "succeeded" if succeeded else "failed"
        self.counts[status] += 1
        if succeeded and self.scope != "AllTasks":
            return
        self._writers[status].writerow(
            [
                ref.bucket,
                encode_report_key(ref.key),
                ref.version_id or "",
                status,
                str(http_status),
                code,
                message or (_SUCCEEDED_MESSAGE if succeeded else ""),
            ]
        )

    def flush(self) -> None:
        """Send the buffered rows to their uploads (a part goes out whenever one is full)."""
        for status, buffer in self._buffers.items():
            if not buffer.tell():
                continue
            upload = self._uploads.get(status)
            if upload is None:
                name = hashlib.sha1(f"{self.job_id}/{status}".encode(), usedforsecurity=False).hexdigest()
                upload = StreamingUpload(
                    self.client, self.location.bucket, f"{self.prefix}/results/{name}.csv"
                )
                self._uploads[status] = upload
            upload.write(buffer.getvalue().encode("utf-8"))
            buffer.seek(0)
            buffer.truncate()

    def close(self) -> str:
        """Finish the result files and write ``manifest.json``; return its ``s3://`` URI."""
        try:
            self.flush()
            results = []
            for status in ("succeeded", "failed"):  # the order of AWS's manifests
                upload = self._uploads.get(status)
                if upload is None:
                    continue
                upload.close()
                results.append(
                    {
                        "TaskExecutionStatus": status,
                        "Bucket": self.location.bucket,
                        "MD5Checksum": upload.md5,
                        "Key": upload.key,
                    }
                )
        except BaseException:
            self.abort()
            raise
        document = {
            "Format": REPORT_FORMAT,
            "ReportCreationDate": report_creation_date(dt.datetime.now(dt.UTC)),
            "Results": results,
            "ReportSchema": REPORT_SCHEMA,
        }
        self.client.put_object(
            Bucket=self.location.bucket,
            Key=self.manifest_key,
            Body=json.dumps(document, indent=2).encode("utf-8"),
            ContentType="application/json",
        )
        return self.manifest_uri

    def abort(self) -> None:
        """Drop the result files not finished yet."""
        for upload in self._uploads.values():
            if not upload.closed:
                upload.abort()
