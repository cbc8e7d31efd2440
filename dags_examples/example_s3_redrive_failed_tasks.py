"""Example 7: rerun what failed, on both paths, from completion reports.

What it shows:

- Batch path: ``retag_with_batch_job`` tags the objects under ``params.prefix``/``batch/`` with an S3
  Batch Operations job and, with ``redrive_failed_tasks=2``, reruns the job's failed tasks up to twice
  (``retryable_only=True``: only throttling and server errors, the ones another try may fix), each time
  in a new job made from the last job's completion report. The tolerance is judged on what still
  fails; the result counts every job (``job_ids``, ``jobs``). A retried task reattaches to its redrive
  jobs instead of making new ones.
- Direct path: ``retag_directly`` tags the objects under ``params.prefix``/``direct/`` itself and
  writes every failed object to a completion report in Batch Operations' layout
  (``report_location``), so it tolerates failures here (``max_failed_objects``): they are rerun
  below. ``redrive_manifest_from_report`` streams the report's failed objects into a CSV manifest,
  ``rerun_batches`` plans batches of it and ``rerun_failed`` tags them again, mapped. Nothing failed:
  the rerun is skipped.

Configuration (no code change needed): Airflow Variables ``s3_tagging_data_bucket`` (the objects),
``s3_tagging_ops_bucket`` (manifests and completion reports) and ``s3_tagging_role_arn`` (the role
S3 Batch Operations assumes); the DAG param ``prefix`` per run. The environment variable
``S3_TAGGING_EXAMPLE_POLL_SECONDS`` (default 30) sets how often the job status is checked.

Pointing it at real AWS: only the connection and the role change. Give the ``aws_default``
connection real credentials (no ``endpoint_url``), and set ``s3_tagging_role_arn`` to a role that
trusts ``batchoperations.s3.amazonaws.com`` and may read the ops bucket (the redrive manifests are
written there). Against the local stand-in the connection comes from ``LocalAWS.env()``.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import Param, dag, task

from airflow_s3_batch_tagging.operators.s3_batch_operations import S3BatchPutObjectTaggingOperator
from airflow_s3_batch_tagging.operators.s3_batch_redrive import redrive_manifest_from_report
from airflow_s3_batch_tagging.operators.s3_object_tagging import (
    S3PutObjectTaggingOperator,
    plan_tagging_batches,
)

DATA_BUCKET = "{{ var.value.get('s3_tagging_data_bucket', 'my-data') }}"
OPS_BUCKET = "{{ var.value.get('s3_tagging_ops_bucket', 'my-ops-bucket') }}"
ROLE_ARN = "{{ var.value.get('s3_tagging_role_arn', 'arn:aws:iam::123456789012:role/s3-batch-tagging') }}"
POLL_SECONDS = int(os.environ.get("S3_TAGGING_EXAMPLE_POLL_SECONDS", "30"))
RETRIES = {"retries": 2, "retry_delay": timedelta(minutes=1)}


@dag(
    dag_id="example_s3_redrive_failed_tasks",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args=RETRIES,
    params={"prefix": Param("redrive/", type="string", description="Key prefix of the objects.")},
    tags=["example", "s3-batch-tagging", "batch", "direct", "redrive"],
    doc_md=__doc__,
)
def example_s3_redrive_failed_tasks() -> None:
    @task
    def list_keys(bucket: str, prefix: str) -> list[str]:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(aws_conn_id="aws_default").list_keys(bucket_name=bucket, prefix=prefix)

    # [START redrive_batch]
    S3BatchPutObjectTaggingOperator(
        task_id="retag_with_batch_job",
        objects=list_keys.override(task_id="list_batch_keys")(DATA_BUCKET, "{{ params.prefix }}batch/"),
        bucket=DATA_BUCKET,
        tags={"tier": "cold"},
        role_arn=ROLE_ARN,
        manifest_location=f"s3://{OPS_BUCKET}/batch-tagging/",
        redrive_failed_tasks=2,
        retryable_only=True,
        deferrable=True,
        waiter_delay=POLL_SECONDS,
    )
    # [END redrive_batch]

    # [START redrive_direct]
    retag_directly = S3PutObjectTaggingOperator(
        task_id="retag_directly",
        objects=list_keys.override(task_id="list_direct_keys")(DATA_BUCKET, "{{ params.prefix }}direct/"),
        bucket=DATA_BUCKET,
        tags={"tier": "cold"},
        mode="merge",
        report_location=f"s3://{OPS_BUCKET}/direct-reports/",
        max_failed_objects=1000,  # rerun below, from the report
    )
    manifest = redrive_manifest_from_report(
        report_manifest=retag_directly.output, manifest_location=f"s3://{OPS_BUCKET}/redrive/"
    )

    @task.short_circuit
    def anything_failed(manifest_uri: str | None) -> bool:
        return manifest_uri is not None

    batches = plan_tagging_batches.override(task_id="rerun_batches")(manifest=manifest)
    anything_failed(manifest) >> batches
    S3PutObjectTaggingOperator.partial(task_id="rerun_failed", tags={"tier": "cold"}, mode="merge").expand(
        objects=batches
    )
    # [END redrive_direct]


example_s3_redrive_failed_tasks()
