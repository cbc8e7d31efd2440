"""``S3BatchOperationsHook``: S3 Batch Operations tagging jobs through the S3 Control API.

Creates ``S3PutObjectTagging`` and ``S3DeleteObjectTagging`` jobs, describes, confirms, cancels and
waits for them (with the custom waiters in ``waiters/s3control.json``), uploads CSV manifests and
reads completion reports. The S3 calls use an S3 client built from the same connection.
"""

from __future__ import annotations

import hashlib
import itertools
import tempfile
from functools import cached_property
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.utils import trim_none_values
from airflow.providers.amazon.aws.utils.waiter_with_logging import wait
from botocore.exceptions import ClientError

from airflow_s3_batch_tagging.accounts import validate_account_id
from airflow_s3_batch_tagging.batch_jobs import (
    JOB_FAILURE_STATES,
    JOB_STATUS_QUERIES,
    JOB_SUCCESS_STATES,
    job_counts,
    job_failure_reasons,
    job_report_location,
    job_tags_to_boto,
    resolve_manifest_format,
    tagging_from_operation,
    tagging_operation,
    validate_client_request_token,
    validate_description,
    validate_priority,
    validate_role_arn,
)
from airflow_s3_batch_tagging.errors import ManifestError, S3TaggingInputError
from airflow_s3_batch_tagging.hooks.bucket_owner import expect_bucket_owner
from airflow_s3_batch_tagging.lineage import add_hook_input, add_hook_output, batch_job_locations
from airflow_s3_batch_tagging.manifest import (
    CSV_MANIFEST_FORMAT,
    manifest_spec,
    read_csv_manifest,
    unquote_etag,
    write_csv_manifest,
)
from airflow_s3_batch_tagging.objects import S3Location, bucket_from_arn, split_s3_uri
from airflow_s3_batch_tagging.redrive import RedriveCounts, redrive_manifest_key, write_redrive_manifest
from airflow_s3_batch_tagging.report import (
    DEFAULT_FIRST_FAILURES,
    CompletionReportManifest,
    ReportRow,
    ReportSummary,
    read_report_csv,
    report_job_prefix,
    report_manifest_key,
)
from airflow_s3_batch_tagging.s3_errors import error_code, http_status, is_not_found
from airflow_s3_batch_tagging.s3_streams import StreamingUpload

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3control import S3ControlClient

    from airflow_s3_batch_tagging.objects import ObjectRef
    from airflow_s3_batch_tagging.tags import TaggingMode, TagSet

WAITER_PATH = Path(__file__).parents[1] / "waiters" / "s3control.json"

_MANIFEST_PEEK_BYTES = 64 * 1024
_SPOOL_BYTES = 16 * 1024 * 1024
_REPORT_CHUNK_BYTES = 1024 * 1024
_CHECKSUM_METADATA = "sha256"


