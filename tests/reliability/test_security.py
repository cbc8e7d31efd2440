"""Security: no credentials in logs, XCom or written S3 objects; ``ExpectedBucketOwner`` on every S3
request of the direct path when it is set."""

from __future__ import annotations

import io
import json
import logging
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import _awscrt
import aiobotocore.endpoint
import botocore.endpoint
import pytest
from airflow.providers.common.compat.sdk import DAG, task
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

from airflow_s3_batch_tagging.manifest import write_csv_manifest
from airflow_s3_batch_tagging.objects import ObjectRef
from airflow_s3_batch_tagging.operators.s3_batch_operations import S3BatchPutObjectTaggingOperator
from airflow_s3_batch_tagging.operators.s3_object_tagging import (
    S3PutObjectTaggingOperator,
    S3RestoreObjectTaggingOperator,
    plan_tagging_batches,
)
from airflow_s3_batch_tagging.sensors.s3_batch_operations import S3BatchJobSensor

from .conftest import put_objects, tags_of

pytestmark = pytest.mark.e2e

ACCESS_KEY_ID = "AKIAZQXSECRETKEYID42"
SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzSECRETzKEY99"
SESSION_TOKEN = "FwoGZXIvYXdzEJr//////////SECRETSESSIONTOKENzzzzQ1w2e3r4t5y6u7i8o9p0"
SECRETS = (ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN)


