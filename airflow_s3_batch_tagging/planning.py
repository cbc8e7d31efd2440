"""Batches for the direct path: plan a manifest into small batch references, and read them back.

A batch is what one mapped ``S3PutObjectTaggingOperator`` task tags. From an upstream list it is a
slice of that list. From a file manifest or a listing it is a small reference, never the keys:

- a CSV manifest: a ``ManifestRange`` (byte range of whole lines, pinned by the manifest's ETag;
  read back with a ranged GET and ``IfMatch``);
- an S3 Inventory report: a ``ManifestRange`` naming one data file (pinned by its ETag) and the
  ``start``/``count`` of its objects;
- a bucket listing: a ``ListingRange``, the keys after ``start_after`` up to ``last_key``.

The number of batches is capped (Airflow's ``[core] max_map_length``) by growing the batch size.
Plain Python over a boto3-compatible S3 client.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from airflow_s3_batch_tagging.errors import InvalidObjectRefError, ManifestError, S3TaggingInputError, shorten
from airflow_s3_batch_tagging.manifest import (
    CSV_MANIFEST_FORMAT,
    INVENTORY_MANIFEST_FORMAT,
    InventoryManifest,
    ManifestRange,
    plan_csv_manifest_ranges,
    read_csv_manifest,
    read_inventory_csv,
    unquote_etag,
)
from airflow_s3_batch_tagging.objects import ObjectRef, S3Location, split_s3_uri, validate_bucket_name
from airflow_s3_batch_tagging.s3_errors import error_code, http_status, is_not_found
from airflow_s3_batch_tagging.tags import TagSet

if TYPE_CHECKING:
    from airflow_s3_batch_tagging.tagging_engine import TaggingItem

DEFAULT_BATCH_SIZE = 1000
DEFAULT_MAX_BATCHES = 1024
"""Airflow's default ``[core] max_map_length``."""


class BatchPlanningError(S3TaggingInputError):
    """The objects cannot be split into batches as asked."""


@dataclass(frozen=True, slots=True)
class ListingRange:
    """A batch of a bucket listing: keys below ``s3://bucket/prefix`` after ``start_after``, up to
    and including ``last_key`` (``count`` of them when planned)."""

    listing: str
    last_key: str
    count: int
    start_after: str | None = None

    def __post_init__(self) -> None:
        split_s3_uri(self.listing, what="listing URI")
        if self.count < 0:
            raise BatchPlanningError(f"Invalid listing range of {self.listing}: negative count.")

    def to_dict(self) -> dict[str, Any]:
        return {name: value for name, value in asdict(self).items() if value is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ListingRange:
        try:
            return cls(**data)
        except TypeError as err:
            raise BatchPlanningError(f"Invalid listing range {dict(data)!r}: {err}.") from None

    @classmethod
    def is_range(cls, data: object) -> bool:
        return isinstance(data, Mapping) and "listing" in data and "last_key" in data


# -- sizing -------------------------------------------------------------------------------------------


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _check_sizes(batch_size: int, max_batches: int, max_batch_size: int | None) -> None:
    """Check the sizes before any request (``True`` is not a size, although it is an int)."""
    if not _is_positive_int(batch_size):
        raise BatchPlanningError(f"Invalid batch_size {batch_size!r}: it must be a positive integer.")
    if not _is_positive_int(max_batches):
        raise BatchPlanningError(f"Invalid max_batches {max_batches!r}: it must be a positive integer.")
    if max_batch_size is not None and not _is_positive_int(max_batch_size):
        raise BatchPlanningError(
            f"Invalid max_batch_size {max_batch_size!r}: it must be a positive integer or None."
        )


def _too_large(needed: int, max_batch_size: int | None, total: int, max_batches: int) -> None:
    if max_batch_size is not None and needed > max_batch_size:
        raise BatchPlanningError(
            f"Cannot split {total} objects into at most {max_batches} batches (Airflow's "
            f"[core] max_map_length) of at most {max_batch_size} objects (max_batch_size): batches "
            f"would need {needed} objects. Raise max_map_length or max_batch_size."
        )


def _merge_groups(ranges: list[Any], max_batches: int, batch_size: int, max_batch_size: int | None) -> Any:
    """Group consecutive ranges so that at most ``max_batches`` remain."""
    if len(ranges) <= max_batches:
        return [[r] for r in ranges]
    group = math.ceil(len(ranges) / max_batches)
    total = sum(r.count for r in ranges)
    _too_large(group * batch_size, max_batch_size, total, max_batches)
    return [ranges[i : i + group] for i in range(0, len(ranges), group)]


def plan_list_batches(
    objects: Sequence[Any],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_batches: int = DEFAULT_MAX_BATCHES,
    max_batch_size: int | None = None,
) -> list[list[Any]]:
    """Split an upstream list of object entries into at most ``max_batches`` lists."""
    _check_sizes(batch_size, max_batches, max_batch_size)
    if isinstance(objects, str | bytes | Mapping) or not isinstance(objects, Sequence):
        raise BatchPlanningError(
            f"Invalid objects of type {type(objects).__name__}: expected a list of s3:// URIs, keys or dicts."
        )
    size = max(batch_size, math.ceil(len(objects) / max_batches))
    _too_large(size, max_batch_size, len(objects), max_batches)
    return [list(objects[i : i + size]) for i in range(0, len(objects), size)]


# -- S3 helpers ---------------------------------------------------------------------------------------


def _get_object(client: Any, uri: str, *, what: str, etag: str | None = None, **extra: Any) -> Any:
    """``GetObject`` with clear errors for a missing or changed object."""
    bucket, key = split_s3_uri(uri, what=what)
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key, **extra}
    if etag:
        kwargs["IfMatch"] = f'"{etag}"'
    try:
        return client.get_object(**kwargs)
    except ClientError as err:
        if is_not_found(err, bucket_too=True):
            raise ManifestError(f"The {what} {uri} does not exist ({error_code(err)}).") from None
        if error_code(err) == "PreconditionFailed" or http_status(err) == 412:
            raise ManifestError(
                f"The {what} {uri} changed since the batches were planned (its ETag is no longer {etag!r}); "
                "plan again."
            ) from None
        raise


