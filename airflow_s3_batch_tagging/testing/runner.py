"""S3 Batch Operations jobs as the emulator runs them: status machine, tasks and reports.

Each job runs in its own background thread and talks to S3 only through a plain boto3 client
pointed at the stand-in, so moto's behaviour and the injected faults apply to its tasks exactly as
they apply to any other caller. ``job_step_delay`` paces the status steps and task chunks so that
tests can watch the intermediate states. Manifests, inventories and reports are read and written by
``testing.formats``, as AWS does, never by the product's own readers and writers. The jobs' state
and the store are ``testing.jobs``'s.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from airflow_s3_batch_tagging.testing.formats import (
    CSV_MANIFEST_FORMAT,
    GENERATED_MANIFEST_FORMAT,
    GENERATED_MANIFEST_SCHEMA,
    INVENTORY_MANIFEST_FORMAT,
    FormatError,
    S3Object,
    arn_resource,
    inventory_manifest_document,
    read_csv_manifest,
    read_inventory_csv,
    read_inventory_manifest,
    report_manifest_document,
    write_inventory_csv,
    write_report_csv,
)
from airflow_s3_batch_tagging.testing.jobs import TERMINAL_STATUSES, TaskResult, utcnow

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable, Iterator

    from mypy_boto3_s3 import S3Client

    from airflow_s3_batch_tagging.testing.jobs import Job, JobStore

log = logging.getLogger(__name__)

FAILURE_THRESHOLD_MIN_TASKS = 1000
FAILURE_THRESHOLD_RATIO = 0.5
_RETRYABLE_CODES = frozenset(
    {"SlowDown", "InternalError", "ServiceUnavailable", "503", "500", "RequestTimeout"}
)
_TASK_ATTEMPTS = 6
_TASK_THREADS = 8


def join_key(prefix: str, *parts: str) -> str:
    """``prefix/part/...`` with one ``/`` between segments (a report or manifest prefix may be empty)."""
    return "/".join(segment.strip("/") for segment in (prefix, *parts) if segment.strip("/"))


class JobFailure(Exception):
    """The job cannot go on: it fails with this failure code and reason."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason[:256]


class _Cancelled(Exception):
    """Cancellation was requested; the runner unwinds to write the report and stop."""


class _Stopping(Exception):
    """The stand-in is shutting down; the runner leaves at once."""


