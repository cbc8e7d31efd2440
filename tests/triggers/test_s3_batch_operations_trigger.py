"""S3BatchJobTrigger: exact serialize round trip, run() with the custom waiter, cancel on kill."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any
from unittest import mock

import pytest
from botocore.exceptions import WaiterError

from airflow_s3_batch_tagging.hooks.s3_batch_operations import S3BatchOperationsHook
from airflow_s3_batch_tagging.triggers.s3_batch_operations import S3BatchJobTrigger

ACCOUNT = "123456789012"


def _trigger(**kwargs: Any) -> S3BatchJobTrigger:
    arguments: dict[str, Any] = {
        "job_id": "job-1",
        "account_id": ACCOUNT,
        "waiter_delay": 0,
        "waiter_max_attempts": 5,
        **kwargs,
    }
    return S3BatchJobTrigger(**arguments)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {
            "waiter_name": "batch_job_prepared",
            "cancel_on_kill": True,
            "try_number": 3,
            "aws_conn_id": "other",
            "region_name": "eu-west-1",
            "verify": False,
            "botocore_config": {"retries": {"max_attempts": 3}},
        },
    ],
)
def test_serialize_rebuilds_the_trigger_exactly(kwargs: dict[str, Any]) -> None:
    trigger = _trigger(**kwargs)
    classpath, serialized = trigger.serialize()
    assert classpath == "airflow_s3_batch_tagging.triggers.s3_batch_operations.S3BatchJobTrigger"
    rebuilt = S3BatchJobTrigger(**serialized)
    assert rebuilt.serialize() == (classpath, serialized)
    for name in (
        "job_id",
        "account_id",
        "waiter_name",
        "waiter_args",
        "cancel_on_kill",
        "try_number",
        "region_name",
    ):
        assert getattr(rebuilt, name) == getattr(trigger, name)
    assert rebuilt.waiter_args == {"AccountId": ACCOUNT, "JobId": "job-1"}


def test_unknown_waiter_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="Invalid waiter_name 'nope'"):
        _trigger(waiter_name="nope")


def test_hook_is_built_with_the_account_and_connection_settings() -> None:
    hook = _trigger(aws_conn_id=None, region_name="eu-west-1").hook()
    assert isinstance(hook, S3BatchOperationsHook)
    assert hook.account_id == ACCOUNT
    assert hook.region_name == "eu-west-1"


@contextlib.asynccontextmanager
async def _client() -> AsyncIterator[mock.MagicMock]:
    yield mock.MagicMock()


def _waiter_error(status: str) -> WaiterError:
    return WaiterError(
        name="batch_job_complete",
        reason="Max attempts exceeded"
        if status not in ("Failed",)
        else "Waiter encountered a terminal failure state",
        last_response={"Job": {"Status": status, "ProgressSummary": {"TotalNumberOfTasks": 2}}},
    )


async def _run(
    trigger: S3BatchJobTrigger, outcomes: list[Any]
) -> tuple[list[dict[str, Any]], mock.MagicMock]:
    waiter = mock.MagicMock()
    waiter.wait = mock.AsyncMock(side_effect=outcomes)
    with (
        mock.patch.object(S3BatchOperationsHook, "get_async_conn", mock.AsyncMock(return_value=_client())),
        mock.patch.object(S3BatchOperationsHook, "get_waiter", return_value=waiter) as get_waiter,
    ):
        events = [event.payload async for event in trigger.run()]
    assert get_waiter.call_args.args == (trigger.waiter_name,)
    return events, waiter


async def test_run_polls_until_complete_and_yields_the_job_id() -> None:
    events, waiter = await _run(_trigger(), [_waiter_error("Active"), _waiter_error("Completing"), None])
    assert events == [{"status": "success", "job_id": "job-1"}]
    assert waiter.wait.await_count == 3
    assert waiter.wait.await_args.kwargs == {
        "AccountId": ACCOUNT,
        "JobId": "job-1",
        "WaiterConfig": {"MaxAttempts": 1},
    }


async def test_run_yields_an_error_event_when_the_job_fails() -> None:
    events, _ = await _run(_trigger(), [_waiter_error("Active"), _waiter_error("Failed")])
    assert len(events) == 1
    assert events[0]["status"] == "error"
    assert events[0]["job_id"] == "job-1"
    assert "job-1 failed" in events[0]["message"]


async def test_run_gives_up_after_the_maximum_attempts() -> None:
    events, waiter = await _run(_trigger(waiter_max_attempts=2), [_waiter_error("Active")] * 2)
    assert events[0]["status"] == "error"
    assert "max attempts" in events[0]["message"]
    assert waiter.wait.await_count == 2


async def test_on_kill_cancels_the_job_only_when_asked() -> None:
    with mock.patch.object(S3BatchOperationsHook, "cancel_job_async") as cancel:
        await _trigger(aws_conn_id=None).on_kill()
        cancel.assert_not_called()
        await _trigger(aws_conn_id=None, cancel_on_kill=True).on_kill()
        cancel.assert_called_once_with("job-1", "Airflow task was killed")
        cancel.reset_mock()
        await _trigger(aws_conn_id=None, cancel_on_kill=True, try_number=4).on_kill()
        cancel.assert_called_once_with("job-1", "Airflow task was killed (try 4)")


async def test_on_kill_swallows_and_logs_a_failed_cancel(capsys: pytest.CaptureFixture[str]) -> None:
    with mock.patch.object(
        S3BatchOperationsHook, "cancel_job_async", side_effect=RuntimeError("boom")
    ) as cancel:
        await _trigger(aws_conn_id=None, cancel_on_kill=True).on_kill()
    cancel.assert_called_once()
    assert "Could not cancel S3 Batch Operations job job-1" in capsys.readouterr().out


# Run in a fresh process, as in a triggerer whose first S3 Control trigger this is: every module
# import, file open and directory listing the trigger makes on the event loop's own thread.
_TRIGGERER_CHILD = """
import asyncio, json, sys, threading