def _etag(response: Mapping[str, Any]) -> str:
    return unquote_etag(response.get("ETag") or "")


# -- CSV manifests ------------------------------------------------------------------------------------


def plan_csv_manifest(
    client: Any,
    manifest: str,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_batches: int = DEFAULT_MAX_BATCHES,
    max_batch_size: int | None = None,
) -> list[dict[str, Any]]:
    """Scan a CSV manifest in S3 once and return ``ManifestRange`` dicts (byte ranges of lines)."""
    _check_sizes(batch_size, max_batches, max_batch_size)
    response = _get_object(client, manifest, what="CSV manifest")
    etag = _etag(response)
    ranges = list(
        plan_csv_manifest_ranges(
            response["Body"].iter_lines(chunk_size=1 << 16, keepends=True),
            manifest=manifest,
            batch_size=batch_size,
            etag=etag,
        )
    )
    merged = []
    for group in _merge_groups(ranges, max_batches, batch_size, max_batch_size):
        first, last = group[0], group[-1]
        merged.append(
            ManifestRange(
                manifest=manifest,
                format=CSV_MANIFEST_FORMAT,
                count=sum(r.count for r in group),
                start=first.start,
                byte_start=first.byte_start,
                byte_end=last.byte_end,
                first_line=first.first_line,
                etag=etag,
            ).to_dict()
        )
    return merged


def read_csv_range(client: Any, batch: ManifestRange) -> list[ObjectRef]:
    """The objects of one CSV manifest range: a ranged GET, pinned to the planned ETag."""
    if batch.byte_start is None or batch.byte_end is None:
        raise ManifestError(f"Invalid CSV manifest range of {batch.manifest}: it has no byte range.")
    if batch.byte_end <= batch.byte_start:
        return []
    response = _get_object(
        client,
        batch.manifest,
        what="CSV manifest",
        etag=batch.etag,
        Range=f"bytes={batch.byte_start}-{batch.byte_end - 1}",
    )
    body = response["Body"].read()
    refs = list(
        read_csv_manifest(
            body.splitlines(keepends=True), source=batch.manifest, first_line_number=batch.first_line
        )
    )
    if len(refs) != batch.count:
        raise ManifestError(
            f"The range of {batch.manifest} from line {batch.first_line} holds {len(refs)} objects, "
            f"but {batch.count} were planned; the manifest changed, plan again."
        )
    return refs


# -- S3 Inventory reports -----------------------------------------------------------------------------


def _read_inventory_manifest(client: Any, manifest: str) -> InventoryManifest:
    response = _get_object(client, manifest, what="S3 Inventory manifest")
    return InventoryManifest.from_json(response["Body"].read(), source=manifest)


def _open_inventory_file(
    client: Any, inventory: InventoryManifest, key: str, *, etag: str | None = None
) -> tuple[str, Mapping[str, Any], Iterator[ObjectRef]]:
    """``GetObject`` one data file of ``inventory``; return its URI, the response and its objects."""
    uri = f"s3://{inventory.destination_bucket}/{key}"
    response = _get_object(client, uri, what="S3 Inventory data file", etag=etag)
    objects = read_inventory_csv(
        response["Body"], inventory.file_schema, source=uri, compressed=key.endswith(".gz")
    )
    return uri, response, objects


