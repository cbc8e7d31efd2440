"""The REST-XML codec against botocore's own serializer and parser for the s3control model."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from airflow_s3_batch_tagging.testing.wire import (
    XML_NAMESPACE,
    WireError,
    error_body,
    operation_model,
    parse_request,
    serialize_response,
)

CREATE_JOB: dict[str, Any] = {
    "AccountId": "123456789012",
    "ConfirmationRequired": False,
    "Operation": {
        "S3PutObjectTagging": {"TagSet": [{"Key": "a", "Value": "1"}, {"Key": "b c", "Value": ""}]}
    },
    "Report": {
        "Bucket": "arn:aws:s3:::reports",
        "Format": "Report_CSV_20180820",
        "Enabled": True,
        "Prefix": "p/q",
        "ReportScope": "FailedTasksOnly",
    },
    "ClientRequestToken": "token-1",
    "Manifest": {
        "Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key", "VersionId"]},
        "Location": {"ObjectArn": "arn:aws:s3:::b/m & <x>.csv", "ETag": "abc", "ObjectVersionId": "v1"},
    },
    "Description": "über <job>",
    "Priority": 2147483647,
    "RoleArn": "arn:aws:iam::123456789012:role/r",
    "Tags": [{"Key": "owner", "Value": "me"}],
}


def botocore_request(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    return create_serializer("rest-xml").serialize_to_request(params, operation_model(operation))


def parse_like_the_emulator(
    operation: str, request: dict[str, Any], uri_params: dict[str, str]
) -> dict[str, Any]:
    body = request["body"]
    query = {
        name: [str(value) for value in values] if isinstance(values, list) else [str(values)]
        for name, values in request["query_string"].items()
    }
    return parse_request(
        operation_model(operation),
        body=body if isinstance(body, bytes) else body.encode(),
        headers=dict(request["headers"]),
        query=query,
        uri_params=uri_params,
    )


def test_create_job_request_round_trips_through_botocore() -> None:
    request = botocore_request("CreateJob", CREATE_JOB)

    assert parse_like_the_emulator("CreateJob", request, {}) == CREATE_JOB


def test_querystring_lists_and_integers_are_read() -> None:
    params = {
        "AccountId": "123456789012",
        "JobStatuses": ["Active", "New"],
        "MaxResults": 5,
        "NextToken": "t",
    }

    parsed = parse_like_the_emulator("ListJobs", botocore_request("ListJobs", params), {})

    assert parsed == params


def test_manifest_generator_timestamps_and_unions_are_read() -> None:
    after = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    params = {
        **{k: v for k, v in CREATE_JOB.items() if k != "Manifest"},
        "ManifestGenerator": {
            "S3JobManifestGenerator": {
                "SourceBucket": "arn:aws:s3:::src",
                "EnableManifestOutput": False,
                "Filter": {"CreatedAfter": after, "KeyNameConstraint": {"MatchAnyPrefix": ["a/", "b/"]}},
            }
        },
    }

    parsed = parse_like_the_emulator("CreateJob", botocore_request("CreateJob", params), {})

    flt = parsed["ManifestGenerator"]["S3JobManifestGenerator"]["Filter"]
    assert flt["CreatedAfter"] == after
    assert flt["KeyNameConstraint"] == {"MatchAnyPrefix": ["a/", "b/"]}


def test_describe_job_response_reads_back_with_botocore_parser() -> None:
    created = dt.datetime(2026, 5, 6, 7, 8, 9, 123000, tzinfo=dt.UTC)
    job = {
        "JobId": "id-12345",
        "Status": "Failed",
        "Priority": 3,
        "ConfirmationRequired": True,
        "Operation": CREATE_JOB["Operation"],
        "Manifest": CREATE_JOB["Manifest"],
        "Report": CREATE_JOB["Report"],
        "ProgressSummary": {
            "TotalNumberOfTasks": 10,
            "NumberOfTasksSucceeded": 4,
            "NumberOfTasksFailed": 6,
            "Timers": {"ElapsedTimeInActiveSeconds": 2},
        },
        "FailureReasons": [{"FailureCode": "X", "FailureReason": "why & how"}],
        "CreationTime": created,
    }
    body = serialize_response(operation_model("DescribeJob"), {"Job": job})

    parsed = create_parser("rest-xml").parse(
        {"body": body, "headers": {}, "status_code": 200}, operation_model("DescribeJob").output_shape
    )

    assert parsed["Job"] == job
    assert XML_NAMESPACE.encode() in body


def test_error_body_is_read_by_botocore_as_code_and_message() -> None:
    body = error_body("NotFoundException", "no <such> job", "REQ1")

    parsed = create_parser("rest-xml").parse(
        {"body": body, "headers": {}, "status_code": 404}, operation_model("DescribeJob").output_shape
    )

    assert parsed["Error"] == {"Code": "NotFoundException", "Message": "no <such> job"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<CreateJobRequest><Priority>high</Priority>", "not well-formed"),
        (b"<Other/>", "root element"),
        (b"<CreateJobRequest><Priority>high</Priority></CreateJobRequest>", "Priority"),
        (
            b"<CreateJobRequest><ConfirmationRequired>maybe</ConfirmationRequired></CreateJobRequest>",
            "boolean",
        ),
    ],
)
def test_unreadable_bodies_raise_wire_error(body: bytes, message: str) -> None:
    with pytest.raises(WireError, match=message):
        parse_request(operation_model("CreateJob"), body=body, headers={}, query={}, uri_params={})
