"""``S3BatchJobLink``: the S3 Batch Operations job's page in the S3 console."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.providers.amazon.aws.links.base_aws import BaseAwsLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context


class S3BatchJobLink(BaseAwsLink):
    """Helper class for constructing a link to an S3 Batch Operations job in the S3 console."""

    name = "S3 Batch Operations Job"
    key = "s3_batch_job"
    format_str = "https://{region_name}.console.{aws_domain}/s3/jobs/{job_id}?region={region_name}"

    @classmethod
    def persist_job(
        cls, context: Context, operator: BaseOperator, *, region_name: str, aws_partition: str, job_id: str
    ) -> str:
        """Store the job's console link on the task instance (``persist``) and return its URL to log."""
        cls.persist(
            context=context,
            operator=operator,
            region_name=region_name,
            aws_partition=aws_partition,
            job_id=job_id,
        )
        return cls.format_str.format(
            region_name=region_name, aws_domain=cls.get_aws_domain(aws_partition), job_id=job_id
        )