class JobRunner:
    """Runs one job: prepare the manifest, wait for confirmation, run the tasks, write the report."""

    def __init__(self, store: JobStore, job: Job) -> None:
        self.store = store
        self.job = job
        self.request = job.request
        self._s3: S3Client | None = None

    @property
    def s3(self) -> S3Client:
        if self._s3 is None:
            self._s3 = self.store.s3_client()
        return self._s3

    # -- status machine ------------------------------------------------------------------------
    def _set_status(self, status: str, reason: str | None = None) -> None:
        with self.store.condition:
            if self.store.stopping:
                raise _Stopping
            if self.job.cancel_requested:
                raise _Cancelled
            self._enter(status, reason)

    def _enter(self, status: str, reason: str | None) -> None:
        """Change the status (lock held)."""
        job = self.job
        if status == "Active" and job.active_since is None:
            job.active_since = time.monotonic()
        elif status != "Active" and job.active_since is not None:
            job.active_seconds += time.monotonic() - job.active_since
            job.active_since = None
        job.set_status(status, reason)
        if status in TERMINAL_STATUSES:
            job.termination_date = utcnow()
        log.debug("Emulated job %s is now %s", job.job_id, status)
        self.store.condition.notify_all()

    def _pause(self) -> None:
        """Wait ``job_step_delay`` seconds, waking early for a cancellation or shutdown."""
        delay = self.store.job_step_delay
        with self.store.condition:
            if delay > 0:
                self.store.condition.wait_for(
                    lambda: self.job.cancel_requested or self.store.stopping, timeout=delay
                )
            if self.store.stopping:
                raise _Stopping
            if self.job.cancel_requested:
                raise _Cancelled

    def run(self) -> None:
        try:
            self._run()
        except _Stopping:
            return
        except Exception as err:  # a bug in the emulator must not leave a job running forever
            log.exception("Emulated job %s crashed", self.job.job_id)
            self._finish_failed(JobFailure("InternalError", f"The job emulator crashed: {err}"))

    def _run(self) -> None:
        try:
            self._pause()
            self._set_status("Preparing")
            try:
                objects = self._prepare()
            except JobFailure as failure:
                self._finish_failed(failure)
                return
            with self.store.condition:
                self.job.total_tasks = len(objects)
            self._pause()
            if self.job.confirmation_required:
                self._await_confirmation()
            self._set_status("Ready")
            self._pause()
            self._set_status("Active")
            threshold_failure = self._run_tasks(objects)
            if threshold_failure is not None:
                self._finish_failed(threshold_failure)
                return
            self._set_status("Completing")
            self._pause()
            try:
                self._write_report()
            except JobFailure as failure:
                self._finish_failed(failure, write_report=False)
                return
            self._set_status("Complete", "Job complete")
        except _Cancelled:
            self._finish_cancelled()

    def _await_confirmation(self) -> None:
        with self.store.condition:
            if self.job.cancel_requested:
                raise _Cancelled
            self.job.suspended_date = utcnow()
            self.job.suspended_cause = "AwaitingConfirmation"
            self._enter("Suspended", "Awaiting confirmation")
            self.store.condition.wait_for(
                lambda: self.job.confirmed or self.job.cancel_requested or self.store.stopping
            )
            if self.store.stopping:
                raise _Stopping
            if self.job.cancel_requested:
                raise _Cancelled

    def _finish_failed(self, failure: JobFailure, *, write_report: bool = True) -> None:
        with self.store.condition:
            self.job.failure_reasons.append({"FailureCode": failure.code, "FailureReason": failure.reason})
            self._enter("Failing", failure.reason)
        try:
            if write_report:
                self._write_report()
        except JobFailure as report_failure:
            with self.store.condition:
                self.job.failure_reasons.append(
                    {"FailureCode": report_failure.code, "FailureReason": report_failure.reason}
                )
        with self.store.condition:
            self._enter("Failed", failure.reason)

    def _finish_cancelled(self) -> None:
        with self.store.condition:
            reason = self.job.status_update_reason
            if self.job.status != "Cancelling":
                self._enter("Cancelling", reason)
        try:
            self._write_report()
        except JobFailure as failure:
            log.warning("Emulated job %s could not write its report: %s", self.job.job_id, failure.reason)
        with self.store.condition:
            self._enter("Cancelled", reason)

    # -- manifests ------------------------------------------------------------------------------
    def _get_checked(self, location: dict[str, Any], what: str) -> tuple[str, str, bytes]:
        """Read the object ``location`` names and check its ETag; return bucket, key and body."""
        arn = location["ObjectArn"]
        bucket, _, key = arn_resource(arn).partition("/")
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if location.get("ObjectVersionId"):
            kwargs["VersionId"] = location["ObjectVersionId"]
        try:
            response = _with_retries(self.s3.get_object, **kwargs)
            body = response["Body"].read()
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "Unknown")
            raise JobFailure(
                "ManifestNotReadable" if code not in ("NoSuchKey", "NoSuchBucket") else "ManifestNotFound",
                f"Reading the {what} s3://{bucket}/{key} failed: {code}.",
            ) from None
        except BotoCoreError as err:
            raise JobFailure(
                "ManifestNotReadable", f"Reading the {what} s3://{bucket}/{key} failed: {err}."
            ) from None
        actual = response["ETag"].strip('"')
        expected = str(location["ETag"]).strip('"')
        if actual != expected:
            raise JobFailure(
                "ManifestETagMismatch",
                f"The {what} s3://{bucket}/{key} has ETag {actual} "
                f"but the job was created with ETag {expected}.",
            )
        return bucket, key, body

    def _prepare(self) -> list[S3Object]:
        if "ManifestGenerator" in self.request:
            return self._generate_manifest()
        manifest = self.request["Manifest"]
        spec = manifest["Spec"]
        if spec["Format"] == CSV_MANIFEST_FORMAT:
            bucket, key, body = self._get_checked(manifest["Location"], "manifest")
            try:
                return read_csv_manifest(body, spec["Fields"], where=f"manifest s3://{bucket}/{key}")
            except FormatError as err:
                raise JobFailure("InvalidManifest", str(err)) from None
        if spec["Format"] == INVENTORY_MANIFEST_FORMAT:
            return self._read_inventory(manifest["Location"])
        raise JobFailure("InvalidManifest", f"Unsupported manifest format {spec['Format']}.")

    def _read_inventory(self, location: dict[str, Any]) -> list[S3Object]:
        bucket, key, body = self._get_checked(location, "inventory manifest")
        objects: list[S3Object] = []
        try:
            inventory = read_inventory_manifest(body, where=f"inventory manifest s3://{bucket}/{key}")
            for data_file in inventory.files:
                where = f"inventory file s3://{inventory.destination_bucket}/{data_file.get('key')}"
                try:
                    response = _with_retries(
                        self.s3.get_object, Bucket=inventory.destination_bucket, Key=str(data_file["key"])
                    )
                except ClientError as err:
                    code = err.response.get("Error", {}).get("Code", "Unknown")
                    raise JobFailure("ManifestNotReadable", f"Reading the {where} failed: {code}.") from None
                data = response["Body"].read()
                objects.extend(read_inventory_csv(data, inventory.file_schema, where=where))
        except (FormatError, KeyError, OSError, EOFError, UnicodeDecodeError) as err:
            raise JobFailure("InvalidManifest", str(err)) from None
        return objects

    def _generate_manifest(self) -> list[S3Object]:
        generator = self.request["ManifestGenerator"]["S3JobManifestGenerator"]
        source_bucket = arn_resource(generator["SourceBucket"])
        flt = generator.get("Filter") or {}
        try:
            versioning = _with_retries(self.s3.get_bucket_versioning, Bucket=source_bucket)
            objects = [
                obj
                for obj, listed in self._list_source(source_bucket, versioning.get("Status") == "Enabled")
                if _matches_filter(obj.key, listed, flt)
            ]
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "Unknown")
            raise JobFailure(
                "ManifestGenerationFailed", f"Listing s3://{source_bucket} failed: {code}."
            ) from None
        if generator.get("EnableManifestOutput"):
            self._write_generated_manifest(source_bucket, objects, generator["ManifestOutputLocation"])
        return objects

    def _list_source(self, bucket: str, versioned: bool) -> Iterator[tuple[S3Object, dict[str, Any]]]:
        if versioned:
            for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
                for version in page.get("Versions", []):
                    if version.get("IsLatest"):
                        yield S3Object(bucket, version["Key"], version.get("VersionId")), dict(version)
        else:
            for object_page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for item in object_page.get("Contents", []):
                    yield S3Object(bucket, item["Key"]), dict(item)

    def _write_generated_manifest(
        self, source_bucket: str, objects: list[S3Object], output: dict[str, Any]
    ) -> None:
        out_bucket = arn_resource(output["Bucket"])
        base = join_key(output.get("ManifestPrefix", ""), f"job-{self.job.job_id}")
        rows = ((obj.bucket, obj.key, obj.version_id or "") for obj in objects)
        data = gzip.compress(write_inventory_csv(rows), mtime=0)
        data_key = f"{base}/data/{uuid.uuid4()}.csv.gz"
        document = inventory_manifest_document(
            source_bucket=source_bucket,
            destination_bucket=out_bucket,
            schema=GENERATED_MANIFEST_SCHEMA,
            files=[(data_key, data)],
            version="2021-11-30",
        )
        manifest_key = f"{base}/manifest.json"
        try:
            self._put(out_bucket, data_key, data)
            response = self._put(out_bucket, manifest_key, json.dumps(document, indent=2).encode())
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "Unknown")
            raise JobFailure(
                "ManifestGenerationFailed",
                f"Writing the generated manifest to s3://{out_bucket} failed: {code}.",
            ) from None
        with self.store.condition:
            self.job.generated_manifest = {
                "Format": GENERATED_MANIFEST_FORMAT,
                "Location": {
                    "ObjectArn": f"arn:aws:s3:::{out_bucket}/{manifest_key}",
                    "ETag": response["ETag"].strip('"'),
                },
            }

    # -- tasks ----------------------------------------------------------------------------------
    def _run_tasks(self, objects: list[S3Object]) -> JobFailure | None:
        # Tasks do not run in manifest order on AWS either.
        order = list(objects)
        random.Random(self.job.job_id).shuffle(order)
        step = self.store.tasks_per_step
        with ThreadPoolExecutor(max_workers=_TASK_THREADS, thread_name_prefix="s3-batch-task") as pool:
            for start in range(0, len(order), step):
                self._pause()
                chunk_results = list(pool.map(self._run_task, order[start : start + step]))
                with self.store.condition:
                    job = self.job
                    job.results.extend(chunk_results)
                    job.succeeded += sum(1 for result in chunk_results if result.succeeded)
                    job.failed += sum(1 for result in chunk_results if not result.succeeded)
                    ran = job.succeeded + job.failed
                    self.store.condition.notify_all()
                    if ran >= FAILURE_THRESHOLD_MIN_TASKS and job.failed / ran > FAILURE_THRESHOLD_RATIO:
                        return JobFailure(
                            "TaskFailureThresholdExceeded",
                            f"The job failed because {job.failed} of the {ran} tasks run so far failed "
                            f"(more than {FAILURE_THRESHOLD_RATIO:.0%} after at least "
                            f"{FAILURE_THRESHOLD_MIN_TASKS} tasks).",
                        )
        return None

    def _run_task(self, obj: S3Object) -> TaskResult:
        operation = self.request["Operation"]
        kwargs: dict[str, Any] = {"Bucket": obj.bucket, "Key": obj.key}
        if obj.version_id:
            kwargs["VersionId"] = obj.version_id
        try:
            if "S3PutObjectTagging" in operation:
                # An empty TagSet removes every tag (the stand-in's moto_compat layer handles it).
                tag_set = operation["S3PutObjectTagging"].get("TagSet") or []
                response = _with_retries(self.s3.put_object_tagging, **kwargs, Tagging={"TagSet": tag_set})
            else:
                response = _with_retries(self.s3.delete_object_tagging, **kwargs)
        except ClientError as err:
            error = err.response.get("Error", {})
            status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
            return TaskResult(
                obj, False, int(status), str(error.get("Code", "Unknown")), str(error.get("Message", ""))
            )
        except BotoCoreError as err:
            return TaskResult(obj, False, 500, "InternalError", str(err))
        return TaskResult(obj, True, int(response["ResponseMetadata"]["HTTPStatusCode"]))

    def _put(self, bucket: str, key: str, body: bytes) -> dict[str, Any]:
        return _with_retries(self.s3.put_object, Bucket=bucket, Key=key, Body=body)

    # -- completion report -------------------------------------------------------------------
    def _write_report(self) -> None:
        report = self.request["Report"]
        with self.store.condition:
            results = list(self.job.results)
        if not report.get("Enabled") or not results:
            return
        bucket = arn_resource(report["Bucket"])
        base = join_key(report.get("Prefix", ""), f"job-{self.job.job_id}")
        scope = report.get("ReportScope", "AllTasks")
        groups = [("failed", [result for result in results if not result.succeeded])]
        if scope == "AllTasks":
            groups.insert(0, ("succeeded", [result for result in results if result.succeeded]))
        entries = []
        try:
            for status, group in groups:
                if not group:
                    continue
                data = write_report_csv(result.report_row() for result in group)
                name = hashlib.sha1(f"{self.job.job_id}/{status}".encode()).hexdigest()
                key = f"{base}/results/{name}.csv"
                self._put(bucket, key, data)
                entries.append(
                    {
                        "TaskExecutionStatus": status,
                        "Bucket": bucket,
                        "MD5Checksum": hashlib.md5(data).hexdigest(),
                        "Key": key,
                    }
                )
            document = report_manifest_document(entries, utcnow())
            manifest_key = f"{base}/manifest.json"
            self._put(bucket, manifest_key, json.dumps(document, indent=2).encode())
        except (ClientError, BotoCoreError) as err:
            raise JobFailure(
                "ReportWriteFailed", f"Writing the completion report to s3://{bucket} failed: {err}"
            ) from None
        with self.store.condition:
            self.job.report_manifest_key = manifest_key


