"""Batch path restarts: a task process killed after CreateJob and retried, a trigger rebuilt from its
serialized form (a triggerer restart), a job failed by the >50% task-failure threshold, and a task
killed the way Airflow kills one (SIGTERM, then SIGKILL) with ``cancel_on_kill``.

The in-process variants (a try that raises after CreateJob, ETag mismatch, cancel while waiting,
``on_kill``) are in ``tests/e2e/test_batch_tagging_dags.py``; these add real processes and
the restart of the trigger.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.providers.common.compat.module_loading import import_string
from airflow.providers.common.compat.sdk import AirflowException

from airflow_s3_batch_tagging.hooks.s3_batch_operations import S3BatchOperationsHook
from airflow_s3_batch_tagging.operators.s3_batch_operations import S3BatchPutObjectTaggingOperator
from airflow_s3_batch_tagging.triggers.s3_batch_operations import S3BatchJobTrigger

from .conftest import put_objects, tags_of

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("aws_default_conn")]

# A batch tagging task as a worker runs it; SIGTERM calls on_kill() exactly as Airflow's task runner
# does (airflow.sdk.execution_time.task_runner._on_term).
CHILD = """
import json, signal, sys
from datetime import datetime, UTC
from types import SimpleNamespace
from airflow_s3_batch_tagging.operators.s3_batch_operations import S3BatchPutObjectTaggingOperator

args = json.loads(sys.argv[1])
ti = SimpleNamespace(dag_id=args["dag_id"], run_id=args["run_id"], task_id="retag", map_index=-1,
                     try_number=args["try_number"], start_date=datetime.now(UTC),
                     xcom_push=lambda key, value: None)
