"""A tagging job made outside Airflow, as a person would with the S3 console or the AWS CLI.

The demo and the real-deployment test each start one for the example DAG that watches a job it did
not create (``example_s3_batch_job_sensor``). The request is written here from the CreateJob API
reference, not with the provider's request builders: it stands for a caller that is not this
provider. It works against the stand-in and against AWS alike.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

REPORT_PREFIX = "external-job-reports"


def create_external_tagging_job(
    s3control: Any,
    *,
    account_id: str,
    role_arn: str,
    source_bucket: str,
    key_prefix: str,
    tags: Mapping[str, str],
    report_bucket: str,
    description: str,
    confirmation_required: bool,
    report_scope: str = "AllTasks",
    priority: int = 10,
) -> str:
    """Create, with the boto3 client ``s3control``, a job that replaces the tag set of every object
    of ``source_bucket`` under ``key_prefix`` (a generated manifest, as the console offers), with a
    completion report under ``s3://{report_bucket}/external-job-reports/``; return the job's id."""
    request = {
        "AccountId": account_id,
        "ConfirmationRequired": confirmation_required,
        "Operation": {
            "S3PutObjectTagging": {"TagSet": [{"Key": key, "Value": value} for key, value in tags.items()]}
        },
        "Report": {
            "Enabled": True,
            "Bucket": f"arn:aws:s3:::{report_bucket}",
            "Prefix": REPORT_PREFIX,
            "Format": "Report_CSV_20180820",
            "ReportScope": report_scope,
        },
        "ClientRequestToken": uuid.uuid4().hex,
        "Priority": priority,
        "RoleArn": role_arn,
        "Description": description,
        "ManifestGenerator": {
            "S3JobManifestGenerator": {
                "SourceBucket": f"arn:aws:s3:::{source_bucket}",
                "EnableManifestOutput": False,
                "Filter": {"KeyNameConstraint": {"MatchAnyPrefix": [key_prefix]}},
            }
        },
    }
    return str(s3control.create_job(**request)["JobId"])
