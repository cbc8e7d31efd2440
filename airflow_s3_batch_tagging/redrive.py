"""Redrive: a CSV manifest of exactly the failed tasks of a completion report, and what it counts.

S3 Batch Operations cannot rerun a job's failed tasks. Its completion report lists them, though (the
result files whose ``TaskExecutionStatus`` is ``failed``), so a successor job can run a manifest made
of those rows. The rows come from ``report.read_report_csv`` (keys decoded from the report's form
encoding) and go out through ``manifest.write_csv_manifest`` (keys URL-encoded as a manifest needs),
one row at a time: memory stays flat however many tasks failed. The same holds for the direct path's
report, which has the same layout.

Which failures are worth a retry: by default the codes of ``s3_errors.RETRYABLE_ERROR_CODES``
(``SlowDown``, ``InternalError``, ``ServiceUnavailable``, ``RequestTimeout``, ``OperationAborted``,
throttling codes, ``500``/``502``/``503``/``504``) and any HTTP status of 500 or more, the same rule
the direct path's retries follow. ``retryable_error_codes`` replaces that list: a failure is then
retryable when its error code, or its HTTP status written as a number (``"503"``), is in it.
Plain Python: the caller opens the S3 objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from airflow_s3_batch_tagging.errors import S3TaggingInputError
from airflow_s3_batch_tagging.manifest import write_csv_manifest
from airflow_s3_batch_tagging.objects import ObjectRef, S3Location
from airflow_s3_batch_tagging.s3_errors import RETRYABLE_ERROR_CODES, code_is_retryable

if TYPE_CHECKING:
    from airflow_s3_batch_tagging.report import ReportRow

DEFAULT_RETRYABLE_ERROR_CODES = RETRYABLE_ERROR_CODES
"""The codes redriven with ``retryable_only`` unless ``retryable_error_codes`` is given (plus HTTP 5xx)."""


def validate_redrive_count(value: object, *, name: str = "redrive_failed_tasks") -> int:
    """Return how many redrives are allowed when ``value`` is an integer >= 0."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise S3TaggingInputError(f"Invalid {name} {value!r}: it must be an integer >= 0.")
    return value


def validate_retryable_error_codes(codes: object) -> frozenset[str] | None:
    """Return the error codes (and HTTP statuses as text) a redrive retries; None for the default list."""
    if codes is None:
        return None
    if isinstance(codes, str | bytes | Mapping) or not isinstance(codes, Iterable):
        raise S3TaggingInputError(
            f"Invalid retryable_error_codes {codes!r}: expected a list of error codes such as "
            "['SlowDown', 'InternalError', '503']."
        )
    checked = []
    for code in codes:
        if isinstance(code, int) and not isinstance(code, bool):
            code = str(code)
        if not isinstance(code, str) or not code.strip():
            raise S3TaggingInputError(
                f"Invalid retryable_error_codes entry {code!r}: each must be an error code or HTTP status."
            )
        checked.append(code.strip())
    if not checked:
        raise S3TaggingInputError(
            "retryable_error_codes is empty: nothing could be redriven. Leave it unset for the default "
            "list, or set retryable_only=False to redrive every failed task."
        )
    return frozenset(checked)


def is_retryable_failure(row: ReportRow, codes: frozenset[str] | None = None) -> bool:
    """Whether another attempt may succeed for a failed task (see the module docstring)."""
    if codes is None:
        return code_is_retryable(row.error_code or "", row.http_status or 0)
    return (row.error_code or "") in codes or (row.http_status is not None and str(row.http_status) in codes)


@dataclass
class RedriveCounts:
    """What a redrive manifest took from a report: the failed rows, those redriven and those left."""

    failed: int = 0
    redriven: int = 0
    left: int = 0
    left_by_code: dict[str, int] = field(default_factory=dict)
    with_version_ids: bool | None = None
    """Whether the manifest has the ``VersionId`` column (from the first redriven task); None: no task."""

    @property
    def fields(self) -> list[str]:
        """The manifest's ``Spec.Fields``."""
        return ["Bucket", "Key", "VersionId"] if self.with_version_ids else ["Bucket", "Key"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "failed_rows": self.failed,
            "redriven": self.redriven,
            "not_redriven": self.left,
            "not_redriven_by_code": dict(self.left_by_code),
        }


