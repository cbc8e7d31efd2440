"""The direct-path hook: clients sized for their requests in flight, merged over the connection's config;
every engine (aiobotocore and crt against the local stand-in, threads under moto's in-process mock)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import boto3
import pytest
from moto import mock_aws

from airflow_s3_batch_tagging.hooks.s3_object_tagging import STATIC_USER_AGENT, S3ObjectTaggingHook
from airflow_s3_batch_tagging.objects import ObjectRef, S3Location
from airflow_s3_batch_tagging.tagging_engine import TaggingResult
from airflow_s3_batch_tagging.tags import TagSet
from airflow_s3_batch_tagging.testing import LocalAWS
from airflow_s3_batch_tagging.undo import UndoLogWriter


@pytest.fixture
def tagging_aws(monkeypatch: pytest.MonkeyPatch) -> str:
    """A connection in eu-west-1 whose botocore config sets a connect timeout of 7 s."""
    extra = {"config_kwargs": {"connect_timeout": 7}, "region_name": "eu-west-1"}
    monkeypatch.setenv("AIRFLOW_CONN_TAGGING_AWS", json.dumps({"conn_type": "aws", "extra": extra}))
    return "tagging_aws"


def _assert_tagging_client(client: Any, retries: dict[str, Any]) -> None:
    """The connection's region and config, a pool for 50 requests in flight, ``retries``, no
    client-side parameter validation and our user agent."""
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.config.max_pool_connections >= 50
    assert client.meta.config.retries == retries
    assert client.meta.config.connect_timeout == 7
    assert type(client._serializer).__name__ != "ParamValidationDecorator"
    assert client.meta.config.user_agent.startswith(STATIC_USER_AGENT)


def test_client_pool_fits_concurrency_and_keeps_config(tagging_aws: str) -> None:
    hook = S3ObjectTaggingHook(aws_conn_id=tagging_aws, concurrency=50, max_attempts=6, retry_mode="adaptive")
    client = hook.conn
    assert client.meta.service_model.service_name == "s3"
    _assert_tagging_client(client, {"mode": "adaptive", "total_max_attempts": 6})
    assert "Airflow/" in client.meta.config.user_agent  # the Amazon hook's user_agent_extra is kept
    assert hook.conn is client


def test_connection_can_keep_validation_and_user_agent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    extra = {"config_kwargs": {"parameter_validation": True, "user_agent": "mine/1.0"}}
    monkeypatch.setenv("AIRFLOW_CONN_TAGGING_AWS", json.dumps({"conn_type": "aws", "extra": extra}))
    config: Any = S3ObjectTaggingHook(aws_conn_id="tagging_aws", concurrency=5).tagging_config()
    assert config.parameter_validation is True
    assert config.user_agent == "mine/1.0"
    assert config.max_pool_connections == 7


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"concurrency": 0}, "concurrency 0"),
        ({"max_attempts": 0}, "max_attempts 0"),
        ({"retry_mode": "eager"}, "retry_mode 'eager'"),
        ({"engine": "fibers"}, "engine 'fibers'"),
    ],
)
def test_bad_client_settings_are_rejected(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        S3ObjectTaggingHook(aws_conn_id=None, **options).tagging_config()


@mock_aws
def test_tag_objects_and_read_back_the_undo_log() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="hook-bucket")
    s3.put_object(Bucket="hook-bucket", Key="a", Body=b"x", Tagging="old=1")
    hook = S3ObjectTaggingHook(aws_conn_id=None, region_name="us-east-1", concurrency=3, engine="threads")
    location = S3Location("hook-bucket", "undo/")
    result = hook.tag_objects(
        [(ObjectRef("hook-bucket", "a"), None)],
        tags=TagSet({"new": "2"}),
        undo_log=UndoLogWriter(hook.conn, location),
    )
    assert (result.changed, result.failed) == (1, 0)
    assert s3.get_object_tagging(Bucket="hook-bucket", Key="a")["TagSet"] == [{"Key": "new", "Value": "2"}]
    records = hook.read_undo_log(location)
    assert [(r.ref.key, r.tags.to_dict()) for r in records] == [("a", {"old": "1"})]


def test_tag_objects_on_the_threads_engine_under_moto_mock(monkeypatch: pytest.MonkeyPatch) -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="hook-bucket")
        s3.put_object(Bucket="hook-bucket", Key="a", Body=b"x", Tagging="old=1")
        hook = S3ObjectTaggingHook(aws_conn_id=None, region_name="us-east-1", concurrency=3, engine="threads")
        monkeypatch.setattr(
            S3ObjectTaggingHook, "async_tagging_client", lambda self: pytest.fail("asyncio engine used")
        )
        result = hook.tag_objects([(ObjectRef("hook-bucket", "a"), None)], tags=TagSet({"new": "2"}))
        assert (result.changed, result.failed) == (1, 0)
        assert s3.get_object_tagging(Bucket="hook-bucket", Key="a")["TagSet"] == [
            {"Key": "new", "Value": "2"}
        ]


@pytest.mark.e2e
async def test_transport_clients_keep_config_one_attempt(
    tagging_aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    hook = S3ObjectTaggingHook(aws_conn_id=tagging_aws, concurrency=50, max_attempts=6, engine="asyncio")
    assert hook.transport_name == "aiobotocore"
    # The engine retries (max_attempts) and must see every throttled answer: one attempt per request.
    async with hook.async_tagging_client() as async_client:
        assert type(async_client).__module__.startswith("aiobotocore")
        for client in (async_client, hook.transport_conn):
            _assert_tagging_client(client, {"mode": "standard", "total_max_attempts": 1})


def _merge_new_tag_with_undo_log(
    hook: S3ObjectTaggingHook, s3: Any, bucket: str, keys: list[str]
) -> TaggingResult:
    """Merge ``new=2`` into objects tagged ``old=1``, with an undo log under ``undo/``; check both
    the tags on S3 and the log, and return the result."""
    location = S3Location(bucket, "undo/")
    result = hook.tag_objects(
        [(ObjectRef(bucket, key), None) for key in keys],
        tags=TagSet({"new": "2"}),
        mode="merge",
        undo_log=UndoLogWriter(hook.conn, location),
    )
    for key in keys:
        tagged = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
        assert {t["Key"]: t["Value"] for t in tagged} == {"old": "1", "new": "2"}
    undone = {record.ref.key: record.tags.to_dict() for record in hook.read_undo_log(location)}
    assert undone == {key: {"old": "1"} for key in keys}
    return result


@pytest.mark.e2e
@pytest.mark.usefixtures("aws_default_conn")
def test_aiobotocore_tags_with_undo_log_and_owner(
    local_aws: LocalAWS, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = local_aws.client("s3")
    keys = [f"k{i}" for i in range(12)]
    for key in keys:
        s3.put_object(Bucket=s3_bucket, Key=key, Body=b"x", Tagging="old=1")
    sent_owner: list[str | None] = []
    create = S3ObjectTaggingHook.async_tagging_client

    @asynccontextmanager
    async def recording_client(self: S3ObjectTaggingHook) -> AsyncIterator[Any]:
        def record(params: dict[str, Any], **_: Any) -> None:
            sent_owner.append(params["headers"].get("x-amz-expected-bucket-owner"))

        async with create(self) as client:
            client.meta.events.register("before-call.s3", record)
            yield client

    monkeypatch.setattr(S3ObjectTaggingHook, "async_tagging_client", recording_client)
    hook = S3ObjectTaggingHook(
        concurrency=4, expected_bucket_owner=local_aws.account_id, engine="aiobotocore"
    )
    result = _merge_new_tag_with_undo_log(hook, s3, s3_bucket, keys)
    assert (result.changed, result.failed, len(result.undo_log_parts)) == (12, 0, 1)
    assert len(sent_owner) == 24  # a read and a write per object, every one with the owner
    assert set(sent_owner) == {local_aws.account_id}


@pytest.mark.e2e
@pytest.mark.usefixtures("aws_default_conn")
@pytest.mark.parametrize(
    ("engine", "transport"),
    [("auto", "crt"), ("asyncio", "aiobotocore"), ("threads", "threads"), ("crt", "crt")],
)
def test_each_engine_tags_through_connection_with_undo(
    local_aws: LocalAWS, s3_bucket: str, engine: str, transport: str
) -> None:
    s3 = local_aws.client("s3")
    keys = [f"dir/{i} ü+%.csv" for i in range(8)]
    for key in keys:
        s3.put_object(Bucket=s3_bucket, Key=key, Body=b"x", Tagging="old=1")
    hook = S3ObjectTaggingHook(concurrency=4, engine=engine)
    result = _merge_new_tag_with_undo_log(hook, s3, s3_bucket, keys)
    assert (result.changed, result.failed, result.transport) == (8, 0, transport)
    if engine == "auto":  # the stand-in's proxy is its own endpoint: a direct connection goes there too
        assert hook.choose_transport() == ("crt", None)


@pytest.mark.e2e
@pytest.mark.usefixtures("aws_default_conn")
async def test_tag_objects_works_inside_a_running_loop(local_aws: LocalAWS, s3_bucket: str) -> None:
    s3 = local_aws.client("s3")
    s3.put_object(Bucket=s3_bucket, Key="a", Body=b"x")
    result = S3ObjectTaggingHook(concurrency=2).tag_objects(
        [(ObjectRef(s3_bucket, "a"), None)], tags=TagSet({"in": "loop"})
    )
    assert (result.changed, result.failed) == (1, 0)
    assert s3.get_object_tagging(Bucket=s3_bucket, Key="a")["TagSet"] == [{"Key": "in", "Value": "loop"}]


class _SignallingClient:
    """A stand-in aiobotocore client: its first request makes the loop run a plain callback that
    sends this process SIGALRM, as Airflow's ``execution_timeout`` does; it records what ran."""

    def __init__(self) -> None:
        self.started = 0
        self.finished = 0
        self.closed = False

    async def put_object_tagging(self, **kwargs: Any) -> dict[str, Any]:
        self.started += 1
        if self.started == 1:
            asyncio.get_running_loop().call_soon(os.kill, os.getpid(), signal.SIGALRM)
        # Long enough that a loaded machine cannot finish the requests in flight before the engine
        # cancels them (at 0.02 s, 4 of 4 once finished under load 12); cancelled, it costs nothing.
        await asyncio.sleep(0.5)
        self.finished += 1
        return {}


