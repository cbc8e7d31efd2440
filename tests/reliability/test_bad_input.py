"""Bad input, table-driven: each invalid input fails with a clear error naming the problem, and nothing
is written to S3 (objects, versions, tags) and no job is created. Against the local stand-in."""

# ruff: noqa: E501  (the table keeps one case per line)

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import DAG

from airflow_s3_batch_tagging.errors import (
    InvalidObjectRefError,
    InvalidTagError,
    ManifestError,
    S3TaggingInputError,
)
from airflow_s3_batch_tagging.operators.s3_batch_operations import S3BatchPutObjectTaggingOperator
from airflow_s3_batch_tagging.operators.s3_object_tagging import (
    S3PutObjectTaggingOperator,
    S3RestoreObjectTaggingOperator,
    plan_batches,
)

from .conftest import put_objects

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("aws_default_conn")]

ORIGINAL = {"owner": "team-a", "tier": "hot"}
OK_KEYS = ["ok/1.csv", "ok/two words.csv"]
FIGURES: dict[str, Any] = {"cases": 0, "objects_checked": 0, "changed": 0, "seconds": 0.0}

# Manifests written while staging (before any snapshot): name -> body.
MANIFESTS = {
    "one-field.csv": "{b},ok/1.csv\n{b}\n",
    "four-fields.csv": "{b},ok/1.csv\n{b},ok/2.csv,null,extra\n",
    "bad-escape.csv": "{b},ok/1.csv\n{b},ok/100%zz.csv\n",
    "bad-utf8.csv": "{b},ok/%ff%fe.csv\n",
    "bad-bucket.csv": "Bad_Bucket,ok/1.csv\n",
    "empty.csv": "",
    "good.csv": "{b},ok/1.csv\n{b},ok/two%20words.csv\n",
    "changed.csv": "{b},ok/1.csv\n",
    "inventory/not-json/manifest.json": "{not json",
    "inventory/incomplete/manifest.json": '{"sourceBucket": "{b}"}',
    "inventory/parquet/manifest.json": json.dumps(
        {
            "sourceBucket": "x",
            "destinationBucket": "arn:aws:s3:::x",
            "fileFormat": "Parquet",
            "fileSchema": "Bucket, Key",
            "files": [],
        }
    ),
    "undo-bad/dag/run/task/unmapped/try-0001/part-000000.jsonl": "{not json\n",
}


class Stage(SimpleNamespace):
    bucket: str
    s3: Any
    local_aws: Any
    ranges: dict[str, dict[str, Any]]
    initial: tuple[Any, ...]


@pytest.fixture(scope="module")
def stage(local_aws: Any) -> Stage:
    """One bucket with two tagged objects, the manifests above, and batch references planned from them."""
    from botocore.config import Config

    s3 = local_aws.client("s3", config=Config(retries={"mode": "standard", "total_max_attempts": 5}))
    bucket = local_aws.create_bucket()
    put_objects(s3, bucket, dict.fromkeys(OK_KEYS, ORIGINAL))
    for name, body in MANIFESTS.items():
        s3.put_object(Bucket=bucket, Key=f"manifests/{name}", Body=body.replace("{b}", bucket).encode())
    ranges = {}
    for name in ("one-field.csv", "four-fields.csv", "bad-escape.csv", "bad-utf8.csv", "bad-bucket.csv"):
        (ranges[name],) = plan_batches(s3, manifest=f"s3://{bucket}/manifests/{name}", max_batches=4)
    (ranges["changed.csv"],) = plan_batches(
        s3, manifest=f"s3://{bucket}/manifests/changed.csv", max_batches=4
    )
    # Changed after planning: the planned range pins the old ETag.
    s3.put_object(
        Bucket=bucket, Key="manifests/changed.csv", Body=f"{bucket},ok/1.csv\n{bucket},x\n".encode()
    )
    ranges["missing"] = {**ranges["changed.csv"], "manifest": f"s3://{bucket}/manifests/missing.csv"}
    staged = Stage(bucket=bucket, s3=s3, local_aws=local_aws, ranges=ranges)
    staged.initial = _snapshot(staged, all_tags=True)
    return staged


