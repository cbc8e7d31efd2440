"""End to end: a real DAG run maps S3PutObjectTaggingOperator over planned batches of an upstream
CSV manifest on the local stand-in (with SlowDown faults injected), then restores from the undo log."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import DAG, task

from airflow_s3_batch_tagging.manifest import write_csv_manifest
from airflow_s3_batch_tagging.objects import ObjectRef
from airflow_s3_batch_tagging.operators.s3_object_tagging import (
    S3PutObjectTaggingOperator,
    S3RestoreObjectTaggingOperator,
    plan_tagging_batches,
)

pytestmark = pytest.mark.e2e


def _tags(client: Any, bucket: str, key: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in client.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}


@pytest.mark.usefixtures("aws_default_conn")
def test_mapped_tagging_over_a_planned_manifest_then_restore(
    run_dag: Callable[..., Any], local_aws: Any, s3_bucket: str, aws_faults: Any
) -> None:
    s3 = local_aws.client("s3")
    keys = [f"data/part {i:03d}.parquet" for i in range(45)]
    for i, key in enumerate(keys):
        s3.put_object(Bucket=s3_bucket, Key=key, Body=b"x", Tagging=f"owner=team-{i % 3}")
    undo_log = f"s3://{s3_bucket}/undo/"

    with DAG(
        "direct_tagging_e2e",
        schedule=None,
        start_date=datetime(2026, 1, 1, tzinfo=UTC),
        catchup=False,
    ) as dag:

        @task
        def write_manifest() -> str:
            body = io.BytesIO()
            write_csv_manifest((ObjectRef(s3_bucket, key) for key in keys), body)
            local_aws.client("s3").put_object(
                Bucket=s3_bucket, Key="manifests/today.csv", Body=body.getvalue()
            )
            return f"s3://{s3_bucket}/manifests/today.csv"

        manifest: Any = write_manifest()
        batches = plan_tagging_batches(manifest=manifest, batch_size=10)
        S3PutObjectTaggingOperator.partial(
            task_id="tag",
            tags={"retagged_on": "{{ ds }}", "tier": "cold"},
            mode="merge",
            undo_log=undo_log,
            concurrency=8,
        ).expand(objects=batches)

    aws_faults.configure(slowdown_ratio=0.1, seed=7)
    run = run_dag(dag, logical_date=datetime(2026, 3, 1, tzinfo=UTC))
    injected = aws_faults.injected_total
    aws_faults.clear()

    assert run.state == "success"
    assert injected > 0
    for i, key in enumerate(keys):
        assert _tags(s3, s3_bucket, key) == {
            "owner": f"team-{i % 3}",
            "retagged_on": "2026-03-01",
            "tier": "cold",
        }
    tag_results = [
        ti.xcom_pull(task_ids="tag", map_indexes=ti.map_index)
        for ti in run.get_task_instances()
        if ti.task_id == "tag"
    ]
    assert len(tag_results) == 5
    assert sum(r["changed"] for r in tag_results) == 45
    assert sum(r["retries"] for r in tag_results) >= 1

    # Restore, mapped the same way: one restore task per tagging task's result (its undo log).
    with DAG(
        "direct_tagging_restore_e2e", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC)
    ) as restore_dag:
        S3RestoreObjectTaggingOperator.partial(task_id="restore").expand(undo_log=tag_results)
    restore_run = run_dag(restore_dag)
    assert restore_run.state == "success"
    assert len([ti for ti in restore_run.get_task_instances() if ti.task_id == "restore"]) == 5
    for i, key in enumerate(keys):
        assert _tags(s3, s3_bucket, key) == {"owner": f"team-{i % 3}"}
