"""S3BatchOperationsHook: job requests (botocore Stubber), manifests and reports (moto's S3), waiters."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from airflow.providers.amazon.aws.exceptions import WaiterTerminalFailure
from airflow.providers.common.compat.sdk import AirflowException
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from airflow_s3_batch_tagging.batch_jobs import (
    JOB_FAILURE_STATES,
    JOB_INTERMEDIATE_STATES,
    JOB_SUCCESS_STATES,
    build_report,
    job_result_problem,
)
from airflow_s3_batch_tagging.errors import ManifestError, S3TaggingInputError
from airflow_s3_batch_tagging.hooks.s3_batch_operations import WAITER_PATH, S3BatchOperationsHook
from airflow_s3_batch_tagging.manifest import CSV_MANIFEST_FORMAT, INVENTORY_MANIFEST_FORMAT
from airflow_s3_batch_tagging.objects import ObjectRef, S3Location
from airflow_s3_batch_tagging.tags import TagSet

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/batch-tagging"
JOB_ID = "0123abcd-0000-4000-8000-000000000001"


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def hook(aws: None) -> S3BatchOperationsHook:
    return S3BatchOperationsHook(aws_conn_id=None, region_name="us-east-1", account_id=ACCOUNT)


@pytest.fixture
def stub(hook: S3BatchOperationsHook) -> Iterator[Stubber]:
    with Stubber(hook.conn) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def bucket(hook: S3BatchOperationsHook) -> str:
    hook.s3_client.create_bucket(Bucket="manifests")
    return "manifests"


def _job(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "JobId": JOB_ID,
        "Status": status,
        "Priority": 10,
        "CreationTime": dt.datetime(2026, 11, 25, tzinfo=dt.UTC),
        **extra,
    }


# -- account id, tokens, request building ---------------------------------------------------------


def test_account_id_from_argument_then_extra_then_sts(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    assert S3BatchOperationsHook(aws_conn_id=None, account_id="111122223333").account_id == "111122223333"
    monkeypatch.setenv(
        "AIRFLOW_CONN_BATCH_AWS", json.dumps({"conn_type": "aws", "extra": {"account_id": "444455556666"}})
    )
    assert S3BatchOperationsHook(aws_conn_id="batch_aws").account_id == "444455556666"
    # moto's STS answers GetCallerIdentity with its default account.
    assert S3BatchOperationsHook(aws_conn_id=None).account_id == "123456789012"


def test_account_id_of_the_wrong_form_is_rejected(aws: None) -> None:
    with pytest.raises(S3TaggingInputError, match=r"Invalid AWS account id '12345': it must be exactly 12"):
        S3BatchOperationsHook(aws_conn_id=None, account_id="12345").account_id  # noqa: B018


def test_create_tagging_job_sends_the_full_request(hook: S3BatchOperationsHook, stub: Stubber) -> None:
    manifest = {
        "Spec": {"Format": CSV_MANIFEST_FORMAT, "Fields": ["Bucket", "Key"]},
        "Location": {"ObjectArn": "arn:aws:s3:::manifests/m.csv", "ETag": "abc"},
    }
    report = build_report(S3Location("reports", "r"))
    stub.add_response(
        "create_job",
        {"JobId": JOB_ID},
        {
            "AccountId": ACCOUNT,
            "ConfirmationRequired": True,
            "Operation": {"S3PutObjectTagging": {"TagSet": [{"Key": "tier", "Value": "cold"}]}},
            "Report": report,
            "ClientRequestToken": "tok",
            "Manifest": manifest,
            "Description": "retag",
            "Priority": 42,
            "RoleArn": ROLE,
            "Tags": [{"Key": "team", "Value": "data"}],
        },
    )
    job_id = hook.create_tagging_job(
        mode="replace",
        tags=TagSet({"tier": "cold"}),
        role_arn=ROLE,
        client_request_token="tok",
        report=report,
        manifest=manifest,
        priority=42,
        confirmation_required=True,
        description="retag",
        job_tags={"team": "data"},
    )
    assert job_id == JOB_ID


def test_create_delete_job_with_a_manifest_generator(hook: S3BatchOperationsHook, stub: Stubber) -> None:
    generator = {
        "S3JobManifestGenerator": {"SourceBucket": "arn:aws:s3:::src", "EnableManifestOutput": False}
    }
    stub.add_response(
        "create_job",
        {"JobId": JOB_ID},
        {
            "AccountId": ACCOUNT,
            "ConfirmationRequired": False,
            "Operation": {"S3DeleteObjectTagging": {}},
            "Report": {"Enabled": False},
            "ClientRequestToken": "tok",
            "ManifestGenerator": generator,
            "Priority": 10,
            "RoleArn": ROLE,
        },
    )
    assert (
        hook.create_tagging_job(
            mode="delete",
            tags=None,
            role_arn=ROLE,
            client_request_token="tok",
            report={"Enabled": False},
            manifest_generator=generator,
        )
        == JOB_ID
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of manifest and manifest_generator"),
        ({"manifest": {"x": 1}, "manifest_generator": {"y": 1}}, "exactly one of manifest"),
        ({"manifest": {"x": 1}, "priority": -1}, "Invalid priority -1"),
        ({"manifest": {"x": 1}, "role_arn": "nope"}, "Invalid role ARN 'nope'"),
        ({"manifest": {"x": 1}, "description": ""}, "Invalid description ''"),
        ({"manifest": {"x": 1}, "job_tags": {"aws:x": "1"}}, "Invalid job tag 'aws:x'"),
        ({"manifest": {"x": 1}, "client_request_token": "t" * 65}, "Invalid client request token"),
    ],
)
def test_create_tagging_job_rejects_bad_input_before_any_request(
    hook: S3BatchOperationsHook, stub: Stubber, kwargs: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {
        "mode": "replace",
        "tags": TagSet({"a": "1"}),
        "role_arn": ROLE,
        "client_request_token": "tok",
        "report": {"Enabled": False},
        **kwargs,
    }
    with pytest.raises(ValueError, match=message):
        hook.create_tagging_job(**arguments)
    # The stubber has no queued response: any request would have raised a StubResponseError.


def test_create_tagging_job_explains_an_idempotency_conflict(
    hook: S3BatchOperationsHook, stub: Stubber
) -> None:
    stub.add_client_error("create_job", "IdempotencyException", "token reused", 400)
    with pytest.raises(S3TaggingInputError, match="request token tok already created a job"):
        hook.create_tagging_job(
            mode="delete",
            tags=None,
            role_arn=ROLE,
            client_request_token="tok",
            report={"Enabled": False},
            manifest={"Spec": {"Format": CSV_MANIFEST_FORMAT}, "Location": {"ObjectArn": "a", "ETag": "e"}},
        )


def test_describe_confirm_and_cancel_wrap_the_s3control_calls(
    hook: S3BatchOperationsHook, stub: Stubber
) -> None:
    stub.add_response("describe_job", {"Job": _job("Suspended")}, {"AccountId": ACCOUNT, "JobId": JOB_ID})
    stub.add_response(
        "update_job_status",
        {"JobId": JOB_ID, "Status": "Ready"},
        {"AccountId": ACCOUNT, "JobId": JOB_ID, "RequestedJobStatus": "Ready"},
    )
    stub.add_response(
        "update_job_status",
        {"JobId": JOB_ID, "Status": "Cancelled"},
        {
            "AccountId": ACCOUNT,
            "JobId": JOB_ID,
            "RequestedJobStatus": "Cancelled",
            "StatusUpdateReason": "stop",
        },
    )
    assert hook.describe_job(JOB_ID)["Status"] == "Suspended"
    assert hook.confirm_job(JOB_ID) == "Ready"
    assert hook.cancel_job(JOB_ID, "stop") == "Cancelled"


# -- waiters --------------------------------------------------------------------------------------


def test_waiter_file_defines_both_waiters() -> None:
    model = json.loads(WAITER_PATH.read_text())
    complete = model["waiters"]["batch_job_complete"]
    assert complete["operation"] == "DescribeJob"
    states = {(a["expected"], a["state"]) for a in complete["acceptors"]}
    assert states == {("Complete", "success"), ("Failed", "failure"), ("Cancelled", "failure")}
    assert all(a["argument"] == "Job.Status" and a["matcher"] == "path" for a in complete["acceptors"])


def test_hook_lists_the_custom_waiters(hook: S3BatchOperationsHook) -> None:
    assert {"batch_job_complete", "batch_job_prepared"} <= set(hook.list_waiters())


def test_wait_for_job_polls_until_complete(hook: S3BatchOperationsHook, stub: Stubber) -> None:
    params = {"AccountId": ACCOUNT, "JobId": JOB_ID}
    for status in ("Preparing", "Active", "Complete"):
        stub.add_response("describe_job", {"Job": _job(status)}, params)
    hook.wait_for_job(JOB_ID, waiter_delay=0, waiter_max_attempts=5)


@pytest.mark.parametrize("status", ["Failed", "Cancelled"])
def test_wait_for_job_stops_on_failed_or_cancelled(
    hook: S3BatchOperationsHook, stub: Stubber, status: str
) -> None:
    stub.add_response("describe_job", {"Job": _job("Active")}, {"AccountId": ACCOUNT, "JobId": JOB_ID})
    stub.add_response("describe_job", {"Job": _job(status)}, {"AccountId": ACCOUNT, "JobId": JOB_ID})
    with pytest.raises(WaiterTerminalFailure, match=f"job {JOB_ID} failed"):
        hook.wait_for_job(JOB_ID, waiter_delay=0, waiter_max_attempts=5)


@pytest.mark.parametrize(
    "status",
    sorted(set(JOB_INTERMEDIATE_STATES + JOB_SUCCESS_STATES + JOB_FAILURE_STATES) - {"New", "Preparing"}),
)
def test_preparation_waiter_stops_at_any_state_past_preparing(
    hook: S3BatchOperationsHook, stub: Stubber, status: str
) -> None:
    params = {"AccountId": ACCOUNT, "JobId": JOB_ID}
    for polled in ("New", "Preparing", "New", status):
        stub.add_response("describe_job", {"Job": _job(polled)}, params)
    hook.wait_for_job(JOB_ID, waiter_name="batch_job_prepared", waiter_delay=0, waiter_max_attempts=4)
    stub.assert_no_pending_responses()


def test_preparation_waiter_keeps_polling_while_new_or_preparing(
    hook: S3BatchOperationsHook, stub: Stubber
) -> None:
    params = {"AccountId": ACCOUNT, "JobId": JOB_ID}
    for polled in ("New", "Preparing", "Preparing"):
        stub.add_response("describe_job", {"Job": _job(polled)}, params)
    with pytest.raises(AirflowException, match="[Mm]ax attempts"):
        hook.wait_for_job(JOB_ID, waiter_name="batch_job_prepared", waiter_delay=0, waiter_max_attempts=3)


def test_preparation_waiter_stops_at_suspended(hook: S3BatchOperationsHook, stub: Stubber) -> None:
    stub.add_response("describe_job", {"Job": _job("New")}, {"AccountId": ACCOUNT, "JobId": JOB_ID})
    stub.add_response("describe_job", {"Job": _job("Suspended")}, {"AccountId": ACCOUNT, "JobId": JOB_ID})
    hook.wait_for_job(JOB_ID, waiter_name="batch_job_prepared", waiter_delay=0, waiter_max_attempts=3)


# -- manifests ------------------------------------------------------------------------------------


def test_upload_manifest_writes_csv_with_unquoted_etag(hook: S3BatchOperationsHook, bucket: str) -> None:
    refs = [ObjectRef("data", "a b.txt"), ObjectRef("data", "dir/ü,x")]
    manifest, count = hook.upload_manifest(refs, bucket, "m/manifest.csv")
    assert count == 2
    body = hook.s3_client.get_object(Bucket=bucket, Key="m/manifest.csv")["Body"].read()
    assert body == b"data,a%20b.txt\ndata,dir/%C3%BC%2Cx\n"
    head = hook.s3_client.head_object(Bucket=bucket, Key="m/manifest.csv")
    assert manifest == {
        "Spec": {"Format": CSV_MANIFEST_FORMAT, "Fields": ["Bucket", "Key"]},
        "Location": {"ObjectArn": "arn:aws:s3:::manifests/m/manifest.csv", "ETag": head["ETag"].strip('"')},
    }
    assert '"' not in manifest["Location"]["ETag"]


def test_upload_manifest_writes_version_ids_column(hook: S3BatchOperationsHook, bucket: str) -> None:
    refs = [ObjectRef("data", "a", "v1"), ObjectRef("data", "b")]
    manifest, _ = hook.upload_manifest(refs, bucket, "m.csv", with_version_ids=True)
    assert manifest["Spec"]["Fields"] == ["Bucket", "Key", "VersionId"]
    body = hook.s3_client.get_object(Bucket=bucket, Key="m.csv")["Body"].read()
    assert body == b"data,a,v1\ndata,b,null\n"


def test_upload_manifest_again_reuses_the_identical_object(hook: S3BatchOperationsHook, bucket: str) -> None:
    hook.s3_client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    refs = [ObjectRef("data", f"k{i}") for i in range(3)]
    first, _ = hook.upload_manifest(refs, bucket, "m.csv")
    second, _ = hook.upload_manifest(iter(refs), bucket, "m.csv")
    assert first == second
    versions = hook.s3_client.list_object_versions(Bucket=bucket, Prefix="m.csv")["Versions"]
    assert len(versions) == 1
    changed, _ = hook.upload_manifest(refs[:2], bucket, "m.csv")
    assert changed["Location"]["ETag"] != first["Location"]["ETag"]


def test_upload_manifest_writes_when_head_object_is_forbidden(hook: S3BatchOperationsHook) -> None:
    with Stubber(hook.s3_client) as s3_stub:
        s3_stub.add_client_error("head_object", "403", "Forbidden", 403)
        s3_stub.add_response("put_object", {"ETag": '"0123abc"'})
        manifest, count = hook.upload_manifest([ObjectRef("data", "k")], "manifests", "m.csv")
        s3_stub.assert_no_pending_responses()
    assert count == 1
    assert manifest["Location"]["ETag"] == "0123abc"


def test_upload_manifest_of_no_objects_fails_before_writing(hook: S3BatchOperationsHook, bucket: str) -> None:
    with pytest.raises(ManifestError, match="object list is empty"):
        hook.upload_manifest([], bucket, "m.csv")
    assert "Contents" not in hook.s3_client.list_objects_v2(Bucket=bucket)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (b"data,a\ndata,b\n", ["Bucket", "Key"]),
        (b"\ndata,a,v1\ndata,b,v2\n", ["Bucket", "Key", "VersionId"]),
    ],
)
def test_describe_manifest_reads_csv_etag_and_columns(
    hook: S3BatchOperationsHook, bucket: str, body: bytes, fields: list[str]
) -> None:
    put = hook.s3_client.put_object(Bucket=bucket, Key="in/list.csv", Body=body)
    manifest = hook.describe_manifest(f"s3://{bucket}/in/list.csv")
    assert manifest == {
        "Spec": {"Format": CSV_MANIFEST_FORMAT, "Fields": fields},
        "Location": {"ObjectArn": "arn:aws:s3:::manifests/in/list.csv", "ETag": put["ETag"].strip('"')},
    }


def test_describe_manifest_json_is_an_inventory(hook: S3BatchOperationsHook, bucket: str) -> None:
    hook.s3_client.put_object(Bucket=bucket, Key="inv/manifest.json", Body=b"{}")
    manifest = hook.describe_manifest(f"s3://{bucket}/inv/manifest.json")
    assert manifest["Spec"] == {"Format": INVENTORY_MANIFEST_FORMAT}
    hook.s3_client.put_object(Bucket=bucket, Key="inv/other.json", Body=b"{}")
    assert hook.describe_manifest(f"s3://{bucket}/inv/other.json", "inventory")["Spec"] == {
        "Format": INVENTORY_MANIFEST_FORMAT
    }


def test_describe_manifest_rejects_a_prefix_and_an_empty_csv(
    hook: S3BatchOperationsHook, bucket: str
) -> None:
    with pytest.raises(ManifestError, match="must name an object"):
        hook.describe_manifest(f"s3://{bucket}/dir/")
    hook.s3_client.put_object(Bucket=bucket, Key="empty.csv", Body=b"\n")
    with pytest.raises(ManifestError, match="lists no objects"):
        hook.describe_manifest(f"s3://{bucket}/empty.csv")


# -- completion reports ---------------------------------------------------------------------------


def _write_report(hook: S3BatchOperationsHook, bucket: str, prefix: str, files: dict[str, bytes]) -> None:
    results = []
    for name, body in files.items():
        key = f"{prefix}/job-{JOB_ID}/results/{name}.csv"
        hook.s3_client.put_object(Bucket=bucket, Key=key, Body=body)
        status = "failed" if name.startswith("failed") else "succeeded"
        results.append({"TaskExecutionStatus": status, "Bucket": f"arn:aws:s3:::{bucket}", "Key": key})
    document = {"Format": "Report_CSV_20180820", "ReportCreationDate": "2026-11-25", "Results": results}
    hook.s3_client.put_object(
        Bucket=bucket, Key=f"{prefix}/job-{JOB_ID}/manifest.json", Body=json.dumps(document).encode()
    )


def test_completion_report_summarises_failed_files_only(hook: S3BatchOperationsHook, bucket: str) -> None:
    _write_report(
        hook,
        bucket,
        "reports",
        {
            "failed-1": (
                b"data,a%20b,,failed,AccessDenied,403,Access Denied\ndata,c,,failed,NoSuchKey,404,gone\n"
            ),
            "failed-2": b"data,d,,failed,AccessDenied,403,Access Denied\n",
            "succeeded-1": b"data,e,,succeeded,200,,Successful\n" * 5,
        },
    )
    job = _job("Complete", Report={"Enabled": True, "Bucket": f"arn:aws:s3:::{bucket}", "Prefix": "reports"})
    summary = hook.read_completion_report(job, max_failures=2)
    assert summary is not None
    assert summary.failures_by_code == {"AccessDenied": 2, "NoSuchKey": 1}
    assert [item["key"] for item in summary.first_failures] == ["a b", "c"]
    assert summary.succeeded == 0
    assert summary.files_read == 2


def test_read_completion_report_is_none_without_a_report(hook: S3BatchOperationsHook, bucket: str) -> None:
    assert hook.read_completion_report(_job("Complete", Report={"Enabled": False})) is None
    missing = _job("Complete", Report={"Enabled": True, "Bucket": f"arn:aws:s3:::{bucket}", "Prefix": "nope"})
    assert hook.read_completion_report(missing) is None


def test_job_result_of_complete_job_over_tolerance_is_a_problem(
    hook: S3BatchOperationsHook, stub: Stubber, bucket: str
) -> None:
    _write_report(hook, bucket, "r", {"failed-1": b"data,x,,failed,AccessDenied,403,Access Denied\n"})
    job = _job(
        "Complete",
        Report={"Enabled": True, "Bucket": f"arn:aws:s3:::{bucket}", "Prefix": "r"},
        ProgressSummary={"TotalNumberOfTasks": 4, "NumberOfTasksSucceeded": 3, "NumberOfTasksFailed": 1},
    )
    stub.add_response("describe_job", {"Job": job}, {"AccountId": ACCOUNT, "JobId": JOB_ID})
    result = hook.job_result(JOB_ID)
    assert result["status"] == "Complete"
    assert (result["tasks_total"], result["tasks_succeeded"], result["tasks_failed"]) == (4, 3, 1)
    assert result["report_location"] == f"s3://{bucket}/r/job-{JOB_ID}/"
    assert result["report_summary"]["failures_by_code"] == {"AccessDenied": 1}
    json.dumps(result)
    problem = job_result_problem(result, max_failed_tasks=0, max_failure_ratio=0.0)
    assert re.search(r"1 of 4 tasks failed.*AccessDenied x1.*s3://data/x", problem or "")
    assert job_result_problem(result, max_failed_tasks=1, max_failure_ratio=0.0) is None
    assert job_result_problem(result, max_failed_tasks=0, max_failure_ratio=0.25) is None


def test_job_result_of_a_failed_job_carries_failure_reasons(
    hook: S3BatchOperationsHook, stub: Stubber
) -> None:
    job = _job(
        "Failed",
        FailureReasons=[{"FailureCode": "ManifestETagMismatch", "FailureReason": "ETag differs"}],
        Report={"Enabled": False},
    )
    stub.add_response("describe_job", {"Job": job}, {"AccountId": ACCOUNT, "JobId": JOB_ID})
    result = hook.job_result(JOB_ID)
    assert result["failure_reasons"] == "ManifestETagMismatch: ETag differs"
    assert result["report_location"] is None


def test_s3_errors_other_than_missing_objects_propagate(hook: S3BatchOperationsHook) -> None:
    with pytest.raises(ClientError):
        hook.describe_manifest("s3://no-such-bucket-here/m.csv")
