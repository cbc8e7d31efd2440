"""The direct tagging engines: threads over moto's in-process S3, asyncio over the local stand-in."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import boto3
import pytest
from aiobotocore.session import get_session
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
from moto import mock_aws

from airflow_s3_batch_tagging.direct import (
    AsyncTaggingEngine,
    TaggingEngine,
    TaggingResult,
    error_code,
    is_retryable,
    tag_objects,
    tag_objects_async,
)
from airflow_s3_batch_tagging.objects import ObjectRef, S3Location
from airflow_s3_batch_tagging.tags import TagSet
from airflow_s3_batch_tagging.testing import LocalAWS
from airflow_s3_batch_tagging.testing.faults import Faults
from airflow_s3_batch_tagging.undo import UndoLogWriter, read_undo_log

PLAIN = "plain-bucket"
VERSIONED = "versioned-bucket"
ORIGINAL = {"keep": "1", "old": "x"}


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client(
            "s3",
            region_name="us-east-1",
            config=Config(max_pool_connections=40, retries={"mode": "standard", "total_max_attempts": 4}),
        )
        client.create_bucket(Bucket=PLAIN)
        client.create_bucket(Bucket=VERSIONED)
        client.put_bucket_versioning(Bucket=VERSIONED, VersioningConfiguration={"Status": "Enabled"})
        yield client


@pytest.fixture
def no_botocore_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's standard retry mode sleeps up to 2**n seconds between attempts; tests need not."""
    monkeypatch.setattr("botocore.retries.standard.ExponentialBackoff.delay_amount", lambda self, ctx: 0)


def put(client: Any, bucket: str, key: str, tags: dict[str, str] | None = None) -> str | None:
    tagging = "&".join(f"{k}={v}" for k, v in (tags or {}).items())
    response = client.put_object(Bucket=bucket, Key=key, Body=b"data", Tagging=tagging)
    return response.get("VersionId")


def tags_of(client: Any, bucket: str, key: str, version_id: str | None = None) -> dict[str, str]:
    kwargs = {"Bucket": bucket, "Key": key}
    if version_id:
        kwargs["VersionId"] = version_id
    return {t["Key"]: t["Value"] for t in client.get_object_tagging(**kwargs)["TagSet"]}


def count_calls(client: Any, operation: str) -> list[int]:
    calls = [0]
    lock = threading.Lock()

    def counter(**_: Any) -> None:
        with lock:
            calls[0] += 1

    client.meta.events.register(f"before-call.s3.{operation}", counter)
    return calls


NEW = {"old": "y", "new": "z"}
EXPECTED = {
    "replace": {"old": "y", "new": "z"},
    "merge": {"keep": "1", "old": "y", "new": "z"},
    "remove": {"keep": "1"},
    "delete": {},
}


@pytest.mark.parametrize("mode", ["replace", "merge", "remove", "delete"])
def test_every_mode_on_a_plain_bucket(s3: Any, mode: str) -> None:
    keys = [f"data/{i}.csv" for i in range(12)]
    for key in keys:
        put(s3, PLAIN, key, ORIGINAL)
    tags = None if mode == "delete" else TagSet(NEW)
    result = tag_objects(s3, [(ObjectRef(PLAIN, k), None) for k in keys], tags=tags, mode=mode, concurrency=4)
    assert (result.total, result.changed, result.failed) == (12, 12, 0)
    for key in keys:
        assert tags_of(s3, PLAIN, key) == EXPECTED[mode]


@pytest.mark.parametrize("mode", ["replace", "merge", "remove", "delete"])
def test_every_mode_on_a_versioned_bucket_touches_only_the_named_version(s3: Any, mode: str) -> None:
    old_version = put(s3, VERSIONED, "obj", ORIGINAL)
    latest_version = put(s3, VERSIONED, "obj", {"latest": "yes"})
    assert old_version
    assert latest_version != old_version
    tags = None if mode == "delete" else TagSet(NEW)
    result = tag_objects(s3, [(ObjectRef(VERSIONED, "obj", old_version), None)], tags=tags, mode=mode)
    assert (result.changed, result.failed) == (1, 0)
    assert tags_of(s3, VERSIONED, "obj", old_version) == EXPECTED[mode]
    assert tags_of(s3, VERSIONED, "obj", latest_version) == {"latest": "yes"}


