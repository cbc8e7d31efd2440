"""Completion-report reader: manifest.json, result CSVs (encoded or not), summaries and tolerance."""

from __future__ import annotations

import io
import json
import tracemalloc
from collections.abc import Iterator

import pytest

from airflow_s3_batch_tagging.errors import ManifestError
from airflow_s3_batch_tagging.objects import S3Location
from airflow_s3_batch_tagging.report import (
    CompletionReportManifest,
    ReportSummary,
    decode_report_key,
    describe_failure_codes,
    failures_tolerated,
    read_report_csv,
    report_job_prefix,
    report_manifest_key,
    validate_failure_tolerance,
)


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("plain/key.txt", "plain/key.txt"),
        ("with%20space.txt", "with space.txt"),
        ("comma%2Cand%25percent", "comma,and%percent"),
        ("caf%C3%A9/%E2%9C%93", "café/✓"),
        ("raw space%20kept", "raw space%20kept"),  # a raw space: the field was not encoded
        ("café%20raw", "café%20raw"),  # raw non-ASCII: not encoded
        ("100%sure", "100%sure"),  # a '%' that starts no escape: not encoded
        ("bad%FFutf8", "bad%FFutf8"),  # escapes that are not UTF-8: kept as written
        ("a,b%20c", "a,b%20c"),  # a raw comma: not encoded
        ("reports/Q1+summary.pdf", "reports/Q1 summary.pdf"),  # form-encoded: "+" is a space
        ("c%2B%2B+notes", "c++ notes"),
        ("raw space+plus", "raw space+plus"),  # a raw space: not encoded, the "+" is a plus
    ],
)
def test_decode_report_key_decodes_encoded_keeps_raw(field: str, expected: str) -> None:
    assert decode_report_key(field) == expected


def test_read_report_csv_quoted_messages_encoded_keys() -> None:
    data = (
        b"bkt,a%20b.txt,,succeeded,200,,Successful\n"
        b'bkt,c%2Cd.txt,v1,failed,AccessDenied,403,"Access Denied, really"\n'
        b'bkt,multi,,failed,InternalError,500,"line one\nline two"\n'
        b"\n"
        b"bkt,short,,failed\n"
    )
    rows = list(read_report_csv(io.BytesIO(data), source="r.csv"))
    assert [row.key for row in rows] == ["a b.txt", "c,d.txt", "multi", "short"]
    assert not rows[0].failed
    assert rows[0].version_id is None
    assert rows[1].failed
    assert rows[1].version_id == "v1"
    assert rows[1].error_code == "AccessDenied"
    assert rows[1].http_status == 403
    assert rows[1].result_message == "Access Denied, really"
    assert rows[2].result_message == "line one\nline two"
    assert rows[3].error_code is None
    assert rows[3].http_status is None


def test_read_report_csv_http_status_in_either_order() -> None:
    # AWS writes the status before the code (its ReportSchema line says the opposite); both are read.
    data = (
        b'my-data,a.parquet,,failed,403,AccessDenied,"Access Denied ..."\r\n'
        b"my-data,b.parquet,,failed,NoSuchKey,404,gone\r\n"
        b"my-data,c.parquet,,succeeded,200,,Successful\r\n"
    )
    rows = list(read_report_csv(io.BytesIO(data)))
    assert [(row.http_status, row.error_code) for row in rows] == [
        (403, "AccessDenied"),
        (404, "NoSuchKey"),
        (200, None),
    ]
    assert rows[2].result_message == "Successful"  # no "\r" left from the CRLF
    summary = ReportSummary()
    summary.add_rows(rows)
    assert summary.failures_by_code == {"AccessDenied": 1, "NoSuchKey": 1}
    assert describe_failure_codes(summary.failures_by_code) == "AccessDenied x1, NoSuchKey x1"


def test_read_report_csv_accepts_utf8_split_anywhere() -> None:
    text = "bkt,café ✓,,failed,NoSuchKey,404,gone\n".encode()
    chunks = [text[:9], text[9:10], text[10:]]  # splits inside the two-byte 'é'
    rows = list(read_report_csv(chunks))
    assert rows[0].key == "café ✓"
    assert rows[0].error_code == "NoSuchKey"


def test_read_report_csv_rejects_short_rows_naming_them() -> None:
    with pytest.raises(ManifestError, match=r"r\.csv row 2: expected the columns"):
        list(read_report_csv(io.BytesIO(b"b,k,,succeeded,200,,ok\nb,k\n"), source="r.csv"))


def test_read_report_csv_rejects_invalid_utf8() -> None:
    with pytest.raises(ManifestError, match="not valid UTF-8"):
        list(read_report_csv([b"b,\xff\xfe,,failed,X,500,m\n"], source="r.csv"))


