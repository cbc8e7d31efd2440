"""``S3BatchJobTrigger``: waits in the triggerer for an S3 Batch Operations job to end or to be prepared."""

from __future__ import annotations

import asyncio
from typing import Any

from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger

# Imported with the trigger class, not on the triggerer's event loop at the first wait.
from airflow.providers.amazon.aws.waiters import base_waiter  # noqa: F401

from airflow_s3_batch_tagging.batch_jobs import JOB_STATUS_QUERIES, kill_reason
from airflow_s3_batch_tagging.hooks.s3_batch_operations import S3BatchOperationsHook

WAIT_FOR_COMPLETION = "batch_job_complete"
WAIT_FOR_PREPARATION = "batch_job_prepared"

# Cancel requests still in flight after their ``on_kill`` was interrupted: the event loop keeps only
# weak references to tasks, so these must be held until they finish.
_CANCELS_IN_FLIGHT: set[asyncio.Task[None]] = set()


class S3BatchJobTrigger(AwsBaseWaiterTrigger):
    """
    Poll an S3 Batch Operations job until it is ``Complete`` (``Failed`` or ``Cancelled`` end it in error).

    With ``waiter_name="batch_job_prepared"`` it waits only until the job has left ``New`` and
    ``Preparing`` (for example to confirm a job that is ``Suspended`` awaiting confirmation).

    :param job_id: The S3 Batch Operations job id.
    :param account_id: The AWS account that owns the job (12 digits).
    :param waiter_name: ``batch_job_complete`` (default) or ``batch_job_prepared``,
        from the package's ``waiters/s3control.json``.
    :param cancel_on_kill: Cancel the job when a user marks the deferred task failed or success, or
        clears it (``BaseTrigger.on_kill``, Airflow 3.2+).
    :param try_number: The deferred task's try, named in the cancel's reason so that the try that
        follows a clear knows the job was cancelled by an earlier try and starts its successor.
    :param waiter_delay: The amount of time in seconds to wait between attempts.
    :param waiter_max_attempts: The maximum number of attempts to be made.
    :param aws_conn_id: The Airflow connection used for AWS credentials.
    :param region_name: The AWS region where the job is.
    :param verify: Whether or not to verify SSL certificates.
    :param botocore_config: Configuration dictionary (key-values) for the botocore client.
    """

    aws_hook_class = S3BatchOperationsHook

    def __init__(
        self,
        *,
        job_id: str,
        account_id: str,
        waiter_name: str = WAIT_FOR_COMPLETION,
        cancel_on_kill: bool = False,
        try_number: int | None = None,
        waiter_delay: int = 30,
        waiter_max_attempts: int = 2880,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict | None = None,
    ) -> None:
        if waiter_name not in (WAIT_FOR_COMPLETION, WAIT_FOR_PREPARATION):
            raise ValueError(
                f"Invalid waiter_name {waiter_name!r}: "
                f"use {WAIT_FOR_COMPLETION!r} or {WAIT_FOR_PREPARATION!r}."
            )
        super().__init__(
            serialized_fields={
                "job_id": job_id,
                "account_id": account_id,
                "waiter_name": waiter_name,
                "cancel_on_kill": cancel_on_kill,
                "try_number": try_number,
            },
            waiter_name=waiter_name,
            waiter_args={"AccountId": account_id, "JobId": job_id},
            failure_message=f"S3 Batch Operations job {job_id} failed",
            status_message=f"S3 Batch Operations job {job_id}",
            status_queries=JOB_STATUS_QUERIES,
            return_key="job_id",
            return_value=job_id,
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            verify=verify,
            botocore_config=botocore_config,
        )
        self.job_id = job_id
        self.account_id = account_id
        self.cancel_on_kill = cancel_on_kill
        self.try_number = try_number

    @property
    def _hook_parameters(self) -> dict[str, Any]:
        return {**super()._hook_parameters, "account_id": self.account_id}

    def hook(self) -> S3BatchOperationsHook:
        return S3BatchOperationsHook(**self._hook_parameters)

    async def on_kill(self) -> None:
        """Cancel the job when a user acts on the deferred task and ``cancel_on_kill`` is set."""
        if not self.cancel_on_kill:
            return
        self.log.info("Cancelling S3 Batch Operations job %s", self.job_id)
        # The triggerer may cancel on_kill itself: Airflow 3's triggerer cancels a trigger's task each
        # time the trigger is listed for cancellation, and a second cancellation interrupts on_kill (seen
        # in a real deployment: the job ran on to Complete after a task was marked failed). The request
        # is shielded so that it is sent and finished on the triggerer's loop whatever happens to us.
        cancel = asyncio.ensure_future(self._cancel_job())
        _CANCELS_IN_FLIGHT.add(cancel)
        cancel.add_done_callback(_CANCELS_IN_FLIGHT.discard)
        await asyncio.shield(cancel)

    async def _cancel_job(self) -> None:
        try:
            await self.hook().cancel_job_async(self.job_id, kill_reason(self.try_number))
        except Exception:
            self.log.exception("Could not cancel S3 Batch Operations job %s; it may still run.", self.job_id)
        else:
            self.log.info("Cancelled S3 Batch Operations job %s", self.job_id)
