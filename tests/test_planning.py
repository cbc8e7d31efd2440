"""The batch planner: upstream lists, CSV manifests, S3 Inventory reports and listings, with capping."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from airflow_s3_batch_tagging.errors import ManifestError
from airflow_s3_batch_tagging.manifest import write_csv_manifest
from airflow_s3_batch_tagging.objects import ObjectRef
from airflow_s3_batch_tagging.operators.s3_object_tagging import plan_tagging_batches
from airflow_s3_batch_tagging.planning import (
    BatchPlanningError,
    ListingRange,
    is_batch_reference,
    parse_object_entries,
    plan_batches,
    plan_csv_manifest,
    plan_inventory_manifest,
    plan_list_batches,
    plan_listing,
    read_batch,
)

BUCKET = "planning-bucket"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def read_all(client: Any, batches: list[dict[str, Any]]) -> list[ObjectRef]:
    return [ref for batch in batches for ref in read_batch(client, batch)]


# -- upstream lists -----------------------------------------------------------------------------------


def test_a_list_is_split_into_slices() -> None:
    batches = plan_list_batches([f"k{i}" for i in range(7)], batch_size=3)
    assert batches == [["k0", "k1", "k2"], ["k3", "k4", "k5"], ["k6"]]


def test_a_list_grows_its_batches_to_stay_within_max_batches() -> None:
    objects = list(range(100))
    batches = plan_list_batches(objects, batch_size=10, max_batches=4)
    assert [len(b) for b in batches] == [25, 25, 25, 25]
    assert [o for b in batches for o in b] == objects


def test_a_list_that_cannot_fit_says_so() -> None:
    with pytest.raises(BatchPlanningError, match=r"100 objects into at most 4 batches .* need 25"):
        plan_list_batches(list(range(100)), batch_size=10, max_batches=4, max_batch_size=20)


@pytest.mark.parametrize("bad", ["s3://b/k", {"key": "k"}, 42])
def test_a_list_source_must_be_a_list(bad: Any) -> None:
    with pytest.raises(BatchPlanningError, match="expected a list"):
        plan_list_batches(bad)


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ({"batch_size": 0}, "batch_size 0"),
        ({"batch_size": True}, "batch_size True"),
        ({"batch_size": 2.5}, "batch_size 2.5"),
        ({"max_batches": 0}, "max_batches 0"),
        ({"max_batches": False}, "max_batches False"),
        ({"max_batch_size": 0}, "max_batch_size 0"),
        ({"max_batch_size": True}, "max_batch_size True"),
        ({"max_batch_size": "10"}, "max_batch_size '10'"),
    ],
)
def test_bad_sizes_are_rejected_before_anything_is_read(sizes: dict[str, Any], message: str) -> None:
    with pytest.raises(BatchPlanningError, match=message):
        plan_list_batches([1], **sizes)
    # the S3 planners check them before their first request (no client is needed to fail)
    with pytest.raises(BatchPlanningError, match=message):
        plan_csv_manifest(None, f"s3://{BUCKET}/m.csv", **sizes)
    with pytest.raises(BatchPlanningError, match=message):
        plan_listing(None, BUCKET, "p/", **sizes)


def test_entries_parse_with_own_tags_and_remove_keys() -> None:
    items = parse_object_entries(
        ["s3://planning-bucket/a", {"key": "b", "version_id": "v1", "tags": ["x", "y"]}],
        default_bucket=BUCKET,
        tags_are_keys=True,
    )
    assert items[0] == (ObjectRef(BUCKET, "a"), None)
    assert items[1][0] == ObjectRef(BUCKET, "b", "v1")
    assert set(items[1][1] or {}) == {"x", "y"}


# -- CSV manifests ------------------------------------------------------------------------------------


def _manifest(client: Any, refs: list[ObjectRef], key: str = "manifests/m.csv") -> str:
    body = io.BytesIO()
    write_csv_manifest(refs, body)
    client.put_object(Bucket=BUCKET, Key=key, Body=body.getvalue())
    return f"s3://{BUCKET}/{key}"


def test_csv_manifest_ranges_read_back_every_object(s3: Any) -> None:
    refs = [ObjectRef(BUCKET, f"data/{i} ü,%.csv", "v" if i % 2 == 0 else None) for i in range(10)]
    uri = _manifest(s3, refs)
    batches = plan_csv_manifest(s3, uri, batch_size=4)
    assert [b["count"] for b in batches] == [4, 4, 2]
    assert all(is_batch_reference(b) for b in batches)
    assert "data/" not in json.dumps(batches)
    assert batches[0]["etag"]
    expected = [ObjectRef(r.bucket, r.key, r.version_id or "null") for r in refs]
    assert read_all(s3, batches) == expected


def test_csv_ranges_are_merged_to_stay_within_max_batches(s3: Any) -> None:
    refs = [ObjectRef(BUCKET, f"k{i}") for i in range(23)]
    uri = _manifest(s3, refs)
    batches = plan_csv_manifest(s3, uri, batch_size=2, max_batches=5)
    assert len(batches) <= 5
    assert sum(b["count"] for b in batches) == 23
    assert read_all(s3, batches) == refs
    with pytest.raises(BatchPlanningError, match="max_map_length"):
        plan_csv_manifest(s3, uri, batch_size=2, max_batches=5, max_batch_size=4)


def test_a_missing_csv_manifest_is_a_clear_error(s3: Any) -> None:
    with pytest.raises(ManifestError, match=r"s3://planning-bucket/nope.csv does not exist"):
        plan_csv_manifest(s3, f"s3://{BUCKET}/nope.csv")


def test_a_manifest_changed_since_planning_is_detected(s3: Any) -> None:
    uri = _manifest(s3, [ObjectRef(BUCKET, f"k{i}") for i in range(4)])
    batches = plan_csv_manifest(s3, uri, batch_size=2)
    _manifest(s3, [ObjectRef(BUCKET, f"other-{i}") for i in range(4)])
    with pytest.raises(ManifestError, match="changed since the batches were planned"):
        read_batch(s3, batches[0])


def test_a_malformed_manifest_line_names_its_line(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="bad.csv", Body=b"planning-bucket,a\nplanning-bucket,b,c,d\n")
    (batch,) = plan_csv_manifest(s3, f"s3://{BUCKET}/bad.csv", batch_size=10)
    with pytest.raises(ManifestError, match="line 2"):
        read_batch(s3, batch)


# -- S3 Inventory -------------------------------------------------------------------------------------


def _inventory(client: Any, files: list[list[tuple[str, str, bool]]]) -> str:
    entries = []
    for index, rows in enumerate(files):
        text = "".join(f'"src-bucket","{key}","{version}","true","{str(marker).lower()}"\n'
                       for key, version, marker in rows)  # fmt: skip
        key = f"inventory/data/{index}.csv.gz"
        client.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(text.encode()))
        entries.append({"key": key, "size": 1, "MD5checksum": "x"})
    manifest = {
        "sourceBucket": "src-bucket",
        "destinationBucket": f"arn:aws:s3:::{BUCKET}",
        "version": "2016-11-30",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker",
        "files": entries,
    }
    client.put_object(Bucket=BUCKET, Key="inventory/manifest.json", Body=json.dumps(manifest).encode())
    return f"s3://{BUCKET}/inventory/manifest.json"


def test_an_inventory_report_becomes_ranges_per_data_file(s3: Any) -> None:
    first = [(f"a/{i}%20x", f"v{i}", False) for i in range(5)] + [("deleted", "v9", True)]
    second = [(f"b/{i}", "", False) for i in range(3)]
    uri = _inventory(s3, [first, second])
    batches = plan_inventory_manifest(s3, uri, batch_size=2)
    assert [(b["file"].rsplit("/", 1)[-1], b["start"], b["count"]) for b in batches] == [
        ("0.csv.gz", 0, 2), ("0.csv.gz", 2, 2), ("0.csv.gz", 4, 1), ("1.csv.gz", 0, 2), ("1.csv.gz", 2, 1),
    ]  # fmt: skip
    refs = read_all(s3, batches)
    assert refs[:5] == [ObjectRef("src-bucket", f"a/{i} x", f"v{i}") for i in range(5)]
    assert refs[5:] == [ObjectRef("src-bucket", f"b/{i}") for i in range(3)]


def test_inventory_batches_grow_or_fail_clearly(s3: Any) -> None:
    uri = _inventory(
        s3, [[(f"a/{i}", "", False) for i in range(10)], [(f"b/{i}", "", False) for i in range(7)]]
    )
    batches = plan_inventory_manifest(s3, uri, batch_size=1, max_batches=4)
    assert len(batches) <= 4
    assert sum(b["count"] for b in batches) == 17
    assert len(read_all(s3, batches)) == 17
    with pytest.raises(BatchPlanningError, match="2 data files"):
        plan_inventory_manifest(s3, uri, max_batches=1)


def test_a_missing_inventory_data_file_is_a_clear_error(s3: Any) -> None:
    uri = _inventory(s3, [[("a", "", False)]])
    s3.delete_object(Bucket=BUCKET, Key="inventory/data/0.csv.gz")
    with pytest.raises(ManifestError, match="data file .* does not exist"):
        plan_inventory_manifest(s3, uri)


# -- listings -----------------------------------------------------------------------------------------


def test_a_listing_becomes_key_ranges(s3: Any) -> None:
    for i in range(12):
        s3.put_object(Bucket=BUCKET, Key=f"logs/{i:02d}", Body=b"")
    s3.put_object(Bucket=BUCKET, Key="other", Body=b"")
    batches = plan_listing(s3, BUCKET, "logs/", batch_size=5)
    assert [(b.get("start_after"), b["last_key"], b["count"]) for b in batches] == [
        (None, "logs/04", 5), ("logs/04", "logs/09", 5), ("logs/09", "logs/11", 2),
    ]  # fmt: skip
    assert read_all(s3, batches) == [ObjectRef(BUCKET, f"logs/{i:02d}") for i in range(12)]
    assert ListingRange.from_dict(batches[1]).start_after == "logs/04"


def test_listing_ranges_are_merged_to_fit(s3: Any) -> None:
    for i in range(12):
        s3.put_object(Bucket=BUCKET, Key=f"k{i:02d}", Body=b"")
    batches = plan_listing(s3, BUCKET, batch_size=1, max_batches=5)
    assert len(batches) == 4
    assert read_all(s3, batches) == [ObjectRef(BUCKET, f"k{i:02d}") for i in range(12)]


def test_a_malformed_batch_reference_is_rejected(s3: Any) -> None:
    with pytest.raises(BatchPlanningError, match="Invalid batch reference"):
        read_batch(s3, {"what": "ever"})
    with pytest.raises(ManifestError, match="Invalid manifest range"):
        read_batch(s3, {"manifest": f"s3://{BUCKET}/m.csv", "format": "S3BatchOperations_CSV_20180820",
                        "count": 1, "unknown": 1})  # fmt: skip


# -- the TaskFlow task and its source dispatch --------------------------------------------------------


def test_plan_batches_needs_exactly_one_source(s3: Any) -> None:
    with pytest.raises(BatchPlanningError, match="exactly one source .* got objects, bucket"):
        plan_batches(s3, objects=["a"], bucket=BUCKET)
    with pytest.raises(BatchPlanningError, match="got none"):
        plan_batches(s3)


def test_the_task_caps_batches_at_max_map_length(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__MAX_MAP_LENGTH", "3")
    batches = plan_tagging_batches.function(objects=[f"k{i}" for i in range(10)], batch_size=2)
    assert [len(b) for b in batches] == [4, 4, 2]


def test_the_task_plans_a_csv_manifest_through_the_hook(s3: Any) -> None:
    uri = _manifest(s3, [ObjectRef(BUCKET, f"k{i}") for i in range(5)])
    batches = plan_tagging_batches.function(manifest=uri, batch_size=2, aws_conn_id=None)
    assert [b["count"] for b in batches] == [2, 2, 1]
