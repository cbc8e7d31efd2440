"""Fixtures for the stand-in's own tests: clients, manifests and jobs on the session's ``local_aws``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.config import Config

from airflow_s3_batch_tagging.testing import LocalAWS

CSV_FORMAT = "S3BatchOperations_CSV_20180820"
TERMINAL = ("Complete", "Failed", "Cancelled")


@pytest.fixture(scope="session")
def s3(local_aws: LocalAWS) -> Any:
    return local_aws.client("s3")


@pytest.fixture(scope="session")
def s3control(local_aws: LocalAWS) -> Any:
    return local_aws.client("s3control")


@pytest.fixture(scope="session")
def raw_s3control(local_aws: LocalAWS) -> Any:
    """An s3control client that skips botocore's own parameter checks, to reach the emulator's."""
    return local_aws.client("s3control", config=Config(parameter_validation=False))


@pytest.fixture
def paced(local_aws: LocalAWS) -> Iterator[LocalAWS]:
    """The session's stand-in with jobs pausing 0.2 s between steps (restored afterwards)."""
    with local_aws.paced_jobs(0.2):
        yield local_aws


@pytest.fixture
def put_manifest(s3: Any) -> Callable[..., dict[str, str]]:
    """Write CSV manifest lines to S3; return the manifest ``Location`` for CreateJob."""

    def put(bucket: str, lines: list[str], key: str = "manifests/manifest.csv") -> dict[str, str]:
        body = "".join(f"{line}\n" for line in lines).encode("utf-8")
        etag = s3.put_object(Bucket=bucket, Key=key, Body=body)["ETag"].strip('"')
        return {"ObjectArn": f"arn:aws:s3:::{bucket}/{key}", "ETag": etag}

    return put


@pytest.fixture
def job_request(local_aws: LocalAWS) -> Callable[..., dict[str, Any]]:
    """Build CreateJob keyword arguments with sensible defaults (override any of them)."""

    def build(
        location: dict[str, str] | None = None,
        *,
        tags: dict[str, str] | None = None,
        fields: list[str] | None = None,
        report_bucket: str | None = None,
        scope: str = "AllTasks",
        **overrides: Any,
    ) -> dict[str, Any]:
        request: dict[str, Any] = {
            "AccountId": local_aws.account_id,
            "ConfirmationRequired": False,
            "Operation": {
                "S3PutObjectTagging": {
                    "TagSet": [
                        {"Key": k, "Value": v}
                        for k, v in ({"team": "data"} if tags is None else tags).items()
                    ]
                }
            },
            "Report": {"Enabled": False},
            "Priority": 10,
            "RoleArn": local_aws.role_arn,
        }
        if location is not None:
            request["Manifest"] = {
                "Spec": {"Format": CSV_FORMAT, "Fields": fields or ["Bucket", "Key"]},
                "Location": location,
            }
        if report_bucket:
            request["Report"] = {
                "Enabled": True,
                "Bucket": f"arn:aws:s3:::{report_bucket}",
                "Format": "Report_CSV_20180820",
                "Prefix": "reports",
                "ReportScope": scope,
            }
        request.update(overrides)
        return request

    return build


@pytest.fixture
def wait_job(s3control: Any, local_aws: LocalAWS) -> Callable[..., dict[str, Any]]:
    """Poll DescribeJob until the job is in one of ``statuses`` (default: terminal); return the Job."""

    def wait(job_id: str, statuses: tuple[str, ...] = TERMINAL, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job: dict[str, Any] = s3control.describe_job(AccountId=local_aws.account_id, JobId=job_id)["Job"]
            if job["Status"] in statuses:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} still {job['Status']} after {timeout}s")
            time.sleep(0.02)

    return wait
