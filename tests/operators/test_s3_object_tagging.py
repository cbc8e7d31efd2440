"""S3PutObjectTaggingOperator and S3RestoreObjectTaggingOperator against moto's in-process S3.

moto's in-process ``mock_aws`` serves boto3 only (aiobotocore cannot use it), so these tests run the
operators on ``engine="threads"``; the default ``asyncio`` engine is tested against the local
stand-in in tests/hooks and the end-to-end DAG tests."""

from __future__ import annotations

import inspect
import io
import re
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.common.compat.sdk import AirflowException
from moto import mock_aws

from airflow_s3_batch_tagging.errors import (
    InvalidObjectRefError,
    InvalidTagError,
    ManifestError,
    S3TaggingInputError,
)
from airflow_s3_batch_tagging.manifest import write_csv_manifest
from airflow_s3_batch_tagging.objects import ObjectRef
from airflow_s3_batch_tagging.operators.s3_object_tagging import (
    S3PutObjectTaggingOperator,
    S3RestoreObjectTaggingOperator,
    _DirectTaggingOperator,
    plan_batches,
)

BUCKET = "tagging-bucket"
VERSIONED = "tagging-versioned"
ORIGINAL = {"owner": "team-a", "tier": "hot"}


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.create_bucket(Bucket=VERSIONED)
        client.put_bucket_versioning(Bucket=VERSIONED, VersioningConfiguration={"Status": "Enabled"})
        yield client


def put(client: Any, key: str, tags: dict[str, str] | None = None, bucket: str = BUCKET) -> str | None:
    tagging = "&".join(f"{k}={v}" for k, v in (tags or {}).items())
    return client.put_object(Bucket=bucket, Key=key, Body=b"x", Tagging=tagging).get("VersionId")


def tags_of(client: Any, key: str, bucket: str = BUCKET, version_id: str | None = None) -> dict[str, str]:
    kwargs = {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}
    return {t["Key"]: t["Value"] for t in client.get_object_tagging(**kwargs)["TagSet"]}


def context(try_number: int = 1, map_index: int = -1, task_id: str = "tag") -> Any:
    """A task context whose ``ti.xcom_push`` records into ``ti.xcoms``."""
    xcoms: dict[str, Any] = {}
    ti = SimpleNamespace(
        dag_id="retag",
        run_id="manual__1",
        task_id=task_id,
        map_index=map_index,
        try_number=try_number,
        xcoms=xcoms,
        xcom_push=lambda key, value: xcoms.__setitem__(key, value),
    )
    return {"ti": ti}


def tagger(**kwargs: Any) -> S3PutObjectTaggingOperator:
    kwargs.setdefault("task_id", "tag")
    kwargs.setdefault("engine", "threads")
    kwargs.setdefault("concurrency", 4)
    return S3PutObjectTaggingOperator(aws_conn_id=None, region_name="us-east-1", **kwargs)


def restorer(**kwargs: Any) -> S3RestoreObjectTaggingOperator:
    kwargs.setdefault("engine", "threads")
    return S3RestoreObjectTaggingOperator(
        task_id="restore", aws_conn_id=None, region_name="us-east-1", **kwargs
    )


def test_templated_fields_and_renderers() -> None:
    op = tagger(objects=[], tags={"a": "b"})
    for name in ("objects", "tags", "mode", "bucket", "expected_bucket_owner", "dry_run", "undo_log",
                 "aws_conn_id", "region_name"):  # fmt: skip
        assert name in op.template_fields
        assert hasattr(op, name)
    assert op.template_fields_renderers["tags"] == "json"
    assert "undo_log" in restorer(undo_log="s3://x-bucket/u/").template_fields


def test_the_constructor_only_stores_its_arguments() -> None:
    op = tagger(objects="{{ ti.xcom_pull('list') }}", tags="{{ params.tags }}", mode="{{ params.mode }}")
    assert op.objects == "{{ ti.xcom_pull('list') }}"
    assert op.mode == "{{ params.mode }}"


