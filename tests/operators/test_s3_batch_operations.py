"""Batch tagging operators: input validation before any request, and the execute / defer / resume flow."""

from __future__ import annotations

import datetime as dt
from typing import Any
from unittest import mock

import pytest
from airflow.providers.amazon.aws.exceptions import WaiterTerminalFailure
from airflow.providers.common.compat.sdk import AirflowException, TaskDeferred
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

from airflow_s3_batch_tagging.batch_jobs import job_request_token, successor_request_token
from airflow_s3_batch_tagging.errors import S3TaggingInputError
from airflow_s3_batch_tagging.hooks.s3_batch_operations import S3BatchOperationsHook
from airflow_s3_batch_tagging.links.s3_batch_operations import S3BatchJobLink
from airflow_s3_batch_tagging.objects import ObjectRef
from airflow_s3_batch_tagging.operators.s3_batch_operations import (
    S3BatchDeleteObjectTaggingOperator,
    S3BatchPutObjectTaggingOperator,
)
from airflow_s3_batch_tagging.tags import TaggingMode
from airflow_s3_batch_tagging.triggers.s3_batch_operations import S3BatchJobTrigger

if AIRFLOW_V_3_0_PLUS:
    from airflow.sdk.exceptions import TaskDeferralTimeout
else:  # Airflow 2.11 fails a timed-out deferral with TaskDeferralError
    from airflow.exceptions import TaskDeferralError as TaskDeferralTimeout

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/batch-tagging"
JOB_ID = "job-1"
TRY_START = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


def _operator(cls: type = S3BatchPutObjectTaggingOperator, **kwargs: Any) -> Any:
    arguments: dict[str, Any] = {
        "task_id": "retag",
        "role_arn": ROLE,
        "account_id": ACCOUNT,
        "objects": ["s3://data/a.txt", "b.txt", {"bucket": "data", "key": "c", "version_id": "v1"}],
        "bucket": "data",
        "manifest_location": "s3://manifests/batch/",
        "waiter_delay": 0,
        **kwargs,
    }
    if cls is S3BatchPutObjectTaggingOperator:
        arguments.setdefault("tags", {"tier": "cold"})
    return cls(**arguments)


def _result(status: str = "Complete", failed: int = 0) -> dict[str, Any]:
    return {
        "job_id": JOB_ID,
        "account_id": ACCOUNT,
        "status": status,
        "tasks_total": 3,
        "tasks_succeeded": 3 - failed,
        "tasks_failed": failed,
        "failure_reasons": "ManifestETagMismatch: differs" if status == "Failed" else None,
        "report_location": "s3://manifests/batch/reports/job-job-1/",
        "report_summary": {
            "failures_by_code": {"AccessDenied": failed} if failed else {},
            "first_failures": [{"bucket": "data", "key": "a.txt", "error_code": "AccessDenied"}]
            if failed
            else [],
        },
    }


def _hook(
    status: str = "Active",
    created: dt.datetime | None = None,
    result_status: str = "Complete",
    failed: int = 0,
) -> mock.MagicMock:
    hook = mock.MagicMock(spec=S3BatchOperationsHook)
    hook.account_id = ACCOUNT
    hook.conn_region_name = "us-east-1"
    hook.conn_partition = "aws"
    hook.upload_manifest.return_value = ({"Spec": {}, "Location": {}}, 3)
    hook.create_tagging_job.return_value = JOB_ID
    hook.describe_job.return_value = {
        "JobId": JOB_ID,
        "Status": status,
        "CreationTime": created or TRY_START + dt.timedelta(seconds=1),
    }
    hook.job_result.return_value = _result(result_status, failed)
    return hook


def _context(map_index: int = -1, try_number: int = 1) -> dict[str, Any]:
    ti = mock.MagicMock()
    ti.dag_id, ti.task_id, ti.run_id, ti.map_index = "dag", "retag", "manual__1", map_index
    ti.start_date = TRY_START
    ti.try_number = try_number
    return {"ti": ti}


