"""S3 Batch Operations completion reports: where they are, how to read them, what they say.

A job's report is ``{Prefix}/job-{JobId}/manifest.json`` plus result CSVs under
``job-{JobId}/results/`` without a header. The manifest's ``ReportSchema`` line says
``Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage``, but real rows put the
HTTP status before the error code (AWS's own example in the user guide, "Examples: S3 Batch Operations
completion reports": ``awsexamplebucket1,image_14975,,failed,200,PermanentFailure,"Lambda returned ..."``;
a restore job's row published by LINZ: ``...,succeeded,200,,Successful``), so each row's two middle
columns are told apart by their content: the numeric one is the HTTP status. Rows may end in CRLF.
Result files are read line by line and summarised
into counts per error code and the first few failed objects, so memory stays flat however many
tasks the job ran. Also: the failure tolerance a finished job is judged by. Plain Python: the caller
opens the S3 objects and hands over their lines.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import unquote

from airflow_s3_batch_tagging.errors import ManifestError, S3TaggingInputError
from airflow_s3_batch_tagging.manifest import load_json_object

if TYPE_CHECKING:
    from airflow_s3_batch_tagging.objects import S3Location

REPORT_FORMAT = "Report_CSV_20180820"
REPORT_SCOPES = ("AllTasks", "FailedTasksOnly")
RESULT_COLUMNS = ("Bucket", "Key", "VersionId", "TaskStatus", "HTTPStatusCode", "ErrorCode", "ResultMessage")
"""The columns as AWS writes them (the ``ReportSchema`` line of the manifest swaps the middle two)."""
DEFAULT_FIRST_FAILURES = 10
"""How many failed objects a result keeps and a failure message names, on both paths."""

_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})").search
_MESSAGE_LIMIT = 500


def report_job_prefix(location: S3Location, job_id: str) -> str:
    """The key prefix under which a job writes its report: ``{prefix}/job-{job_id}``."""
    return location.join(f"job-{job_id}")


def report_manifest_key(location: S3Location, job_id: str) -> str:
    """The key of a job's completion report ``manifest.json``."""
    return location.join(f"job-{job_id}", "manifest.json")


def decode_report_key(value: str) -> str:
    """Return the object key a report field names, whether or not the report URL-encoded it.

    AWS writes report keys form-encoded, as S3 Inventory does: a space is ``+``, a literal ``+`` is
    ``%2B`` (LINZ's verify-restore parser, linz/argo-tasks, decodes report keys this way on real
    reports). A field holding characters that encoding always escapes (spaces, commas, non-ASCII, a
    ``%`` not starting an escape) was written as is and is returned unchanged; otherwise ``+`` is a
    space and ``%XX`` escapes are decoded. A field that only looks encoded but does not decode to valid
    UTF-8 is kept as is.
    """
    if "%" not in value and "+" not in value:
        return value
    if _BAD_PERCENT(value) or any(char.isspace() or char == "," or not char.isascii() for char in value):
        return value
    try:
        return unquote(value.replace("+", " "), errors="strict")
    except UnicodeDecodeError:
        return value


def _status_and_code(fifth: str, sixth: str) -> tuple[int | None, str | None]:
    """The HTTP status and the error code from a row's fifth and sixth fields, in either order.

    AWS writes the status first; the manifest's ``ReportSchema`` names the error code first. The
    numeric field is the status, whichever place it is in.
    """
    if fifth.isdigit() and fifth.isascii():
        return int(fifth), sixth.strip() or None
    if sixth.isdigit() and sixth.isascii():
        return int(sixth), fifth.strip() or None
    fifth, sixth = fifth.strip(), sixth.strip()
    if fifth.isdigit() and fifth.isascii():  # padded with spaces
        return int(fifth), sixth or None
    if sixth.isdigit() and sixth.isascii():
        return int(sixth), fifth or None
    return None, fifth or sixth or None


@dataclass(frozen=True, slots=True)
class ReportResultFile:
    """One result file listed in a completion report's ``manifest.json``."""

    key: str
    task_execution_status: str
    bucket: str | None = None
    md5_checksum: str | None = None

    @property
    def failed(self) -> bool:
        return self.task_execution_status.lower() == "failed"


