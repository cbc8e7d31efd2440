"""The plan step on the stand-in: objects counted from a real listing, a real CSV manifest and real
S3 Inventory rows (AWS's and dandiarchive's, from tests/fidelity/corpus), priced, and a path chosen."""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_s3_batch_tagging.estimate import EstimateError
from airflow_s3_batch_tagging.operators import tagging_plan
from airflow_s3_batch_tagging.operators.s3_object_tagging import plan_tagging_batches
from airflow_s3_batch_tagging.operators.tagging_plan import (
    choose_tagging_path,
    parallel_tasks,
    plan_tagging,
)
from airflow_s3_batch_tagging.path_choice import PathChoiceError
from airflow_s3_batch_tagging.pricing import PricingError
from airflow_s3_batch_tagging.tags import InvalidTagError

pytestmark = pytest.mark.usefixtures("aws_default_conn")

CORPUS = Path(__file__).resolve().parents[1] / "fidelity" / "corpus"


@pytest.fixture
def s3(local_aws: Any) -> Any:
    return local_aws.client("s3")


@pytest.fixture
def plan(monkeypatch: pytest.MonkeyPatch) -> Callable[..., dict[str, Any]]:
    """Run ``plan_tagging``'s function; return its batches and the XComs it pushed."""

    def run(**kwargs: Any) -> dict[str, Any]:
        pushed: dict[str, Any] = {}
        monkeypatch.setattr(tagging_plan, "push_xcom", pushed.__setitem__)
        batches = plan_tagging.function(max_parallel_tasks=4, **kwargs)  # type: ignore[attr-defined]
        return {"batches": batches, **pushed}

    return run


def test_a_listing_is_counted_once_and_priced(
    s3: Any, s3_bucket: str, plan: Callable[..., dict[str, Any]]
) -> None:
    for i in range(23):
        s3.put_object(Bucket=s3_bucket, Key=f"logs/{i:02d}.gz", Body=b"x")
    s3.put_object(Bucket=s3_bucket, Key="other/x", Body=b"x")

    result = plan(bucket=s3_bucket, prefix="logs/", batch_size=10)

    estimate = result["estimate"]
    assert (estimate["objects"], estimate["batches"], estimate["source"]) == (23, 3, "bucket")
    assert [batch["count"] for batch in result["batches"]] == [10, 10, 3]
    # Direct: 23 PUTs + one LIST page per batch (3) = 26 x $0.005 / 1,000 = $0.00013.
    assert estimate["direct"]["requests"] == {"GET": 0, "PUT": 26}
    assert estimate["direct"]["fees_usd"]["total"] == pytest.approx(0.00013)
    # Batch: 23 PUTs ($0.000115) + $0.25 + 23 / 1,000,000 x $1.00 ($0.000023) = $0.250138.
    assert estimate["batch"]["fees_usd"]["total"] == pytest.approx(0.250138)
    assert result["path"] == "direct"
    assert json.loads(json.dumps(result)) == result  # every XCom is JSON


def test_a_real_csv_manifest_is_counted_by_its_lines(
    s3: Any, s3_bucket: str, plan: Callable[..., dict[str, Any]]
) -> None:
    # AWS's user-guide manifest: six lines, one object each (see its .source sidecar).
    body = (CORPUS / "aws-userguide-csv-manifest.csv").read_bytes()
    s3.put_object(Bucket=s3_bucket, Key="manifests/today.csv", Body=body)

    result = plan(manifest=f"s3://{s3_bucket}/manifests/today.csv", batch_size=4, mode="merge")

    estimate = result["estimate"]
    assert (estimate["objects"], estimate["batches"]) == (6, 2)
    # A merge reads first: 6 GETs + a ranged GET per batch (2); 6 PUTs.
    assert estimate["direct"]["requests"] == {"GET": 8, "PUT": 6}
    assert estimate["batch"]["possible"] is False
    assert result["path"] == "direct"
    assert "mode 'merge'" in result["reasons"][0]


def test_real_inventory_rows_are_counted_without_their_delete_marker(
    s3: Any, s3_bucket: str, plan: Callable[..., dict[str, Any]]
) -> None:
    # AWS's example manifest.json, pointed at a data file of four real dandiarchive rows, the second
    # a delete marker (IsDeleteMarker "true"): three objects to tag.
    rows = (CORPUS / "dandiarchive-inventory-rows.csv").read_bytes()
    schema = (
        "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, IsMultipartUploaded"
    )
    manifest = json.loads((CORPUS / "aws-userguide-inventory-manifest.json").read_text())
    data_key = manifest["files"][0]["key"]
    s3.put_object(Bucket=s3_bucket, Key=data_key, Body=gzip.compress(rows))
    manifest.update(destinationBucket=f"arn:aws:s3:::{s3_bucket}", fileSchema=schema)
    s3.put_object(Bucket=s3_bucket, Key="inventory/manifest.json", Body=json.dumps(manifest).encode())

    result = plan(inventory_manifest=f"s3://{s3_bucket}/inventory/manifest.json", batch_size=2)

    estimate = result["estimate"]
    assert (estimate["objects"], estimate["batches"]) == (3, 2)
    assert estimate["direct"]["requests"] == {"GET": 4, "PUT": 3}  # 2 GETs to read each batch back


