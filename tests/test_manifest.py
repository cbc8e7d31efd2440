"""Tests of CSV manifests, S3 Inventory reports and batch ranges (airflow_s3_batch_tagging/manifest.py)."""

from __future__ import annotations

import gzip
import io
import json
import tracemalloc
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_s3_batch_tagging.errors import ManifestError
from airflow_s3_batch_tagging.manifest import (
    CSV_MANIFEST_FORMAT,
    INVENTORY_MANIFEST_FORMAT,
    InventoryManifest,
    ManifestRange,
    encode_manifest_key,
    manifest_spec,
    plan_csv_manifest_ranges,
    read_csv_manifest,
    read_inventory_csv,
    write_csv_manifest,
)
from airflow_s3_batch_tagging.objects import MAX_KEY_BYTES, ObjectRef


def _write(objects: list[ObjectRef], **kwargs: bool | None) -> bytes:
    buffer = io.BytesIO()
    assert write_csv_manifest(objects, buffer, **kwargs) == len(objects)  # type: ignore[arg-type]
    return buffer.getvalue()


def _read(data: bytes) -> list[ObjectRef]:
    return list(read_csv_manifest(io.BytesIO(data)))


def test_keys_are_url_encoded_with_percent_20_for_spaces() -> None:
    data = _write([ObjectRef("my-bucket", "photos/jpgs/photo one.jpg"), ObjectRef("my-bucket", "a+b,c%d")])
    assert data == b"my-bucket,photos/jpgs/photo%20one.jpg\nmy-bucket,a%2Bb%2Cc%25d\n"


def test_non_ascii_keys_are_percent_encoded_as_utf8() -> None:
    assert encode_manifest_key("données/é.csv") == "donn%C3%A9es/%C3%A9.csv"


def test_version_ids_on_every_line_null_where_missing() -> None:
    data = _write(
        [ObjectRef("my-bucket", "a", "v1"), ObjectRef("my-bucket", "b"), ObjectRef("my-bucket", "c", "null")]
    )
    assert data == b"my-bucket,a,v1\nmy-bucket,b,null\nmy-bucket,c,null\n"


def test_without_version_ids_two_columns_are_written() -> None:
    assert _write([ObjectRef("my-bucket", "a")]) == b"my-bucket,a\n"


def test_version_id_after_unversioned_start_names_object() -> None:
    with pytest.raises(ManifestError, match=r"s3://my-bucket/b \(version v2\).*with_version_ids=True"):
        _write([ObjectRef("my-bucket", "a"), ObjectRef("my-bucket", "b", "v2")])


def test_forcing_version_ids_writes_null_for_unversioned_objects() -> None:
    data = _write([ObjectRef("my-bucket", "a"), ObjectRef("my-bucket", "b", "v2")], with_version_ids=True)
    assert data == b"my-bucket,a,null\nmy-bucket,b,v2\n"


def test_read_decodes_keys_skips_blanks_accepts_crlf() -> None:
    data = b'my-bucket,photo%20one.jpg\r\n\n  \n"my-bucket","a%2Cb","v1"\nmy-bucket,plain+space%2Bplus,\n'
    assert _read(data) == [
        ObjectRef("my-bucket", "photo one.jpg"),
        ObjectRef("my-bucket", "a,b", "v1"),
        ObjectRef("my-bucket", "plain space+plus"),
    ]