@dataclass(frozen=True, slots=True)
class CompletionReportManifest:
    """A completion report's ``manifest.json``: the report format and its result files."""

    format: str
    report_creation_date: str | None
    results: tuple[ReportResultFile, ...]

    @classmethod
    def from_json(
        cls, document: bytes | str | Mapping[str, Any], *, source: str = "completion report manifest"
    ) -> CompletionReportManifest:
        data = load_json_object(document, source=source)
        if "Results" not in data or not isinstance(data["Results"], list):
            raise ManifestError(f"{source} is not a completion report manifest: it has no 'Results' list.")
        results = []
        for entry in data["Results"]:
            if not isinstance(entry, Mapping) or "Key" not in entry or "TaskExecutionStatus" not in entry:
                raise ManifestError(
                    f"{source}: the result entry {entry!r} lacks 'Key' or 'TaskExecutionStatus'."
                )
            results.append(
                ReportResultFile(
                    key=str(entry["Key"]),
                    task_execution_status=str(entry["TaskExecutionStatus"]),
                    bucket=entry.get("Bucket"),
                    md5_checksum=entry.get("MD5Checksum"),
                )
            )
        return cls(
            format=str(data.get("Format", REPORT_FORMAT)),
            report_creation_date=data.get("ReportCreationDate"),
            results=tuple(results),
        )

    @property
    def failed_results(self) -> tuple[ReportResultFile, ...]:
        return tuple(result for result in self.results if result.failed)


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One task of a completion report: the object, how the task ended and why."""

    bucket: str
    key: str
    version_id: str | None
    task_status: str
    error_code: str | None
    http_status: int | None
    result_message: str

    @property
    def failed(self) -> bool:
        return self.task_status.lower() != "succeeded"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"bucket": self.bucket, "key": self.key}
        if self.version_id:
            data["version_id"] = self.version_id
        data["error_code"] = self.error_code
        data["http_status"] = self.http_status
        data["message"] = self.result_message[:_MESSAGE_LIMIT]
        return data


def _text_lines(lines: IO[bytes] | Iterable[bytes], source: str) -> Iterator[str]:
    """Decode byte chunks (whole lines or not) and yield text lines with their endings."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    pending = ""
    try:
        for raw in lines:
            pending += decoder.decode(raw)
            if "\n" in pending:
                *complete, pending = pending.split("\n")
                for line in complete:
                    yield line + "\n"
        pending += decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise ManifestError(f"{source} is not valid UTF-8.") from None
    if pending:
        yield pending


def read_report_csv(
    lines: IO[bytes] | Iterable[bytes], *, source: str = "report file"
) -> Iterator[ReportRow]:
    """Yield the rows of one completion report result CSV, streaming.

    ``lines`` is a binary file or any iterable of byte chunks (lines or not, for example a
    streamed S3 body); quoted fields spanning lines are read whole, LF or CRLF line endings. Keys are
    decoded with :func:`decode_report_key`; the HTTP status and error code are read in either order
    (:func:`_status_and_code`).
    """
    line_number = 0
    try:
        for row in csv.reader(_text_lines(lines, source)):
            line_number += 1
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) < 4:
                raise ManifestError(
                    f"{source} row {line_number}: expected the columns {', '.join(RESULT_COLUMNS)} "
                    f"but found {len(row)} field(s)."
                )
            row = row + [""] * (len(RESULT_COLUMNS) - len(row))
            bucket, key, version_id, task_status, fifth, sixth = row[:6]
            http_status, error_code = _status_and_code(fifth, sixth)
            # A message holding a comma the writer did not quote spills into extra fields.
            message = row[6] if len(row) == 7 else ",".join(row[6:])
            yield ReportRow(
                bucket=bucket,
                key=decode_report_key(key),
                version_id=version_id or None,
                task_status=task_status,
                error_code=error_code,
                http_status=http_status,
                result_message=message,
            )
    except csv.Error as err:
        raise ManifestError(f"{source} row {line_number + 1}: cannot be read: {err}.") from None


