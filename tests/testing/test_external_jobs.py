from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow_s3_batch_tagging.testing import LocalAWS
from airflow_s3_batch_tagging.testing.external_jobs import create_external_tagging_job


def _tags(s3: Any, bucket: str, key: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}


def _create(local_aws: LocalAWS, s3control: Any, data: str, ops: str, **options: Any) -> str:
    """A job over ``data``'s ``archive/`` reporting to ``ops``; ``options`` give the rest."""
    return create_external_tagging_job(
        s3control,
        account_id=local_aws.account_id,
        role_arn=local_aws.role_arn,
        source_bucket=data,
        key_prefix="archive/",
        report_bucket=ops,
        description="made outside Airflow",
        **options,
    )


def test_job_waits_for_confirmation_then_tags_only_the_prefix(
    local_aws: LocalAWS, s3: Any, s3control: Any, wait_job: Callable[..., dict[str, Any]]
) -> None:
    data, ops = local_aws.create_bucket(), local_aws.create_bucket()
    for key in ("archive/a.bin", "archive/b c.bin", "keep/a.bin"):
        s3.put_object(Bucket=data, Key=key, Body=b"x", Tagging="legal_hold=false")

    job_id = _create(
        local_aws,
        s3control,
        data,
        ops,
        tags={"legal_hold": "true", "reviewed_by": "legal"},
        confirmation_required=True,
    )

    job = wait_job(job_id, ("Suspended",))
    assert (job["Description"], job["Report"]["ReportScope"]) == ("made outside Airflow", "AllTasks")
    s3control.update_job_status(AccountId=local_aws.account_id, JobId=job_id, RequestedJobStatus="Ready")
    job = wait_job(job_id)
    assert (job["Status"], job["ProgressSummary"]["NumberOfTasksSucceeded"]) == ("Complete", 2)
    assert _tags(s3, data, "archive/b c.bin") == {"legal_hold": "true", "reviewed_by": "legal"}
    assert _tags(s3, data, "keep/a.bin") == {"legal_hold": "false"}
    reports = s3.list_objects_v2(Bucket=ops, Prefix=f"external-job-reports/job-{job_id}/")
    assert f"external-job-reports/job-{job_id}/manifest.json" in [o["Key"] for o in reports["Contents"]]


def test_job_without_confirmation_runs_at_once(
    local_aws: LocalAWS, s3: Any, s3control: Any, wait_job: Callable[..., dict[str, Any]]
) -> None:
    data, ops = local_aws.create_bucket(), local_aws.create_bucket()
    s3.put_object(Bucket=data, Key="archive/a.bin", Body=b"x")

    job_id = _create(
        local_aws,
        s3control,
        data,
        ops,
        tags={"legal_hold": "true"},
        confirmation_required=False,
        report_scope="FailedTasksOnly",
    )

    job = wait_job(job_id)
    assert (job["Status"], job["Report"]["ReportScope"]) == ("Complete", "FailedTasksOnly")
    assert job.get("SuspendedDate") is None
    assert _tags(s3, data, "archive/a.bin") == {"legal_hold": "true"}
