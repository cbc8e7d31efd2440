"""S3BatchJobSensor: states as class data, poke, tolerance, deferral and resume."""

from __future__ import annotations

import datetime as dt
from typing import Any
from unittest import mock

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowSensorTimeout, TaskDeferred
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

from airflow_s3_batch_tagging.errors import S3TaggingInputError
from airflow_s3_batch_tagging.hooks.s3_batch_operations import S3BatchOperationsHook
from airflow_s3_batch_tagging.sensors.s3_batch_operations import S3BatchJobSensor
from airflow_s3_batch_tagging.triggers.s3_batch_operations import S3BatchJobTrigger

if AIRFLOW_V_3_0_PLUS:
    _DEFERRAL_TIMEOUT: type[Exception] = AirflowSensorTimeout
else:  # Airflow 2.11's sensors let the deferral's TaskDeferralError through
    from airflow.exceptions import TaskDeferralError as _DEFERRAL_TIMEOUT

ACCOUNT = "123456789012"


def _sensor(status: str, failed: int = 0, reasons: str | None = None, **kwargs: Any) -> tuple[Any, Any]:
    sensor = S3BatchJobSensor(task_id="wait", job_id="job-1", account_id=ACCOUNT, **kwargs)
    hook = mock.MagicMock(spec=S3BatchOperationsHook)
    hook.account_id = ACCOUNT
    hook.conn_region_name = "eu-west-1"
    hook.conn_partition = "aws"
    hook.describe_job.return_value = {"JobId": "job-1", "Status": status}
    hook.job_result.return_value = {
        "job_id": "job-1",
        "status": status,
        "tasks_total": 10,
        "tasks_succeeded": 10 - failed,
        "tasks_failed": failed,
        "failure_reasons": reasons,
        "report_location": None,
        "report_summary": {"failures_by_code": {"NoSuchKey": failed} if failed else {}, "first_failures": []},
    }
    sensor.__dict__["hook"] = hook
    return sensor, hook


def test_states_are_class_data_and_cover_every_job_status() -> None:
    assert S3BatchJobSensor.SUCCESS_STATES == ("Complete",)
    assert set(S3BatchJobSensor.FAILURE_STATES) == {"Failed", "Cancelled"}
    every = {
        "Active", "Cancelled", "Cancelling", "Complete", "Completing", "Failed", "Failing",
        "New", "Paused", "Pausing", "Preparing", "Ready", "Suspended",
    }  # fmt: skip
    states = (
        S3BatchJobSensor.SUCCESS_STATES
        + S3BatchJobSensor.FAILURE_STATES
        + S3BatchJobSensor.INTERMEDIATE_STATES
    )
    assert set(states) == every
    assert len(states) == len(every)


@pytest.mark.parametrize("status", ["New", "Preparing", "Suspended", "Active", "Completing", "Failing"])
def test_poke_is_false_while_the_job_runs(status: str) -> None:
    sensor, hook = _sensor(status)
    assert sensor.poke({}) is False
    hook.job_result.assert_not_called()


def test_poke_is_true_for_a_complete_job_within_tolerance() -> None:
    sensor, _ = _sensor("Complete", failed=2, max_failed_tasks=2)
    assert sensor.poke({}) is True


def test_poke_fails_a_complete_job_over_tolerance_with_codes() -> None:
    sensor, _ = _sensor("Complete", failed=3, max_failure_ratio=0.2)
    with pytest.raises(AirflowException, match=r"3 of 10 tasks failed.*NoSuchKey x3"):
        sensor.poke({})


def test_poke_fails_a_cancelled_job_with_the_reason() -> None:
    sensor, _ = _sensor("Cancelled", reasons="status update reason: stopped by operator")
    with pytest.raises(AirflowException, match="ended Cancelled: status update reason: stopped by operator"):
        sensor.poke({})


def test_deferrable_sensor_defers_and_resumes() -> None:
    sensor, _ = _sensor("Complete", deferrable=True, poke_interval=5, max_retries=7)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({"ti": mock.MagicMock()})
    trigger = deferred.value.trigger
    assert isinstance(trigger, S3BatchJobTrigger)
    assert (trigger.job_id, trigger.account_id, trigger.waiter_delay, trigger.attempts) == (
        "job-1",
        ACCOUNT,
        5,
        7,
    )
    assert deferred.value.method_name == "execute_complete"
    sensor.execute_complete({}, {"status": "success", "job_id": "job-1"})


def test_deferral_times_out_after_the_poke_budget() -> None:
    sensor, _ = _sensor("Complete", deferrable=True, poke_interval=5, max_retries=7)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({"ti": mock.MagicMock()})
    assert deferred.value.timeout == dt.timedelta(seconds=5 * 7 + 60)
    # What the scheduler sends a task whose deferral timed out; a sensor calls it a sensor timeout.
    with pytest.raises(_DEFERRAL_TIMEOUT, match="Trigger timeout"):
        sensor.resume_execution("__fail__", {"error": "Trigger timeout"}, {})


def test_execute_complete_raises_for_errors_and_failed_jobs() -> None:
    running, _ = _sensor("Active")
    with pytest.raises(AirflowException, match="max attempts"):
        running.execute_complete({}, {"status": "error", "message": "max attempts", "job_id": "job-1"})
    failed, _ = _sensor("Failed", reasons="ManifestETagMismatch: nope")
    with pytest.raises(AirflowException, match="ended Failed: ManifestETagMismatch: nope"):
        failed.execute_complete({}, {"status": "error", "message": "terminal", "job_id": "job-1"})


def test_invalid_tolerance_is_rejected_before_polling() -> None:
    sensor, hook = _sensor("Active", max_failed_tasks=-1)
    with pytest.raises(S3TaggingInputError, match="Invalid max_failed_tasks -1"):
        sensor.execute({"ti": mock.MagicMock()})
    hook.describe_job.assert_not_called()


def test_sensor_persists_link_and_logs_job_and_status(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sensor, _ = _sensor("Complete", failed=1, max_failed_tasks=1, deferrable=True)
    ti = mock.MagicMock()
    with pytest.raises(TaskDeferred):
        sensor.execute({"ti": ti})
    ti.xcom_push.assert_called_once_with(
        key="s3_batch_job",
        value={"region_name": "eu-west-1", "aws_domain": "aws.amazon.com", "job_id": "job-1"},
    )
    assert [type(link).__name__ for link in sensor.operator_extra_links] == ["S3BatchJobLink"]
    started = capsys.readouterr().out
    assert "Waiting for S3 Batch Operations job job-1 of account 123456789012" in started
    assert "https://eu-west-1.console.aws.amazon.com/s3/jobs/job-1?region=eu-west-1" in started

    sensor.execute_complete({"ti": ti}, {"status": "success", "job_id": "job-1"})
    assert "S3 Batch Operations job job-1 is Complete: 9 of 10 tasks succeeded, 1 failed" in (
        capsys.readouterr().out
    )
