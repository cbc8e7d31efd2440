"""``S3BatchRedriveFailedTasksOperator``: rerun the failed tasks of a finished S3 Batch Operations job.

For a job created anywhere (the console, the CLI, another tool or another DAG): the failed tasks listed
in its completion report become the manifest of a new job doing the same operation. The batch tagging
operators redrive their own jobs with ``redrive_failed_tasks``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.exceptions import WaiterTerminalFailure
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowException, conf, get_current_context, task

from airflow_s3_batch_tagging.batch_jobs import (
    JOB_FAILURE_STATES,
    job_request_token,
    job_result_log_args,
    job_result_problem,
    redrive_request_token,
    validate_priority,
    validate_role_arn,
    validate_waiter_settings,
)
from airflow_s3_batch_tagging.errors import S3TaggingInputError
from airflow_s3_batch_tagging.hooks.s3_batch_operations import S3BatchOperationsHook
from airflow_s3_batch_tagging.links.s3_batch_operations import S3BatchJobLink
from airflow_s3_batch_tagging.objects import S3Location, split_s3_uri
from airflow_s3_batch_tagging.redrive import validate_retryable_error_codes
from airflow_s3_batch_tagging.report import DEFAULT_FIRST_FAILURES, validate_failure_tolerance
from airflow_s3_batch_tagging.utils.mixins import S3BatchJobMixin, try_number

if TYPE_CHECKING:
    from airflow.sdk import Context

REDRIVE_XCOM_KEY = "s3_batch_redrive"
"""XCom key of which job was redriven and the counts of its failed tasks (``redrive_of``, ``redrive``)."""


class S3BatchRedriveFailedTasksOperator(S3BatchJobMixin, AwsBaseOperator[S3BatchOperationsHook]):
    """
    Rerun the failed tasks of a finished S3 Batch Operations tagging job in a new job.

    The job's completion report is read as a stream; its failed tasks (or only the retryable ones)
    are written as a CSV manifest below ``manifest_location`` (default: the report's prefix, under
    ``redrive/``) and a job doing the same ``S3PutObjectTagging`` or ``S3DeleteObjectTagging`` runs
    it, with the first job's role, priority and report settings unless given. The request token
    derives from this task instance and the job id, so a retried task makes no second job. The job's
    role must be able to read the manifest (``s3:GetObject`` there).

    :param job_id: The finished job whose failed tasks to rerun. (templated)
    :param account_id: The AWS account that owns the job; default: the connection extra
        ``account_id``, else STS. (templated)
    :param retryable_only: Rerun only tasks whose error may pass on another try (default False).
    :param retryable_error_codes: The error codes (or HTTP statuses) ``retryable_only`` reruns,
        replacing the default list (``redrive.DEFAULT_RETRYABLE_ERROR_CODES`` and HTTP 5xx). (templated)
    :param manifest_location: The ``s3://`` prefix the redrive manifest is written under. (templated)
    :param role_arn: The IAM role of the new job; default: the first job's. (templated)
    :param priority: The new job's priority; default: the first job's. (templated)
    :param wait_for_completion: Wait for the new job to end (default True); else return once created.
    :param deferrable: Wait in the triggerer (default ``[operators] default_deferrable``).
    :param waiter_delay: Seconds between status checks (default 30).
    :param waiter_max_attempts: Status checks before giving up (default 2880).
    :param max_failed_tasks: Failed tasks tolerated in the new job once ``Complete`` (default 0).
    :param max_failure_ratio: Share of failed tasks tolerated in the new job (default 0.0).
    :param cancel_on_kill: Cancel the new job when the task is killed (default True): marked failed or
        success, or cleared, also while deferred. A try after a clear or a retry whose new job ended
        ``Failed`` or ``Cancelled`` starts a successor job on the same manifest.
    :param first_failures: How many failed objects the result lists (default 10).
    :param expected_bucket_owner: Account id sent as ``ExpectedBucketOwner`` on the operator's own S3
        requests (report reads, manifest upload). (templated)
    :param aws_conn_id: The Airflow connection used for AWS credentials.
    :param region_name: AWS region_name. If not specified then the default boto3 behaviour is used.
    :param verify: Whether or not to verify SSL certificates.
    :param botocore_config: Configuration dictionary (key-values) for botocore client.
    :return: ``job_id`` (the new job, None when no task was to be rerun), ``redrive_of``, ``redrive``
        (``failed_rows``, ``redriven``, ``not_redriven``, ``not_redriven_by_code``) and, once the job
        ended, the same keys as the batch tagging operators' result.
    """

    aws_hook_class = S3BatchOperationsHook
    template_fields: Sequence[str] = aws_template_fields(
        "job_id",
        "account_id",
        "retryable_error_codes",
        "manifest_location",
        "role_arn",
        "priority",
        "expected_bucket_owner",
    )
    operator_extra_links = (S3BatchJobLink(),)
    ui_color = "#ff9900"

    def __init__(
        self,
        *,
        job_id: str,
        account_id: str | None = None,
        retryable_only: bool = False,
        retryable_error_codes: Sequence[str] | None = None,
        manifest_location: str | None = None,
        role_arn: str | None = None,
        priority: int | None = None,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        waiter_delay: int = 30,
        waiter_max_attempts: int = 2880,
        max_failed_tasks: int = 0,
        max_failure_ratio: float = 0.0,
        cancel_on_kill: bool = True,
        first_failures: int = DEFAULT_FIRST_FAILURES,
        expected_bucket_owner: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id
        self.account_id = account_id
        self.retryable_only = retryable_only
        self.retryable_error_codes = retryable_error_codes
        self.manifest_location = manifest_location
        self.role_arn = role_arn
        self.priority = priority
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

    def execute(self, context: Context) -> dict[str, Any]:
        # Every argument is checked before the hook is built: bad input fails without touching AWS.
        if not isinstance(self.job_id, str) or not self.job_id.strip():
            raise AirflowException(f"Invalid job_id {self.job_id!r}: give the id of a finished job.")
        codes = validate_retryable_error_codes(self.retryable_error_codes)
        location = None
        if self.manifest_location is not None:
            location = S3Location.from_uri(self.manifest_location, what="manifest_location")
        role_arn = validate_role_arn(self.role_arn) if self.role_arn is not None else None
        priority = validate_priority(self.priority) if self.priority is not None else None
        validate_waiter_settings(self.waiter_delay, self.waiter_max_attempts)
        validate_failure_tolerance(self.max_failed_tasks, self.max_failure_ratio)
        ti = context["ti"]
        task_token = job_request_token(ti.dag_id, ti.task_id, ti.run_id, getattr(ti, "map_index", -1))
        failed_job = self.job_id.strip()
        request, counts = self.hook.redrive_request(
            failed_job,
            manifest_location=location,
            retryable_only=bool(self.retryable_only),
            retryable_error_codes=codes,
            role_arn=role_arn,
            priority=priority,
        )
        base = {"redrive_of": failed_job, "redrive": counts.to_dict()}
        # Read back by execute_complete: a resumed task keeps its XComs (dag.test() drops defer kwargs).
        context["ti"].xcom_push(key=REDRIVE_XCOM_KEY, value=base)
        if request is None:
            self.log.info("Job %s has no failed task to redrive; no job created.", failed_job)
            return {"job_id": None, **base}
        new_job_id = self._create_job_once(
            context,
            redrive_request_token(task_token, failed_job),
            lambda token: self.hook.create_tagging_job(client_request_token=token, **request),
        )
        self.log.info(
            "S3 Batch Operations job %s redrives %s failed tasks of job %s",
            new_job_id,
            counts.redriven,
            failed_job,
        )
        url = S3BatchJobLink.persist_job(
            context,
            self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            job_id=new_job_id,
        )
        self.log.info("You can monitor this S3 Batch Operations job at: %s", url)
        if not self.wait_for_completion:
            return {"job_id": new_job_id, **base}
        if self.deferrable:
            self.defer_to_job(
                new_job_id, waiter_delay=self.waiter_delay, waiter_max_attempts=self.waiter_max_attempts
            )
        with contextlib.suppress(WaiterTerminalFailure):
            self.hook.wait_for_job(
                new_job_id, waiter_delay=self.waiter_delay, waiter_max_attempts=self.waiter_max_attempts
            )
        return self._finish(new_job_id, base, context)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger fired: return the same result as the synchronous path."""
        self._try_number = try_number(context)
        validated = validate_execute_complete_event(event)
        job_id = validated.get("job_id")
        if not job_id:
            raise AirflowException(f"Trigger event without a job id: {validated}")
        self._job_id = str(job_id)
        if validated.get("status") != "success":
            status = self.hook.describe_job(str(job_id)).get("Status")
            if status not in JOB_FAILURE_STATES:
                raise AirflowException(
                    f"Error while waiting for S3 Batch Operations job {job_id} (status {status}): "
                    f"{validated.get('message')}"
                )
        ti = context["ti"]
        base = ti.xcom_pull(
            task_ids=ti.task_id, key=REDRIVE_XCOM_KEY, map_indexes=getattr(ti, "map_index", -1)
        )
        return self._finish(str(job_id), dict(base or {}), context)

    def _finish(self, job_id: str, base: dict[str, Any], context: Context) -> dict[str, Any]:
        result = self.hook.job_result(job_id, max_failures=self.first_failures)
        self.log.info(*job_result_log_args(result))
        if result["status"] in JOB_FAILURE_STATES and self._cancelled_by_earlier_try(job_id, context):
            return self.execute(context)
        problem = job_result_problem(
            result, max_failed_tasks=self.max_failed_tasks, max_failure_ratio=self.max_failure_ratio
        )
        if problem:
            raise AirflowException(problem)
        return {**result, **base}


