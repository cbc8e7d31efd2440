"""Example 6: a priced plan before anything is written, then the path it chose.

What it shows:

- ``plan_tagging`` lists ``params.prefix`` once, plans it into batches and prices both paths for
  those objects: requests, AWS fees (the package's price table, overridable with ``prices=``) and
  expected duration (the direct engine's measured rate, mapped tasks ``max_parallel_tasks`` at a
  time; a batch job's start-up and rate). It returns the batches; the table is in its log and the
  XComs ``estimate``, ``path`` and ``reasons`` hold the plan.
- ``strategy="auto"``: the direct path, unless it would take longer than
  ``params.max_direct_seconds``; then the batch path, a job that holds no worker. Work a job cannot
  do (merge, remove, per-object tags, skip_unchanged, dry run, undo log) would always go direct.
- ``choose_tagging_path`` follows the chosen path: ``tag_directly`` (``S3PutObjectTaggingOperator``
  mapped over the batches) or ``tag_with_batch_job`` (``S3BatchPutObjectTaggingOperator`` with a
  manifest generator over the same prefix); the other task is skipped. Both replace the tag set
  with ``{"lifecycle": params.lifecycle}``, the one thing both paths do alike.

Configuration (no code change needed): Airflow Variables ``s3_tagging_data_bucket``,
``s3_tagging_ops_bucket`` (the batch job's report) and ``s3_tagging_role_arn`` (the job's role); DAG
params ``prefix``, ``lifecycle`` and ``max_direct_seconds``; the environment variables
``S3_TAGGING_EXAMPLE_BATCH_SIZE`` (default 1000) and ``S3_TAGGING_EXAMPLE_POLL_SECONDS`` (default 30).

Pointing it at real AWS: only the connection changes (plus, for the batch path, the job's role in
``s3_tagging_role_arn``; see the README's "IAM for the batch path"). Against the local stand-in the
``aws_default`` connection comes from ``LocalAWS.env()``.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import Param, dag

from airflow_s3_batch_tagging.operators.s3_batch_operations import S3BatchPutObjectTaggingOperator
from airflow_s3_batch_tagging.operators.s3_object_tagging import S3PutObjectTaggingOperator
from airflow_s3_batch_tagging.operators.tagging_plan import choose_tagging_path, plan_tagging

DATA_BUCKET = "{{ var.value.get('s3_tagging_data_bucket', 'my-data') }}"
OPS_BUCKET = "{{ var.value.get('s3_tagging_ops_bucket', 'my-ops-bucket') }}"
ROLE_ARN = "{{ var.value.get('s3_tagging_role_arn', 'arn:aws:iam::123456789012:role/s3-batch-tagging') }}"
# Not params: plan_tagging needs numbers, and templates render strings.
BATCH_SIZE = int(os.environ.get("S3_TAGGING_EXAMPLE_BATCH_SIZE", "1000"))
POLL_SECONDS = int(os.environ.get("S3_TAGGING_EXAMPLE_POLL_SECONDS", "30"))

# A retry is safe: the direct path is idempotent per run, and a batch task's retry reattaches to the
# job its earlier try created. See the README's "Running on several workers".
RETRIES = {"retries": 2, "retry_delay": timedelta(minutes=1)}


@dag(
    dag_id="example_s3_priced_plan",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args=RETRIES,
    params={
        "prefix": Param("archive/", type="string", description="Key prefix to re-tag."),
        "lifecycle": Param("glacier-next-month", type="string", description="Value of the lifecycle tag."),
        "max_direct_seconds": Param(
            3600, type="number", description="Longest direct run before a batch job is preferred."
        ),
    },
    tags=["example", "s3-batch-tagging", "direct", "batch"],
    doc_md=__doc__,
)
def example_s3_priced_plan() -> None:
    # [START howto_priced_plan]
    plan = plan_tagging(
        bucket=DATA_BUCKET,
        prefix="{{ params.prefix }}",
        batch_size=BATCH_SIZE,
        mode="replace",
        strategy="auto",
        max_direct_seconds="{{ params.max_direct_seconds }}",
        max_parallel_tasks=4,  # what this deployment runs at once (else read from Airflow's config)
        direct_task_id="tag_directly",  # its max_active_tis_per_dag counts too
    )
    follow = choose_tagging_path(
        plan["path"], direct_task_id="tag_directly", batch_task_id="tag_with_batch_job"
    )
    tags = {"lifecycle": "{{ params.lifecycle }}"}
    direct = S3PutObjectTaggingOperator.partial(
        task_id="tag_directly", tags=tags, mode="replace", concurrency=16
    ).expand(objects=plan)  # plan_tagging returns the batches
    batch = S3BatchPutObjectTaggingOperator(
        task_id="tag_with_batch_job",
        manifest_generator={
            "SourceBucket": DATA_BUCKET,
            "Filter": {"KeyNameConstraint": {"MatchAnyPrefix": ["{{ params.prefix }}"]}},
        },
        tags=tags,
        role_arn=ROLE_ARN,
        report_location=f"s3://{OPS_BUCKET}/batch-tagging/reports/",
        deferrable=True,
        waiter_delay=POLL_SECONDS,
    )
    follow >> [direct, batch]
    # [END howto_priced_plan]


example_s3_priced_plan()