def failed_objects(
    rows: Iterable[ReportRow],
    counts: RedriveCounts,
    *,
    retryable_only: bool = False,
    retryable_error_codes: frozenset[str] | None = None,
) -> Iterator[ObjectRef]:
    """The objects of the failed ``rows`` to run again (all, or only retryable ones), counted in ``counts``.

    Succeeded rows (an ``AllTasks`` report) are passed over. Keys and version ids are as the report
    gives them (already decoded by ``read_report_csv``).
    """
    for row in rows:
        if not row.failed:
            continue
        counts.failed += 1
        if retryable_only and not is_retryable_failure(row, retryable_error_codes):
            counts.left += 1
            code = row.error_code or "Unknown"
            counts.left_by_code[code] = counts.left_by_code.get(code, 0) + 1
            continue
        if counts.with_version_ids is None:
            counts.with_version_ids = row.version_id is not None
        counts.redriven += 1
        yield ObjectRef(row.bucket, row.key, row.version_id)


def write_redrive_manifest(
    rows: Iterable[ReportRow],
    fileobj: IO[bytes],
    *,
    retryable_only: bool = False,
    retryable_error_codes: frozenset[str] | None = None,
) -> RedriveCounts:
    """Write the failed tasks of ``rows`` to ``fileobj`` as a CSV manifest, streaming; return the counts.

    Version ids are written when the first redriven task has one (a task without one then gets the
    literal ``null``, as in any CSV manifest).
    """
    counts = RedriveCounts()
    objects = failed_objects(
        rows, counts, retryable_only=retryable_only, retryable_error_codes=retryable_error_codes
    )
    write_csv_manifest(objects, fileobj)  # decides the VersionId column from the first object, as above
    return counts


def redrive_manifest_key(location: S3Location, job_id: str) -> str:
    """Where the manifest redriving ``job_id``'s failed tasks is written below ``location``."""
    return location.join("redrive", f"job-{job_id}-failed-tasks.csv")


def combine_job_results(
    results: list[Mapping[str, Any]], redrives: list[Mapping[str, Any]]
) -> dict[str, Any]:
    """One result for a job and the redrive jobs that followed it (in order).

    ``results`` are ``job_result`` dicts, ``redrives`` the ``RedriveCounts.to_dict`` of each redrive
    made (one fewer than ``results``, or as many when the last redrive found nothing to run). The
    top-level keys read as one job's would: ``job_id`` and ``tasks_total`` are the first job's,
    ``status``, ``report_location`` and ``report_summary`` the last one's, ``tasks_succeeded`` counts
    the successes of every job and ``tasks_failed`` the failures left at the end (the last job's plus
    those a ``retryable_only`` redrive did not run). ``jobs`` lists each job's own counts.
    """
    first, last = results[0], results[-1]
    left = sum(int(item.get("not_redriven") or 0) for item in redrives)
    left_by_code: dict[str, int] = {}
    for item in redrives:
        for code, count in (item.get("not_redriven_by_code") or {}).items():
            left_by_code[code] = left_by_code.get(code, 0) + count
    redriven_all = len(redrives) == len(results)  # the last redrive left nothing to run
    final_failed = left if redriven_all else left + int(last["tasks_failed"])
    summary = dict(last.get("report_summary") or {})
    if left_by_code:
        by_code = {} if redriven_all else dict(summary.get("failures_by_code") or {})
        for code, count in left_by_code.items():
            by_code[code] = by_code.get(code, 0) + count
        summary["failures_by_code"] = by_code
    jobs = []
    for index, result in enumerate(results):
        entry = {
            "job_id": result["job_id"],
            "status": result["status"],
            "tasks_total": result["tasks_total"],
            "tasks_succeeded": result["tasks_succeeded"],
            "tasks_failed": result["tasks_failed"],
        }
        if index < len(redrives):
            entry["redrive"] = dict(redrives[index])
        jobs.append(entry)
    return {
        **last,
        "job_id": first["job_id"],
        "tasks_total": first["tasks_total"],
        "tasks_succeeded": sum(int(result["tasks_succeeded"]) for result in results),
        "tasks_failed": final_failed,
        "report_summary": summary if summary or last.get("report_summary") is not None else None,
        "last_job_id": last["job_id"],
        "job_ids": [result["job_id"] for result in results],
        "redrives": len(results) - 1,
        "jobs": jobs,
    }