def _documented(operator: type) -> set[str]:
    return set(re.findall(r":param (\w+):", operator.__doc__ or ""))


def _declared(operator: type) -> set[str]:
    """Keyword parameters of the operator's constructor and its bases' down to ``AwsBaseOperator``."""
    return {
        name
        for klass in operator.__mro__[: operator.__mro__.index(AwsBaseOperator) + 1]
        for name, param in inspect.signature(klass.__init__).parameters.items()
        if param.kind is inspect.Parameter.KEYWORD_ONLY
    }


@pytest.mark.parametrize("operator", [S3PutObjectTaggingOperator, S3RestoreObjectTaggingOperator])
def test_signature_via_the_base_is_the_documented_one(operator: type) -> None:
    # ``region`` is AwsBaseOperator's internal alias of ``region_name``, documented there only.
    assert _documented(operator) == _declared(operator) - {"region"}
    # The shared parameters are declared once, on the base; each operator adds only its own.
    own = set(inspect.signature(operator.__init__).parameters) - {"self", "kwargs"}
    assert own.isdisjoint(inspect.signature(_DirectTaggingOperator.__init__).parameters)


@pytest.mark.parametrize("operator", [S3PutObjectTaggingOperator, S3RestoreObjectTaggingOperator])
def test_every_documented_parameter_is_stored(operator: type) -> None:
    given = {name: f"value-of-{name}" for name in _documented(operator)} | {"task_id": "t"}
    op = operator(**given)
    for name in _documented(operator) - {"aws_conn_id", "region_name", "verify", "botocore_config"}:
        assert getattr(op, name) == f"value-of-{name}", name
    own = {"objects": []} if "objects" in given else {"undo_log": "x"}
    # Airflow 3 raises TypeError for an unknown keyword, Airflow 2.11 AirflowException.
    with pytest.raises((TypeError, AirflowException), match="unknown_parameter"):
        operator(task_id="t", unknown_parameter=1, **own)


def test_tags_uris_keys_and_dicts_with_versions_and_tags(s3: Any) -> None:
    put(s3, "by-uri", ORIGINAL)
    put(s3, "bare key", ORIGINAL)
    put(s3, "own", ORIGINAL)
    old_version = put(s3, "doc", ORIGINAL, bucket=VERSIONED)
    put(s3, "doc", {"latest": "1"}, bucket=VERSIONED)
    objects = [
        f"s3://{BUCKET}/by-uri",
        "bare key",
        {"bucket": BUCKET, "key": "own", "tags": {"own": "yes"}},
        {"bucket": VERSIONED, "key": "doc", "version_id": old_version},
    ]
    result = tagger(objects=objects, bucket=BUCKET, tags={"tier": "cold"}, mode="merge").execute(context())
    assert (result["total"], result["changed"], result["failed"]) == (4, 4, 0)
    assert result["undo_log"] is None
    assert tags_of(s3, "by-uri") == {"owner": "team-a", "tier": "cold"}
    assert tags_of(s3, "bare key") == {"owner": "team-a", "tier": "cold"}
    assert tags_of(s3, "own") == {**ORIGINAL, "own": "yes"}
    assert tags_of(s3, "doc", VERSIONED, old_version) == {"owner": "team-a", "tier": "cold"}
    assert tags_of(s3, "doc", VERSIONED) == {"latest": "1"}


def test_remove_takes_a_list_of_keys_and_delete_needs_no_tags(s3: Any) -> None:
    put(s3, "a", ORIGINAL)
    put(s3, "b", ORIGINAL)
    tagger(objects=["a"], bucket=BUCKET, tags=["tier"], mode="remove").execute(context())
    tagger(objects=["b"], bucket=BUCKET, mode="delete").execute(context())
    assert tags_of(s3, "a") == {"owner": "team-a"}
    assert tags_of(s3, "b") == {}


