"""Operators that re-tag S3 objects with an S3 Batch Operations job.

``S3BatchPutObjectTaggingOperator`` replaces the tag set of every object in a manifest;
``S3BatchDeleteObjectTaggingOperator`` removes them. The manifest comes from an upstream XCom
(``objects``), an existing manifest object (``manifest``) or a manifest generator.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.amazon.aws.exceptions import WaiterTerminalFailure
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowException, conf

from airflow_s3_batch_tagging.batch_jobs import (
    JOB_FAILURE_STATES,
    BatchJobSpec,
    job_report_location,
    job_request_token,
    job_result_log_args,
    job_result_problem,
    redrive_request_token,
)
from airflow_s3_batch_tagging.errors import S3TaggingInputError
from airflow_s3_batch_tagging.hooks.s3_batch_operations import S3BatchOperationsHook
from airflow_s3_batch_tagging.lineage import object_locations
from airflow_s3_batch_tagging.links.s3_batch_operations import S3BatchJobLink
from airflow_s3_batch_tagging.objects import S3Location
from airflow_s3_batch_tagging.redrive import (
    combine_job_results,
    redrive_manifest_key,
    validate_redrive_count,
    validate_retryable_error_codes,
)
from airflow_s3_batch_tagging.report import DEFAULT_FIRST_FAILURES
from airflow_s3_batch_tagging.tags import TaggingMode, TagSet
from airflow_s3_batch_tagging.triggers.s3_batch_operations import WAIT_FOR_COMPLETION, WAIT_FOR_PREPARATION
from airflow_s3_batch_tagging.utils.mixins import S3BatchJobMixin, try_number

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

__all__ = [
    "S3BatchDeleteObjectTaggingOperator",
    "S3BatchPutObjectTaggingOperator",
]

REDRIVE_HISTORY_XCOM_KEY = "s3_batch_redrive_history"
"""XCom key of the jobs a deferred redriving task ran before the one it waits for."""


class _S3BatchTaggingOperator(S3BatchJobMixin, AwsBaseOperator[S3BatchOperationsHook]):
    """Shared body of the put and delete tagging operators; see their docstrings."""

    aws_hook_class = S3BatchOperationsHook
    mode: ClassVar[TaggingMode]
    template_fields: Sequence[str] = aws_template_fields(
        "objects",
        "bucket",
        "manifest",
        "manifest_format",
        "manifest_generator",
        "manifest_location",
        "role_arn",
        "account_id",
        "priority",
        "description",
        "job_tags",
        "report_location",
        "report_scope",
        "expected_bucket_owner",
        "redrive_failed_tasks",
        "retryable_error_codes",
    )
    template_fields_renderers = {"manifest_generator": "json", "job_tags": "json", "objects": "json"}
    operator_extra_links = (S3BatchJobLink(),)
    ui_color = "#ff9900"

    def __init__(
        self,
        *,
        role_arn: str,
        objects: Iterable[Any] | None = None,
        bucket: str | None = None,
        manifest: str | None = None,
        manifest_format: str | None = None,
        manifest_generator: Mapping[str, Any] | None = None,
        manifest_location: str | None = None,
        account_id: str | None = None,
        priority: int = 10,
        description: str | None = None,
        job_tags: Mapping[str, str] | None = None,
        report_location: str | None = None,
        report_enabled: bool = True,
        report_scope: str = "FailedTasksOnly",
        confirmation_required: bool = False,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        waiter_delay: int = 30,
        waiter_max_attempts: int = 2880,
        max_failed_tasks: int = 0,
        max_failure_ratio: float = 0.0,
        cancel_on_kill: bool = True,
        first_failures: int = DEFAULT_FIRST_FAILURES,
        expected_bucket_owner: str | None = None,
        redrive_failed_tasks: int = 0,
        retryable_only: bool = False,
        retryable_error_codes: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.redrive_failed_tasks = redrive_failed_tasks
        self.retryable_only = retryable_only
        self.retryable_error_codes = retryable_error_codes
        self.role_arn = role_arn
        self.objects = objects
        self.bucket = bucket
        self.manifest = manifest
        self.manifest_format = manifest_format
        self.manifest_generator = manifest_generator
        self.manifest_location = manifest_location
        self.account_id = account_id
        self.priority = priority
        self.description = description
        self.job_tags = job_tags
        self.report_location = report_location
        self.report_enabled = report_enabled
        self.report_scope = report_scope
        self.confirmation_required = confirmation_required
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts
        self.max_failed_tasks = max_failed_tasks
        self.max_failure_ratio = max_failure_ratio
        self.cancel_on_kill = cancel_on_kill
        self.first_failures = first_failures
        self.expected_bucket_owner = expected_bucket_owner
        self._job_id: str | None = None
        self._try_number: int | None = None

    # -- validation (no request is made before all of it passed) ---------------------------------

    def _tag_set(self) -> TagSet | None:
        return None

    def _spec(self) -> BatchJobSpec:
        """Check every argument once; raise before any request."""
        return BatchJobSpec.parse(
            tags=self._tag_set(),
            role_arn=self.role_arn,
            objects=self.objects,
            bucket=self.bucket,
            manifest=self.manifest,
            manifest_format=self.manifest_format,
            manifest_generator=self.manifest_generator,
            manifest_location=self.manifest_location,
            account_id=self.account_id,
            priority=self.priority,
            description=self.description,
            job_tags=self.job_tags,
            report_location=self.report_location,
            report_enabled=self.report_enabled,
            report_scope=self.report_scope,
            waiter_delay=self.waiter_delay,
            waiter_max_attempts=self.waiter_max_attempts,
            max_failed_tasks=self.max_failed_tasks,
            max_failure_ratio=self.max_failure_ratio,
            first_failures=self.first_failures,
            expected_bucket_owner=self.expected_bucket_owner,
        )

    # -- execution ----------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        spec = self._spec()  # before the hook is built: bad input fails without touching AWS
        self._check_redrive_settings()
        partition = self.hook.conn_partition  # the bucket ARNs of China, GovCloud, ...
        ti = context["ti"]
        map_index = getattr(ti, "map_index", -1)
        token = job_request_token(ti.dag_id, ti.task_id, ti.run_id, map_index)
        manifest = None
        if spec.manifest_location is not None:  # objects: the operator writes the manifest
            location = spec.manifest_location
            key = location.join(ti.dag_id, ti.task_id, f"manifest-{token}.csv")
            refs = list(spec.refs)
            manifest, count = self.hook.upload_manifest(
                refs, location.bucket, key, with_version_ids=any(ref.version_id for ref in refs)
            )
            self.log.info("Manifest of %s objects: s3://%s/%s", count, location.bucket, key)
        elif spec.source == "manifest":
            manifest = self.hook.describe_manifest(str(self.manifest), self.manifest_format)
        job_id = self._create_or_reattach(
            context,
            token,
            tags=spec.tags,
            report=spec.report(partition),
            manifest=manifest,
            manifest_generator=spec.manifest_generator_request(partition),
            priority=spec.priority,
            tagged_locations=object_locations(spec.refs) if spec.source == "objects" else (),
        )
        self._job_id = job_id
        url = S3BatchJobLink.persist_job(
            context,
            self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            job_id=job_id,
        )
        self.log.info("You can monitor this S3 Batch Operations job at: %s", url)
        if self.confirmation_required:
            if self.deferrable:
                self._defer(job_id, WAIT_FOR_PREPARATION, "execute_confirm")
            self.hook.wait_for_job(
                job_id,
                waiter_name=WAIT_FOR_PREPARATION,
                waiter_delay=self.waiter_delay,
                waiter_max_attempts=self.waiter_max_attempts,
            )
            self._confirm(job_id)
        return self._after_confirmation(job_id, context)

    def _create_or_reattach(self, context: Context, token: str, **job: Any) -> str:
        """Create the tagging job, or find the one an earlier try created (``_create_job_once``)."""
        confirmation_required = job.pop("confirmation_required", self.confirmation_required)
        return self._create_job_once(
            context,
            token,
            lambda request_token: self.hook.create_tagging_job(
                mode=self.mode,
                client_request_token=request_token,
                role_arn=self.role_arn,
                confirmation_required=confirmation_required,
                description=self.description,
                job_tags=self.job_tags,
                **job,
            ),
        )

    def _confirm(self, job_id: str) -> None:
        job = self.hook.describe_job(job_id)
        status = job.get("Status")
        total = (job.get("ProgressSummary") or {}).get("TotalNumberOfTasks")
        if status == "Suspended":
            self.hook.confirm_job(job_id)
            self.log.info("Confirmed S3 Batch Operations job %s (%s tasks)", job_id, total)
        else:
            self.log.info("S3 Batch Operations job %s needs no confirmation: it is %s", job_id, status)

    def _after_confirmation(self, job_id: str, context: Context) -> dict[str, Any]:
        if not self.wait_for_completion:
            return self.hook.job_result(job_id, max_failures=self.first_failures)
        if self.deferrable:
            if validate_redrive_count(self.redrive_failed_tasks):
                # The first job: no redrive before it (read back when the task resumes).
                context["ti"].xcom_push(key=REDRIVE_HISTORY_XCOM_KEY, value=[])
            self._defer(job_id, WAIT_FOR_COMPLETION, "execute_complete")
        # Failed or Cancelled end the wait in error; the result below carries AWS's reasons.
        with contextlib.suppress(WaiterTerminalFailure):
            self.hook.wait_for_job(
                job_id,
                waiter_delay=self.waiter_delay,
                waiter_max_attempts=self.waiter_max_attempts,
            )
        return self._finish(job_id, context)

    def _defer(self, job_id: str, waiter_name: str, method_name: str) -> None:
        self.defer_to_job(
            job_id,
            waiter_delay=self.waiter_delay,
            waiter_max_attempts=self.waiter_max_attempts,
            waiter_name=waiter_name,
            method_name=method_name,
        )

    def _finish(
        self, job_id: str, context: Context, redrive_history: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        result = self.hook.job_result(job_id, max_failures=self.first_failures)
        self.log.info(*job_result_log_args(result))
        if result["status"] in JOB_FAILURE_STATES and self._cancelled_by_earlier_try(job_id, context):
            return self.execute(context)
        if validate_redrive_count(self.redrive_failed_tasks):
            result = self._redrive(result, context, list(redrive_history or []))
        judged = result
        if len(result.get("job_ids") or ()) > 1:  # redriven: the message names every job
            first, *others = result["job_ids"]
            judged = {**result, "job_id": f"{first} (redriven by job {', '.join(others)})"}
        problem = job_result_problem(
            judged, max_failed_tasks=self.max_failed_tasks, max_failure_ratio=self.max_failure_ratio
        )
        if problem:
            raise AirflowException(problem)
        return result

    def _job_id_from_event(
        self, context: Context, event: dict[str, Any] | None
    ) -> tuple[dict[str, Any], str]:
        self._try_number = try_number(context)
        validated = validate_execute_complete_event(event)
        job_id = validated.get("job_id")
        if not job_id:
            raise AirflowException(f"Trigger event without a job id: {validated}")
        self._job_id = str(job_id)
        return validated, str(job_id)

    def execute_confirm(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the job was prepared: confirm it, then wait for completion or return."""
        validated, job_id = self._job_id_from_event(context, event)
        if validated.get("status") != "success":
            raise AirflowException(
                f"Error while waiting for S3 Batch Operations job {job_id} to be prepared: "
                f"{validated.get('message')}"
            )
        self._confirm(job_id)
        return self._after_confirmation(job_id, context)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger fired: return the same result as the synchronous path."""
        validated, job_id = self._job_id_from_event(context, event)
        if validated.get("status") != "success":
            status = self.hook.describe_job(job_id).get("Status")
            if status not in JOB_FAILURE_STATES:
                raise AirflowException(
                    f"Error while waiting for S3 Batch Operations job {job_id} (status {status}): "
                    f"{validated.get('message')}"
                )
        return self._finish(job_id, context, self._redrive_history(context))

    # -- redrive ------------------------------------------------------------------------------

    def _check_redrive_settings(self) -> None:
        """Redrive needs the job's report and its end: checked before any request."""
        if not validate_redrive_count(self.redrive_failed_tasks):
            return
        validate_retryable_error_codes(self.retryable_error_codes)
        if not self.report_enabled:
            raise S3TaggingInputError(
                "redrive_failed_tasks needs the job's completion report, which lists the failed tasks: "
                "leave report_enabled=True."
            )
        if not self.wait_for_completion:
            raise S3TaggingInputError(
                "redrive_failed_tasks needs wait_for_completion=True: failed tasks are known only once "
                "the job has ended."
            )

    def _redrive(
        self, result: dict[str, Any], context: Context, history: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Redrive the failed tasks of the job that just ended, up to ``redrive_failed_tasks`` times.

        ``history`` holds the earlier jobs of this task (``{"result", "redrive"}``). Each redrive job's
        token derives from the task's token and the job it redrives, so a retried task reattaches to
        the redrive jobs its earlier tries created. Deferrable: defers again for each redrive job and
        resumes here with the history. Returns the combined result of every job.
        """
        allowed = validate_redrive_count(self.redrive_failed_tasks)
        codes = validate_retryable_error_codes(self.retryable_error_codes)
        while True:
            redrives = [entry["redrive"] for entry in history]
            results = [entry["result"] for entry in history] + [result]
            if (
                len(history) >= allowed
                or result["status"] != "Complete"
                or not result["tasks_failed"]
                or not result.get("report_location")
            ):
                return combine_job_results(results, redrives)
            job_id = result["job_id"]
            self.log.info(
                "Redriving the %s failed tasks of S3 Batch Operations job %s (redrive %s of at most %s)",
                result["tasks_failed"],
                job_id,
                len(history) + 1,
                allowed,
            )
            described = self.hook.describe_job(job_id)
            report_manifest = self.hook.report_manifest_uri(described)
            location = self._redrive_manifest_location(described)
            manifest, counts = self.hook.write_redrive_manifest(
                str(report_manifest),
                location,
                redrive_manifest_key(location, job_id),
                retryable_only=bool(self.retryable_only),
                retryable_error_codes=codes,
            )
            if manifest is None:
                return combine_job_results(results, [*redrives, counts.to_dict()])
            history.append({"result": _small_result(result), "redrive": counts.to_dict()})
            ti = context["ti"]
            token = redrive_request_token(
                job_request_token(ti.dag_id, ti.task_id, ti.run_id, getattr(ti, "map_index", -1)), job_id
            )
            spec = self._spec()
            partition = self.hook.conn_partition
            new_job_id = self._create_or_reattach(
                context,
                token,
                tags=spec.tags,
                report=spec.report(partition),
                manifest=manifest,
                manifest_generator=None,
                priority=spec.priority,
                confirmation_required=False,
            )
            self._job_id = new_job_id
            self.log.info(
                "S3 Batch Operations job %s redrives %s failed tasks of job %s",
                new_job_id,
                counts.redriven,
                job_id,
            )
            if self.deferrable:
                # Kept in XCom, which a resumed task keeps (the deferral's kwargs are not kept by
                # dag.test()); a new try starts without it and reattaches job by job.
                context["ti"].xcom_push(key=REDRIVE_HISTORY_XCOM_KEY, value=history)
                self._defer(new_job_id, WAIT_FOR_COMPLETION, "execute_complete")
            with contextlib.suppress(WaiterTerminalFailure):
                self.hook.wait_for_job(
                    new_job_id, waiter_delay=self.waiter_delay, waiter_max_attempts=self.waiter_max_attempts
                )
            result = self.hook.job_result(new_job_id, max_failures=self.first_failures)
            self.log.info(*job_result_log_args(result))

    def _redrive_history(self, context: Context) -> list[dict[str, Any]]:
        """The jobs before the one a resumed task waited for, when it was a redrive job."""
        if not validate_redrive_count(self.redrive_failed_tasks):
            return []
        ti = context["ti"]
        history = ti.xcom_pull(
            task_ids=ti.task_id, key=REDRIVE_HISTORY_XCOM_KEY, map_indexes=getattr(ti, "map_index", -1)
        )
        return list(history or [])

    def _redrive_manifest_location(self, job: Mapping[str, Any]) -> S3Location:
        """Where redrive manifests go: ``manifest_location`` when given, else the job's report prefix."""
        if self.manifest_location is not None:
            return S3Location.from_uri(str(self.manifest_location), what="manifest_location")
        location = job_report_location(job)
        if location is None:  # pragma: no cover - checked: redrive needs the report
            raise S3TaggingInputError("redrive_failed_tasks needs the job's completion report.")
        return location

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """Implement _on_complete: the manifest and the job are known only once ``execute`` ran.

        Inputs, outputs and counts come from the job as S3 Batch Operations describes it.
        """
        from airflow_s3_batch_tagging.lineage import batch_job_lineage

        if not self._job_id:  # bad input (or no request made): nothing was read or tagged
            return batch_job_lineage(None, mode=self.mode.value)
        spec = self._spec()
        return batch_job_lineage(
            self.hook.describe_job(self._job_id),
            mode=self.mode.value,
            tags=spec.tags,
            tagged=spec.refs if spec.source == "objects" else (),
        )


class S3BatchPutObjectTaggingOperator(_S3BatchTaggingOperator):
    """
    Replace the tag set of every object in a manifest with an S3 Batch Operations job.

    Batch Operations can only replace a whole tag set (``S3PutObjectTagging``); to merge tags into
    the current ones, use the direct path. Exactly one manifest source is given: ``objects``,
    ``manifest`` or ``manifest_generator``.

    :param tags: The tag set every object gets, a dict of keys to values (at most 10). (templated)
    :param role_arn: The IAM role S3 Batch Operations assumes to tag the objects. (templated)
    :param objects: Objects to tag, usually an upstream XCom: ``s3://`` URIs, keys (with ``bucket``)
        or dicts with ``bucket``, ``key`` and optional ``version_id``. Written as a CSV manifest
        under ``manifest_location``. (templated)
    :param bucket: The bucket of bare keys in ``objects``. (templated)
    :param manifest: The ``s3://`` URI of an existing CSV manifest or S3 Inventory ``manifest.json``.
        (templated)
    :param manifest_format: ``csv`` or ``inventory``; by default a ``manifest.json`` is an
        inventory report and anything else a CSV manifest. (templated)
    :param manifest_generator: An ``S3JobManifestGenerator`` dict (``SourceBucket`` as a bucket name,
        ``s3://`` URI or ARN, plus ``Filter``, ``EnableManifestOutput`` ...). (templated)
    :param manifest_location: The ``s3://`` prefix the manifest for ``objects`` is written under.
        (templated)
    :param account_id: The AWS account that owns the job; default: the connection extra
        ``account_id``, else STS. (templated)
    :param priority: The job priority, 0 to 2147483647 (default 10). (templated)
    :param description: The job description, 1 to 256 characters. (templated)
    :param job_tags: Tags for the job itself (at most 50). (templated)
    :param report_location: The ``s3://`` prefix of the completion report; default
        ``{manifest_location}/reports``. (templated)
    :param report_enabled: Whether the job writes a completion report (default True).
    :param report_scope: ``FailedTasksOnly`` (default) or ``AllTasks``. (templated)
    :param confirmation_required: Create the job Suspended; the operator confirms it once prepared.
    :param wait_for_completion: Wait for the job to end (default True); else return once created.
    :param deferrable: Wait in the triggerer (default ``[operators] default_deferrable``).
    :param waiter_delay: Seconds between status checks (default 30).
    :param waiter_max_attempts: Status checks before giving up (default 2880, 24 hours at 30 s).
    :param max_failed_tasks: Failed tasks tolerated in a ``Complete`` job (default 0).
    :param max_failure_ratio: Share of failed tasks tolerated in a ``Complete`` job (default 0.0).
        The task fails when failures exceed both ``max_failed_tasks`` and ``max_failure_ratio``.
    :param cancel_on_kill: Cancel the job when the task is killed (default True).
    :param first_failures: How many failed objects the result lists (default 10).
    :param redrive_failed_tasks: Rerun the failed tasks of a ``Complete`` job up to this many times, each
        in a new job made from the completion report, before the failure tolerance is judged on what
        is still failing (default 0). The result then counts every job (``job_ids``, ``jobs``).
        (templated)
    :param retryable_only: Redrive only tasks whose error may pass on another try (``SlowDown``,
        ``InternalError``, ``ServiceUnavailable``, HTTP 5xx, ...; see ``redrive``) (default False).
    :param retryable_error_codes: The error codes (or HTTP statuses) ``retryable_only`` redrives,
        replacing the default list. (templated)
    :param expected_bucket_owner: Account id sent as ``ExpectedBucketOwner`` on the operator's own S3
        requests (manifest upload and reads, completion report reads) and, unless the generator sets
        one, as the manifest generator's ``ExpectedBucketOwner`` of its source bucket. The job's
        tagging requests are made by S3 Batch Operations with ``role_arn``. (templated)
    :param aws_conn_id: The Airflow connection used for AWS credentials.
    :param region_name: AWS region_name. If not specified then the default boto3 behaviour is used.
    :param verify: Whether or not to verify SSL certificates.
    :param botocore_config: Configuration dictionary (key-values) for botocore client.
    :return: ``job_id``, ``account_id``, ``status``, ``tasks_total``, ``tasks_succeeded``,
        ``tasks_failed``, ``failure_reasons``, ``report_location`` and ``report_summary``
        (``failures_by_code``, ``first_failures``, ...).
    """

    mode = TaggingMode.REPLACE
    template_fields: Sequence[str] = (*_S3BatchTaggingOperator.template_fields, "tags")
    template_fields_renderers = {**_S3BatchTaggingOperator.template_fields_renderers, "tags": "json"}

    def __init__(self, *, tags: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tags = tags

    def _tag_set(self) -> TagSet | None:
        return TagSet.parse(self.tags, context="S3BatchPutObjectTaggingOperator tags")


class S3BatchDeleteObjectTaggingOperator(_S3BatchTaggingOperator):
    """
    Remove every tag from every object in a manifest with an S3 Batch Operations job.

    Takes the same arguments as :class:`S3BatchPutObjectTaggingOperator` except ``tags``.
    """

    mode = TaggingMode.DELETE


def _small_result(result: Mapping[str, Any]) -> dict[str, Any]:
    """A job's result without its report summary: what a redrive keeps of the jobs before the last."""
    return {name: value for name, value in result.items() if name != "report_summary"}