class _Timeout(BaseException):
    """Like AirflowTaskTimeout: a BaseException raised by a signal handler."""


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals")
def test_signal_handler_exception_stops_the_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A handler's exception raised while the loop runs one of its callbacks (not a task step) used to
    # be logged and swallowed by asyncio, and the run went on to the end (about 1 time in 5 for
    # execution_timeout against the stand-in; always here, where the signal comes from a callback).
    client = _SignallingClient()

    @asynccontextmanager
    async def fake_client(self: S3ObjectTaggingHook) -> AsyncIterator[Any]:
        try:
            yield client
        finally:
            client.closed = True

    def on_alarm(signum: int, frame: Any) -> None:
        raise _Timeout("timed out")

    monkeypatch.setattr(S3ObjectTaggingHook, "async_tagging_client", fake_client)
    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        hook = S3ObjectTaggingHook(
            aws_conn_id=None, region_name="us-east-1", concurrency=4, engine="aiobotocore"
        )
        with pytest.raises(_Timeout):
            hook.tag_objects(
                [(ObjectRef("hook-bucket", f"k{i}"), None) for i in range(400)], tags=TagSet({"a": "b"})
            )
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert client.closed  # cancelled and closed before the exception went on
    assert client.started < 20
    assert client.finished < client.started  # the requests in flight were cancelled, not awaited


