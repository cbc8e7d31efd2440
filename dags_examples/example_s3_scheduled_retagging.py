"""Example 3: scheduled re-tagging: every day, re-tag the objects of that day's data interval.

What it shows:

- ``schedule="@daily"``: each run owns one data interval. The objects of that interval are the
  listing of a dated prefix, ``<params.prefix>dt={{ ds }}/`` (a layout most pipelines write), so a
  run never touches another day's objects.
- The tags are templated from the logical date: ``ingest_date={{ ds }}`` and
  ``expires_after={{ macros.ds_add(ds, 90) }}`` (90 days later, for a lifecycle rule or a cleanup
  job to match), plus ``retention`` from ``params.retention``.
- ``mode="merge"`` keeps tags other systems set; ``skip_unchanged=True`` makes a re-run of the same
  interval write nothing (idempotent and cheap).
- ``catchup=False``: a new deployment starts with today's interval; to re-tag history use
  example 4 (``example_s3_backfill_retagging``) or ``airflow backfill create``.
- An interval with no objects is a successful run with nothing to do (zero batches, zero mapped tasks).

When the objects are not laid out by date, filter by creation time instead: an S3 Batch
Operations job with ``manifest_generator={"SourceBucket": ..., "Filter": {"CreatedAfter":
"{{ data_interval_start }}", "CreatedBefore": "{{ data_interval_end }}"}}`` (see example 1's operator).

Configuration (no code change needed): Airflow Variables ``s3_tagging_data_bucket`` and
``s3_tagging_ops_bucket`` (undo logs); DAG params ``prefix`` and ``retention``.

Pointing it at real AWS: only the connection changes (the direct path assumes no role; the
connection's identity needs ``s3:ListBucket``, ``s3:GetObjectTagging`` and ``s3:PutObjectTagging``
on the data, ``s3:PutObject`` on the undo log). Against the local stand-in the ``aws_default``
connection comes from ``LocalAWS.env()``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.providers.common.compat.sdk import Param, dag, task

from airflow_s3_batch_tagging.operators.s3_object_tagging import (
    S3PutObjectTaggingOperator,
    plan_tagging_batches,
)

DATA_BUCKET = "{{ var.value.get('s3_tagging_data_bucket', 'my-data') }}"
OPS_BUCKET = "{{ var.value.get('s3_tagging_ops_bucket', 'my-ops-bucket') }}"


@dag(
    dag_id="example_s3_scheduled_retagging",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    params={
        "prefix": Param("events/", type="string", description="Prefix above the dt=YYYY-MM-DD/ folders."),
        "retention": Param("90d", type="string", description="Value of the retention tag."),
    },
    tags=["example", "s3-batch-tagging", "direct", "scheduled"],
    doc_md=__doc__,
)
def example_s3_scheduled_retagging() -> None:
    batches = plan_tagging_batches(bucket=DATA_BUCKET, prefix="{{ params.prefix }}dt={{ ds }}/")
    tagged = S3PutObjectTaggingOperator.partial(
        task_id="tag_interval",
        tags={
            "ingest_date": "{{ ds }}",
            "expires_after": "{{ macros.ds_add(ds, 90) }}",
            "retention": "{{ params.retention }}",
        },
        mode="merge",
        skip_unchanged=True,
        undo_log=f"s3://{OPS_BUCKET}/undo/",
    ).expand(objects=batches)

    @task(trigger_rule="none_failed")
    def interval_summary(results: list[dict[str, Any]], ds: str | None = None) -> dict[str, Any]:
        """Totals for the interval (zero when the interval had no objects)."""
        results = list(results or [])  # Airflow 2 passes None when nothing was mapped
        summary: dict[str, Any] = {"interval": ds, "batches": len(results)}
        for name in ("total", "changed", "skipped", "failed"):
            summary[name] = sum(int(result[name]) for result in results)
        print(f"Re-tagged interval {ds}: {summary}")
        return summary

    results: Any = tagged.output  # the list of every mapped task's result
    interval_summary(results)


example_s3_scheduled_retagging()
