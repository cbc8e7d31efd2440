"""The undo log of the direct path: previous tag sets, written to S3 before objects are re-tagged.

Layout: one prefix per task try, below the user's ``undo_log`` location::

    {undo_log}/{dag_id}/{run_id}/{task_id}/{map-N | unmapped}/try-0001/part-000000.jsonl

Each part is JSON lines, one object per line: ``{"bucket", "key", "version_id", "tags"}`` where
``tags`` is the object's tag set before the task changed it. A part is complete in S3 before any
object it lists is written. A retried task writes new parts under its own ``try-NNNN`` prefix; by
then some objects already carry the new tags, so its records show those. Restoring therefore keeps,
for each object, the first record in write order (parts sorted by time written, then key), which
is the original tag set.

Plain Python over a boto3-compatible S3 client.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_s3_batch_tagging.errors import S3TaggingInputError
from airflow_s3_batch_tagging.objects import ObjectRef, S3Location
from airflow_s3_batch_tagging.tags import TagSet

UNDO_PART_SUFFIX = ".jsonl"


class UndoLogError(S3TaggingInputError):
    """An undo log is missing or malformed."""


@dataclass(frozen=True, slots=True)
class UndoRecord:
    """One object's tag set before a tagging task changed it."""

    ref: ObjectRef
    tags: TagSet

    def to_json(self) -> str:
        return json.dumps(
            {
                "bucket": self.ref.bucket,
                "key": self.ref.key,
                "version_id": self.ref.version_id,
                "tags": self.tags.to_dict(),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, line: str, *, source: str = "undo log", line_number: int = 1) -> UndoRecord:
        try:
            data = json.loads(line)
        except ValueError as err:
            raise UndoLogError(f"{source} line {line_number}: not valid JSON: {err}.") from None
        if not isinstance(data, dict) or "tags" not in data or not isinstance(data["tags"], Mapping):
            raise UndoLogError(
                f"{source} line {line_number}: expected an object with bucket, key, version_id and tags."
            )
        try:
            ref = ObjectRef.from_dict(data)
            tags = TagSet.parse(data["tags"], context=str(ref))
        except S3TaggingInputError as err:
            raise UndoLogError(f"{source} line {line_number}: {err}") from None
        return cls(ref, tags)


def encode_undo_part(records: Iterable[tuple[ObjectRef, Mapping[str, str]]]) -> bytes:
    """JSON lines for ``(object, previous tags)`` pairs."""
    lines = [UndoRecord(ref, TagSet._trusted(dict(tags))).to_json() for ref, tags in records]
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""


def read_undo_part(data: bytes, *, source: str = "undo log part") -> Iterator[UndoRecord]:
    """The records of one part, in order; blank lines are skipped."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UndoLogError(f"{source} is not valid UTF-8.") from None
    # Split on "\n" only: str.splitlines() also breaks at U+2028, U+2029, U+0085 and other characters
    # that json.dumps(ensure_ascii=False) leaves raw inside keys and tag values.
    for line_number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            yield UndoRecord.from_json(line, source=source, line_number=line_number)


def first_records(records: Iterable[UndoRecord]) -> Iterator[UndoRecord]:
    """Keep the first record of each object (bucket, key, version id): its original tag set."""
    seen: set[tuple[str, str, str | None]] = set()
    for record in records:
        identity = (record.ref.bucket, record.ref.key, record.ref.version_id)
        if identity not in seen:
            seen.add(identity)
            yield record


def _segment(value: str) -> str:
    # Run ids and task ids never contain "/" in practice; keep the layout one level per field anyway.
    return str(value).replace("/", "_") or "_"


def undo_task_location(
    location: S3Location,
    *,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int | None,
    try_number: int,
) -> S3Location:
    """Where one task try writes its parts (a prefix ending in ``/``)."""
    mapped = f"map-{map_index}" if map_index is not None and map_index >= 0 else "unmapped"
    prefix = location.join(
        _segment(dag_id), _segment(run_id), _segment(task_id), mapped, f"try-{int(try_number):04d}"
    )
    return S3Location(location.bucket, prefix + "/")


class UndoLogWriter:
    """Writes the undo parts of one task try; each ``write_part`` is one ``PutObject``."""

    def __init__(self, client: Any, location: S3Location) -> None:
        self.client = client
        self.location = location
        self.parts_written = 0

    @property
    def uri(self) -> str:
        return self.location.uri

    def write_part(self, records: Iterable[tuple[ObjectRef, Mapping[str, str]]]) -> str:
        """Write ``(object, previous tags)`` records as the next part; return its URI."""
        key = self.location.join(f"part-{self.parts_written:06d}{UNDO_PART_SUFFIX}")
        self.client.put_object(
            Bucket=self.location.bucket,
            Key=key,
            Body=encode_undo_part(records),
            ContentType="application/x-ndjson",
        )
        self.parts_written += 1
        return f"s3://{self.location.bucket}/{key}"


def list_undo_parts(client: Any, location: S3Location) -> list[str]:
    """The part keys below ``location``, in write order (time written, then key)."""
    found: list[tuple[Any, str]] = []
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=location.bucket, Prefix=location.prefix):
        for item in page.get("Contents") or ():
            if item["Key"].endswith(UNDO_PART_SUFFIX):
                found.append((item["LastModified"], item["Key"]))
    found.sort()
    return [key for _, key in found]


def read_undo_log(client: Any, location: S3Location) -> list[UndoRecord]:
    """Every object's original tag set recorded below ``location`` (the first record per object).

    Raises ``UndoLogError`` when there is no part there or a part is malformed.
    """
    keys = list_undo_parts(client, location)
    if not keys:
        raise UndoLogError(f"No undo log parts (*{UNDO_PART_SUFFIX}) found under {location.uri}.")

    def records() -> Iterator[UndoRecord]:
        for key in keys:
            body = client.get_object(Bucket=location.bucket, Key=key)["Body"].read()
            yield from read_undo_part(body, source=f"s3://{location.bucket}/{key}")

    return list(first_records(records()))


__all__ = [
    "UNDO_PART_SUFFIX",
    "UndoLogError",
    "UndoLogWriter",
    "UndoRecord",
    "encode_undo_part",
    "first_records",
    "list_undo_parts",
    "read_undo_log",
    "read_undo_part",
    "undo_task_location",
]