def plan_inventory_manifest(
    client: Any,
    manifest: str,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_batches: int = DEFAULT_MAX_BATCHES,
    max_batch_size: int | None = None,
) -> list[dict[str, Any]]:
    """Count the objects of each data file of an S3 Inventory report and return ``ManifestRange``
    dicts: ``file`` with its ``etag``, and ``start``/``count`` within it. A batch never spans files."""
    _check_sizes(batch_size, max_batches, max_batch_size)
    inventory = _read_inventory_manifest(client, manifest)
    files: list[tuple[str, str, int]] = []
    for data_file in inventory.files:
        _uri, response, objects = _open_inventory_file(client, inventory, data_file.key)
        count = sum(1 for _ in objects)
        if count:
            files.append((data_file.key, _etag(response), count))
    if len(files) > max_batches:
        raise BatchPlanningError(
            f"The S3 Inventory report {manifest} has {len(files)} data files with objects, more than "
            f"the {max_batches} batches allowed (Airflow's [core] max_map_length); a batch never spans "
            "data files. Raise max_map_length."
        )
    total = sum(count for _, _, count in files)

    def batches_for(size: int) -> int:
        return sum(math.ceil(count / size) for _, _, count in files)

    size = batch_size
    if batches_for(size) > max_batches:
        # The smallest size that fits: batches_for() only decreases as the size grows.
        low, high = size, max((count for _, _, count in files), default=size)
        while low < high:
            middle = (low + high) // 2
            if batches_for(middle) <= max_batches:
                high = middle
            else:
                low = middle + 1
        size = low
    _too_large(size, max_batch_size, total, max_batches)
    ranges = []
    for key, etag, count in files:
        for start in range(0, count, size):
            ranges.append(
                ManifestRange(
                    manifest=manifest,
                    format=INVENTORY_MANIFEST_FORMAT,
                    count=min(size, count - start),
                    start=start,
                    file=key,
                    etag=etag,
                ).to_dict()
            )
    return ranges


def read_inventory_range(client: Any, batch: ManifestRange) -> list[ObjectRef]:
    """The objects of one S3 Inventory range: its data file (pinned to the planned ETag), sliced."""
    if not batch.file:
        raise ManifestError(f"Invalid S3 Inventory range of {batch.manifest}: it names no data file.")
    inventory = _read_inventory_manifest(client, batch.manifest)
    uri, _response, objects = _open_inventory_file(client, inventory, batch.file, etag=batch.etag)
    refs = list(islice(objects, batch.start, batch.start + batch.count))
    if len(refs) != batch.count:
        raise ManifestError(
            f"{uri} holds fewer objects than planned ({batch.start + len(refs)} < "
            f"{batch.start + batch.count}); plan again."
        )
    return refs


# -- listings -----------------------------------------------------------------------------------------


def _list_keys(client: Any, bucket: str, prefix: str, start_after: str | None) -> Iterator[str]:
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if start_after:
        kwargs["StartAfter"] = start_after
    try:
        for page in client.get_paginator("list_objects_v2").paginate(**kwargs):
            for item in page.get("Contents") or ():
                yield item["Key"]
    except ClientError as err:
        if is_not_found(err, bucket_too=True):
            raise ManifestError(f"Cannot list s3://{bucket}/{prefix}: {error_code(err)}.") from None
        raise


def plan_listing(
    client: Any,
    bucket: str,
    prefix: str = "",
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_batches: int = DEFAULT_MAX_BATCHES,
    max_batch_size: int | None = None,
) -> list[dict[str, Any]]:
    """List ``s3://bucket/prefix`` (paginated) and return ``ListingRange`` dicts of consecutive keys."""
    _check_sizes(batch_size, max_batches, max_batch_size)
    listing = S3Location(bucket, prefix).uri
    ranges: list[ListingRange] = []
    start_after: str | None = None
    count = 0
    last: str | None = None
    for key in _list_keys(client, bucket, prefix, None):
        count += 1
        last = key
        if count == batch_size:
            ranges.append(ListingRange(listing, key, count, start_after))
            start_after, count = key, 0
    if count and last is not None:
        ranges.append(ListingRange(listing, last, count, start_after))
    return [
        ListingRange(listing, group[-1].last_key, sum(r.count for r in group), group[0].start_after).to_dict()
        for group in _merge_groups(ranges, max_batches, batch_size, max_batch_size)
    ]


def max_map_length() -> int:
    """Airflow's ``[core] max_map_length``: the most mapped task instances one task may have."""
    # Imported here: the rest of the planning is plain Python, usable and tested without Airflow.
    from airflow.providers.common.compat.sdk import conf

    return conf.getint("core", "max_map_length", fallback=DEFAULT_MAX_BATCHES)