def _ti(**extra: Any) -> Any:
    return SimpleNamespace(
        dag_id="bad_input", run_id="manual__bad", task_id="t", map_index=-1, try_number=1,
        start_date=None, xcom_push=lambda key, value: None, **extra,
    )  # fmt: skip


def _render(operator: Any) -> Any:
    """Render the operator's templates as a task run would (Jinja renders to strings)."""
    with DAG("bad_input_templates", schedule=None):
        operator.dag = None
    operator.render_template_fields({"ds": "2026-03-01"})
    return operator


def direct(**overrides: Any) -> Callable[[Stage], Any]:
    def run(stage: Stage) -> Any:
        kwargs: dict[str, Any] = {
            "task_id": "t", "objects": list(OK_KEYS), "bucket": stage.bucket, "tags": {"tier": "cold"},
            "undo_log": f"s3://{stage.bucket}/undo/", "concurrency": 2,
        }  # fmt: skip
        kwargs.update({k: v(stage) if callable(v) else v for k, v in overrides.items()})
        operator = S3PutObjectTaggingOperator(**kwargs)
        return _render(operator).execute({"ti": _ti()})

    return run


def batch(**overrides: Any) -> Callable[[Stage], Any]:
    def run(stage: Stage) -> Any:
        kwargs: dict[str, Any] = {
            "task_id": "t", "objects": [f"s3://{stage.bucket}/{key}" for key in OK_KEYS],
            "tags": {"tier": "cold"}, "role_arn": stage.local_aws.role_arn,
            "manifest_location": f"s3://{stage.bucket}/batch/", "waiter_delay": 0,
        }  # fmt: skip
        kwargs.update({k: v(stage) if callable(v) else v for k, v in overrides.items()})
        operator = S3BatchPutObjectTaggingOperator(**kwargs)
        return _render(operator).execute({"ti": _ti()})

    return run


def restore(undo_log: Any) -> Callable[[Stage], Any]:
    def run(stage: Stage) -> Any:
        value = undo_log(stage) if callable(undo_log) else undo_log
        return S3RestoreObjectTaggingOperator(task_id="r", undo_log=value).execute({"ti": _ti()})

    return run


def restore_with_owner(owner: str) -> Callable[[Stage], Any]:
    def run(stage: Stage) -> Any:
        return S3RestoreObjectTaggingOperator(
            task_id="r", undo_log=f"s3://{stage.bucket}/manifests/undo-bad/", expected_bucket_owner=owner
        ).execute({"ti": _ti()})

    return run


def plan(**kwargs: Any) -> Callable[[Stage], Any]:
    def run(stage: Stage) -> Any:
        resolved = {k: v(stage) if callable(v) else v for k, v in kwargs.items()}
        return plan_batches(stage.s3, max_batches=4, **resolved)

    return run


def manifest_uri(name: str) -> Callable[[Stage], str]:
    return lambda stage: f"s3://{stage.bucket}/manifests/{name}"


def planned(name: str) -> Callable[[Stage], Any]:
    return lambda stage: stage.ranges[name]


