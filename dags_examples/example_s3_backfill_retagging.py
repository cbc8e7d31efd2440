"""Example 4: re-tag history safely with a backfill, idempotent per interval, with the undo log on.

What it shows:

- Each run re-tags exactly one day: the listing of ``<params.prefix>dt=<run day>/`` (``RUN_DAY``:
  the logical date, or the trigger time of a run triggered without one). The tags depend
  only on that interval (``retention_class`` from ``params``, ``backfilled_for=<run day>``), never on
  the wall clock, so running an interval twice gives the same tags; ``skip_unchanged=True`` makes the
  second run write nothing. Runs of different intervals touch different objects, so they may run
  in parallel (``max_active_runs`` bounds how many).
- ``undo_log`` is on: before any object changes, its previous tag set is written under
  ``s3://<ops bucket>/undo/example_s3_backfill_retagging/<run_id>/``. If a backfill turns out wrong,
  trigger ``example_s3_backfill_restore`` (below, same file) with ``undo_log`` set to one run's
  prefix, or to ``s3://<ops bucket>/undo/example_s3_backfill_retagging/`` for all of them: every
  object gets back the tags it had before its first change.
- ``catchup=False`` with a fixed ``start_date``: history is re-tagged on purpose, over the dates you
  choose, with ``airflow backfill create``::

      airflow backfill create --dag-id example_s3_backfill_retagging \\
          --from-date 2026-01-01 --to-date 2026-01-31 --max-active-runs 4

  (``--reprocess-behavior completed`` re-runs intervals that already succeeded; with
  ``skip_unchanged`` that costs reads only.) Setting ``catchup=True`` instead makes the scheduler
  create every missed interval since ``start_date`` on its own. ``airflow dags test
  example_s3_backfill_retagging 2026-01-01`` runs one interval in the foreground.

Configuration (no code change needed): Airflow Variables ``s3_tagging_data_bucket`` and
``s3_tagging_ops_bucket`` (the undo log); DAG params ``prefix`` and ``retention_class``.

Pointing it at real AWS: only the connection changes (the direct path assumes no role; the
connection's identity needs ``s3:ListBucket``, ``s3:GetObjectTagging``, ``s3:PutObjectTagging`` on
the data and ``s3:PutObject`` / ``s3:GetObject`` / ``s3:ListBucket`` on the undo log). Against the
local stand-in the ``aws_default`` connection comes from ``LocalAWS.env()``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.providers.common.compat.sdk import Param, dag, task

from airflow_s3_batch_tagging.operators.s3_object_tagging import (
    S3PutObjectTaggingOperator,
    S3RestoreObjectTaggingOperator,
    plan_tagging_batches,
)

DATA_BUCKET = "{{ var.value.get('s3_tagging_data_bucket', 'my-data') }}"
OPS_BUCKET = "{{ var.value.get('s3_tagging_ops_bucket', 'my-ops-bucket') }}"
# The run's day (YYYY-MM-DD): its logical date or, for a run triggered without one (the default of
# Airflow 3's Trigger button, `airflow dags trigger` and the REST API), the time it was triggered.
# `{{ ds }}` is undefined in such a run and fails the task.
RUN_DAY = "{{ (dag_run.logical_date or dag_run.run_after) | ds }}"
# [START howto_restore_from]
# The restore DAG's undo_log param, or every run of the backfill DAG when it is empty.
RESTORE_FROM = (
    "{{ params.undo_log or ('s3://' ~ var.value.get('s3_tagging_ops_bucket', 'my-ops-bucket')"
    " ~ '/undo/example_s3_backfill_retagging/') }}"
)
# [END howto_restore_from]

# A retry is safe: the direct path is idempotent per run, and a batch task's retry reattaches to the
# job its earlier try created. See docs/deployment.md, "Running on several workers".
RETRIES = {"retries": 2, "retry_delay": timedelta(minutes=1)}


@dag(
    dag_id="example_s3_backfill_retagging",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args=RETRIES,
    max_active_runs=4,
    params={
        "prefix": Param("events/", type="string", description="Prefix above the dt=YYYY-MM-DD/ folders."),
        "retention_class": Param("archive", type="string", description="Value of retention_class."),
    },
    tags=["example", "s3-batch-tagging", "direct", "backfill"],
    doc_md=__doc__,
)
def example_s3_backfill_retagging() -> None:
    # [START howto_direct_backfill_with_undo_log]
    batches = plan_tagging_batches(bucket=DATA_BUCKET, prefix="{{ params.prefix }}dt=" + RUN_DAY + "/")
    tagged = S3PutObjectTaggingOperator.partial(
        task_id="retag_interval",
        tags={"retention_class": "{{ params.retention_class }}", "backfilled_for": RUN_DAY},
        mode="merge",
        skip_unchanged=True,
        undo_log=f"s3://{OPS_BUCKET}/undo/",
    ).expand(objects=batches)
    # [END howto_direct_backfill_with_undo_log]

    @task(trigger_rule="none_failed")
    def backfill_summary(results: list[dict[str, Any]], interval: str) -> dict[str, Any]:
        """What this interval's run changed, and where its undo log is."""
        results = list(results or [])  # Airflow 2 passes None when nothing was mapped
        summary: dict[str, Any] = {"interval": interval, "batches": len(results)}
        for name in ("total", "changed", "skipped", "failed"):
            summary[name] = sum(int(result[name]) for result in results)
        summary["undo_logs"] = [result["undo_log"] for result in results if result.get("undo_log_parts")]
        print(f"Backfilled interval {interval}: {summary}")
        return summary

    results: Any = tagged.output  # the list of every mapped task's result
    backfill_summary(results, RUN_DAY)


@dag(
    dag_id="example_s3_backfill_restore",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args=RETRIES,
    params={
        "undo_log": Param(
            "",
            type="string",
            description="Undo-log prefix of one run; empty: every run of example_s3_backfill_retagging.",
        ),
    },
    tags=["example", "s3-batch-tagging", "direct", "backfill"],
    doc_md=__doc__,
)
def example_s3_backfill_restore() -> None:
    # [START howto_operator_s3_restore_object_tagging]
    S3RestoreObjectTaggingOperator(task_id="restore_tags", undo_log=RESTORE_FROM)
    # [END howto_operator_s3_restore_object_tagging]


example_s3_backfill_retagging()
example_s3_backfill_restore()
