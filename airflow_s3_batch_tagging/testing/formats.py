"""Manifests, inventories and completion reports as AWS reads and writes them, for the stand-in.

Each rule here comes from AWS's documentation or a real artifact (``tests/fidelity/corpus`` holds them,
each with its public source), and none from the product: the stand-in is the oracle the product's
own readers and writers are tested against, so its format code is written apart from theirs and the
two can disagree.

- Keys in S3 Inventory CSV files are form-encoded: a space is ``+``, a literal ``+`` is ``%2B``, ``=`` is
  ``%3D`` and ``/`` is kept (cloud-custodian#1997: "The S3 object key value supplied in S3 Inventory is
  URL-encoded with space encoded as plus"; rows of the public ``dandiarchive`` inventory). Every field is
  quoted, and ``manifest.json`` names each data file's checksum ``MD5checksum``.
- Batch Operations reads a CSV manifest's keys the same way (AWS documents only "URL-encoded" with a
  ``%20`` example; Yelp's write-up writes them ``quote_plus(key, safe="/")``).
- Completion report rows put the HTTP status before the error code, although the ``ReportSchema`` line
  of the report's ``manifest.json`` names them the other way round (the S3 user guide's example rows;
  a real restore-job row published by LINZ). Keys are form-encoded like the inventory's (LINZ decodes
  them so). Lines end in CRLF: LINZ's parser, which splits on LF, had to strip a trailing ``\\r``.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import io
import json
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote_plus, unquote_plus

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

CSV_MANIFEST_FORMAT = "S3BatchOperations_CSV_20180820"
INVENTORY_MANIFEST_FORMAT = "S3InventoryReport_CSV_20161130"
GENERATED_MANIFEST_FORMAT = "S3InventoryReport_CSV_20211130"
REPORT_FORMAT = "Report_CSV_20180820"
REPORT_SCHEMA = "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage"
"""The schema line AWS writes in a report's manifest.json (the rows swap its fifth and sixth names)."""
CSV_MANIFEST_FIELDS = frozenset({"Bucket", "Key", "VersionId", "Ignore"})
GENERATED_MANIFEST_SCHEMA = ("Bucket", "Key", "VersionId")


class S3Object(NamedTuple):
    """One object a job acts on."""

    bucket: str
    key: str
    version_id: str | None = None


class FormatError(ValueError):
    """A manifest AWS would refuse to read; the job fails with ``InvalidManifest``."""


def arn_resource(arn: str) -> str:
    """``arn:aws:s3:::bucket`` -> ``bucket``, ``arn:aws:s3:::bucket/key`` -> ``bucket/key``; anything
    else as it is (the job request was checked when the job was created)."""
    return arn.split(":::", 1)[-1]


def form_encode(key: str) -> str:
    """A key as S3 Inventory and completion reports write it: ``a b+c=d/e`` -> ``a+b%2Bc%3Dd/e``."""
    return quote_plus(key, safe="/")


def form_decode(field: str, *, where: str) -> str:
    """The key a form-encoded field names (``+`` a space, ``%XX`` a UTF-8 byte)."""
    try:
        return unquote_plus(field, errors="strict")
    except UnicodeDecodeError:
        raise FormatError(f"{where}: the key {field[:80]!r} does not decode to UTF-8.") from None


def _csv_rows(text: str) -> Iterable[list[str]]:
    return (row for row in csv.reader(io.StringIO(text, newline="")) if any(field.strip() for field in row))


