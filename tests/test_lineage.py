"""The lineage vocabulary: bucket/prefix locations, OpenLineage datasets named as the Amazon provider
names S3, and the tagging run facet (tag keys only), serialized by OpenLineage's own client."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from airflow.providers.amazon.aws.assets.s3 import convert_asset_to_openlineage, create_asset
from openlineage.client.serde import Serde

import airflow_s3_batch_tagging
from airflow_s3_batch_tagging.lineage import (
    MAX_TAG_KEYS,
    TAGGING_FACET_NAME,
    TAGGING_FACET_SCHEMA,
    LocationTracker,
    batch_job_lineage,
    batch_job_locations,
    location_from_arn,
    object_locations,
    s3_dataset,
    tagging_run_facet,
)
from airflow_s3_batch_tagging.objects import ObjectRef, S3Location
from airflow_s3_batch_tagging.tags import TagSet

SCHEMA = json.loads((Path(airflow_s3_batch_tagging.__file__).parent / "S3TaggingRunFacet.json").read_text())
PRIVATE = {"owner": "alice@example.com", "classification": "legal-hold-case-4711"}


def refs(*uris: str) -> list[ObjectRef]:
    return [ObjectRef.from_uri(uri) for uri in uris]


@pytest.mark.parametrize(
    ("uris", "expected"),
    [
        (["s3://bkt/data/2026/a.csv"], [S3Location("bkt", "data/2026/a.csv")]),
        (["s3://bkt/data/2026/a.csv", "s3://bkt/data/2026/a.csv"], [S3Location("bkt", "data/2026/a.csv")]),
        (["s3://bkt/data/2026/a.csv", "s3://bkt/data/2026/b.csv"], [S3Location("bkt", "data/2026/")]),
        (["s3://bkt/data/2026/a.csv", "s3://bkt/data/2025/b.csv"], [S3Location("bkt", "data/")]),
        # A common run of characters that is not a whole folder is not a prefix anyone named.
        (["s3://bkt/data/abc1", "s3://bkt/data/abc2"], [S3Location("bkt", "data/")]),
        (["s3://bkt/x/a", "s3://bkt/y/a"], [S3Location("bkt", "")]),
        (
            ["s3://bkt/x/a", "s3://cat/y/a", "s3://bkt/x/b"],
            [S3Location("bkt", "x/"), S3Location("cat", "y/a")],
        ),
        ([], []),
    ],
)
def test_objects_fold_into_one_common_folder_per_bucket(uris: list[str], expected: list[S3Location]) -> None:
    assert object_locations(refs(*uris)) == expected


def test_tracker_passes_items_through_unchanged_while_tracking() -> None:
    tracker = LocationTracker()
    items = [(ref, None) for ref in refs("s3://bkt/p/1", "s3://bkt/p/2")]
    assert list(tracker.track(items, ref_of=lambda item: item[0])) == items
    assert tracker.locations() == [S3Location("bkt", "p/")]


@pytest.mark.parametrize(
    ("location", "uri"),
    [
        (S3Location("bucket", "data/2026/a.csv"), "s3://bucket/data/2026/a.csv"),
        (S3Location("bucket", "data/"), "s3://bucket/data"),  # Airflow drops the trailing /
        (S3Location("bucket", ""), "s3://bucket/"),
    ],
)
def test_datasets_are_named_as_the_amazon_provider_names_s3(location: S3Location, uri: str) -> None:
    # The oracle: the Amazon provider's own asset factory and its OpenLineage conversion.
    amazon = convert_asset_to_openlineage(create_asset(bucket=location.bucket, key=location.prefix), None)
    assert create_asset(bucket=location.bucket, key=location.prefix).uri == uri
    ours = s3_dataset(location)
    assert (ours.namespace, ours.name) == (amazon.namespace, amazon.name)


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        ("arn:aws:s3:::bucket/manifests/m.csv", S3Location("bucket", "manifests/m.csv")),
        ("arn:aws-cn:s3:::bucket", S3Location("bucket", "")),
        ("arn:aws:iam::123456789012:role/x", None),
        ("s3://bucket/key", None),
    ],
)
def test_locations_from_s3_arns(arn: str, expected: S3Location | None) -> None:
    assert location_from_arn(arn) == expected


def test_generator_jobs_read_and_tag_the_listed_prefixes_and_write_their_report() -> None:
    # The members of a DescribeJob answer, as the S3 Control API reference shapes them.
    job = {
        "JobId": "5c5ac3b4-7d6a-4bd2-8e65-0ff4a7a2a3b1",
        "ManifestGenerator": {
            "S3JobManifestGenerator": {
                "SourceBucket": "arn:aws:s3:::data",
                "EnableManifestOutput": False,
                "Filter": {"KeyNameConstraint": {"MatchAnyPrefix": ["logs/", "events/"]}},
            }
        },
        "Report": {
            "Enabled": True,
            "Bucket": "arn:aws:s3:::ops",
            "Prefix": "reports",
            "Format": "Report_CSV_20180820",
            "ReportScope": "AllTasks",
        },
    }
    inputs, outputs = batch_job_locations(job)
    listed = [S3Location("data", "logs/"), S3Location("data", "events/")]
    assert inputs == listed
    assert outputs == [*listed, S3Location("ops", "reports/job-5c5ac3b4-7d6a-4bd2-8e65-0ff4a7a2a3b1/")]


def test_manifest_jobs_read_the_manifest_and_without_report_write_no_report() -> None:
    job = {
        "JobId": "j1",
        "Manifest": {
            "Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
            "Location": {"ObjectArn": "arn:aws:s3:::ops/manifests/today.csv", "ETag": "abc"},
        },
        "Report": {"Enabled": False},
    }
    assert batch_job_locations(job) == ([S3Location("ops", "manifests/today.csv")], [])


def test_run_facet_lists_sorted_tag_keys_and_never_their_values() -> None:
    facet = tagging_run_facet(
        path="direct",
        mode="merge",
        tag_key_sets=[TagSet(PRIVATE), TagSet({"team": "a@b.example"}), None],
        counts={"total": 5, "changed": 3, "unchanged": 1, "skipped": 0, "failed": 1},
    )
    serialized = Serde.to_json(facet)
    assert json.loads(serialized)["tagKeys"] == ["classification", "owner", "team"]
    for value in (*PRIVATE.values(), "a@b.example"):
        assert value not in serialized
    assert (facet.objectsTotal, facet.objectsSucceeded, facet.objectsFailed) == (5, 4, 1)
    assert (facet.objectsChanged, facet.objectsUnchanged, facet.objectsSkipped) == (3, 1, 0)


def test_run_facet_serializes_to_its_json_schema() -> None:
    facet = tagging_run_facet(
        path="batch",
        mode="replace",
        tag_key_sets=[TagSet(PRIVATE)],
        counts={"tasks_total": 4, "tasks_succeeded": 3, "tasks_failed": 1},
        job_id="job-1",
        job_status="Complete",
    )
    document = json.loads(Serde.to_json(facet))
    assert document["_schemaURL"] == f"{TAGGING_FACET_SCHEMA}#/$defs/S3TaggingRunFacet"
    assert SCHEMA["$id"] == TAGGING_FACET_SCHEMA
    assert document["_producer"].startswith("https://")
    # The facet's own part of the schema (its base, RunFacet, is OpenLineage's and is checked by
    # the client's serializer); validated as Draft 2020-12 says.
    own = SCHEMA["$defs"]["S3TaggingRunFacet"]["allOf"][1]
    jsonschema.Draft202012Validator(own).validate(document)
    assert {name for name in document if not name.startswith("_")} <= set(own["properties"])
    assert (document["objectsTotal"], document["objectsSucceeded"], document["batchJobId"]) == (4, 3, "job-1")
    assert "objectsChanged" not in document  # the batch path does not know it: None is left out


def test_run_facet_caps_the_tag_keys_it_lists() -> None:
    many = [[f"key-{index:04d}"] for index in range(MAX_TAG_KEYS + 5)]
    facet = tagging_run_facet(path="direct", mode="remove", tag_key_sets=many)
    assert len(facet.tagKeys) == MAX_TAG_KEYS
    assert facet.tagKeysTruncated is True


def test_a_batch_task_without_a_job_reports_its_mode_and_keys_only() -> None:
    lineage = batch_job_lineage(None, mode="delete")
    assert (lineage.inputs, lineage.outputs) == ([], [])
    facet = lineage.run_facets[TAGGING_FACET_NAME]
    assert (facet.path, facet.mode, facet.tagKeys, facet.batchJobId) == ("batch", "delete", [], None)
