"""ExpectedBucketOwner on every S3 request of a client (the account-id rules: tests/test_accounts.py)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.awsrequest import AWSResponse, HTTPHeaders

from airflow_s3_batch_tagging.hooks.bucket_owner import expect_bucket_owner

OWNER = "123456789012"


class _Raw:
    def stream(self, **_: Any) -> Any:
        yield b""


def _recording_client(owner: str | None) -> tuple[Any, list[tuple[str, str | None]]]:
    """A boto3 S3 client that answers every request with an empty 200, recording the owner header."""
    client = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    expect_bucket_owner(client, owner)
    sent: list[tuple[str, str | None]] = []

    def answer(request: Any, **_: Any) -> AWSResponse:
        sent.append((request.method, request.headers.get("x-amz-expected-bucket-owner")))
        return AWSResponse(request.url, 200, HTTPHeaders(), _Raw())

    client.meta.events.register_first("before-send.s3", answer)
    return client, sent


def _decoded(sent: list[tuple[str, Any]]) -> list[tuple[str, str | None]]:
    return [(method, value.decode() if isinstance(value, bytes) else value) for method, value in sent]


def test_every_operation_that_takes_it_sends_the_owner() -> None:
    client, sent = _recording_client(OWNER)
    client.put_object(Bucket="b", Key="k", Body=b"x")
    client.head_object(Bucket="b", Key="k")
    client.get_object_tagging(Bucket="b", Key="k")
    client.list_buckets()  # no ExpectedBucketOwner member
    assert _decoded(sent) == [("PUT", OWNER), ("HEAD", OWNER), ("GET", OWNER), ("GET", None)]


def test_a_call_that_names_its_own_owner_keeps_it() -> None:
    client, sent = _recording_client(OWNER)
    client.head_object(Bucket="b", Key="k", ExpectedBucketOwner="210987654321")
    assert _decoded(sent) == [("HEAD", "210987654321")]


def test_without_an_owner_nothing_is_added() -> None:
    client, sent = _recording_client(None)
    client.head_object(Bucket="b", Key="k")
    assert _decoded(sent) == [("HEAD", None)]
