"""Hook for direct object tagging: S3 clients sized for many requests in flight, and the engine over
one of its transports."""

from __future__ import annotations

import asyncio
import contextvars
import platform
import sys
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import asynccontextmanager, suppress
from functools import cached_property
from typing import TYPE_CHECKING, Any

import boto3
import botocore
from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from botocore.config import Config

from airflow_s3_batch_tagging import __version__
from airflow_s3_batch_tagging.hooks.bucket_owner import expect_bucket_owner
from airflow_s3_batch_tagging.lineage import LocationTracker, add_hook_input, add_hook_output
from airflow_s3_batch_tagging.objects import S3Location
from airflow_s3_batch_tagging.tagging_engine import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_ATTEMPTS,
    TaggingEngine,
    TaggingItem,
    TaggingResult,
)
from airflow_s3_batch_tagging.transports import DEFAULT_ENGINE, engine_name
from airflow_s3_batch_tagging.transports.botocore import AiobotocoreTransport, Boto3ThreadsTransport

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Coroutine, Iterable, Mapping

    from airflow_s3_batch_tagging.objects import ObjectRef
    from airflow_s3_batch_tagging.undo import UndoRecord

STATIC_USER_AGENT = (
    f"Boto3/{boto3.__version__} Botocore/{botocore.__version__} Python/{platform.python_version()} "
    f"airflow-s3-batch-tagging/{__version__}"
)
DEFAULT_RETRY_MODE = "standard"
RETRY_MODES = ("standard", "adaptive", "legacy")


