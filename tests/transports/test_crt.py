"""The CRT transport builds the same requests botocore would and reads S3's answers as botocore does.

The oracle is botocore itself: its request URL and body for the same client and object (captured
before sending), its refreshable credentials, and S3's error XML as the S3 API reference prints it.
The engine's behaviour over this transport against the stand-in is in ``tests/test_tagging_engine.py``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import threading
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.credentials import Credentials, RefreshableCredentials

from airflow_s3_batch_tagging.objects import ObjectRef
from airflow_s3_batch_tagging.tags import TagSet
from airflow_s3_batch_tagging.transports.base import TransportError
from airflow_s3_batch_tagging.transports.crt import (
    FILE_BODY_AFTER,
    CrtTransport,
    _Answers,
    _credentials_provider,
    _lean_requests,
    object_path,
    parse_error,
    parse_tagging,
    tagging_xml,
)

KEYS = ["plain.csv", "dir/sub dir/ü é+%&=?#.csv", "k~!*'()[]{}$,;:@", "/lead//double/", "a%2Fb"]


class _Sent(Exception):
    """Raised from before-send to stop botocore after it built the request."""


def botocore_request(client: Any, **params: Any) -> Any:
    """The request botocore would send for ``put_object_tagging(**params)``."""
    captured: list[Any] = []

    def capture(request: Any, **_: Any) -> None:
        captured.append(request)
        raise _Sent

    client.meta.events.register_first("before-send.s3.PutObjectTagging", capture)
    try:
        client.put_object_tagging(**params)
    except _Sent:
        pass
    finally:
        client.meta.events.unregister("before-send.s3.PutObjectTagging", capture)
    return captured[0]


def client(**options: Any) -> Any:
    config = Config(**options.pop("config", {}))
    return boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        region_name=options.pop("region", "us-east-1"),
    ).client("s3", config=config, **options)


TAGS = TagSet({"team": "data ops/x=1+2:@", "tier": "cold", "ü": "é"})


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("version_id", [None, "3/L4kqtJl40Nr8X8gdRQBpUMLUo+v=="])
def test_the_path_is_botocores(key: str, version_id: str | None) -> None:
    s3 = client(config={"s3": {"addressing_style": "path"}})
    params: dict[str, Any] = {"Bucket": "my-bucket", "Key": key, "Tagging": {"TagSet": TAGS.to_boto()}}
    if version_id:
        params["VersionId"] = version_id
    sent = botocore_request(s3, **params)
    path_and_query = sent.url.split("amazonaws.com", 1)[1]
    ours = object_path("/my-bucket", ObjectRef("my-bucket", key, version_id))
    assert ours == path_and_query.replace("?tagging=", "?tagging")


def test_the_body_says_what_botocores_says_and_md5_is_of_it() -> None:
    sent = botocore_request(client(), Bucket="b-1", Key="k", Tagging={"TagSet": TAGS.to_boto()})

    def tags(body: bytes) -> list[tuple[str, str]]:
        return [
            (tag.find("{*}Key").text or "", tag.find("{*}Value").text or "")  # type: ignore[union-attr]
            for tag in ET.fromstring(body).iter("{http://s3.amazonaws.com/doc/2006-03-01/}Tag")
        ]

    ours = tagging_xml(TAGS)
    assert tags(ours) == tags(sent.body) == list(TAGS.items())
    assert parse_tagging(ours) == TAGS
    transport = CrtTransport(client(), max_connections=1)
    body = transport._body_for(TAGS)
    assert body.md5 == base64.b64encode(hashlib.md5(ours).digest()).decode()
    assert transport._body_for(TAGS) is body  # once per distinct tag set
    assert transport._body_for(TagSet({"other": "1"})) is not body


@pytest.mark.parametrize(
    ("options", "bucket"),
    [
        ({}, "my-bucket"),
        ({"region": "eu-west-1"}, "my-bucket"),
        ({"region": "eu-west-1", "config": {"s3": {"addressing_style": "path"}}}, "my-bucket"),
        ({"config": {"use_fips_endpoint": True}}, "my-bucket"),
        ({"region": "ap-southeast-2", "config": {"use_dualstack_endpoint": True}}, "my-bucket"),
        ({"region": "eu-west-1"}, "dotted.bucket.name"),  # no virtual host for TLS: path style
        ({"endpoint_url": "http://127.0.0.1:4566", "config": {"s3": {"addressing_style": "path"}}}, "b-1"),
    ],
)
def test_each_buckets_endpoint_and_signing_region_are_botocores(options: dict[str, Any], bucket: str) -> None:
    s3 = client(**options)
    sent = botocore_request(s3, Bucket=bucket, Key="k", Tagging={"TagSet": TAGS.to_boto()})
    endpoint = CrtTransport(s3, max_connections=1)._endpoint(bucket)
    scheme = "https" if endpoint.tls else "http"
    ours = f"{scheme}://{endpoint.host}{object_path(endpoint.path, ObjectRef(bucket, 'k'))}"
    assert ours == sent.url.replace("?tagging=", "?tagging")
    signing_region = sent.headers["Authorization"].decode().split("/")[2]
    assert endpoint.signing_config.region == signing_region


# S3 API reference, "Error responses" (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html):
# the sample error response, verbatim.
AWS_SAMPLE_ERROR = b"""<?xml version="1.0" encoding="UTF-8"?>
<Error>
  <Code>NoSuchKey</Code>
  <Message>The resource you requested does not exist</Message>
  <Resource>/mybucket/myfoto.jpg</Resource>
  <RequestId>4442587FB7D0A2F9</RequestId>
