"""The S3 Control job API of the emulator through the plain boto3 client: validation, errors,
idempotency, listing, priority, job tags and unimplemented operations."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from airflow_s3_batch_tagging.testing import LocalAWS

pytestmark = pytest.mark.e2e

CSV = "S3BatchOperations_CSV_20180820"
ELEVEN_TAGS = [{"Key": f"k{i}", "Value": "v"} for i in range(11)]
DUPLICATES = [{"Key": "k", "Value": "1"}, {"Key": "k", "Value": ""}]


def error_of(call: Any, **kwargs: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    response = info.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


@pytest.fixture
def location(s3: Any, s3_bucket: str, put_manifest: Any) -> dict[str, str]:
    s3.put_object(Bucket=s3_bucket, Key="a.txt", Body=b"x")
    return put_manifest(s3_bucket, [f"{s3_bucket},a.txt"])


@pytest.mark.parametrize(
    ("change", "code", "status", "message_part"),
    [
        ({"RoleArn": "arn:aws:iam::123:role/short-account"}, "InvalidRequest", 400, "RoleArn"),
        ({"RoleArn": "arn:aws:s3:::not-a-role"}, "InvalidRequest", 400, "RoleArn"),
        ({"ClientRequestToken": "t" * 65}, "InvalidRequest", 400, "ClientRequestToken"),
        ({"Priority": -1}, "InvalidRequest", 400, "Priority"),
        ({"Priority": 2147483648}, "InvalidRequest", 400, "Priority"),
        ({"Description": "d" * 257}, "InvalidRequest", 400, "Description"),
        ({"Report": {"Enabled": True, "Bucket": "plain-bucket-name", "Format": "Report_CSV_20180820"}},
         "InvalidRequest", 400, "Report.Bucket"),
        ({"Report": {"Enabled": True, "Bucket": "arn:aws:s3:::Bad_Bucket", "Format": "Report_CSV_20180820"}},
         "InvalidRequest", 400, "Report.Bucket"),
        ({"Report": {"Enabled": True, "Bucket": "arn:aws:s3:::reports"}}, "InvalidRequest", 400, "Format"),
        ({"Report": {"Bucket": "arn:aws:s3:::reports"}}, "InvalidRequest", 400, "Enabled"),
        ({"Operation": {"S3PutObjectTagging": {"TagSet": ELEVEN_TAGS}}}, "InvalidRequest", 400, "at most 10"),
        ({"Operation": {"S3PutObjectTagging": {"TagSet": [{"Key": "aws:owner", "Value": "v"}]}}},
         "InvalidRequest", 400, "reserved"),
        ({"Operation": {"S3PutObjectTagging": {"TagSet": DUPLICATES}}}, "InvalidRequest", 400, "more than"),
        ({"Operation": {}}, "InvalidRequest", 400, "exactly one operation"),
        ({"Operation": {"LambdaInvoke": {"FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f"}}},
         "NotImplemented", 501, "LambdaInvoke"),
        ({"Tags": [{"Key": f"t{i}", "Value": "v"} for i in range(51)]}, "InvalidRequest", 400, "50 tags"),
        ({"Manifest": None}, "InvalidRequest", 400, "neither"),
        ({"ManifestGenerator": {"S3JobManifestGenerator": {"SourceBucket": "arn:aws:s3:::src",
                                                           "EnableManifestOutput": False}}},
         "InvalidRequest", 400, "both"),
        ({"Manifest": {"Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
                       "Location": {"ObjectArn": "arn:aws:s3:::bucket-only", "ETag": "e"}}},
         "InvalidRequest", 400, "ObjectArn"),
        ({"Manifest": {"Spec": {"Format": CSV, "Fields": ["Ignore", "Bucket", "Key"]},
                       "Location": {"ObjectArn": "arn:aws:s3:::b-1/m.csv", "ETag": "e"}}},
         "NotImplemented", 501, "Fields"),
        ({"Manifest": {"Spec": {"Format": "S3BatchOperations_CSV_20180820"},
                       "Location": {"ObjectArn": "arn:aws:s3:::b-1/m.csv", "ETag": "e"}}},
         "InvalidRequest", 400, "Fields"),
    ],
)  # fmt: skip
def test_create_job_rejects_what_aws_rejects(
    raw_s3control: Any,
    job_request: Any,
    location: dict[str, str],
    local_aws: LocalAWS,
    change: dict[str, Any],
    code: str,
    status: int,
    message_part: str,
) -> None:
    before = len(local_aws.jobs)
    request = job_request(location)
    request.update(change)
    request = {name: value for name, value in request.items() if value is not None}

    assert error_of(raw_s3control.create_job, **request)[:2] == (code, status)
    assert message_part in error_of(raw_s3control.create_job, **request)[2]
    assert len(local_aws.jobs) == before


def test_create_job_checks_the_account_id(
    raw_s3control: Any, job_request: Any, location: dict[str, str]
) -> None:
    assert error_of(raw_s3control.create_job, **job_request(location, AccountId="12345"))[:2] == (
        "InvalidRequest",
        400,
    )
    assert error_of(raw_s3control.create_job, **job_request(location, AccountId="999999999999"))[:2] == (
        "AccessDenied",
        403,
    )


def test_manifest_generator_validation(raw_s3control: Any, job_request: Any, s3_bucket: str) -> None:
    source = f"arn:aws:s3:::{s3_bucket}"
    without_output = {"S3JobManifestGenerator": {"SourceBucket": source, "EnableManifestOutput": True}}
    replication = {
        "S3JobManifestGenerator": {
            "SourceBucket": source,
            "EnableManifestOutput": False,
            "Filter": {"EligibleForReplication": True},
        }
    }
    bad_source = {"S3JobManifestGenerator": {"SourceBucket": "src", "EnableManifestOutput": False}}

    assert error_of(raw_s3control.create_job, **job_request(ManifestGenerator=without_output))[0] == (
        "InvalidRequest"
    )
    assert error_of(raw_s3control.create_job, **job_request(ManifestGenerator=replication))[:2] == (
        "NotImplemented",
        501,
    )
    assert (
        error_of(raw_s3control.create_job, **job_request(ManifestGenerator=bad_source))[0] == "InvalidRequest"
    )


def test_same_token_same_job_other_request_refused(
    s3control: Any, job_request: Any, location: dict[str, str], local_aws: LocalAWS, wait_job: Any
) -> None:
    request = job_request(location, ClientRequestToken="token-123-abc", Description="first")
    first = s3control.create_job(**request)["JobId"]
    count = len(local_aws.jobs)

    again = s3control.create_job(**request)["JobId"]
    code, status, message = error_of(s3control.create_job, **{**request, "Priority": 99})

    assert again == first
    assert len(local_aws.jobs) == count
    assert (code, status) == ("IdempotencyException", 409)
    assert "token-123-abc" in message
    with pytest.raises(s3control.exceptions.IdempotencyException):
        s3control.create_job(**{**request, "Description": "second"})
    wait_job(first)


def test_unknown_job_is_not_found_for_every_job_operation(s3control: Any, local_aws: LocalAWS) -> None:
    job = {"AccountId": local_aws.account_id, "JobId": "00000000-0000-0000-0000-000000000000"}

    for call, extra in [
        (s3control.describe_job, {}),
        (s3control.update_job_status, {"RequestedJobStatus": "Cancelled"}),
        (s3control.update_job_priority, {"Priority": 1}),
        (s3control.get_job_tagging, {}),
        (s3control.put_job_tagging, {"Tags": []}),
        (s3control.delete_job_tagging, {}),
    ]:
        code, status, message = error_of(call, **job, **extra)
        assert (code, status) == ("NotFoundException", 404)
        assert job["JobId"] in message
    with pytest.raises(s3control.exceptions.NotFoundException):
        s3control.describe_job(**job)


def test_describe_job_echoes_the_request(
    s3control: Any, job_request: Any, location: dict[str, str], s3_bucket: str, wait_job: Any
) -> None:
    request = job_request(location, report_bucket=s3_bucket, Description="echo", Priority=42)

    job = wait_job(s3control.create_job(**request)["JobId"])

    assert job["Description"] == "echo"
    assert job["Priority"] == 42
    assert job["RoleArn"] == request["RoleArn"]
    assert job["Manifest"] == request["Manifest"]
    assert job["Operation"] == request["Operation"]
    assert job["Report"] == request["Report"]
    assert job["ConfirmationRequired"] is False


def test_disallowed_status_changes_are_refused(
    s3control: Any, job_request: Any, location: dict[str, str], local_aws: LocalAWS, wait_job: Any
) -> None:
    job_id = s3control.create_job(**job_request(location))["JobId"]
    wait_job(job_id)

    for requested in ("Ready", "Cancelled"):
        code, status, message = error_of(
            s3control.update_job_status,
            AccountId=local_aws.account_id,
            JobId=job_id,
            RequestedJobStatus=requested,
        )
        assert (code, status) == ("JobStatusException", 400)
        assert "Complete" in message


def test_update_job_priority(
    s3control: Any, raw_s3control: Any, job_request: Any, location: dict[str, str], local_aws: LocalAWS
) -> None:
    job_id = s3control.create_job(**job_request(location, ConfirmationRequired=True))["JobId"]

    answer = s3control.update_job_priority(AccountId=local_aws.account_id, JobId=job_id, Priority=7)
    code = error_of(
        raw_s3control.update_job_priority, AccountId=local_aws.account_id, JobId=job_id, Priority=-5
    )[0]

    assert (answer["JobId"], answer["Priority"]) == (job_id, 7)
    assert s3control.describe_job(AccountId=local_aws.account_id, JobId=job_id)["Job"]["Priority"] == 7
    assert code == "InvalidRequest"
    s3control.update_job_status(AccountId=local_aws.account_id, JobId=job_id, RequestedJobStatus="Cancelled")


def test_job_tags_are_set_at_creation_read_replaced_and_deleted(
    s3control: Any, job_request: Any, location: dict[str, str], local_aws: LocalAWS
) -> None:
    job_id = s3control.create_job(**job_request(location, Tags=[{"Key": "owner", "Value": "data-eng"}]))[
        "JobId"
    ]
    job = {"AccountId": local_aws.account_id, "JobId": job_id}

    assert s3control.get_job_tagging(**job)["Tags"] == [{"Key": "owner", "Value": "data-eng"}]
    s3control.put_job_tagging(**job, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}])
    assert s3control.get_job_tagging(**job)["Tags"] == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}]
    assert error_of(
        s3control.put_job_tagging, **job, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    )[:2] == ("TooManyTagsException", 400)
    assert (
        error_of(s3control.put_job_tagging, **job, Tags=[{"Key": "aws:x", "Value": "v"}])[0]
        == "InvalidRequest"
    )
    s3control.delete_job_tagging(**job)
    assert s3control.get_job_tagging(**job)["Tags"] == []


def test_list_jobs_filters_by_status_and_pages_with_next_token(
    s3control: Any, job_request: Any, location: dict[str, str], local_aws: LocalAWS, wait_job: Any
) -> None:
    suspended = [
        s3control.create_job(**job_request(location, ConfirmationRequired=True))["JobId"] for _ in range(3)
    ]
    for job_id in suspended:
        wait_job(job_id, ("Suspended",))

    listed = s3control.list_jobs(AccountId=local_aws.account_id, JobStatuses=["Suspended"])["Jobs"]
    seen: list[str] = []
    kwargs: dict[str, Any] = {"AccountId": local_aws.account_id, "MaxResults": 2}
    pages = 0
    while True:
        page = s3control.list_jobs(**kwargs)
        pages += 1
        assert len(page["Jobs"]) <= 2
        seen.extend(job["JobId"] for job in page["Jobs"])
        if "NextToken" not in page:
            break
        kwargs["NextToken"] = page["NextToken"]

    assert set(suspended) <= {job["JobId"] for job in listed}
    assert {job["Status"] for job in listed} == {"Suspended"}
    assert {job["Operation"] for job in listed} == {"S3PutObjectTagging"}
    assert len(seen) == len(set(seen)) == len(local_aws.jobs)
    assert pages == (len(seen) + 1) // 2
    assert error_of(s3control.list_jobs, AccountId=local_aws.account_id, NextToken="bm90LWEtdG9rZW4=")[0] == (
        "InvalidNextTokenException"
    )
    for job_id in suspended:
        s3control.update_job_status(
            AccountId=local_aws.account_id, JobId=job_id, RequestedJobStatus="Cancelled"
        )
    for job_id in suspended:
        wait_job(job_id)
    still_suspended = s3control.list_jobs(AccountId=local_aws.account_id, JobStatuses=["Suspended"])["Jobs"]
    assert not {job["JobId"] for job in still_suspended} & set(suspended)


def test_other_operations_answer_not_implemented(s3control: Any, local_aws: LocalAWS) -> None:
    code, status, message = error_of(s3control.get_public_access_block, AccountId=local_aws.account_id)

    assert (code, status) == ("NotImplemented", 501)
    assert "GetPublicAccessBlock" in message