def test_null_version_id_is_kept_as_the_null_version() -> None:
    assert _read(b"my-bucket,k,null\n") == [ObjectRef("my-bucket", "k", "null")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"my-bucket\n", "line 1: expected 2 or 3 comma-separated fields.*found 1"),
        (b"my-bucket,k\nmy-bucket,a,b,c\n", "line 2: expected 2 or 3.*found 4.*%2C"),
        (b"my-bucket,bad%zzkey\n", "line 1: the key 'bad%zzkey' has a malformed percent escape"),
        (b"my-bucket,trailing%2\n", "malformed percent escape"),
        (b"my-bucket,%C3%28\n", "does not URL-decode to valid UTF-8"),
        (b"my-bucket,\xff\xfe\n", "line 1: the line is not valid UTF-8"),
        (b"Bad_Bucket,k\n", "line 1: Invalid S3 bucket name 'Bad_Bucket'"),
        (b"my-bucket,\n", "line 1: Invalid S3 key ''"),
    ],
)
def test_malformed_lines_are_errors_with_their_line_number(data: bytes, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        _read(data)


def test_error_names_source_and_offsets_range_line_numbers() -> None:
    reader = read_csv_manifest(io.BytesIO(b"x\n"), source="s3://m/manifest.csv", first_line_number=41)
    with pytest.raises(ManifestError, match=r"^s3://m/manifest.csv line 41:"):
        list(reader)


def test_an_empty_manifest_yields_nothing() -> None:
    assert _read(b"") == []
    assert _read(b"\n\n") == []


hostile_keys = st.one_of(
    st.text(min_size=1, max_size=200).filter(
        lambda k: len(k.encode("utf-8", "surrogatepass")) <= MAX_KEY_BYTES
    ),
    st.sampled_from(
        [
            "with space",
            "plus+sign",
            "percent%41literal",
            "comma,key",
            'quote"key',
            "new\nline",
            "carriage\rreturn",
            "/leading/slash",
            "../../etc/passwd",
            "..",
            "tab\tkey",
            "ключ/数据/🙂",
            "x" * 1024,
            "é" * 512,
        ]
    ),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(keys=st.lists(hostile_keys, min_size=1, max_size=20), versioned=st.booleans())
def test_hostile_keys_round_trip_through_the_csv_manifest(keys: list[str], versioned: bool) -> None:
    objects = [ObjectRef("my-bucket", key, f"v{i}" if versioned else None) for i, key in enumerate(keys)]
    data = _write(objects)
    assert data.count(b"\n") == len(objects)  # one line per object, whatever the key holds
    assert _read(data) == objects


@given(keys=st.lists(hostile_keys, min_size=1, max_size=30), batch_size=st.integers(1, 7))
def test_planned_ranges_cover_every_object_exactly_once(keys: list[str], batch_size: int) -> None:
    data = _write([ObjectRef("my-bucket", key) for key in keys])
    ranges = list(
        plan_csv_manifest_ranges(io.BytesIO(data), manifest="s3://m-bucket/m.csv", batch_size=batch_size)
    )
    read_back: list[ObjectRef] = []
    for rng in ranges:
        assert rng.byte_start is not None
        assert rng.byte_end is not None
        chunk = data[rng.byte_start : rng.byte_end]
        part = list(read_csv_manifest(io.BytesIO(chunk), first_line_number=rng.first_line))
        assert len(part) == rng.count <= batch_size
        read_back.extend(part)
    assert read_back == [ObjectRef("my-bucket", key) for key in keys]


def test_ranges_skip_blank_lines_and_keep_physical_line_numbers() -> None:
    data = b"b-1,a\n\nb-1,b\nb-1,c\n"
    ranges = list(
        plan_csv_manifest_ranges(io.BytesIO(data), manifest="s3://m-bucket/m.csv", batch_size=2, etag="e1")
    )
    assert [(r.start, r.count, r.first_line) for r in ranges] == [(0, 2, 1), (2, 1, 4)]
    assert ranges[0].etag == "e1"
    assert ranges[0].format == CSV_MANIFEST_FORMAT


def test_manifest_range_round_trips_through_plain_data() -> None:
    rng = ManifestRange("s3://m-bucket/m.csv", CSV_MANIFEST_FORMAT, 10, 0, 0, 100, 1, None, "etag")
    data = rng.to_dict()
    assert "file" not in data
    assert json.loads(json.dumps(data)) == data
    assert ManifestRange.from_dict(data) == rng
    assert ManifestRange.is_range(data)
    assert not ManifestRange.is_range({"bucket": "b", "key": "k"})


def test_manifest_range_rejects_bad_fields() -> None:
    with pytest.raises(ManifestError, match="format 'parquet'"):
        ManifestRange("s3://m-bucket/m.csv", "parquet", 1)
    with pytest.raises(ManifestError, match="unexpected keyword"):
        ManifestRange.from_dict(
            {"manifest": "s3://m-bucket/m.csv", "format": CSV_MANIFEST_FORMAT, "count": 1, "x": 1}
        )


INVENTORY_MANIFEST = {
    "sourceBucket": "source-bucket",
    "destinationBucket": "arn:aws:s3:::inventory-bucket",
    "version": "2016-11-30",
    "creationTimestamp": "1514944800000",
    "fileFormat": "CSV",
    "fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size",
    "files": [{"key": "inv/data/one.csv.gz", "size": 10, "MD5checksum": "abc"}],
}


def test_inventory_manifest_is_parsed() -> None:
    manifest = InventoryManifest.from_json(json.dumps(INVENTORY_MANIFEST).encode())
    assert manifest.destination_bucket == "inventory-bucket"
    assert manifest.file_schema == ("Bucket", "Key", "VersionId", "IsLatest", "IsDeleteMarker", "Size")
    assert manifest.files[0].key == "inv/data/one.csv.gz"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"fileFormat": "Parquet"}, "Parquet inventory; only CSV"),
        ({"fileSchema": "Bucket, Size"}, "no 'Key' column"),
        ({"files": [{"size": 1}]}, "has no 'key'"),
        ({"files": None}, "'files' must be a list of data files, not NoneType"),
    ],
)
def test_inventory_manifest_errors_name_the_problem(change: dict[str, object], message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        InventoryManifest.from_json({**INVENTORY_MANIFEST, **change})


def test_inventory_manifest_not_json_or_incomplete_errors() -> None:
    with pytest.raises(ManifestError, match="not valid JSON"):
        InventoryManifest.from_json(b"{not json")
    with pytest.raises(ManifestError, match="lacks files"):
        InventoryManifest.from_json({k: v for k, v in INVENTORY_MANIFEST.items() if k != "files"})


def test_inventory_csv_read_by_schema_skipping_delete_markers() -> None:
    rows = (
        b'"source-bucket","a%20b.txt","v1","true","false","5"\n'
        b'"source-bucket","gone.txt","v2","true","true","0"\n'
        b'"source-bucket","c.txt","","true","false","7"\n'
    )
    schema = InventoryManifest.from_json(INVENTORY_MANIFEST).file_schema
    objects = list(read_inventory_csv(io.BytesIO(gzip.compress(rows)), schema))
    assert objects == [ObjectRef("source-bucket", "a b.txt", "v1"), ObjectRef("source-bucket", "c.txt")]


def test_inventory_csv_keys_are_form_decoded() -> None:
    # Synthetic rows in S3 Inventory's encoding (cloud-custodian#1997: space written "+", "+" as "%2B").
    rows = b'"source-bucket","reports/Q1+summary.pdf"\n"source-bucket","c%2B%2B/notes+v2.txt"\n'
    objects = list(read_inventory_csv(io.BytesIO(rows), ("Bucket", "Key"), compressed=False))
    assert [obj.key for obj in objects] == ["reports/Q1 summary.pdf", "c++/notes v2.txt"]


def test_csv_manifest_keys_read_same_under_either_plus_rule() -> None:
    data = _write([ObjectRef("my-bucket", "a b+c")])
    assert data == b"my-bucket,a%20b%2Bc\n"  # neither a raw space nor a raw "+" is written
    assert _read(data) == [ObjectRef("my-bucket", "a b+c")]


def test_inventory_csv_bad_columns_or_gzip_is_an_error() -> None:
    schema = ("Bucket", "Key", "Size")
    with pytest.raises(ManifestError, match="line 1: expected 3 columns"):
        list(read_inventory_csv(io.BytesIO(gzip.compress(b'"b-1","k"\n')), schema))
    with pytest.raises(ManifestError, match="cannot be read"):
        list(read_inventory_csv(io.BytesIO(b"not gzip at all"), schema, source="inv.csv.gz"))


def test_writing_and_reading_stream_without_holding_the_objects() -> None:
    """Memory stays flat: 200k objects are written and read back through generators."""

    def objects() -> Iterator[ObjectRef]:
        for i in range(200_000):
            yield ObjectRef("my-bucket", f"data/part {i:07d}.parquet")

    class CountingSink(io.RawIOBase):
        def __init__(self) -> None:
            self.size = 0

        def writable(self) -> bool:
            return True

        def write(self, b: object) -> int:
            n = len(b)  # type: ignore[arg-type]
            self.size += n
            return n

    tracemalloc.start()
    sink = CountingSink()
    assert write_csv_manifest(objects(), sink) == 200_000  # type: ignore[arg-type]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert sink.size > 200_000 * 30
    assert peak < 5_000_000, f"writing held {peak} bytes"


def test_manifest_spec_lists_csv_fields_and_no_inventory_fields() -> None:
    # CreateJob's JobManifestSpec: Fields (Ignore, Bucket, Key, VersionId) only for the CSV format.
    assert manifest_spec(CSV_MANIFEST_FORMAT) == {"Format": CSV_MANIFEST_FORMAT, "Fields": ["Bucket", "Key"]}
    versioned = manifest_spec(CSV_MANIFEST_FORMAT, with_version_ids=True)
    assert versioned["Fields"] == ["Bucket", "Key", "VersionId"]
    inventory = manifest_spec(INVENTORY_MANIFEST_FORMAT, with_version_ids=True)
    assert inventory == {"Format": INVENTORY_MANIFEST_FORMAT}