def plan_batches(
    client: Any = None,
    *,
    objects: Sequence[Any] | None = None,
    manifest: str | None = None,
    inventory_manifest: str | None = None,
    bucket: str | None = None,
    prefix: str = "",
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_batch_size: int | None = None,
    max_batches: int | None = None,
) -> list[Any]:
    """Split one source of objects into batches for ``S3PutObjectTaggingOperator.expand(objects=...)``.

    Exactly one source: ``objects`` (an upstream list; batches are slices of it), ``manifest`` (a CSV
    manifest URI), ``inventory_manifest`` (an S3 Inventory ``manifest.json`` URI) or ``bucket`` (with
    optional ``prefix``: a paginated listing). File manifests and listings give small references.
    ``max_batches`` defaults to Airflow's ``[core] max_map_length``; the batch size grows to fit.
    """
    sources = {
        "objects": objects is not None,
        "manifest": manifest is not None,
        "inventory_manifest": inventory_manifest is not None,
        "bucket": bucket is not None,
    }
    given = [name for name, present in sources.items() if present]
    if len(given) != 1:
        raise BatchPlanningError(
            "Give exactly one source of objects to plan: objects, manifest, inventory_manifest or bucket "
            f"(with prefix); got {', '.join(given) or 'none'}."
        )
    limit = max_batches if max_batches is not None else max_map_length()
    if objects is not None:
        return plan_list_batches(
            objects, batch_size=batch_size, max_batches=limit, max_batch_size=max_batch_size
        )
    if client is None:
        raise BatchPlanningError("Planning from a manifest or a listing needs an S3 client.")
    if manifest is not None:
        return plan_csv_manifest(
            client, manifest, batch_size=batch_size, max_batches=limit, max_batch_size=max_batch_size
        )
    if inventory_manifest is not None:
        return plan_inventory_manifest(
            client,
            inventory_manifest,
            batch_size=batch_size,
            max_batches=limit,
            max_batch_size=max_batch_size,
        )
    return plan_listing(
        client,
        validate_bucket_name(str(bucket)),
        prefix or "",
        batch_size=batch_size,
        max_batches=limit,
        max_batch_size=max_batch_size,
    )


def read_listing_range(client: Any, batch: ListingRange) -> list[ObjectRef]:
    """The objects of one listing range (as they are now: keys deleted since planning are absent)."""
    bucket, prefix = split_s3_uri(batch.listing, what="listing URI")
    refs = []
    for key in _list_keys(client, bucket, prefix, batch.start_after):
        if key > batch.last_key:
            break
        refs.append(ObjectRef(bucket, key))
    return refs


# -- batches into objects -----------------------------------------------------------------------------


def parse_object_entries(
    entries: Sequence[Any], *, default_bucket: str | None = None, tags_are_keys: bool = False
) -> list[TaggingItem]:
    """Parse an upstream list: ``s3://`` URIs, bare keys (with ``default_bucket``) or dicts with
    ``bucket``, ``key``, optional ``version_id`` and optional ``tags`` (for ``remove``: keys to drop)."""
    items: list[TaggingItem] = []
    for index, entry in enumerate(entries):
        own: TagSet | None = None
        try:
            ref = ObjectRef.parse(entry, default_bucket=default_bucket)
            if isinstance(entry, Mapping) and entry.get("tags") is not None:
                raw = entry["tags"]
                context = f"object {ref}"
                if tags_are_keys and not isinstance(raw, Mapping):
                    if isinstance(raw, str | bytes):
                        raise InvalidObjectRefError(
                            f"tags {raw!r} must be a list of tag keys or a dict, not a string"
                        )
                    own = TagSet.keys_only(raw, context=context)
                else:
                    own = TagSet.parse(raw, context=context)
        except S3TaggingInputError as err:
            raise type(err)(f"Invalid objects entry #{index} {shorten(repr(entry), 120)}: {err}") from None
        items.append((ref, own))
    return items


def read_batch(client: Any, batch: Mapping[str, Any]) -> list[ObjectRef]:
    """The objects of a batch reference (a ``ManifestRange`` or ``ListingRange`` dict)."""
    if ManifestRange.is_range(batch):
        manifest_range = ManifestRange.from_dict(batch)
        if manifest_range.format == CSV_MANIFEST_FORMAT:
            return read_csv_range(client, manifest_range)
        return read_inventory_range(client, manifest_range)
    if ListingRange.is_range(batch):
        return read_listing_range(client, ListingRange.from_dict(batch))
    raise BatchPlanningError(
        f"Invalid batch reference {shorten(repr(dict(batch)), 120)}: expected a manifest range "
        "(manifest, format, count, ...) or a listing range (listing, last_key, count, ...)."
    )


def is_batch_reference(value: object) -> bool:
    return ManifestRange.is_range(value) or ListingRange.is_range(value)
