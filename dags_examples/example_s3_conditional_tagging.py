"""Example: move objects from one storage tier tag to the next, only where their current tags allow it.

What it shows:

- ``plan_tagging_batches`` plans the listing of ``params.prefix`` into batches (references, never
  the keys), and ``S3PutObjectTaggingOperator`` is mapped over them.
- Conditional tagging: ``only_if_tags={"tier": <params.from_tier>}`` touches only objects whose
  current ``tier`` tag has that value, and ``unless_tag_keys=["legal-hold"]`` leaves alone every
  object carrying a ``legal-hold`` tag, whatever its value; both together must hold. The engine reads
  each object's tags (``GetObjectTagging``, the same read the merge needs) and writes only the
  objects that match. The others are counted as ``skipped_by_condition``: not written, not in the
  undo log.
- ``mode="merge"`` sets ``tier`` and ``tiered_on`` and keeps every other tag (owners' tags survive).
- ``undo_log``: the previous tag sets of the objects actually changed are written under
  ``s3://<ops bucket>/undo/<dag_id>/<run_id>/...`` first; ``S3RestoreObjectTaggingOperator`` puts
  exactly those back.
- ``summarize`` sums the mapped results, ``skipped_by_condition`` included.

S3 has no conditional write for tags: a tag another writer sets between the engine's read and its
write of the same object can be lost (the documentation's "Conditional tagging" page gives the
measured window). Do not run two tagging DAGs on the same objects at once.

Configuration (no code change needed): Airflow Variables ``s3_tagging_data_bucket`` and
``s3_tagging_ops_bucket`` (undo logs); DAG params ``prefix``, ``from_tier`` and ``to_tier``; the
environment variable ``S3_TAGGING_EXAMPLE_BATCH_SIZE`` (default 1000) sets the objects per batch.

Pointing it at real AWS: only the connection changes (the direct path assumes no role: the
connection's identity needs ``s3:ListBucket``, ``s3:GetObjectTagging``, ``s3:PutObjectTagging``
on the data and ``s3:PutObject`` on the undo-log prefix). Against the local stand-in the
``aws_default`` connection comes from ``LocalAWS.env()``.
"""

from __future__ import annotations

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
# The run's day: its logical date, or the trigger time of a run triggered without one.
RUN_DAY = "{{ (dag_run.logical_date or dag_run.run_after) | ds }}"
BATCH_SIZE = int(os.environ.get("S3_TAGGING_EXAMPLE_BATCH_SIZE", "1000"))


@dag(
    dag_id="example_s3_conditional_tagging",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    params={
        "prefix": Param("datasets/", type="string", description="Key prefix to re-tag."),
        "from_tier": Param("hot", type="string", description="Only objects whose tier tag has this value."),
        "to_tier": Param("warm", type="string", description="The tier tag they get."),
    },
    tags=["example", "s3-batch-tagging", "direct", "conditional"],
    doc_md=__doc__,
)
def example_s3_conditional_tagging() -> None:
    batches = plan_tagging_batches(bucket=DATA_BUCKET, prefix="{{ params.prefix }}", batch_size=BATCH_SIZE)
    # [START example_s3_conditional_tagging]
    retiered = S3PutObjectTaggingOperator.partial(
        task_id="retier_batch",
        tags={"tier": "{{ params.to_tier }}", "tiered_on": RUN_DAY},
        mode="merge",
        only_if_tags={"tier": "{{ params.from_tier }}"},
        unless_tag_keys=["legal-hold"],
        undo_log=f"s3://{OPS_BUCKET}/undo/",
    ).expand(objects=batches)
    # [END example_s3_conditional_tagging]

    @task
    def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
        """One summary for the run: how many objects were re-tiered and how many the condition left alone."""
        results = list(results)
        summary: dict[str, Any] = {"batches": len(results)}
        for name in ("total", "changed", "unchanged", "skipped_by_condition", "failed"):
            summary[name] = sum(int(result[name]) for result in results)
        summary["undo_logs"] = [result["undo_log"] for result in results if result.get("undo_log_parts")]
        print(f"Conditional tagging summary: {summary}")
        return summary

    results: Any = retiered.output
    summarize(results)


example_s3_conditional_tagging()