def _attach(op: Any, hook: mock.MagicMock) -> None:
    op.__dict__["hook"] = hook  # the cached property


# -- bad input: raised before any request ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tags": {"aws:x": "1"}}, "Invalid tag 'aws:x'"),
        ({"tags": {f"k{i}": "v" for i in range(11)}}, "at most 10 tags"),
        ({"tags": "tier=cold"}, "expected a dict"),
        ({"role_arn": "arn:aws:iam::12:role/x"}, "Invalid role ARN"),
        ({"account_id": "abc"}, "Invalid AWS account id 'abc'"),
        ({"expected_bucket_owner": "12345"}, "Invalid expected_bucket_owner '12345'"),
        ({"expected_bucket_owner": 123456789012}, "Invalid expected_bucket_owner 123456789012"),
        ({"manifest_location": "manifests/batch"}, "Invalid manifest_location 'manifests/batch'"),
        ({"report_location": "https://x/y"}, "Invalid report_location 'https://x/y'"),
        ({"manifest": "s3://manifests-in/list.csv"}, "exactly one manifest source.*got objects, manifest"),
        ({"objects": None}, "exactly one manifest source.*got none"),
        ({"objects": []}, "objects is empty: an S3 Batch Operations job needs at least one object"),
        ({"objects": "s3://data/a"}, "Invalid objects"),
        ({"objects": ["nobucket"], "bucket": None}, "a bare key needs a bucket"),
        ({"manifest_location": None}, "objects needs manifest_location"),
        ({"report_scope": "Everything"}, "Invalid report_scope 'Everything'"),
        ({"priority": -5}, "Invalid priority -5"),
        ({"priority": "high"}, "Invalid priority 'high'"),
        ({"max_failure_ratio": 2}, "Invalid max_failure_ratio 2"),
        ({"description": "x" * 300}, "Invalid description"),
        ({"job_tags": {"": "x"}}, "Invalid job tag"),
        ({"first_failures": -1}, "Invalid first_failures -1"),
        (
            {"objects": None, "manifest_generator": {"Filter": {}}, "manifest_location": None},
            "it needs SourceBucket",
        ),
        (
            {"objects": None, "manifest": "s3://manifests-in/list.csv", "manifest_location": None},
            "Set report_location",
        ),
        (
            {"objects": None, "manifest": "s3://manifests-in/list.csv", "manifest_format": "xml"},
            "Invalid manifest_format",
        ),
    ],
)
def test_bad_input_fails_before_any_request(kwargs: dict[str, Any], message: str) -> None:
    op = _operator(**kwargs)
    hook = _hook()
    _attach(op, hook)
    with pytest.raises(S3TaggingInputError, match=message):
        op.execute(_context())
    assert hook.mock_calls == []


def test_templated_priority_string_is_accepted() -> None:
    op = _operator(priority="20")
    assert op._spec().priority == 20


def test_report_location_defaults_below_the_manifest_location() -> None:
    spec = _operator()._spec()
    assert spec.report() == {
        "Enabled": True,
        "Bucket": "arn:aws:s3:::manifests",
        "Format": "Report_CSV_20180820",
        "Prefix": "batch/reports",
        "ReportScope": "FailedTasksOnly",
    }
    assert _operator(report_enabled=False)._spec().report() == {"Enabled": False}


def test_generator_source_expects_the_operators_bucket_owner() -> None:
    op = _operator(
        objects=None,
        manifest_generator={"SourceBucket": "src"},
        expected_bucket_owner=ACCOUNT,
    )
    generator = op._spec().manifest_generator_request()
    assert generator is not None
    assert generator["S3JobManifestGenerator"]["ExpectedBucketOwner"] == ACCOUNT
    assert op._hook_parameters["expected_bucket_owner"] == ACCOUNT
    assert "expected_bucket_owner" in op.template_fields