def test_per_object_tags_in_an_upstream_list_force_direct(plan: Callable[..., dict[str, Any]]) -> None:
    objects = [{"bucket": "b", "key": "a", "tags": {"x": "1"}}, "s3://b/c"]
    result = plan(objects=objects, strategy="auto", max_direct_seconds=0)
    assert result["path"] == "direct"
    assert "per-object tags" in result["reasons"][0]
    assert result["estimate"]["batch"]["requests"]["PUT"] == 3  # 2 objects + the manifest it would write


def test_a_slow_direct_run_goes_to_a_batch_job(
    s3: Any, s3_bucket: str, plan: Callable[..., dict[str, Any]]
) -> None:
    s3.put_object(Bucket=s3_bucket, Key="k", Body=b"x")
    result = plan(bucket=s3_bucket, max_direct_seconds="0", direct_objects_per_second=0.5)
    assert result["path"] == "batch"
    assert result["estimate"]["direct"]["seconds"] == 2.0


def test_a_region_without_prices_falls_back_and_logs_it(
    caplog: pytest.LogCaptureFixture, plan: Callable[..., dict[str, Any]]
) -> None:
    with caplog.at_level(logging.INFO):
        result = plan(objects=["s3://b/k"], region_name="eu-south-2")
    assert result["estimate"]["region"] == "eu-south-2"
    assert result["estimate"]["prices"]["put_per_1000"] == 0.005
    assert any("no published prices for eu-south-2" in note for note in result["estimate"]["notes"])
    assert "no published prices for eu-south-2" in caplog.text
    assert "| direct |" in caplog.text
    assert "Chosen path: direct." in caplog.text


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"mode": "append"}, InvalidTagError, "Invalid tagging mode"),
        ({"strategy": "fastest"}, PathChoiceError, "Invalid strategy"),
        ({"max_direct_seconds": "soon"}, PathChoiceError, "max_direct_seconds"),
        ({"prices": {"put": 1}}, PricingError, "unknown field"),
        ({"max_parallel_tasks": 0}, EstimateError, "max_parallel_tasks"),
        ({"skip_unchanged": "maybe"}, Exception, "skip_unchanged"),
        ({"strategy": "batch", "mode": "merge"}, PathChoiceError, "cannot do"),
        ({"engine": "curl"}, EstimateError, "Invalid engine 'curl'"),
        ({"batch_objects_per_second": 0}, EstimateError, "batch_objects_per_second"),
        ({"expected_bucket_owner": "me"}, Exception, "expected_bucket_owner|12 digits"),
    ],
)
def test_bad_input_fails_before_any_request(
    kwargs: dict[str, Any], error: type[Exception], message: str, local_aws: Any
) -> None:
    # A bucket that does not exist: any listing would fail with NoSuchBucket, not with this error.
    with pytest.raises(error, match=message):
        plan_tagging.function(bucket="no-such-bucket-anywhere", **kwargs)  # type: ignore[attr-defined]


def test_plan_tagging_batches_checks_its_estimate_parameters_before_any_request(local_aws: Any) -> None:
    with pytest.raises(InvalidTagError, match="Invalid tagging mode"):
        plan_tagging_batches.function(bucket="no-such-bucket-anywhere", mode="append")  # type: ignore[attr-defined]
    with pytest.raises(EstimateError, match="Invalid engine"):
        plan_tagging_batches.function(bucket="no-such-bucket-anywhere", engine="curl")  # type: ignore[attr-defined]


def test_plan_tagging_batches_still_returns_only_the_batches() -> None:
    batches = plan_tagging_batches.function(
        objects=[f"k{i}" for i in range(5)], batch_size=2, aws_conn_id=None
    )
    assert batches == [["k0", "k1"], ["k2", "k3"], ["k4"]]


def test_parallel_tasks_come_from_airflow_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__PARALLELISM", "6")
    monkeypatch.setenv("AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG", "9")
    assert parallel_tasks() == (
        6,
        "[core] parallelism (pools and executor slots not counted: set max_parallel_tasks)",
    )
    monkeypatch.setenv("AIRFLOW__CORE__PARALLELISM", "60")
    assert parallel_tasks()[0] == 9
    assert parallel_tasks("3") == (3, "max_parallel_tasks")
    monkeypatch.setenv("AIRFLOW__CORE__PARALLELISM", "0")  # Airflow's "unlimited"
    assert parallel_tasks()[0] == 9


@pytest.mark.parametrize(("path", "task_id"), [("direct", "tag_directly"), ("batch", "tag_with_job")])
def test_the_branch_follows_the_planned_path(path: str, task_id: str) -> None:
    follow = choose_tagging_path.function(path, direct_task_id="tag_directly", batch_task_id="tag_with_job")  # type: ignore[attr-defined]
    assert follow == task_id


def test_the_branch_refuses_an_unknown_path() -> None:
    with pytest.raises(EstimateError, match="Invalid path 'cheap'"):
        choose_tagging_path.function("cheap", direct_task_id="a", batch_task_id="b")  # type: ignore[attr-defined]
