"""``S3BatchJobSensor``: waits for an S3 Batch Operations job to end, judging its failed tasks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowException, conf

from airflow_s3_batch_tagging.accounts import validate_expected_bucket_owner
from airflow_s3_batch_tagging.batch_jobs import (
    JOB_FAILURE_STATES,
    JOB_INTERMEDIATE_STATES,
    JOB_SUCCESS_STATES,
    job_result_log_args,
    job_result_problem,
)
from airflow_s3_batch_tagging.hooks.s3_batch_operations import S3BatchOperationsHook
from airflow_s3_batch_tagging.links.s3_batch_operations import S3BatchJobLink
from airflow_s3_batch_tagging.report import DEFAULT_FIRST_FAILURES, validate_failure_tolerance
from airflow_s3_batch_tagging.utils.mixins import S3BatchJobMixin

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context


class S3BatchJobSensor(S3BatchJobMixin, AwsBaseSensor[S3BatchOperationsHook]):
    """
    Wait for an S3 Batch Operations job to end; fail when it failed or too many of its tasks did.

    AWS calls a job ``Complete`` even when tasks failed, so a ``Complete`` job whose failed tasks
    exceed both ``max_failed_tasks`` and ``max_failure_ratio`` fails the sensor with the failure
    codes from its completion report.

    :param job_id: The S3 Batch Operations job id. (templated)
    :param account_id: The AWS account that owns the job; default: the connection extra
        ``account_id``, else STS. (templated)
    :param max_failed_tasks: Failed tasks tolerated in a ``Complete`` job (default 0).
    :param max_failure_ratio: Share of failed tasks tolerated in a ``Complete`` job (default 0.0).
    :param first_failures: How many failed objects the failure message may name (default 10).
    :param deferrable: Wait in the triggerer (default ``[operators] default_deferrable``).
    :param poke_interval: Seconds between status checks (default 30).
    :param max_retries: Status checks in deferrable mode before giving up (default 2880).
    :param expected_bucket_owner: Account id sent as ``ExpectedBucketOwner`` when reading the job's
        completion report. (templated)
    :param aws_conn_id: The Airflow connection used for AWS credentials.
    :param region_name: AWS region_name. If not specified then the default boto3 behaviour is used.
    :param verify: Whether or not to verify SSL certificates.
    :param botocore_config: Configuration dictionary (key-values) for botocore client.
    """

    SUCCESS_STATES: tuple[str, ...] = JOB_SUCCESS_STATES
    FAILURE_STATES: tuple[str, ...] = JOB_FAILURE_STATES
    INTERMEDIATE_STATES: tuple[str, ...] = JOB_INTERMEDIATE_STATES

    aws_hook_class = S3BatchOperationsHook
    template_fields: Sequence[str] = aws_template_fields("job_id", "account_id", "expected_bucket_owner")
    operator_extra_links = (S3BatchJobLink(),)
    ui_color = "#ff9900"

    def __init__(
        self,
        *,
        job_id: str,
        account_id: str | None = None,
        max_failed_tasks: int = 0,
        max_failure_ratio: float = 0.0,
        first_failures: int = DEFAULT_FIRST_FAILURES,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poke_interval: float = 30,
        max_retries: int = 2880,
        expected_bucket_owner: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.job_id = job_id
        self.account_id = account_id
        self.max_failed_tasks = max_failed_tasks
        self.max_failure_ratio = max_failure_ratio
        self.first_failures = first_failures
        self.deferrable = deferrable
        self.max_retries = max_retries
        self.expected_bucket_owner = expected_bucket_owner

    def execute(self, context: Context) -> Any:
        validate_failure_tolerance(self.max_failed_tasks, self.max_failure_ratio)
        validate_expected_bucket_owner(self.expected_bucket_owner)
        url = S3BatchJobLink.persist_job(
            context,
            self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            job_id=self.job_id,
        )
        self.log.info(
            "Waiting for S3 Batch Operations job %s of account %s; you can monitor it at: %s",
            self.job_id,
            self.hook.account_id,
            url,
        )
        if self.deferrable:
            self.defer_to_job(
                self.job_id, waiter_delay=self.poke_interval, waiter_max_attempts=self.max_retries
            )
        return super().execute(context=context)

    def get_state(self) -> str:
        """The job's status; wraps ``DescribeJob``."""
        return str(self.hook.describe_job(self.job_id)["Status"])

    def poke(self, context: Context) -> bool:
        state = self.get_state()
        self.log.info("S3 Batch Operations job %s is %s", self.job_id, state)
        if state in self.INTERMEDIATE_STATES:
            return False
        self._check()
        return True

    def _check(self) -> dict[str, Any]:
        result = self.hook.job_result(self.job_id, max_failures=self.first_failures)
        self.log.info(*job_result_log_args(result))
        problem = job_result_problem(
            result, max_failed_tasks=self.max_failed_tasks, max_failure_ratio=self.max_failure_ratio
        )
        if problem:
            raise AirflowException(problem)
        return result

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> None:
        validated = validate_execute_complete_event(event)
        if validated.get("status") != "success" and self.get_state() not in self.FAILURE_STATES:
            raise AirflowException(
                f"Error while waiting for S3 Batch Operations job {self.job_id}: {validated.get('message')}"
            )
        self._check()