LONG = "k" * 129
CASES: list[Any] = [
    # -- tags --------------------------------------------------------------------------------------
    pytest.param(direct(tags={"aws:created": "x"}), InvalidTagError, "prefix 'aws:' is reserved", id="tag-aws-prefix"),
    pytest.param(direct(tags={f"k{i}": "v" for i in range(11)}), InvalidTagError, "at most 10 tags", id="tag-11-tags"),
    pytest.param(direct(tags={LONG: "v"}), InvalidTagError, "key must be 1 to 128 characters long, it has 129", id="tag-key-too-long"),
    pytest.param(direct(tags={"k": "v" * 257}), InvalidTagError, "at most 256 characters long, it has 257", id="tag-value-too-long"),
    pytest.param(direct(tags={"tier!": "cold"}), InvalidTagError, "in the key, character '!' is not allowed", id="tag-key-bad-char"),
    pytest.param(direct(tags={"tier": "a<b"}), InvalidTagError, "in the value, character '<' is not allowed", id="tag-value-bad-char"),
    pytest.param(direct(tags={"": "x"}), InvalidTagError, "it has 0", id="tag-empty-key"),
    pytest.param(direct(tags={"n": 5}), InvalidTagError, "value must be a string, not int", id="tag-value-not-string"),
    pytest.param(direct(tags=[{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]), InvalidTagError, "'a' appears more than once", id="tag-duplicate-key"),
    pytest.param(direct(tags=[{"Key": "a"}]), InvalidTagError, "expected a dict with 'Key' and 'Value'", id="tag-entry-without-value"),
    pytest.param(direct(mode="upsert"), InvalidTagError, "Invalid tagging mode 'upsert'", id="mode-unknown"),
    pytest.param(direct(mode="merge", tags=None), InvalidTagError, "Mode 'merge' needs tags", id="mode-merge-without-tags"),
    pytest.param(direct(mode="remove", tags="tier"), InvalidTagError, "expected a list of tag keys to remove", id="mode-remove-string"),
    # -- object references -------------------------------------------------------------------------
    pytest.param(direct(objects=["ok/1.csv"], bucket=None), InvalidObjectRefError, "a bare key needs a bucket", id="ref-bare-key-no-bucket"),
    pytest.param(direct(objects=lambda s: [f"s3://{s.bucket}"]), InvalidObjectRefError, "has no key after the bucket", id="ref-uri-without-key"),
    pytest.param(direct(objects=["k" * 1025]), InvalidObjectRefError, "at most 1024 bytes", id="ref-key-too-long"),
    pytest.param(direct(objects=[{"key": ""}]), InvalidObjectRefError, "a key must not be empty", id="ref-empty-key"),
    pytest.param(direct(objects=[{"key": "ok/1.csv", "version_id": "a,b"}]), InvalidObjectRefError, "Invalid version id 'a,b'", id="ref-version-with-comma"),
    pytest.param(direct(objects=["ok/1.csv", 42]), InvalidObjectRefError, "entry #1 42.*type int", id="ref-not-an-entry"),
    pytest.param(direct(objects=[{"bucket": "x-bucket"}]), InvalidObjectRefError, "has no 'key'", id="ref-dict-without-key"),
    pytest.param(direct(objects=["ok/\ud800.csv"]), InvalidObjectRefError, "must be valid UTF-8", id="ref-lone-surrogate"),
    # -- bucket names ------------------------------------------------------------------------------
    pytest.param(direct(bucket="My_Bucket"), InvalidObjectRefError, "'My_Bucket'.*lowercase letters", id="bucket-uppercase"),
    pytest.param(direct(bucket="ab"), InvalidObjectRefError, "'ab'.*3 to 63 characters", id="bucket-too-short"),
    pytest.param(direct(bucket="192.168.1.1"), InvalidObjectRefError, "formatted as an IP address", id="bucket-ip-address"),
    pytest.param(direct(bucket="xn--bucket"), InvalidObjectRefError, "must not start with", id="bucket-reserved-prefix"),
    pytest.param(direct(objects=["s3://a..b/k"]), InvalidObjectRefError, "two adjacent dots", id="bucket-adjacent-dots"),
    # -- manifests ---------------------------------------------------------------------------------
    pytest.param(direct(objects=planned("one-field.csv")), ManifestError, "line 2: expected 2 or 3 comma-separated fields .* found 1", id="manifest-one-column"),
    pytest.param(direct(objects=planned("four-fields.csv")), ManifestError, "line 2: expected 2 or 3 .* found 4", id="manifest-four-columns"),
    pytest.param(direct(objects=planned("bad-escape.csv")), ManifestError, "line 2: the key 'ok/100%zz.csv' has a malformed percent escape", id="manifest-bad-percent-escape"),
    pytest.param(direct(objects=planned("bad-utf8.csv")), ManifestError, "does not URL-decode to valid UTF-8", id="manifest-bad-utf8-escape"),
    pytest.param(direct(objects=planned("bad-bucket.csv")), ManifestError, "line 1: Invalid S3 bucket name 'Bad_Bucket'", id="manifest-bad-bucket"),
    pytest.param(direct(objects=planned("missing")), ManifestError, "missing.csv does not exist", id="manifest-range-missing-object"),
    pytest.param(direct(objects=planned("changed.csv")), ManifestError, "changed since the batches were planned", id="manifest-changed-since-planning"),
    pytest.param(batch(objects=None, manifest=manifest_uri("empty.csv"), report_location=lambda s: f"s3://{s.bucket}/r/"), ManifestError, "manifest .*empty.csv is empty", id="manifest-empty-file"),
    pytest.param(batch(objects=None, manifest=manifest_uri("nope.csv"), report_location=lambda s: f"s3://{s.bucket}/r/"), ManifestError, "nope.csv does not exist", id="manifest-batch-missing-object"),
    pytest.param(plan(manifest=manifest_uri("nope.csv")), ManifestError, "nope.csv does not exist", id="manifest-plan-missing-object"),
    pytest.param(plan(inventory_manifest=manifest_uri("inventory/not-json/manifest.json")), ManifestError, "is not valid JSON", id="inventory-not-json"),
    pytest.param(plan(inventory_manifest=manifest_uri("inventory/incomplete/manifest.json")), ManifestError, "lacks destinationBucket, fileFormat, fileSchema, files", id="inventory-incomplete"),
    pytest.param(plan(inventory_manifest=manifest_uri("inventory/parquet/manifest.json")), ManifestError, "only CSV inventory reports", id="inventory-parquet"),
    pytest.param(direct(objects={"manifest": "s3://b-b-b/m.csv", "format": "XML", "count": 1}), ManifestError, "Invalid manifest range format 'XML'", id="manifest-range-bad-format"),
    pytest.param(batch(objects=None, manifest=manifest_uri("good.csv"), manifest_format="xml", report_location=lambda s: f"s3://{s.bucket}/r/"), S3TaggingInputError, "Invalid manifest_format 'xml'", id="manifest-format-unknown"),
    pytest.param(batch(objects=None, manifest=lambda s: f"s3://{s.bucket}/manifests/", report_location=lambda s: f"s3://{s.bucket}/r/"), ManifestError, "must name an object, not a prefix", id="manifest-uri-is-prefix"),
    # -- ARNs and account ids ----------------------------------------------------------------------
    pytest.param(batch(role_arn="arn:aws:iam::123:role/tagger"), S3TaggingInputError, "Invalid role ARN 'arn:aws:iam::123:role/tagger'", id="arn-short-account"),
    pytest.param(batch(role_arn="tagger"), S3TaggingInputError, "Invalid role ARN 'tagger'", id="arn-bare-name"),
    pytest.param(batch(role_arn="arn:aws:iam::123456789012:user/tagger"), S3TaggingInputError, "Invalid role ARN", id="arn-user-not-role"),
    pytest.param(batch(account_id="12345"), S3TaggingInputError, "Invalid AWS account id '12345': it must be exactly 12 digits", id="account-too-short"),
    pytest.param(direct(expected_bucket_owner="12345"), S3TaggingInputError, "Invalid expected_bucket_owner '12345'", id="account-expected-owner-direct"),
    pytest.param(restore_with_owner("owner-account"), S3TaggingInputError, "Invalid expected_bucket_owner 'owner-account'", id="account-expected-owner-restore"),
    pytest.param(batch(account_id="abcdefghijkl"), S3TaggingInputError, "Invalid AWS account id 'abcdefghijkl'", id="account-not-digits"),
    pytest.param(batch(account_id="١٢٣٤٥٦٧٨٩٠١٢"), S3TaggingInputError, "Invalid AWS account id '١٢٣٤٥٦٧٨٩٠١٢'", id="account-arabic-indic-digits"),
    pytest.param(batch(role_arn="arn:aws:iam::١٢٣٤٥٦٧٨٩٠١٢:role/tagger"), S3TaggingInputError, "Invalid role ARN", id="arn-arabic-indic-digits"),
    pytest.param(batch(objects=None, manifest_generator={"SourceBucket": "arn:aws:s3:::Bad_Bucket"}, report_location=lambda s: f"s3://{s.bucket}/r/"), S3TaggingInputError, "Bad_Bucket", id="arn-generator-source-bad-bucket"),
    # -- report settings and job options -------------------------------------------------------------
    pytest.param(batch(report_scope="Everything"), S3TaggingInputError, "Invalid report_scope 'Everything'", id="report-scope-unknown"),
    pytest.param(batch(report_location="reports/"), InvalidObjectRefError, "Invalid report_location 'reports/'", id="report-location-not-s3"),
    pytest.param(batch(objects=None, manifest=manifest_uri("good.csv"), manifest_location=None), S3TaggingInputError, "Set report_location", id="report-location-missing"),
    pytest.param(batch(priority=-1), S3TaggingInputError, "Invalid priority -1", id="priority-negative"),
    pytest.param(batch(waiter_delay=-5), S3TaggingInputError, "Invalid waiter_delay -5: it must be a whole number of seconds >= 0", id="waiter-delay-negative"),
    pytest.param(batch(waiter_max_attempts=0), S3TaggingInputError, "Invalid waiter_max_attempts 0: it must be an integer >= 1", id="waiter-attempts-zero"),
    pytest.param(batch(waiter_max_attempts=-1), S3TaggingInputError, "Invalid waiter_max_attempts -1", id="waiter-attempts-negative"),
    pytest.param(batch(description=""), S3TaggingInputError, "Invalid description ''", id="description-empty"),
    pytest.param(batch(job_tags={f"t{i}": "v" for i in range(51)}), InvalidTagError, "at most 50 tags, got 51", id="job-tags-51"),
    pytest.param(batch(max_failure_ratio=1.5), S3TaggingInputError, "Invalid max_failure_ratio 1.5", id="batch-ratio-over-1"),
    pytest.param(direct(max_failed_objects=-1), S3TaggingInputError, "Invalid max_failed_objects -1", id="direct-negative-tolerance"),
    pytest.param(direct(concurrency=0), ValueError, "Invalid concurrency 0", id="direct-concurrency-0"),
    pytest.param(direct(retry_mode="turbo"), ValueError, "Invalid retry_mode 'turbo'", id="direct-retry-mode"),
    pytest.param(direct(undo_log="undo/"), InvalidObjectRefError, "Invalid undo_log location 'undo/'", id="undo-log-not-s3"),
    # -- conflicting parameters --------------------------------------------------------------------
    pytest.param(direct(mode="delete"), InvalidTagError, "Conflicting parameters: mode 'delete'", id="conflict-delete-with-tags"),
    pytest.param(direct(mode="delete", tags=None, objects=[{"key": "ok/1.csv", "tags": {"a": "1"}}]), InvalidTagError, "has its own tags", id="conflict-delete-own-tags"),
    pytest.param(batch(manifest=manifest_uri("good.csv")), S3TaggingInputError, "exactly one manifest source .* got objects, manifest", id="conflict-two-sources"),
    pytest.param(batch(objects=None), S3TaggingInputError, "got none", id="conflict-no-source"),
    pytest.param(batch(manifest_location=None, report_location=lambda s: f"s3://{s.bucket}/r/"), S3TaggingInputError, "objects needs manifest_location", id="conflict-objects-without-location"),
    pytest.param(batch(objects=[]), S3TaggingInputError, "objects is empty", id="conflict-empty-objects"),
    pytest.param(plan(manifest=manifest_uri("good.csv"), bucket="some-bucket"), S3TaggingInputError, "exactly one source .* got manifest, bucket", id="conflict-plan-two-sources"),
    # -- templates that render to the wrong type ---------------------------------------------------
    pytest.param(direct(objects="{{ ['ok/1.csv', 'ok/2.csv'] }}"), InvalidObjectRefError, "Invalid objects of type str", id="template-objects-string"),
    pytest.param(direct(tags="{{ {'tier': 'cold'} }}"), InvalidTagError, "got the string", id="template-tags-string"),
    pytest.param(direct(dry_run="{{ 'maybe' }}"), S3TaggingInputError, "Invalid dry_run 'maybe'", id="template-dry-run"),
    pytest.param(batch(priority="{{ 'high' }}"), S3TaggingInputError, "Invalid priority 'high'", id="template-priority"),
    pytest.param(batch(job_tags="{{ {'team': 'a'} }}"), InvalidTagError, "Invalid job_tags", id="template-job-tags-string"),
    pytest.param(batch(tags="{{ {'tier': 'cold'} }}"), InvalidTagError, "got the string", id="template-batch-tags-string"),
    # -- undo logs ---------------------------------------------------------------------------------
    pytest.param(restore({"status": "done"}), S3TaggingInputError, "must be the result of S3PutObjectTaggingOperator", id="undo-not-a-result"),
    pytest.param(restore(lambda s: f"s3://{s.bucket}/no-undo-here/"), S3TaggingInputError, "No undo log parts", id="undo-missing"),
    pytest.param(restore(lambda s: f"s3://{s.bucket}/manifests/undo-bad/"), S3TaggingInputError, "line 1: not valid JSON", id="undo-malformed"),
]  # fmt: skip


def _snapshot(stage: Stage, *, all_tags: bool = False) -> tuple[Any, ...]:
    """Every object version in the stage bucket with its ETag, the tags of the objects a case could
    tag (all objects' tags with ``all_tags``), the bucket list and the emulator's job count."""
    s3 = stage.s3
    versions = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=stage.bucket):
        for item in page.get("Versions", []):
            tags = ""
            if all_tags or item["Key"].startswith("ok/"):
                response = s3.get_object_tagging(
                    Bucket=stage.bucket, Key=item["Key"], VersionId=item["VersionId"]
                )
                tags = json.dumps(response["TagSet"])
            versions.append((item["Key"], item["VersionId"], item["ETag"], tags))
        versions.extend(
            (m["Key"], m["VersionId"], "delete marker", "") for m in page.get("DeleteMarkers", [])
        )
    buckets = sorted(b["Name"] for b in s3.list_buckets()["Buckets"])
    return tuple(sorted(versions)), tuple(buckets), len(stage.local_aws.jobs)


