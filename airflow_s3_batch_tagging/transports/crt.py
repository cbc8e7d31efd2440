"""A transport over AWS's Common Runtime (``awscrt``): SigV4 signing and HTTP in native code.

Requests go through ``awscrt.s3.S3Client.make_request`` (``S3RequestType.DEFAULT``) with CRT's
retries off: retries and rate control are the engine's. Everything botocore decides for the other
transports is still botocore's here, taken from a botocore S3 client built like theirs:

- the endpoint: botocore's endpoint rules, resolved once per bucket (``endpoint_url``, region,
  path or virtual addressing, FIPS, dual-stack), with the signing region they name;
- the credentials: the client's own (static keys, session tokens, assume-role); refreshable ones are
  bridged through a delegate provider that asks them on every signing, so they refresh;
- TLS verification (``verify``), the connect and read timeouts.

Keys are percent-encoded as S3 expects in a path (everything but ``A-Z a-z 0-9 - _ . ~ /``). The
``Tagging`` XML body, its ``Content-MD5`` and the header lines are computed once per distinct tag set
and bucket, not per object.

S3's XML errors become the codes botocore gives (``NoSuchKey``, ``SlowDown``, or the HTTP status
when the answer has no body); CRT itself reads any 503 as ``SlowDown`` and any 500 as
``InternalError`` (without the body). No answer (reset, timeout) is a retryable error named after
CRT's (``AWS_IO_SOCKET_CLOSED``, ...).

The Python work per request is what limits one task (CRT signs and sends in its own threads, but
every request passes through the task's one Python thread and every answer through the GIL), so
the request path keeps it small: answers reach the event loop in batches (one wake-up for all the
answers that arrived meanwhile), static credentials are handed to CRT once (refreshable ones through
a delegate CRT asks when signing), and a body shared by many objects is read by CRT from a file
rather than through a Python stream. On the awscrt releases it was checked against, a request
is made without the per-request ``Future`` and ``Event`` of awscrt's ``S3Request`` (``_lean_requests``).

Not carried over: proxies (CRT's S3 client connects directly; ``crt_problem`` says so, so that the
``auto`` engine uses another transport, and a named ``crt`` engine warns) and S3 Express / SigV4a
endpoints (an error says so).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import io
import logging
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit
from xml.sax.saxutils import escape

from airflow_s3_batch_tagging.tags import TagSet
from airflow_s3_batch_tagging.transports.base import TransportError

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_s3_batch_tagging.objects import ObjectRef

log = logging.getLogger(__name__)

DEFAULT_THROUGHPUT_TARGET_GBPS = 100.0
"""CRT sizes its connection pool from a throughput target; tagging requests are tiny, so the target
is set high and ``max_active_connections_override`` caps the pool at the engine's concurrency."""

FILE_BODY_AFTER = 16
"""Requests with the same body after which CRT reads it from a file instead of a Python stream."""

_S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
_UNRESERVED_IN_PATH = "/~"  # with quote's own letters, digits and "-_.": S3's path encoding
_NEEDS_NO_QUOTING = re.compile(r"[A-Za-z0-9/~_.\-]*").fullmatch


MIN_AWSCRT = (0, 38)
"""The first awscrt release with what this transport needs: ``S3RetryConfig`` (CRT's own retries off,
so that the engine sees every throttled answer) and ``connect_timeout_ms``."""


def awscrt_problem() -> str | None:
    """Why the installed awscrt cannot serve this transport, or None when it can."""
    try:
        import awscrt
        import awscrt.s3
    except ImportError:
        return "AWS's Common Runtime (awscrt) is not installed"
    if not hasattr(awscrt.s3, "S3RetryConfig"):
        needed = ".".join(str(part) for part in MIN_AWSCRT)
        return f"awscrt {awscrt.__version__} is installed and the crt engine needs {needed} or later"
    return None


def connection_proxy(botocore_client: Any) -> str | None:
    """The URL scheme of the proxy botocore sends ``botocore_client``'s requests through, or None.

    botocore picks the proxy by the endpoint's scheme, from its config's ``proxies``, else from the
    environment (``HTTPS_PROXY``, ... with ``NO_PROXY`` applied to the endpoint): this asks the
    client's own HTTP session for its verdict. A proxy that is the endpoint itself (as the local
    stand-in sets, to route S3 Control's account-prefixed hosts) sends requests where a direct
    connection goes, so it counts as none. Only the scheme is returned: proxy URLs may hold passwords.
    """
    endpoint = urlsplit(botocore_client.meta.endpoint_url)
    proxy_config = getattr(botocore_client._endpoint.http_session, "_proxy_config", None)
    proxy = proxy_config.proxy_url_for(endpoint.geturl()) if proxy_config is not None else None
    if not proxy:
        return None
    target = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if (target.hostname, target.port) == (endpoint.hostname, endpoint.port):
        return None
    return endpoint.scheme


