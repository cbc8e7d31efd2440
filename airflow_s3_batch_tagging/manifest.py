"""Manifests, streamed: S3 Batch Operations CSV manifests, S3 Inventory reports, and batches of them.

Everything here works on iterators and file objects so that memory stays flat however many objects
a manifest lists. Plain Python: the caller opens the S3 objects and hands over file objects.

CSV manifest format (``S3BatchOperations_CSV_20180820``): no header, one object per line,
``bucket,key[,versionId]``, keys URL-encoded (a space is ``%20``), version ids on every line or on
none (a line whose object has none then carries the literal ``null``).

Key encoding. S3 Inventory CSV files form-encode keys: a space is ``+`` and a literal ``+`` is ``%2B``
(cloud-custodian#1997 and its fix #1998; rows of the public ``dandiarchive`` inventory show
``dt%3D2024-05-07-01-00``). AWS documents CSV manifest keys only as "URL-encoded" with a ``%20``
example; no AWS page says how Batch Operations reads a ``+``. Yelp's write-up on tagging with Batch
Operations writes manifest keys ``quote_plus(key, safe="/")`` (a space as ``+``), and Batch Operations
reads inventory reports, which are form-encoded, as manifests. So every key read here, from a CSV
manifest or an inventory, is decoded as form-encoded (``+`` is a space), and keys written here use
``%20`` and ``%2B`` only, which mean the same under either reading.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import IO, Any, cast
from urllib.parse import quote, unquote

from airflow_s3_batch_tagging.errors import InvalidObjectRefError, ManifestError
from airflow_s3_batch_tagging.objects import ObjectRef, split_s3_uri

CSV_MANIFEST_FORMAT = "S3BatchOperations_CSV_20180820"
INVENTORY_MANIFEST_FORMAT = "S3InventoryReport_CSV_20161130"
NULL_VERSION_ID = "null"

_KEY_SAFE_CHARS = "/"
_ALREADY_SAFE_KEY = re.compile(r"[A-Za-z0-9_.\-~/]*").fullmatch
_BAD_PERCENT_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})").search
_WRITE_CHUNK_LINES = 4096


def unquote_etag(etag: object) -> str:
    """An ETag as a manifest location needs it: ``HeadObject``/``PutObject`` quote it, AWS wants it bare."""
    return str(etag).strip('"')


def manifest_spec(manifest_format: str, *, with_version_ids: bool = False) -> dict[str, Any]:
    """The ``Manifest.Spec`` of CreateJob: an S3 Inventory report gives only its format (its
    ``manifest.json`` lists the columns); a CSV manifest also the fields each line holds."""
    if manifest_format == INVENTORY_MANIFEST_FORMAT:
        return {"Format": manifest_format}
    fields = ["Bucket", "Key", "VersionId"] if with_version_ids else ["Bucket", "Key"]
    return {"Format": manifest_format, "Fields": fields}


def encode_manifest_key(key: str) -> str:
    """URL-encode a key for a CSV manifest: UTF-8 percent-encoding, ``/`` kept, a space as ``%20`` and a
    ``+`` as ``%2B``, so that the key reads the same whether ``+`` is decoded as a space or not."""
    if _ALREADY_SAFE_KEY(key):
        return key
    return quote(key, safe=_KEY_SAFE_CHARS, errors="surrogatepass")


def decode_manifest_key(field_value: str, *, source: str, line_number: int) -> str:
    """Decode a form-encoded manifest or inventory key (``+`` is a space, ``%XX`` a UTF-8 byte),
    rejecting malformed percent escapes and invalid UTF-8."""
    if "+" in field_value:
        field_value = field_value.replace("+", " ")
    if "%" not in field_value:
        return field_value
    if _BAD_PERCENT_ESCAPE(field_value):
        raise ManifestError(
            f"{source} line {line_number}: the key {field_value[:80]!r} has a malformed percent escape "
            "(keys in a manifest are URL-encoded, so a literal '%' is written '%25')."
        )
    try:
        return unquote(field_value, errors="strict")
    except UnicodeDecodeError:
        raise ManifestError(
            f"{source} line {line_number}: the key {field_value[:80]!r} does not URL-decode to valid UTF-8."
        ) from None


def write_csv_manifest(
    objects: Iterable[ObjectRef],
    fileobj: IO[bytes],
    *,
    with_version_ids: bool | None = None,
) -> int:
    """Write ``objects`` to ``fileobj`` as an S3 Batch Operations CSV manifest; return the count.

    :param with_version_ids: write the third column. None decides from the first object; an object
        met later that has a version id when the manifest has none is then an error (pass True).
        With version ids on, an object without one gets the literal ``null``.
    """
    count = 0
    lines: list[str] = []
    iterator = iter(objects)
    for obj in iterator:
        if with_version_ids is None:
            with_version_ids = obj.version_id is not None
        key = obj.key if _ALREADY_SAFE_KEY(obj.key) else encode_manifest_key(obj.key)
        if with_version_ids:
            lines.append(f"{obj.bucket},{key},{obj.version_id or NULL_VERSION_ID}\n")
        elif obj.version_id is not None:
            raise ManifestError(
                f"Object {obj} has a version id but the manifest is being written without version ids "
                f"(decided by its first object); pass with_version_ids=True to keep them."
            )
        else:
            lines.append(f"{obj.bucket},{key}\n")
        count += 1
        if len(lines) >= _WRITE_CHUNK_LINES:
            fileobj.write("".join(lines).encode("utf-8", "surrogatepass"))
            lines.clear()
    if lines:
        fileobj.write("".join(lines).encode("utf-8", "surrogatepass"))
    return count


def load_json_object(document: bytes | str | Mapping[str, Any], *, source: str) -> dict[str, Any]:
    """Return a JSON document (or an already parsed mapping) as a dict, or raise ``ManifestError``."""
    try:
        data = json.loads(document) if isinstance(document, bytes | str) else dict(document)
    except (ValueError, UnicodeDecodeError) as err:
        raise ManifestError(f"{source} is not valid JSON: {err}.") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{source} must be a JSON object, not {type(data).__name__}.")
    return data


def _split_csv_line(text: str) -> list[str]:
    if '"' not in text:
        return text.split(",")
    return next(csv.reader([text]))


def read_csv_manifest(
    fileobj: IO[bytes] | Iterable[bytes],
    *,
    source: str = "CSV manifest",
    first_line_number: int = 1,
) -> Iterator[ObjectRef]:
    """Yield the objects of an S3 Batch Operations CSV manifest, decoding keys with
    :func:`decode_manifest_key` (``+`` is a space).

    Accepts two or three columns (``bucket,key[,versionId]``), optionally CSV-quoted; blank lines are
    skipped. A malformed line raises ``ManifestError`` naming ``source`` and its line number.
    :param first_line_number: the line number of the first line read (for a byte range of a file).
    """
    line_number = first_line_number - 1
    for raw in fileobj:
        line_number += 1
        try:
            text = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise ManifestError(f"{source} line {line_number}: the line is not valid UTF-8.") from None
        if not text.strip():
            continue
        fields = _split_csv_line(text)
        if len(fields) not in (2, 3):
            raise ManifestError(
                f"{source} line {line_number}: expected 2 or 3 comma-separated fields "
                f"(bucket,key[,versionId]) but found {len(fields)} in {text[:120]!r}; "
                "commas inside keys must be URL-encoded as %2C."
            )
        bucket = fields[0].strip()
        key = decode_manifest_key(fields[1], source=source, line_number=line_number)
        version_id = fields[2].strip() if len(fields) == 3 else ""
        try:
            yield ObjectRef(bucket, key, version_id or None)
        except InvalidObjectRefError as err:
            raise ManifestError(f"{source} line {line_number}: {err}") from None


@dataclass(frozen=True, slots=True)
class InventoryFile:
    """One data file listed by an S3 Inventory ``manifest.json``."""

    key: str
    size: int | None = None
    md5_checksum: str | None = None


@dataclass(frozen=True, slots=True)
class InventoryManifest:
    """An S3 Inventory report's ``manifest.json``: where its CSV data files are and their columns."""

    source_bucket: str
    destination_bucket: str
    file_format: str
    file_schema: tuple[str, ...]
    files: tuple[InventoryFile, ...] = field(default_factory=tuple)

    @classmethod
    def from_json(
        cls, document: bytes | str | Mapping[str, Any], *, source: str = "inventory manifest"
    ) -> InventoryManifest:
        """Parse ``manifest.json``; only CSV inventory reports can be read here."""
        data = load_json_object(document, source=source)
        missing = [
            name
            for name in ("sourceBucket", "destinationBucket", "fileFormat", "fileSchema", "files")
            if name not in data
        ]
        if missing:
            raise ManifestError(f"{source} is not an S3 Inventory manifest: it lacks {', '.join(missing)}.")
        file_format = str(data["fileFormat"])
        if file_format.upper() != "CSV":
            raise ManifestError(
                f"{source} describes a {file_format} inventory; only CSV inventory reports are supported."
            )
        schema = tuple(column.strip() for column in str(data["fileSchema"]).split(","))
        for required in ("Bucket", "Key"):
            if required not in schema:
                raise ManifestError(
                    f"{source}: the fileSchema {data['fileSchema']!r} has no {required!r} column."
                )
        if not isinstance(data["files"], list | tuple):
            raise ManifestError(
                f"{source}: 'files' must be a list of data files, not {type(data['files']).__name__}."
            )
        files = []
        for entry in data["files"]:
            if not isinstance(entry, Mapping) or "key" not in entry:
                raise ManifestError(f"{source}: a 'files' entry {entry!r} has no 'key'.")
            files.append(InventoryFile(entry["key"], entry.get("size"), entry.get("MD5checksum")))
        destination = str(data["destinationBucket"])
        return cls(
            source_bucket=str(data["sourceBucket"]),
            destination_bucket=destination.removeprefix("arn:aws:s3:::"),
            file_format=file_format,
            file_schema=schema,
            files=tuple(files),
        )