operator = S3BatchPutObjectTaggingOperator(
    task_id="retag", objects=args["objects"], tags={"tier": "glacier"}, role_arn=args["role_arn"],
    manifest_location=args["manifest_location"], description=args["description"], waiter_delay=1,
    cancel_on_kill=args["cancel_on_kill"],
)
signal.signal(signal.SIGTERM, lambda signum, frame: operator.on_kill())
print(json.dumps(operator.execute({"ti": ti})))
"""


@pytest.fixture
def paced(local_aws: Any) -> Any:
    """Jobs pause between status steps and task chunks, so a test can act while one runs."""
    with local_aws.paced_jobs(0.25):
        yield local_aws


def _jobs(local_aws: Any, description: str) -> list[Any]:
    return [job for job in local_aws.jobs.list() if job.request.get("Description") == description]


def _wait_for_job(local_aws: Any, description: str, statuses: set[str], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = _jobs(local_aws, description)
        if jobs and jobs[0].status in statuses:
            return jobs[0]
        time.sleep(0.02)
    raise AssertionError(f"no job {description!r} reached {statuses} in {timeout} s: {jobs}")


def _objects(s3: Any, local_aws: Any, count: int) -> tuple[str, list[str]]:
    bucket = local_aws.create_bucket()
    keys = [f"logs/{i:03d}.gz" for i in range(count)]
    put_objects(s3, bucket, {key: {"old": "1"} for key in keys})
    return bucket, keys


def _start_task(local_aws: Any, bucket: str, keys: list[str], description: str, **extra: Any) -> Any:
    args = {
        "dag_id": "batch_restart", "run_id": description, "try_number": 1,
        "objects": [f"s3://{bucket}/{key}" for key in keys], "role_arn": local_aws.role_arn,
        "manifest_location": f"s3://{bucket}/m/", "description": description, "cancel_on_kill": True,
        **extra,
    }  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(args)],
        env={**os.environ, **local_aws.env()},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_killed_after_create_job_retry_reattaches(paced: Any, s3: Any, reliability: Any) -> None:
    bucket, keys = _objects(s3, paced, 30)
    description = f"killed after CreateJob {uuid.uuid4()}"
    process = _start_task(paced, bucket, keys, description)
    job = _wait_for_job(paced, description, {"Preparing", "Ready", "Active"})
    process.send_signal(signal.SIGKILL)  # no on_kill: the job keeps running
    process.wait(10)

    ti = SimpleNamespace(
        dag_id="batch_restart", run_id=description, task_id="retag", map_index=-1, try_number=2,
        start_date=datetime.now(UTC), xcom_push=lambda key, value: None,
    )  # fmt: skip
    result = S3BatchPutObjectTaggingOperator(
        task_id="retag", objects=[f"s3://{bucket}/{key}" for key in keys], tags={"tier": "glacier"},
        role_arn=paced.role_arn, manifest_location=f"s3://{bucket}/m/", description=description,
        waiter_delay=0,
    ).execute({"ti": ti})  # fmt: skip

    assert len(_jobs(paced, description)) == 1
    assert result["job_id"] == job.job_id
    assert (result["status"], result["tasks_succeeded"], result["tasks_failed"]) == ("Complete", 30, 0)
    manifests = s3.list_object_versions(Bucket=bucket, Prefix="m/").get("Versions", [])
    assert len([v for v in manifests if v["Key"].endswith(".csv")]) == 1
    lost = sum(tags_of(s3, bucket, key) != {"tier": "glacier"} for key in keys)
    assert lost == 0
    reliability.record(
        name="Batch task process killed after CreateJob, retried",
        faults="SIGKILL of the task's process while its job ran",
        faults_injected=1,
        objects_checked=len(keys),
        objects_lost=lost,
        notes=(
            f"The retry (try 2, same DAG/run/task identity) reattached to job {job.job_id[:8]}...: the "
            "emulator held 1 job for the task and 1 manifest object; all 30 objects tagged."
        ),
    )


def test_trigger_rebuilt_from_serialized_form_finishes(paced: Any, s3: Any, reliability: Any) -> None:
    bucket, keys = _objects(s3, paced, 30)
    manifest = "\n".join(f"{bucket},{key}" for key in keys).encode()
    s3.put_object(Bucket=bucket, Key="list.csv", Body=manifest)
    hook = S3BatchOperationsHook(account_id=paced.account_id)
    job_id = hook.create_tagging_job(
        mode="replace",
        tags=None,
        role_arn=paced.role_arn,
        client_request_token=uuid.uuid4().hex,
        report={"Enabled": False},
        manifest=hook.describe_manifest(f"s3://{bucket}/list.csv"),
    )
    first = S3BatchJobTrigger(job_id=job_id, account_id=paced.account_id, waiter_delay=1, cancel_on_kill=True)
    classpath, kwargs = first.serialize()

    async def run_until_killed() -> None:
        with pytest.raises(TimeoutError):  # the triggerer dies while the job runs
            await asyncio.wait_for(anext(first.run()), timeout=1.0)

    asyncio.run(run_until_killed())
    assert paced.jobs.get(job_id).status not in ("Complete", "Failed", "Cancelled")

    # A new triggerer rebuilds the trigger from the class path and JSON-stored keyword arguments.
    rebuilt = import_string(classpath)(**json.loads(json.dumps(kwargs)))

    async def first_event() -> Any:
        return await asyncio.wait_for(anext(rebuilt.run()), timeout=60)

    event = asyncio.run(first_event())
    assert event.payload == {"status": "success", "job_id": job_id}
    assert paced.jobs.get(job_id).status == "Complete"
    lost = sum(tags_of(s3, bucket, key) != {} for key in keys)
    assert lost == 0
    reliability.record(
        name="Triggerer restart: trigger rebuilt from its serialized form",
        faults="the first trigger's run() cancelled after 1 s (triggerer lost)",
        faults_injected=1,
        objects_checked=len(keys),
        objects_lost=lost,
        notes=(
            "A replace job with an empty tag set over 30 objects; the rebuilt trigger (class path plus "
            "JSON round-tripped kwargs) waited to Complete and yielded the job id; every object's tags "
            "were cleared as the job asked."
        ),
    )


def test_job_over_failure_threshold_fails_with_aws_reason(local_aws: Any, s3: Any, reliability: Any) -> None:
    bucket, keys = _objects(s3, local_aws, 100)
    missing = [f"gone/{i:04d}.gz" for i in range(900)]  # NoSuchKey: 900 of 1,000 tasks fail
    description = f"threshold {uuid.uuid4()}"
    operator = S3BatchPutObjectTaggingOperator(
        task_id="retag",
        objects=[f"s3://{bucket}/{key}" for key in keys + missing],
        tags={"tier": "cold"},
        role_arn=local_aws.role_arn,
        manifest_location=f"s3://{bucket}/m/",
        description=description,
        waiter_delay=0,
        max_failed_tasks=10_000,  # the tolerance does not matter: a Failed job always fails the task
    )
    ti = SimpleNamespace(
        dag_id="batch_threshold", run_id=description, task_id="retag", map_index=-1, try_number=1,
        start_date=None, xcom_push=lambda key, value: None,
    )  # fmt: skip
    with pytest.raises(AirflowException) as raised:
        operator.execute({"ti": ti})
    (job,) = _jobs(local_aws, description)
    reason = job.failure_reasons[0]
    assert job.status == "Failed"
    assert reason["FailureCode"] == "TaskFailureThresholdExceeded"
    message = str(raised.value)
    assert f"ended Failed: TaskFailureThresholdExceeded: {reason['FailureReason']}" in message
    assert "NoSuchKey" in message
    # Tasks that ran before the job failed did tag their objects; nothing else was touched.
    tagged = sum(tags_of(s3, bucket, key) == {"tier": "cold"} for key in keys)
    wrong = sum(tags_of(s3, bucket, key) not in ({"tier": "cold"}, {"old": "1"}) for key in keys)
    assert wrong == 0
    assert tagged == job.succeeded
    reliability.record(
        name="Batch job over the task-failure threshold (>50% of >=1,000 tasks)",
        faults="900 of 1,000 manifest entries name missing objects (NoSuchKey)",
        faults_injected=len(missing),
        objects_checked=len(keys),
        objects_lost=wrong,
        notes=(
            f"The job ended Failed ({reason['FailureReason']}); the task failed with that reason and the "
            f"failure codes in its message. {tagged} of the 100 existing objects were tagged by tasks that "
            "ran (as the completion report says); none was tagged wrongly."
        ),
    )


def test_sigterm_then_sigkill_leaves_no_job_running(paced: Any, s3: Any, reliability: Any) -> None:
    bucket, keys = _objects(s3, paced, 60)
    description = f"sigterm {uuid.uuid4()}"
    process = _start_task(paced, bucket, keys, description)
    job = _wait_for_job(paced, description, {"Active"})
    deadline = time.monotonic() + 30
    while job.succeeded < 10 and time.monotonic() < deadline:  # killed mid-run, some tasks done
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)  # Airflow's task runner calls on_kill() ...
    time.sleep(1.0)
    process.kill()  # ... and the supervisor kills the process after its grace period
    process.wait(10)

    ended = paced.jobs.wait_for(job.job_id, "Cancelled", timeout=30)
    assert ended.status_update_reason == "Airflow task was killed (try 1)"
    assert not [j for j in _jobs(paced, description) if not j.is_terminal]
    # Cancelled mid-run: each object has either its old tags or the new ones, never anything else.
    wrong = sum(tags_of(s3, bucket, key) not in ({"tier": "glacier"}, {"old": "1"}) for key in keys)
    assert wrong == 0
    assert 10 <= ended.succeeded < len(keys)
    assert sum(tags_of(s3, bucket, key) == {"tier": "glacier"} for key in keys) == ended.succeeded
    reliability.record(
        name="Batch task killed (SIGTERM then SIGKILL) with cancel_on_kill",
        faults="SIGTERM to the task's process while its job was Active, SIGKILL 1 s later",
        faults_injected=2,
        objects_checked=len(keys),
        objects_lost=wrong,
        notes=(
            f"on_kill cancelled the job ({ended.succeeded} of 60 tasks had run); no job of the task was left "
            "running, and every object carried either its old tags or the new ones."
        ),
    )


def test_a_kill_right_after_create_job_still_cancels_the_job(
    paced: Any, s3: Any, monkeypatch: pytest.MonkeyPatch, reliability: Any
) -> None:
    """SIGTERM can arrive between CreateJob's answer and the next call; on_kill must know the job then."""
    bucket, keys = _objects(s3, paced, 20)
    description = f"kill after create {uuid.uuid4()}"
    operator = S3BatchPutObjectTaggingOperator(
        task_id="retag", objects=[f"s3://{bucket}/{key}" for key in keys], tags={"tier": "glacier"},
        role_arn=paced.role_arn, manifest_location=f"s3://{bucket}/m/", description=description,
        waiter_delay=0,
    )  # fmt: skip
    describe = operator.hook.describe_job

    def killed_while_describing(job_id: str) -> dict[str, Any]:
        operator.on_kill()  # what Airflow's SIGTERM handler runs, here at the worst moment
        raise SystemExit("killed")  # the supervisor's SIGKILL ends the process

    monkeypatch.setattr(operator.hook, "describe_job", killed_while_describing)
    ti = SimpleNamespace(
        dag_id="batch_kill", run_id=description, task_id="retag", map_index=-1, try_number=1,
        start_date=None, xcom_push=lambda key, value: None,
    )  # fmt: skip
    with pytest.raises(SystemExit):
        operator.execute({"ti": ti})
    (job,) = _jobs(paced, description)
    ended = paced.jobs.wait_for(job.job_id, timeout=30)
    assert describe(job.job_id)["Status"] == "Cancelled"
    assert ended.status == "Cancelled"
    wrong = sum(tags_of(s3, bucket, key) not in ({"tier": "glacier"}, {"old": "1"}) for key in keys)
    assert wrong == 0
    reliability.record(
        name="Batch task killed between CreateJob and its next call, with cancel_on_kill",
        faults="on_kill() run right after CreateJob answered, then the process ends",
        faults_injected=1,
        objects_checked=len(keys),
        objects_lost=wrong,
        notes="The job was cancelled (no job of the task left running); objects kept old or new tags.",
    )
