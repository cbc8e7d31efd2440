"""End to end: real DAG runs (``dag.test()``) create S3 Batch Operations tagging jobs on the local
stand-in (moto's S3 plus the S3 Control job emulator) and wait for them, synchronously and deferred."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import DAG, task

from airflow_s3_batch_tagging.hooks.s3_batch_operations import S3BatchOperationsHook
from airflow_s3_batch_tagging.links.s3_batch_operations import S3BatchJobLink
from airflow_s3_batch_tagging.operators.s3_batch_operations import (
    S3BatchDeleteObjectTaggingOperator,
    S3BatchPutObjectTaggingOperator,
)
from airflow_s3_batch_tagging.sensors.s3_batch_operations import S3BatchJobSensor
from airflow_s3_batch_tagging.triggers.s3_batch_operations import S3BatchJobTrigger
from tests.airflow_versions import console_link

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("aws_default_conn")]

KEYS = ["data/plain.csv", "data/with space.csv", "data/ünï,cødé+%.csv", "data/deep/a=1/b.csv"]
RESULTS: dict[str, Any] = {}


def _tags(s3: Any, bucket: str, key: str, version_id: str | None = None) -> dict[str, str]:
    extra = {"VersionId": version_id} if version_id else {}
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key, **extra)["TagSet"]}


def _jobs(local_aws: Any, description: str) -> list[Any]:
    return [job for job in local_aws.jobs.list() if job.request.get("Description") == description]


def _dag(name: str) -> DAG:
    return DAG(f"{name}_{uuid.uuid4().hex[:8]}", schedule=None, default_args={"retries": 0})


@task
def collect(result: dict[str, Any], name: str) -> None:
    RESULTS[name] = result


@pytest.fixture
def s3(local_aws: Any) -> Any:
    return local_aws.client("s3")


@pytest.fixture
def paced(local_aws: Any) -> Iterator[Any]:
    """Jobs pause 0.3 s between status steps, so a test can act while one runs."""
    with local_aws.paced_jobs(0.3):
        yield local_aws


@pytest.fixture
def bucket(s3: Any, s3_bucket: str) -> str:
    """A new bucket holding every key of ``KEYS``, each tagged ``old=1``."""
    for key in KEYS:
        s3.put_object(Bucket=s3_bucket, Key=key, Body=b"x", Tagging="old=1")
    return s3_bucket


@pytest.fixture
def description(request: pytest.FixtureRequest) -> str:
    """A job description no other test uses: how a test finds its jobs on the shared stand-in."""
    return f"e2e {request.node.name} {uuid.uuid4().hex[:8]}"


def _retag(
    bucket: str,
    role_arn: str,
    description: str,
    operator: type[S3BatchPutObjectTaggingOperator] = S3BatchPutObjectTaggingOperator,
    /,
    **arguments: Any,
) -> S3BatchPutObjectTaggingOperator:
    """A task setting ``tier=cold`` on every key of ``KEYS`` in ``bucket`` (manifest under ``m/``),
    polling without delay; ``arguments`` override or add to those."""
    defaults: dict[str, Any] = {
        "task_id": "retag",
        "objects": [f"s3://{bucket}/{key}" for key in KEYS],
        "tags": {"tier": "cold"},
        "role_arn": role_arn,
        "manifest_location": f"s3://{bucket}/m/",
        "description": description,
        "waiter_delay": 0,
    }
    return operator(**{**defaults, **arguments})


def _task_state(run: Any, task_id: str) -> str:
    return str(run.get_task_instance(task_id).state)


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
def test_upstream_keys_retagged_by_job_result_in_xcom(
    run_dag: Callable[..., Any], local_aws: Any, s3: Any, bucket: str, description: str, deferrable: bool
) -> None:
    with _dag("batch_retag") as dag:

        @task
        def list_keys() -> list[str]:
            return list(KEYS)

        retag = _retag(
            bucket,
            local_aws.role_arn,
            description,
            objects=list_keys(),
            bucket=bucket,
            tags={"tier": "cold", "dag": "{{ dag.dag_id }}"},
            manifest_location=f"s3://{bucket}/batch/manifests/",
            report_scope="AllTasks",
            deferrable=deferrable,
        )
        collect(retag.output, description)

    run = run_dag(dag)
    assert run.state == "success"
    for key in KEYS:
        assert _tags(s3, bucket, key) == {"tier": "cold", "dag": dag.dag_id}
    (job,) = _jobs(local_aws, description)
    result = RESULTS[description]
    assert result["job_id"] == job.job_id
    assert result["status"] == "Complete"
    assert (result["tasks_total"], result["tasks_succeeded"], result["tasks_failed"]) == (4, 4, 0)
    assert result["report_location"] == f"s3://{bucket}/batch/manifests/reports/job-{job.job_id}/"
    assert result["report_summary"]["failures_by_code"] == {}
    manifest_arn = job.request["Manifest"]["Location"]["ObjectArn"]
    assert manifest_arn.startswith(f"arn:aws:s3:::{bucket}/batch/manifests/{dag.dag_id}/retag/manifest-")
    link = run.get_task_instance("retag").xcom_pull(task_ids="retag", key="s3_batch_job")
    assert link == {"region_name": "us-east-1", "aws_domain": "aws.amazon.com", "job_id": job.job_id}
    assert console_link(run, dag.get_task("retag"), S3BatchJobLink()) == (
        f"https://us-east-1.console.aws.amazon.com/s3/jobs/{job.job_id}?region=us-east-1"
    )


def test_versioned_objects_only_the_listed_versions_are_tagged(
    run_dag: Callable[..., Any], local_aws: Any, s3: Any, versioned_s3_bucket: str, description: str
) -> None:
    bucket = versioned_s3_bucket
    old = s3.put_object(Bucket=bucket, Key="v/obj.txt", Body=b"1")["VersionId"]
    new = s3.put_object(Bucket=bucket, Key="v/obj.txt", Body=b"2")["VersionId"]
    with _dag("batch_versions") as dag:

        @task
        def old_versions() -> list[dict[str, str]]:
            return [{"bucket": bucket, "key": "v/obj.txt", "version_id": old}]

        _retag(bucket, local_aws.role_arn, description, objects=old_versions(), tags={"archived": "yes"})

    assert run_dag(dag).state == "success"
    assert _tags(s3, bucket, "v/obj.txt", old) == {"archived": "yes"}
    assert _tags(s3, bucket, "v/obj.txt", new) == {}
    (job,) = _jobs(local_aws, description)
    assert job.request["Manifest"]["Spec"]["Fields"] == ["Bucket", "Key", "VersionId"]


class _CrashAfterCreateJob(S3BatchPutObjectTaggingOperator):
    """Loses its worker right after CreateJob on the first try (a retry must not make a second job)."""

    def execute(self, context: Any) -> dict[str, Any]:
        self._first_try = context["ti"].try_number == 1
        return super().execute(context)

    def _after_confirmation(self, job_id: str, context: Any) -> dict[str, Any]:
        if self._first_try:
            time.sleep(1.2)  # the retry starts more than the operator's one-second clock slack later
            raise RuntimeError("worker lost after CreateJob")
        return super()._after_confirmation(job_id, context)


def test_retried_task_reattaches_to_its_first_job(
    run_dag: Callable[..., Any], local_aws: Any, s3: Any, bucket: str, description: str
) -> None:
    with _dag("batch_retry") as dag:
        retag = _retag(
            bucket,
            local_aws.role_arn,
            description,
            _CrashAfterCreateJob,
            retries=1,
            retry_delay=timedelta(0),
        )
        collect(retag.output, description)

    run = run_dag(dag)
    assert run.state == "success"
    assert run.get_task_instance("retag").try_number == 2
    jobs = _jobs(local_aws, description)
    assert len(jobs) == 1
    assert RESULTS[description]["job_id"] == jobs[0].job_id
    assert RESULTS[description]["tasks_succeeded"] == 4
    manifests = s3.list_object_versions(Bucket=bucket, Prefix="m/")
    assert len([v for v in manifests.get("Versions", []) if v["Key"].endswith(".csv")]) == 1


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
def test_a_suspended_job_is_confirmed_by_the_operator(
    run_dag: Callable[..., Any], local_aws: Any, s3: Any, bucket: str, description: str, deferrable: bool
) -> None:
    with _dag("batch_confirm") as dag:
        _retag(
            bucket,
            local_aws.role_arn,
            description,
            tags={"tier": "confirmed"},
            confirmation_required=True,
            deferrable=deferrable,
        )

    assert run_dag(dag).state == "success"
    (job,) = _jobs(local_aws, description)
    assert job.confirmed
    assert job.status == "Complete"
    assert job.suspended_cause is not None
    assert _tags(s3, bucket, KEYS[0]) == {"tier": "confirmed"}


def test_failures_over_tolerance_fail_the_task_with_codes(
    run_dag: Callable[..., Any],
    local_aws: Any,
    s3: Any,
    bucket: str,
    description: str,
    aws_faults: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    aws_faults.failing_keys = {KEYS[1]}  # a space: URL-encoded in the report
    with _dag("batch_tolerance") as dag:
        _retag(bucket, local_aws.role_arn, f"{description} strict", task_id="strict")
        tolerant = _retag(
            bucket, local_aws.role_arn, f"{description} tolerant", task_id="tolerant", max_failed_tasks=1
        )
        collect(tolerant.output, description)

    run = run_dag(dag)
    output = capsys.readouterr().out
    assert _task_state(run, "strict") == "failed"
    assert _task_state(run, "tolerant") == "success"
    assert "is Complete but 1 of 4 tasks failed" in output
    assert "failures by error code: AccessDenied x1" in output
    summary = RESULTS[description]["report_summary"]
    assert summary["failures_by_code"] == {"AccessDenied": 1}
    assert [(f["key"], f["error_code"]) for f in summary["first_failures"]] == [(KEYS[1], "AccessDenied")]
    aws_faults.clear()
    assert _tags(s3, bucket, KEYS[0]) == {"tier": "cold"}
    assert _tags(s3, bucket, KEYS[1]) == {"old": "1"}


def _while_a_job_runs(
    local_aws: Any, description: str, status: str, action: Callable[[Any], None]
) -> threading.Thread:
    def watch() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            jobs = _jobs(local_aws, description)
            if jobs and jobs[0].status == status:
                action(jobs[0])
                return
            time.sleep(0.01)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_an_etag_mismatch_fails_the_task_with_aws_reason(
    run_dag: Callable[..., Any],
    paced: Any,
    s3: Any,
    bucket: str,
    description: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    s3.put_object(Bucket=bucket, Key="lists/today.csv", Body=f"{bucket},data/plain.csv\n".encode())
    # The manifest changes after CreateJob took its ETag and before the job reads it.
    changer = _while_a_job_runs(
        paced,
        description,
        "New",
        lambda job: s3.put_object(Bucket=bucket, Key="lists/today.csv", Body=b"changed,x\n"),
    )
    with _dag("batch_etag") as dag:
        _retag(
            bucket,
            paced.role_arn,
            description,
            objects=None,
            manifest_location=None,
            manifest=f"s3://{bucket}/lists/today.csv",
            report_location=f"s3://{bucket}/reports/",
        )

    run = run_dag(dag)
    changer.join(5)
    assert _task_state(run, "retag") == "failed"
    (job,) = _jobs(paced, description)
    reason = job.failure_reasons[0]
    assert job.status == "Failed"
    assert f"ended Failed: {reason['FailureCode']}: {reason['FailureReason']}" in capsys.readouterr().out
    assert "ETag" in reason["FailureReason"]


def test_a_job_cancelled_while_the_operator_waits_fails_the_task(
    run_dag: Callable[..., Any], paced: Any, bucket: str, description: str, capsys: pytest.CaptureFixture[str]
) -> None:
    control = paced.client("s3control")
    canceller = _while_a_job_runs(
        paced,
        description,
        "Active",
        lambda job: control.update_job_status(
            AccountId=paced.account_id,
            JobId=job.job_id,
            RequestedJobStatus="Cancelled",
            StatusUpdateReason="stopped by the test",
        ),
    )
    with _dag("batch_cancel") as dag:
        _retag(bucket, paced.role_arn, description, deferrable=True)

    run = run_dag(dag)
    canceller.join(5)
    assert _task_state(run, "retag") == "failed"
    assert _jobs(paced, description)[0].status == "Cancelled"
    assert "ended Cancelled" in capsys.readouterr().out


def test_on_kill_and_the_trigger_cancel_a_running_job(paced: Any, bucket: str, description: str) -> None:
    operator = _retag(bucket, paced.role_arn, description, wait_for_completion=False)

    class _TI:
        dag_id, task_id, run_id, map_index, try_number = "kill_dag", "retag", "manual__kill", -1, 1
        start_date = None

        def xcom_push(self, key: str, value: Any) -> None:
            pass

    result = operator.execute({"ti": _TI()})
    operator.on_kill()
    job = paced.jobs.wait_for(result["job_id"], "Cancelled")
    assert job.status_update_reason == "Airflow task was killed (try 1)"

    trigger_job = S3BatchOperationsHook(account_id=paced.account_id).create_tagging_job(
        mode="delete",
        tags=None,
        role_arn=paced.role_arn,
        client_request_token=f"kill-{uuid.uuid4().hex}",
        report={"Enabled": False},
        manifest=job.request["Manifest"],
    )
    asyncio.run(
        S3BatchJobTrigger(job_id=trigger_job, account_id=paced.account_id, cancel_on_kill=True).on_kill()
    )
    assert paced.jobs.wait_for(trigger_job, "Cancelled").status == "Cancelled"


def test_manifest_generator_delete_job_then_sensor_waits_for_it(
    run_dag: Callable[..., Any], local_aws: Any, s3: Any, bucket: str, description: str
) -> None:
    s3.put_object(Bucket=bucket, Key="keep/me.txt", Body=b"x", Tagging="old=1")
    with _dag("batch_generator") as dag:
        start = S3BatchDeleteObjectTaggingOperator(
            task_id="untag",
            manifest_generator={
                "SourceBucket": bucket,
                "Filter": {"KeyNameConstraint": {"MatchAnyPrefix": ["data/"]}},
            },
            role_arn=local_aws.role_arn,
            report_location=f"s3://{bucket}/reports/",
            description=description,
            wait_for_completion=False,
        )
        start >> S3BatchJobSensor(
            task_id="wait",
            job_id="{{ ti.xcom_pull(task_ids='untag')['job_id'] }}",
            deferrable=True,
            poke_interval=0,
        )

    assert run_dag(dag).state == "success"
    for key in KEYS:
        assert _tags(s3, bucket, key) == {}
    assert _tags(s3, bucket, "keep/me.txt") == {"old": "1"}
    (job,) = _jobs(local_aws, description)
    assert job.status == "Complete"


async def _first_event(trigger: S3BatchJobTrigger) -> dict[str, Any]:
    async for event in trigger.run():
        return dict(event.payload)
    raise AssertionError("the trigger fired no event")


def test_cleared_deferred_task_finishes_on_a_successor(
    local_aws: Any, s3: Any, bucket: str, description: str
) -> None:
    """Clearing a deferred task: the new try reattaches to the running job, then the old try's
    trigger (cancelled by the clear) runs on_kill and cancels that job. The new try must not fail:
    it starts the successor job and finishes on it (seen on Airflow 3.3.2, issue 13 item 2)."""
    from airflow.providers.common.compat.sdk import TaskDeferred

    def operator() -> S3BatchPutObjectTaggingOperator:
        return _retag(bucket, local_aws.role_arn, description, deferrable=True)

    def ti(try_number: int, start_date: datetime) -> Any:
        return SimpleNamespace(
            dag_id="clear_dag", task_id="retag", run_id="manual__clear", map_index=-1,
            try_number=try_number, start_date=start_date, xcom_push=lambda key, value: None,
        )  # fmt: skip

    # The job still runs when try 2 reattaches and try 1's on_kill cancels it: 2 s a step (at 0.5 s a
    # loaded machine once saw it Complete first); the successor then runs unpaced.
    with local_aws.paced_jobs(2.0):
        with pytest.raises(TaskDeferred) as try_1:
            operator().execute({"ti": ti(1, datetime.now(UTC))})
        job_id = try_1.value.trigger.job_id
        # The clear: try 2 starts (its start_date is past the 1 s creation-time slack) and reattaches.
        try_2 = ti(2, datetime.now(UTC) + timedelta(seconds=2))
        with pytest.raises(TaskDeferred) as waiting:
            operator().execute({"ti": try_2})
        assert waiting.value.trigger.job_id == job_id
        # The triggerer cancels try 1's trigger with the user-action message: its on_kill runs.
        asyncio.run(try_1.value.trigger.on_kill())
        cancelled = local_aws.jobs.wait_for(job_id, "Cancelled")
        assert cancelled.status_update_reason == "Airflow task was killed (try 1)"
    # Try 2's trigger sees the job end Cancelled; try 2 resumes and starts the successor.
    with pytest.raises(TaskDeferred) as successor:
        operator().execute_complete({"ti": try_2}, asyncio.run(_first_event(waiting.value.trigger)))
    successor_id = successor.value.trigger.job_id
    assert successor_id != job_id
    result = operator().execute_complete({"ti": try_2}, asyncio.run(_first_event(successor.value.trigger)))

    assert (result["job_id"], result["status"], result["tasks_succeeded"]) == (successor_id, "Complete", 4)
    listed = sorted(job.job_id for job in _jobs(local_aws, description))
    assert listed == sorted([job_id, successor_id]), (listed, job_id, successor_id)
    assert all(_tags(s3, bucket, key) == {"tier": "cold"} for key in KEYS)
