"""A fast local S3 endpoint for object-tagging benchmarks, run in its own process.

An asyncio HTTP/1.1 server (uvloop when installed) with keep-alive, answering path-style
``PutObjectTagging``, ``GetObjectTagging`` and ``DeleteObjectTagging`` (``/bucket/key?tagging``,
optional ``versionId``) in S3's XML. Each answer waits a configurable latency with ``asyncio.sleep``
(so waiting costs no CPU) and a configurable share of requests is answered ``503 SlowDown``. With a
``write_rate``, it also enforces S3's per-prefix write ceiling as a token bucket per prefix (the
bucket and the key's first path segment): each ``PUT``/``DELETE ?tagging`` takes a token; tokens
come back at ``write_rate`` per second up to a burst of a tenth of a second's worth; a write finding
none is answered ``503 SlowDown``, as S3 does above 3,500 writes per second per partitioned prefix.
Tags are kept in memory, so a benchmark can check afterwards that every object got its tags.

It does not check signatures or checksums: it is a throughput stand-in, not a correctness one
(moto is that). Admin endpoints (plain JSON, no S3 semantics):

- ``GET /_admin/stats``: request counters and the server's own CPU seconds;
- ``POST /_admin/config?latency=0.02&slowdown=0.1&seed=1&write_rate=3500``: change behaviour at run time
  (``write_rate=0``: no ceiling);
- ``POST /_admin/reset``: forget all tags and zero the counters;
- ``POST /_admin/seed?bucket=b&prefix=p/&count=N&tags=k=v,k2=v2``: create objects ``p/0..N-1`` with tags;
- ``GET /_admin/objects?bucket=b&prefix=p/``: keys and sizes of plain objects (undo log parts);
- ``GET /_admin/count?bucket=b&prefix=p/&tags=k=v``: how many objects under the prefix carry all those tags.

Run: ``python -m benchmarks.fake_s3 --port 0 --latency 0.02``; it prints ``LISTENING <port>``.
From Python: ``with FakeS3Process(latency=0.02) as server: server.endpoint_url``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import http.client
import json
import os
import random
import resource
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode
from xml.sax.saxutils import escape

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
MAX_TAGS = 10
_XML_HEAD = b'<?xml version="1.0" encoding="UTF-8"?>\n'
_REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            501: "Not Implemented", 503: "Slow Down"}  # fmt: skip

TagKey = tuple[str, str, str | None]
Tags = tuple[tuple[str, str], ...]
Response = tuple[int, list[tuple[str, str]], bytes]


class FakeS3State:
    """The server's memory: tags per object version, behaviour settings and counters."""

    def __init__(
        self, *, latency: float, slowdown: float, seed: int, require_existing: bool, write_rate: float = 0.0
    ) -> None:
        self.latency = latency
        self.slowdown = slowdown
        self.write_rate = write_rate
        self.buckets: dict[str, tuple[float, float]] = {}
        self.require_existing = require_existing
        self.rng = random.Random(seed)
        self.tags: dict[TagKey, Tags] = {}
        self.objects: dict[tuple[str, str], bytes] = {}
        self.counters: Counter[str] = Counter()
        self.started = time.monotonic()

    # -- S3 -----------------------------------------------------------------------------------------
    def s3(self, method: str, path: str, query: dict[str, str], body: bytes) -> Response:
        self.counters["requests"] += 1
        bucket, _, raw_key = path.lstrip("/").partition("/")
        plain_object = "tagging" not in query and method in ("PUT", "GET")
        if not bucket or not raw_key or ("tagging" not in query and not plain_object):
            self.counters["unsupported"] += 1
            return _error(
                501, "NotImplemented", f"Only object tagging is implemented here, not {method} {path}"
            )
        if self.slowdown and self.rng.random() < self.slowdown:
            self.counters["slowdown"] += 1
            return _error(503, "SlowDown", "Please reduce your request rate.")
        if self.write_rate and method in ("PUT", "DELETE") and not plain_object:
            if not self._take_token(f"{bucket}/{raw_key.partition('/')[0]}"):
                self.counters["rate_limited"] += 1
                return _error(503, "SlowDown", "Please reduce your request rate.")
            self.counters["writes_admitted"] += 1
        if plain_object:
            return self._object(method, bucket, unquote(raw_key), body)
        key = unquote(raw_key)
        version_id = query.get("versionId")
        ref: TagKey = (bucket, key, version_id)
        if self.require_existing and ref not in self.tags:
            self.counters["no_such_key"] += 1
            return _error(
                404, "NoSuchVersion" if version_id else "NoSuchKey", "The specified key does not exist."
            )
        extra = [("x-amz-version-id", version_id)] if version_id else []
        if method == "PUT":
            try:
                tags = _parse_tagging(body)
            except ValueError as err:
                self.counters["invalid"] += 1
                return _error(400, "InvalidTag" if "tag" in str(err) else "MalformedXML", str(err))
            self.tags[ref] = tags
            self.counters["put"] += 1
            return 200, extra, b""
        if method == "GET":
            self.counters["get"] += 1
            return 200, [("Content-Type", "application/xml"), *extra], _tagging_xml(self.tags.get(ref, ()))
        if method == "DELETE":
            self.tags[ref] = ()
            self.counters["delete"] += 1
            return 204, extra, b""
        self.counters["unsupported"] += 1
        return _error(405, "MethodNotAllowed", f"{method} is not allowed on ?tagging")

    def _take_token(self, prefix: str) -> bool:
        """Take one write token of ``prefix``'s bucket (refilled at ``write_rate``/s, burst 0.1 s)."""
        now = time.monotonic()
        burst = max(1.0, self.write_rate / 10)
        tokens, last = self.buckets.get(prefix, (burst, now))
        tokens = min(burst, tokens + (now - last) * self.write_rate)
        if tokens < 1.0:
            self.buckets[prefix] = (tokens, now)
            return False
        self.buckets[prefix] = (tokens - 1.0, now)
        return True

    def _object(self, method: str, bucket: str, key: str, body: bytes) -> Response:
        """Plain PutObject / GetObject, for undo logs and manifests written next to the objects."""
        if method == "PUT":
            self.objects[(bucket, key)] = body
            self.counters["put_object"] += 1
            return 200, [("ETag", f'"{hashlib.md5(body).hexdigest()}"')], b""
        self.counters["get_object"] += 1
        if (bucket, key) not in self.objects:
            return _error(404, "NoSuchKey", "The specified key does not exist.")
        return 200, [("Content-Type", "application/octet-stream")], self.objects[(bucket, key)]

    # -- admin --------------------------------------------------------------------------------------
    def admin(self, method: str, path: str, query: dict[str, str]) -> Response:
        name = path.removeprefix("/_admin/")
        if name == "stats":
            usage = resource.getrusage(resource.RUSAGE_SELF)
            data: dict[str, Any] = dict(self.counters)
            data.update(
                objects=len(self.tags),
                cpu_seconds=usage.ru_utime + usage.ru_stime,
                uptime_seconds=time.monotonic() - self.started,
                latency_setting=self.latency,
                slowdown_setting=self.slowdown,
                write_rate_setting=self.write_rate,
                max_rss_kb=usage.ru_maxrss,
            )
            return _json(data)
        if method != "POST" and name not in ("count", "objects"):
            return _error(405, "MethodNotAllowed", f"{method} {path}")
        if name == "config":
            if "latency" in query:
                self.latency = float(query["latency"])
            if "slowdown" in query:
                self.slowdown = float(query["slowdown"])
            if "seed" in query:
                self.rng.seed(int(query["seed"]))
            if "require_existing" in query:
                self.require_existing = query["require_existing"] == "1"
            if "write_rate" in query:
                self.write_rate = float(query["write_rate"])
                self.buckets.clear()
            return _json({"latency": self.latency, "slowdown": self.slowdown, "write_rate": self.write_rate})
        if name == "reset":
            self.buckets.clear()
            self.tags.clear()
            self.objects.clear()
            self.counters.clear()
            return _json({"reset": True})
        if name == "seed":
            bucket, prefix = query["bucket"], query.get("prefix", "")
            tags = _parse_tag_query(query.get("tags"))
            for index in range(int(query["count"])):
                self.tags[(bucket, f"{prefix}{index}", None)] = tags
            return _json({"objects": len(self.tags)})
        if name == "count":
            bucket, prefix = query["bucket"], query.get("prefix", "")
            wanted = set(_parse_tag_query(query.get("tags")))
            matching = sum(
                1
                for (obj_bucket, key, _), tags in self.tags.items()
                if obj_bucket == bucket and key.startswith(prefix) and wanted <= set(tags)
            )
            return _json({"count": matching})
        if name == "objects":
            bucket, prefix = query["bucket"], query.get("prefix", "")
            listed = {k: len(v) for (b, k), v in self.objects.items() if b == bucket and k.startswith(prefix)}
            return _json({"objects": listed})
        return _error(404, "NoSuchAdminEndpoint", path)