@task
def redrive_manifest_from_report(
    report_manifest: str | Mapping[str, Any],
    manifest_location: str,
    retryable_only: bool = False,
    retryable_error_codes: Sequence[str] | None = None,
    aws_conn_id: str | None = "aws_default",
    region_name: str | None = None,
    expected_bucket_owner: str | None = None,
) -> str | None:
    """TaskFlow task: a CSV manifest of the failed objects of a completion report; its ``s3://`` URI.

    ``report_manifest`` is the ``s3://`` URI of a report's ``manifest.json`` (a job's, or a direct
    task's), or the result of a direct tagging operator (whose ``report_manifest`` is used). Streamed.
    Returns None when no object is to be rerun. Hand the URI to a batch operator's
    ``manifest`` or to ``plan_tagging_batches(manifest=...)``:

    .. code-block:: python

        manifest = redrive_manifest_from_report(tag.output, "s3://bucket/redrive/")
        S3BatchPutObjectTaggingOperator(task_id="rerun", manifest=manifest, tags=..., role_arn=...)
    """
    if isinstance(report_manifest, Mapping):
        if not report_manifest.get("report_manifest"):
            raise S3TaggingInputError(
                "The tagging result has no report_manifest: set report_location on the tagging operator."
            )
        report_manifest = str(report_manifest["report_manifest"])
    codes = validate_retryable_error_codes(retryable_error_codes)
    location = S3Location.from_uri(manifest_location, what="manifest_location")
    split_s3_uri(report_manifest, what="report_manifest")
    context = get_current_context()
    ti = context["ti"]
    name = redrive_request_token(
        job_request_token(ti.dag_id, ti.task_id, ti.run_id, getattr(ti, "map_index", -1)), report_manifest
    )
    key = location.join(f"{name}.csv")
    hook = S3BatchOperationsHook(
        aws_conn_id=aws_conn_id, region_name=region_name, expected_bucket_owner=expected_bucket_owner
    )
    manifest, _ = hook.write_redrive_manifest(
        report_manifest, location, key, retryable_only=bool(retryable_only), retryable_error_codes=codes
    )
    return None if manifest is None else f"s3://{location.bucket}/{key}"