@pytest.fixture
def secret_conn(local_aws: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """An ``aws`` connection to the stand-in whose keys look like real ones (moto accepts any)."""
    conn = {
        "conn_type": "aws",
        "login": ACCESS_KEY_ID,
        "password": SECRET_ACCESS_KEY,
        "extra": {**local_aws.connection_extra, "aws_session_token": SESSION_TOKEN},
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_SECRET_TEST", json.dumps(conn))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    return "aws_secret_test"


def _all_xcom_values(dag_id: str, run_id: str) -> list[str]:
    from airflow.utils.session import create_session
    from sqlalchemy import select

    if AIRFLOW_V_3_0_PLUS:
        from airflow.models.xcom import XComModel
    else:  # Airflow 2's table model (it deserializes each value on load)
        from airflow.models.xcom import BaseXCom as XComModel

    with create_session() as session:
        rows = session.scalars(
            select(XComModel).where(XComModel.dag_id == dag_id, XComModel.run_id == run_id)
        ).all()
        return [f"{row.key}={json.dumps(row.value, default=str)}" for row in rows]


def _bodies(s3: Any, bucket: str) -> list[str]:
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return [s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8", "replace") for key in keys]


def test_no_credentials_in_logs_xcom_or_written_objects(
    run_dag: Callable[..., Any],
    secret_conn: str,
    local_aws: Any,
    s3: Any,
    aws_faults: Any,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    reliability: Any,
) -> None:
    caplog.set_level(logging.DEBUG, logger="airflow_s3_batch_tagging")
    caplog.set_level(logging.DEBUG, logger="airflow.task")
    bucket = local_aws.create_bucket()
    keys = [f"secure/{i:02d}.csv" for i in range(12)]
    put_objects(s3, bucket, {key: {"owner": "a"} for key in keys})
    aws_faults.failing_keys = {f"{bucket}/{keys[0]}"}  # a failure path with warnings in the logs
    with DAG(
        f"security_{uuid.uuid4().hex[:8]}", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC)
    ) as dag:

        @task
        def list_keys() -> list[str]:
            return list(keys)

        listed = list_keys()
        batches = plan_tagging_batches(objects=listed, batch_size=5, aws_conn_id=secret_conn)
        tagged = S3PutObjectTaggingOperator.partial(
            task_id="tag", bucket=bucket, tags={"tier": "cold"}, undo_log=f"s3://{bucket}/undo/",
            aws_conn_id=secret_conn, max_failed_objects=1,
        ).expand(objects=batches)  # fmt: skip
        restore = S3RestoreObjectTaggingOperator(
            task_id="restore", undo_log=f"s3://{bucket}/undo/", aws_conn_id=secret_conn
        )
        strict = S3PutObjectTaggingOperator(
            task_id="strict", objects=listed, bucket=bucket, tags={"x": "1"}, aws_conn_id=secret_conn
        )  # fails: the failing key is over the tolerance, and its message is logged
        batch = S3BatchPutObjectTaggingOperator(
            task_id="batch", objects=listed, bucket=bucket, tags={"tier": "batch"},
            role_arn=local_aws.role_arn, manifest_location=f"s3://{bucket}/m/", aws_conn_id=secret_conn,
            waiter_delay=0, max_failed_tasks=1, trigger_rule="all_done",
        )  # fmt: skip
        tagged >> restore >> strict >> batch

    run = run_dag(dag)
    aws_faults.clear()
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states["restore"] == "success"
    assert states["strict"] == "failed"
    assert states["batch"] == "success"
    logs = capsys.readouterr().out + "\n".join(record.getMessage() for record in caplog.records)
    xcoms = _all_xcom_values(dag.dag_id, run.run_id)
    bodies = _bodies(s3, bucket)
    assert "Tagged 5 objects" in logs  # the capture did see the task logs
    assert "S3 Batch Operations job" in logs
    assert "objects failed, more than the tolerance" in logs  # the failing task's message
    assert any(value.startswith("return_value=") for value in xcoms)
    assert any("undo" in body for body in bodies) or len(bodies) > 12
    leaks = [secret for secret in SECRETS for text in (logs, *xcoms, *bodies) if secret in text]
    assert leaks == []
    reliability.record(
        name="Security: credentials in logs, XCom and written objects",
        faults="a connection with a secret-looking access key id, secret key and session token; "
        "one failing key",
        faults_injected=1,
        objects_checked=len(keys),
        objects_lost=len(leaks),
        notes=(
            f"A DAG run (list, plan, mapped direct tagging, restore, a failing task, a batch job) with "
            f"that connection: {len(logs)} characters of task logs, {len(xcoms)} XCom values and "
            f"{len(bodies)} objects written to S3 (undo log, manifest, report) were searched for the three "
            "secrets: none found. 'Objects lost' counts leaks here."
        ),
    )


class _RequestLog:
    """Every HTTP request botocore sends in this process (method, URL, headers, thread name)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], str]] = []
        self.lock = threading.Lock()

    def s3_requests(self) -> list[tuple[str, str, dict[str, str]]]:
        """The S3 requests of the provider: not S3 Control or STS, nor the job emulator's own (which
        stand for the requests S3 Batch Operations makes in AWS, with the job's role)."""
        return [
            (method, url, headers)
            for method, url, headers, thread in self.requests
            if "/v20180820/" not in url and "sts." not in url and not thread.startswith("s3-batch-")
        ]


@pytest.fixture
def request_log(monkeypatch: pytest.MonkeyPatch) -> _RequestLog:
    """Records the requests of boto3 clients, aiobotocore clients and the crt engine's CRT client."""
    log = _RequestLog()
    send = botocore.endpoint.Endpoint._send
    async_send = aiobotocore.endpoint.AioEndpoint._send

    def record(request: Any) -> None:
        with log.lock:
            headers = {
                k.lower(): v.decode() if isinstance(v, bytes) else str(v) for k, v in request.headers.items()
            }
            log.requests.append((request.method, request.url, headers, threading.current_thread().name))

    def recording_send(self: Any, request: Any) -> Any:
        record(request)
        return send(self, request)

    async def recording_async_send(self: Any, request: Any) -> Any:
        record(request)
        return await async_send(self, request)

    monkeypatch.setattr(botocore.endpoint.Endpoint, "_send", recording_send)
    monkeypatch.setattr(aiobotocore.endpoint.AioEndpoint, "_send", recording_async_send)

    # The crt engine's requests, as handed to CRT's native code (it adds only the signature headers):
    # awscrt's S3Client.make_request and the transport's lean requests both end in this call.
    make_meta_request = _awscrt.s3_client_make_meta_request

    def recording_make_meta_request(*args: Any) -> Any:
        request = args[2]
        headers = {name.lower(): value for name, value in request.headers}
        url = f"http://{headers.get('host', '')}{request.path}"
        with log.lock:
            log.requests.append((request.method, url, headers, threading.current_thread().name))
        return make_meta_request(*args)

    monkeypatch.setattr(_awscrt, "s3_client_make_meta_request", recording_make_meta_request)
    return log


@pytest.mark.usefixtures("aws_default_conn")
def test_expected_owner_sent_on_every_direct_path_request(
    local_aws: Any, s3: Any, request_log: _RequestLog, reliability: Any
) -> None:
    owner = local_aws.account_id
    bucket = local_aws.create_bucket()
    keys = [f"owned/{i:02d}.csv" for i in range(10)]
    put_objects(s3, bucket, {key: {"owner": "a"} for key in keys})
    manifest = io.BytesIO()
    write_csv_manifest((ObjectRef(bucket, key) for key in keys), manifest)
    s3.put_object(Bucket=bucket, Key="manifest.csv", Body=manifest.getvalue())
    request_log.requests.clear()

    ti = SimpleNamespace(dag_id="owner", run_id="manual__owner", task_id="tag", map_index=0, try_number=1)
    batches = plan_tagging_batches.function(  # type: ignore[attr-defined]
        manifest=f"s3://{bucket}/manifest.csv", batch_size=5, expected_bucket_owner=owner
    )
    for index, batch in enumerate(batches):
        ti.map_index = index
        S3PutObjectTaggingOperator(
            task_id="tag", objects=batch, tags={"tier": "cold"}, mode="merge", undo_log=f"s3://{bucket}/undo/",
            expected_bucket_owner=owner,
        ).execute({"ti": ti})  # fmt: skip
    S3RestoreObjectTaggingOperator(
        task_id="restore", undo_log=f"s3://{bucket}/undo/", expected_bucket_owner=owner
    ).execute({})

    sent = request_log.s3_requests()
    operations = {
        (method, url.split("?", 1)[-1].split("=", 1)[0] if "?" in url else "") for method, url, _ in sent
    }
    without = [
        (method, url) for method, url, headers in sent if headers.get("x-amz-expected-bucket-owner") != owner
    ]
    assert len(sent) >= 3 * 10  # reads and writes of tags, manifest ranges, undo parts, listings
    # the tag reads and writes: 10 reads + 10 writes when tagging, 10 writes restoring
    assert len([url for _, url, _ in sent if "?tagging" in url]) >= 30
    assert {"GET", "PUT"} <= {method for method, _ in operations}
    assert without == []
    assert all(tags_of(s3, bucket, key) == {"owner": "a"} for key in keys)
    reliability.record(
        name="Security: ExpectedBucketOwner on every S3 request of the direct path",
        faults="none (every request botocore sent was recorded)",
        faults_injected=0,
        objects_checked=len(keys),
        objects_lost=len(without),
        notes=(
            f"plan_tagging_batches over a CSV manifest, two mapped S3PutObjectTaggingOperator batches "
            f"(merge, undo log) and S3RestoreObjectTaggingOperator: {len(sent)} S3 requests, "
            f"{len(without)} without the x-amz-expected-bucket-owner header. 'Objects lost' counts "
            "requests without it."
        ),
    )


@pytest.mark.usefixtures("aws_default_conn")
def test_expected_owner_sent_on_every_batch_path_request(
    run_dag: Callable[..., Any],
    local_aws: Any,
    s3: Any,
    aws_faults: Any,
    request_log: _RequestLog,
    reliability: Any,
) -> None:
    owner = local_aws.account_id
    bucket = local_aws.create_bucket()
    keys = [f"batch-owned/{i:02d}.csv" for i in range(6)]
    put_objects(s3, bucket, {key: {"owner": "a"} for key in keys})
    manifest = io.BytesIO()
    write_csv_manifest((ObjectRef(bucket, key) for key in keys[:3]), manifest)
    s3.put_object(Bucket=bucket, Key="given/manifest.csv", Body=manifest.getvalue())
    # One failed task per job, so that the operator and the sensor read the completion reports.
    aws_faults.failing_keys = {f"{bucket}/{keys[0]}", f"{bucket}/{keys[3]}"}
    request_log.requests.clear()
    with DAG(
        f"owner_batch_{uuid.uuid4().hex[:8]}", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC)
    ) as dag:
        uploaded = S3BatchPutObjectTaggingOperator(
            task_id="uploaded", objects=[f"s3://{bucket}/{key}" for key in keys[3:]], tags={"tier": "batch"},
            role_arn=local_aws.role_arn, manifest_location=f"s3://{bucket}/m/", report_scope="AllTasks",
            waiter_delay=0, max_failed_tasks=1, expected_bucket_owner=owner,
        )  # fmt: skip
        given = S3BatchPutObjectTaggingOperator(
            task_id="given", manifest=f"s3://{bucket}/given/manifest.csv", tags={"tier": "batch"},
            role_arn=local_aws.role_arn, report_location=f"s3://{bucket}/reports/", report_scope="AllTasks",
            wait_for_completion=False, expected_bucket_owner=owner,
        )  # fmt: skip
        watch = S3BatchJobSensor(
            task_id="watch",
            job_id="{{ ti.xcom_pull(task_ids='given')['job_id'] }}",
            poke_interval=0.1,
            max_failed_tasks=1,
            expected_bucket_owner=owner,
        )
        uploaded >> given >> watch

    run = run_dag(dag)
    failing_key_faults = aws_faults.counters["failing_key"]
    aws_faults.clear()
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states == {"uploaded": "success", "given": "success", "watch": "success"}
    assert failing_key_faults >= 2

    sent = request_log.s3_requests()
    without = [
        (method, url) for method, url, headers in sent if headers.get("x-amz-expected-bucket-owner") != owner
    ]
    methods = {method for method, _, _ in sent}
    # manifest upload (PUT), manifest reads (HEAD, GET of a range), report reads (GET) of both jobs
    assert {"PUT", "HEAD", "GET"} <= methods
    assert len([url for method, url, _ in sent if method == "GET" and "/reports/" in url]) >= 4
    assert without == []
    failed = {keys[0], keys[3]}
    assert all(
        tags_of(s3, bucket, key) == ({"owner": "a"} if key in failed else {"tier": "batch"}) for key in keys
    )
    reliability.record(
        name="Security: ExpectedBucketOwner on every S3 request of the batch path",
        faults="one object per job answered AccessDenied, so both reports list a failure and are read",
        faults_injected=failing_key_faults,
        objects_checked=len(keys),
        objects_lost=len(without),
        notes=(
            f"S3BatchPutObjectTaggingOperator from objects (manifest uploaded) and from a given CSV "
            f"manifest, one failing key each, then S3BatchJobSensor reading the second job's report: "
            f"{len(sent)} S3 requests "
            f"made by the provider, {len(without)} without the x-amz-expected-bucket-owner header "
            "(the emulator's own requests, which S3 Batch Operations would make with the job's role, "
            "are not counted). 'Objects lost' counts requests without it."
        ),
    )