def test_constructor_stores_arguments_and_templates_fields() -> None:
    op = S3BatchPutObjectTaggingOperator(
        task_id="t", role_arn="{{ var.value.role }}", tags="{{ params.tags }}"
    )
    assert op.tags == "{{ params.tags }}"
    for name in ("tags", "objects", "manifest", "role_arn", "account_id", "report_location", "job_tags"):
        assert name in op.template_fields
    assert "tags" not in S3BatchDeleteObjectTaggingOperator.template_fields
    assert S3BatchDeleteObjectTaggingOperator.mode is TaggingMode.DELETE


# -- the synchronous flow --------------------------------------------------------------------------


@pytest.mark.parametrize("partition", ["aws-cn", "aws-us-gov"])
def test_bucket_arns_use_the_connection_partition(partition: str) -> None:
    op = _operator(
        objects=None,
        manifest_location=None,
        manifest_generator={"SourceBucket": "src"},
        report_location="s3://reports/batch/",
    )
    hook = _hook()
    hook.conn_partition = partition
    _attach(op, hook)
    op.execute(_context())
    create = hook.create_tagging_job.call_args.kwargs
    assert create["report"]["Bucket"] == f"arn:{partition}:s3:::reports"
    assert (
        create["manifest_generator"]["S3JobManifestGenerator"]["SourceBucket"] == f"arn:{partition}:s3:::src"
    )


def test_execute_writes_manifest_creates_job_and_waits() -> None:
    op = _operator()
    hook = _hook()
    _attach(op, hook)
    context = _context()
    result = op.execute(context)
    token = job_request_token("dag", "retag", "manual__1", -1)
    refs, bucket, key = hook.upload_manifest.call_args.args
    assert refs == [ObjectRef("data", "a.txt"), ObjectRef("data", "b.txt"), ObjectRef("data", "c", "v1")]
    assert (bucket, key) == ("manifests", f"batch/dag/retag/manifest-{token}.csv")
    assert hook.upload_manifest.call_args.kwargs == {"with_version_ids": True}
    create = hook.create_tagging_job.call_args.kwargs
    assert create["client_request_token"] == token
    assert create["mode"] is TaggingMode.REPLACE
    assert create["tags"] == {"tier": "cold"}
    assert create["role_arn"] == ROLE
    assert create["manifest"] == {"Spec": {}, "Location": {}}
    hook.wait_for_job.assert_called_once_with(JOB_ID, waiter_delay=0, waiter_max_attempts=2880)
    hook.confirm_job.assert_not_called()
    assert result == _result()
    context["ti"].xcom_push.assert_any_call(
        key=S3BatchJobLink.key,
        value={"region_name": "us-east-1", "aws_domain": "aws.amazon.com", "job_id": JOB_ID},
    )


def test_mapped_instances_get_their_own_token_and_manifest_key() -> None:
    keys, tokens = set(), set()
    for index in (0, 1):
        op = _operator()
        hook = _hook()
        _attach(op, hook)
        op.execute(_context(map_index=index))
        keys.add(hook.upload_manifest.call_args.args[2])
        tokens.add(hook.create_tagging_job.call_args.kwargs["client_request_token"])
    assert len(keys) == 2
    assert len(tokens) == 2


def test_delete_operator_creates_job_from_a_manifest() -> None:
    op = _operator(
        S3BatchDeleteObjectTaggingOperator,
        objects=None,
        manifest="s3://manifests-in/list.csv",
        report_location="s3://reports/r",
    )
    hook = _hook()
    hook.describe_manifest.return_value = {"Spec": {"Format": "csv"}, "Location": {"ETag": "e"}}
    _attach(op, hook)
    op.execute(_context())
    hook.describe_manifest.assert_called_once_with("s3://manifests-in/list.csv", None)
    hook.upload_manifest.assert_not_called()
    create = hook.create_tagging_job.call_args.kwargs
    assert create["mode"] is TaggingMode.DELETE
    assert create["tags"] is None
    assert create["manifest"] == {"Spec": {"Format": "csv"}, "Location": {"ETag": "e"}}