def test_aiobotocore_under_mock_aws_says_use_threads() -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="hook-bucket")
        s3.put_object(Bucket="hook-bucket", Key="a", Body=b"x", Tagging="old=1")
        hook = S3ObjectTaggingHook(
            aws_conn_id=None, region_name="us-east-1", concurrency=2, engine="aiobotocore"
        )
        with pytest.raises(RuntimeError, match="mock_aws .* Use engine='threads' there"):
            hook.tag_objects([(ObjectRef("hook-bucket", "a"), None)], tags=TagSet({"new": "2"}))


def test_crt_under_mock_aws_says_use_threads_first() -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="hook-bucket")
        s3.put_object(Bucket="hook-bucket", Key="a", Body=b"x", Tagging="old=1")
        hook = S3ObjectTaggingHook(aws_conn_id=None, region_name="us-east-1", concurrency=2, engine="crt")
        with pytest.raises(RuntimeError, match="mock_aws is active.*use engine='threads'"):
            hook.tag_objects([(ObjectRef("hook-bucket", "a"), None)], tags=TagSet({"new": "2"}))
        assert s3.get_object_tagging(Bucket="hook-bucket", Key="a")["TagSet"] == [
            {"Key": "old", "Value": "1"}
        ]


def test_auto_engine_tags_under_moto_mock_on_threads(capsys: pytest.CaptureFixture[str]) -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="hook-bucket")
        s3.put_object(Bucket="hook-bucket", Key="a", Body=b"x", Tagging="old=1")
        hook = S3ObjectTaggingHook(aws_conn_id=None, region_name="us-east-1", concurrency=2)
        assert hook.engine == "auto"
        result = hook.tag_objects([(ObjectRef("hook-bucket", "a"), None)], tags=TagSet({"new": "2"}))
        assert (result.changed, result.transport) == (1, "threads")
        assert s3.get_object_tagging(Bucket="hook-bucket", Key="a")["TagSet"] == [
            {"Key": "new", "Value": "2"}
        ]
    logged = capsys.readouterr().out
    assert "Tagging over the threads transport: engine='auto' and moto's in-process mock_aws" in logged