def test_without_a_version_id_the_latest_version_is_tagged(s3: Any) -> None:
    old_version = put(s3, VERSIONED, "obj", ORIGINAL)
    put(s3, VERSIONED, "obj", {"latest": "yes"})
    tag_objects(s3, [(ObjectRef(VERSIONED, "obj"), None)], tags=TagSet({"a": "b"}), mode="merge")
    assert tags_of(s3, VERSIONED, "obj") == {"latest": "yes", "a": "b"}
    assert tags_of(s3, VERSIONED, "obj", old_version) == ORIGINAL


def test_per_object_tags_take_precedence_over_the_task_tags(s3: Any) -> None:
    put(s3, PLAIN, "a", ORIGINAL)
    put(s3, PLAIN, "b", ORIGINAL)
    items = [(ObjectRef(PLAIN, "a"), TagSet({"own": "tag"})), (ObjectRef(PLAIN, "b"), None)]
    result = tag_objects(s3, items, tags=TagSet({"task": "tag"}), mode="merge")
    assert result.changed == 2
    assert tags_of(s3, PLAIN, "a") == {**ORIGINAL, "own": "tag"}
    assert tags_of(s3, PLAIN, "b") == {**ORIGINAL, "task": "tag"}


def test_replace_with_an_empty_per_object_tag_set_removes_all_tags(s3: Any) -> None:
    put(s3, PLAIN, "a", ORIGINAL)
    result = tag_objects(s3, [(ObjectRef(PLAIN, "a"), TagSet({}))], mode="replace")
    assert result.changed == 1
    assert tags_of(s3, PLAIN, "a") == {}


def test_dry_run_reads_and_counts_but_writes_nothing(s3: Any) -> None:
    put(s3, PLAIN, "a", ORIGINAL)
    put(s3, PLAIN, "b", {"new": "z", "old": "y"})
    writes = count_calls(s3, "PutObjectTagging")
    deletes = count_calls(s3, "DeleteObjectTagging")
    puts = count_calls(s3, "PutObject")
    writer = UndoLogWriter(s3, S3Location(PLAIN, "undo/"))
    result = tag_objects(
        s3,
        [(ObjectRef(PLAIN, "a"), None), (ObjectRef(PLAIN, "b"), None)],
        tags=TagSet(NEW),
        dry_run=True,
        skip_unchanged=True,
        undo_log=writer,
    )
    assert result.dry_run is True
    assert (result.changed, result.skipped, result.written) == (1, 1, 0)
    assert writes[0] == deletes[0] == puts[0] == 0
    assert tags_of(s3, PLAIN, "a") == ORIGINAL
    assert result.undo_log is None


def test_skip_unchanged_writes_only_objects_whose_tags_change(s3: Any) -> None:
    for i in range(6):
        put(s3, PLAIN, f"k{i}", NEW if i % 2 else ORIGINAL)
    writes = count_calls(s3, "PutObjectTagging")
    result = tag_objects(
        s3, [(ObjectRef(PLAIN, f"k{i}"), None) for i in range(6)], tags=TagSet(NEW), skip_unchanged=True
    )
    assert (result.changed, result.skipped, result.unchanged, result.written) == (3, 3, 0, 3)
    assert writes[0] == 3
    assert all(tags_of(s3, PLAIN, f"k{i}") == NEW for i in range(6))


def test_without_skip_unchanged_equal_objects_are_still_written_and_counted_unchanged(s3: Any) -> None:
    put(s3, PLAIN, "same", NEW)
    writes = count_calls(s3, "PutObjectTagging")
    result = tag_objects(s3, [(ObjectRef(PLAIN, "same"), None)], tags=TagSet(NEW), mode="merge")
    assert (result.unchanged, result.changed, result.written) == (1, 0, 1)
    assert writes[0] == 1


