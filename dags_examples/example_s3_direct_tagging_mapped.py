"""Example 2: direct tagging mapped over batches, with the results aggregated.

What it shows:

- ``plan_tagging_batches`` plans a paginated listing of ``params.prefix`` into batches of
  ``S3_TAGGING_EXAMPLE_BATCH_SIZE`` keys. Each batch is a small key-range reference (never the keys), so XCom
  stays small whatever the object count; ``manifest=`` (a CSV manifest) or
  ``inventory_manifest=`` (an S3 Inventory report) plan the same way.
- ``S3PutObjectTaggingOperator`` is mapped over the batches: one mapped task per batch, each
  sending up to ``concurrency`` ``PutObjectTagging`` requests at once (coroutines over one client on
  the default ``asyncio`` engine). ``mode="merge"`` sets ``classification`` and
  ``reviewed_on`` and keeps every other tag the objects already have (something S3 Batch Operations
  cannot do). ``skip_unchanged=True`` reads first and writes only objects whose tags change, so a
  re-run costs reads only.
- ``undo_log``: before changing a chunk, the previous tag sets are written under
  ``s3://<ops bucket>/undo/<dag_id>/<run_id>/...``; ``S3RestoreObjectTaggingOperator`` puts them back.
- ``aggregate_results`` sums the mapped results (``total``, ``changed``, ``unchanged``, ``skipped``,
  ``failed``) into one summary.

Configuration (no code change needed): Airflow Variables ``s3_tagging_data_bucket`` and
``s3_tagging_ops_bucket`` (undo logs); DAG params ``prefix`` and ``classification``; the
environment variable ``S3_TAGGING_EXAMPLE_BATCH_SIZE`` (default 1000) sets the objects per batch.

Pointing it at real AWS: only the connection changes (the direct path assumes no role: the
connection's identity needs ``s3:ListBucket``, ``s3:GetObjectTagging``, ``s3:PutObjectTagging``
on the data and ``s3:PutObject`` on the undo-log prefix). Against the local stand-in the
``aws_default`` connection comes from ``LocalAWS.env()``.
"""

from __future__ import annotations

# [START quick_start]
import os
from datetime import datetime, timedelta
from typing import Any

from airflow.providers.common.compat.sdk import Param, dag, task

from airflow_s3_batch_tagging.operators.s3_object_tagging import (
    S3PutObjectTaggingOperator,
    plan_tagging_batches,
)

DATA_BUCKET = "{{ var.value.get('s3_tagging_data_bucket', 'my-data') }}"
OPS_BUCKET = "{{ var.value.get('s3_tagging_ops_bucket', 'my-ops-bucket') }}"
# The run's day (YYYY-MM-DD): its logical date or, for a run triggered without one (the default of
# Airflow 3's Trigger button, `airflow dags trigger` and the REST API), the time it was triggered.
# `{{ ds }}` is undefined in such a run and fails the task.
RUN_DAY = "{{ (dag_run.logical_date or dag_run.run_after) | ds }}"
# Not a param: plan_tagging_batches needs a number, and templates render strings.
BATCH_SIZE = int(os.environ.get("S3_TAGGING_EXAMPLE_BATCH_SIZE", "1000"))

# A retry is safe: the direct path is idempotent per run, and a batch task's retry reattaches to the
# job its earlier try created. See docs/deployment.md, "Running on several workers".
RETRIES = {"retries": 2, "retry_delay": timedelta(minutes=1)}


@dag(
    dag_id="example_s3_direct_tagging_mapped",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args=RETRIES,
    params={
        "prefix": Param("datasets/", type="string", description="Key prefix to re-tag."),
        "classification": Param("internal", type="string", description="Value of the classification tag."),
    },
    tags=["example", "s3-batch-tagging", "direct"],
    doc_md=__doc__,
)
def example_s3_direct_tagging_mapped() -> None:
    batches = plan_tagging_batches(
        bucket=DATA_BUCKET,
        prefix="{{ params.prefix }}",
        batch_size=BATCH_SIZE,
    )
    tagged = S3PutObjectTaggingOperator.partial(
        task_id="tag_batch",
        tags={"classification": "{{ params.classification }}", "reviewed_on": RUN_DAY},
        mode="merge",
        skip_unchanged=True,
        undo_log=f"s3://{OPS_BUCKET}/undo/",
        concurrency=16,
    ).expand(objects=batches)

    @task
    def aggregate_results(results: list[dict[str, Any]]) -> dict[str, Any]:
        """One summary for the whole run, from the small result dict of every mapped task."""
        results = list(results)
        summary: dict[str, Any] = {"batches": len(results)}
        for name in ("total", "changed", "unchanged", "skipped", "failed", "retries"):
            summary[name] = sum(int(result[name]) for result in results)
        codes: dict[str, int] = {}
        for result in results:
            for code, count in (result.get("failures_by_code") or {}).items():
                codes[code] = codes.get(code, 0) + int(count)
        summary["failures_by_code"] = codes
        summary["undo_logs"] = [result["undo_log"] for result in results if result.get("undo_log_parts")]
        print(f"Direct tagging summary: {summary}")
        return summary

    results: Any = tagged.output  # the list of every mapped task's result
    aggregate_results(results)


example_s3_direct_tagging_mapped()
# [END quick_start]
