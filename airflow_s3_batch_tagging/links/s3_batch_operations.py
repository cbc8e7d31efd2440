"""``S3BatchJobLink``: the S3 Batch Operations job's page in the S3 console."""

from __future__ import annotations

from airflow.providers.amazon.aws.links.base_aws import BaseAwsLink


class S3BatchJobLink(BaseAwsLink):
    """Helper class for constructing a link to an S3 Batch Operations job in the S3 console."""

    name = "S3 Batch Operations Job"
    key = "s3_batch_job"
    format_str = "https://{region_name}.console.{aws_domain}/s3/jobs/{job_id}?region={region_name}"