def read_csv_manifest(body: bytes, fields: Sequence[str], *, where: str) -> list[S3Object]:
    """The objects of a CSV manifest whose columns are ``fields`` (``Bucket``, ``Key``, ``VersionId``,
    ``Ignore``, as ``Manifest.Spec.Fields`` names them)."""
    unknown = [name for name in fields if name not in CSV_MANIFEST_FIELDS]
    if unknown or "Bucket" not in fields or "Key" not in fields:
        raise FormatError(f"{where}: unusable manifest fields {list(fields)}.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError(f"{where} is not UTF-8.") from None
    bucket_at, key_at = fields.index("Bucket"), fields.index("Key")
    version_at = fields.index("VersionId") if "VersionId" in fields else None
    objects = []
    for number, row in enumerate(_csv_rows(text), start=1):
        if len(row) != len(fields):
            raise FormatError(f"{where} row {number}: {len(row)} fields where the job names {len(fields)}.")
        version_id = row[version_at].strip() if version_at is not None else ""
        key = form_decode(row[key_at], where=f"{where} row {number}")
        objects.append(S3Object(row[bucket_at].strip(), key, version_id or None))
    return objects


class InventoryManifest(NamedTuple):
    """What Batch Operations reads from an inventory's ``manifest.json``."""

    destination_bucket: str
    file_schema: tuple[str, ...]
    files: tuple[dict[str, Any], ...]


def read_inventory_manifest(body: bytes, *, where: str) -> InventoryManifest:
    """Parse an inventory ``manifest.json`` (only CSV inventories can be a Batch Operations manifest)."""
    try:
        document = json.loads(body)
    except ValueError:
        raise FormatError(f"{where} is not JSON.") from None
    if not isinstance(document, dict) or not isinstance(document.get("files"), list):
        raise FormatError(f"{where} is not an inventory manifest.")
    if document.get("fileFormat") != "CSV":
        raise FormatError(f"{where} lists a {document.get('fileFormat')} inventory; only CSV can be read.")
    schema = tuple(name.strip() for name in str(document.get("fileSchema", "")).split(","))
    if "Bucket" not in schema or "Key" not in schema:
        raise FormatError(f"{where}: the fileSchema {document.get('fileSchema')!r} lacks Bucket or Key.")
    destination = str(document.get("destinationBucket", ""))
    return InventoryManifest(arn_resource(destination), schema, tuple(document["files"]))


def read_inventory_csv(data: bytes, schema: Sequence[str], *, where: str) -> list[S3Object]:
    """The objects of one inventory data file (gzipped or not); delete markers are left out."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    bucket_at, key_at = schema.index("Bucket"), schema.index("Key")
    version_at = schema.index("VersionId") if "VersionId" in schema else None
    marker_at = schema.index("IsDeleteMarker") if "IsDeleteMarker" in schema else None
    objects = []
    for number, row in enumerate(_csv_rows(data.decode("utf-8")), start=1):
        if len(row) != len(schema):
            raise FormatError(f"{where} row {number}: {len(row)} fields, the schema names {len(schema)}.")
        if marker_at is not None and row[marker_at] == "true":
            continue
        version_id = row[version_at] if version_at is not None else ""
        key = form_decode(row[key_at], where=f"{where} row {number}")
        objects.append(S3Object(row[bucket_at], key, version_id or None))
    return objects


def write_inventory_csv(rows: Iterable[Sequence[str]], *, key_at: int = 1) -> bytes:
    """Inventory data rows as S3 Inventory writes them: every field quoted, the key form-encoded."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    for row in rows:
        fields = list(row)
        fields[key_at] = form_encode(fields[key_at])
        writer.writerow(fields)
    return buffer.getvalue().encode("utf-8")


def inventory_manifest_document(
    *,
    source_bucket: str,
    destination_bucket: str,
    schema: Sequence[str],
    files: Sequence[tuple[str, bytes]],
    version: str = "2016-11-30",
) -> dict[str, Any]:
    """An inventory ``manifest.json`` listing ``files`` (key and content), as the S3 user guide shows one."""
    return {
        "sourceBucket": source_bucket,
        "destinationBucket": f"arn:aws:s3:::{destination_bucket}",
        "version": version,
        "creationTimestamp": str(int(dt.datetime.now(dt.UTC).timestamp() * 1000)),
        "fileFormat": "CSV",
        "fileSchema": ", ".join(schema),
        "files": [
            {"key": key, "size": len(data), "MD5checksum": hashlib.md5(data).hexdigest()}
            for key, data in files
        ],
    }


class ReportRow(NamedTuple):
    """One task's line in a completion report."""

    obj: S3Object
    succeeded: bool
    http_status: int
    error_code: str
    message: str


def write_report_csv(rows: Iterable[ReportRow]) -> bytes:
    """Result rows as AWS writes them: ``Bucket, Key, VersionId, TaskStatus, HTTPStatusCode, ErrorCode,
    ResultMessage``, the key form-encoded, fields quoted only when they must be, CRLF line endings."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    for row in rows:
        writer.writerow(
            [
                row.obj.bucket,
                form_encode(row.obj.key),
                row.obj.version_id or "",
                "succeeded" if row.succeeded else "failed",
                str(row.http_status),
                row.error_code,
                row.message,
            ]
        )
    return buffer.getvalue().encode("utf-8")


def report_creation_date(moment: dt.datetime) -> str:
    """``2025-07-20T21:18:22.395320681Z``: real report manifests carry nanoseconds."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}000Z"


def report_manifest_document(results: Sequence[dict[str, str]], moment: dt.datetime) -> dict[str, Any]:
    """A completion report's ``manifest.json``, its keys in the order AWS writes them."""
    return {
        "Format": REPORT_FORMAT,
        "ReportCreationDate": report_creation_date(moment),
        "Results": list(results),
        "ReportSchema": REPORT_SCHEMA,
    }