def test_failed_tasks_over_tolerance_fail_with_codes() -> None:
    op = _operator()
    _attach(op, _hook(failed=1))
    with pytest.raises(AirflowException, match=r"1 of 3 tasks failed.*AccessDenied x1"):
        op.execute(_context())
    tolerant = _operator(max_failed_tasks=1)
    _attach(tolerant, _hook(failed=1))
    assert tolerant.execute(_context())["tasks_failed"] == 1


def test_a_failed_job_fails_the_task_with_aws_reasons() -> None:
    op = _operator()
    hook = _hook(status="Failed", result_status="Failed")
    hook.wait_for_job.side_effect = WaiterTerminalFailure("failed", last_response={})
    _attach(op, hook)
    with pytest.raises(AirflowException, match="ended Failed: ManifestETagMismatch: differs"):
        op.execute(_context())


def test_confirmation_waits_then_confirms_suspended_job() -> None:
    op = _operator(confirmation_required=True)
    hook = _hook(status="Suspended")
    _attach(op, hook)
    op.execute(_context())
    assert hook.wait_for_job.call_args_list[0] == mock.call(
        JOB_ID, waiter_name="batch_job_prepared", waiter_delay=0, waiter_max_attempts=2880
    )
    hook.confirm_job.assert_called_once_with(JOB_ID)
    assert hook.create_tagging_job.call_args.kwargs["confirmation_required"] is True


def test_without_waiting_the_current_result_is_returned() -> None:
    op = _operator(wait_for_completion=False)
    hook = _hook()
    hook.job_result.return_value = _result(status="Active")
    _attach(op, hook)
    assert op.execute(_context())["status"] == "Active"
    hook.wait_for_job.assert_not_called()


def test_a_retry_reattaches_to_the_running_job_of_an_earlier_try() -> None:
    op = _operator()
    hook = _hook(status="Active", created=TRY_START - dt.timedelta(minutes=5))
    _attach(op, hook)
    op.execute(_context(try_number=2))
    assert hook.create_tagging_job.call_count == 1
    hook.wait_for_job.assert_called_once_with(JOB_ID, waiter_delay=0, waiter_max_attempts=2880)


def test_retry_replaces_an_earlier_cancelled_job() -> None:
    op = _operator()
    hook = _hook()
    earlier = TRY_START - dt.timedelta(minutes=5)
    hook.create_tagging_job.side_effect = ["old-job", "new-job"]
    hook.describe_job.side_effect = [
        {"JobId": "old-job", "Status": "Cancelled", "CreationTime": earlier},
        {"JobId": "new-job", "Status": "New", "CreationTime": TRY_START + dt.timedelta(seconds=2)},
    ]
    _attach(op, hook)
    op.execute(_context(try_number=2))
    tokens = [c.kwargs["client_request_token"] for c in hook.create_tagging_job.call_args_list]
    assert tokens[0] == job_request_token("dag", "retag", "manual__1", -1)
    assert tokens[1] != tokens[0]
    hook.wait_for_job.assert_called_once_with("new-job", waiter_delay=0, waiter_max_attempts=2880)


def test_a_first_try_never_replaces_its_own_failed_job() -> None:
    op = _operator()
    hook = _hook(status="Failed", created=TRY_START - dt.timedelta(minutes=5), result_status="Failed")
    _attach(op, hook)
    with pytest.raises(AirflowException, match="ended Failed"):
        op.execute(_context(try_number=1))
    assert hook.create_tagging_job.call_count == 1


def test_job_within_the_clock_slack_is_not_replaced() -> None:
    op = _operator()
    hook = _hook(status="Failed", created=TRY_START - dt.timedelta(milliseconds=400), result_status="Failed")
    _attach(op, hook)
    with pytest.raises(AirflowException, match="ended Failed"):
        op.execute(_context(try_number=3))
    assert hook.create_tagging_job.call_count == 1