def test_report_manifest_parses_results_and_failed_files() -> None:
    document = {
        "Format": "Report_CSV_20180820",
        "ReportCreationDate": "2026-11-25T12:00:00.000Z",
        "Results": [
            {"TaskExecutionStatus": "succeeded", "Bucket": "arn:aws:s3:::rep", "Key": "p/ok.csv"},
            {"TaskExecutionStatus": "failed", "Bucket": "arn:aws:s3:::rep", "Key": "p/bad.csv"},
        ],
    }
    manifest = CompletionReportManifest.from_json(json.dumps(document).encode())
    assert manifest.report_creation_date == "2026-11-25T12:00:00.000Z"
    assert [r.key for r in manifest.results] == ["p/ok.csv", "p/bad.csv"]
    assert [r.key for r in manifest.failed_results] == ["p/bad.csv"]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (b'{"Format": "x"}', "no 'Results' list"),
        (b'{"Results": [{"Key": "k"}]}', "lacks 'Key' or 'TaskExecutionStatus'"),
    ],
)
def test_completion_report_manifest_rejects_malformed_documents(document: bytes, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        CompletionReportManifest.from_json(document, source="m.json")


def test_report_keys_follow_the_job_prefix() -> None:
    assert report_manifest_key(S3Location("rep", "reports/"), "j-1") == "reports/job-j-1/manifest.json"
    assert report_manifest_key(S3Location("rep", ""), "j-1") == "job-j-1/manifest.json"
    assert report_job_prefix(S3Location("rep", "a/b"), "j-1") == "a/b/job-j-1"


def test_summary_counts_ranks_codes_keeps_first_failures() -> None:
    data = b"".join(
        f"b,k{i},,failed,{'AccessDenied' if i % 3 else 'NoSuchKey'},403,m{i}\n".encode() for i in range(30)
    )
    summary = ReportSummary(max_failures=4)
    summary.add_rows(read_report_csv(io.BytesIO(data + b"b,ok,,succeeded,200,,fine\n")))
    assert summary.failed == 30
    assert summary.succeeded == 1
    assert summary.failures_by_code == {"NoSuchKey": 10, "AccessDenied": 20}
    assert [item["key"] for item in summary.first_failures] == ["k0", "k1", "k2", "k3"]
    assert summary.first_failures[1] == {
        "bucket": "b",
        "key": "k1",
        "error_code": "AccessDenied",
        "http_status": 403,
        "message": "m1",
    }
    assert describe_failure_codes(summary.failures_by_code) == "AccessDenied x20, NoSuchKey x10"
    as_dict = summary.to_dict()
    assert as_dict["files_read"] == 1
    assert as_dict["failed_rows"] == 30
    json.dumps(as_dict)  # plain data for XCom


def test_summary_of_a_large_report_stays_in_constant_memory() -> None:
    rows = 50_000

    def lines() -> Iterator[bytes]:
        for i in range(rows):
            key = f"some/longer/key/number-{i:08d}.parquet"
            yield f"bucket,{key},,failed,Code{i % 7},500,message {i}\n".encode()

    summary = ReportSummary(max_failures=10)
    tracemalloc.start()
    try:
        summary.add_rows(read_report_csv(lines()))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary.failed == rows
    assert len(summary.first_failures) == 10
    assert sum(summary.failures_by_code.values()) == rows
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes while reading {rows} rows"


@pytest.mark.parametrize(
    ("failed", "total", "max_failed", "max_ratio", "tolerated"),
    [
        (0, 10, 0, 0.0, True),
        (1, 10, 0, 0.0, False),
        (3, 10, 3, 0.0, True),
        (4, 10, 3, 0.0, False),
        (4, 10, 3, 0.4, True),
        (5, 10, 3, 0.4, False),
        (1, 0, 0, 1.0, False),
    ],
)
def test_failures_tolerated_within_either_limit(
    failed: int, total: int, max_failed: int, max_ratio: float, tolerated: bool
) -> None:
    assert (
        failures_tolerated(failed, total, max_failed_tasks=max_failed, max_failure_ratio=max_ratio)
        is tolerated
    )


@pytest.mark.parametrize(
    ("max_failed", "max_ratio", "message"),
    [
        (-1, 0.0, "max_failed_tasks -1"),
        (True, 0.0, "max_failed_tasks True"),
        (0, 1.5, "max_failure_ratio 1.5"),
    ],
)
def test_validate_failure_tolerance_names_the_bad_value(
    max_failed: object, max_ratio: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        validate_failure_tolerance(max_failed, max_ratio)


def test_one_failure_message_for_both_paths() -> None:
    from airflow_s3_batch_tagging.report import describe_failed_object, intolerable_failures_message

    first = [
        describe_failed_object("s3://b/a", "NoSuchKey", "The specified key does not exist."),
        describe_failed_object("s3://b/c", None, ""),
    ]
    text = intolerable_failures_message(
        5,
        20,
        unit="objects",
        tolerance={"max_failed_objects": 1, "max_failure_ratio": 0.1},
        failures_by_code={"NoSuchKey": 1, "AccessDenied": 4},
        first_failures=first,
    )
    assert text == (
        "5 of 20 objects failed, more than the tolerance (max_failed_objects=1, max_failure_ratio=0.1); "
        "failures by error code: AccessDenied x4, NoSuchKey x1; first failures: "
        "s3://b/a: NoSuchKey (The specified key does not exist.); s3://b/c: Unknown; and 3 more."
    )