def test_replace_without_reading_makes_one_request_per_object(s3: Any) -> None:
    for i in range(5):
        put(s3, PLAIN, f"k{i}")
    reads = count_calls(s3, "GetObjectTagging")
    writes = count_calls(s3, "PutObjectTagging")
    tag_objects(s3, [(ObjectRef(PLAIN, f"k{i}"), None) for i in range(5)], tags=TagSet({"a": "b"}))
    assert (reads[0], writes[0]) == (0, 5)


def test_per_object_failures_are_recorded_while_the_rest_succeed(s3: Any) -> None:
    put(s3, PLAIN, "ok-1", ORIGINAL)
    put(s3, PLAIN, "ok-2", ORIGINAL)
    version = put(s3, VERSIONED, "v", ORIGINAL)
    full = {f"t{i}": "v" for i in range(10)}
    put(s3, PLAIN, "full", full)
    items = [
        (ObjectRef(PLAIN, "ok-1"), None),
        (ObjectRef(PLAIN, "missing"), None),
        (ObjectRef(VERSIONED, "v", "no-such-version"), None),
        (ObjectRef(PLAIN, "full"), None),
        (ObjectRef(VERSIONED, "v", version), None),
        (ObjectRef(PLAIN, "ok-2"), None),
    ]
    result = tag_objects(s3, items, tags=TagSet({"added": "1"}), mode="merge", concurrency=3)
    assert (result.total, result.changed, result.failed) == (6, 3, 3)
    assert result.failures_by_code == {"NoSuchKey": 1, "NoSuchVersion": 1, "InvalidTag": 1}
    assert {(f.ref.key, f.code) for f in result.first_failures} == {
        ("missing", "NoSuchKey"),
        ("v", "NoSuchVersion"),
        ("full", "InvalidTag"),
    }
    assert tags_of(s3, PLAIN, "ok-1") == {**ORIGINAL, "added": "1"}
    assert tags_of(s3, VERSIONED, "v", version) == {**ORIGINAL, "added": "1"}
    assert tags_of(s3, PLAIN, "full") == full
    assert "more than the 10" in next(f.message for f in result.first_failures if f.code == "InvalidTag")


def test_first_failures_are_capped_but_every_failure_is_counted(s3: Any) -> None:
    items = [(ObjectRef(PLAIN, f"missing-{i}"), None) for i in range(30)]
    result = tag_objects(s3, items, tags=TagSet({"a": "b"}))
    assert result.failed == 30
    assert len(result.first_failures) == 20
    assert result.to_dict()["failures_by_code"] == {"NoSuchKey": 30}
    assert "and 20 more" in result.describe_failures()


def _slow_down_responses(client: Any, operation: str, count: int) -> list[int]:
    served = [0]
    lock = threading.Lock()

    class Raw:
        def stream(self, **_: Any) -> Iterator[bytes]:
            yield b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"

    def inject(request: Any, **_: Any) -> AWSResponse | None:
        with lock:
            if served[0] >= count:
                return None
            served[0] += 1
        return AWSResponse(request.url, 503, HTTPHeaders(), Raw())

    client.meta.events.register_first(f"before-send.s3.{operation}", inject)
    return served


@pytest.mark.usefixtures("no_botocore_backoff")
def test_slow_down_responses_are_retried_by_botocore_to_success_and_counted(s3: Any) -> None:
    for i in range(5):
        put(s3, PLAIN, f"k{i}")
    served = _slow_down_responses(s3, "PutObjectTagging", 6)
    result = tag_objects(s3, [(ObjectRef(PLAIN, f"k{i}"), None) for i in range(5)], tags=TagSet({"a": "b"}))
    assert served[0] == 6
    assert (result.changed, result.failed, result.retries) == (5, 0, 6)
    assert all(tags_of(s3, PLAIN, f"k{i}") == {"a": "b"} for i in range(5))