def _parse_tag_query(text: str | None) -> Tags:
    if not text:
        return ()
    return tuple((k, v) for k, _, v in (pair.partition("=") for pair in text.split(",")))


def _parse_tagging(body: bytes) -> Tags:
    try:
        root = ET.fromstring(body)
    except ET.ParseError as err:
        raise ValueError(f"The XML you provided was not well-formed: {err}") from None
    tags: list[tuple[str, str]] = []
    for tag in root.iter(f"{{{S3_NS}}}Tag" if root.tag.startswith("{") else "Tag"):
        key = value = None
        for child in tag:
            local = child.tag.rpartition("}")[2]
            if local == "Key":
                key = child.text or ""
            elif local == "Value":
                value = child.text or ""
        if key is None or value is None:
            raise ValueError("The XML you provided was not well-formed: a Tag needs Key and Value")
        tags.append((key, value))
    if len(tags) > MAX_TAGS:
        raise ValueError(f"Object tags cannot be greater than {MAX_TAGS}")
    if len({key for key, _ in tags}) != len(tags):
        raise ValueError("Cannot provide multiple tags with the same key")
    return tuple(tags)


def _tagging_xml(tags: Tags) -> bytes:
    inner = "".join(f"<Tag><Key>{escape(k)}</Key><Value>{escape(v)}</Value></Tag>" for k, v in tags)
    return _XML_HEAD + f'<Tagging xmlns="{S3_NS}"><TagSet>{inner}</TagSet></Tagging>'.encode()


