"""LocalAWS: lifecycle, routing, client and Airflow connection settings (sync and async hooks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from airflow_s3_batch_tagging.testing import LocalAWS


def test_importing_the_package_loads_neither_airflow_nor_moto() -> None:
    code = (
        "import sys, airflow_s3_batch_tagging.testing, airflow_s3_batch_tagging.testing.pytest_plugin; "
        "print(sorted(m for m in ('airflow', 'moto') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "[]"


def test_invalid_account_id_is_refused() -> None:
    with pytest.raises(ValueError, match="12 digits"):
        LocalAWS(account_id="1234")


def test_endpoint_needs_a_running_stand_in() -> None:
    aws = LocalAWS()
    with pytest.raises(RuntimeError, match="not running"):
        _ = aws.endpoint_url


@pytest.mark.e2e
def test_start_and_stop_free_the_port_and_stop_runners() -> None:
    with LocalAWS(account_id="210987654321", region="eu-west-1") as aws:
        endpoint = aws.endpoint_url
        bucket = aws.create_bucket(versioned=True)
        s3 = aws.client("s3")
        versioning = s3.get_bucket_versioning(Bucket=bucket)["Status"]
        role_arn = aws.role_arn
    assert endpoint.startswith("http://127.0.0.1:")
    assert versioning == "Enabled"
    assert role_arn == "arn:aws:iam::210987654321:role/s3-batch-tagging"
    assert not aws.running


@pytest.mark.e2e
def test_connection_settings_describe_the_stand_in(local_aws: LocalAWS) -> None:
    conn = json.loads(local_aws.airflow_conn_json)
    env = local_aws.env()

    assert conn["conn_type"] == "aws"
    assert conn["login"]
    assert conn["password"]
    assert conn["extra"] == local_aws.connection_extra
    assert conn["extra"]["endpoint_url"] == local_aws.endpoint_url
    assert conn["extra"]["region_name"] == local_aws.region
    assert conn["extra"]["config_kwargs"]["inject_host_prefix"] is False
    assert conn["extra"]["config_kwargs"]["proxies"] == {"http": local_aws.endpoint_url}
    assert env["AIRFLOW_CONN_AWS_DEFAULT"] == local_aws.airflow_conn_json
    assert env["AWS_DEFAULT_REGION"] == local_aws.region
    assert local_aws.env("my_aws")["AIRFLOW_CONN_MY_AWS"] == local_aws.airflow_conn_json


@pytest.mark.e2e
def test_s3_control_reaches_emulator_despite_host_prefix(local_aws: LocalAWS, s3control: Any) -> None:
    sent: list[str] = []
    s3control.meta.events.register(
        "before-send.s3-control.ListJobs", lambda request, **_: sent.append(request.url)
    )

    s3control.list_jobs(AccountId=local_aws.account_id)

    s3control.meta.events.unregister("before-send.s3-control.ListJobs")
    assert sent[0].startswith(f"http://{local_aws.account_id}.127.0.0.1:{local_aws.port}/v20180820/jobs")


@pytest.mark.e2e
def test_airflow_hooks_reach_stand_in_from_connection(
    local_aws: LocalAWS, aws_default_conn: str, s3_bucket: str, put_manifest: Any, job_request: Any
) -> None:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    s3_hook = AwsBaseHook(aws_conn_id=aws_default_conn, client_type="s3")
    control_hook = AwsBaseHook(aws_conn_id=aws_default_conn, client_type="s3control")
    s3_hook.conn.put_object(Bucket=s3_bucket, Key="a.txt", Body=b"x")

    job_id = control_hook.conn.create_job(**job_request(put_manifest(s3_bucket, [f"{s3_bucket},a.txt"])))[
        "JobId"
    ]
    job = local_aws.jobs.wait_for(job_id)

    assert os.environ["AIRFLOW_CONN_AWS_DEFAULT"] == local_aws.airflow_conn_json
    assert job.status == "Complete"
    assert (
        control_hook.conn.describe_job(AccountId=local_aws.account_id, JobId=job_id)["Job"]["Status"]
        == "Complete"
    )
    assert s3_hook.conn.get_object_tagging(Bucket=s3_bucket, Key="a.txt")["TagSet"] == [
        {"Key": "team", "Value": "data"}
    ]


@pytest.mark.e2e
async def test_async_hook_client_reaches_the_emulator(
    local_aws: LocalAWS,
    aws_default_conn: str,
    s3_bucket: str,
    put_manifest: Any,
    job_request: Any,
    s3control: Any,
) -> None:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    location = put_manifest(s3_bucket, [f"{s3_bucket},missing.txt"])
    job_id = s3control.create_job(**job_request(location, ConfirmationRequired=True))["JobId"]
    hook = AwsBaseHook(aws_conn_id=aws_default_conn, client_type="s3control")

    async with await hook.get_async_conn() as client:
        job = (await client.describe_job(AccountId=local_aws.account_id, JobId=job_id))["Job"]
        await client.update_job_status(
            AccountId=local_aws.account_id, JobId=job_id, RequestedJobStatus="Cancelled"
        )
        with pytest.raises(client.exceptions.NotFoundException):
            await client.describe_job(AccountId=local_aws.account_id, JobId="no-such-job")

    assert job["JobId"] == job_id
    assert local_aws.jobs.wait_for(job_id).status == "Cancelled"


def test_paced_jobs_restores_the_previous_delay_on_error_too() -> None:
    aws = LocalAWS(job_step_delay=0.1)  # not started: the delay is the job store's setting
    with aws.paced_jobs(0.4) as paced:
        assert (paced, aws.job_step_delay, aws.jobs.job_step_delay) == (aws, 0.4, 0.4)
    assert aws.job_step_delay == 0.1
    with pytest.raises(RuntimeError), aws.paced_jobs(0.3):
        raise RuntimeError("the test failed while a job ran")
    assert aws.job_step_delay == 0.1
    with pytest.raises(ValueError, match="must not be negative"), aws.paced_jobs(-1):
        pass
    assert aws.job_step_delay == 0.1
