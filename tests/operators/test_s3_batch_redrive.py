"""Bad redrive settings fail before any request, naming the problem; the redrive operator cancels its
job when killed (waiting or deferred) and a try after a clear finishes on a successor job.

The kill scenarios run on the local stand-in: its S3 Batch Operations emulator fails tasks through its
own fault injection, writes the completion report the redrive reads, and applies ``UpdateJobStatus``.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from airflow.providers.common.compat.sdk import AirflowException, TaskDeferred

from airflow_s3_batch_tagging.batch_jobs import build_report
from airflow_s3_batch_tagging.errors import S3TaggingInputError
from airflow_s3_batch_tagging.hooks.s3_batch_operations import S3BatchOperationsHook
from airflow_s3_batch_tagging.objects import S3Location
from airflow_s3_batch_tagging.operators.s3_batch_operations import S3BatchPutObjectTaggingOperator
from airflow_s3_batch_tagging.operators.s3_batch_redrive import S3BatchRedriveFailedTasksOperator
from airflow_s3_batch_tagging.triggers.s3_batch_operations import S3BatchJobTrigger

ROLE = "arn:aws:iam::123456789012:role/batch"


def _context(ti: Any = None) -> Any:
    return {"ti": ti or SimpleNamespace(dag_id="d", task_id="t", run_id="r", map_index=-1, try_number=1)}


class _NoRequests:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a request was made: {name}")


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"report_enabled": False}, "needs the job's completion report"),
        ({"wait_for_completion": False}, "needs wait_for_completion=True"),
        ({"retryable_error_codes": "SlowDown"}, "Invalid retryable_error_codes"),
        ({"redrive_failed_tasks": -1}, "Invalid redrive_failed_tasks"),
    ],
)
def test_batch_operator_refuses_bad_redrive_settings_before_any_request(
    settings: dict[str, Any], problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator = S3BatchPutObjectTaggingOperator(
        task_id="t",
        tags={"a": "b"},
        role_arn=ROLE,
        objects=["s3://bucket-a/k"],
        manifest_location="s3://bucket-a/m/",
        **{"redrive_failed_tasks": 1, **settings},
    )
    monkeypatch.setattr(S3BatchPutObjectTaggingOperator, "hook", _NoRequests())
    with pytest.raises(S3TaggingInputError, match=problem):
        operator.execute(_context())


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"manifest_location": "bucket/no-scheme"}, "manifest_location"),
        ({"role_arn": "not-a-role"}, "Invalid role ARN"),
        ({"retryable_error_codes": []}, "retryable_error_codes is empty"),
        ({"priority": -3}, "Invalid priority"),
    ],
)
def test_redrive_operator_refuses_bad_input_before_any_request(
    settings: dict[str, Any], problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator = S3BatchRedriveFailedTasksOperator(task_id="t", job_id="job-1", **settings)
    monkeypatch.setattr(S3BatchRedriveFailedTasksOperator, "hook", _NoRequests())
    with pytest.raises(S3TaggingInputError, match=problem):
        operator.execute(_context())


# -- killed and cleared redrive tasks, on the stand-in -------------------------------------------------

KEYS = ["data/a.csv", "data/b.csv", "data/c.csv"]
# The emulator tries a task 6 times when S3 answers SlowDown: 6 failures fail the task once.
SLOWDOWN_TRIES = 6


def on_the_stand_in(test: Any) -> Any:
    """Marks a test that runs on the stand-in, with ``aws_default`` pointing at it."""
    return pytest.mark.e2e(pytest.mark.usefixtures("aws_default_conn")(test))


class _TaskInstance(SimpleNamespace):
    """The parts of a task instance the operator uses, with XComs kept across its tries."""

    def __init__(self, xcoms: dict[str, Any], try_number: int = 1, start_date: datetime | None = None):
        super().__init__(
            dag_id="redrive_kill", task_id="redrive", run_id=f"manual__{uuid.uuid4().hex}", map_index=-1,
            try_number=try_number, start_date=start_date, xcoms=xcoms,
        )  # fmt: skip

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value

    def xcom_pull(self, task_ids: str, key: str, map_indexes: int) -> Any:
        return self.xcoms.get(key)


@pytest.fixture
def failed_job(local_aws: Any, s3_bucket: str, aws_faults: Any) -> str:
    """A finished delete-tagging job, created outside Airflow, whose tasks on two keys failed."""
    s3 = local_aws.client("s3")
    for key in KEYS:
        s3.put_object(Bucket=s3_bucket, Key=key, Body=b"x", Tagging="old=1")
    s3.put_object(
        Bucket=s3_bucket, Key="lists/all.csv", Body="".join(f"{s3_bucket},{key}\n" for key in KEYS).encode()
    )
    aws_faults.configure(
        failing_keys={KEYS[1]: "SlowDown", KEYS[2]: "SlowDown"},
        failing_key_times=SLOWDOWN_TRIES,
        tagging_only=True,
    )
    hook = S3BatchOperationsHook(aws_conn_id="aws_default")
    job_id = hook.create_tagging_job(
        mode="delete",
        tags=None,
        role_arn=local_aws.role_arn,
        client_request_token=f"first-{uuid.uuid4()}",
        report=build_report(S3Location(s3_bucket, "reports"), "AllTasks"),
        manifest=hook.describe_manifest(f"s3://{s3_bucket}/lists/all.csv"),
    )
    assert local_aws.jobs.wait_for(job_id).failed == 2
    aws_faults.clear()
    return job_id


def _redrive(failed_job: str, **kwargs: Any) -> S3BatchRedriveFailedTasksOperator:
    return S3BatchRedriveFailedTasksOperator(task_id="redrive", job_id=failed_job, **kwargs)


@pytest.mark.parametrize("cancel_on_kill", [True, False])
def test_redrive_on_kill_cancels_its_job_only_when_asked(
    cancel_on_kill: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = mock.MagicMock()
    monkeypatch.setattr(S3BatchRedriveFailedTasksOperator, "hook", hook)
    operator = _redrive("job-1", cancel_on_kill=cancel_on_kill)
    operator.on_kill()  # killed before its job exists: nothing to cancel
    operator._job_id, operator._try_number = "job-2", 3
    operator.on_kill()
    expected = [mock.call("job-2", "Airflow task was killed (try 3)")] if cancel_on_kill else []
    assert hook.cancel_job.call_args_list == expected


def _redrive_jobs(local_aws: Any, failed_job: str) -> list[Any]:
    description = f"Redrive of the failed tasks of job {failed_job}"
    jobs = [job for job in local_aws.jobs.list() if job.request.get("Description") == description]
    return sorted(jobs, key=lambda job: job.creation_time)


async def _first_event(trigger: S3BatchJobTrigger) -> dict[str, Any]:
    async for event in trigger.run():
        return dict(event.payload)
    raise AssertionError("the trigger fired no event")


@on_the_stand_in
def test_marking_a_deferred_redrive_task_cancels_its_job(local_aws: Any, failed_job: str) -> None:
    with local_aws.paced_jobs(1.0):  # the job still runs when the task is marked
        with pytest.raises(TaskDeferred) as deferred:
            _redrive(failed_job, deferrable=True, waiter_delay=0).execute(_context(_TaskInstance({})))
        # A user marks the deferred task failed or success: the triggerer runs its trigger's on_kill.
        asyncio.run(deferred.value.trigger.on_kill())
        (job,) = _redrive_jobs(local_aws, failed_job)
        ended = local_aws.jobs.wait_for(job.job_id)

    assert deferred.value.trigger.job_id == job.job_id
    assert (ended.status, ended.status_update_reason) == ("Cancelled", "Airflow task was killed (try 1)")


@on_the_stand_in
def test_killing_a_waiting_redrive_task_cancels_its_job(local_aws: Any, failed_job: str) -> None:
    operator = _redrive(failed_job, deferrable=False, waiter_delay=1)

    def kill_once_the_job_exists() -> None:
        deadline = time.monotonic() + 60
        while not _redrive_jobs(local_aws, failed_job) and time.monotonic() < deadline:
            time.sleep(0.05)
        operator.on_kill()  # what Airflow's task runner calls on SIGTERM while execute waits

    # execute runs in the main thread, as in a worker (Airflow 2 refuses it in another thread).
    with local_aws.paced_jobs(1.0):
        killer = threading.Thread(target=kill_once_the_job_exists)
        killer.start()
        with pytest.raises(AirflowException, match="ended Cancelled") as failed:
            operator.execute(_context(_TaskInstance({})))
        killer.join(60)

    (job,) = _redrive_jobs(local_aws, failed_job)
    assert (job.status, job.status_update_reason) == ("Cancelled", "Airflow task was killed (try 1)")
    assert f"job {job.job_id} ended Cancelled" in str(failed.value)


@on_the_stand_in
def test_cleared_deferred_redrive_finishes_on_a_successor(local_aws: Any, failed_job: str) -> None:
    """Clearing a deferred redrive task: the new try reattaches to the running redrive job, then the old
    try's trigger runs on_kill and cancels it. The new try starts a successor on the same manifest."""
    xcoms: dict[str, Any] = {}
    try_1 = _TaskInstance(xcoms, try_number=1, start_date=datetime.now(UTC))
    with local_aws.paced_jobs(2.0):  # the job still runs when try 2 reattaches and try 1's kill lands
        with pytest.raises(TaskDeferred) as first:
            _redrive(failed_job, deferrable=True, waiter_delay=0).execute(_context(try_1))
        job_id = first.value.trigger.job_id
        # The clear: try 2 starts (past the 1 s creation-time slack) and reattaches to the job.
        try_2 = _TaskInstance(xcoms, try_number=2, start_date=datetime.now(UTC) + timedelta(seconds=2))
        try_2.run_id = try_1.run_id
        with pytest.raises(TaskDeferred) as waiting:
            _redrive(failed_job, deferrable=True, waiter_delay=0).execute(_context(try_2))
        assert waiting.value.trigger.job_id == job_id
        asyncio.run(first.value.trigger.on_kill())
        assert local_aws.jobs.wait_for(job_id).status == "Cancelled"
    # Try 2's trigger sees the job end Cancelled: try 2 resumes and starts the successor.
    with pytest.raises(TaskDeferred) as successor:
        _redrive(failed_job, deferrable=True, waiter_delay=0).execute_complete(
            _context(try_2), asyncio.run(_first_event(waiting.value.trigger))
        )
    successor_id = successor.value.trigger.job_id
    result = _redrive(failed_job, deferrable=True, waiter_delay=0).execute_complete(
        _context(try_2), asyncio.run(_first_event(successor.value.trigger))
    )

    assert successor_id != job_id
    assert [job.job_id for job in _redrive_jobs(local_aws, failed_job)] == [job_id, successor_id]
    assert (result["job_id"], result["status"], result["tasks_succeeded"]) == (successor_id, "Complete", 2)
    assert (result["redrive_of"], result["redrive"]["redriven"]) == (failed_job, 2)
    assert (
        local_aws.jobs.get(successor_id).request["Manifest"] == local_aws.jobs.get(job_id).request["Manifest"]
    )
