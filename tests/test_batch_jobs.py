"""The batch-job rules without I/O (airflow_s3_batch_tagging/batch_jobs.py): validators, request parts,
tokens, the operators' checked inputs (BatchJobSpec) and the verdicts on described jobs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from airflow_s3_batch_tagging.batch_jobs import (
    KILL_REASON,
    BatchJobSpec,
    ManifestGeneratorSpec,
    build_report,
    deferral_timeout,
    job_request_token,
    job_result_problem,
    kill_reason,
    killed_by_earlier_try,
    resolve_manifest_format,
    successor_request_token,
    tagging_operation,
    validate_client_request_token,
    validate_role_arn,
)
from airflow_s3_batch_tagging.errors import InvalidTagError, S3TaggingInputError
from airflow_s3_batch_tagging.manifest import CSV_MANIFEST_FORMAT
from airflow_s3_batch_tagging.objects import ObjectRef, S3Location
from airflow_s3_batch_tagging.tags import TaggingMode, TagSet

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/batch-tagging"
JOB_ID = "0123abcd-0000-4000-8000-000000000001"


def _spec(**kwargs: Any) -> BatchJobSpec:
    arguments: dict[str, Any] = {
        "tags": TagSet({"a": "1"}),
        "role_arn": ROLE,
        "objects": ["s3://data/a.txt", "b.txt"],
        "bucket": "data",
        "manifest": None,
        "manifest_format": None,
        "manifest_generator": None,
        "manifest_location": "s3://manifests/batch/",
        "account_id": None,
        "priority": 10,
        "description": None,
        "job_tags": None,
        "report_location": None,
        "report_enabled": True,
        "report_scope": "FailedTasksOnly",
        "waiter_delay": 30,
        "waiter_max_attempts": 2880,
        "max_failed_tasks": 0,
        "max_failure_ratio": 0.0,
        "first_failures": 10,
        "expected_bucket_owner": None,
    }
    arguments.update(kwargs)
    return BatchJobSpec.parse(**arguments)


def _generator(
    given: Any, partition: str = "aws", expected_bucket_owner: str | None = None
) -> dict[str, Any]:
    """The ``ManifestGenerator`` argument of CreateJob built from a checked ``given``."""
    return ManifestGeneratorSpec.parse(given, expected_bucket_owner=expected_bucket_owner).to_boto(partition)


@pytest.mark.parametrize("bad", ["arn:aws:iam::123:role/x", "arn:aws:iam::123456789012:user/x", "role", None])
def test_validate_role_arn_rejects_other_forms(bad: object) -> None:
    with pytest.raises(S3TaggingInputError, match="Invalid role ARN"):
        validate_role_arn(bad)


def test_deferral_timeout_is_the_whole_wait_plus_a_minute() -> None:
    assert deferral_timeout(30, 2880) == timedelta(days=1, seconds=60)
    assert deferral_timeout(0.5, 4) == timedelta(seconds=62)


def test_request_token_is_per_task_instance_and_fits_aws() -> None:
    token = job_request_token("dag", "task", "manual__2026-11-25T00:00:00+00:00", -1)
    assert token == job_request_token("dag", "task", "manual__2026-11-25T00:00:00+00:00", -1)
    assert 1 <= len(token) <= 64
    others = {
        job_request_token("dag", "task", "manual__2026-11-25T00:00:00+00:00", 0),
        job_request_token("dag", "task", "scheduled__2026-11-25T00:00:00+00:00", -1),
        job_request_token("dag", "task2", "manual__2026-11-25T00:00:00+00:00", -1),
        job_request_token("dag2", "task", "manual__2026-11-25T00:00:00+00:00", -1),
    }
    assert token not in others
    assert len(others) == 4
    successor = successor_request_token(token, JOB_ID)
    assert successor != token
    assert len(successor) <= 64
    assert successor == successor_request_token(token, JOB_ID)


def test_tagging_operation_replaces_deletes_refuses_merge() -> None:
    assert tagging_operation(TaggingMode.REPLACE, TagSet({"b": "2", "a": "1"})) == {
        "S3PutObjectTagging": {"TagSet": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]}
    }
    assert tagging_operation("delete", None) == {"S3DeleteObjectTagging": {}}
    with pytest.raises(InvalidTagError, match="can only replace tag sets"):
        tagging_operation("merge", TagSet({"a": "1"}))


def test_build_report_points_at_the_bucket_arn_and_prefix() -> None:
    assert build_report(S3Location("reports", "runs/x/"), "AllTasks") == {
        "Enabled": True,
        "Bucket": "arn:aws:s3:::reports",
        "Format": "Report_CSV_20180820",
        "Prefix": "runs/x",
        "ReportScope": "AllTasks",
    }
    assert build_report(S3Location("reports", ""))["ReportScope"] == "FailedTasksOnly"
    assert "Prefix" not in build_report(S3Location("reports", ""))
    assert build_report(None) == {"Enabled": False}
    with pytest.raises(S3TaggingInputError, match="Invalid report_scope 'Some'"):
        build_report(S3Location("reports", ""), "Some")


def test_resolve_manifest_format_names_the_choices() -> None:
    assert resolve_manifest_format("a/b.csv", None) == CSV_MANIFEST_FORMAT
    assert resolve_manifest_format("a/manifest.json", "CSV") == CSV_MANIFEST_FORMAT
    with pytest.raises(S3TaggingInputError, match="Invalid manifest_format 'parquet'"):
        resolve_manifest_format("a", "parquet")


def test_failed_job_problem_names_aws_reasons() -> None:
    result = {
        "job_id": JOB_ID,
        "status": "Failed",
        "tasks_total": 0,
        "tasks_succeeded": 0,
        "tasks_failed": 0,
        "failure_reasons": "ManifestETagMismatch: the ETag differs",
        "report_location": None,
        "report_summary": None,
    }
    assert job_result_problem(result, max_failed_tasks=100, max_failure_ratio=1.0) == (
        f"S3 Batch Operations job {JOB_ID} ended Failed: ManifestETagMismatch: the ETag differs. "
        "0 of 0 tasks failed."
    )
    active = {**result, "status": "Active"}
    assert job_result_problem(active, max_failed_tasks=0, max_failure_ratio=0.0) == (
        f"S3 Batch Operations job {JOB_ID} has not finished: its status is Active."
    )


def test_token_of_1_to_64_characters_is_accepted() -> None:
    assert validate_client_request_token("t" * 64) == "t" * 64
    for bad in ("", "t" * 65):
        with pytest.raises(S3TaggingInputError, match="Invalid client request token"):
            validate_client_request_token(bad)


def test_kill_reason_names_the_try_and_reads_back() -> None:
    assert kill_reason(None) == KILL_REASON
    assert kill_reason(3) == f"{KILL_REASON} (try 3)"
    job = {"Status": "Cancelled", "StatusUpdateReason": kill_reason(2)}
    assert killed_by_earlier_try(job, 3) == 2
    assert killed_by_earlier_try(job, 2) is None  # a try never sees its own kill
    assert killed_by_earlier_try({**job, "Status": "Failed"}, 3) is None
    assert killed_by_earlier_try({**job, "StatusUpdateReason": "user cancelled"}, 3) is None


def test_generator_turns_names_into_arns() -> None:
    assert _generator({"SourceBucket": "src", "Filter": {"CreatedAfter": "x"}}) == {
        "S3JobManifestGenerator": {
            "SourceBucket": "arn:aws:s3:::src",
            "Filter": {"CreatedAfter": "x"},
            "EnableManifestOutput": False,
        }
    }
    wrapped = {"S3JobManifestGenerator": {"SourceBucket": "s3://src", "EnableManifestOutput": True}}
    assert _generator(wrapped)["S3JobManifestGenerator"]["SourceBucket"] == "arn:aws:s3:::src"
    with pytest.raises(S3TaggingInputError, match="Invalid S3 bucket name 'Bad_Bucket'"):
        _generator({"SourceBucket": "Bad_Bucket"})


@pytest.mark.parametrize("source", ["arn:aws:s3:::Bad_Bucket", "arn::s3:::src", "arn:aws:s3:eu:1:ap/x"])
def test_generator_source_arn_of_another_form_is_rejected(source: str) -> None:
    with pytest.raises(S3TaggingInputError, match="Invalid manifest_generator SourceBucket"):
        _generator({"SourceBucket": source})


def test_generator_arn_keeps_its_partition_a_name_takes_it() -> None:
    named = _generator({"SourceBucket": "src"}, "aws-cn")
    assert named["S3JobManifestGenerator"]["SourceBucket"] == "arn:aws-cn:s3:::src"
    given = {"SourceBucket": "arn:aws-us-gov:s3:::src"}
    kept = _generator(given, "aws-cn")
    assert kept["S3JobManifestGenerator"]["SourceBucket"] == "arn:aws-us-gov:s3:::src"


def test_generator_expects_source_owner_unless_named() -> None:
    generator = _generator({"SourceBucket": "src"}, expected_bucket_owner=ACCOUNT)
    assert generator["S3JobManifestGenerator"]["ExpectedBucketOwner"] == ACCOUNT
    own = {"SourceBucket": "src", "ExpectedBucketOwner": "210987654321"}
    kept = _generator(own, expected_bucket_owner=ACCOUNT)
    assert kept["S3JobManifestGenerator"]["ExpectedBucketOwner"] == "210987654321"
    assert "ExpectedBucketOwner" not in _generator({"SourceBucket": "src"})["S3JobManifestGenerator"]


def test_spec_builds_report_and_generator_in_any_partition() -> None:
    spec = _spec()
    assert spec.source == "objects"
    assert spec.refs == (ObjectRef("data", "a.txt"), ObjectRef("data", "b.txt"))
    assert spec.report("aws-cn")["Bucket"] == "arn:aws-cn:s3:::manifests"
    assert spec.report()["Prefix"] == "batch/reports"
    assert spec.manifest_generator_request("aws-cn") is None
    generated = _spec(objects=None, manifest_generator={"SourceBucket": "src"})
    assert generated.manifest_location is None
    assert generated.manifest_generator_request("aws-us-gov") == {
        "S3JobManifestGenerator": {"SourceBucket": "arn:aws-us-gov:s3:::src", "EnableManifestOutput": False}
    }


def test_spec_is_frozen_and_reads_templated_numbers() -> None:
    spec = _spec(priority="20", waiter_delay="5", waiter_max_attempts="3")
    assert spec.priority == 20
    with pytest.raises(AttributeError):
        spec.priority = 1  # type: ignore[misc]


def test_spec_without_report_sends_report_off() -> None:
    assert _spec(report_enabled=False).report("aws") == {"Enabled": False}
    assert _spec(report_enabled=False).report_location is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"objects": None},
            "Give exactly one manifest source of objects, manifest and manifest_generator; got none",
        ),
        ({"manifest": "s3://manifests/list.csv"}, "got objects, manifest"),
        ({"role_arn": "role"}, "Invalid role ARN 'role'"),
        ({"waiter_delay": -1}, "Invalid waiter_delay -1"),
        ({"first_failures": -1}, "Invalid first_failures -1"),
        ({"manifest_location": None}, "objects needs manifest_location"),
        ({"objects": []}, "objects is empty"),
        (
            {"objects": None, "manifest": "s3://manifests/list.csv", "manifest_location": None},
            "Set report_location",
        ),
    ],
)
def test_spec_names_the_first_bad_argument(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(S3TaggingInputError, match=message):
        _spec(**kwargs)
