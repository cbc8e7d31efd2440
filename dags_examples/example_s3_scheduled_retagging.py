"""Example 3: scheduled re-tagging: every day, re-tag the objects of that day's data interval.

What it shows:

- ``schedule="@daily"``: each run owns one day. The objects of that day are the listing of a dated
  prefix, ``<params.prefix>dt=<run day>/`` (a layout most pipelines write), so a run never touches
  another day's objects. The run day is ``RUN_DAY``: the logical date, or the trigger time for a
  run triggered by hand without one (Airflow 3's default for the Trigger button, ``airflow dags
  trigger`` and the REST API; ``{{ ds }}`` is undefined there).
- Which day: under Airflow 3's default timetable for cron schedules (``CronTriggerTimetable``), the
  run that starts at midnight UTC of 2026-03-02 has logical date 2026-03-02, so it tags
  ``dt=2026-03-02/``, the day that begins, not the day that just ended (Airflow 2's data intervals
  did that). To tag the finished day, use ``macros.ds_add(..., -1)`` in ``RUN_DAY``, or set
  ``[scheduler] create_cron_data_intervals = True``.
- The tags are templated from the run day: ``ingest_date`` and ``expires_after`` (90 days later,
  for a lifecycle rule or a cleanup job to match), plus ``retention`` from ``params.retention``.
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

from datetime import datetime, timedelta
from typing import Any

from airflow.providers.common.compat.sdk import Param, dag, task

from airflow_s3_batch_tagging.operators.s3_object_tagging import (
    S3PutObjectTaggingOperator,
    plan_tagging_batches,
)

DATA_BUCKET = "{{ var.value.get('s3_tagging_data_bucket', 'my-data') }}"
OPS_BUCKET = "{{ var.value.get('s3_tagging_ops_bucket', 'my-ops-bucket') }}"
# [START howto_run_day]
# The run's day (YYYY-MM-DD): its logical date or, for a run triggered without one (the default of
# Airflow 3's Trigger button, `airflow dags trigger` and the REST API), the time it was triggered.
# `{{ ds }}` is undefined in such a run and fails the task.
RUN_DAY = "{{ (dag_run.logical_date or dag_run.run_after) | ds }}"
# [END howto_run_day]

# A retry is safe: the direct path is idempotent per run, and a batch task's retry reattaches to the
# job its earlier try created. See docs/deployment.md, "Running on several workers".
RETRIES = {"retries": 2, "retry_delay": timedelta(minutes=1)}


@dag(
    dag_id="example_s3_scheduled_retagging",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args=RETRIES,
    max_active_runs=1,
    params={
        "prefix": Param("events/", type="string", description="Prefix above the dt=YYYY-MM-DD/ folders."),
        "retention": Param("90d", type="string", description="Value of the retention tag."),
    },
    tags=["example", "s3-batch-tagging", "direct", "scheduled"],
    doc_md=__doc__,
)
def example_s3_scheduled_retagging() -> None:
    # [START howto_scheduled_retagging]
    batches = plan_tagging_batches(bucket=DATA_BUCKET, prefix="{{ params.prefix }}dt=" + RUN_DAY + "/")
    tagged = S3PutObjectTaggingOperator.partial(
        task_id="tag_interval",
        tags={
            "ingest_date": RUN_DAY,
            "expires_after": "{{ macros.ds_add((dag_run.logical_date or dag_run.run_after) | ds, 90) }}",
            "retention": "{{ params.retention }}",
        },
        mode="merge",
        skip_unchanged=True,
        undo_log=f"s3://{OPS_BUCKET}/undo/",
    ).expand(objects=batches)
    # [END howto_scheduled_retagging]

    @task(trigger_rule="none_failed")
    def interval_summary(results: list[dict[str, Any]], interval: str) -> dict[str, Any]:
        """Totals for the interval (zero when the interval had no objects)."""
        results = list(results or [])  # Airflow 2 passes None when nothing was mapped
        summary: dict[str, Any] = {"interval": interval, "batches": len(results)}
        for name in ("total", "changed", "skipped", "failed"):
            summary[name] = sum(int(result[name]) for result in results)
        print(f"Re-tagged interval {interval}: {summary}")
        return summary

    results: Any = tagged.output  # the list of every mapped task's result
    interval_summary(results, RUN_DAY)


example_s3_scheduled_retagging()