@pytest.mark.usefixtures("no_botocore_backoff")
def test_the_engine_retries_after_botocore_gives_up(s3: Any) -> None:
    put(s3, PLAIN, "k")
    # botocore makes 4 attempts per call (fixture config), all answered SlowDown; the engine tries again.
    served = _slow_down_responses(s3, "PutObjectTagging", 4)
    result = tag_objects(
        s3, [(ObjectRef(PLAIN, "k"), None)], tags=TagSet({"a": "b"}), retry_backoff=0.001, extra_retries=2
    )
    assert served[0] == 4
    assert (result.changed, result.failed, result.retries) == (1, 0, 4)
    assert tags_of(s3, PLAIN, "k") == {"a": "b"}


@pytest.mark.usefixtures("no_botocore_backoff")
def test_persistent_slow_down_is_recorded_after_bounded_retries(s3: Any) -> None:
    put(s3, PLAIN, "k")
    served = _slow_down_responses(s3, "PutObjectTagging", 1000)
    result = tag_objects(
        s3, [(ObjectRef(PLAIN, "k"), None)], tags=TagSet({"a": "b"}), retry_backoff=0.001, extra_retries=2
    )
    assert served[0] == 12  # (1 + 2 engine retries) x 4 botocore attempts
    assert result.failures_by_code == {"SlowDown": 1}
    assert result.retries == 11