def test_dry_run_from_a_template_string_writes_nothing(s3: Any) -> None:
    put(s3, "a", ORIGINAL)
    result = tagger(
        objects=["a"], bucket=BUCKET, tags={"x": "1"}, dry_run="True", undo_log=f"s3://{BUCKET}/undo/"
    ).execute(context())
    assert result["dry_run"] is True
    assert (result["changed"], result["written"]) == (1, 0)
    assert tags_of(s3, "a") == ORIGINAL
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="undo/")["KeyCount"] == 0


def _bad_inputs() -> list[Any]:
    return [
        pytest.param({"tags": {"aws:reserved": "1"}}, InvalidTagError, "reserved", id="invalid-tag"),
        pytest.param(
            {"tags": {f"k{i}": "v" for i in range(11)}}, InvalidTagError, "at most 10", id="11-tags"
        ),
        pytest.param({"tags": None, "mode": "merge"}, InvalidTagError, "needs tags", id="mode-needs-tags"),
        pytest.param({"tags": {}}, InvalidTagError, "needs at least one tag", id="empty-tags"),
        pytest.param({"tags": [], "mode": "remove"}, InvalidTagError, "needs at least one", id="no-keys"),
        pytest.param({"tags": "tier"}, InvalidTagError, "got the string", id="string-tags"),
        pytest.param({"mode": "upsert"}, InvalidTagError, "'upsert'", id="bad-mode"),
        pytest.param({"mode": "delete"}, InvalidTagError, "Conflicting parameters", id="delete-with-tags"),
        pytest.param(
            {"mode": "delete", "tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]},
            InvalidTagError,
            "Conflicting parameters",
            id="delete-with-boto-tag-list",
        ),
        pytest.param(
            {"objects": ["ok-1", {"bucket": BUCKET}]},
            InvalidObjectRefError,
            "entry #1",
            id="entry-without-key",
        ),
        pytest.param(
            {"objects": ["ok-1", {"key": "ok-2", "tags": {"bad tag!": "x"}}]},
            InvalidTagError,
            "entry #1",
            id="bad-own-tags",
        ),
        pytest.param(
            {"objects": [f"s3://{BUCKET}/ok-1", 42]}, InvalidObjectRefError, "42", id="not-an-entry"
        ),
        pytest.param({"objects": "ok-1"}, InvalidObjectRefError, "type str", id="string-objects"),
        pytest.param(
            {
                "objects": {
                    "manifest": f"s3://{BUCKET}/missing.csv",
                    "format": "S3BatchOperations_CSV_20180820",
                    "count": 2,
                    "byte_start": 0,
                    "byte_end": 20,
                    "etag": "abc",
                }
            },
            ManifestError,
            "does not exist",
            id="missing-manifest",
        ),
        pytest.param({"undo_log": "undo/"}, InvalidObjectRefError, "undo_log location", id="bad-undo-log"),
        pytest.param({"max_failure_ratio": 2}, S3TaggingInputError, "max_failure_ratio", id="bad-ratio"),
        pytest.param(
            {"max_failure_ratio": True}, S3TaggingInputError, "max_failure_ratio True", id="boolean-ratio"
        ),
        pytest.param(
            {"max_failed_objects": True},
            S3TaggingInputError,
            "max_failed_objects True",
            id="boolean-max-failed",
        ),
        pytest.param(
            {"max_failed_objects": -1}, S3TaggingInputError, "max_failed_objects", id="bad-max-failed"
        ),
        pytest.param({"dry_run": "perhaps"}, S3TaggingInputError, "dry_run", id="bad-dry-run"),
        pytest.param({"engine": "fibers"}, ValueError, "Invalid engine 'fibers'", id="bad-engine"),
        pytest.param({"concurrency": 0}, ValueError, "Invalid concurrency 0", id="bad-concurrency"),
        pytest.param(
            {"only_if_tags": "tier=hot"},
            InvalidTagError,
            "only_if_tags: got the string",
            id="string-condition",
        ),
        pytest.param({"only_if_tags": {"aws:x": "1"}}, InvalidTagError, "reserved", id="reserved-condition"),
        pytest.param({"unless_tag_keys": "legal-hold"}, InvalidTagError, "not a string", id="string-keys"),
        pytest.param({"unless_tag_keys": [""]}, InvalidTagError, "unless_tag_keys", id="empty-key-condition"),
        pytest.param(
            {"only_if_tags": {"hold": "no"}, "unless_tag_keys": ["hold"]},
            InvalidTagError,
            "Conflicting conditions",
            id="conflicting-conditions",
        ),
    ]


@pytest.mark.parametrize(("overrides", "error", "message"), _bad_inputs())
def test_bad_input_fails_before_any_write(
    s3: Any, overrides: dict[str, Any], error: type[Exception], message: str
) -> None:
    put(s3, "ok-1", ORIGINAL)
    put(s3, "ok-2", ORIGINAL)
    kwargs: dict[str, Any] = {"objects": ["ok-1", "ok-2"], "bucket": BUCKET, "tags": {"tier": "cold"}}
    kwargs.update(overrides)
    with pytest.raises(error, match=message):
        tagger(**kwargs).execute(context())
    assert tags_of(s3, "ok-1") == ORIGINAL
    assert tags_of(s3, "ok-2") == ORIGINAL


def test_delete_with_per_object_tags_is_a_conflict(s3: Any) -> None:
    put(s3, "a", ORIGINAL)
    with pytest.raises(InvalidTagError, match="has its own tags"):
        tagger(objects=[{"key": "a", "tags": {"x": "1"}}], bucket=BUCKET, mode="delete").execute(context())
    assert tags_of(s3, "a") == ORIGINAL


def test_tolerance_exceeded_fails_after_every_object_was_tried(s3: Any) -> None:
    for key in ("a", "b", "c"):
        put(s3, key, ORIGINAL)
    objects = ["a", "missing-1", "b", "missing-2", "c"]
    with pytest.raises(AirflowException, match=r"2 of 5 objects .*missing-1: NoSuchKey") as raised:
        tagger(objects=objects, bucket=BUCKET, tags={"t": "1"}, max_failed_objects=1).execute(context())
    assert "missing-2: NoSuchKey" in str(raised.value)
    assert all(tags_of(s3, key) == {"t": "1"} for key in ("a", "b", "c"))


def test_failed_task_says_why_each_object_failed(s3: Any, capsys: pytest.CaptureFixture[str]) -> None:
    full = {f"k{i}": "v" for i in range(10)}  # S3's maximum: merging one more key cannot work
    put(s3, "full.csv", full)
    put(s3, "ok.csv", ORIGINAL)
    ctx = context()

    with pytest.raises(AirflowException) as raised:
        tagger(objects=["full.csv", "ok.csv"], bucket=BUCKET, tags={"reviewed": "yes"}, mode="merge").execute(
            ctx
        )

    why = "Cannot merge tags into s3://tagging-bucket/full.csv: it has 10 tags and the merge adds 1"
    assert f"s3://{BUCKET}/full.csv: InvalidTag ({why}" in str(raised.value)
    logged = [line for line in capsys.readouterr().out.splitlines() if "Failed: " in line]
    assert len(logged) == 1
    assert why in logged[0]
    result = ctx["ti"].xcoms["return_value"]  # left for a person or an all_done task to read
    assert (result["total"], result["changed"], result["failed"]) == (2, 1, 1)
    assert result["first_failures"][0]["code"] == "InvalidTag"
    assert result["first_failures"][0]["message"].startswith(why)
    assert tags_of(s3, "full.csv") == full
    assert tags_of(s3, "ok.csv") == {**ORIGINAL, "reviewed": "yes"}


def test_failures_within_tolerance_return_the_result(s3: Any) -> None:
    put(s3, "a", ORIGINAL)
    result = tagger(objects=["a", "missing"], bucket=BUCKET, tags={"t": "1"}, max_failure_ratio=0.5).execute(
        context()
    )
    assert result["failed"] == 1
    assert result["failures_by_code"] == {"NoSuchKey": 1}
    assert result["first_failures"][0]["key"] == "missing"


def test_undo_then_restore_returns_originals_after_retry(s3: Any) -> None:
    keys = [f"obj-{i}" for i in range(8)]
    originals = {key: {"orig": key.replace("-", "")} for key in keys}
    originals["obj-3"] = {}
    for key in keys:
        put(s3, key, originals[key])
    undo = f"s3://{BUCKET}/undo/"
    # Try 1 dies after its first objects were re-tagged; try 2 (whose templated tags render
    # differently) then sees and logs those already-new tags as "previous".
    tagger(objects=keys[:4], bucket=BUCKET, tags={"new": "1"}, undo_log=undo, chunk_size=2).execute(
        context(try_number=1)
    )
    second = tagger(objects=keys, bucket=BUCKET, tags={"new": "2"}, undo_log=undo, chunk_size=2).execute(
        context(try_number=2)
    )
    assert second["undo_log"] == f"s3://{BUCKET}/undo/retag/manual__1/tag/unmapped/try-0002/"
    assert second["undo_log_parts"] == 4
    assert all(tags_of(s3, key) == {"new": "2"} for key in keys)

    result = restorer(undo_log=f"s3://{BUCKET}/undo/retag/manual__1/tag/").execute(context(task_id="restore"))
    assert (result["total"], result["changed"], result["failed"]) == (8, 8, 0)
    assert {key: tags_of(s3, key) for key in keys} == originals


def test_restore_takes_tagging_results_and_versions(s3: Any) -> None:
    old_version = put(s3, "doc", ORIGINAL, bucket=VERSIONED)
    put(s3, "doc", {"latest": "1"}, bucket=VERSIONED)
    objects = [{"bucket": VERSIONED, "key": "doc", "version_id": old_version}]
    results = [
        tagger(objects=objects, tags={"n": str(i)}, undo_log=f"s3://{BUCKET}/u/", task_id=f"tag{i}").execute(
            context(task_id=f"tag{i}", map_index=0)
        )
        for i in range(2)
    ]
    assert tags_of(s3, "doc", VERSIONED, old_version) == {"n": "1"}
    restored = restorer(undo_log=[results[0], None]).execute(context(task_id="restore"))
    assert restored["changed"] == 1
    assert tags_of(s3, "doc", VERSIONED, old_version) == ORIGINAL
    assert tags_of(s3, "doc", VERSIONED) == {"latest": "1"}


def test_restore_of_a_dry_run_result_does_nothing(s3: Any) -> None:
    result = restorer(undo_log={"undo_log": None, "dry_run": True}).execute(context())
    assert result["total"] == 0


def test_restore_from_a_missing_log_fails(s3: Any) -> None:
    with pytest.raises(S3TaggingInputError, match="No undo log parts"):
        restorer(undo_log=f"s3://{BUCKET}/nowhere/").execute(context())


def test_a_csv_manifest_range_tags_exactly_its_objects(s3: Any) -> None:
    refs = [ObjectRef(BUCKET, f"m/{i:02d} key") for i in range(7)]
    for ref in refs:
        put(s3, ref.key)
    body = io.BytesIO()
    write_csv_manifest(refs, body)
    s3.put_object(Bucket=BUCKET, Key="manifests/m.csv", Body=body.getvalue())
    batches = plan_batches(s3, manifest=f"s3://{BUCKET}/manifests/m.csv", batch_size=3, max_batches=10)
    assert [b["count"] for b in batches] == [3, 3, 1]
    result = tagger(objects=batches[1], tags={"batch": "2"}).execute(context(map_index=1))
    assert result["changed"] == 3
    assert [tags_of(s3, ref.key) for ref in refs] == [{}] * 3 + [{"batch": "2"}] * 3 + [{}]


def test_a_listing_range_tags_its_keys(s3: Any) -> None:
    for i in range(5):
        put(s3, f"logs/{i}")
    put(s3, "other/x")
    batches = plan_batches(s3, bucket=BUCKET, prefix="logs/", batch_size=2, max_batches=10)
    for index, batch in enumerate(batches):
        tagger(objects=batch, tags={"listed": "1"}).execute(context(map_index=index))
    assert all(tags_of(s3, f"logs/{i}") == {"listed": "1"} for i in range(5))
    assert tags_of(s3, "other/x") == {}


# -- conditions ---------------------------------------------------------------------------------------

HOT = {"owner": "team-a", "tier": "hot"}
CONDITION = {"only_if_tags": {"tier": "hot"}, "unless_tag_keys": ["legal-hold"]}
AFTER = {
    "replace": {"tier": "warm", "reviewed": "yes"},
    "merge": {"owner": "team-a", "tier": "warm", "reviewed": "yes"},
    "remove": {"owner": "team-a"},
    "delete": {},
}


def _condition_objects(s3: Any) -> tuple[list[Any], dict[str, dict[str, str]], dict[str, str | None]]:
    """Two matching objects (one a named old version) and four that are left alone."""
    before = {
        "hot": HOT,
        "cold": {"owner": "team-a", "tier": "cold"},
        "held": {**HOT, "legal-hold": "on"},
        "bare": {},
    }
    for key, tags in before.items():
        put(s3, key, tags)
    versions = {"hot-old": put(s3, "doc", HOT, bucket=VERSIONED)}
    put(s3, "doc", {"tier": "cold"}, bucket=VERSIONED)
    versions["cold-old"] = put(s3, "cold-doc", {"tier": "cold"}, bucket=VERSIONED)
    put(s3, "cold-doc", HOT, bucket=VERSIONED)
    objects: list[Any] = [*before]
    objects.append({"bucket": VERSIONED, "key": "doc", "version_id": versions["hot-old"]})
    objects.append({"bucket": VERSIONED, "key": "cold-doc", "version_id": versions["cold-old"]})
    return objects, before, versions


@pytest.mark.parametrize("mode", ["replace", "merge", "remove", "delete"])
def test_conditions_every_mode_then_restore_only_written(s3: Any, mode: str) -> None:
    objects, before, versions = _condition_objects(s3)
    tags: Any = {"replace": {"tier": "warm", "reviewed": "yes"}, "remove": ["tier"], "delete": None}.get(
        mode, {"tier": "warm", "reviewed": "yes"}
    )
    result = tagger(
        objects=objects, bucket=BUCKET, tags=tags, mode=mode, undo_log=f"s3://{BUCKET}/undo/", **CONDITION
    ).execute(context())

    assert (result["total"], result["changed"], result["skipped_by_condition"]) == (6, 2, 4)
    assert (result["written"], result["failed"]) == (2, 0)
    assert tags_of(s3, "hot") == AFTER[mode]
    assert tags_of(s3, "doc", VERSIONED, versions["hot-old"]) == AFTER[mode]
    for key, tags_before in before.items():
        if key != "hot":
            assert tags_of(s3, key) == tags_before
    assert tags_of(s3, "doc", VERSIONED) == {"tier": "cold"}
    assert tags_of(s3, "cold-doc", VERSIONED, versions["cold-old"]) == {"tier": "cold"}
    assert tags_of(s3, "cold-doc", VERSIONED) == HOT

    # Someone else re-tags a skipped object: the restore must leave it alone, as the run did.
    s3.put_object_tagging(Bucket=BUCKET, Key="cold", Tagging={"TagSet": [{"Key": "by", "Value": "other"}]})
    restored = restorer(undo_log=result).execute(context(task_id="restore"))
    assert (restored["total"], restored["changed"], restored["failed"]) == (2, 2, 0)
    assert tags_of(s3, "hot") == HOT
    assert tags_of(s3, "doc", VERSIONED, versions["hot-old"]) == HOT
    assert tags_of(s3, "cold") == {"by": "other"}


def test_conditions_in_a_dry_run_count_and_write_nothing(s3: Any) -> None:
    objects, before, versions = _condition_objects(s3)
    result = tagger(
        objects=objects,
        bucket=BUCKET,
        tags={"tier": "warm"},
        mode="merge",
        dry_run=True,
        undo_log=f"s3://{BUCKET}/undo/",
        **CONDITION,
    ).execute(context())
    assert (result["dry_run"], result["changed"], result["skipped_by_condition"]) == (True, 2, 4)
    assert (result["written"], result["undo_log"]) == (0, None)
    assert {key: tags_of(s3, key) for key in before} == before
    assert tags_of(s3, "doc", VERSIONED, versions["hot-old"]) == HOT
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="undo/")["KeyCount"] == 0


