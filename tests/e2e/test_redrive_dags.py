"""End to end: DAG runs redrive the failed tasks of S3 Batch Operations jobs on the local stand-in.

The emulator fails tasks through its own fault injection (``failing_keys`` with ``failing_key_times``:
a key fails its first N tagging requests, then recovers), writes the completion report as AWS does
(form-encoded keys, status before code), and reads the redrive manifest with its own reader: a key
mis-encoded on the way through the report and the manifest fails the redrive job with ``NoSuchKey``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import DAG, task

from airflow_s3_batch_tagging.batch_jobs import build_report
from airflow_s3_batch_tagging.hooks.s3_batch_operations import S3BatchOperationsHook
from airflow_s3_batch_tagging.objects import S3Location
from airflow_s3_batch_tagging.operators.s3_batch_operations import S3BatchPutObjectTaggingOperator
from airflow_s3_batch_tagging.operators.s3_batch_redrive import S3BatchRedriveFailedTasksOperator

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("aws_default_conn")]

# A plain key, a space, and the characters whose encoding differs between reports and manifests.
KEYS = ["data/plain.csv", "data/with space.csv", "data/ünï,cødé+%.csv", "data/deep/a=1/b.csv"]
RESULTS: dict[str, Any] = {}
# The emulator tries a task 6 times when S3 answers SlowDown: 6 failures fail the task once.
SLOWDOWN_TRIES = 6


@task
def collect(result: dict[str, Any], name: str) -> None:
    RESULTS[name] = result


def _dag(name: str) -> DAG:
    return DAG(f"{name}_{uuid.uuid4().hex[:8]}", schedule=None, default_args={"retries": 0})


def _tags(s3: Any, bucket: str, key: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}


def _jobs(local_aws: Any, description: str) -> list[Any]:
    jobs = [job for job in local_aws.jobs.list() if job.request.get("Description") == description]
    return sorted(jobs, key=lambda job: job.creation_time)


def _fail(aws_faults: Any, codes: dict[str, str]) -> None:
    """Fail these keys' first tagging requests with these codes: a SlowDown key fails one job's task."""
    aws_faults.configure(failing_keys=codes, failing_key_times=SLOWDOWN_TRIES, tagging_only=True)


@pytest.fixture
def s3(local_aws: Any, s3_bucket: str) -> Any:
    client = local_aws.client("s3")
    for key in KEYS:
        client.put_object(Bucket=s3_bucket, Key=key, Body=b"x", Tagging="old=1")
    return client


def _retag(local_aws: Any, bucket: str, description: str, **kwargs: Any) -> S3BatchPutObjectTaggingOperator:
    return S3BatchPutObjectTaggingOperator(
        task_id="retag",
        objects=[f"s3://{bucket}/{key}" for key in KEYS],
        tags={"tier": "cold"},
        role_arn=local_aws.role_arn,
        manifest_location=f"s3://{bucket}/m/",
        description=description,
        waiter_delay=0,
        **kwargs,
    )


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
def test_retryable_failures_redriven_and_every_job_counted(
    run_dag: Callable[..., Any], local_aws: Any, s3: Any, s3_bucket: str, aws_faults: Any, deferrable: bool
) -> None:
    _fail(aws_faults, {KEYS[1]: "SlowDown", KEYS[2]: "SlowDown", KEYS[3]: "AccessDenied"})
    description = f"e2e redrive {uuid.uuid4()}"
    with _dag("batch_redrive") as dag:
        retag = _retag(
            local_aws,
            s3_bucket,
            description,
            redrive_failed_tasks=2,
            retryable_only=True,
            max_failed_tasks=1,
            deferrable=deferrable,
        )
        collect(retag.output, description)

    run = run_dag(dag)
    assert run.state == "success"
    first, redrive = _jobs(local_aws, description)
    # The redrive job ran exactly the retryable failures, keys as the emulator read its manifest.
    assert sorted(result.obj.key for result in redrive.results) == sorted([KEYS[1], KEYS[2]])
    assert all(result.succeeded for result in redrive.results)
    assert redrive.request["Operation"] == first.request["Operation"]
    assert redrive.request["Manifest"]["Spec"]["Fields"] == ["Bucket", "Key"]
    result = RESULTS[description]
    assert result["job_ids"] == [first.job_id, redrive.job_id]
    assert result["job_id"] == first.job_id
    assert result["last_job_id"] == redrive.job_id
    assert (result["tasks_total"], result["tasks_succeeded"], result["tasks_failed"]) == (4, 3, 1)
    assert result["report_summary"]["failures_by_code"] == {"AccessDenied": 1}
    assert [(job["tasks_succeeded"], job["tasks_failed"]) for job in result["jobs"]] == [(1, 3), (2, 0)]
    assert result["jobs"][0]["redrive"] == {
        "failed_rows": 3,
        "redriven": 2,
        "not_redriven": 1,
        "not_redriven_by_code": {"AccessDenied": 1},
    }
    aws_faults.clear()
    assert [_tags(s3, s3_bucket, key) for key in KEYS] == [{"tier": "cold"}] * 3 + [{"old": "1"}]


def test_failures_left_after_the_last_redrive_fail_the_task(
    run_dag: Callable[..., Any],
    local_aws: Any,
    s3: Any,
    s3_bucket: str,
    aws_faults: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _fail(aws_faults, {KEYS[3]: "AccessDenied"})  # fails 6 requests: more than the 1 + 2 jobs
    description = f"e2e redrive exhausted {uuid.uuid4()}"
    with _dag("batch_redrive_exhausted") as dag:
        _retag(local_aws, s3_bucket, description, redrive_failed_tasks=2)

    run = run_dag(dag)
    assert str(run.get_task_instance("retag").state) == "failed"
    jobs = _jobs(local_aws, description)
    assert len(jobs) == 3
    assert [len(job.results) for job in jobs] == [4, 1, 1]
    output = capsys.readouterr().out
    assert f"job {jobs[0].job_id} (redriven by job {jobs[1].job_id}, {jobs[2].job_id}) is Complete" in output
    assert "but 1 of 4 tasks failed" in output


class _CrashAfterRedriveJob(S3BatchPutObjectTaggingOperator):
    """Loses its worker right after the redrive job was created, on the first try."""

    def _create_or_reattach(self, context: Any, token: str, **job: Any) -> str:
        job_id = super()._create_or_reattach(context, token, **job)
        if context["ti"].try_number == 1 and job.get("confirmation_required") is False:
            time.sleep(1.2)  # the retry starts more than the operator's one-second clock slack later
            raise RuntimeError("worker lost after the redrive CreateJob")
        return job_id


def test_retried_task_reattaches_to_its_redrive_job(
    run_dag: Callable[..., Any], local_aws: Any, s3: Any, s3_bucket: str, aws_faults: Any
) -> None:
    _fail(aws_faults, {KEYS[1]: "SlowDown"})
    description = f"e2e redrive retry {uuid.uuid4()}"
    with _dag("batch_redrive_retry") as dag:
        retag = _CrashAfterRedriveJob(
            task_id="retag",
            objects=[f"s3://{s3_bucket}/{key}" for key in KEYS],
            tags={"tier": "cold"},
            role_arn=local_aws.role_arn,
            manifest_location=f"s3://{s3_bucket}/m/",
            description=description,
            waiter_delay=0,
            redrive_failed_tasks=1,
            retries=1,
            retry_delay=timedelta(0),
        )
        collect(retag.output, description)

    run = run_dag(dag)
    assert run.state == "success"
    assert run.get_task_instance("retag").try_number == 2
    first, redrive = _jobs(local_aws, description)  # two jobs, not three
    assert RESULTS[description]["job_ids"] == [first.job_id, redrive.job_id]
    assert RESULTS[description]["tasks_failed"] == 0


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
def test_redrive_operator_reruns_a_job_created_outside_airflow(
    run_dag: Callable[..., Any], local_aws: Any, s3: Any, s3_bucket: str, aws_faults: Any, deferrable: bool
) -> None:
    _fail(aws_faults, {KEYS[1]: "SlowDown", KEYS[2]: "SlowDown"})
    s3.put_object(
        Bucket=s3_bucket,
        Key="lists/external.csv",
        Body="".join(
            f"{s3_bucket},{key}\n"
            for key in [
                "data/plain.csv",
                "data/with%20space.csv",
                "data/%C3%BCn%C3%AF%2Cc%C3%B8d%C3%A9%2B%25.csv",
            ]
        ).encode(),
    )
    hook = S3BatchOperationsHook(aws_conn_id="aws_default")
    external = hook.create_tagging_job(
        mode="delete",
        tags=None,
        role_arn=local_aws.role_arn,
        client_request_token=f"external-{uuid.uuid4()}",
        report=build_report(S3Location(s3_bucket, "external-reports"), "AllTasks"),
        manifest=hook.describe_manifest(f"s3://{s3_bucket}/lists/external.csv"),
    )
    local_aws.jobs.wait_for(external)
    assert local_aws.jobs.get(external).failed == 2
    description = f"e2e redrive operator {uuid.uuid4()}"
    with _dag("batch_redrive_operator") as dag:
        redrive = S3BatchRedriveFailedTasksOperator(
            task_id="redrive", job_id=external, deferrable=deferrable, waiter_delay=0
        )
        collect(redrive.output, description)

    run = run_dag(dag)
    assert run.state == "success"
    result = RESULTS[description]
    assert result["redrive_of"] == external
    assert result["redrive"]["redriven"] == 2
    new_job = local_aws.jobs.get(result["job_id"])
    assert new_job.request["Operation"] == {"S3DeleteObjectTagging": {}}
    assert sorted(r.obj.key for r in new_job.results) == sorted([KEYS[1], KEYS[2]])
    assert (result["status"], result["tasks_succeeded"], result["tasks_failed"]) == ("Complete", 2, 0)
    assert new_job.request["Manifest"]["Location"]["ObjectArn"] == (
        f"arn:aws:s3:::{s3_bucket}/external-reports/redrive/job-{external}-failed-tasks.csv"
    )
    aws_faults.clear()
    assert [_tags(s3, s3_bucket, key) for key in KEYS[:3]] == [{}, {}, {}]
