"""``example_s3_priced_plan`` end to end on the stand-in (``dag.test()``): the plan counts and prices
the prefix, the auto rule picks a path, and only that path's task runs and tags."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.airflow_versions import dagbag

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "dags_examples"
DAG_ID = "example_s3_priced_plan"


@pytest.fixture
def world(local_aws: Any, aws_default_conn: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    data, ops = local_aws.create_bucket(), local_aws.create_bucket()
    monkeypatch.setenv("AIRFLOW_VAR_S3_TAGGING_DATA_BUCKET", data)
    monkeypatch.setenv("AIRFLOW_VAR_S3_TAGGING_OPS_BUCKET", ops)
    monkeypatch.setenv("AIRFLOW_VAR_S3_TAGGING_ROLE_ARN", local_aws.role_arn)
    monkeypatch.setenv("S3_TAGGING_EXAMPLE_POLL_SECONDS", "0")
    monkeypatch.setenv("S3_TAGGING_EXAMPLE_BATCH_SIZE", "10")
    bag = dagbag(str(EXAMPLES))
    assert bag.import_errors == {}
    s3 = local_aws.client("s3")
    for i in range(25):
        s3.put_object(Bucket=data, Key=f"archive/{i:02d}.bin", Body=b"x", Tagging="owner=etl&tier=hot")
    s3.put_object(Bucket=data, Key="live/keep.bin", Body=b"x", Tagging="tier=hot")
    return {"dag": bag.dags[DAG_ID], "data": data, "s3": s3}


def _tags(s3: Any, bucket: str, key: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}


def _states(run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def _xcom(run: Any, task_id: str, key: str) -> Any:
    return run.get_task_instance(task_id).xcom_pull(task_ids=task_id, key=key)


def _jobs_on(local_aws: Any, bucket: str) -> list[Any]:
    return [
        job
        for job in local_aws.jobs.list()
        if job.request.get("ManifestGenerator", {}).get("S3JobManifestGenerator", {}).get("SourceBucket")
        in (bucket, f"arn:aws:s3:::{bucket}")
    ]


def test_a_small_run_goes_direct_and_the_job_task_is_skipped(
    run_dag: Callable[..., Any], world: dict[str, Any], local_aws: Any
) -> None:
    s3, data = world["s3"], world["data"]

    run = run_dag(world["dag"], logical_date=datetime(2026, 4, 1, tzinfo=UTC))

    assert run.state == "success"
    states = _states(run)
    assert states["choose_tagging_path"] == "success"
    assert states["tag_directly"] == "success"
    assert states["tag_with_batch_job"] == "skipped"
    estimate = _xcom(run, "plan_tagging", "estimate")
    assert (estimate["objects"], estimate["batches"], estimate["parallel_tasks"]) == (25, 3, 4)
    # 25 PUTs + 3 LIST pages (one per batch read back) = 28 x $0.005 / 1,000 = $0.00014.
    assert estimate["direct"]["fees_usd"]["total"] == pytest.approx(0.00014)
    # 25 PUTs by a job ($0.000125) + $0.25 + 25 / 1,000,000 x $1.00 = $0.25015.
    assert estimate["batch"]["fees_usd"]["total"] == pytest.approx(0.25015)
    assert _xcom(run, "plan_tagging", "path") == "direct"
    for i in range(25):
        assert _tags(s3, data, f"archive/{i:02d}.bin") == {"lifecycle": "glacier-next-month"}
    assert _tags(s3, data, "live/keep.bin") == {"tier": "hot"}
    assert _jobs_on(local_aws, data) == []


def test_a_run_over_the_time_limit_goes_to_a_batch_job(
    run_dag: Callable[..., Any], world: dict[str, Any], local_aws: Any
) -> None:
    s3, data = world["s3"], world["data"]

    run = run_dag(
        world["dag"],
        logical_date=datetime(2026, 4, 2, tzinfo=UTC),
        run_conf={"max_direct_seconds": 0, "lifecycle": "deep-archive"},
    )

    assert run.state == "success"
    states = _states(run)
    assert states["tag_with_batch_job"] == "success"
    assert states["tag_directly"] == "skipped"
    assert _xcom(run, "plan_tagging", "path") == "batch"
    reasons = _xcom(run, "plan_tagging", "reasons")
    assert "more than max_direct_seconds=0.0" in reasons[0]
    for i in range(25):
        assert _tags(s3, data, f"archive/{i:02d}.bin") == {"lifecycle": "deep-archive"}
    assert _tags(s3, data, "live/keep.bin") == {"tier": "hot"}
    (job,) = _jobs_on(local_aws, data)
    assert job.status == "Complete"
    result = _xcom(run, "tag_with_batch_job", "return_value")
    assert (result["tasks_total"], result["tasks_succeeded"]) == (25, 25)