def _matches_filter(key: str, listed: dict[str, Any], flt: dict[str, Any]) -> bool:
    """Whether a listed object passes a ``JobManifestGeneratorFilter``."""
    constraint = flt.get("KeyNameConstraint") or {}
    prefixes = constraint.get("MatchAnyPrefix")
    if prefixes and not any(key.startswith(prefix) for prefix in prefixes):
        return False
    suffixes = constraint.get("MatchAnySuffix")
    if suffixes and not any(key.endswith(suffix) for suffix in suffixes):
        return False
    substrings = constraint.get("MatchAnySubstring")
    if substrings and not any(part in key for part in substrings):
        return False
    modified: dt.datetime = listed["LastModified"]
    if flt.get("CreatedAfter") is not None and not modified > flt["CreatedAfter"]:
        return False
    if flt.get("CreatedBefore") is not None and not modified < flt["CreatedBefore"]:
        return False
    size = int(listed.get("Size", 0))
    if flt.get("ObjectSizeGreaterThanBytes") is not None and not size > flt["ObjectSizeGreaterThanBytes"]:
        return False
    if flt.get("ObjectSizeLessThanBytes") is not None and not size < flt["ObjectSizeLessThanBytes"]:
        return False
    classes = flt.get("MatchAnyStorageClass")
    return not (classes and listed.get("StorageClass", "STANDARD") not in classes)


def _with_retries(call: Callable[..., Any], **kwargs: Any) -> Any:
    """Call S3 and retry throttling, server errors and dropped connections with a short backoff.

    Batch Operations retries such failures itself; the delays here are short so tests stay fast.
    """
    for attempt in range(1, _TASK_ATTEMPTS + 1):
        try:
            return call(**kwargs)
        except ClientError as err:
            code = str(err.response.get("Error", {}).get("Code", ""))
            status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            if attempt == _TASK_ATTEMPTS or not (code in _RETRYABLE_CODES or status >= 500):
                raise
        except (HTTPClientError, BotoConnectionError):
            if attempt == _TASK_ATTEMPTS:
                raise
        time.sleep(min(0.2, 0.005 * 2**attempt) * random.random())
    raise AssertionError("unreachable")
