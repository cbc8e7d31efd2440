"""S3BatchJobTrigger: exact serialize round trip, run() with the custom waiter, cancel on kill."""

from __future__ import annotations

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
    with mock.patch.object(S3BatchOperationsHook, "cancel_job") as cancel:
        await _trigger(aws_conn_id=None).on_kill()
        cancel.assert_not_called()
        await _trigger(aws_conn_id=None, cancel_on_kill=True).on_kill()
        cancel.assert_called_once_with("job-1", "Airflow task was killed")
        cancel.reset_mock()
        await _trigger(aws_conn_id=None, cancel_on_kill=True, try_number=4).on_kill()
        cancel.assert_called_once_with("job-1", "Airflow task was killed (try 4)")


async def test_on_kill_swallows_and_logs_a_failed_cancel(capsys: pytest.CaptureFixture[str]) -> None:
    with mock.patch.object(S3BatchOperationsHook, "cancel_job", side_effect=RuntimeError("boom")) as cancel:
        await _trigger(aws_conn_id=None, cancel_on_kill=True).on_kill()
    cancel.assert_called_once()
    assert "Could not cancel S3 Batch Operations job job-1" in capsys.readouterr().out