@pytest.mark.parametrize(("action", "error", "message"), CASES)
def test_bad_input_fails_clearly_and_writes_nothing(
    stage: Stage, action: Callable[[Stage], Any], error: type[Exception], message: str
) -> None:
    started = time.monotonic()
    before = _snapshot(stage)
    with pytest.raises(error) as raised:
        action(stage)
    assert re.search(message, str(raised.value)), f"{str(raised.value)!r} does not match {message!r}"
    after = _snapshot(stage)
    FIGURES["cases"] += 1
    FIGURES["seconds"] += time.monotonic() - started
    FIGURES["objects_checked"] += len(before[0])
    FIGURES["changed"] += sum(1 for item in before[0] if item not in after[0]) + abs(
        len(after[0]) - len(before[0])
    )
    assert after == before


def test_bad_input_table_is_large_and_distinct(stage: Stage, reliability: Any) -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids)) >= 40
    assert FIGURES["cases"] == len(CASES), "run the whole table (the figures are collected from it)"
    final = _snapshot(stage, all_tags=True)
    assert final == stage.initial  # every version's tags too, after the whole table
    reliability.record(
        name="Bad input (table of invalid inputs)",
        faults=f"{len(CASES)} distinct invalid inputs: tags, object refs, buckets, manifests, inventory "
        "reports, ARNs, account ids, report settings, conflicting parameters, mistyped templates, undo logs",
        faults_injected=len(CASES),
        objects_checked=FIGURES["objects_checked"],
        objects_lost=FIGURES["changed"],
        seconds=FIGURES["seconds"],
        notes=(
            "Each input raised an error naming the value and the rule (message asserted). Before and after "
            "each: every object version of the staging bucket (key, version, ETag), the tags of the objects "
            "the cases name, the bucket list and the emulator's job count; before and after the whole "
            "table: the tags of every object version too. No object, version, tag or job was written."
        ),
    )
