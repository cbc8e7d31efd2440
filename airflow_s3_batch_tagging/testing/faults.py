"""Fault injection for the stand-in's S3 requests: throttling, server errors, resets, failing keys, latency.

``Faults`` holds the settings and counters (safe to change from any thread while requests run);
``FaultInjectionMiddleware`` wraps moto's S3 WSGI app and applies them. S3 Control requests never
pass through it. Give a ``seed`` to make the sequence of injected faults repeatable.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from airflow_s3_batch_tagging.testing.wire import new_request_id

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# HTTP status and message S3 answers for the error codes a failing key may be given.
S3_ERRORS: dict[str, tuple[int, str]] = {
    "AccessDenied": (403, "Access Denied"),
    "NoSuchKey": (404, "The specified key does not exist."),
    "NoSuchVersion": (404, "The specified version does not exist."),
    "NoSuchBucket": (404, "The specified bucket does not exist"),
    "InvalidTag": (400, "The TagKey you have provided is invalid"),
    "MalformedXML": (400, "The XML you provided was not well-formed or did not validate against our schema"),
    "OperationAborted": (
        409,
        "A conflicting conditional operation is currently in progress against this resource.",
    ),
    "InternalError": (500, "We encountered an internal error. Please try again."),
    "SlowDown": (503, "Please reduce your request rate."),
    "ServiceUnavailable": (503, "Service is unable to handle request."),
}

COUNTER_NAMES = ("requests", "slowdown", "error_500", "reset", "failing_key", "latency")


@dataclass(frozen=True, slots=True)
class InjectedFault:
    """What to do to one request: an error to answer, or a reset (connection dropped)."""

    kind: str
    code: str = ""
    status: int = 0


def _ratio(name: str, value: float) -> float:
    ratio = float(value)
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"Invalid {name} {value!r}: a ratio must be between 0 and 1.")
    return ratio


class Faults:
    """Fault settings for S3 requests and counters of what was injected.

    Attributes, settable at any time: ``slowdown_ratio`` (503 SlowDown), ``error_500_ratio``
    (500 InternalError), ``reset_ratio`` (connection dropped without an answer), ``failing_keys``
    (keys, or ``bucket/key``, answered with ``failing_key_error``; or a dict of them to their own
    error codes), ``failing_key_times`` (a failing key fails only its first N requests, then
    recovers; 0, the default: it fails every time; or a dict of keys to their own N),
    ``latency_seconds`` (added to every S3 request) and ``tagging_only`` (apply all of it only to
    ``?tagging`` requests).

    :param seed: seed of the random choices (None: not repeatable).
    """

    def __init__(self, *, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._counters = dict.fromkeys(COUNTER_NAMES, 0)
        self._slowdown_ratio = 0.0
        self._error_500_ratio = 0.0
        self._reset_ratio = 0.0
        self._latency_seconds = 0.0
        self._failing_keys: frozenset[str] = frozenset()
        self._failing_key_codes: dict[str, str] = {}
        self._failing_key_error = "AccessDenied"
        self._failing_key_times: int | dict[str, int] = 0
        self._failures_per_key: dict[str, int] = {}
        self.tagging_only = False

    @property
    def slowdown_ratio(self) -> float:
        return self._slowdown_ratio

    @slowdown_ratio.setter
    def slowdown_ratio(self, value: float) -> None:
        self._slowdown_ratio = _ratio("slowdown_ratio", value)

    @property
    def error_500_ratio(self) -> float:
        return self._error_500_ratio

    @error_500_ratio.setter
    def error_500_ratio(self, value: float) -> None:
        self._error_500_ratio = _ratio("error_500_ratio", value)

    @property
    def reset_ratio(self) -> float:
        return self._reset_ratio

    @reset_ratio.setter
    def reset_ratio(self, value: float) -> None:
        self._reset_ratio = _ratio("reset_ratio", value)

    @property
    def latency_seconds(self) -> float:
        return self._latency_seconds

    @latency_seconds.setter
    def latency_seconds(self, value: float) -> None:
        if float(value) < 0:
            raise ValueError(f"Invalid latency_seconds {value!r}: it must not be negative.")
        self._latency_seconds = float(value)

    @property
    def failing_keys(self) -> frozenset[str]:
        return self._failing_keys

    @failing_keys.setter
    def failing_keys(self, keys: Iterable[str] | Mapping[str, str]) -> None:
        if isinstance(keys, str):
            raise ValueError(f"Invalid failing_keys {keys!r}: give a set of keys, not one string.")
        codes = dict(keys) if isinstance(keys, Mapping) else {}
        for code in codes.values():
            if code not in S3_ERRORS:
                raise ValueError(
                    f"Invalid failing_keys code {code!r}: choose one of {', '.join(sorted(S3_ERRORS))}."
                )
        with self._lock:
            self._failing_keys = frozenset(keys)
            self._failing_key_codes = codes
            self._failures_per_key = {}

    @property
    def failing_key_times(self) -> int | dict[str, int]:
        return self._failing_key_times

    @failing_key_times.setter
    def failing_key_times(self, value: int | Mapping[str, int]) -> None:
        values = list(value.values()) if isinstance(value, Mapping) else [value]
        for times in values:
            if isinstance(times, bool) or not isinstance(times, int) or times < 0:
                raise ValueError(f"Invalid failing_key_times {value!r}: each must be an integer >= 0.")
        with self._lock:
            self._failing_key_times = dict(value) if isinstance(value, Mapping) else int(value)
            self._failures_per_key = {}

    @property
    def failing_key_error(self) -> str:
        return self._failing_key_error

    @failing_key_error.setter
    def failing_key_error(self, code: str) -> None:
        if code not in S3_ERRORS:
            raise ValueError(
                f"Invalid failing_key_error {code!r}: choose one of {', '.join(sorted(S3_ERRORS))}."
            )
        self._failing_key_error = code

    def seed(self, seed: int | None) -> None:
        """Restart the random choices from ``seed``."""
        with self._lock:
            self._rng = random.Random(seed)

    def configure(self, **settings: Any) -> None:
        """Set several attributes at once, e.g. ``configure(slowdown_ratio=0.1, seed=7)``."""
        if "seed" in settings:
            self.seed(settings.pop("seed"))
        for name, value in settings.items():
            if name not in _SETTINGS:
                raise ValueError(f"Unknown fault setting {name!r}: choose among {', '.join(_SETTINGS)}.")
            setattr(self, name, value)

    def clear(self) -> None:
        """Turn every fault off and zero the counters."""
        self.configure(**_DEFAULTS)
        with self._lock:
            self._counters = dict.fromkeys(COUNTER_NAMES, 0)

    @contextlib.contextmanager
    def injected(self, **settings: Any) -> Iterator[Faults]:
        """Apply ``settings`` inside a ``with`` block, then turn every fault off again."""
        self.configure(**settings)
        try:
            yield self
        finally:
            self.configure(**_DEFAULTS)

    @property
    def counters(self) -> dict[str, int]:
        """How many S3 requests were seen and how many faults of each kind were injected."""
        with self._lock:
            return dict(self._counters)

    @property
    def injected_total(self) -> int:
        counters = self.counters
        return counters["slowdown"] + counters["error_500"] + counters["reset"] + counters["failing_key"]

    def _count(self, name: str) -> None:
        with self._lock:
            self._counters[name] += 1

    def decide(self, *, bucket: str, key: str, is_tagging: bool) -> InjectedFault | None:
        """Choose the fault for one S3 request (and count it), or None to let it through."""
        with self._lock:
            self._counters["requests"] += 1
            if self.tagging_only and not is_tagging:
                return None
            name = None
            if key and self._failing_keys:
                name = key if key in self._failing_keys else f"{bucket}/{key}"
            if name is not None and name in self._failing_keys:
                failures = self._failures_per_key.get(name, 0)
                times = self._failing_key_times
                limit = times.get(name, 0) if isinstance(times, dict) else times
                if not limit or failures < limit:
                    self._failures_per_key[name] = failures + 1
                    self._counters["failing_key"] += 1
                    code = self._failing_key_codes.get(name, self._failing_key_error)
                    return InjectedFault("failing_key", code, S3_ERRORS[code][0])
            draw = self._rng.random()
            threshold = self._reset_ratio
            if draw < threshold:
                self._counters["reset"] += 1
                return InjectedFault("reset")
            threshold += self._slowdown_ratio
            if draw < threshold:
                self._counters["slowdown"] += 1
                return InjectedFault("slowdown", "SlowDown", 503)
            threshold += self._error_500_ratio
            if draw < threshold:
                self._counters["error_500"] += 1
                return InjectedFault("error_500", "InternalError", 500)
        return None

    def __repr__(self) -> str:
        settings = ", ".join(f"{name}={getattr(self, name)!r}" for name in _SETTINGS)
        return f"Faults({settings})"


_DEFAULTS: dict[str, Any] = {
    "slowdown_ratio": 0.0,
    "error_500_ratio": 0.0,
    "reset_ratio": 0.0,
    "latency_seconds": 0.0,
    "failing_keys": frozenset(),
    "failing_key_error": "AccessDenied",
    "failing_key_times": 0,
    "tagging_only": False,
}
_SETTINGS = tuple(_DEFAULTS)


def _signing_service(environ: dict[str, Any]) -> str | None:
    """The service named in a SigV4 credential scope (header or presigned query), if any."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" in auth:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0]
    elif "X-Amz-Credential=" in environ.get("QUERY_STRING", ""):
        scope = environ["QUERY_STRING"].split("X-Amz-Credential=", 1)[1].split("&", 1)[0].replace("%2F", "/")
    else:
        return None
    parts = scope.split("/")
    return parts[3] if len(parts) >= 5 else None