from airflow_s3_batch_tagging.triggers.s3_batch_operations import S3BatchJobTrigger

job_id, account_id = sys.argv[1], sys.argv[2]
on_loop, loop_thread = [], []


def audit(event, args):
    if loop_thread and threading.get_ident() == loop_thread[0]:
        if event in ("import", "open", "os.listdir", "os.scandir"):
            on_loop.append([event, str(args[0])])


sys.addaudithook(audit)


async def main():
    loop_thread.append(threading.get_ident())
    trigger = S3BatchJobTrigger(job_id=job_id, account_id=account_id, cancel_on_kill=True, waiter_delay=1)
    events = trigger.run()
    waiting = asyncio.ensure_future(events.__anext__())
    await asyncio.sleep(3)  # client built, job polled (it waits for confirmation: no event)
    assert not waiting.done(), waiting
    waiting.cancel()  # what the triggerer does when the task is cleared or marked
    await asyncio.gather(waiting, return_exceptions=True)
    await events.aclose()
    await trigger.on_kill()
    loop_thread.clear()


asyncio.run(main())
print(json.dumps(on_loop))
"""


def _suspended_job(local_aws: Any) -> str:
    """A job that waits for confirmation: still there to poll and cancel whenever the test gets to it."""
    import uuid

    s3, control = local_aws.client("s3"), local_aws.client("s3control")
    bucket = local_aws.create_bucket()
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    etag = s3.put_object(Bucket=bucket, Key="m.csv", Body=f"{bucket},k\n".encode())["ETag"]
    return str(
        control.create_job(
            AccountId=local_aws.account_id,
            ConfirmationRequired=True,
            Operation={"S3DeleteObjectTagging": {}},
            Report={"Enabled": False},
            ClientRequestToken=uuid.uuid4().hex,
            Priority=1,
            RoleArn=local_aws.role_arn,
            Manifest={
                "Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
                "Location": {"ObjectArn": f"arn:aws:s3:::{bucket}/m.csv", "ETag": etag.strip('"')},
            },
        )["JobId"]
    )


@pytest.mark.e2e
def test_first_trigger_does_no_blocking_work_on_the_loop(local_aws: Any, aws_default_conn: str) -> None:
    """The triggerer warned its loop was blocked at the trigger's start and cancel: aiobotocore scanned
    botocore's data directory (about 900 listdir calls) and read its endpoint and model files on the
    loop, and the first waiter imported modules there."""
    import json
    import os
    import subprocess
    import sys

    job_id = _suspended_job(local_aws)
    child = subprocess.run(
        [sys.executable, "-c", _TRIGGERER_CHILD, job_id, local_aws.account_id],
        env={**os.environ, **local_aws.env()},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    on_loop = json.loads(child.stdout.strip().splitlines()[-1])
    from airflow_s3_batch_tagging.hooks.s3_batch_operations import WAITER_PATH

    # Allowed: the Amazon provider's get_waiter reads our 2 KB waiter file (as for its own triggers),
    # and tracebacks read source lines.
    blocking = [
        (event, name)
        for event, name in on_loop
        if event != "open" or not (name.endswith(".py") or name == str(WAITER_PATH))
    ]
    assert blocking == []
    assert local_aws.jobs.wait_for(job_id, "Cancelled").status_update_reason == "Airflow task was killed"


@pytest.mark.e2e
async def test_on_kill_cancels_on_the_async_client(local_aws: Any, aws_default_conn: str) -> None:
    """The triggerer warned that on_kill blocked its event loop: it ran boto3's blocking client (built
    on a new session, which parses the service model again). It must use the aiobotocore client."""
    from botocore.client import BaseClient

    with local_aws.paced_jobs(0.5):
        job_id = _suspended_job(local_aws)
        blocking: list[str] = []
        original = BaseClient._make_api_call

        def no_blocking_s3_control(client: Any, operation: str, params: dict[str, Any]) -> Any:
            if client.meta.service_model.service_name == "s3control":
                blocking.append(operation)
                raise AssertionError(f"blocking boto3 {operation} request from the trigger")
            return original(client, operation, params)

        with mock.patch.object(BaseClient, "_make_api_call", no_blocking_s3_control):
            await S3BatchJobTrigger(
                job_id=job_id, account_id=local_aws.account_id, cancel_on_kill=True, try_number=2
            ).on_kill()
        cancelled = local_aws.jobs.wait_for(job_id, "Cancelled")
    assert blocking == []
    assert cancelled.status_update_reason == "Airflow task was killed (try 2)"


@pytest.mark.e2e
async def test_on_kill_cancel_outlives_a_second_cancel(local_aws: Any, aws_default_conn: str) -> None:
    """Airflow 3's triggerer runs ``on_kill`` inside the trigger's task, which it cancels each time the
    trigger is listed for cancellation; in a real deployment a second cancellation interrupted the cancel
    request and the job ran on to Complete. Here the task is cancelled again while the request is
    being prepared (the client is slow to build), as the triggerer does."""
    job_id = _suspended_job(local_aws)
    trigger = S3BatchJobTrigger(job_id=job_id, account_id=local_aws.account_id, cancel_on_kill=True)
    original = S3BatchOperationsHook.get_async_conn

    async def slow_client(hook: S3BatchOperationsHook) -> Any:
        await asyncio.sleep(0.5)
        return await original(hook)

    async def run_trigger() -> None:  # the triggerer's handling of a user action, reduced
        try:
            await asyncio.Event().wait()  # trigger.run(), waiting on the job
        except asyncio.CancelledError:
            await asyncio.wait_for(trigger.on_kill(), timeout=30)
            raise

    with mock.patch.object(S3BatchOperationsHook, "get_async_conn", slow_client):
        task = asyncio.ensure_future(run_trigger())
        await asyncio.sleep(0.1)
        task.cancel("__airflow_user_action__")  # the user marked the task failed
        await asyncio.sleep(0.1)
        task.cancel("__airflow_user_action__")  # listed again on the triggerer's next loop
        with contextlib.suppress(asyncio.CancelledError):
            await task
        cancelled = await asyncio.to_thread(local_aws.jobs.wait_for, job_id, "Cancelled", timeout=10)
    assert cancelled.status_update_reason == "Airflow task was killed"