def crt_problem(botocore_client: Any) -> str | None:
    """Why this transport cannot send ``botocore_client``'s requests as botocore would, or None."""
    problem = awscrt_problem()
    if problem is not None:
        return problem
    if botocore_client._get_credentials() is None:
        return "the connection gives no credentials (anonymous access) and CRT signs every request"
    scheme = connection_proxy(botocore_client)
    if scheme is not None:
        return f"the connection goes through a proxy ({scheme}) and CRT's S3 client connects directly"
    return None


_CRT_ANSWERS = {
    # CRT keeps neither the status nor the body of these answers, only what they mean.
    "AWS_ERROR_S3_SLOW_DOWN": ("SlowDown", 503),
    "AWS_ERROR_S3_INTERNAL_ERROR": ("InternalError", 500),
}


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def tagging_xml(tags: TagSet) -> bytes:
    """The ``PutObjectTagging`` request body for ``tags``."""
    items = "".join(
        f"<Tag><Key>{escape(key)}</Key><Value>{escape(value)}</Value></Tag>" for key, value in tags.items()
    )
    return f'<Tagging xmlns="{_S3_NAMESPACE}"><TagSet>{items}</TagSet></Tagging>'.encode()


def parse_tagging(body: bytes) -> TagSet:
    """The tag set of a ``GetObjectTagging`` answer."""
    tags: dict[str, str] = {}
    for element in ET.fromstring(body).iter():
        if _local(element.tag) == "Tag":
            fields = {_local(child.tag): child.text or "" for child in element}
            tags[fields.get("Key", "")] = fields.get("Value", "")
    return TagSet._trusted(tags)


def parse_error(status: int, body: bytes | None) -> tuple[str, str]:
    """``(code, message)`` of an S3 error answer, as botocore reads it (the status when no body)."""
    if body:
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            return str(status), body[:300].decode("utf-8", "replace")
        fields = {_local(child.tag): child.text or "" for child in root}
        if fields.get("Code"):
            return fields["Code"], fields.get("Message", "")
    return str(status), f"HTTP {status}"


def object_path(prefix: str, ref: ObjectRef) -> str:
    """The request path and query of ``ref``'s ``?tagging`` subresource below an endpoint path."""
    key = ref.key if _NEEDS_NO_QUOTING(ref.key) else quote(ref.key, safe=_UNRESERVED_IN_PATH)
    path = f"{prefix.rstrip('/')}/{key}?tagging"
    if ref.version_id is not None:
        path += f"&versionId={quote(ref.version_id, safe='~')}"
    return path


@dataclass(frozen=True, slots=True)
class _Endpoint:
    tls: bool
    host: str
    path: str
    signing_config: Any
    headers: dict[tuple[str, str | None], list[tuple[str, str]]] = field(default_factory=dict)
    """The header lines of a bodiless request to this endpoint by (method, expected owner), built once."""


class _Body:
    __slots__ = ("content", "file", "headers", "md5", "sent_to", "tags", "uses")

    def __init__(self, tags: TagSet) -> None:
        self.tags = tags
        self.content = tagging_xml(tags)
        self.md5 = base64.b64encode(hashlib.md5(self.content).digest()).decode()
        self.headers = [("Content-Length", str(len(self.content))), ("Content-MD5", self.md5)]
        self.sent_to: dict[tuple[str, str | None], list[tuple[str, str]]] = {}
        """The header lines of a request with this body by (host, expected owner), built once."""
        self.uses = 0
        self.file: str | None = None
        """A file holding ``content`` once the body is shared by many objects: CRT reads it natively."""