def _error_response(
    fault: InjectedFault, environ: dict[str, Any], start_response: Callable[..., Any]
) -> list[bytes]:
    status, message = S3_ERRORS[fault.code]
    request_id = new_request_id()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{fault.code}</Code><Message>{escape(message)}</Message>"
        f"<RequestId>{request_id}</RequestId><HostId>{request_id}</HostId></Error>"
    ).encode()
    reason = {403: "Forbidden", 404: "Not Found", 400: "Bad Request", 409: "Conflict",
              500: "Internal Server Error", 503: "Slow Down"}.get(status, "Error")  # fmt: skip
    headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
    if environ.get("REQUEST_METHOD") == "HEAD":
        start_response(f"{status} {reason}", [*headers, ("Content-Length", "0")])
        return []
    start_response(f"{status} {reason}", [*headers, ("Content-Length", str(len(body)))])
    return [body]


def _drop_connection(environ: dict[str, Any]) -> None:
    """Close the client's socket with a TCP reset, so it sees the connection dropped mid-request."""
    sock = environ.get("werkzeug.socket")
    if not isinstance(sock, socket.socket):
        raise ConnectionResetError("fault injection: connection reset")
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
    raise ConnectionResetError("fault injection: connection reset")


class FaultInjectionMiddleware:
    """WSGI middleware that applies ``faults`` to S3 requests before they reach ``app``."""

    def __init__(self, app: WSGIApp, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if _signing_service(environ) not in (None, "s3"):
            return self.app(environ, start_response)
        latency = self.faults.latency_seconds
        if latency > 0:
            self.faults._count("latency")
            time.sleep(latency)
        # PEP 3333: PATH_INFO holds the URL-decoded bytes as latin-1; keys are UTF-8.
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        bucket, _, key = path.lstrip("/").partition("/")
        query = environ.get("QUERY_STRING", "")
        is_tagging = any(part.split("=", 1)[0] == "tagging" for part in query.split("&"))
        fault = self.faults.decide(bucket=bucket, key=key, is_tagging=is_tagging)
        if fault is None:
            return self.app(environ, start_response)
        if fault.kind == "reset":
            _drop_connection(environ)
        # Read the request body first: a client waiting to send it would otherwise stall.
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > 0:
            environ["wsgi.input"].read(length)
        return _error_response(fault, environ, start_response)
