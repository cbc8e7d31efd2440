"""``S3BatchJobMixin``: what the operators and the sensor that wait on an S3 Batch Operations job share.

Mixed in before ``AwsBaseOperator`` or ``AwsBaseSensor``, as the Amazon provider's ``AwsBaseHookMixin``
is: the job's account and bucket owner on the hook, the deferral to ``S3BatchJobTrigger`` and, for an
operator that created its job, finding that job again on a retry and cancelling it when killed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.providers.amazon.aws.utils.mixins import AwsBaseHookMixin
from airflow.providers.common.compat.sdk import AirflowException

from airflow_s3_batch_tagging.batch_jobs import (
    JOB_ENDING_STATES,
    JOB_FAILURE_STATES,
    deferral_timeout,
    kill_reason,
    killed_by_earlier_try,
    successor_request_token,
)
from airflow_s3_batch_tagging.hooks.s3_batch_operations import S3BatchOperationsHook
from airflow_s3_batch_tagging.triggers.s3_batch_operations import WAIT_FOR_COMPLETION, S3BatchJobTrigger

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
    from airflow.sdk import Context

    # Type-checked as an operator (``log``, ``defer``); at run time only the hook mixin is a base, so
    # the mixin also serves ``AwsBaseSensor``.
    _Task = AwsBaseOperator[S3BatchOperationsHook]
else:
    _Task = AwsBaseHookMixin[S3BatchOperationsHook]

# A retried task whose job ended Failed or Cancelled starts a successor; this bounds the chain.
MAX_SUCCESSOR_JOBS = 20
CREATION_TIME_SLACK = timedelta(seconds=1)


class S3BatchJobMixin(_Task):
    """
    A task waiting on an S3 Batch Operations job: its hook, its deferral and, for its own job, its kill.

    The task stores ``account_id`` and ``expected_bucket_owner``. An operator that creates the job
    also stores ``cancel_on_kill`` and creates it with ``_create_job_once``, which keeps its id for
    ``on_kill``; a sensor, which waits on a job created elsewhere, never cancels it.
    """

    aws_hook_class = S3BatchOperationsHook
    account_id: str | None
    expected_bucket_owner: str | None
    cancel_on_kill: bool = False
    _job_id: str | None = None
    _try_number: int | None = None

    @property
    def _hook_parameters(self) -> dict[str, Any]:
        return {
            **super()._hook_parameters,
            "account_id": self.account_id,
            "expected_bucket_owner": self.expected_bucket_owner,
        }

    def defer_to_job(
        self,
        job_id: str,
        *,
        waiter_delay: float,
        waiter_max_attempts: int,
        waiter_name: str = WAIT_FOR_COMPLETION,
        method_name: str = "execute_complete",
    ) -> NoReturn:
        """Defer to ``S3BatchJobTrigger``; its ``on_kill`` cancels the job when ``cancel_on_kill`` is set."""
        self.defer(
            timeout=deferral_timeout(waiter_delay, int(waiter_max_attempts)),
            trigger=S3BatchJobTrigger(
                job_id=job_id,
                account_id=self.hook.account_id,
                waiter_name=waiter_name,
                cancel_on_kill=self.cancel_on_kill,
                try_number=self._try_number,
                waiter_delay=int(waiter_delay),
                waiter_max_attempts=int(waiter_max_attempts),
                aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
                verify=self.verify,
                botocore_config=self.botocore_config,
            ),
            method_name=method_name,
        )

    def _create_job_once(self, context: Context, token: str, create: Callable[[str], str]) -> str:
        """Create the job with ``create(token)``, or find the one an earlier try created with the token.

        A job an earlier try created that ended Failed or Cancelled (for example cancelled when that
        try was killed) is replaced by a successor whose token derives from it, so the chain is
        the same on every try.
        """
        ti = context["ti"]
        self._try_number = try_number(context)
        try_started: datetime | None = getattr(ti, "start_date", None)
        if (getattr(ti, "try_number", 1) or 1) <= 1 or try_started is None:
            try_started = None  # a first try has no earlier job to find
        else:
            # AWS reports CreationTime to the second or millisecond, and clocks differ a little.
            try_started -= CREATION_TIME_SLACK
        for _ in range(MAX_SUCCESSOR_JOBS):
            job_id = create(token)
            # Known at once, so a kill (on_kill) from here on cancels this job rather than none.
            self._job_id = job_id
            described = self.hook.describe_job(job_id)
            created: datetime | None = described.get("CreationTime")
            earlier = try_started is not None and created is not None and created < try_started
            if not earlier:
                self.log.info("Created S3 Batch Operations job %s (request token %s)", job_id, token)
                return job_id
            status = described.get("Status")
            if status not in (*JOB_FAILURE_STATES, *JOB_ENDING_STATES):
                self.log.info(
                    "Reattached to S3 Batch Operations job %s, created by an earlier try at %s (status %s)",
                    job_id,
                    created,
                    status,
                )
                return job_id
            self.log.info(
                "Job %s from an earlier try is %s (%s); starting a successor job.",
                job_id,
                status,
                described.get("StatusUpdateReason") or "no reason given",
            )
            token = successor_request_token(token, job_id)
        raise AirflowException(
            f"Gave up after {MAX_SUCCESSOR_JOBS} jobs of this task instance ended Failed or Cancelled."
        )

    def _cancelled_by_earlier_try(self, job_id: str, context: Context) -> bool:
        """Whether the job this try waited for was cancelled when an earlier try was killed.

        A clear of the deferred task: its old try's ``on_kill`` cancelled the job this try had reattached
        to. Not this try's verdict: the caller runs again, which starts the successor job.
        """
        killer = killed_by_earlier_try(self.hook.describe_job(job_id), try_number(context) or 1)
        if killer is not None:
            self.log.info(
                "Job %s was cancelled when try %s of this task was killed (cleared); starting its successor.",
                job_id,
                killer,
            )
        return killer is not None

    def on_kill(self) -> None:
        """Cancel the job this task created when ``cancel_on_kill`` is set."""
        if not self.cancel_on_kill or not self._job_id:
            return
        self.log.info("Cancelling S3 Batch Operations job %s", self._job_id)
        try:
            status = self.hook.cancel_job(self._job_id, kill_reason(self._try_number))
        except Exception:
            self.log.exception("Could not cancel S3 Batch Operations job %s; it may still run.", self._job_id)
        else:
            self.log.info("S3 Batch Operations job %s is %s", self._job_id, status)


def try_number(context: Context) -> int | None:
    """This try's number, from the task instance."""
    number = getattr(context["ti"], "try_number", None)
    return number if isinstance(number, int) else None