def read_inventory_csv(
    fileobj: IO[bytes],
    file_schema: Iterable[str],
    *,
    source: str = "inventory file",
    compressed: bool = True,
    skip_delete_markers: bool = True,
) -> Iterator[ObjectRef]:
    """Yield the objects of one S3 Inventory CSV data file (gzipped unless ``compressed=False``).

    Columns are taken by the report's ``fileSchema``; keys are form-decoded (``+`` is a space, ``%2B`` a
    plus) by :func:`decode_manifest_key`; delete markers, which
    cannot be tagged, are skipped unless ``skip_delete_markers=False``.
    """
    schema = list(file_schema)
    bucket_at, key_at = schema.index("Bucket"), schema.index("Key")
    version_at = schema.index("VersionId") if "VersionId" in schema else None
    marker_at = schema.index("IsDeleteMarker") if "IsDeleteMarker" in schema else None
    binary: IO[bytes] = (
        cast("IO[bytes]", gzip.GzipFile(fileobj=fileobj, mode="rb")) if compressed else fileobj
    )
    text = io.TextIOWrapper(binary, encoding="utf-8", newline="")
    line_number = 0
    try:
        for row in csv.reader(text):
            line_number += 1
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != len(schema):
                raise ManifestError(
                    f"{source} line {line_number}: expected {len(schema)} columns ({', '.join(schema)}) "
                    f"but found {len(row)}."
                )
            if skip_delete_markers and marker_at is not None and row[marker_at].lower() == "true":
                continue
            key = decode_manifest_key(row[key_at], source=source, line_number=line_number)
            version_id = row[version_at] if version_at is not None else ""
            try:
                yield ObjectRef(row[bucket_at], key, version_id or None)
            except InvalidObjectRefError as err:
                raise ManifestError(f"{source} line {line_number}: {err}") from None
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as err:
        raise ManifestError(f"{source} line {line_number + 1}: cannot be read: {err}.") from None


