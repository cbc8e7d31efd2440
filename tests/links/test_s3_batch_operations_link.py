"""S3BatchJobLink: the S3 console URL of a job, and what execute persists for it."""

from __future__ import annotations

from unittest import mock

from airflow_s3_batch_tagging.links.s3_batch_operations import S3BatchJobLink


def test_link_points_at_the_job_page_in_the_s3_console() -> None:
    link = S3BatchJobLink()
    assert link.format_link(region_name="eu-west-1", aws_domain="aws.amazon.com", job_id="abc-123") == (
        "https://eu-west-1.console.aws.amazon.com/s3/jobs/abc-123?region=eu-west-1"
    )
    assert link.format_link(region_name="cn-north-1", aws_domain="amazonaws.cn", job_id="j") == (
        "https://cn-north-1.console.amazonaws.cn/s3/jobs/j?region=cn-north-1"
    )
    assert link.format_link(region_name="us-east-1", aws_domain="aws.amazon.com") == ""


def test_persist_pushes_the_region_domain_and_job_id() -> None:
    ti = mock.MagicMock()
    operator = mock.MagicMock(do_xcom_push=True)
    S3BatchJobLink.persist(
        context={"ti": ti}, operator=operator, region_name="us-west-2", aws_partition="aws", job_id="j-9"
    )
    ti.xcom_push.assert_called_once_with(
        key="s3_batch_job",
        value={"region_name": "us-west-2", "aws_domain": "aws.amazon.com", "job_id": "j-9"},
    )
    assert S3BatchJobLink.name == "S3 Batch Operations Job"