class _Answers:
    """Answers from CRT's threads handed to the event loop in batches: one loop wake-up per batch.

    ``put`` runs on CRT's threads; the loop settles every answer queued so far in one callback, so
    at thousands of answers per second most of them need no wake-up of their own (each one costs a
    write to the loop's self-pipe, a read, and a loop iteration).
    """

    __slots__ = ("_loop", "_queued", "_scheduled")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queued: deque[tuple[asyncio.Future[Any], Any]] = deque()
        self._scheduled = False

    def put(self, future: asyncio.Future[Any], outcome: Any) -> None:
        """Queue ``outcome`` for ``future`` (any thread); wake the loop unless a wake-up is pending."""
        self._queued.append((future, outcome))
        if not self._scheduled:
            self._scheduled = True
            # A closed loop (RuntimeError) has nobody awaiting the answer any more.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._settle)

    def _settle(self) -> None:
        # Cleared before draining: an answer queued after this line schedules the next wake-up, and
        # one queued before it is drained below (deque appends and pops are atomic).
        self._scheduled = False
        queued = self._queued
        while queued:
            future, outcome = queued.popleft()
            if not future.done():
                future.set_result(outcome)


class _Pending(dict[int, list[Any]]):
    """Requests in flight by id: ``[deadline, S3Request, timed out]``."""

    def add(self, key: int, entry: list[Any]) -> None:
        self[key] = entry

    def discard(self, key: int) -> None:
        self.pop(key, None)

    def overdue(self, now: float) -> list[list[Any]]:
        return [entry for entry in self.values() if entry[0] <= now and not entry[2]]


LEAN_REQUESTS_AWSCRT = ((0, 38),)
"""awscrt releases (major, minor) whose private request binding ``_lean_requests`` was checked against."""


def _lean_requests() -> Callable[..., Any] | None:
    """A cheaper ``S3Client.make_request`` for awscrt releases in ``LEAN_REQUESTS_AWSCRT``, else None.

    awscrt's ``S3Request`` makes a ``concurrent.futures.Future`` and a ``threading.Event`` per request
    (two locks and three conditions) and sets both from CRT's threads when it ends; with the answer's
    keyword-argument callback on top, that was about a fifth of the task's Python time per request
    (py-spy, BENCHMARKS.md's setting). This makes the same native call with none of them: the answer
    goes straight from CRT's thread to ``answer(error_code, status, error_body)``. It binds to awscrt
    internals (the native call's arguments, ``_S3RequestCore``), so it is used only on the releases it
    was checked against; on any other, or if the native call refuses the arguments, the public API is.
    """
    import _awscrt
    import awscrt
    from awscrt import NativeResource
    from awscrt.s3 import S3Request, S3RequestType, _S3RequestCore

    try:
        release = tuple(int(part) for part in awscrt.__version__.split(".")[:2])
    except ValueError:
        return None
    if release not in LEAN_REQUESTS_AWSCRT:
        return None

    class _Core(_S3RequestCore):
        """What CRT's native request calls back; keeps the request's Python objects alive meanwhile."""

        def __init__(self, request: Any, signing_config: Any, on_body: Any, answer: Any) -> None:
            self._python_callback_exception = None
            self._request = request
            self._signing_config = signing_config
            self._credential_provider = None
            self._on_headers_cb = None
            self._on_body_cb = on_body
            self._on_done_cb = None
            self._on_progress_cb = None
            self._answer = answer

        def _on_shutdown(self) -> None:
            pass

        def _on_finish(
            self, error_code: int, status_code: int, error_headers: Any, error_body: Any, *_: Any
        ) -> None:
            if error_code and self._python_callback_exception is not None:
                self._answer(self._python_callback_exception, status_code, error_body)
            else:
                self._answer(error_code, status_code, error_body)

    def make_request(
        client: Any,
        request: Any,
        operation: str,
        signing_config: Any,
        send_filepath: str | None,
        on_body: Any,
        answer: Callable[[Any, int, bytes | None], None],
    ) -> Any:
        s3_request = S3Request.__new__(S3Request)
        NativeResource.__init__(s3_request)
        s3_request._binding = _awscrt.s3_client_make_meta_request(
            s3_request, client, request, S3RequestType.DEFAULT, operation, signing_config,
            None, None, send_filepath, client._region,
            0, 0, False, None, 0, 0, 0, 0, False, False, 0.0, False, 0,
            _Core(request, signing_config, on_body, answer),
        )  # fmt: skip
        return s3_request

    return make_request


def _credentials_provider(credentials: Any) -> Any:
    """A CRT credentials provider giving botocore's ``credentials``.

    Static keys become a static provider (CRT signs without calling back into Python). Refreshable
    ones (assume-role, SSO, instance metadata, ...) go through a delegate CRT asks on every signing,
    so botocore refreshes them when due; the CRT credentials object is rebuilt only when they change.
    """
    from awscrt.auth import AwsCredentials, AwsCredentialsProvider
    from botocore.credentials import RefreshableCredentials

    if not isinstance(credentials, RefreshableCredentials):
        now = credentials.get_frozen_credentials()
        return AwsCredentialsProvider.new_static(now.access_key, now.secret_key, now.token)

    last: list[Any] = [None, None]  # [botocore's frozen credentials, the CRT credentials made of them]

    def frozen() -> AwsCredentials:
        now = credentials.get_frozen_credentials()
        if now != last[0]:
            last[1] = AwsCredentials(now.access_key, now.secret_key, now.token)
            last[0] = now
        return last[1]

    return AwsCredentialsProvider.new_delegate(frozen)