def test_retry_replaces_an_earlier_cancelling_job_at_once() -> None:
    op = _operator()
    hook = _hook()
    earlier = TRY_START - dt.timedelta(minutes=5)
    hook.create_tagging_job.side_effect = ["old-job", "new-job"]
    hook.describe_job.side_effect = [
        {
            "JobId": "old-job",
            "Status": "Cancelling",
            "StatusUpdateReason": "Airflow task was killed (try 1)",
            "CreationTime": earlier,
        },
        {"JobId": "new-job", "Status": "New", "CreationTime": TRY_START + dt.timedelta(seconds=2)},
    ]
    _attach(op, hook)
    op.execute(_context(try_number=2))
    hook.wait_for_job.assert_called_once_with("new-job", waiter_delay=0, waiter_max_attempts=2880)


def _cancelled_by(try_number: int | None, status: str = "Cancelled") -> dict[str, Any]:
    reason = "Airflow task was killed" + (f" (try {try_number})" if try_number else "")
    return {"JobId": JOB_ID, "Status": status, "StatusUpdateReason": reason, "CreationTime": TRY_START}


def test_job_cancelled_after_reattach_is_replaced_not_failed() -> None:
    op = _operator(deferrable=True)
    hook = _hook(result_status="Cancelled")
    earlier = TRY_START - dt.timedelta(minutes=5)
    hook.create_tagging_job.side_effect = [JOB_ID, "new-job"]
    hook.describe_job.side_effect = [
        _cancelled_by(1),  # the event's status check
        _cancelled_by(1),  # the verdict on the ended job: cancelled by try 1's kill (the clear)
        {**_cancelled_by(1), "CreationTime": earlier},  # the rerun finds it again ...
        {"JobId": "new-job", "Status": "New", "CreationTime": TRY_START + dt.timedelta(seconds=2)},
    ]
    _attach(op, hook)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute_complete(_context(try_number=2), {"status": "error", "message": "x", "job_id": JOB_ID})
    assert deferred.value.trigger.job_id == "new-job"  # ... and defers on its successor
    assert deferred.value.trigger.try_number == 2
    tokens = [c.kwargs["client_request_token"] for c in hook.create_tagging_job.call_args_list]
    assert tokens[1] == successor_request_token(tokens[0], JOB_ID)


@pytest.mark.parametrize(
    "job",
    [
        _cancelled_by(2),  # this try's own kill: not seen by a live try, never replaced
        _cancelled_by(3),  # a later try's (an orphaned older process sees it)
        _cancelled_by(None),  # no try named
        {"JobId": JOB_ID, "Status": "Cancelled", "StatusUpdateReason": "stopped in the console"},
    ],
)
def test_a_job_cancelled_otherwise_fails_the_task(job: dict[str, Any]) -> None:
    op = _operator(deferrable=True)
    hook = _hook(result_status="Cancelled")
    hook.describe_job.side_effect = None
    hook.describe_job.return_value = job
    _attach(op, hook)
    with pytest.raises(AirflowException, match="ended Cancelled"):
        op.execute_complete(_context(try_number=2), {"status": "error", "message": "x", "job_id": JOB_ID})
    hook.create_tagging_job.assert_not_called()


def test_on_kill_cancels_the_created_job_only_when_asked() -> None:
    op = _operator()
    hook = _hook()
    _attach(op, hook)
    op.on_kill()
    hook.cancel_job.assert_not_called()
    op.execute(_context())
    op.on_kill()
    hook.cancel_job.assert_called_once_with(JOB_ID, "Airflow task was killed (try 1)")
    keep = _operator(cancel_on_kill=False)
    keep_hook = _hook()
    _attach(keep, keep_hook)
    keep.execute(_context())
    keep.on_kill()
    keep_hook.cancel_job.assert_not_called()


# -- the deferrable flow ---------------------------------------------------------------------------