class S3ObjectTaggingHook(AwsBaseHook):
    """Interact with Amazon S3 object tags through clients shared by ``concurrency`` requests in flight.

    ``conn`` (a boto3 client: undo logs, batch references) gets ``max_pool_connections`` of at least
    ``concurrency`` and botocore's retries (``retry_mode``, ``max_attempts``), merged over the
    connection's own botocore config. Tagging runs on the engine
    (:class:`~airflow_s3_batch_tagging.tagging_engine.TaggingEngine`) over the transport ``engine`` names,
    whose client makes one attempt per request: the engine retries (up to ``max_attempts``) and
    adapts its requests in flight to S3's throttling.

    :param concurrency: requests in flight at most.
    :param max_attempts: attempts per request, the first included.
    :param retry_mode: botocore's retry mode of ``conn``: ``standard`` or ``adaptive``.
    :param expected_bucket_owner: account id sent as ``ExpectedBucketOwner`` on every S3 request of the
        clients that accept it (tags, manifest reads, listings, undo log writes and reads).
    :param engine: ``auto`` (the default: see ``choose_transport``) or the transport, one of
        :data:`~airflow_s3_batch_tagging.transports.ENGINES`
        (``asyncio`` is an alias of ``aiobotocore``).

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

    @property
    def transport_name(self) -> str:
        """``engine`` with aliases resolved (``auto`` included); ``ValueError`` if it names none."""
        return engine_name(self.engine)

    def choose_transport(self) -> tuple[str, str | None]:
        """The transport a run uses, and why, when ``engine`` is ``auto`` and it is not ``crt``.

        ``auto`` is ``crt`` (AWS's Common Runtime: the fastest, BENCHMARKS.md) unless it cannot send
        the connection's requests as botocore would: then ``threads`` under moto's in-process
        ``mock_aws`` (which patches botocore only), else ``aiobotocore`` (no usable awscrt, anonymous
        access, or a proxy, which CRT's S3 client does not go through).
        """
        name = self.transport_name
        if name != "auto":
            return name, None
        if _moto_mock_active():
            return "threads", "moto's in-process mock_aws is active (it patches botocore only)"
        from airflow_s3_batch_tagging.transports.crt import crt_problem

        problem = crt_problem(self.transport_conn)
        if problem is not None:
            return "aiobotocore", problem
        return "crt", None

    def tagging_config(self) -> Config:
        """The botocore config of ``conn``: the connection's, plus pool size and retries."""
        if not isinstance(self.concurrency, int) or self.concurrency < 1:
            raise ValueError(f"Invalid concurrency {self.concurrency!r}: it must be a positive integer.")
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError(f"Invalid max_attempts {self.max_attempts!r}: it must be a positive integer.")
        engine_name(self.engine)
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

    def transport_config(self) -> Config:
        """The botocore config of the transports' clients: ``conn``'s, with one attempt per request
        (the engine retries, so it sees every throttled answer)."""
        return self.tagging_config().merge(Config(retries={"mode": "standard", "total_max_attempts": 1}))

    @cached_property
    def conn(self) -> Any:
        """One boto3 S3 client, safe to share between threads (cached)."""
        client: Any = self.get_client_type(region_name=self.region_name, config=self.tagging_config())
        expect_bucket_owner(client, self.expected_bucket_owner)
        return client

    @cached_property
    def transport_conn(self) -> Any:
        """The boto3 S3 client of the ``threads`` transport, and the endpoint rules and credentials
        of the ``crt`` one (cached)."""
        client: Any = self.get_client_type(region_name=self.region_name, config=self.transport_config())
        expect_bucket_owner(client, self.expected_bucket_owner)
        return client

    @asynccontextmanager
    async def async_tagging_client(self) -> AsyncIterator[Any]:
        """A new aiobotocore S3 client with the transports' config (and ``ExpectedBucketOwner``).

        Use it as ``async with hook.async_tagging_client() as client``; it belongs to the event loop
        it is entered on, so each ``aiobotocore`` run of ``tag_objects`` makes its own.
        """
        creator: Any = self.get_client_type(
            region_name=self.region_name, config=self.transport_config(), deferrable=True
        )
        async with creator as client:
            expect_bucket_owner(client, self.expected_bucket_owner)
            yield client

    def tag_objects(
        self,
        items: Iterable[TaggingItem],
        *,
        total: int | None = None,
        **options: Any,
    ) -> TaggingResult:
        """Tag objects concurrently with ``PutObjectTagging`` / ``DeleteObjectTagging`` (reading
        with ``GetObjectTagging`` where needed), over the hook's ``engine``. ``options`` are those of
        :class:`~airflow_s3_batch_tagging.tagging_engine.TaggingEngine`; ``concurrency`` and ``max_attempts``
        default to the hook's. Blocks until done; ``items`` is consumed chunk by chunk as objects
        complete.
        """
        options.setdefault("concurrency", self.concurrency)
        options.setdefault("max_attempts", self.max_attempts)
        self.tagging_config()  # validates the settings before any request
        # Lineage names each bucket's common prefix, not each object: a run may tag millions of
        # objects, and the collector keeps only [lineage] max_assets_per_collector (100) per task.
        tracker = LocationTracker()
        items = tracker.track(items, ref_of=lambda item: item[0])
        try:
            result = _run_coroutine(self._tag_objects_async(items, total, options))
        except TypeError as err:
            if "can't be used in 'await' expression" not in str(err):
                raise
            # What aiobotocore raises when a boto3-only patch such as moto's in-process mock_aws
            # answers its request with a synchronous response.
            raise RuntimeError(
                "The aiobotocore engine's client got a synchronous HTTP response: is moto's "
                "in-process mock_aws (or another boto3-only patch) active? Use engine='threads' there, "
                "or moto in server mode (such as airflow_s3_batch_tagging.testing.LocalAWS)."
            ) from err
        if not result.dry_run:
            for location in tracker.locations():
                add_hook_output(self, location)
        undo_log = options.get("undo_log")
        if undo_log is not None and undo_log.parts_written:
            add_hook_output(self, undo_log.location)
        return result

    async def _tag_objects_async(
        self, items: Iterable[TaggingItem], total: int | None, options: dict[str, Any]
    ) -> TaggingResult:
        name, why = self.choose_transport()
        if why is None:
            self.log.info("Tagging over the %s transport (engine=%r).", name, self.engine)
        else:
            self.log.info("Tagging over the %s transport: engine=%r and %s.", name, self.engine, why)
        if name == "threads":
            with Boto3ThreadsTransport(self.transport_conn, threads=options["concurrency"]) as threads:
                return await TaggingEngine(threads, **options).run(items, total=total)
        if name == "crt":
            if _moto_mock_active():
                # CRT sends on its own sockets: it would bypass the mock and try to reach AWS.
                raise RuntimeError(
                    "moto's in-process mock_aws is active, which the crt engine cannot use (it does not send "
                    "through botocore): use engine='threads' there, or moto in server mode (such as "
                    "airflow_s3_batch_tagging.testing.LocalAWS)."
                )
            from airflow_s3_batch_tagging.transports.crt import CrtTransport

            crt = CrtTransport(
                self.transport_conn,
                max_connections=options["concurrency"],
                user_agent=f"{STATIC_USER_AGENT} md/crt",
            )
            async with crt:
                return await TaggingEngine(crt, **options).run(items, total=total)
        async with self.async_tagging_client() as client:
            return await TaggingEngine(AiobotocoreTransport(client), **options).run(items, total=total)

    def read_batch(self, batch: Mapping[str, Any]) -> list[ObjectRef]:
        """The objects of a batch reference (ranged ``GetObject`` / ``ListObjectsV2``)."""
        from airflow_s3_batch_tagging.manifest import ManifestRange
        from airflow_s3_batch_tagging.planning import read_batch

        refs = read_batch(self.conn, batch)
        if ManifestRange.is_range(batch):
            add_hook_input(self, S3Location.from_uri(str(batch["manifest"]), what="manifest URI"))
        return refs

    def read_undo_log(self, location: S3Location) -> list[UndoRecord]:
        """The original tag sets recorded in an undo log (``ListObjectsV2`` and ``GetObject``)."""
        from airflow_s3_batch_tagging.undo import read_undo_log

        records = read_undo_log(self.conn, location)
        add_hook_input(self, location)
        return records


def _moto_mock_active() -> bool:
    """Whether moto's in-process ``mock_aws`` is patching botocore now (without importing moto)."""
    models = sys.modules.get("moto.core.models")
    return bool(getattr(getattr(models, "botocore_stubber", None), "enabled", False))


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
