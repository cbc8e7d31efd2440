"""The code the "Testing your DAGs offline" page (docs/testing.md) shows, run as tests.

The page includes the parts between the ``[START ...]``/``[END ...]`` markers, so what a user copies
is code that ran here against the local stand-in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import DAG

from airflow_s3_batch_tagging.operators.s3_batch_operations import S3BatchPutObjectTaggingOperator
from airflow_s3_batch_tagging.operators.s3_object_tagging import S3PutObjectTaggingOperator
from airflow_s3_batch_tagging.testing import LocalAWS

pytestmark = pytest.mark.e2e


def _tags(s3: Any, bucket: str, key: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}


# [START testing_fixtures_dag]
def test_my_tagging_dag(run_dag: Any, local_aws: LocalAWS, s3_bucket: str, aws_default_conn: str) -> None:
    s3 = local_aws.client("s3")  # a plain boto3 client wired to the stand-in
    for key in ("data/a.csv", "data/b.csv"):
        s3.put_object(Bucket=s3_bucket, Key=key, Body=b"...", Tagging="owner=etl")

    with DAG("my_tagging_dag", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        S3PutObjectTaggingOperator(
            task_id="tag_directly",
            objects=["data/a.csv"],
            bucket=s3_bucket,
            tags={"tier": "cold"},
            mode="merge",
            aws_conn_id=aws_default_conn,  # "aws_default", pointed at the stand-in
        )
        S3BatchPutObjectTaggingOperator(
            task_id="tag_by_batch_job",
            objects=["data/b.csv"],
            bucket=s3_bucket,
            tags={"tier": "archive"},
            role_arn=local_aws.role_arn,  # any role ARN of the valid form works on the stand-in
            manifest_location=f"s3://{s3_bucket}/batch-tagging/",
            waiter_delay=0,
            aws_conn_id=aws_default_conn,
        )

    run = run_dag(dag)  # dag.test(): see the note below

    assert run.state == "success"
    assert _tags(s3, s3_bucket, "data/a.csv") == {"owner": "etl", "tier": "cold"}
    assert _tags(s3, s3_bucket, "data/b.csv") == {"tier": "archive"}  # a job replaces the tag set
    (ti,) = [ti for ti in run.get_task_instances() if ti.task_id == "tag_by_batch_job"]
    job = local_aws.jobs.get(ti.xcom_pull(task_ids="tag_by_batch_job")["job_id"])  # the emulator's view
    assert (job.status, job.progress_summary()["NumberOfTasksSucceeded"]) == ("Complete", 1)


# [END testing_fixtures_dag]


# [START testing_faults]
def test_direct_tagging_rides_out_throttling(
    run_dag: Any, local_aws: LocalAWS, s3_bucket: str, aws_default_conn: str, aws_faults: Any
) -> None:
    s3 = local_aws.client("s3")
    keys = [f"data/{i:02d}.csv" for i in range(20)]
    for key in keys:
        s3.put_object(Bucket=s3_bucket, Key=key, Body=b"...")

    with DAG("tagging_under_faults", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        S3PutObjectTaggingOperator(
            task_id="tag", objects=keys, bucket=s3_bucket, tags={"tier": "cold"}, aws_conn_id=aws_default_conn
        )

    # A third of the tagging requests answer 503 SlowDown; seeded, so every run injects the same.
    aws_faults.configure(slowdown_ratio=0.3, tagging_only=True, seed=7)
    run = run_dag(dag)
    counters = aws_faults.counters
    aws_faults.clear()  # the fixture clears them after the test too

    assert run.state == "success"
    assert counters["slowdown"] > 0
    assert all(_tags(s3, s3_bucket, key) == {"tier": "cold"} for key in keys)


# [END testing_faults]


def test_local_aws_in_your_own_code() -> None:
    # [START testing_local_aws]
    with LocalAWS(job_step_delay=0.05) as aws:  # pause between job steps, to watch the statuses
        bucket = aws.create_bucket("my-bucket", versioned=True)
        s3, s3control = aws.client("s3"), aws.client("s3control")  # plain boto3 clients
        s3.put_object(Bucket=bucket, Key="archive/a.bin", Body=b"...")
        job_id = s3control.create_job(
            AccountId=aws.account_id,
            ConfirmationRequired=False,
            Operation={"S3PutObjectTagging": {"TagSet": [{"Key": "legal_hold", "Value": "true"}]}},
            Report={"Enabled": False},
            ClientRequestToken="my-first-job",
            Priority=10,
            RoleArn=aws.role_arn,
            ManifestGenerator={
                "S3JobManifestGenerator": {
                    "SourceBucket": f"arn:aws:s3:::{bucket}",
                    "EnableManifestOutput": False,
                    "Filter": {"KeyNameConstraint": {"MatchAnyPrefix": ["archive/"]}},
                }
            },
        )["JobId"]
        job = aws.jobs.wait_for(job_id, "Complete")  # the emulator's own view of the job
        tags = s3.get_object_tagging(Bucket=bucket, Key="archive/a.bin")["TagSet"]
        assert tags == [{"Key": "legal_hold", "Value": "true"}]
        assert "AIRFLOW_CONN_AWS_DEFAULT" in aws.env()  # also dummy AWS_* credentials, AWS_ENDPOINT_URL
    # [END testing_local_aws]
    assert job.status == "Complete"