@dataclass(frozen=True, slots=True)
class ManifestRange:
    """A batch of a file manifest, small enough for XCom: where the manifest is and which part of it.

    For a CSV manifest, ``byte_start``/``byte_end`` select whole lines (a ranged GET reads only them)
    and ``first_line`` is the line number of the first of them. For an S3 Inventory report, ``file``
    names the data file and ``start``/``count`` the objects of it. ``etag`` pins the manifest version
    that was planned, so a manifest changed since is detected rather than half read.
    """

    manifest: str
    format: str
    count: int
    start: int = 0
    byte_start: int | None = None
    byte_end: int | None = None
    first_line: int = 1
    file: str | None = None
    etag: str | None = None

    def __post_init__(self) -> None:
        split_s3_uri(self.manifest, what="manifest URI")
        if self.format not in (CSV_MANIFEST_FORMAT, INVENTORY_MANIFEST_FORMAT):
            raise ManifestError(
                f"Invalid manifest range format {self.format!r}: "
                f"expected {CSV_MANIFEST_FORMAT!r} or {INVENTORY_MANIFEST_FORMAT!r}."
            )
        if self.count < 0 or self.start < 0:
            raise ManifestError(f"Invalid manifest range of {self.manifest}: negative start or count.")

    def to_dict(self) -> dict[str, Any]:
        return {name: value for name, value in asdict(self).items() if value is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ManifestRange:
        try:
            return cls(**data)
        except TypeError as err:
            raise ManifestError(f"Invalid manifest range {dict(data)!r}: {err}.") from None

    @classmethod
    def is_range(cls, data: object) -> bool:
        """Whether ``data`` (an XCom value) looks like a serialized ``ManifestRange``."""
        return isinstance(data, Mapping) and "manifest" in data and "format" in data and "count" in data


def plan_csv_manifest_ranges(
    fileobj: IO[bytes] | Iterable[bytes],
    *,
    manifest: str,
    batch_size: int,
    etag: str | None = None,
) -> Iterator[ManifestRange]:
    """Scan a CSV manifest once and yield ranges of ``batch_size`` objects (blank lines not counted).

    Only line boundaries are looked at; each range is validated when it is read.
    """
    if batch_size < 1:
        raise ValueError(f"Batch size must be at least 1, got {batch_size}.")
    position = 0
    batch_start_byte = 0
    batch_first_line = 1
    in_batch = 0
    objects_before = 0
    for line_number, raw in enumerate(fileobj, start=1):
        if in_batch == 0:
            batch_start_byte = position
            batch_first_line = line_number
        position += len(raw)
        if raw.strip():
            in_batch += 1
            if in_batch == batch_size:
                yield ManifestRange(
                    manifest, CSV_MANIFEST_FORMAT, in_batch, objects_before,
                    batch_start_byte, position, batch_first_line, None, etag,
                )  # fmt: skip
                objects_before += in_batch
                in_batch = 0
    if in_batch:
        yield ManifestRange(
            manifest, CSV_MANIFEST_FORMAT, in_batch, objects_before,
            batch_start_byte, position, batch_first_line, None, etag,
        )  # fmt: skip