def _error(status: int, code: str, message: str) -> Response:
    body = (
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>"
        f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
    )
    return status, [("Content-Type", "application/xml")], _XML_HEAD + body.encode()


def _json(data: dict[str, Any]) -> Response:
    return 200, [("Content-Type", "application/json")], json.dumps(data).encode()


def _render(status: int, headers: list[tuple[str, str]], body: bytes, keep_alive: bool) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}", f"Content-Length: {len(body)}",
             "x-amz-request-id: 0000000000000000", "Server: AmazonS3"]  # fmt: skip
    lines.extend(f"{name}: {value}" for name, value in headers)
    if not keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return b"".join(chunks)
            chunks.append(chunk[:-2])
    length = int(headers.get("content-length", "0"))
    return await reader.readexactly(length) if length else b""


async def _serve_connection(
    state: FakeS3State, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, target, version = request_line.split(" ", 2)
            headers = {}
            for line in header_lines:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            if headers.get("expect", "").lower() == "100-continue":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = await _read_body(reader, headers)
            path, _, query_string = target.partition("?")
            query = dict(parse_qsl(query_string, keep_blank_values=True))
            if path.startswith("/_admin/"):
                status, extra, payload = state.admin(method, path, query)
            else:
                status, extra, payload = state.s3(method, path, query, body)
                if state.latency > 0:
                    await asyncio.sleep(state.latency)
            keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
            writer.write(_render(status, extra, payload if method != "HEAD" else b"", keep_alive))
            if not keep_alive:
                return
            if writer.transport.get_write_buffer_size() > 65536:
                await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        return
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def serve(host: str, port: int, state: FakeS3State) -> None:
    server = await asyncio.start_server(
        lambda r, w: _serve_connection(state, r, w), host, port, backlog=1024, reuse_address=True
    )
    bound = server.sockets[0].getsockname()[1]
    print(f"LISTENING {bound}", flush=True)
    parent = os.getppid()
    async with server:
        serving = asyncio.ensure_future(server.serve_forever())
        while not serving.done():
            # Exit with the benchmark that started us, even when it was killed.
            if os.getppid() != parent:
                serving.cancel()
                break
            await asyncio.wait([serving], timeout=1.0)
        with contextlib.suppress(asyncio.CancelledError):
            await serving


def _event_loop_name() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument("--latency", type=float, default=0.020, help="seconds before each S3 answer")
    parser.add_argument("--slowdown", type=float, default=0.0, help="share of requests answered 503 SlowDown")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write-rate", type=float, default=0.0, help="writes/s per prefix; 0: no ceiling")
    parser.add_argument("--require-existing", action="store_true", help="404 NoSuchKey for unseeded objects")
    args = parser.parse_args(argv)
    state = FakeS3State(
        latency=args.latency,
        slowdown=args.slowdown,
        seed=args.seed,
        require_existing=args.require_existing,
        write_rate=args.write_rate,
    )
    coroutine = serve(args.host, args.port, state)
    if _event_loop_name() == "uvloop":
        import uvloop

        uvloop.run(coroutine)
    else:
        asyncio.run(coroutine)


class FakeS3Process:
    """Start the fake S3 server in a child process; ``endpoint_url`` and admin helpers while it runs."""

    def __init__(self, *, latency: float = 0.020, slowdown: float = 0.0, seed: int = 1) -> None:
        self.latency = latency
        self.slowdown = slowdown
        self.seed = seed
        self.port = 0
        self._process: subprocess.Popen[str] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeS3Process:
        command = [sys.executable, "-m", "benchmarks.fake_s3", "--latency", str(self.latency),
                   "--slowdown", str(self.slowdown), "--seed", str(self.seed)]  # fmt: skip
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=root)
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line.startswith("LISTENING "):
            self.__exit__(None, None, None)
            raise RuntimeError(f"The fake S3 server did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def admin(self, method: str, name: str, **params: Any) -> dict[str, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, f"/_admin/{name}?{urlencode(params)}")
            response = connection.getresponse()
            payload = response.read()
            if response.status != 200:
                raise RuntimeError(f"admin {name} answered {response.status}: {payload[:200]!r}")
            result: dict[str, Any] = json.loads(payload)
            return result
        finally:
            connection.close()

    def stats(self) -> dict[str, Any]:
        return self.admin("GET", "stats")

    def configure(self, **params: Any) -> dict[str, Any]:
        return self.admin("POST", "config", **params)

    def reset(self) -> None:
        self.admin("POST", "reset")

    def seed_objects(self, bucket: str, prefix: str, count: int, tags: dict[str, str]) -> None:
        self.admin("POST", "seed", bucket=bucket, prefix=prefix, count=count, tags=_tag_query(tags))

    def count(self, bucket: str, prefix: str, tags: dict[str, str]) -> int:
        return int(self.admin("GET", "count", bucket=bucket, prefix=prefix, tags=_tag_query(tags))["count"])


def _tag_query(tags: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in tags.items())


# -- a raw load generator, to show the server is not the bottleneck ----------------------------------
_TAGGING_BODY = (
    f'<Tagging xmlns="{S3_NS}"><TagSet><Tag><Key>team</Key><Value>data</Value></Tag></TagSet></Tagging>'
).encode()


def _raw_put(index: int) -> bytes:
    path = f"/load-bucket/{quote(f'load/{index}')}?tagging"
    head = (f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/xml\r\n"
            f"Content-Length: {len(_TAGGING_BODY)}\r\n\r\n")  # fmt: skip
    return head.encode() + _TAGGING_BODY


async def _load_connection(port: int, deadline: float, counter: list[int], start_index: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    index = start_index
    try:
        while time.monotonic() < deadline:
            writer.write(_raw_put(index))
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if length:
                await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"load request failed: {head[:60]!r}")
            counter[0] += 1
            index += 1
    finally:
        writer.close()


async def _load(port: int, connections: int, seconds: float) -> int:
    counter = [0]
    deadline = time.monotonic() + seconds
    await asyncio.gather(
        *(_load_connection(port, deadline, counter, i * 10_000_000) for i in range(connections))
    )
    return counter[0]


def load_test(server: FakeS3Process, *, connections: int, seconds: float) -> dict[str, float]:
    """Hammer ``server`` with unsigned raw PUT ?tagging requests; return its rate and its CPU per request."""
    before = server.stats()
    started = time.perf_counter()
    run = uvloop_run if _event_loop_name() == "uvloop" else asyncio.run
    done = run(_load(server.port, connections, seconds))
    elapsed = time.perf_counter() - started
    after = server.stats()
    server_cpu = after["cpu_seconds"] - before["cpu_seconds"]
    return {
        "connections": connections,
        "requests": done,
        "requests_per_second": done / elapsed,
        "server_cpu_us_per_request": server_cpu / done * 1e6 if done else float("nan"),
    }


def uvloop_run(coroutine: Any) -> Any:
    import uvloop

    return uvloop.run(coroutine)


if __name__ == "__main__":
    main()