class CrtTransport:
    """Requests through AWS CRT's S3 client, with endpoint, credentials and TLS from ``botocore_client``.

    Create and use it on one event loop; ``await transport.aclose()`` when done.

    :param botocore_client: a botocore S3 client configured as for the other transports; only its
        endpoint rules, credentials and configuration are used, it sends nothing.
    :param max_connections: connections at most (the engine's concurrency).
    :param user_agent: the ``User-Agent`` header.
    :param throughput_target_gbps: CRT's throughput target (see ``DEFAULT_THROUGHPUT_TARGET_GBPS``).
    """

    name = "crt"

    def __init__(
        self,
        botocore_client: Any,
        *,
        max_connections: int,
        user_agent: str | None = None,
        throughput_target_gbps: float = DEFAULT_THROUGHPUT_TARGET_GBPS,
    ) -> None:
        problem = awscrt_problem()
        if problem is not None:
            needed = ".".join(str(part) for part in MIN_AWSCRT)
            raise RuntimeError(
                f"The crt engine cannot run: {problem}. Install awscrt>={needed} (a dependency of this "
                "package), or use engine='aiobotocore'."
            )
        from awscrt import __version__ as awscrt_version
        from awscrt.exceptions import from_code
        from awscrt.http import HttpHeaders, HttpRequest
        from awscrt.s3 import S3RequestType

        credentials = botocore_client._get_credentials()
        if credentials is None:
            raise ValueError(
                "The crt engine needs AWS credentials to sign requests, and the connection gives none "
                "(anonymous access): use engine='aiobotocore'."
            )

        self._botocore = botocore_client
        self._provider = _credentials_provider(credentials)
        # Looked up once: the request path runs thousands of times a second.
        self._headers_type = HttpHeaders
        self._request_type = HttpRequest
        self._default_type = S3RequestType.DEFAULT
        self._error_from_code = from_code
        self._lean = _lean_requests()
        self._max_connections = max_connections
        self._throughput = throughput_target_gbps
        self._user_agent = user_agent or f"airflow-s3-batch-tagging crt/{awscrt_version}"
        config = botocore_client.meta.config
        self._read_timeout = float(config.read_timeout or 60)
        self._connect_timeout_ms = int(float(config.connect_timeout or 60) * 1000)
        scheme = connection_proxy(botocore_client)
        if scheme is not None:
            log.warning(
                "The crt engine connects to S3 directly: the connection's %s proxy is not used.", scheme
            )
        self._operation_model = botocore_client.meta.service_model.operation_model("PutObjectTagging")
        self._endpoints: dict[str, _Endpoint] = {}
        self._signing_configs: dict[str, Any] = {}
        self._clients: dict[bool, Any] = {}
        self._body: _Body | None = None
        self._files: tempfile.TemporaryDirectory[str] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._answers: _Answers | None = None
        self._pending = _Pending()
        self._sweeper: asyncio.TimerHandle | None = None

    # -- setup ------------------------------------------------------------------------------------

    def _endpoint(self, bucket: str) -> _Endpoint:
        endpoint = self._endpoints.get(bucket)
        if endpoint is None:
            endpoint = self._endpoints[bucket] = self._resolve(bucket)
        return endpoint

    def _resolve(self, bucket: str) -> _Endpoint:
        """botocore's endpoint for ``bucket`` (its rules, its region and addressing settings)."""
        info = self._botocore._ruleset_resolver.construct_endpoint(
            operation_model=self._operation_model, call_args={"Bucket": bucket}, request_context={}
        )
        schemes = info.properties.get("authSchemes") or [{"name": "sigv4"}]
        sigv4 = next((scheme for scheme in schemes if scheme.get("name") == "sigv4"), None)
        if sigv4 is None:
            names = ", ".join(str(scheme.get("name")) for scheme in schemes)
            raise ValueError(
                f"The crt engine signs with SigV4, but bucket {bucket!r} needs {names}: use "
                "engine='aiobotocore' for it."
            )
        region = sigv4.get("signingRegion") or self._botocore.meta.region_name
        url = urlsplit(info.url)
        return _Endpoint(
            tls=url.scheme == "https",
            host=url.netloc,
            path=url.path,
            signing_config=self._signing_config(region, tls=url.scheme == "https"),
        )

    def _signing_config(self, region: str, *, tls: bool) -> Any:
        key = f"{region}/{tls}"
        config = self._signing_configs.get(key)
        if config is None:
            from awscrt.auth import AwsSignedBodyValue
            from awscrt.s3 import create_default_s3_signing_config

            config = create_default_s3_signing_config(region=region, credential_provider=self._provider)
            if not tls:
                # Without TLS, sign the payload itself (as botocore does) rather than UNSIGNED-PAYLOAD.
                config = config.replace(signed_body_value=None)
            elif config.signed_body_value != AwsSignedBodyValue.UNSIGNED_PAYLOAD:
                config = config.replace(signed_body_value=AwsSignedBodyValue.UNSIGNED_PAYLOAD)
            self._signing_configs[key] = config
        return config

    def _client(self, tls: bool) -> Any:
        client = self._clients.get(tls)
        if client is None:
            from awscrt.io import (
                ClientBootstrap,
                ClientTlsContext,
                DefaultHostResolver,
                EventLoopGroup,
                TlsContextOptions,
            )
            from awscrt.s3 import S3Client, S3RequestTlsMode, S3RetryConfig, S3RetryMode

            group = EventLoopGroup()
            bootstrap = ClientBootstrap(group, DefaultHostResolver(group))
            tls_options = None
            if tls:
                verify = getattr(self._botocore._endpoint.http_session, "_verify", True)
                options = TlsContextOptions()
                if verify is False:
                    options.verify_peer = False
                elif isinstance(verify, str):
                    options.override_default_trust_store_from_path(ca_filepath=verify)
                tls_options = ClientTlsContext(options).new_connection_options()
            client = self._clients[tls] = S3Client(
                bootstrap=bootstrap,
                region=self._botocore.meta.region_name or "us-east-1",
                tls_mode=S3RequestTlsMode.ENABLED if tls else S3RequestTlsMode.DISABLED,
                tls_connection_options=tls_options,
                signing_config=self._signing_config(self._botocore.meta.region_name or "us-east-1", tls=tls),
                throughput_target_gbps=self._throughput,
                max_active_connections_override=self._max_connections,
                retry_config=S3RetryConfig(retry_mode=S3RetryMode.NONE),
                connect_timeout_ms=self._connect_timeout_ms,
            )
        return client

    def _body_for(self, tags: TagSet) -> _Body:
        body = self._body
        if body is None or body.tags is not tags:
            body = self._body = _Body(tags)
        body.uses += 1
        if body.uses == FILE_BODY_AFTER:
            # From here on CRT reads the body from a file in native code, where a Python stream
            # would cost calls into Python (under the GIL) from CRT's threads for every request.
            if self._files is None:
                self._files = tempfile.TemporaryDirectory(prefix="s3-tagging-crt-")
            fd, path = tempfile.mkstemp(dir=self._files.name, suffix=".xml")
            with os.fdopen(fd, "wb") as file:
                file.write(body.content)
            body.file = path
        return body

    def _header_lines(
        self, endpoint: _Endpoint, method: str, body: _Body | None, expected_bucket_owner: str | None
    ) -> list[tuple[str, str]]:
        """The headers of a request before signing (the same for every object of a bucket and body)."""
        lines = [("Host", endpoint.host), ("User-Agent", self._user_agent)]
        if body is not None:
            lines += body.headers
        elif method != "GET":
            lines.append(("Content-Length", "0"))
        if expected_bucket_owner:
            lines.append(("x-amz-expected-bucket-owner", expected_bucket_owner))
        return lines

    def _sweep_soon(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._sweeper is None:
            self._sweeper = loop.call_later(min(1.0, self._read_timeout), self._sweep, loop)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        """Cancel the requests that have waited longer than ``read_timeout``."""
        self._sweeper = None
        now = loop.time()
        for pending in self._pending.overdue(now):
            pending[2] = True
            pending[1].cancel()
        if self._pending:
            self._sweep_soon(loop)

    async def aclose(self) -> None:
        """Release CRT's clients and wait (briefly) for their threads to stop."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        events = [client.shutdown_event for client in self._clients.values()]
        self._clients.clear()
        for event in events:
            await asyncio.to_thread(event.wait, 5)
        if self._files is not None:
            self._files.cleanup()
            self._files = None
            self._body = None

    async def __aenter__(self) -> CrtTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- requests ---------------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        operation: str,
        ref: ObjectRef,
        expected_bucket_owner: str | None,
        body: _Body | None = None,
    ) -> bytes:
        endpoint = self._endpoints.get(ref.bucket) or self._endpoint(ref.bucket)
        built = endpoint.headers if body is None else body.sent_to
        key = (method if body is None else endpoint.host, expected_bucket_owner)
        header_lines = built.get(key)
        if header_lines is None:
            header_lines = built[key] = self._header_lines(endpoint, method, body, expected_bucket_owner)
        body_file = None
        stream = None
        if body is not None:
            body_file = body.file
            if body_file is None:
                stream = io.BytesIO(body.content)
        request = self._request_type(
            method, object_path(endpoint.path, ref), self._headers_type(header_lines), stream
        )

        loop = self._loop
        answers = self._answers
        if loop is None or answers is None:
            loop = self._loop = asyncio.get_running_loop()
            answers = self._answers = _Answers(loop)
        future: asyncio.Future[Any] = loop.create_future()
        chunks: list[bytes] = []
        put = answers.put

        def on_body(chunk: bytes, **_: Any) -> None:
            chunks.append(bytes(chunk))

        def answer(error: Any, status_code: int | None, error_body: bytes | None) -> None:
            put(future, (error, error_body, status_code))

        client = self._client(endpoint.tls)
        s3_request = None
        if self._lean is not None:
            try:
                s3_request = self._lean(
                    client, request, operation, endpoint.signing_config, body_file,
                    on_body if method == "GET" else None, answer,
                )  # fmt: skip
            except TypeError as err:  # the native call's arguments changed: the public API from now on
                log.debug("awscrt refused the lean request (%s); using S3Client.make_request.", err)
                self._lean = None
        if s3_request is None:

            def on_done(
                error: BaseException | None = None,
                error_body: bytes | None = None,
                status_code: int | None = None,
                **_: Any,
            ) -> None:
                answer(error, status_code, error_body)

            s3_request = client.make_request(
                type=self._default_type,
                request=request,
                operation_name=operation,
                signing_config=endpoint.signing_config,
                send_filepath=body_file,
                on_body=on_body if method == "GET" else None,
                on_done=on_done,
            )
        # [deadline, request, timed out]: one sweep a second cancels overdue requests (a timer per
        # request would cost more than the request's own Python work).
        pending = [loop.time() + self._read_timeout, s3_request, False]
        self._pending.add(id(pending), pending)
        self._sweep_soon(loop)
        try:
            error, error_body, status = await future
        except BaseException:
            s3_request.cancel()
            raise
        finally:
            self._pending.discard(id(pending))
        timed_out = pending[2]
        if not error:  # None (public API) or 0 (the lean request's error code)
            return b"".join(chunks)
        if isinstance(error, int):
            error = self._error_from_code(error)
        if timed_out:
            raise TransportError(
                "ReadTimeoutError",
                f"No answer within {self._read_timeout:g} s (read_timeout).",
                retryable=True,
            )
        if status and (status >= 300 or error_body):
            code, message = parse_error(status, error_body)
            raise TransportError(code, message, status=status)
        name = str(getattr(error, "name", type(error).__name__))
        if name in _CRT_ANSWERS:
            code, status = _CRT_ANSWERS[name]
            raise TransportError(code, str(getattr(error, "message", name)), status=status)
        if name.startswith("AWS_AUTH") or "CREDENTIALS" in name:
            # Not an object's failure: the run cannot sign at all (as botocore's NoCredentialsError).
            raise RuntimeError(f"The crt engine could not sign the request: {name}: {error}")
        raise TransportError(name, str(getattr(error, "message", error)) or name, retryable=True)

    async def get_tagging(self, ref: ObjectRef, expected_bucket_owner: str | None) -> TagSet:
        return parse_tagging(await self._send("GET", "GetObjectTagging", ref, expected_bucket_owner))

    async def put_tagging(self, ref: ObjectRef, tags: TagSet, expected_bucket_owner: str | None) -> None:
        body = self._body_for(tags)
        await self._send("PUT", "PutObjectTagging", ref, expected_bucket_owner, body)

    async def delete_tagging(self, ref: ObjectRef, expected_bucket_owner: str | None) -> None:
        await self._send("DELETE", "DeleteObjectTagging", ref, expected_bucket_owner)