def test_conditions_are_logged_with_the_skipped_count(s3: Any, capsys: pytest.CaptureFixture[str]) -> None:
    put(s3, "hot", HOT)
    put(s3, "cold", {"tier": "cold"})
    tagger(objects=["hot", "cold"], bucket=BUCKET, tags={"x": "1"}, mode="merge", **CONDITION).execute(
        context()
    )
    out = capsys.readouterr().out
    assert "Condition: only objects carrying all of tier=hot and carrying none of the keys legal-hold" in out
    assert "changed=1 unchanged=0 skipped=0 skipped_by_condition=1 failed=0" in out


def test_conditions_only_if_or_unless_alone(s3: Any) -> None:
    put(s3, "hot", HOT)
    put(s3, "held", {"legal-hold": "on"})
    only = tagger(objects=["hot", "held"], bucket=BUCKET, tags={"x": "1"}, only_if_tags={"owner": "team-a"})
    assert only.execute(context())["skipped_by_condition"] == 1
    assert (tags_of(s3, "hot"), tags_of(s3, "held")) == ({"x": "1"}, {"legal-hold": "on"})
    unless = tagger(objects=["hot", "held"], bucket=BUCKET, tags={"y": "1"}, unless_tag_keys=["legal-hold"])
    assert unless.execute(context())["skipped_by_condition"] == 1
    assert (tags_of(s3, "hot"), tags_of(s3, "held")) == ({"y": "1"}, {"legal-hold": "on"})