@dataclass
class ReportSummary:
    """What a completion report says about failures, in constant memory.

    ``failures_by_code`` counts failed tasks per ``ErrorCode`` (``"Unknown"`` when empty);
    ``first_failures`` keeps the first ``max_failures`` failed objects as read.
    """

    max_failures: int = DEFAULT_FIRST_FAILURES
    rows_read: int = 0
    succeeded: int = 0
    failed: int = 0
    failures_by_code: dict[str, int] = field(default_factory=dict)
    first_failures: list[dict[str, Any]] = field(default_factory=list)
    files_read: int = 0

    def add(self, row: ReportRow) -> None:
        self.rows_read += 1
        if not row.failed:
            self.succeeded += 1
            return
        self.failed += 1
        code = row.error_code or "Unknown"
        self.failures_by_code[code] = self.failures_by_code.get(code, 0) + 1
        if len(self.first_failures) < self.max_failures:
            self.first_failures.append(row.to_dict())

    def add_rows(self, rows: Iterable[ReportRow]) -> None:
        for row in rows:
            self.add(row)
        self.files_read += 1

    def to_dict(self) -> dict[str, Any]:
        """Plain data for XCom."""
        return {
            "failures_by_code": dict(self.failures_by_code),
            "first_failures": list(self.first_failures),
            "rows_read": self.rows_read,
            "succeeded_rows": self.succeeded,
            "failed_rows": self.failed,
            "files_read": self.files_read,
        }


def validate_failure_tolerance(
    max_failed_tasks: object, max_failure_ratio: object, *, count_name: str = "max_failed_tasks"
) -> None:
    """Raise ``S3TaggingInputError`` naming the value unless a count >= 0 and a ratio in [0, 1].

    Shared by both paths: ``count_name`` names the count (``max_failed_objects`` on the direct path).
    """
    if isinstance(max_failed_tasks, bool) or not isinstance(max_failed_tasks, int) or max_failed_tasks < 0:
        raise S3TaggingInputError(f"Invalid {count_name} {max_failed_tasks!r}: it must be an integer >= 0.")
    if (
        isinstance(max_failure_ratio, bool)
        or not isinstance(max_failure_ratio, int | float)
        or not 0 <= max_failure_ratio <= 1
    ):
        raise S3TaggingInputError(
            f"Invalid max_failure_ratio {max_failure_ratio!r}: it must be a number from 0 to 1."
        )


def failures_tolerated(failed: int, total: int, *, max_failed_tasks: int, max_failure_ratio: float) -> bool:
    """Whether ``failed`` of ``total`` tasks is within tolerance.

    Failures are tolerated when their count is at most ``max_failed_tasks`` or their share of all
    tasks is at most ``max_failure_ratio``; with both at 0 (the default) any failure is too many.
    """
    if failed <= 0:
        return True
    if failed <= max_failed_tasks:
        return True
    return total > 0 and failed / total <= max_failure_ratio


def describe_failure_codes(failures_by_code: Mapping[str, int], *, limit: int | None = None) -> str:
    """``AccessDenied x3, NoSuchKey x1`` (most frequent first, at most ``limit`` codes), or ``"none"``."""
    if not failures_by_code:
        return "none"
    ranked = sorted(failures_by_code.items(), key=lambda item: (-item[1], item[0]))
    if limit is None or len(ranked) <= limit:
        return ", ".join(f"{code} x{count}" for code, count in ranked)
    shown = ", ".join(f"{code} x{count}" for code, count in ranked[:limit])
    return f"{shown}, and {len(ranked) - limit} more codes"


def describe_failed_object(uri: str, code: str | None, message: str | None) -> str:
    """``s3://bucket/key: Code (why)``: one failed object, the same on both paths (no tag values)."""
    why = f" ({message[:300]})" if message else ""
    return f"{uri}: {code or 'Unknown'}{why}"


def intolerable_failures_message(
    failed: int,
    total: int,
    *,
    unit: str,
    tolerance: Mapping[str, object],
    failures_by_code: Mapping[str, int],
    first_failures: Iterable[str],
) -> str:
    """Why failures that ``failures_tolerated`` refused fail the task, for both paths.

    ``{failed} of {total} {unit} failed, more than the tolerance (max_...=..., max_failure_ratio=...);
    failures by error code: ...; first failures: ...; and N more.`` ``first_failures`` are the
    ``describe_failed_object`` lines the result kept.
    """
    limits = ", ".join(f"{name}={value}" for name, value in tolerance.items())
    first = list(first_failures)
    text = (
        f"{failed} of {total} {unit} failed, more than the tolerance ({limits}); "
        f"failures by error code: {describe_failure_codes(failures_by_code)}"
    )
    if first:
        more = failed - len(first)
        text += "; first failures: " + "; ".join(first) + (f"; and {more} more" if more > 0 else "")
    return text + "."
