"""Hook for direct object tagging: one S3 client sized for many requests in flight, and the engine over it."""

from __future__ import annotations

import asyncio
import contextvars
import platform
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import asynccontextmanager, suppress
from functools import cached_property
from typing import TYPE_CHECKING, Any

import boto3
import botocore
from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from botocore.config import Config

from airflow_s3_batch_tagging import __version__
from airflow_s3_batch_tagging.direct import (
    DEFAULT_CONCURRENCY,
    AsyncTaggingEngine,
    TaggingEngine,
    TaggingItem,
    TaggingResult,
)
from airflow_s3_batch_tagging.hooks.bucket_owner import expect_bucket_owner

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Coroutine, Iterable, Mapping

    from airflow_s3_batch_tagging.objects import ObjectRef, S3Location
    from airflow_s3_batch_tagging.undo import UndoRecord

STATIC_USER_AGENT = (
    f"Boto3/{boto3.__version__} Botocore/{botocore.__version__} Python/{platform.python_version()} "
    f"airflow-s3-batch-tagging/{__version__}"
)
DEFAULT_MAX_ATTEMPTS = 10
DEFAULT_RETRY_MODE = "standard"
RETRY_MODES = ("standard", "adaptive", "legacy")
ENGINES = ("asyncio", "threads")
"""``asyncio``: coroutines over one aiobotocore client (the default: about a third less CPU per object,
BENCHMARKS.md); ``threads``: a thread pool over one boto3 client (works under moto's ``mock_aws``)."""
DEFAULT_ENGINE = "asyncio"


