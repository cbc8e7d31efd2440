"""Redrive measurements: a completion report of failed tasks streamed into a redrive manifest.

Run in a child process by ``benchmarks.child``, so the peak RSS is this measurement's own. The report
is a local file read in 1 MiB chunks, as the hook reads an S3 body (``iter_chunks``); the manifest goes
into ``StreamingUpload`` over ``PartSink``, an S3 client that keeps only the count and MD5 of the parts
it is sent: the figures are the product's own work (parse, filter, re-encode, part out), with no
network and no server in the way. Peak RSS flat from 1 million to 10 million rows is the point.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any

from benchmarks.child import Measurement
from benchmarks.manifest_bench import BUCKET, sample_key

_CODES = (("SlowDown", 503, "Please reduce your request rate."), ("AccessDenied", 403, "Access Denied"))
_CHUNK = 1024 * 1024


def write_failed_report(path: str, rows: int) -> None:
    """A result CSV of ``rows`` failed tasks as AWS writes them: status before code, keys form-encoded,
    CRLF; one in four is not retryable (not measured)."""
    from urllib.parse import quote_plus

    with open(path, "w", encoding="utf-8", newline="") as out:
        lines: list[str] = []
        for index in range(rows):
            code, status, message = _CODES[1 if index % 4 == 0 else 0]
            key = quote_plus(sample_key(index), safe="/")
            lines.append(f"{BUCKET},{key},,failed,{status},{code},{message}\r\n")
            if len(lines) >= 4096:
                out.write("".join(lines))
                lines.clear()
        out.write("".join(lines))


class PartSink:
    """The multipart calls of an S3 client; keeps no body, only how many bytes and their MD5."""

    def __init__(self) -> None:
        self.bytes = 0
        self.parts = 0
        self.md5 = hashlib.md5(usedforsecurity=False)

    def create_multipart_upload(self, **kwargs: Any) -> dict[str, Any]:
        return {"UploadId": "bench"}

    def upload_part(self, *, Body: bytes, **kwargs: Any) -> dict[str, Any]:
        self.bytes += len(Body)
        self.parts += 1
        self.md5.update(Body)
        return {"ETag": '"part"'}

    def complete_multipart_upload(self, **kwargs: Any) -> dict[str, Any]:
        return {"ETag": f'"{self.md5.hexdigest()}-{self.parts}"'}

    def put_object(self, *, Body: bytes, **kwargs: Any) -> dict[str, Any]:
        return self.upload_part(Body=Body)

    def abort_multipart_upload(self, **kwargs: Any) -> None:
        pass


def _chunks(path: str) -> Iterator[bytes]:
    with open(path, "rb") as fileobj:
        while chunk := fileobj.read(_CHUNK):
            yield chunk


def redrive_manifest(path: str, expected: int, retryable_only: bool = True) -> dict[str, Any]:
    """``read_report_csv`` -> ``write_redrive_manifest`` -> ``StreamingUpload``, as the hook chains them."""
    from airflow_s3_batch_tagging.redrive import write_redrive_manifest
    from airflow_s3_batch_tagging.report import read_report_csv
    from airflow_s3_batch_tagging.s3_streams import StreamingUpload

    sink = PartSink()
    started = time.perf_counter()
    with StreamingUpload(sink, BUCKET, "redrive.csv") as upload:
        counts = write_redrive_manifest(
            read_report_csv(_chunks(path), source=path),
            upload,  # type: ignore[arg-type]
            retryable_only=retryable_only,
        )
    seconds = time.perf_counter() - started
    if counts.failed != expected:
        raise AssertionError(f"read {counts.failed} failed rows, expected {expected}")
    return {
        "rows": counts.failed,
        "redriven": counts.redriven,
        "manifest_bytes": upload.size,
        "parts": upload.parts,
        "seconds": seconds,
        "rows_per_second": counts.failed / seconds,
    }


MEASUREMENTS: dict[str, Measurement] = {"redrive_manifest": redrive_manifest}