def test_deferrable_execute_defers_to_the_completion_trigger() -> None:
    op = _operator(deferrable=True, waiter_delay=7, waiter_max_attempts=9, region_name="eu-west-1")
    hook = _hook()
    _attach(op, hook)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(_context())
    trigger = deferred.value.trigger
    assert isinstance(trigger, S3BatchJobTrigger)
    assert deferred.value.method_name == "execute_complete"
    _, kwargs = trigger.serialize()
    assert kwargs["job_id"] == JOB_ID
    assert kwargs["account_id"] == ACCOUNT
    assert kwargs["waiter_name"] == "batch_job_complete"
    assert kwargs["cancel_on_kill"] is True
    assert (kwargs["waiter_delay"], kwargs["waiter_max_attempts"]) == (7, 9)
    assert kwargs["region_name"] == "eu-west-1"
    hook.wait_for_job.assert_not_called()


def test_deferrable_confirmation_defers_twice() -> None:
    op = _operator(deferrable=True, confirmation_required=True)
    hook = _hook(status="Suspended")
    _attach(op, hook)
    with pytest.raises(TaskDeferred) as first:
        op.execute(_context())
    assert first.value.method_name == "execute_confirm"
    assert first.value.trigger.serialize()[1]["waiter_name"] == "batch_job_prepared"
    resumed = _operator(deferrable=True, confirmation_required=True)
    _attach(resumed, hook)
    with pytest.raises(TaskDeferred) as second:
        resumed.execute_confirm(_context(), {"status": "success", "job_id": JOB_ID})
    hook.confirm_job.assert_called_once_with(JOB_ID)
    assert second.value.method_name == "execute_complete"


def test_both_deferrals_time_out_after_the_waiter_budget() -> None:
    op = _operator(deferrable=True, confirmation_required=True, waiter_delay=7, waiter_max_attempts=9)
    hook = _hook(status="Suspended")
    _attach(op, hook)
    with pytest.raises(TaskDeferred) as prepared:
        op.execute(_context())
    # As the Amazon provider's BatchSensor and ECS operators: the waiter's own budget plus a minute.
    assert prepared.value.timeout == dt.timedelta(seconds=7 * 9 + 60)
    resumed = _operator(deferrable=True, confirmation_required=True, waiter_delay=7, waiter_max_attempts=9)
    _attach(resumed, hook)
    with pytest.raises(TaskDeferred) as completed:
        resumed.execute_confirm(_context(), {"status": "success", "job_id": JOB_ID})
    assert completed.value.timeout == dt.timedelta(seconds=7 * 9 + 60)


def test_trigger_timeout_fails_the_task_without_a_verdict() -> None:
    op = _operator(deferrable=True)
    hook = _hook()
    _attach(op, hook)
    # What the scheduler sends a task whose deferral timed out (next_method "__fail__").
    with pytest.raises(TaskDeferralTimeout, match="Trigger timeout"):
        op.resume_execution("__fail__", {"error": "Trigger timeout"}, _context())
    hook.job_result.assert_not_called()
    hook.create_tagging_job.assert_not_called()


def test_execute_complete_returns_the_synchronous_result() -> None:
    op = _operator(deferrable=True)
    hook = _hook()
    _attach(op, hook)
    assert op.execute_complete(_context(), {"status": "success", "job_id": JOB_ID}) == _result()
    hook.job_result.assert_called_once_with(JOB_ID, max_failures=10)


def test_execute_complete_reports_aws_reasons_for_a_failed_job() -> None:
    op = _operator(deferrable=True)
    _attach(op, _hook(status="Failed", result_status="Failed"))
    with pytest.raises(AirflowException, match="ended Failed: ManifestETagMismatch"):
        op.execute_complete(_context(), {"status": "error", "message": "terminal", "job_id": JOB_ID})


def test_execute_complete_raises_waiter_errors_of_a_running_job() -> None:
    op = _operator(deferrable=True)
    _attach(op, _hook(status="Active"))
    with pytest.raises(AirflowException, match="max attempts reached"):
        op.execute_complete(
            _context(), {"status": "error", "message": "max attempts reached", "job_id": JOB_ID}
        )
    with pytest.raises(AirflowException, match="event is None"):
        op.execute_complete(_context(), None)
