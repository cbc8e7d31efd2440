"""A transport over AWS's Common Runtime (``awscrt``): SigV4 signing and HTTP in native code.

Requests go through ``awscrt.s3.S3Client.make_request`` (``S3RequestType.DEFAULT``) with CRT's
retries off: retries and rate control are the engine's. Everything botocore decides for the other
transports is still botocore's here, taken from a botocore S3 client built like theirs:

- the endpoint: botocore's endpoint rules, resolved once per bucket (``endpoint_url``, region,
  path or virtual addressing, FIPS, dual-stack), with the signing region they name;
- the credentials: the client's own (static keys, session tokens, assume-role), bridged through a
  delegate provider that asks them on every signing, so refreshable credentials refresh;
- TLS verification (``verify``), the connect and read timeouts.

Keys are percent-encoded as S3 expects in a path (everything but ``A-Z a-z 0-9 - _ . ~ /``). The
``Tagging`` XML body and its ``Content-MD5`` are computed once per distinct tag set, not per object.
S3's XML errors become the codes botocore gives (``NoSuchKey``, ``SlowDown``, or the HTTP status
when the answer has no body); CRT itself reads any 503 as ``SlowDown`` and any 500 as
``InternalError`` (without the body). No answer (reset, timeout) is a retryable error named after
CRT's (``AWS_IO_SOCKET_CLOSED``, ...).

Not carried over: botocore ``proxies`` (CRT's S3 client connects directly; a warning says so) and
S3 Express / SigV4a endpoints (an error says so).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit
from xml.sax.saxutils import escape

from airflow_s3_batch_tagging.tags import TagSet
from airflow_s3_batch_tagging.transports.base import TransportError

if TYPE_CHECKING:
    from airflow_s3_batch_tagging.objects import ObjectRef

log = logging.getLogger(__name__)

DEFAULT_THROUGHPUT_TARGET_GBPS = 100.0
"""CRT sizes its connection pool from a throughput target; tagging requests are tiny, so the target
is set high and ``max_active_connections_override`` caps the pool at the engine's concurrency."""

_S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
_UNRESERVED_IN_PATH = "/~"  # with quote's own letters, digits and "-_.": S3's path encoding
_NEEDS_NO_QUOTING = re.compile(r"[A-Za-z0-9/~_.\-]*").fullmatch


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


class _Body:
    __slots__ = ("content", "md5", "tags")

    def __init__(self, tags: TagSet) -> None:
        self.tags = tags
        self.content = tagging_xml(tags)
        self.md5 = base64.b64encode(hashlib.md5(self.content).digest()).decode()


class _Pending(dict[int, list[Any]]):
    """Requests in flight by id: ``[deadline, S3Request, timed out]``."""

    def add(self, key: int, entry: list[Any]) -> None:
        self[key] = entry

    def discard(self, key: int) -> None:
        self.pop(key, None)

    def overdue(self, now: float) -> list[list[Any]]:
        return [entry for entry in self.values() if entry[0] <= now and not entry[2]]


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
        from awscrt import __version__ as awscrt_version
        from awscrt.auth import AwsCredentials, AwsCredentialsProvider

        credentials = botocore_client._get_credentials()
        if credentials is None:
            raise ValueError(
                "The crt engine needs AWS credentials to sign requests, and the connection gives none "
                "(anonymous access): use engine='aiobotocore'."
            )

        def frozen() -> AwsCredentials:
            # CRT asks on every signing; botocore's refreshable credentials refresh here when due.
            now = credentials.get_frozen_credentials()
            return AwsCredentials(now.access_key, now.secret_key, now.token)

        self._botocore = botocore_client
        self._provider = AwsCredentialsProvider.new_delegate(frozen)
        self._max_connections = max_connections
        self._throughput = throughput_target_gbps
        self._user_agent = user_agent or f"airflow-s3-batch-tagging crt/{awscrt_version}"
        config = botocore_client.meta.config
        self._read_timeout = float(config.read_timeout or 60)
        self._connect_timeout_ms = int(float(config.connect_timeout or 60) * 1000)
        if config.proxies:
            log.warning(
                "The crt engine connects to S3 directly: the connection's proxies %s are not used.",
                sorted(config.proxies),
            )
        self._operation_model = botocore_client.meta.service_model.operation_model("PutObjectTagging")
        self._endpoints: dict[str, _Endpoint] = {}
        self._signing_configs: dict[str, Any] = {}
        self._clients: dict[bool, Any] = {}
        self._body: _Body | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
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
        return body

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
        from awscrt.http import HttpHeaders, HttpRequest
        from awscrt.s3 import S3RequestType

        endpoint = self._endpoint(ref.bucket)
        headers = HttpHeaders([("Host", endpoint.host), ("User-Agent", self._user_agent)])
        stream = None
        if body is not None:
            headers.add("Content-Length", str(len(body.content)))
            headers.add("Content-MD5", body.md5)
            stream = io.BytesIO(body.content)
        elif method != "GET":
            headers.add("Content-Length", "0")
        if expected_bucket_owner:
            headers.add("x-amz-expected-bucket-owner", expected_bucket_owner)
        request = HttpRequest(method, object_path(endpoint.path, ref), headers, stream)

        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        chunks: list[bytes] = []

        def settle(outcome: Any) -> None:
            if not future.done():
                future.set_result(outcome)

        def on_body(chunk: bytes, **_: Any) -> None:
            chunks.append(bytes(chunk))

        def on_done(
            error: BaseException | None = None,
            error_body: bytes | None = None,
            status_code: int | None = None,
            **_: Any,
        ) -> None:
            loop.call_soon_threadsafe(settle, (error, error_body, status_code))

        s3_request = self._client(endpoint.tls).make_request(
            type=S3RequestType.DEFAULT,
            request=request,
            operation_name=operation,
            signing_config=endpoint.signing_config,
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
        if error is None:
            return b"".join(chunks)
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
