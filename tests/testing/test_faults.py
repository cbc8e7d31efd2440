"""Fault injection: settings, repeatable choices, counters, and what S3 clients see."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from airflow_s3_batch_tagging.testing import Faults, LocalAWS

NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})


def decisions(faults: Faults, count: int) -> list[str | None]:
    results = []
    for _ in range(count):
        fault = faults.decide(bucket="b", key="k", is_tagging=True)
        results.append(fault.kind if fault else None)
    return results


def test_same_seed_gives_the_same_faults_and_counters_count_them() -> None:
    first, second = Faults(seed=3), Faults(seed=3)
    for faults in (first, second):
        faults.configure(slowdown_ratio=0.3, error_500_ratio=0.2, reset_ratio=0.1)

    sequence = decisions(first, 200)

    assert sequence == decisions(second, 200)
    counters = first.counters
    assert counters["requests"] == 200
    assert counters["slowdown"] == sequence.count("slowdown") > 30
    assert counters["error_500"] == sequence.count("error_500") > 15
    assert counters["reset"] == sequence.count("reset") > 5
    assert first.injected_total == 200 - sequence.count(None)


def test_reseeding_restarts_the_sequence() -> None:
    faults = Faults(seed=5)
    faults.slowdown_ratio = 0.5
    sequence = decisions(faults, 50)

    faults.seed(5)

    assert decisions(faults, 50) == sequence


def test_failing_keys_match_key_or_bucket_key_tagging_only() -> None:
    faults = Faults()
    faults.configure(
        failing_keys={"secret.txt", "b2/only-here"}, failing_key_error="NoSuchKey", tagging_only=True
    )

    hit = faults.decide(bucket="any", key="secret.txt", is_tagging=True)
    assert hit is not None
    assert (hit.kind, hit.code, hit.status) == ("failing_key", "NoSuchKey", 404)
    assert faults.decide(bucket="b2", key="only-here", is_tagging=True) is not None
    assert faults.decide(bucket="b1", key="only-here", is_tagging=True) is None
    assert faults.decide(bucket="any", key="secret.txt", is_tagging=False) is None


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("slowdown_ratio", 1.5, "between 0 and 1"),
        ("error_500_ratio", -0.1, "between 0 and 1"),
        ("reset_ratio", 2, "between 0 and 1"),
        ("latency_seconds", -1, "negative"),
        ("failing_keys", "one-key", "set of keys"),
        ("failing_key_error", "Teapot", "AccessDenied"),
        ("bogus", 1, "Unknown fault setting"),
    ],
)
def test_invalid_settings_are_refused_with_the_rule(name: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Faults().configure(**{name: value})


def test_injected_turns_off_on_exit_and_clear_zeroes() -> None:
    faults = Faults(seed=1)
    with faults.injected(slowdown_ratio=1.0, latency_seconds=0.5, failing_keys={"k"}):
        assert decisions(faults, 1) == ["failing_key"]
    assert (faults.slowdown_ratio, faults.latency_seconds, faults.failing_keys) == (0.0, 0.0, frozenset())
    assert faults.counters["failing_key"] == 1

    faults.clear()

    assert set(faults.counters.values()) == {0}


@pytest.mark.e2e
class TestAgainstTheStandIn:
    @pytest.fixture
    def s3_once(self, local_aws: LocalAWS) -> Any:
        """An S3 client that does not retry, so each injected fault is seen."""
        return local_aws.client("s3", config=NO_RETRIES)

    def test_slowdown_and_500_answer_s3_errors(
        self, s3_once: Any, s3_bucket: str, aws_faults: Faults
    ) -> None:
        aws_faults.slowdown_ratio = 1.0
        with pytest.raises(ClientError) as slow:
            s3_once.put_object(Bucket=s3_bucket, Key="k", Body=b"x")
        with pytest.raises(ClientError) as slow_head:
            s3_once.head_object(Bucket=s3_bucket, Key="k")
        aws_faults.configure(slowdown_ratio=0.0, error_500_ratio=1.0)
        with pytest.raises(ClientError) as internal:
            s3_once.list_objects_v2(Bucket=s3_bucket)

        assert slow.value.response["Error"]["Code"] == "SlowDown"
        assert slow.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert slow_head.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert internal.value.response["Error"]["Code"] == "InternalError"
        assert aws_faults.counters["slowdown"] == 2
        assert aws_faults.counters["error_500"] == 1

    def test_reset_drops_the_connection(self, s3_once: Any, s3_bucket: str, aws_faults: Faults) -> None:
        aws_faults.reset_ratio = 1.0

        # Through the stand-in's proxy setting botocore reports it as ProxyConnectionError (retryable).
        with pytest.raises((BotoConnectionError, HTTPClientError)):
            s3_once.list_objects_v2(Bucket=s3_bucket)

        assert aws_faults.counters["reset"] == 1

    def test_default_client_retries_through_some_throttling(
        self, local_aws: LocalAWS, s3_bucket: str, aws_faults: Faults
    ) -> None:
        s3 = local_aws.client("s3", config=Config(retries={"mode": "standard", "max_attempts": 10}))
        aws_faults.configure(slowdown_ratio=0.3, seed=3)  # seed 3: only the first request is throttled

        for index in range(3):
            s3.put_object(Bucket=s3_bucket, Key=f"k{index}", Body=b"x")

        aws_faults.configure(slowdown_ratio=0.0)
        assert s3.list_objects_v2(Bucket=s3_bucket)["KeyCount"] == 3
        assert aws_faults.counters["slowdown"] == 1

    def test_failing_keys_and_latency(self, s3_once: Any, s3_bucket: str, aws_faults: Faults) -> None:
        s3_once.put_object(Bucket=s3_bucket, Key="open.txt", Body=b"x")
        s3_once.put_object(Bucket=s3_bucket, Key="secret.txt", Body=b"x")
        aws_faults.configure(failing_keys={"secret.txt"}, latency_seconds=0.2)

        with pytest.raises(ClientError) as denied:
            s3_once.get_object_tagging(Bucket=s3_bucket, Key="secret.txt")
        started = time.monotonic()
        s3_once.get_object_tagging(Bucket=s3_bucket, Key="open.txt")
        elapsed = time.monotonic() - started

        assert denied.value.response["Error"]["Code"] == "AccessDenied"
        assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert elapsed >= 0.2
        assert aws_faults.counters["latency"] == 2

    def test_failing_keys_match_non_ascii_and_spaced_keys(
        self, s3_once: Any, s3_bucket: str, aws_faults: Faults
    ) -> None:
        for key in ("données/ü file.txt", "open ü.txt"):
            s3_once.put_object(Bucket=s3_bucket, Key=key, Body=b"x")
        aws_faults.configure(failing_keys={"données/ü file.txt"}, failing_key_error="NoSuchKey")

        with pytest.raises(ClientError) as missing:
            s3_once.get_object_tagging(Bucket=s3_bucket, Key="données/ü file.txt")
        s3_once.get_object_tagging(Bucket=s3_bucket, Key="open ü.txt")

        assert missing.value.response["Error"]["Code"] == "NoSuchKey"
        assert aws_faults.counters["failing_key"] == 1

    def test_s3_control_requests_are_never_faulted(
        self, local_aws: LocalAWS, s3control: Any, aws_faults: Faults
    ) -> None:
        aws_faults.configure(slowdown_ratio=1.0, failing_keys={"jobs"})

        answer = s3control.list_jobs(AccountId=local_aws.account_id)

        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert aws_faults.counters["requests"] == 0
