"""The Asset example pair, end to end on the local stand-in: the re-tagging DAG's run emits one event
of its Asset, the scheduler's own check finds the downstream DAG due, and the downstream DAG reads the
new tags."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

from tests.airflow_versions import dagbag

EXAMPLE = Path(__file__).resolve().parents[2] / "dags_examples" / "example_s3_asset_retagging.py"
PRODUCER, CONSUMER = "example_s3_asset_retagging", "example_s3_asset_consumer"

pytestmark = pytest.mark.e2e


def _sync_to_db(*dags: Any) -> None:
    """Write the DAGs to the metadata DB as the dag-processor does, so asset consumers are known."""
    if AIRFLOW_V_3_0_PLUS:
        from airflow.dag_processing.bundles.manager import DagBundlesManager
        from airflow.dag_processing.dagbag import sync_bag_to_db

        DagBundlesManager().sync_bundles_to_db()
        bag = dagbag(os.devnull, collect_dags=False)
        for dag in dags:
            bag.bag_dag(dag)
        sync_bag_to_db(bag, "dags-folder", None)
        return
    from airflow.models.dag import DAG

    DAG.bulk_write_to_db(dags)
    for dag in dags:
        dag.sync_to_db()


def _asset_events(uri: str) -> list[Any]:
    """Every event of the asset ``uri`` in the metadata DB (``DatasetEvent`` on Airflow 2)."""
    from airflow.utils.session import create_session

    if AIRFLOW_V_3_0_PLUS:
        from airflow.models.asset import AssetEvent as Event
        from airflow.models.asset import AssetModel as Model

        column = Event.asset_id
    else:
        from airflow.models.dataset import DatasetEvent as Event
        from airflow.models.dataset import DatasetModel as Model

        column = Event.dataset_id
    with create_session() as session:
        events = session.query(Event).join(Model, Model.id == column).filter(Model.uri == uri).all()
        return [(event.source_dag_id, event.source_run_id, dict(event.extra or {})) for event in events]


def _dags_due() -> set[str]:
    """The DAGs the scheduler would start a run of now (its ``DagModel.dags_needing_dagruns``)."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query, triggered = DagModel.dags_needing_dagruns(session)
        due = {model.dag_id for model in query}
        session.rollback()  # release the row locks; decide nothing
    return due & set(triggered)


def _tags(s3: Any, bucket: str, key: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}


def test_retagging_updates_the_asset_and_starts_the_consumer(
    run_dag: Callable[..., Any], local_aws: Any, aws_default_conn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = local_aws.create_bucket()
    monkeypatch.setenv("S3_TAGGING_EXAMPLE_CURATED_BUCKET", bucket)
    s3 = local_aws.client("s3")
    keys = [f"curated/part-{i}.parquet" for i in range(3)]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x", Tagging="owner=etl")
    s3.put_object(Bucket=bucket, Key="raw/part-0.parquet", Body=b"x", Tagging="owner=etl")
    bag = dagbag(str(EXAMPLE))
    assert bag.import_errors == {}
    producer, consumer = bag.dags[PRODUCER], bag.dags[CONSUMER]
    uri = f"s3://{bucket}/curated/"
    # What the scheduler reads: the consumer is scheduled on the producer's outlet (Airflow drops
    # the trailing "/" of an s3:// URI when it normalizes it).
    (outlet,) = producer.get_task("curated_retagged").outlets
    assert outlet.uri in (uri, uri.rstrip("/"))
    _sync_to_db(consumer)
    assert CONSUMER not in _dags_due()

    run = run_dag(producer, run_conf={"classification": "confidential"})

    assert run.state == "success"
    for key in keys:
        assert _tags(s3, bucket, key) == {"owner": "etl", "classification": "confidential"}
    assert _tags(s3, bucket, "raw/part-0.parquet") == {"owner": "etl"}
    assert _asset_events(outlet.uri) == [(PRODUCER, run.run_id, {"total": 3, "changed": 3})]
    assert CONSUMER in _dags_due()

    downstream = run_dag(consumer)

    assert downstream.state == "success"
    (ti,) = downstream.get_task_instances()
    assert ti.xcom_pull(task_ids="count_by_classification") == {"confidential": 3}