class FlakyClient:
    """Wraps a client; the first ``failures`` calls of ``put_object_tagging`` raise ``error``."""

    def __init__(self, client: Any, error: Exception, failures: int) -> None:
        self._client = client
        self._error = error
        self._failures = failures
        self.calls = 0

    def put_object_tagging(self, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls <= self._failures:
            raise self._error
        return self._client.put_object_tagging(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_connection_errors_are_retried_by_the_engine(s3: Any) -> None:
    put(s3, PLAIN, "k")
    flaky = FlakyClient(s3, EndpointConnectionError(endpoint_url="http://s3"), failures=2)
    result = tag_objects(flaky, [(ObjectRef(PLAIN, "k"), None)], tags=TagSet({"a": "b"}), retry_backoff=0.001)
    assert (result.changed, result.retries, flaky.calls) == (1, 2, 3)
    assert tags_of(s3, PLAIN, "k") == {"a": "b"}


def test_access_denied_is_not_retried(s3: Any) -> None:
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "PutObjectTagging")
    flaky = FlakyClient(s3, denied, failures=1)
    result = tag_objects(flaky, [(ObjectRef(PLAIN, "k"), None)], tags=TagSet({"a": "b"}), retry_backoff=0.001)
    assert (result.failed, result.retries, flaky.calls) == (1, 0, 1)
    assert result.failures_by_code == {"AccessDenied": 1}


def test_error_classification() -> None:
    def client_error(code: str, status: int) -> ClientError:
        response: Any = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
        return ClientError(response, "PutObjectTagging")

    assert is_retryable(client_error("SlowDown", 503))
    assert is_retryable(client_error("InternalError", 500))
    assert is_retryable(client_error("Whatever", 502))
    assert not is_retryable(client_error("NoSuchKey", 404))
    assert not is_retryable(client_error("InvalidTag", 400))
    assert error_code(client_error("", 503)) == "503"
    assert is_retryable(EndpointConnectionError(endpoint_url="x"))
    assert is_retryable(ReadTimeoutError(endpoint_url="x"))
    assert is_retryable(ConnectionClosedError(endpoint_url="x"))
    assert not is_retryable(ValueError("x"))


def test_undo_part_is_in_s3_before_any_object_of_its_chunk_is_written(s3: Any) -> None:
    keys = [f"k{i:02d}" for i in range(10)]
    for key in keys:
        put(s3, PLAIN, key, {"orig": key})
    location = S3Location(PLAIN, "undo/run-1/")
    checked: list[str] = []
    reader = boto3.client("s3", region_name="us-east-1")

    def assert_logged(params: dict[str, Any], **_: Any) -> None:
        logged = {r.ref.key: r.tags for r in read_undo_log(reader, location)}
        assert logged[params["Key"]] == {"orig": params["Key"]}
        checked.append(params["Key"])

    s3.meta.events.register("provide-client-params.s3.PutObjectTagging", assert_logged)
    result = tag_objects(
        s3,
        [(ObjectRef(PLAIN, k), None) for k in keys],
        tags=TagSet({"new": "1"}),
        undo_log=UndoLogWriter(s3, location),
        chunk_size=3,
        concurrency=2,
    )
    assert sorted(checked) == keys
    assert result.changed == 10
    assert len(result.undo_log_parts) == 4
    assert result.undo_log == "s3://plain-bucket/undo/run-1/"


def test_undo_log_skips_objects_that_do_not_change(s3: Any) -> None:
    put(s3, PLAIN, "same", {"new": "1"})
    put(s3, PLAIN, "other", {"x": "1"})
    location = S3Location(PLAIN, "undo/")
    result = tag_objects(
        s3,
        [(ObjectRef(PLAIN, "same"), None), (ObjectRef(PLAIN, "other"), None)],
        tags=TagSet({"new": "1"}),
        undo_log=UndoLogWriter(s3, location),
    )
    assert [r.ref.key for r in read_undo_log(s3, location)] == ["other"]
    assert (result.changed, result.unchanged) == (1, 1)


def test_objects_stream_through_in_chunks(s3: Any) -> None:
    for i in range(25):
        put(s3, PLAIN, f"k{i}")
    pulled = [0]
    pulled_at_first_write: list[int] = []

    def objects() -> Iterator[tuple[ObjectRef, None]]:
        for i in range(25):
            pulled[0] += 1
            yield ObjectRef(PLAIN, f"k{i}"), None

    def first_write(**_: Any) -> None:
        if not pulled_at_first_write:
            pulled_at_first_write.append(pulled[0])

    s3.meta.events.register("before-call.s3.PutObjectTagging", first_write)
    progress: list[tuple[int, int | None]] = []
    result = TaggingEngine(
        s3,
        tags=TagSet({"a": "b"}),
        chunk_size=5,
        concurrency=2,
        progress=lambda done, total, rate: progress.append((done, total)),
        progress_interval=0,
    ).run(objects(), total=25)
    assert result.total == 25
    assert pulled_at_first_write[0] <= 10  # at most two chunks of 5 in flight
    assert progress[0] == (5, 25)
    assert progress[-1] == (25, 25)


def test_result_dict_is_small_and_complete() -> None:
    result = TaggingResult(total=4, changed=3, failed=1, elapsed_seconds=2.0)
    data = result.to_dict()
    assert data["objects_per_second"] == 2.0
    assert set(data) >= {
        "total", "changed", "unchanged", "skipped", "failed", "retries", "failures_by_code",
        "first_failures", "undo_log", "dry_run", "elapsed_seconds", "objects_per_second",
    }  # fmt: skip


def test_tolerance_allows_failures_within_either_limit() -> None:
    result = TaggingResult(total=100, failed=5)
    assert result.exceeds(0, 0.0)
    assert not result.exceeds(5, 0.0)
    assert not result.exceeds(0, 0.05)
    assert result.exceeds(4, 0.04)
    assert not TaggingResult(total=10).exceeds(0, 0.0)


def test_engine_rejects_bad_settings(s3: Any) -> None:
    with pytest.raises(ValueError, match="concurrency 0"):
        TaggingEngine(s3, concurrency=0)
    with pytest.raises(ValueError, match="chunk_size"):
        TaggingEngine(s3, chunk_size=0)


# -- AsyncTaggingEngine: the same rules over aiobotocore, against the local stand-in -------------------
# moto's in-process mock cannot serve aiobotocore, so these run against LocalAWS (moto's server).


@pytest.fixture
async def aio_s3(local_aws: LocalAWS) -> AsyncIterator[Any]:
    """An aiobotocore S3 client on the stand-in, with botocore's standard retries and no backoff waits."""
    config = local_aws.botocore_config(
        max_pool_connections=20, retries={"mode": "standard", "total_max_attempts": 4}
    )
    session = get_session()
    async with session.create_client(
        "s3",
        endpoint_url=local_aws.endpoint_url,
        region_name=local_aws.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    ) as client:
        yield client


@pytest.fixture
def sync_s3(local_aws: LocalAWS) -> Any:
    return local_aws.client("s3")


class AsyncFlakyClient:
    """Wraps an async client; the first ``failures`` calls of ``put_object_tagging`` raise ``error``."""

    def __init__(self, client: Any, error: Exception, failures: int) -> None:
        self._client = client
        self._error = error
        self._failures = failures
        self.calls = 0

    async def put_object_tagging(self, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls <= self._failures:
            raise self._error
        return await self._client.put_object_tagging(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.mark.e2e
@pytest.mark.parametrize("mode", ["replace", "merge", "remove", "delete"])
async def test_async_engine_every_mode_on_plain_and_versioned_objects(
    aio_s3: Any, sync_s3: Any, s3_bucket: str, versioned_s3_bucket: str, mode: str
) -> None:
    keys = [f"data/{i} ü+%.csv" for i in range(8)]
    for key in keys:
        put(sync_s3, s3_bucket, key, ORIGINAL)
    old_version = put(sync_s3, versioned_s3_bucket, "obj", ORIGINAL)
    latest_version = put(sync_s3, versioned_s3_bucket, "obj", {"latest": "yes"})
    items: list[tuple[ObjectRef, TagSet | None]] = [(ObjectRef(s3_bucket, k), None) for k in keys]
    items.append((ObjectRef(versioned_s3_bucket, "obj", old_version), None))
    tags = None if mode == "delete" else TagSet(NEW)
    result = await tag_objects_async(aio_s3, items, tags=tags, mode=mode, concurrency=4)
    assert (result.total, result.changed, result.written, result.failed) == (9, 9, 9, 0)
    for key in keys:
        assert tags_of(sync_s3, s3_bucket, key) == EXPECTED[mode]
    assert tags_of(sync_s3, versioned_s3_bucket, "obj", old_version) == EXPECTED[mode]
    assert tags_of(sync_s3, versioned_s3_bucket, "obj", latest_version) == {"latest": "yes"}


@pytest.mark.e2e
async def test_async_engine_dry_run_skip_unchanged_and_per_object_tags(
    aio_s3: Any, sync_s3: Any, s3_bucket: str
) -> None:
    put(sync_s3, s3_bucket, "same", {"a": "b"})
    put(sync_s3, s3_bucket, "other", ORIGINAL)
    put(sync_s3, s3_bucket, "own", ORIGINAL)
    items = [
        (ObjectRef(s3_bucket, "same"), None),
        (ObjectRef(s3_bucket, "other"), None),
        (ObjectRef(s3_bucket, "own"), TagSet({"own": "1"})),
    ]
    dry = await tag_objects_async(aio_s3, items, tags=TagSet({"a": "b"}), dry_run=True)
    assert (dry.changed, dry.unchanged, dry.written) == (2, 1, 0)
    assert tags_of(sync_s3, s3_bucket, "other") == ORIGINAL
    result = await tag_objects_async(aio_s3, items, tags=TagSet({"a": "b"}), skip_unchanged=True)
    assert (result.changed, result.skipped, result.written) == (2, 1, 2)
    assert tags_of(sync_s3, s3_bucket, "other") == {"a": "b"}
    assert tags_of(sync_s3, s3_bucket, "own") == {"own": "1"}


@pytest.mark.e2e
async def test_async_engine_records_per_object_failures_while_the_rest_succeed(
    aio_s3: Any, sync_s3: Any, s3_bucket: str, versioned_s3_bucket: str
) -> None:
    put(sync_s3, s3_bucket, "ok", ORIGINAL)
    version = put(sync_s3, versioned_s3_bucket, "v", ORIGINAL)
    full = {f"t{i}": "v" for i in range(10)}
    put(sync_s3, s3_bucket, "full", full)
    items = [
        (ObjectRef(s3_bucket, "ok"), None),
        (ObjectRef(s3_bucket, "missing"), None),
        (ObjectRef(versioned_s3_bucket, "v", "no-such-version"), None),
        (ObjectRef(s3_bucket, "full"), None),
        (ObjectRef(versioned_s3_bucket, "v", version), None),
    ]
    result = await tag_objects_async(aio_s3, items, tags=TagSet({"added": "1"}), mode="merge", concurrency=3)
    assert (result.total, result.changed, result.failed) == (5, 2, 3)
    assert result.failures_by_code == {"NoSuchKey": 1, "NoSuchVersion": 1, "InvalidTag": 1}
    assert tags_of(sync_s3, s3_bucket, "ok") == {**ORIGINAL, "added": "1"}
    assert tags_of(sync_s3, versioned_s3_bucket, "v", version) == {**ORIGINAL, "added": "1"}
    assert tags_of(sync_s3, s3_bucket, "full") == full


@pytest.mark.e2e
@pytest.mark.usefixtures("no_botocore_backoff")
async def test_async_engine_rides_out_throttling_and_server_errors(
    aio_s3: Any, sync_s3: Any, s3_bucket: str, aws_faults: Faults
) -> None:
    keys = [f"k{i}" for i in range(40)]
    for key in keys:
        put(sync_s3, s3_bucket, key, ORIGINAL)
    aws_faults.configure(slowdown_ratio=0.3, error_500_ratio=0.1, tagging_only=True, seed=7)
    result = await tag_objects_async(
        aio_s3, [(ObjectRef(s3_bucket, k), None) for k in keys], tags=TagSet({"a": "b"}), retry_backoff=0.001
    )
    injected = aws_faults.counters["slowdown"] + aws_faults.counters["error_500"]
    aws_faults.clear()
    assert injected > 0
    assert (result.changed, result.failed) == (40, 0)
    assert result.retries == injected
    assert all(tags_of(sync_s3, s3_bucket, k) == {"a": "b"} for k in keys)


@pytest.mark.e2e
async def test_async_engine_retries_connection_errors_but_not_access_denied(
    aio_s3: Any, sync_s3: Any, s3_bucket: str
) -> None:
    put(sync_s3, s3_bucket, "k")
    flaky = AsyncFlakyClient(aio_s3, EndpointConnectionError(endpoint_url="http://s3"), failures=2)
    item = [(ObjectRef(s3_bucket, "k"), None)]
    result = await tag_objects_async(flaky, item, tags=TagSet({"a": "b"}), retry_backoff=0.001)
    assert (result.changed, result.retries, flaky.calls) == (1, 2, 3)
    assert tags_of(sync_s3, s3_bucket, "k") == {"a": "b"}
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "PutObjectTagging")
    flaky = AsyncFlakyClient(aio_s3, denied, failures=1)
    result = await tag_objects_async(flaky, item, tags=TagSet({"c": "d"}), retry_backoff=0.001)
    assert (result.failed, result.retries, flaky.calls) == (1, 0, 1)
    assert result.failures_by_code == {"AccessDenied": 1}
    assert tags_of(sync_s3, s3_bucket, "k") == {"a": "b"}


@pytest.mark.e2e
async def test_async_engine_flushes_each_undo_part_before_writing_its_chunk(
    aio_s3: Any, sync_s3: Any, s3_bucket: str
) -> None:
    keys = [f"k{i:02d}" for i in range(10)]
    for key in keys:
        put(sync_s3, s3_bucket, key, {"orig": key})
    location = S3Location(s3_bucket, "undo/run-1/")
    checked: list[str] = []

    def assert_logged(params: dict[str, Any], **_: Any) -> None:
        logged = {r.ref.key: r.tags for r in read_undo_log(sync_s3, location)}
        assert logged[params["Key"]] == {"orig": params["Key"]}
        checked.append(params["Key"])

    aio_s3.meta.events.register("provide-client-params.s3.PutObjectTagging", assert_logged)
    result = await tag_objects_async(
        aio_s3,
        [(ObjectRef(s3_bucket, k), None) for k in keys],
        tags=TagSet({"new": "1"}),
        undo_log=UndoLogWriter(sync_s3, location),
        chunk_size=3,
        concurrency=2,
    )
    assert sorted(checked) == keys
    assert (result.changed, len(result.undo_log_parts)) == (10, 4)
    assert [p.rsplit("/", 1)[1] for p in result.undo_log_parts] == [f"part-{i:06d}.jsonl" for i in range(4)]
    assert {r.ref.key: r.tags for r in read_undo_log(sync_s3, location)} == {k: {"orig": k} for k in keys}


class CountingClient:
    """An in-memory async S3 client that answers after ``latency`` and records requests in flight."""

    def __init__(self, latency: float, fail_on: str | None = None) -> None:
        self.latency = latency
        self.fail_on = fail_on
        self.in_flight = 0
        self.most_in_flight = 0
        self.finished = 0

    async def put_object_tagging(self, **kwargs: Any) -> dict[str, Any]:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.latency)
            if kwargs["Key"] == self.fail_on:
                raise RuntimeError("credentials expired")
        finally:
            self.in_flight -= 1
        self.finished += 1
        return {"ResponseMetadata": {"HTTPStatusCode": 200, "RetryAttempts": 0}}


async def test_async_engine_keeps_at_most_concurrency_requests_in_flight_and_streams_chunks() -> None:
    client = CountingClient(latency=0.005)
    pulled = [0]
    pulled_at_first_write: list[int] = []
    original = client.put_object_tagging

    async def first_write(**kwargs: Any) -> dict[str, Any]:
        if not pulled_at_first_write:
            pulled_at_first_write.append(pulled[0])
        return await original(**kwargs)

    client.put_object_tagging = first_write  # type: ignore[method-assign]

    def objects() -> Iterator[tuple[ObjectRef, None]]:
        for i in range(100):
            pulled[0] += 1
            yield ObjectRef(PLAIN, f"k{i}"), None

    progress: list[tuple[int, int | None]] = []
    result = await AsyncTaggingEngine(
        client,
        tags=TagSet({"a": "b"}),
        concurrency=7,
        chunk_size=10,
        progress=lambda done, total, rate: progress.append((done, total)),
        progress_interval=0,
    ).run(objects(), total=100)
    assert (result.total, result.written, client.finished) == (100, 100, 100)
    assert client.most_in_flight == 7
    assert pulled_at_first_write[0] <= 20  # at most two chunks of 10 in flight
    assert progress[0] == (10, 100)
    assert progress[-1] == (100, 100)


async def test_async_engine_raises_an_unexpected_error_and_leaves_no_request_running() -> None:
    # k5 fails at once; every other request takes a long time: both chunks' others must be cancelled.
    client = CountingClient(latency=5.0, fail_on="k5")
    original = client.put_object_tagging

    async def fail_fast(**kwargs: Any) -> dict[str, Any]:
        if kwargs["Key"] == "k5":
            raise RuntimeError("credentials expired")
        return await original(**kwargs)

    client.put_object_tagging = fail_fast  # type: ignore[method-assign]
    engine = AsyncTaggingEngine(client, tags=TagSet({"a": "b"}), concurrency=12, chunk_size=8)
    with pytest.raises(RuntimeError, match="credentials expired"):
        await asyncio.wait_for(engine.run((ObjectRef(PLAIN, f"k{i}"), None) for i in range(40)), timeout=2)
    assert client.most_in_flight == 12  # k5 gave its slot back at once: both chunks were in flight
    assert client.in_flight == 0
    assert client.finished == 0
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


def test_async_engine_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="concurrency 0"):
        AsyncTaggingEngine(CountingClient(0), tags=TagSet({"a": "b"}), concurrency=0)
    with pytest.raises(ValueError, match="chunk_size 0"):
        AsyncTaggingEngine(CountingClient(0), tags=TagSet({"a": "b"}), chunk_size=0)
