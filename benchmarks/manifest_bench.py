"""Manifest, report and planning measurements (run in a child process by ``benchmarks.child``)."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from itertools import cycle, islice
from typing import Any

from benchmarks.child import Measurement

BUCKET = "bench-bucket"
POOL_SIZE = 100_000
"""Distinct objects the writer cycles through: a fixed memory cost whatever the manifest size."""


def sample_key(index: int) -> str:
    """A realistic key; 1 in 5 needs URL encoding (a space, or non-ASCII letters)."""
    kind = index % 10
    if kind == 0:
        return f"photos/2024/summer holiday/IMG {index:07d}.jpg"
    if kind == 5:
        return f"données/été/rapport-{index:07d}.csv"
    return f"logs/2024/11/25/app-{index:08d}.log.gz"


def _pool(size: int) -> list[Any]:
    from airflow_s3_batch_tagging.objects import ObjectRef

    return [ObjectRef(BUCKET, sample_key(index)) for index in range(size)]


def manifest_write(count: int, path: str) -> dict[str, Any]:
    """``write_csv_manifest`` of ``count`` objects (cycled from a pool of ready ObjectRefs) to a file."""
    from airflow_s3_batch_tagging.manifest import write_csv_manifest

    pool = _pool(min(POOL_SIZE, count))
    with open(path, "wb") as fileobj:
        started = time.perf_counter()
        written = write_csv_manifest(islice(cycle(pool), count), fileobj)
        fileobj.flush()
        seconds = time.perf_counter() - started
    assert written == count
    with open(path, "rb") as fileobj:
        size = fileobj.seek(0, 2)
    return {"keys": count, "seconds": seconds, "keys_per_second": count / seconds, "bytes": size}


def manifest_write_from_strings(count: int, path: str) -> dict[str, Any]:
    """End to end: (bucket, key) strings -> validated ``ObjectRef`` -> ``write_csv_manifest``."""
    from airflow_s3_batch_tagging.manifest import write_csv_manifest
    from airflow_s3_batch_tagging.objects import ObjectRef

    keys = [sample_key(index) for index in range(min(POOL_SIZE, count))]

    def objects() -> Iterator[Any]:
        for key in islice(cycle(keys), count):
            yield ObjectRef(BUCKET, key)

    with open(path, "wb") as fileobj:
        started = time.perf_counter()
        written = write_csv_manifest(objects(), fileobj)
        seconds = time.perf_counter() - started
    assert written == count
    return {"keys": count, "seconds": seconds, "keys_per_second": count / seconds}


def manifest_read(path: str, expected: int) -> dict[str, Any]:
    """``read_csv_manifest`` of a whole file: URL-decoding and validating every object."""
    from airflow_s3_batch_tagging.manifest import read_csv_manifest

    with open(path, "rb") as fileobj:
        started = time.perf_counter()
        count = sum(1 for _ in read_csv_manifest(fileobj))
        seconds = time.perf_counter() - started
    if count != expected:
        raise AssertionError(f"read {count} objects from {path}, expected {expected}")
    return {"keys": count, "seconds": seconds, "keys_per_second": count / seconds}


def plan_csv(path: str, expected: int, batch_size: int) -> dict[str, Any]:
    """``plan_csv_manifest_ranges``: one pass over the manifest, one small descriptor per batch."""
    from airflow_s3_batch_tagging.manifest import plan_csv_manifest_ranges

    manifest = f"s3://{BUCKET}/manifests/bench/manifest.csv"
    etag = "0123456789abcdef0123456789abcdef-42"
    with open(path, "rb") as fileobj:
        started = time.perf_counter()
        descriptors = [
            r.to_dict()
            for r in plan_csv_manifest_ranges(fileobj, manifest=manifest, batch_size=batch_size, etag=etag)
        ]
        seconds = time.perf_counter() - started
    largest = max(len(json.dumps(d, separators=(",", ":"))) for d in descriptors)
    whole = len(json.dumps(descriptors, separators=(",", ":")))
    planned = sum(d["count"] for d in descriptors)
    if planned != expected:
        raise AssertionError(f"planned {planned} objects, expected {expected}")
    return {
        "keys": expected,
        "batches": len(descriptors),
        "seconds": seconds,
        "keys_per_second": expected / seconds,
        "largest_descriptor_bytes": largest,
        "all_descriptors_bytes": whole,
    }


_REPORT_ERRORS = (
    ("AccessDenied", 403, "Access Denied"),
    ("NoSuchKey", 404, "The specified key does not exist."),
    ("InvalidTag", 400, "The TagValue you have provided is invalid"),
)


def write_report_file(path: str, rows: int, *, failure_ratio: float = 0.02, seed: int = 7) -> None:
    """A completion-report result CSV with ``rows`` rows, a share of them failed (not measured)."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as out:
        lines: list[str] = []
        for index in range(rows):
            key = sample_key(index).replace(" ", "%20")
            if rng.random() < failure_ratio:
                code, status, message = rng.choice(_REPORT_ERRORS)
                lines.append(f"{BUCKET},{key},,failed,{code},{status},{code}: {message}\n")
            else:
                lines.append(f"{BUCKET},{key},,succeeded,,200,Successful\n")
            if len(lines) >= 4096:
                out.write("".join(lines))
                lines.clear()
        out.write("".join(lines))


def report_parse(path: str, expected: int) -> dict[str, Any]:
    """``read_report_csv`` into a ``ReportSummary``: what the batch path does with a finished job's report."""
    from airflow_s3_batch_tagging.report import ReportSummary, read_report_csv

    summary = ReportSummary()
    with open(path, "rb") as fileobj:
        started = time.perf_counter()
        summary.add_rows(read_report_csv(fileobj, source=path))
        seconds = time.perf_counter() - started
    if summary.rows_read != expected:
        raise AssertionError(f"read {summary.rows_read} report rows, expected {expected}")
    return {
        "rows": summary.rows_read,
        "failed": summary.failed,
        "seconds": seconds,
        "rows_per_second": summary.rows_read / seconds,
    }


MEASUREMENTS: dict[str, Measurement] = {
    "manifest_write": manifest_write,
    "manifest_write_from_strings": manifest_write_from_strings,
    "manifest_read": manifest_read,
    "plan_csv": plan_csv,
    "report_parse": report_parse,
}