class S3BatchOperationsHook(AwsBaseHook):
    """
    Interact with S3 Batch Operations jobs (the ``s3control`` client) and their S3 objects.

    Additional arguments (such as ``aws_conn_id``) may be specified and are passed down to the
    underlying AwsBaseHook.

    :param account_id: The AWS account that owns the jobs. When not given, the connection extra
        ``account_id`` is used, else the caller's account from STS ``GetCallerIdentity``.
    :param expected_bucket_owner: account id sent as ``ExpectedBucketOwner`` on every request of
        ``s3_client`` that accepts it (manifest upload and reads, completion report reads).

    .. seealso::
        - :class:`airflow.providers.amazon.aws.hooks.base_aws.AwsBaseHook`
    """

    def __init__(
        self,
        *args: Any,
        account_id: str | None = None,
        expected_bucket_owner: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs["client_type"] = "s3control"
        super().__init__(*args, **kwargs)
        self._account_id = account_id
        self.expected_bucket_owner = expected_bucket_owner

    @cached_property
    def waiter_path(self) -> Path:
        """This package's waiters (the Amazon hook only looks inside its own package)."""
        return WAITER_PATH

    @cached_property
    def account_id(self) -> str:
        """The job owner: the ``account_id`` argument, the connection extra, or STS."""
        explicit = self._account_id or self.conn_config.extra_config.get("account_id")
        if explicit:
            return validate_account_id(str(explicit))
        return validate_account_id(str(super().account_id))

    def _get_async_conn(self) -> Any:
        """The aiobotocore client creator of ``get_async_conn`` (run in a worker thread by it).

        With ``warm_up_loader_caches``, aiobotocore loads botocore's data (a scan of its data
        directory, the endpoint and service model files) in a thread before it builds the client;
        without it that happened on the event loop and blocked the triggerer's.
        """
        from aiobotocore.config import AioConfig

        config = AioConfig(warm_up_loader_caches=True)
        if self.config is not None:
            config = config.merge(self.config)
        return self.get_client_type(region_name=self.region_name, config=config, deferrable=True)

    @property
    def control(self) -> S3ControlClient:
        """The ``s3control`` client (``conn``), typed."""
        return cast("S3ControlClient", self.conn)

    @cached_property
    def s3_client(self) -> S3Client:
        """An S3 client with the same credentials, region, endpoint and botocore config (and
        ``ExpectedBucketOwner`` on every request, when the hook has one)."""
        client = self.get_session(region_name=self.region_name).client(
            service_name="s3",
            endpoint_url=self.conn_config.get_service_endpoint_url("s3"),
            config=self._get_config(),
            verify=self.verify,
        )
        expect_bucket_owner(client, self.expected_bucket_owner)
        return client

    # -- jobs -----------------------------------------------------------------------------------

    def create_tagging_job(
        self,
        *,
        mode: TaggingMode | str,
        tags: TagSet | None,
        role_arn: str,
        client_request_token: str,
        report: Mapping[str, Any],
        manifest: Mapping[str, Any] | None = None,
        manifest_generator: Mapping[str, Any] | None = None,
        priority: int = 10,
        confirmation_required: bool = False,
        description: str | None = None,
        job_tags: Mapping[str, str] | None = None,
        tagged_locations: Iterable[S3Location] = (),
    ) -> str:
        """
        Create a tagging job and return its id; wraps ``S3Control.Client.create_job``.

        The same ``client_request_token`` with the same request returns the job already created.

        :param tagged_locations: where the manifest's objects are (bucket and common prefix), when the
            caller knows; reported as hook-level lineage outputs with the job's other locations.
        """
        if (manifest is None) == (manifest_generator is None):
            raise S3TaggingInputError("Give exactly one of manifest and manifest_generator.")
        validate_client_request_token(client_request_token)
        request = trim_none_values(
            {
                "AccountId": self.account_id,
                "ConfirmationRequired": confirmation_required,
                "Operation": tagging_operation(mode, tags),
                "Report": dict(report),
                "ClientRequestToken": client_request_token,
                "Manifest": dict(manifest) if manifest is not None else None,
                "ManifestGenerator": dict(manifest_generator) if manifest_generator is not None else None,
                "Description": validate_description(description),
                "Priority": validate_priority(priority),
                "RoleArn": validate_role_arn(role_arn),
                "Tags": job_tags_to_boto(job_tags),
            }
        )
        try:
            response = self.control.create_job(**request)
        except ClientError as err:
            if "Idempotency" in error_code(err):
                raise S3TaggingInputError(
                    f"S3 Batch Operations refused CreateJob: the request token {client_request_token} "
                    "already created a job with different parameters (this task instance created it on "
                    "an earlier try with other tags, manifest or options). Start a new DAG run to create "
                    f"a new job. AWS said: {err}"
                ) from err
            raise
        job_id = str(response["JobId"])
        inputs, outputs = batch_job_locations({**request, "JobId": job_id})
        for location in inputs:
            add_hook_input(self, location)
        for location in (*tagged_locations, *outputs):
            add_hook_output(self, location)
        return job_id

    def describe_job(self, job_id: str) -> dict[str, Any]:
        """Return the job's description; wraps ``S3Control.Client.describe_job``."""
        return dict(self.control.describe_job(AccountId=self.account_id, JobId=job_id)["Job"])

    def confirm_job(self, job_id: str) -> str:
        """Confirm a Suspended job (``UpdateJobStatus`` to ``Ready``); return the new status."""
        response = self.control.update_job_status(
            AccountId=self.account_id, JobId=job_id, RequestedJobStatus="Ready"
        )
        return str(response.get("Status", "Ready"))

    def cancel_job(self, job_id: str, reason: str | None = None) -> str:
        """Cancel a job that has not ended (``UpdateJobStatus`` to ``Cancelled``); return the new status."""
        response = self.control.update_job_status(**self._cancel_request(job_id, reason))
        return str(response.get("Status", "Cancelled"))

    async def cancel_job_async(self, job_id: str, reason: str | None = None) -> str:
        """``cancel_job`` on an aiobotocore client, for triggers: the event loop never waits on a
        blocking request, and no boto3 client (whose service model is parsed per session) is built."""
        async with await self.get_async_conn() as client:
            response = await client.update_job_status(**self._cancel_request(job_id, reason))
        return str(response.get("Status", "Cancelled"))

    def _cancel_request(self, job_id: str, reason: str | None) -> dict[str, Any]:
        return trim_none_values(
            {
                "AccountId": self.account_id,
                "JobId": job_id,
                "RequestedJobStatus": "Cancelled",
                "StatusUpdateReason": reason[:256] if reason else None,
            }
        )

    def wait_for_job(
        self,
        job_id: str,
        *,
        waiter_name: str = "batch_job_complete",
        waiter_delay: int = 30,
        waiter_max_attempts: int = 2880,
    ) -> None:
        """Wait with a waiter from ``waiters/s3control.json``, logging status and progress each poll."""
        wait(
            waiter=self.get_waiter(waiter_name),
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
            args={"AccountId": self.account_id, "JobId": job_id},
            failure_message=f"S3 Batch Operations job {job_id} failed",
            status_message=f"S3 Batch Operations job {job_id}",
            status_args=JOB_STATUS_QUERIES,
        )

    # -- manifests ------------------------------------------------------------------------------

    def upload_manifest(
        self,
        objects: Iterable[ObjectRef],
        bucket: str,
        key: str,
        *,
        with_version_ids: bool | None = None,
    ) -> tuple[dict[str, Any], int]:
        """
        Write ``objects`` as a CSV manifest to ``s3://bucket/key``; return the ``Manifest`` and the count.

        The manifest is streamed into a local spooled file first, so an empty object list raises
        before anything is written to S3. When the key already holds the same bytes (a retried task),
        it is not rewritten and its ETag is reused, so the job request is the same as on the first try.

        :param with_version_ids: write the ``VersionId`` column; None decides from the first object.
        """
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
            refs = iter(objects)
            first = next(refs, None)
            if first is None:
                raise ManifestError(
                    "The object list is empty: an S3 Batch Operations job needs at least one object. "
                    "Skip the task upstream (for example with a ShortCircuitOperator) when there is "
                    "nothing to tag."
                )
            if with_version_ids is None:
                with_version_ids = first.version_id is not None
            count = write_csv_manifest(
                itertools.chain((first,), refs), spool, with_version_ids=with_version_ids
            )
            spool.seek(0)
            digest = hashlib.sha256()
            while chunk := spool.read(1024 * 1024):
                digest.update(chunk)
            checksum = digest.hexdigest()
            etag = self._existing_etag(bucket, key, checksum)
            if etag is None:
                spool.seek(0)
                response = self.s3_client.put_object(
                    Bucket=bucket,
                    Key=key,
                    Body=spool,
                    ContentType="text/csv",
                    Metadata={_CHECKSUM_METADATA: checksum},
                )
                etag = unquote_etag(response["ETag"])
                self.log.info("Wrote a manifest of %s objects to s3://%s/%s", count, bucket, key)
                add_hook_output(self, S3Location(bucket, key))
            else:
                self.log.info(
                    "Reusing the identical manifest of %s objects at s3://%s/%s", count, bucket, key
                )
        manifest = {
            "Spec": manifest_spec(CSV_MANIFEST_FORMAT, with_version_ids=with_version_ids),
            "Location": {"ObjectArn": self._object_arn(bucket, key), "ETag": etag},
        }
        return manifest, count

    def _existing_etag(self, bucket: str, key: str, checksum: str) -> str | None:
        try:
            head = self.s3_client.head_object(Bucket=bucket, Key=key)
        except ClientError as err:
            # Without s3:ListBucket, S3 answers 403 for a missing key: then just write it.
            if is_not_found(err) or http_status(err) == 403:
                return None
            raise
        if head.get("Metadata", {}).get(_CHECKSUM_METADATA) == checksum:
            return unquote_etag(head["ETag"])
        return None

    def _object_arn(self, bucket: str, key: str) -> str:
        return f"arn:{self.conn_partition}:s3:::{bucket}/{key}"

    def describe_manifest(self, uri: str, manifest_format: str | None = None) -> dict[str, Any]:
        """
        The ``Manifest`` argument for an existing manifest object: its format, fields and unquoted ETag.

        :param manifest_format: ``csv``, ``inventory`` or a full format name; by default an object
            named ``manifest.json`` is an S3 Inventory report and anything else a CSV manifest.
        """
        bucket, key = split_s3_uri(uri, what="manifest URI")
        if not key or key.endswith("/"):
            raise ManifestError(f"Invalid manifest URI {uri!r}: it must name an object, not a prefix.")
        spec_format = resolve_manifest_format(key, manifest_format)
        try:
            head = self.s3_client.head_object(Bucket=bucket, Key=key)
        except ClientError as err:
            if is_not_found(err):
                raise ManifestError(f"The manifest {uri} does not exist (HeadObject answered 404).") from None
            raise
        if not head.get("ContentLength"):
            raise ManifestError(f"The manifest {uri} is empty: a job needs at least one object.")
        add_hook_input(self, S3Location(bucket, key))
        location = {"ObjectArn": self._object_arn(bucket, key), "ETag": unquote_etag(head["ETag"])}
        with_version_ids = spec_format == CSV_MANIFEST_FORMAT and self._csv_has_version_ids(bucket, key, uri)
        return {"Spec": manifest_spec(spec_format, with_version_ids=with_version_ids), "Location": location}

    def _csv_has_version_ids(self, bucket: str, key: str, uri: str) -> bool:
        response = self.s3_client.get_object(
            Bucket=bucket, Key=key, Range=f"bytes=0-{_MANIFEST_PEEK_BYTES - 1}"
        )
        head = response["Body"].read()
        lines = head.splitlines(keepends=True)
        if len(head) >= _MANIFEST_PEEK_BYTES and lines and not lines[-1].endswith(b"\n"):
            lines = lines[:-1]  # a line cut by the range
        for ref in read_csv_manifest(lines, source=f"manifest {uri}"):
            return ref.version_id is not None
        raise ManifestError(f"The manifest {uri} lists no objects: a job needs at least one.")

    # -- reports --------------------------------------------------------------------------------

    def read_completion_report(
        self, job: Mapping[str, Any], *, max_failures: int = DEFAULT_FIRST_FAILURES
    ) -> ReportSummary | None:
        """
        Summarise the failed tasks in a finished job's completion report, streaming its result files.

        Returns None when the job has no report (reports off, or no task ran).
        """
        location = job_report_location(job)
        if location is None:
            return None
        key = report_manifest_key(location, job["JobId"])
        try:
            body = self.s3_client.get_object(Bucket=location.bucket, Key=key)["Body"].read()
        except ClientError as err:
            if is_not_found(err):
                self.log.warning("No completion report at s3://%s/%s", location.bucket, key)
                return None
            raise
        manifest = CompletionReportManifest.from_json(body, source=f"s3://{location.bucket}/{key}")
        add_hook_input(self, S3Location(location.bucket, report_job_prefix(location, job["JobId"]) + "/"))
        summary = ReportSummary(max_failures=max_failures)
        for result in manifest.failed_results:
            result_bucket = bucket_from_arn(result.bucket) if result.bucket else location.bucket
            stream = self.s3_client.get_object(Bucket=result_bucket, Key=result.key)["Body"]
            try:
                summary.add_rows(
                    read_report_csv(
                        stream.iter_chunks(_REPORT_CHUNK_BYTES), source=f"s3://{result_bucket}/{result.key}"
                    )
                )
            finally:
                stream.close()
        return summary

    def job_result(self, job_id: str, *, max_failures: int = DEFAULT_FIRST_FAILURES) -> dict[str, Any]:
        """
        Describe a job and return plain data for XCom: status, task counts, report location and summary.

        The completion report is read only when tasks failed; ``report_summary`` then holds the
        failures by error code and the first failed objects.
        """
        job = self.describe_job(job_id)
        counts = job_counts(job)
        location = job_report_location(job)
        report_location = None
        if location is not None:
            report_location = f"s3://{location.bucket}/{report_job_prefix(location, job_id)}/"
        summary: ReportSummary | None = ReportSummary(max_failures=max_failures)
        if counts["tasks_failed"] and job.get("Status") in (*JOB_SUCCESS_STATES, *JOB_FAILURE_STATES):
            try:
                summary = self.read_completion_report(job, max_failures=max_failures)
            except (ClientError, ManifestError) as err:
                self.log.warning("Could not read the completion report of job %s: %s", job_id, err)
                summary = None
        return {
            "job_id": job_id,
            "account_id": self.account_id,
            "status": job.get("Status"),
            **counts,
            "failure_reasons": job_failure_reasons(job) if job.get("Status") in JOB_FAILURE_STATES else None,
            "report_location": report_location,
            "report_summary": summary.to_dict() if summary is not None else None,
        }

    # -- redrive --------------------------------------------------------------------------------

    def report_manifest_uri(self, job: Mapping[str, Any]) -> str | None:
        """The ``s3://`` URI of a described job's report ``manifest.json``; None without a report."""
        location = job_report_location(job)
        if location is None:
            return None
        return f"s3://{location.bucket}/{report_manifest_key(location, job['JobId'])}"

    def iter_report_rows(self, report_manifest: str, *, failed_only: bool = True) -> Iterator[ReportRow]:
        """
        Stream the rows of a completion report from its ``manifest.json`` (``s3://`` URI).

        Result files are read one at a time, in chunks, each in the order the manifest lists them;
        with ``failed_only`` only the files of failed tasks. The same reader serves a Batch
        Operations job's report and the direct path's.
        """
        bucket, key = split_s3_uri(report_manifest, what="completion report manifest")
        try:
            body = self.s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as err:
            if is_not_found(err):
                raise ManifestError(f"There is no completion report at {report_manifest}.") from None
            raise
        manifest = CompletionReportManifest.from_json(body, source=report_manifest)
        for result in manifest.failed_results if failed_only else manifest.results:
            result_bucket = bucket_from_arn(result.bucket) if result.bucket else bucket
            stream = self.s3_client.get_object(Bucket=result_bucket, Key=result.key)["Body"]
            try:
                yield from read_report_csv(
                    stream.iter_chunks(_REPORT_CHUNK_BYTES), source=f"s3://{result_bucket}/{result.key}"
                )
            finally:
                stream.close()

    def write_redrive_manifest(
        self,
        report_manifest: str,
        location: S3Location,
        key: str,
        *,
        retryable_only: bool = False,
        retryable_error_codes: frozenset[str] | None = None,
    ) -> tuple[dict[str, Any] | None, RedriveCounts]:
        """
        Write the failed tasks of a completion report as a CSV manifest at ``s3://{location.bucket}/{key}``.

        Streamed from the report's result files into a multipart upload: memory stays flat however
        many tasks failed. Returns the ``Manifest`` argument of ``CreateJob`` (None, and nothing
        written, when no task is to be redriven) and the counts.
        """
        with StreamingUpload(self.s3_client, location.bucket, key) as upload:
            counts = write_redrive_manifest(
                self.iter_report_rows(report_manifest),
                cast("IO[bytes]", upload),
                retryable_only=retryable_only,
                retryable_error_codes=retryable_error_codes,
            )
            if not counts.redriven:
                upload.abort()
        if not counts.redriven:
            self.log.info(
                "Nothing to redrive from %s: %s failed tasks, %s not retryable (%s).",
                report_manifest,
                counts.failed,
                counts.left,
                counts.left_by_code or "none",
            )
            return None, counts
        self.log.info(
            "Wrote a redrive manifest of %s failed tasks to %s in %s part(s); %s failed tasks left out as "
            "not retryable: %s",
            counts.redriven,
            upload.uri,
            upload.parts or 1,
            counts.left,
            counts.left_by_code or "none",
        )
        manifest = {
            "Spec": {"Format": CSV_MANIFEST_FORMAT, "Fields": counts.fields},
            "Location": {"ObjectArn": self._object_arn(location.bucket, key), "ETag": upload.etag},
        }
        return manifest, counts

    def redrive_job(
        self,
        job_id: str,
        *,
        client_request_token: str,
        manifest_location: S3Location | None = None,
        retryable_only: bool = False,
        retryable_error_codes: frozenset[str] | None = None,
        role_arn: str | None = None,
        priority: int | None = None,
        report: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> tuple[str | None, RedriveCounts]:
        """
        Create a job rerunning the failed tasks of the finished job ``job_id``; return its id and counts.

        The job ``redrive_request`` describes, created with ``client_request_token``: the same token
        returns the job already created, so a retried task makes no second one. Returns
        ``(None, counts)`` when no task is to be redriven.
        """
        request, counts = self.redrive_request(
            job_id,
            manifest_location=manifest_location,
            retryable_only=retryable_only,
            retryable_error_codes=retryable_error_codes,
            role_arn=role_arn,
            priority=priority,
            report=report,
            description=description,
        )
        if request is None:
            return None, counts
        new_job_id = self.create_tagging_job(client_request_token=client_request_token, **request)
        self.log.info(
            "Created S3 Batch Operations job %s to redrive %s failed tasks of job %s (request token %s)",
            new_job_id,
            counts.redriven,
            job_id,
            client_request_token,
        )
        return new_job_id, counts

    def redrive_request(
        self,
        job_id: str,
        *,
        manifest_location: S3Location | None = None,
        retryable_only: bool = False,
        retryable_error_codes: frozenset[str] | None = None,
        role_arn: str | None = None,
        priority: int | None = None,
        report: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> tuple[dict[str, Any] | None, RedriveCounts]:
        """
        Write the manifest of the failed tasks of the finished job ``job_id``; return the job to create.

        The job does what ``job_id`` did (its ``Operation``), with its role, priority and report
        settings unless given, on a manifest of the failed tasks of its completion report, written
        below ``manifest_location`` (default: the report's own prefix). Returns the keyword arguments
        of ``create_tagging_job`` but the request token, and the counts; ``(None, counts)`` when no
        task is to be redriven.
        """
        job = self.describe_job(job_id)
        status = job.get("Status")
        if status not in (*JOB_SUCCESS_STATES, *JOB_FAILURE_STATES):
            raise S3TaggingInputError(
                f"Cannot redrive S3 Batch Operations job {job_id}: it is {status}, not finished. Wait for "
                "it to end first (for example with S3BatchJobSensor)."
            )
        mode, tags = tagging_from_operation(job.get("Operation"), job_id=job_id)
        report_manifest = self.report_manifest_uri(job)
        if report_manifest is None:
            raise S3TaggingInputError(
                f"Cannot redrive S3 Batch Operations job {job_id}: it wrote no completion report, which "
                "is where its failed tasks are listed."
            )
        if status != "Complete":
            self.log.warning(
                "Job %s ended %s: only the failed tasks in its report are redriven; tasks that never ran "
                "are not in the report.",
                job_id,
                status,
            )
        location = manifest_location or job_report_location(job)
        if location is None:  # pragma: no cover - a report location exists when the report does
            raise S3TaggingInputError(f"No location for the redrive manifest of job {job_id}.")
        manifest, counts = self.write_redrive_manifest(
            report_manifest,
            location,
            redrive_manifest_key(location, job_id),
            retryable_only=retryable_only,
            retryable_error_codes=retryable_error_codes,
        )
        if manifest is None:
            return None, counts
        original_report = job.get("Report") or {"Enabled": False}
        request = {
            "mode": mode,
            "tags": tags,
            "role_arn": role_arn or str(job.get("RoleArn")),
            "report": dict(report) if report is not None else dict(original_report),
            "manifest": manifest,
            "priority": int(priority if priority is not None else job.get("Priority", 10)),
            "description": description or f"Redrive of the failed tasks of job {job_id}",
        }
        return request, counts
