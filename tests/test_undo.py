"""The undo-log format: JSON-lines parts, per-try layout, first record per object wins."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from airflow_s3_batch_tagging.objects import ObjectRef, S3Location
from airflow_s3_batch_tagging.tags import TagSet
from airflow_s3_batch_tagging.undo import (
    UndoLogError,
    UndoLogWriter,
    UndoRecord,
    encode_undo_part,
    first_records,
    list_undo_parts,
    read_undo_log,
    read_undo_part,
    undo_task_location,
)


def test_a_part_round_trips_keys_versions_and_tags() -> None:
    records = [
        (ObjectRef("undo-bucket", 'dir/ä ö,"quoted"\nline'), {"k": "v", "é": "ü"}),
        (ObjectRef("undo-bucket", "versioned", "3HL4kqtJlcpXroDTDmJ"), {}),
    ]
    data = encode_undo_part(records)
    assert data.count(b"\n") == 2
    parsed = list(read_undo_part(data))
    assert [(r.ref, r.tags.to_dict()) for r in parsed] == [(ref, tags) for ref, tags in records]


def test_part_round_trips_unicode_line_separators() -> None:
    # json.dumps(ensure_ascii=False) writes these raw; str.splitlines() would cut the line at them.
    records = [
        (ObjectRef("undo-bucket", "a\u2028b\x85c\x1cd"), {"k": "v\u2029w"}),
        (ObjectRef("undo-bucket", "plain"), {"k": "v"}),
    ]
    parsed = list(read_undo_part(encode_undo_part(records)))
    assert [(r.ref, r.tags.to_dict()) for r in parsed] == [(ref, tags) for ref, tags in records]


def test_first_record_per_object_wins() -> None:
    first = UndoRecord(ObjectRef("undo-bucket", "a"), TagSet({"orig": "1"}))
    later = UndoRecord(ObjectRef("undo-bucket", "a"), TagSet({"new": "1"}))
    other_version = UndoRecord(ObjectRef("undo-bucket", "a", "v2"), TagSet({"v": "2"}))
    assert list(first_records([first, later, other_version])) == [first, other_version]


def test_task_location_separates_runs_tasks_maps_tries() -> None:
    base = S3Location("undo-bucket", "logs/undo")
    mapped = undo_task_location(base, dag_id="d", run_id="manual__2026-01-01T00:00:00+00:00", task_id="t",
                                map_index=7, try_number=2)  # fmt: skip
    assert mapped.uri == "s3://undo-bucket/logs/undo/d/manual__2026-01-01T00:00:00+00:00/t/map-7/try-0002/"
    unmapped = undo_task_location(base, dag_id="d", run_id="r", task_id="t", map_index=-1, try_number=11)
    assert unmapped.prefix == "logs/undo/d/r/t/unmapped/try-0011/"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "not valid JSON"),
        ('{"bucket": "undo-bucket", "key": "a"}', "expected an object"),
        ('{"bucket": "undo-bucket", "key": "a", "tags": {"aws:x": "1"}}', "reserved"),
        ('{"bucket": "UPPER", "key": "a", "tags": {}}', "bucket name"),
    ],
)
def test_malformed_lines_are_rejected_with_their_line_number(line: str, message: str) -> None:
    with pytest.raises(UndoLogError, match=rf"part.jsonl line 2: .*{message}"):
        list(read_undo_part(b"\n" + line.encode(), source="part.jsonl"))


@mock_aws
def test_parts_read_in_order_retry_keeps_original_tags() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="undo-bucket")
    base = S3Location("undo-bucket", "undo")
    first_try = UndoLogWriter(s3, undo_task_location(base, dag_id="d", run_id="r", task_id="t", map_index=0,
                                                     try_number=1))  # fmt: skip
    second_try = UndoLogWriter(s3, undo_task_location(base, dag_id="d", run_id="r", task_id="t", map_index=0,
                                                      try_number=2))  # fmt: skip
    a, b = ObjectRef("undo-bucket", "a"), ObjectRef("undo-bucket", "b")
    first_try.write_part([(a, {"orig": "a"})])
    second_try.write_part([(a, {"new": "1"}), (b, {"orig": "b"})])
    task_prefix = S3Location("undo-bucket", "undo/d/r/t/")
    assert [key.rsplit("/", 2)[-2] for key in list_undo_parts(s3, task_prefix)] == ["try-0001", "try-0002"]
    restored = {r.ref.key: r.tags.to_dict() for r in read_undo_log(s3, task_prefix)}
    assert restored == {"a": {"orig": "a"}, "b": {"orig": "b"}}


@mock_aws
def test_reading_a_missing_log_is_an_error() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="undo-bucket")
    with pytest.raises(UndoLogError, match="No undo log parts"):
        read_undo_log(s3, S3Location("undo-bucket", "nothing/"))
