"""What a transport does (``Transport``) and how it fails (``TransportError``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from airflow_s3_batch_tagging.s3_errors import code_is_retryable, code_is_throttling

if TYPE_CHECKING:
    from airflow_s3_batch_tagging.objects import ObjectRef
    from airflow_s3_batch_tagging.tags import TagSet


class TransportError(Exception):
    """One attempt failed: S3's error code (or a connection error's name), why, and the HTTP status.

    :param code: the error code as botocore names it (``SlowDown``, ``NoSuchKey``, ``"503"`` for a
        5xx without a body), or the connection error's name (``ReadTimeoutError``, ...).
    :param status: the HTTP status; 0 when no response came (connection errors, timeouts).
    :param retryable: whether another attempt may succeed; by default from the code and status,
        and always for an error without a response.
    """

    __slots__ = ("code", "retryable", "status", "throttled")

    def __init__(self, code: str, message: str, *, status: int = 0, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.throttled = code_is_throttling(code, status)
        self.retryable = (status == 0 or code_is_retryable(code, status)) if retryable is None else retryable

    @property
    def message(self) -> str:
        return str(self)


class Transport(Protocol):
    """One attempt of one object's tagging request; ``expected_bucket_owner`` sent when given."""

    name: str

    async def get_tagging(self, ref: ObjectRef, expected_bucket_owner: str | None) -> TagSet:
        """``GetObjectTagging``: the object's (version's) tag set."""
        ...

    async def put_tagging(self, ref: ObjectRef, tags: TagSet, expected_bucket_owner: str | None) -> None:
        """``PutObjectTagging``: replace the object's (version's) tag set with ``tags``."""
        ...

    async def delete_tagging(self, ref: ObjectRef, expected_bucket_owner: str | None) -> None:
        """``DeleteObjectTagging``: remove every tag of the object (version)."""
        ...