class S3ObjectTaggingHook(AwsBaseHook):
    """Interact with Amazon S3 object tags through one client shared by ``concurrency`` requests in flight.

    The client gets ``max_pool_connections`` of at least ``concurrency`` and botocore's retries
    (``retry_mode``, ``max_attempts``), merged over the connection's own botocore config. Tagging runs
    on the ``engine`` chosen: ``asyncio`` (an aiobotocore client with the same config, on an event
    loop of its own) or ``threads`` (the boto3 client ``conn``, shared by a thread pool).

    :param concurrency: requests in flight at most (coroutines or threads).
    :param max_attempts: attempts per request, the first included (botocore's ``total_max_attempts``).
    :param retry_mode: botocore's retry mode: ``standard`` or ``adaptive`` (client-side rate limiting).
    :param expected_bucket_owner: account id sent as ``ExpectedBucketOwner`` on every S3 request of the
        client that accepts it (tags, manifest reads, listings, undo log writes and reads).
    :param engine: ``asyncio`` (default) or ``threads``, see ``ENGINES``.

    Additional arguments (such as ``aws_conn_id``) may be specified and are passed down to the
    underlying AwsBaseHook.

    .. seealso::
        - :class:`airflow.providers.amazon.aws.hooks.base_aws.AwsBaseHook`
    """

    def __init__(
        self,
        *args: Any,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        retry_mode: str = DEFAULT_RETRY_MODE,
        expected_bucket_owner: str | None = None,
        engine: str = DEFAULT_ENGINE,
        **kwargs: Any,
    ) -> None:
        kwargs["client_type"] = "s3"
        super().__init__(*args, **kwargs)
        self.concurrency = concurrency
        self.max_attempts = max_attempts
        self.retry_mode = retry_mode
        self.expected_bucket_owner = expected_bucket_owner
        self.engine = engine

    def tagging_config(self) -> Config:
        """The botocore config of the shared client: the connection's, plus pool size and retries."""
        if not isinstance(self.concurrency, int) or self.concurrency < 1:
            raise ValueError(f"Invalid concurrency {self.concurrency!r}: it must be a positive integer.")
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError(f"Invalid max_attempts {self.max_attempts!r}: it must be a positive integer.")
        if self.engine not in ENGINES:
            raise ValueError(f"Invalid engine {self.engine!r}: choose one of {', '.join(ENGINES)}.")
        if self.retry_mode not in RETRY_MODES:
            raise ValueError(
                f"Invalid retry_mode {self.retry_mode!r}: choose one of {', '.join(RETRY_MODES)}."
            )
        base = self.config
        supplied: dict[str, Any] = getattr(base, "_user_provided_options", {})
        # The undo log writer and reads of batch references use the client too.
        pool = max(self.concurrency + 2, supplied.get("max_pool_connections") or 0)
        retries: Any = {"mode": self.retry_mode, "total_max_attempts": self.max_attempts}
        settings: dict[str, Any] = {"max_pool_connections": pool, "retries": retries}
        # CPU per request is what limits one process; unless the connection says otherwise, skip
        # what costs CPU on every call and adds nothing here: botocore's parameter validation (the
        # core has validated buckets, keys, version ids and tags) and the per-request build of the
        # structured User-Agent (a static one; Airflow's user_agent_extra is still appended).
        if "parameter_validation" not in supplied:
            settings["parameter_validation"] = False
        if "user_agent" not in supplied:
            settings["user_agent"] = STATIC_USER_AGENT
        return base.merge(Config(**settings))

    @cached_property
    def conn(self) -> Any:
        """One boto3 S3 client, safe to share between threads (cached)."""
        client: Any = self.get_client_type(region_name=self.region_name, config=self.tagging_config())
        expect_bucket_owner(client, self.expected_bucket_owner)
        return client

    @asynccontextmanager
    async def async_tagging_client(self) -> AsyncIterator[Any]:
        """A new aiobotocore S3 client with the same config (and ``ExpectedBucketOwner``) as ``conn``.

        Use it as ``async with hook.async_tagging_client() as client``; it belongs to the event loop
        it is entered on, so each ``asyncio`` run of ``tag_objects`` makes its own.
        """
        creator: Any = self.get_client_type(
            region_name=self.region_name, config=self.tagging_config(), deferrable=True
        )
        async with creator as client:
            expect_bucket_owner(client, self.expected_bucket_owner)
            yield client

    def get_conn(self) -> Any:
        return self.conn

    def tag_objects(
        self,
        items: Iterable[TaggingItem],
        *,
        total: int | None = None,
        **options: Any,
    ) -> TaggingResult:
        """Tag objects concurrently with ``PutObjectTagging`` / ``DeleteObjectTagging`` (reading
        with ``GetObjectTagging`` where needed), on the hook's ``engine``. ``options`` are those of
        :class:`~airflow_s3_batch_tagging.direct.AsyncTaggingEngine`; ``concurrency`` defaults to the
        hook's. Blocks until done; ``items`` is consumed chunk by chunk as objects complete.
        """
        options.setdefault("concurrency", self.concurrency)
        self.tagging_config()  # validates the settings before any request
        if self.engine == "threads":
            return TaggingEngine(self.conn, **options).run(items, total=total)
        try:
            return _run_coroutine(self._tag_objects_async(items, total, options))
        except TypeError as err:
            if "can't be used in 'await' expression" not in str(err):
                raise
            # What aiobotocore raises when a boto3-only patch such as moto's in-process mock_aws
            # answers its request with a synchronous response.
            raise RuntimeError(
                "The asyncio engine's aiobotocore client got a synchronous HTTP response: is moto's "
                "in-process mock_aws (or another boto3-only patch) active? Use engine='threads' there, "
                "or moto in server mode (such as airflow_s3_batch_tagging.testing.LocalAWS)."
            ) from err

    async def _tag_objects_async(
        self, items: Iterable[TaggingItem], total: int | None, options: dict[str, Any]
    ) -> TaggingResult:
        async with self.async_tagging_client() as client:
            return await AsyncTaggingEngine(client, **options).run(items, total=total)

    def read_batch(self, batch: Mapping[str, Any]) -> list[ObjectRef]:
        """The objects of a batch reference (ranged ``GetObject`` / ``ListObjectsV2``)."""
        from airflow_s3_batch_tagging.planning import read_batch

        return read_batch(self.conn, batch)

    def read_undo_log(self, location: S3Location) -> list[UndoRecord]:
        """The original tag sets recorded in an undo log (``ListObjectsV2`` and ``GetObject``)."""
        from airflow_s3_batch_tagging.undo import read_undo_log

        return read_undo_log(self.conn, location)


def _run_coroutine(coroutine: Coroutine[Any, Any, TaggingResult]) -> TaggingResult:
    """Run ``coroutine`` on a new event loop in a worker thread, and wait for it in this one.

    Python runs signal handlers in the main thread. Were the loop running there, an exception raised by
    a handler (Airflow's ``execution_timeout`` raises ``AirflowTaskTimeout`` from SIGALRM) could land in
    one of the loop's callbacks, which asyncio logs and swallows, and the task would go on to the end.
    Here it is raised in the wait: the run is then cancelled (requests stopped, client closed) before the
    exception goes on. This also works when this thread already runs an event loop.
    """
    started: Future[tuple[asyncio.AbstractEventLoop, asyncio.Task[Any] | None]] = Future()

    async def main() -> TaggingResult:
        started.set_result((asyncio.get_running_loop(), asyncio.current_task()))
        return await coroutine

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="s3-tagging-loop") as pool:
        done = pool.submit(contextvars.copy_context().run, asyncio.run, main())
        try:
            return done.result()
        except BaseException:
            either: list[Future[Any]] = [started, done]
            wait(either, return_when=FIRST_COMPLETED)  # the loop has started, or the run has ended
            loop, task = started.result() if started.done() else (None, None)
            if loop is not None and task is not None and not done.done():
                with suppress(RuntimeError):  # the loop closed meanwhile: nothing left to cancel
                    loop.call_soon_threadsafe(task.cancel)
            raise
