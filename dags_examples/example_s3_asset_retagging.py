"""Example 6: a downstream DAG scheduled on the Asset that a re-tagging DAG updates.

What it shows:

- ``example_s3_asset_retagging`` re-tags the objects below ``s3://<curated bucket>/curated/``
  (direct path, mapped over batches, ``mode="merge"``, ``skip_unchanged=True``) and then declares
  that it updated the Asset ``s3://<curated bucket>/curated/``: the outlet sits on the last task,
  ``curated_retagged``, which runs only when every batch succeeded, so the Asset gets one event per
  run, with the run's counts (never tag values) in the event's ``extra``. A run whose prefix holds
  no object emits no event (no batch, so ``curated_retagged`` is skipped).
- ``example_s3_asset_consumer`` has ``schedule=[CURATED]``: Airflow starts it after each event of
  the Asset. It reads the objects' tags and counts them by ``classification``, standing for the
  work that waits for the new tags (a lifecycle audit, an access review, an export).
- The Asset is the one name both DAGs share; lineage (OpenLineage, Airflow's asset graph) shows the
  same ``s3://`` location for it. ``Asset`` comes from ``airflow.providers.common.compat.sdk``:
  ``airflow.sdk.Asset`` on Airflow 3, ``Dataset`` on Airflow 2.11.

Configuration: an Asset's URI is fixed when the file is parsed (it cannot be templated), so the
bucket comes from the environment variable ``S3_TAGGING_EXAMPLE_CURATED_BUCKET`` (default
``my-data``), read at parse time like the other examples' settings; DAG param ``classification``.

Pointing it at real AWS: only the connection changes (the direct path assumes no role: the
connection's identity needs ``s3:ListBucket``, ``s3:GetObjectTagging`` and ``s3:PutObjectTagging``
on the curated prefix). Against the local stand-in the ``aws_default`` connection comes from
``LocalAWS.env()``.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.common.compat.sdk import Asset, Param, dag, task

from airflow_s3_batch_tagging.operators.s3_object_tagging import (
    S3PutObjectTaggingOperator,
    plan_tagging_batches,
)

# [START howto_asset_retagging_asset]
CURATED_BUCKET = os.environ.get("S3_TAGGING_EXAMPLE_CURATED_BUCKET", "my-data")
CURATED_PREFIX = "curated/"
CURATED = Asset(f"s3://{CURATED_BUCKET}/{CURATED_PREFIX}")
# [END howto_asset_retagging_asset]

RETRIES = {"retries": 2, "retry_delay": timedelta(minutes=1)}


# [START howto_asset_retagging_producer]
@dag(
    dag_id="example_s3_asset_retagging",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args=RETRIES,
    params={
        "classification": Param("internal", type="string", description="Value of the classification tag."),
    },
    tags=["example", "s3-batch-tagging", "direct", "asset"],
    doc_md=__doc__,
)
def example_s3_asset_retagging() -> None:
    batches = plan_tagging_batches(bucket=CURATED_BUCKET, prefix=CURATED_PREFIX)
    tagged = S3PutObjectTaggingOperator.partial(
        task_id="tag_curated",
        tags={"classification": "{{ params.classification }}"},
        mode="merge",
        skip_unchanged=True,
    ).expand(objects=batches)

    @task(outlets=[CURATED])
    def curated_retagged(results: list[dict[str, Any]], outlet_events: Any = None) -> dict[str, int]:
        """Declare the Asset updated, once every batch is tagged; the counts go in the event."""
        totals = {name: sum(int(result[name]) for result in results) for name in ("total", "changed")}
        outlet_events[CURATED].extra = totals
        return totals

    results: Any = tagged.output
    curated_retagged(results)


# [END howto_asset_retagging_producer]


# [START howto_asset_retagging_consumer]
@dag(
    dag_id="example_s3_asset_consumer",
    schedule=[CURATED],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args=RETRIES,
    tags=["example", "s3-batch-tagging", "asset"],
    doc_md=__doc__,
)
def example_s3_asset_consumer() -> None:
    @task
    def count_by_classification() -> dict[str, int]:
        """Read the tags of every curated object and count the objects by classification."""
        s3 = S3Hook(aws_conn_id="aws_default")
        client = s3.get_conn()
        counts: Counter[str] = Counter()
        for key in s3.list_keys(bucket_name=CURATED_BUCKET, prefix=CURATED_PREFIX):
            tag_set = client.get_object_tagging(Bucket=CURATED_BUCKET, Key=key)["TagSet"]
            tags = {tag["Key"]: tag["Value"] for tag in tag_set}
            counts[tags.get("classification", "(none)")] += 1
        print(f"Curated objects by classification: {dict(counts)}")
        return dict(counts)

    count_by_classification()


# [END howto_asset_retagging_consumer]

example_s3_asset_retagging()
example_s3_asset_consumer()