def test_restore_with_a_condition_leaves_held_objects(s3: Any) -> None:
    for key in ("a", "b"):
        put(s3, key, HOT)
    result = tagger(
        objects=["a", "b"], bucket=BUCKET, tags={"tier": "cold"}, undo_log=f"s3://{BUCKET}/u/"
    ).execute(context())
    s3.put_object_tagging(Bucket=BUCKET, Key="b", Tagging={"TagSet": [{"Key": "legal-hold", "Value": "on"}]})
    restored = restorer(undo_log=result, unless_tag_keys=["legal-hold"]).execute(context(task_id="restore"))
    assert (restored["changed"], restored["skipped_by_condition"]) == (1, 1)
    assert (tags_of(s3, "a"), tags_of(s3, "b")) == (HOT, {"legal-hold": "on"})


def test_condition_parameters_are_templated(s3: Any) -> None:
    for operator in (tagger(objects=[], **CONDITION), restorer(undo_log="s3://x-bucket/u/", **CONDITION)):
        assert {"only_if_tags", "unless_tag_keys"} <= set(operator.template_fields)
        assert operator.template_fields_renderers["only_if_tags"] == "json"
    op = tagger(
        objects=["hot"], only_if_tags={"tier": "{{ params.tier }}"}, unless_tag_keys=["{{ params.key }}"]
    )
    rendered = op.render_template(
        {"only_if_tags": op.only_if_tags, "unless_tag_keys": op.unless_tag_keys},
        {"params": {"tier": "hot", "key": "legal-hold"}},
    )
    assert rendered == {"only_if_tags": {"tier": "hot"}, "unless_tag_keys": ["legal-hold"]}
