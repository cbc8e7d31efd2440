"""The redrive manifest from completion report rows: which rows, how keys are re-encoded, the counts.

Report rows are the real and synthetic artifacts of ``tests/fidelity/corpus``; the manifests written
are read back by the stand-in's own manifest reader (``testing.formats``), which decodes keys as
Batch Operations does, apart from the product's.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from airflow_s3_batch_tagging.errors import S3TaggingInputError
from airflow_s3_batch_tagging.objects import S3Location
from airflow_s3_batch_tagging.redrive import (
    combine_job_results,
    is_retryable_failure,
    redrive_manifest_key,
    validate_redrive_count,
    validate_retryable_error_codes,
    write_redrive_manifest,
)
from airflow_s3_batch_tagging.report import ReportRow, read_report_csv
from airflow_s3_batch_tagging.testing import formats

CORPUS = Path(__file__).parent / "fidelity" / "corpus"


def _rows(name: str) -> list[ReportRow]:
    return list(read_report_csv(io.BytesIO((CORPUS / name).read_bytes())))


def _row(key: str, code: str | None, status: int | None, version_id: str | None = None) -> ReportRow:
    return ReportRow("bkt", key, version_id, "failed" if code else "succeeded", code, status, "")


def _manifest(rows: list[ReportRow], **options: object) -> tuple[bytes, object]:
    buffer = io.BytesIO()
    counts = write_redrive_manifest(rows, buffer, **options)  # type: ignore[arg-type]
    return buffer.getvalue(), counts


def test_failed_rows_of_the_synthetic_report_read_back_by_the_emulator() -> None:
    body, counts = _manifest(_rows("synthetic-report-rows.csv"))
    # The report wrote "reports/Q1+summary.pdf" (form-encoded); the manifest needs %20.
    assert body == b"my-data,a.parquet\nmy-data,reports/Q1%20summary.pdf\n"
    objects = formats.read_csv_manifest(body, ["Bucket", "Key"], where="redrive manifest")
    assert [obj.key for obj in objects] == ["a.parquet", "reports/Q1 summary.pdf"]
    assert (counts.failed, counts.redriven, counts.left) == (2, 2, 0)  # type: ignore[attr-defined]


def test_keys_the_emulator_reported_come_back_to_the_same_keys() -> None:
    keys = ["a b+c=d/é,%.txt", "plain", "c++/x y"]
    report = formats.write_report_csv(
        formats.ReportRow(formats.S3Object("bkt", key), False, 503, "SlowDown", "Please reduce")
        for key in keys
    )
    body, _ = _manifest(list(read_report_csv(io.BytesIO(report))))
    objects = formats.read_csv_manifest(body, ["Bucket", "Key"], where="redrive manifest")
    assert [obj.key for obj in objects] == keys


def test_aws_lambda_failures_are_permanent_not_retryable() -> None:
    rows = _rows("aws-userguide-report-failed-lambda.csv")
    body, counts = _manifest(rows, retryable_only=True)
    assert body == b""
    assert counts.to_dict() == {  # type: ignore[attr-defined]
        "failed_rows": 6,
        "redriven": 0,
        "not_redriven": 6,
        "not_redriven_by_code": {"PermanentFailure": 6},
    }
    body, counts = _manifest(rows)
    assert body.decode().splitlines()[0] == "awsexamplebucket1,image_14975"


def test_retryable_only_keeps_slowdown_500s_and_503s() -> None:
    rows = [
        _row("slow", "SlowDown", 503),
        _row("internal", "InternalError", 500),
        _row("unavailable", "ServiceUnavailable", 503),
        _row("gateway", "Whatever", 502),
        _row("denied", "AccessDenied", 403),
        _row("gone", "NoSuchKey", 404),
        _row("fine", None, 200),
    ]
    body, counts = _manifest(rows, retryable_only=True)
    assert body.decode().split() == ["bkt,slow", "bkt,internal", "bkt,unavailable", "bkt,gateway"]
    assert counts.left_by_code == {"AccessDenied": 1, "NoSuchKey": 1}  # type: ignore[attr-defined]


def test_given_codes_replace_the_default_list() -> None:
    codes = validate_retryable_error_codes(["AccessDenied", 503])
    assert codes == frozenset({"AccessDenied", "503"})
    assert is_retryable_failure(_row("x", "AccessDenied", 403), codes)
    assert is_retryable_failure(_row("x", "Odd", 503), codes)
    assert not is_retryable_failure(_row("x", "InternalError", 500), codes)


def test_version_ids_kept_and_null_for_a_row_without() -> None:
    rows = [_row("a", "SlowDown", 503, "v1"), _row("b", "SlowDown", 503)]
    body, counts = _manifest(rows)
    assert body == b"bkt,a,v1\nbkt,b,null\n"
    assert counts.fields == ["Bucket", "Key", "VersionId"]  # type: ignore[attr-defined]
    objects = formats.read_csv_manifest(body, ["Bucket", "Key", "VersionId"], where="m")
    assert [obj.version_id for obj in objects] == ["v1", "null"]


@pytest.mark.parametrize("value", [-1, True, "x", 1.5, None])
def test_bad_redrive_count_named(value: object) -> None:
    with pytest.raises(S3TaggingInputError, match="redrive_failed_tasks"):
        validate_redrive_count(value)


@pytest.mark.parametrize("value", ["SlowDown", [], [""], {"a": 1}, [None]])
def test_bad_retryable_codes_named(value: object) -> None:
    with pytest.raises(S3TaggingInputError, match="retryable_error_codes"):
        validate_retryable_error_codes(value)


def test_manifest_key_below_the_location() -> None:
    assert (
        redrive_manifest_key(S3Location("b", "reports/"), "j1") == "reports/redrive/job-j1-failed-tasks.csv"
    )


def _result(job_id: str, total: int, ok: int, failed: int, by_code: dict[str, int]) -> dict[str, object]:
    return {
        "job_id": job_id,
        "status": "Complete",
        "tasks_total": total,
        "tasks_succeeded": ok,
        "tasks_failed": failed,
        "report_location": f"s3://r/job-{job_id}/",
        "report_summary": {"failures_by_code": by_code, "first_failures": []},
    }


def test_combined_result_counts_every_job_and_failures_left() -> None:
    results = [
        _result("j1", 100, 90, 10, {"SlowDown": 8, "AccessDenied": 2}),
        _result("j2", 8, 7, 1, {"SlowDown": 1}),
    ]
    redrives = [
        {"failed_rows": 10, "redriven": 8, "not_redriven": 2, "not_redriven_by_code": {"AccessDenied": 2}}
    ]
    combined = combine_job_results(results, redrives)
    assert (combined["job_id"], combined["last_job_id"], combined["job_ids"]) == ("j1", "j2", ["j1", "j2"])
    assert (combined["tasks_total"], combined["tasks_succeeded"], combined["tasks_failed"]) == (100, 97, 3)
    assert combined["report_summary"]["failures_by_code"] == {"SlowDown": 1, "AccessDenied": 2}
    assert combined["redrives"] == 1
    assert combined["jobs"][0]["redrive"]["redriven"] == 8


def test_combined_result_when_the_last_redrive_found_nothing_to_run() -> None:
    results = [_result("j1", 10, 8, 2, {"AccessDenied": 2})]
    redrives = [
        {"failed_rows": 2, "redriven": 0, "not_redriven": 2, "not_redriven_by_code": {"AccessDenied": 2}}
    ]
    combined = combine_job_results(results, redrives)
    assert (combined["tasks_succeeded"], combined["tasks_failed"], combined["redrives"]) == (8, 2, 0)
    assert combined["report_summary"]["failures_by_code"] == {"AccessDenied": 2}
