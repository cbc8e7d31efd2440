"""S3 error codes read once for both paths: what is missing, what is retried, what is throttling."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

from airflow_s3_batch_tagging.s3_errors import (
    code_is_throttling,
    error_code,
    http_status,
    is_not_found,
)
from airflow_s3_batch_tagging.transports.botocore import transport_error


def client_error(code: str, status: int, operation: str = "PutObjectTagging") -> ClientError:
    response: Any = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, operation)


def test_retryable_is_throttling_5xx_and_connection() -> None:
    def retryable(err: Exception) -> bool:
        return transport_error(err).retryable  # how the engine's botocore transports judge it

    assert retryable(client_error("SlowDown", 503))
    assert retryable(client_error("InternalError", 500))
    assert retryable(client_error("Whatever", 502))
    assert not retryable(client_error("NoSuchKey", 404))
    assert not retryable(client_error("InvalidTag", 400))
    assert not retryable(client_error("AccessDenied", 403))
    assert retryable(EndpointConnectionError(endpoint_url="x"))
    assert retryable(ReadTimeoutError(endpoint_url="x"))
    assert retryable(ConnectionClosedError(endpoint_url="x"))


def test_the_code_is_the_http_status_when_the_answer_has_no_body() -> None:
    assert error_code(client_error("", 503)) == "503"
    assert (error_code(client_error("NoSuchKey", 404)), http_status(client_error("NoSuchKey", 404))) == (
        "NoSuchKey",
        404,
    )
    assert error_code(ValueError("x")) == "ValueError"
    assert http_status(ValueError("x")) == 0


@pytest.mark.parametrize(
    ("code", "status", "missing", "missing_or_no_bucket"),
    [
        ("NoSuchKey", 404, True, True),
        ("NoSuchVersion", 404, True, True),
        # HeadObject's 404 has no body: botocore names it "404" (older releases "NotFound").
        ("404", 404, True, True),
        ("NotFound", 404, True, True),
        ("NoSuchBucket", 404, False, True),
        ("AccessDenied", 403, False, False),
        ("SlowDown", 503, False, False),
    ],
)
def test_one_not_found_rule_for_keys_and_versions(
    code: str, status: int, missing: bool, missing_or_no_bucket: bool
) -> None:
    err = client_error(code, status, "HeadObject")
    assert is_not_found(err) is missing
    assert is_not_found(err, bucket_too=True) is missing_or_no_bucket


def test_throttling_is_slow_down_or_a_bare_503() -> None:
    assert code_is_throttling("SlowDown", 503)
    assert code_is_throttling("503", 503)
    assert not code_is_throttling("InternalError", 500)
    assert not code_is_throttling("AccessDenied", 403)
