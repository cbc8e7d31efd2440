"""WSGI middleware that makes moto's S3 answer two tagging requests as S3 does.

moto 5.2 crashes (500) on ``DeleteObjectTagging`` of a missing key or version, and on a
``PutObjectTagging`` with an empty ``TagSet``. S3 answers the first with ``NoSuchKey`` /
``NoSuchVersion`` and treats the second as removing every tag. This layer asks moto's own
``GetObjectTagging`` first (which answers those errors correctly), and turns an empty put into a
delete whose answer is reported as the put's ``200``.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_DROPPED_ON_PROBE = (
    "CONTENT_TYPE",
    "HTTP_CONTENT_MD5",
    "HTTP_X_AMZ_CHECKSUM_CRC32",
    "HTTP_X_AMZ_SDK_CHECKSUM_ALGORITHM",
)


def _is_tagging(environ: dict[str, Any]) -> bool:
    query = environ.get("QUERY_STRING", "")
    return any(part.split("=", 1)[0] == "tagging" for part in query.split("&"))


def _is_empty_tag_set(body: bytes) -> bool:
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return False
    return not any(element.tag.rsplit("}", 1)[-1] == "Tag" for element in root.iter())


class MotoCompatMiddleware:
    """Fix moto's answers to DeleteObjectTagging on missing objects and to empty-TagSet puts."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if method not in ("DELETE", "PUT") or not _is_tagging(environ):
            return self.app(environ, start_response)
        path = environ.get("PATH_INFO", "").lstrip("/")
        if "/" not in path:  # bucket tagging, not object tagging
            return self.app(environ, start_response)
        if method == "PUT":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length > 0 else b""
            environ["wsgi.input"] = io.BytesIO(body)
            if not _is_empty_tag_set(body):
                return self.app(environ, start_response)
        probe = self._probe(environ)
        if probe is not None:
            status, headers, chunks = probe
            start_response(status, headers)
            return chunks
        if method == "DELETE":
            return self.app(environ, start_response)
        return self._delete_for_empty_put(environ, start_response)

    def _probe(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], list[bytes]] | None:
        """Ask moto for the object's tags; return its error answer, or None when the object exists."""
        probe_environ = {name: value for name, value in environ.items() if name not in _DROPPED_ON_PROBE}
        probe_environ.update(REQUEST_METHOD="GET", CONTENT_LENGTH="0", **{"wsgi.input": io.BytesIO(b"")})
        answer: dict[str, Any] = {}

        def capture(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            answer["status"], answer["headers"] = status, headers
            return lambda data: None

        chunks = list(self.app(probe_environ, capture))
        if answer["status"].startswith("2"):
            return None
        return answer["status"], answer["headers"], chunks

    def _delete_for_empty_put(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        delete_environ = {name: value for name, value in environ.items() if name not in _DROPPED_ON_PROBE}
        delete_environ.update(REQUEST_METHOD="DELETE", CONTENT_LENGTH="0", **{"wsgi.input": io.BytesIO(b"")})

        def as_put(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if status.startswith("204"):
                status = "200 OK"
                headers = [(name, value) for name, value in headers if name.lower() != "content-length"]
                headers.append(("Content-Length", "0"))
            return start_response(status, headers, exc_info)

        return self.app(delete_environ, as_put)