</Error>"""


def test_s3_error_answers_read_as_botocore_names_them() -> None:
    assert parse_error(404, AWS_SAMPLE_ERROR) == ("NoSuchKey", "The resource you requested does not exist")
    assert parse_error(404, None) == ("404", "HTTP 404")  # no body, as botocore: the status
    assert parse_error(500, b"<html>oops") == ("500", "<html>oops")


async def test_refreshable_credentials_refresh_through_crt() -> None:
    issued: list[str] = []

    def refresh() -> dict[str, str]:
        issued.append(f"ASIA{len(issued):016d}")
        # Already inside botocore's refresh window: every ask refreshes, as an expiring role would.
        expiry = datetime.now(UTC) + timedelta(seconds=30)
        return {
            "access_key": issued[-1],
            "secret_key": "s",
            "token": f"token-{len(issued)}",
            "expiry_time": expiry.isoformat(),
        }

    credentials = RefreshableCredentials.create_from_metadata(refresh(), refresh, "assume-role")
    s3 = client()
    s3._request_signer._credentials = credentials
    transport = CrtTransport(s3, max_connections=1)
    first = await asyncio.wrap_future(transport._provider.get_credentials())
    second = await asyncio.wrap_future(transport._provider.get_credentials())
    assert first.access_key_id != second.access_key_id
    assert second.access_key_id == issued[-1]
    assert second.session_token == f"token-{len(issued)}"


def test_no_credentials_is_a_clear_error() -> None:
    from botocore import UNSIGNED

    s3 = boto3.session.Session(region_name="us-east-1").client(
        "s3", config=Config(signature_version=UNSIGNED)
    )
    with pytest.raises(ValueError, match="needs AWS credentials"):
        CrtTransport(s3, max_connections=1)


async def test_answers_from_crt_threads_reach_the_loop_in_one_wake_up_per_batch() -> None:
    loop = asyncio.get_running_loop()
    answers = _Answers(loop)
    wake_ups: list[Any] = []
    real_call_soon_threadsafe = loop.call_soon_threadsafe

    def counting(callback: Any, *args: Any) -> Any:
        if callback == answers._settle:
            wake_ups.append(callback)
        return real_call_soon_threadsafe(callback, *args)

    def from_another_thread(*puts: tuple[asyncio.Future[Any], Any]) -> None:
        # The loop is blocked meanwhile (joined here), as when it is busy with other work.
        thread = threading.Thread(target=lambda: [answers.put(future, value) for future, value in puts])
        thread.start()
        thread.join()

    loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
    try:
        futures = [loop.create_future() for _ in range(200)]
        from_another_thread(*((future, n) for n, future in enumerate(futures)))
        assert await asyncio.gather(*futures) == list(range(200))
        assert len(wake_ups) == 1
        # Once a batch is settled, the next answer wakes the loop again.
        late = loop.create_future()
        from_another_thread((late, "late"))
        assert await late == "late"
        assert len(wake_ups) == 2
    finally:
        del loop.call_soon_threadsafe


def test_static_keys_give_crt_a_static_provider() -> None:
    asks: list[int] = []

    class Counted(Credentials):
        def get_frozen_credentials(self) -> Any:
            asks.append(1)
            return super().get_frozen_credentials()

    provider = _credentials_provider(Counted("AKIDSTATIC", "secret", "token"))
    for _ in range(3):
        got = provider.get_credentials().result(5)
    assert (got.access_key_id, got.secret_access_key, got.session_token) == ("AKIDSTATIC", "secret", "token")
    assert len(asks) == 1  # read once; CRT signs without calling back into Python


async def test_a_body_shared_by_many_objects_is_sent_from_a_file(local_aws: Any) -> None:
    s3 = local_aws.client("s3")
    bucket = local_aws.create_bucket()
    keys = [f"shared/{i}" for i in range(FILE_BODY_AFTER + 10)]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x", Tagging="old=1")
    crt = CrtTransport(local_aws.client("s3"), max_connections=8)
    async with crt:
        for key in keys:
            await crt.put_tagging(ObjectRef(bucket, key), TAGS, None)
        body = crt._body
        assert body is not None
        assert body.file is not None
        with open(body.file, "rb") as file:
            assert file.read() == tagging_xml(TAGS)
    assert not os.path.exists(body.file)  # removed when the transport closes
    for key in keys:  # what moto's S3 stored, whichever way the body was sent
        stored = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
        assert {t["Key"]: t["Value"] for t in stored} == TAGS.to_dict()


@pytest.mark.parametrize("lean", [True, False], ids=["lean-request", "public-api"])
async def test_both_request_paths_tag_and_read_errors_alike(local_aws: Any, lean: bool) -> None:
    """The lean request (checked awscrt releases) and awscrt's public ``make_request`` behave the same."""
    s3 = local_aws.client("s3")
    bucket = local_aws.create_bucket()
    s3.put_object(Bucket=bucket, Key="k 1", Body=b"x", Tagging="old=1")
    async with CrtTransport(local_aws.client("s3"), max_connections=2) as crt:
        assert (crt._lean is not None) is (_lean_requests() is not None)
        if not lean:
            crt._lean = None
        ref = ObjectRef(bucket, "k 1")
        assert await crt.get_tagging(ref, None) == TagSet({"old": "1"})
        await crt.put_tagging(ref, TAGS, None)
        assert await crt.get_tagging(ref, None) == TAGS
        await crt.delete_tagging(ref, None)
        assert s3.get_object_tagging(Bucket=bucket, Key="k 1")["TagSet"] == []
        with pytest.raises(TransportError) as missing:
            await crt.put_tagging(ObjectRef(bucket, "absent"), TAGS, None)
    assert (missing.value.code, missing.value.status, missing.value.retryable) == ("NoSuchKey", 404, False)
