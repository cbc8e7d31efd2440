"""S3 error codes: how to read them from an error and what they mean, once for both paths.

botocore names an error by the ``Code`` of S3's XML error body, or by the HTTP status when the
response has no body (``HeadObject``'s 404 reads ``"404"``). Every transport of the direct path
reports its failures with the same codes, so the rules below judge them all alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

if TYPE_CHECKING:
    from collections.abc import Mapping

NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "NotFound", "404"})
"""What S3 answers (HTTP 404) for a key or version that does not exist; ``NotFound`` and ``404`` are
botocore's names for a 404 without a body (``HeadObject``). A missing bucket is ``NoSuchBucket``."""

THROTTLING_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
    }
)
"""Codes that ask the client to send fewer requests (S3's is ``SlowDown``, HTTP 503)."""

RETRYABLE_ERROR_CODES = THROTTLING_CODES | frozenset(
    {
        "ServiceUnavailable",
        "InternalError",
        "RequestTimeout",
        "RequestTimeoutException",
        "OperationAborted",
        "500",
        "502",
        "503",
        "504",
    }
)
"""Codes another attempt may turn into a success (besides any HTTP 5xx)."""

CONNECTION_ERRORS = (BotocoreConnectionError, HTTPClientError)
"""botocore's endpoint, proxy, SSL and connect-timeout errors, dropped connections and read timeouts."""


def _response(err: ClientError) -> Mapping[str, Any]:
    response: Mapping[str, Any] = err.response
    return response


def http_status(err: BaseException) -> int:
    """The HTTP status of a botocore ``ClientError``, else 0."""
    if isinstance(err, ClientError):
        return int((_response(err).get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
    return 0


def error_code(err: BaseException) -> str:
    """The S3 error code of a botocore ``ClientError`` (its HTTP status when it has none), else the
    exception's class name."""
    if isinstance(err, ClientError):
        code = (_response(err).get("Error") or {}).get("Code")
        if code:
            return str(code)
        status = http_status(err)
        return str(status) if status else "ClientError"
    return type(err).__name__


def is_not_found(err: BaseException, *, bucket_too: bool = False) -> bool:
    """Whether S3 answered that the key or version does not exist (or, with ``bucket_too``, the bucket)."""
    if not isinstance(err, ClientError):
        return False
    code = error_code(err)
    return code in NOT_FOUND_CODES or (bucket_too and code == "NoSuchBucket")


def code_is_throttling(code: str, status: int = 0) -> bool:
    """Whether an error code (and HTTP status) asks for fewer requests: a rate controller slows down."""
    return code in THROTTLING_CODES or (status == 503 and code in ("503", "ServiceUnavailable"))


def code_is_retryable(code: str, status: int = 0) -> bool:
    """Whether another attempt may succeed after this error code (and HTTP status)."""
    return code in RETRYABLE_ERROR_CODES or status >= 500
