"""The benchmarks' fake S3 endpoint answers boto3 like S3 does for object tagging (benchmarks/fake_s3.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from benchmarks.fake_s3 import FakeS3Process

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server() -> Iterator[FakeS3Process]:
    with FakeS3Process(latency=0.0) as running:
        yield running


@pytest.fixture
def client(server: FakeS3Process) -> Any:
    server.reset()
    server.configure(latency=0.0, slowdown=0.0)
    return boto3.session.Session(
        aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1"
    ).client("s3", endpoint_url=server.endpoint_url, config=Config(retries={"total_max_attempts": 1}))


def test_tags_round_trip_per_version_with_hostile_keys(client: Any, server: FakeS3Process) -> None:
    key = "a dir/ü+x&<y>.txt"
    tags = [{"Key": "team", "Value": "a&b <c>"}, {"Key": "k2", "Value": ""}]
    client.put_object_tagging(Bucket="b-bucket", Key=key, Tagging={"TagSet": tags})
    client.put_object_tagging(
        Bucket="b-bucket", Key=key, VersionId="v1", Tagging={"TagSet": [{"Key": "v", "Value": "1"}]}
    )
    assert client.get_object_tagging(Bucket="b-bucket", Key=key)["TagSet"] == tags
    versioned = client.get_object_tagging(Bucket="b-bucket", Key=key, VersionId="v1")
    assert versioned["TagSet"] == [{"Key": "v", "Value": "1"}]
    assert server.count("b-bucket", "a dir/", {"team": "a&b <c>"}) == 1
    client.delete_object_tagging(Bucket="b-bucket", Key=key)
    assert client.get_object_tagging(Bucket="b-bucket", Key=key)["TagSet"] == []
    stats = server.stats()
    assert (stats["put"], stats["get"], stats["delete"]) == (2, 3, 1)


def test_more_than_ten_tags_is_invalid_tag(client: Any) -> None:
    tags = [{"Key": f"k{i}", "Value": "v"} for i in range(11)]
    with pytest.raises(ClientError) as error:
        client.put_object_tagging(Bucket="b-bucket", Key="k", Tagging={"TagSet": tags})
    assert error.value.response["Error"]["Code"] == "InvalidTag"


def test_slowdown_injection_answers_503_slowdown(client: Any, server: FakeS3Process) -> None:
    server.configure(slowdown=1.0)
    with pytest.raises(ClientError) as error:
        client.put_object_tagging(
            Bucket="b-bucket", Key="k", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]}
        )
    assert error.value.response["Error"]["Code"] == "SlowDown"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert server.count("b-bucket", "", {"a": "b"}) == 0
    assert server.stats()["slowdown"] == 1


def test_seeded_objects_and_plain_objects(client: Any, server: FakeS3Process) -> None:
    server.seed_objects("b-bucket", "p/", 5, {"owner": "x"})
    assert client.get_object_tagging(Bucket="b-bucket", Key="p/3")["TagSet"] == [
        {"Key": "owner", "Value": "x"}
    ]
    client.put_object(Bucket="b-bucket", Key="undo/part-0.jsonl", Body=b"{}\n")
    assert client.get_object(Bucket="b-bucket", Key="undo/part-0.jsonl")["Body"].read() == b"{}\n"
    assert server.count("b-bucket", "p/", {"owner": "x"}) == 5


def test_the_write_ceiling_is_a_token_bucket_per_prefix(client: Any, server: FakeS3Process) -> None:
    server.configure(write_rate=50)
    try:
        tagging = {"TagSet": [{"Key": "a", "Value": "b"}]}
        codes = []
        started = time.monotonic()
        for index in range(120):
            try:
                client.put_object_tagging(Bucket="b-bucket", Key=f"hot/{index}", Tagging=tagging)
                codes.append("ok")
            except ClientError as err:
                codes.append(err.response["Error"]["Code"])
        elapsed = time.monotonic() - started
        # A burst of a tenth of a second's worth (5), then 50 per second: the rest is SlowDown.
        assert set(codes) == {"ok", "SlowDown"}
        assert 5 <= codes.count("ok") <= 5 + 50 * elapsed + 1
        # Another prefix has its own bucket, and reads take no token.
        client.put_object_tagging(Bucket="b-bucket", Key="cold/0", Tagging=tagging)
        client.get_object_tagging(Bucket="b-bucket", Key="hot/0")
        stats = server.stats()
        assert stats["rate_limited"] == codes.count("SlowDown")
    finally:
        server.configure(write_rate=0)
