"""Transports over botocore: an aiobotocore client on the event loop, or a boto3 client in threads.

Both give the engine one attempt per call: build the client with ``total_max_attempts=1`` (the hook
does), so retries and rate control stay the engine's. Should a client retry anyway, its own
retries are invisible to the engine's counts.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from airflow_s3_batch_tagging.s3_errors import CONNECTION_ERRORS, error_code, http_status
from airflow_s3_batch_tagging.tags import TagSet
from airflow_s3_batch_tagging.transports.base import TransportError

if TYPE_CHECKING:
    from airflow_s3_batch_tagging.objects import ObjectRef


def request_kwargs(ref: ObjectRef, expected_bucket_owner: str | None) -> dict[str, Any]:
    """``Bucket``, ``Key`` and, when set, ``VersionId`` and ``ExpectedBucketOwner``."""
    kwargs: dict[str, Any] = {"Bucket": ref.bucket, "Key": ref.key}
    if ref.version_id is not None:
        kwargs["VersionId"] = ref.version_id
    if expected_bucket_owner:
        kwargs["ExpectedBucketOwner"] = expected_bucket_owner
    return kwargs


def transport_error(err: Exception) -> TransportError:
    """A botocore ``ClientError`` or connection error as a ``TransportError``."""
    if isinstance(err, ClientError):
        # S3's own message, as the other transports give it (str(err) repeats the code and operation).
        message = (err.response.get("Error") or {}).get("Message") or str(err)
        return TransportError(error_code(err), str(message), status=http_status(err))
    return TransportError(type(err).__name__, str(err), retryable=True)


def tags_of(response: Any) -> TagSet:
    return TagSet._trusted({tag["Key"]: tag["Value"] for tag in response.get("TagSet") or ()})


class _Bodies:
    """The ``Tagging`` argument of the last tag set written, reused while objects share one."""

    __slots__ = ("body", "tags")

    def __init__(self) -> None:
        self.tags: TagSet | None = None
        self.body: dict[str, Any] = {}

    def __call__(self, tags: TagSet) -> dict[str, Any]:
        if tags is not self.tags:
            self.tags, self.body = tags, {"TagSet": tags.to_boto()}
        return self.body


class AiobotocoreTransport:
    """Requests through an entered aiobotocore S3 client, on the event loop that entered it."""

    name = "aiobotocore"

    def __init__(self, client: Any) -> None:
        self.client = client
        self._bodies = _Bodies()

    async def get_tagging(self, ref: ObjectRef, expected_bucket_owner: str | None) -> TagSet:
        try:
            response = await self.client.get_object_tagging(**request_kwargs(ref, expected_bucket_owner))
        except (ClientError, *CONNECTION_ERRORS) as err:
            raise transport_error(err) from None
        return tags_of(response)

    async def put_tagging(self, ref: ObjectRef, tags: TagSet, expected_bucket_owner: str | None) -> None:
        kwargs = request_kwargs(ref, expected_bucket_owner)
        kwargs["Tagging"] = self._bodies(tags)
        try:
            await self.client.put_object_tagging(**kwargs)
        except (ClientError, *CONNECTION_ERRORS) as err:
            raise transport_error(err) from None

    async def delete_tagging(self, ref: ObjectRef, expected_bucket_owner: str | None) -> None:
        try:
            await self.client.delete_object_tagging(**request_kwargs(ref, expected_bucket_owner))
        except (ClientError, *CONNECTION_ERRORS) as err:
            raise transport_error(err) from None


class Boto3ThreadsTransport:
    """Requests through one boto3 S3 client, each in a worker thread of a pool of ``threads``.

    Works with any boto3 client, including one under moto's in-process ``mock_aws``. The client's
    pool should allow ``threads`` connections. Close the transport (``close()`` or ``with``) to stop
    its threads.
    """

    name = "threads"

    def __init__(self, client: Any, *, threads: int) -> None:
        self.client = client
        self._bodies = _Bodies()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="s3-tagging")

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Boto3ThreadsTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def _call(self, method: Any, kwargs: dict[str, Any]) -> Any:
        def call() -> Any:
            try:
                return method(**kwargs)
            except (ClientError, *CONNECTION_ERRORS) as err:
                raise transport_error(err) from None

        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    async def get_tagging(self, ref: ObjectRef, expected_bucket_owner: str | None) -> TagSet:
        kwargs = request_kwargs(ref, expected_bucket_owner)
        return tags_of(await self._call(self.client.get_object_tagging, kwargs))

    async def put_tagging(self, ref: ObjectRef, tags: TagSet, expected_bucket_owner: str | None) -> None:
        kwargs = request_kwargs(ref, expected_bucket_owner)
        kwargs["Tagging"] = self._bodies(tags)
        await self._call(self.client.put_object_tagging, kwargs)

    async def delete_tagging(self, ref: ObjectRef, expected_bucket_owner: str | None) -> None:
        await self._call(self.client.delete_object_tagging, request_kwargs(ref, expected_bucket_owner))
