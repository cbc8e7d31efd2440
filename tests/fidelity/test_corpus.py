# ruff: noqa: E501  (artifact values are kept whole, one per line)
"""Real AWS artifacts (``corpus/``, each with a ``.source`` sidecar naming where it was published) run
through the product's readers and through the stand-in's own formats.

The product and the stand-in are written apart; here both meet what AWS really writes. Expected
values come from the artifacts themselves or from the publisher's own reading of them (for example
s3invsync's test assertions for the dandiarchive rows), never from either side under test.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote

import pytest
from botocore.exceptions import ClientError
from botocore.parsers import RestXMLParser
from botocore.utils import parse_timestamp

from airflow_s3_batch_tagging.batch_jobs import (
    job_counts,
    job_failure_reasons,
    job_report_location,
)
from airflow_s3_batch_tagging.errors import ManifestError
from airflow_s3_batch_tagging.manifest import (
    InventoryManifest,
    read_csv_manifest,
    read_inventory_csv,
    write_csv_manifest,
)
from airflow_s3_batch_tagging.objects import ObjectRef, S3Location
from airflow_s3_batch_tagging.report import (
    CompletionReportManifest,
    ReportSummary,
    describe_failure_codes,
    read_report_csv,
)
from airflow_s3_batch_tagging.s3_errors import error_code
from airflow_s3_batch_tagging.testing import LocalAWS, formats
from airflow_s3_batch_tagging.testing.faults import _error_response
from airflow_s3_batch_tagging.testing.jobs import Job
from airflow_s3_batch_tagging.testing.wire import operation_model, serialize_response
from airflow_s3_batch_tagging.transports.botocore import transport_error

CORPUS = Path(__file__).parent / "corpus"
ARTIFACTS = sorted(path for path in CORPUS.iterdir() if path.suffix != ".source" and path.name[0] != ".")
S3_SHAPES = {"NoSuchKey": 404}


def data(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def sidecar(name: str) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for line in (CORPUS / f"{name}.source").read_text().splitlines():
        label, _, value = line.partition(":")
        fields.setdefault(label.strip(), []).append(value.strip())
    return fields


def schema_of(name: str) -> tuple[str, ...]:
    return tuple(column.strip() for column in sidecar(name)["fileSchema"][0].split(","))


# -- the corpus itself ------------------------------------------------------------------------------
def test_every_artifact_names_its_source_or_is_synthetic() -> None:
    assert len(ARTIFACTS) >= 12
    for path in ARTIFACTS:
        fields = sidecar(path.name)
        assert fields["kind"] in (["real"], ["synthetic"]), path.name
        assert fields.get("source"), path.name
        if fields["kind"] == ["real"]:
            assert fields.get("url") or fields.get("repository"), f"{path.name}: a real artifact names where"
            assert not path.name.startswith("synthetic-")
        else:
            assert path.name.startswith("synthetic-"), f"{path.name}: synthetic files say so in their name"


# -- completion reports -----------------------------------------------------------------------------
def test_aws_failed_rows_are_permanent_failures_with_200() -> None:
    rows = list(read_report_csv(io.BytesIO(data("aws-userguide-report-failed-lambda.csv"))))
    assert len(rows) == 6
    assert {(row.task_status, row.http_status, row.error_code) for row in rows} == {
        ("failed", 200, "PermanentFailure")
    }
    assert rows[0].bucket == "awsexamplebucket1"
    assert rows[0].key == "image_14975"
    assert rows[0].version_id is None
    assert rows[0].result_message.startswith(
        'Lambda returned function error: {"errorMessage":"2019-04-05T17:35:21'
    )
    summary = ReportSummary()
    summary.add_rows(rows)
    assert summary.failures_by_code == {"PermanentFailure": 6}
    assert describe_failure_codes(summary.failures_by_code) == "PermanentFailure x6"


def test_aws_succeeded_rows_read_with_200_and_no_code() -> None:
    rows = list(read_report_csv(io.BytesIO(data("aws-userguide-report-succeeded-lambda.csv"))))
    assert [(row.key, row.failed, row.http_status, row.error_code) for row in rows] == [
        ("image_17775", False, 200, None),
        ("image_17763", False, 200, None),
        ("image_17860", False, 200, None),
    ]
    assert "'HTTPStatusCode': 200" in rows[0].result_message


@pytest.mark.parametrize("line_end", [b"\n", b"\r\n"], ids=["lf", "crlf"])
def test_linz_restore_row_reads_as_succeeded_with_its_version_id(line_end: bytes) -> None:
    body = data("linz-restore-report-row.csv").replace(b"\n", line_end)
    (row,) = read_report_csv(io.BytesIO(body))
    assert row.bucket == "linz-topographic-archive"
    assert row.key == "pfouquet/sub/directory/AS21.tiff.zst"
    assert row.version_id == "886twyul.uJ3wIF3zzQG8196hf_SOCCW"
    assert (row.failed, row.http_status, row.error_code, row.result_message) == (
        False,
        200,
        None,
        "Successful",
    )


def test_synthetic_rows_give_aws_codes_and_decoded_keys() -> None:
    rows = list(read_report_csv(io.BytesIO(data("synthetic-report-rows.csv"))))
    assert [(row.key, row.http_status, row.error_code) for row in rows] == [
        ("a.parquet", 403, "AccessDenied"),
        ("reports/Q1 summary.pdf", 404, "NoSuchKey"),
        ("c++/notes.txt", 200, None),
    ]
    assert rows[2].result_message == "Successful"
    summary = ReportSummary()
    summary.add_rows(rows)
    assert summary.failures_by_code == {"AccessDenied": 1, "NoSuchKey": 1}


@pytest.mark.parametrize(
    "name",
    [
        "aws-userguide-report-failed-lambda.csv",
        "aws-userguide-report-succeeded-lambda.csv",
        "linz-restore-report-row.csv",
    ],
)
def test_emulator_writes_the_real_report_rows_byte_for_byte(name: str) -> None:
    real = data(name)
    rows = [
        formats.ReportRow(
            formats.S3Object(bucket, key, version_id or None), status == "succeeded", int(http), code, message
        )
        for bucket, key, version_id, status, http, code, message in csv.reader(io.StringIO(real.decode()))
    ]
    written = formats.write_report_csv(rows)
    assert written.replace(b"\r\n", b"\n") == real  # the emulator ends lines in CRLF


def test_emulator_writes_synthetic_rows_from_decoded_keys() -> None:
    rows = [
        formats.ReportRow(formats.S3Object("my-data", "a.parquet"), False, 403, "AccessDenied",
                          "Access Denied (Service: Amazon S3; Status Code: 403)"),
        formats.ReportRow(formats.S3Object("my-data", "reports/Q1 summary.pdf"), False, 404, "NoSuchKey",
                          "The specified key does not exist."),
        formats.ReportRow(formats.S3Object("my-data", "c++/notes.txt"), True, 200, "", "Successful"),
    ]  # fmt: skip
    assert formats.write_report_csv(rows) == data("synthetic-report-rows.csv")


@pytest.mark.parametrize(
    ("name", "created"),
    [
        ("aws-userguide-report-manifest.json", "2019-04-05T17:48:39.725Z"),
        ("linz-restore-report-manifest.json", "2025-07-20T21:18:22.395320681Z"),
    ],
)
def test_report_manifests_are_read_by_the_product(name: str, created: str) -> None:
    manifest = CompletionReportManifest.from_json(data(name))
    assert manifest.format == "Report_CSV_20180820"
    assert manifest.report_creation_date == created
    assert [result.task_execution_status for result in manifest.results] == ["succeeded", "failed"]
    assert len(manifest.failed_results) == 1
    assert all(result.key.endswith(".csv") and result.md5_checksum for result in manifest.results)


def test_emulator_report_manifest_has_the_real_layout() -> None:
    real = json.loads(data("linz-restore-report-manifest.json"))
    entry = dict(real["Results"][0])
    written = formats.report_manifest_document([entry], dt.datetime(2025, 7, 20, 21, 18, 22, 395320, dt.UTC))
    assert list(written) == list(real)
    assert written["ReportSchema"] == real["ReportSchema"]
    assert written["ReportCreationDate"][:26] == real["ReportCreationDate"][:26]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", written["ReportCreationDate"])


# -- S3 Inventory -----------------------------------------------------------------------------------
def test_aws_inventory_manifest_read_alike_by_both() -> None:
    body = data("aws-userguide-inventory-manifest.json")
    product = InventoryManifest.from_json(body)
    emulator = formats.read_inventory_manifest(body, where="manifest.json")
    assert product.destination_bucket == emulator.destination_bucket == "example-inventory-destination-bucket"
    assert product.file_schema == emulator.file_schema
    assert len(product.file_schema) == 18
    assert [file.key for file in product.files] == [file["key"] for file in emulator.files]
    assert (
        product.files[0].md5_checksum
        == emulator.files[0]["MD5checksum"]
        == "f11166069f1990abeb9c97ace9cdfabc"
    )


# What s3invsync's own tests assert these four rows decode to (their keys; the second is a delete marker).
DANDI_OBJECTS = [
    ("dandiarchive", "zarr/73fb586f-b58a-49fc-876e-282ba962d310/0/0/0/14/4/100", "nuYD8l5blCvLV3DbAiN1IXuwo7aF3F98"),
    ("dandiarchive", "dandiarchive/dandiarchive/hive/dt=2024-05-07-01-00/symlink.txt", "t4Z7oFATOK2678GfaU8oLcjWDMAS0RgK"),
    ("dandiarchive", "dandiarchive/dandiarchive/data/", "T_OH5MESsVJ6jygdWfiJfQJ166fQ6kDx"),
]  # fmt: skip


def test_dandiarchive_rows_read_alike_by_both() -> None:
    body, schema = data("dandiarchive-inventory-rows.csv"), schema_of("dandiarchive-inventory-rows.csv")
    product = list(read_inventory_csv(io.BytesIO(body), schema, compressed=False))
    emulator = formats.read_inventory_csv(body, schema, where="inventory")
    assert [(obj.bucket, obj.key, obj.version_id) for obj in product] == DANDI_OBJECTS
    assert [tuple(obj) for obj in emulator] == DANDI_OBJECTS


def test_emulator_writes_the_dandiarchive_rows_byte_for_byte() -> None:
    real = data("dandiarchive-inventory-rows.csv")
    keys = iter(
        [DANDI_OBJECTS[0][1], DANDI_OBJECTS[0][1], DANDI_OBJECTS[1][1], DANDI_OBJECTS[2][1]]
    )  # the decoded keys, row by row (the second row is the delete marker of the first key)
    rows = [[row[0], next(keys), *row[2:]] for row in csv.reader(io.StringIO(real.decode()))]
    assert formats.write_inventory_csv(rows) == real


def test_synthetic_inventory_rows_decode_plus_and_2b() -> None:
    body, schema = data("synthetic-inventory-rows.csv"), schema_of("synthetic-inventory-rows.csv")
    expected = ["reports/Q1 summary.pdf", "c++/notes v2.txt"]  # gone.txt is a delete marker
    assert [obj.key for obj in read_inventory_csv(io.BytesIO(body), schema, compressed=False)] == expected
    assert [obj.key for obj in formats.read_inventory_csv(body, schema, where="inventory")] == expected


# -- CSV manifests ----------------------------------------------------------------------------------
AWS_EXAMPLE_KEYS = [
    "objectkey1", "objectkey2", "objectkey3", "photos/jpgs/objectkey4",
    "photos/jpgs/newjersey/objectkey5", "object key with spaces",
]  # fmt: skip


def test_aws_csv_manifests_are_read_by_the_emulator() -> None:
    plain = formats.read_csv_manifest(data("aws-userguide-csv-manifest.csv"), ["Bucket", "Key"], where="m")
    assert [obj.key for obj in plain] == AWS_EXAMPLE_KEYS
    versioned = formats.read_csv_manifest(
        data("aws-userguide-csv-manifest-versions.csv"), ["Bucket", "Key", "VersionId"], where="m"
    )
    assert [obj.key for obj in versioned] == AWS_EXAMPLE_KEYS
    assert versioned[-1].version_id == "9HkPvDaZY5MVbMhn6TMn1YTb5ArQAo3w"


def test_aws_csv_manifest_read_and_upper_case_bucket_refused() -> None:
    # AWS's example bucket "Examplebucket" is only legal for legacy buckets; the product refuses it,
    # naming the line and the rule, before anything is read further.
    with pytest.raises(ManifestError, match=r"line 1: .*'Examplebucket'.*lowercase"):
        list(read_csv_manifest(io.BytesIO(data("aws-userguide-csv-manifest.csv"))))
    lowered = data("aws-userguide-csv-manifest-versions.csv").replace(b"Examplebucket", b"examplebucket")
    objects = list(read_csv_manifest(io.BytesIO(lowered)))
    assert [obj.key for obj in objects] == AWS_EXAMPLE_KEYS
    assert objects[0].version_id == "PZ9ibn9D5lP6p298B7S9_ceqx1n5EJ0p"


def test_written_keys_read_same_whether_plus_is_space() -> None:
    keys = ["a b.txt", "a+b.txt", "100%.txt", "é/ü.csv", "x=y&z", "tab\there", "comma,key"]
    buffer = io.BytesIO()
    write_csv_manifest((ObjectRef("my-bucket", key) for key in keys), buffer)
    body = buffer.getvalue()
    emulator = formats.read_csv_manifest(body, ["Bucket", "Key"], where="manifest")
    assert [obj.key for obj in emulator] == keys  # "+" read as a space
    literal_plus = [unquote(line.split(",", 1)[1]) for line in body.decode().splitlines()]
    assert literal_plus == keys  # "+" read as a plus
    assert [obj.key for obj in read_csv_manifest(io.BytesIO(body))] == keys


# -- DescribeJob ------------------------------------------------------------------------------------
def test_describe_job_output_is_read_by_the_product() -> None:
    job = json.loads(data("aws-cli-describe-job.json"))["Job"]
    assert job_counts(job) == {"tasks_total": 8, "tasks_succeeded": 8, "tasks_failed": 0}
    assert job_report_location(job) == S3Location("employee-records-logs", "batch-op-create-job")
    assert job_failure_reasons(job) == "AWS gave no reason"


def _with_timestamps(job: dict[str, Any]) -> dict[str, Any]:
    return {
        name: parse_timestamp(value) if name in ("CreationTime", "TerminationDate") else value
        for name, value in job.items()
        if value != []
    }


def test_describe_job_output_survives_the_wire_format() -> None:
    job = _with_timestamps(json.loads(data("aws-cli-describe-job.json"))["Job"])
    operation = operation_model("DescribeJob")
    body = serialize_response(operation, {"Job": job})
    parsed = RestXMLParser().parse({"body": body, "headers": {}, "status_code": 200}, operation.output_shape)
    parsed.pop("ResponseMetadata", None)
    assert parsed == {"Job": job}


def test_emulator_describes_every_field_of_real_output() -> None:
    real = json.loads(data("aws-cli-describe-job.json"))["Job"]
    request = {name: real[name] for name in ("Manifest", "Operation", "Report", "RoleArn", "Priority")}
    job = Job(
        job_id=real["JobId"], account_id="123456789012", region="us-west-2",
        request={**request, "ConfirmationRequired": False}, status="Complete", priority=real["Priority"],
        total_tasks=8, succeeded=8, termination_date=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    described = job.describe()
    assert set(real) - {"FailureReasons"} <= set(described)  # FailureReasons: [] is not sent when empty
    assert described["JobArn"] == real["JobArn"]
    for name in ("JobId", "Status", "Manifest", "Operation", "Report", "RoleArn", "Priority"):
        assert described[name] == real[name], name
    progress = described["ProgressSummary"]
    assert {name: progress[name] for name in real["ProgressSummary"]} == real["ProgressSummary"]


# -- S3 error bodies --------------------------------------------------------------------------------
def _parse_error(body: bytes, status: int) -> dict[str, Any]:
    return RestXMLParser().parse({"body": body, "headers": {}, "status_code": status}, None)


def test_s3_error_body_gives_code_and_no_retry() -> None:
    parsed = _parse_error(data("aws-userguide-rest-error-nosuchkey.xml"), 404)
    assert parsed["Error"]["Code"] == "NoSuchKey"
    assert parsed["Error"]["Message"] == "The resource you requested does not exist"
    err = ClientError({**parsed, "ResponseMetadata": {"HTTPStatusCode": 404}}, "PutObjectTagging")
    assert error_code(err) == "NoSuchKey"
    assert not transport_error(err).retryable


def test_emulator_s3_error_body_has_the_real_shape() -> None:
    real = data("aws-userguide-rest-error-nosuchkey.xml")
    body = b"".join(
        _error_response(SimpleNamespace(code="NoSuchKey"), {"REQUEST_METHOD": "PUT"}, lambda *args: None)
    )
    real_parsed, emulated = _parse_error(real, 404), _parse_error(body, 404)
    assert emulated["Error"]["Code"] == real_parsed["Error"]["Code"]
    root = re.compile(rb"<(\w+)>")
    assert root.findall(body)[0] == root.findall(real)[0] == b"Error"
    assert set(root.findall(body)) <= set(root.findall(real)) | {b"HostId"}


# -- one emulated job, end to end, read by the product ----------------------------------------------
@pytest.mark.e2e
def test_emulated_report_has_real_layout_and_reads(local_aws: LocalAWS, s3_bucket: str) -> None:
    s3, control = local_aws.client("s3"), local_aws.client("s3control")
    keys = ["plain.txt", "Q1 summary.pdf", "c++/notes.txt", "x=y.csv"]
    for key in keys:
        s3.put_object(Bucket=s3_bucket, Key=key, Body=b"x")
    manifest = io.BytesIO()
    write_csv_manifest((ObjectRef(s3_bucket, key) for key in [*keys, "never written.txt"]), manifest)
    etag = s3.put_object(Bucket=s3_bucket, Key="m.csv", Body=manifest.getvalue())["ETag"].strip('"')
    job_id = control.create_job(
        AccountId=local_aws.account_id, ConfirmationRequired=False, Priority=1, RoleArn=local_aws.role_arn,
        ClientRequestToken=f"fidelity-{time.time_ns()}",
        Operation={"S3PutObjectTagging": {"TagSet": [{"Key": "k", "Value": "v"}]}},
        Manifest={"Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
                  "Location": {"ObjectArn": f"arn:aws:s3:::{s3_bucket}/m.csv", "ETag": etag}},
        Report={"Enabled": True, "Bucket": f"arn:aws:s3:::{s3_bucket}", "Prefix": "reports",
                "Format": "Report_CSV_20180820", "ReportScope": "AllTasks"},
    )["JobId"]  # fmt: skip
    local_aws.jobs.wait_for(job_id)

    document = s3.get_object(Bucket=s3_bucket, Key=f"reports/job-{job_id}/manifest.json")["Body"].read()
    real = json.loads(data("linz-restore-report-manifest.json"))
    written = json.loads(document)
    assert list(written) == list(real)
    assert [list(entry) for entry in written["Results"]] == [list(entry) for entry in real["Results"]]
    summary = ReportSummary()
    read_keys = []
    for result in CompletionReportManifest.from_json(document).results:
        body = s3.get_object(Bucket=s3_bucket, Key=result.key)["Body"].read()
        assert body.endswith(b"\r\n")
        rows = list(read_report_csv(io.BytesIO(body)))
        read_keys.extend(row.key for row in rows)
        summary.add_rows(rows)
    assert sorted(read_keys) == sorted([*keys, "never written.txt"])
    assert (summary.succeeded, summary.failed, summary.failures_by_code) == (4, 1, {"NoSuchKey": 1})
    assert summary.first_failures[0]["http_status"] == 404
