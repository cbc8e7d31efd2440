"""The direct path's completion report against real AWS artifacts and the product's own reader.

Oracles: the real report manifests of ``tests/fidelity/corpus`` (member names and order), the real
rows (status before code), and the stand-in's report writer, which writes the real rows byte for byte
(``tests/fidelity/test_corpus.py``) and is written apart from the product.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from airflow_s3_batch_tagging.hooks.s3_batch_operations import S3BatchOperationsHook
from airflow_s3_batch_tagging.objects import ObjectRef, S3Location
from airflow_s3_batch_tagging.report import CompletionReportManifest
from airflow_s3_batch_tagging.report_writer import DirectReportWriter, direct_report_job_id
from airflow_s3_batch_tagging.testing import formats

CORPUS = Path(__file__).parent / "fidelity" / "corpus"
KEYS = ["plain.csv", "with space.csv", "ünï,cødé+%.csv", "a=1/b.csv"]

pytestmark = pytest.mark.usefixtures("aws_default_conn")


@pytest.fixture
def s3(local_aws: Any) -> Any:
    return local_aws.client("s3")


def _write(s3: Any, bucket: str, scope: str) -> DirectReportWriter:
    writer = DirectReportWriter(s3, S3Location(bucket, "reports/direct"), "job-1234", scope=scope)
    writer.add(ObjectRef(bucket, KEYS[0]), succeeded=True, http_status=200)
    writer.add(
        ObjectRef(bucket, KEYS[1], "v1"), succeeded=False, http_status=503, code="SlowDown", message="Slow"
    )
    writer.flush()
    writer.add(
        ObjectRef(bucket, KEYS[2]), succeeded=False, http_status=403, code="AccessDenied", message="a, b"
    )
    writer.add(ObjectRef(bucket, KEYS[3]), succeeded=True, http_status=200)
    writer.close()
    return writer


def test_manifest_json_has_the_real_members_in_the_real_order(s3: Any, s3_bucket: str) -> None:
    writer = _write(s3, s3_bucket, "AllTasks")
    body = s3.get_object(Bucket=s3_bucket, Key=writer.manifest_key)["Body"].read()
    written = json.loads(body)
    real = json.loads((CORPUS / "linz-restore-report-manifest.json").read_bytes())
    assert list(written) == list(real)
    assert written["ReportSchema"] == real["ReportSchema"]
    assert [list(entry) for entry in written["Results"]] == [list(entry) for entry in real["Results"]]
    assert [entry["TaskExecutionStatus"] for entry in written["Results"]] == ["succeeded", "failed"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", written["ReportCreationDate"])
    for entry in written["Results"]:
        assert re.fullmatch(r"reports/direct/job-job-1234/results/[0-9a-f]{40}\.csv", entry["Key"])
        data = s3.get_object(Bucket=entry["Bucket"], Key=entry["Key"])["Body"].read()
        assert entry["MD5Checksum"] == hashlib.md5(data).hexdigest()
    assert CompletionReportManifest.from_json(body).failed_results[0].key == written["Results"][1]["Key"]


def test_failed_rows_byte_for_byte_as_the_stand_in_writes_them(s3: Any, s3_bucket: str) -> None:
    writer = _write(s3, s3_bucket, "FailedTasksOnly")
    (entry,) = json.loads(s3.get_object(Bucket=s3_bucket, Key=writer.manifest_key)["Body"].read())["Results"]
    data = s3.get_object(Bucket=s3_bucket, Key=entry["Key"])["Body"].read()
    expected = formats.write_report_csv(
        [
            formats.ReportRow(formats.S3Object(s3_bucket, KEYS[1], "v1"), False, 503, "SlowDown", "Slow"),
            formats.ReportRow(formats.S3Object(s3_bucket, KEYS[2]), False, 403, "AccessDenied", "a, b"),
        ]
    )
    assert data == expected
    assert writer.counts == {"succeeded": 2, "failed": 2}


def test_product_reader_reads_every_row_back(s3: Any, s3_bucket: str) -> None:
    writer = _write(s3, s3_bucket, "AllTasks")
    hook = S3BatchOperationsHook(aws_conn_id="aws_default")
    rows = list(hook.iter_report_rows(writer.manifest_uri, failed_only=False))
    assert [(row.key, row.version_id, row.task_status, row.http_status, row.error_code) for row in rows] == [
        (KEYS[0], None, "succeeded", 200, None),
        (KEYS[3], None, "succeeded", 200, None),
        (KEYS[1], "v1", "failed", 503, "SlowDown"),
        (KEYS[2], None, "failed", 403, "AccessDenied"),
    ]
    failed = list(hook.iter_report_rows(writer.manifest_uri))
    assert [row.key for row in failed] == [KEYS[1], KEYS[2]]


def test_no_failure_gives_a_manifest_without_results(s3: Any, s3_bucket: str) -> None:
    writer = DirectReportWriter(s3, S3Location(s3_bucket, ""), "j", scope="FailedTasksOnly")
    writer.add(ObjectRef(s3_bucket, "k"), succeeded=True, http_status=200)
    writer.close()
    assert (
        json.loads(s3.get_object(Bucket=s3_bucket, Key="job-j/manifest.json")["Body"].read())["Results"] == []
    )
    assert [item["Key"] for item in s3.list_objects_v2(Bucket=s3_bucket)["Contents"]] == [
        "job-j/manifest.json"
    ]


def test_job_id_is_a_uuid_per_try() -> None:
    first = direct_report_job_id("d", "t", "r", -1, 1)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", first)
    assert first == direct_report_job_id("d", "t", "r", -1, 1)
    assert first != direct_report_job_id("d", "t", "r", -1, 2)