def _conn(monkeypatch: pytest.MonkeyPatch, **extra: Any) -> str:
    """An Airflow connection with static keys (so that crt could sign) and ``extra``."""
    connection = {
        "conn_type": "aws",
        "login": "AKIDEXAMPLE",
        "password": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "extra": {"region_name": "eu-west-1", **extra},
    }
    monkeypatch.setenv("AIRFLOW_CONN_TAGGING_AWS", json.dumps(connection))
    return "tagging_aws"


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.mark.usefixtures("no_proxy_env")
def test_auto_engine_chooses_crt_for_a_signed_direct_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    hook = S3ObjectTaggingHook(aws_conn_id=_conn(monkeypatch))
    assert hook.choose_transport() == ("crt", None)
    assert S3ObjectTaggingHook(aws_conn_id=_conn(monkeypatch), engine="threads").choose_transport() == (
        "threads",
        None,
    )


@pytest.mark.usefixtures("no_proxy_env")
def test_auto_engine_avoids_crt_behind_a_configured_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    proxies = {"https": "http://user:s3cr3t@proxy.example.com:3128"}
    hook = S3ObjectTaggingHook(aws_conn_id=_conn(monkeypatch, config_kwargs={"proxies": proxies}))
    transport, why = hook.choose_transport()
    assert transport == "aiobotocore"
    assert why == "the connection goes through a proxy (https) and CRT's S3 client connects directly"


@pytest.mark.usefixtures("no_proxy_env")
def test_auto_engine_reads_proxy_env_as_botocore_does(monkeypatch: pytest.MonkeyPatch) -> None:
    # botocore resolves HTTPS_PROXY and NO_PROXY for the client's endpoint; auto follows its verdict.
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.com:3128")
    hook = S3ObjectTaggingHook(aws_conn_id=_conn(monkeypatch))
    assert hook.choose_transport()[0] == "aiobotocore"
    monkeypatch.setenv("NO_PROXY", ".amazonaws.com")
    hook = S3ObjectTaggingHook(aws_conn_id=_conn(monkeypatch))
    assert hook.choose_transport() == ("crt", None)


@pytest.mark.usefixtures("no_proxy_env")
def test_auto_engine_avoids_crt_without_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    connection = {"conn_type": "aws", "extra": {"config_kwargs": {"signature_version": "unsigned"}}}
    monkeypatch.setenv("AIRFLOW_CONN_TAGGING_AWS", json.dumps(connection))
    transport, why = S3ObjectTaggingHook(
        aws_conn_id="tagging_aws", region_name="eu-west-1"
    ).choose_transport()
    assert (transport, why) == (
        "aiobotocore",
        "the connection gives no credentials (anonymous access) and CRT signs every request",
    )


@pytest.mark.usefixtures("no_proxy_env")
def test_old_awscrt_falls_back_or_fails_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    import awscrt
    import awscrt.s3

    # awscrt 0.36.0 (what botocore's crt extra pins) has no S3RetryConfig.
    monkeypatch.delattr(awscrt.s3, "S3RetryConfig")
    monkeypatch.setattr(awscrt, "__version__", "0.36.0")
    auto = S3ObjectTaggingHook(aws_conn_id=_conn(monkeypatch))
    assert auto.choose_transport() == (
        "aiobotocore",
        "awscrt 0.36.0 is installed and the crt engine needs 0.38 or later",
    )
    named = S3ObjectTaggingHook(aws_conn_id=_conn(monkeypatch), engine="crt")
    with pytest.raises(RuntimeError, match=r"crt engine cannot run: awscrt 0\.36\.0 .* needs 0\.38"):
        named.tag_objects([(ObjectRef("no-such-bucket-anywhere", "a"), None)], tags=TagSet({"k": "v"}))
