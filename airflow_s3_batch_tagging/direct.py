"""The direct tagging engines: ``put_object_tagging`` for many objects over one shared S3 client.

Plain Python over a boto3-compatible S3 client (no Airflow import). Objects stream through in
chunks so memory stays flat however many there are. Two engines share every rule (modes, reads,
skips, the undo log, retries, counting) and differ only in how requests run concurrently:

- ``AsyncTaggingEngine`` (the hook's default): coroutines on one event loop sharing one
  aiobotocore client. Same botocore pipeline (SigV4 signing, checksums, retries), but no thread
  hand-offs: about 0.7 ms of CPU per object against about 1.2 ms for threads (BENCHMARKS.md).
- ``TaggingEngine``: a thread pool sharing one boto3 client. Works with any boto3 client,
  including moto's in-process ``mock_aws`` (which aiobotocore cannot use).

With an undo log, the previous tag sets of a chunk's objects are flushed to S3 before any object of
that chunk is written.

Retries: botocore retries throttling and transient errors itself (configure its retry mode on the
client); when it gives up on a retryable error, the engine backs off and tries again a few times.
Errors that no retry fixes (``NoSuchKey``, ``AccessDenied``, ...) are recorded for the object.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from airflow_s3_batch_tagging.errors import InvalidTagError
from airflow_s3_batch_tagging.tags import EMPTY_TAGS, TaggingMode, TagSet

if TYPE_CHECKING:
    from airflow_s3_batch_tagging.objects import ObjectRef
    from airflow_s3_batch_tagging.undo import UndoLogWriter


DEFAULT_CONCURRENCY = 128
"""Requests in flight (coroutines or threads) sharing one client. One task of the asyncio engine is
CPU-bound on one core from about 30 requests in flight at 20 ms of S3 latency, but needs about 60 to
keep that core busy at 50 ms: there 128 made 1,200 objects/s against 1,047 for 64, for +2 MB and
+0.03 ms CPU per object at 20 ms (BENCHMARKS.md, "Choosing the default concurrency")."""
DEFAULT_CHUNK_SIZE = 1000
"""Objects per chunk: the unit of the undo log and the bound on objects held in flight."""
DEFAULT_EXTRA_RETRIES = 3
"""How often the engine retries a retryable error after botocore's own retries gave up."""
MAX_FIRST_FAILURES = 20
"""How many failed objects the result names."""

RETRYABLE_ERROR_CODES = frozenset(
    {
        "SlowDown",
        "ServiceUnavailable",
        "InternalError",
        "RequestTimeout",
        "RequestTimeoutException",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "OperationAborted",
        "500",
        "502",
        "503",
        "504",
    }
)
# Endpoint, proxy, SSL and connect-timeout errors; dropped connections, read timeouts, cut streams.
_CONNECTION_ERRORS = (BotocoreConnectionError, HTTPClientError)

# Outcome of one object, as a small int so the hot loop stays cheap.
CHANGED, UNCHANGED, SKIPPED, FAILED = 0, 1, 2, 3

TaggingItem = tuple["ObjectRef", "TagSet | None"]
"""One object to tag and its own tags (None: use the task's tags)."""


@dataclass(frozen=True, slots=True)
class ObjectFailure:
    """An object that could not be tagged, with the S3 error code (or a local one such as ``InvalidTag``)."""

    ref: ObjectRef
    code: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.ref.to_dict(), "code": self.code, "message": self.message[:300]}

    def describe(self) -> str:
        """``<object>: <code> (<why>)``, for logs and error messages."""
        why = f" ({self.message[:300]})" if self.message else ""
        return f"{self.ref}: {self.code}{why}"


@dataclass
class TaggingResult:
    """What a tagging run did; ``to_dict`` is the operator's small XCom value.

    ``total == changed + unchanged + skipped + failed``. ``changed`` counts objects written (or, in a
    dry run, that would be written) with a different tag set, including writes made without reading
    first; ``unchanged`` objects already had the resulting tags and were written anyway;
    ``skipped`` ones had them and were not written (``skip_unchanged``).
    """

    dry_run: bool = False
    total: int = 0
    changed: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    written: int = 0
    retries: int = 0
    failures_by_code: dict[str, int] = field(default_factory=dict)
    first_failures: list[ObjectFailure] = field(default_factory=list)
    undo_log: str | None = None
    undo_log_parts: list[str] = field(default_factory=list)
    elapsed_seconds: float = 0.0

    @property
    def objects_per_second(self) -> float:
        return self.total / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    def record_failure(self, failure: ObjectFailure) -> None:
        self.failed += 1
        self.failures_by_code[failure.code] = self.failures_by_code.get(failure.code, 0) + 1
        if len(self.first_failures) < MAX_FIRST_FAILURES:
            self.first_failures.append(failure)

    def exceeds(self, max_failed_objects: int, max_failure_ratio: float) -> bool:
        """Whether the failures exceed both tolerances (either limit allows what it covers)."""
        if self.failed == 0:
            return False
        ratio = self.failed / self.total if self.total else 1.0
        return self.failed > max_failed_objects and ratio > max_failure_ratio

    def describe_failures(self, limit: int = 10) -> str:
        """The first failures with their codes and why, for an error message (keys, no tag values)."""
        shown = "; ".join(f.describe() for f in self.first_failures[:limit])
        more = self.failed - min(len(self.first_failures), limit)
        return shown + (f"; and {more} more" if more > 0 else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "total": self.total,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "failed": self.failed,
            "written": self.written,
            "retries": self.retries,
            "failures_by_code": dict(self.failures_by_code),
            "first_failures": [failure.to_dict() for failure in self.first_failures],
            "undo_log": self.undo_log,
            "undo_log_parts": len(self.undo_log_parts),
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "objects_per_second": round(self.objects_per_second, 1),
        }


class _Failed(Exception):
    """An object's request failed for good; carries the code and the retries spent."""

    def __init__(self, code: str, message: str, retries: int) -> None:
        super().__init__(message)
        self.code = code
        self.retries = retries

    def outcome(self, ref: ObjectRef, retries_before: int) -> _Planned:
        """The object's FAILED outcome, counting the retries spent before this request too."""
        return FAILED, ref, ObjectFailure(ref, self.code, str(self)), retries_before + self.retries


def _metadata(err: ClientError) -> Mapping[str, Any]:
    response: Mapping[str, Any] = err.response
    return response.get("ResponseMetadata") or {}


def error_code(err: BaseException) -> str:
    """The S3 error code of a botocore error (``ClientError``), else the exception's class name."""
    if isinstance(err, ClientError):
        response: Mapping[str, Any] = err.response
        code = (response.get("Error") or {}).get("Code")
        if code:
            return str(code)
        status = _metadata(err).get("HTTPStatusCode")
        return str(status) if status else "ClientError"
    return type(err).__name__


def is_retryable(err: BaseException) -> bool:
    """Whether another attempt may succeed: throttling, 5xx, timeouts and dropped connections."""
    if isinstance(err, _CONNECTION_ERRORS):
        return True
    if isinstance(err, ClientError):
        if error_code(err) in RETRYABLE_ERROR_CODES:
            return True
        status = _metadata(err).get("HTTPStatusCode") or 0
        return int(status) >= 500
    return False


def _retry_attempts(err: BaseException) -> int:
    if isinstance(err, ClientError):
        return int(_metadata(err).get("RetryAttempts") or 0)
    return 0


_Planned = tuple[int, "ObjectRef", Any, int]
"""(outcome, ref, detail, retries); detail: for CHANGED/UNCHANGED a tuple (kwargs, result, body,
previous), for FAILED an ``ObjectFailure``, for SKIPPED None."""


class _EngineBase:
    """The settings and rules both engines share: what to read, what to write, how to count.

    The parameters are documented once, on ``AsyncTaggingEngine``.
    """

    def __init__(
        self,
        client: Any,
        *,
        tags: TagSet | None = None,
        mode: TaggingMode | str = TaggingMode.REPLACE,
        concurrency: int = DEFAULT_CONCURRENCY,
        skip_unchanged: bool = False,
        dry_run: bool = False,
        undo_log: UndoLogWriter | None = None,
        expected_bucket_owner: str | None = None,
        extra_retries: int = DEFAULT_EXTRA_RETRIES,
        retry_backoff: float = 0.5,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        progress: Callable[[int, int | None, float], None] | None = None,
        progress_interval: float = 30.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"Invalid concurrency {concurrency!r}: it must be at least 1.")
        if chunk_size < 1:
            raise ValueError(f"Invalid chunk_size {chunk_size!r}: it must be at least 1.")
        self.client = client
        self.mode = TaggingMode.parse(mode)
        self.tags = tags
        self.concurrency = concurrency
        self.skip_unchanged = skip_unchanged
        self.dry_run = dry_run
        self.undo_log = None if dry_run else undo_log
        self.expected_bucket_owner = expected_bucket_owner
        self.extra_retries = extra_retries
        self.retry_backoff = retry_backoff
        self.chunk_size = chunk_size
        self.progress = progress
        self.progress_interval = progress_interval
        self.reads = skip_unchanged or dry_run or self.undo_log is not None or self.mode.reads_current_tags
        # The result for objects without their own tags, and its request body, computed once.
        self._default_result: TagSet | None = None
        self._default_body: dict[str, Any] | None = None
        if not self.mode.reads_current_tags and (tags is not None or self.mode is TaggingMode.DELETE):
            self._default_result = (tags or EMPTY_TAGS).apply(self.mode, EMPTY_TAGS)
            self._default_body = {"TagSet": self._default_result.to_boto()}

    # -- rules ------------------------------------------------------------------------------------

    def _request_kwargs(self, ref: ObjectRef) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"Bucket": ref.bucket, "Key": ref.key}
        if ref.version_id is not None:
            kwargs["VersionId"] = ref.version_id
        if self.expected_bucket_owner:
            kwargs["ExpectedBucketOwner"] = self.expected_bucket_owner
        return kwargs

    def _retry_delay(self, err: BaseException, attempt: int) -> float | None:
        """Seconds to wait before the engine's next attempt, or None when the error is final."""
        if attempt >= self.extra_retries or not is_retryable(err):
            return None
        delay = min(self.retry_backoff * 2 ** (attempt + 1), 20.0)
        return delay * (0.5 + random.random() / 2)

    @staticmethod
    def _response_retries(response: Any) -> int:
        metadata = response.get("ResponseMetadata") if isinstance(response, Mapping) else None
        return int(metadata.get("RetryAttempts") or 0) if metadata else 0

    @staticmethod
    def _tags_of(response: Any) -> TagSet:
        return TagSet._trusted({tag["Key"]: tag["Value"] for tag in response.get("TagSet") or ()})

    def _result_for(self, ref: ObjectRef, own: TagSet | None, current: TagSet) -> TagSet:
        tags = own if own is not None else self.tags
        if tags is None:
            if self.mode is TaggingMode.DELETE:
                return EMPTY_TAGS
            raise InvalidTagError(f"No tags for {ref}: mode {self.mode.value!r} needs tags.")
        return tags.apply(self.mode, current, obj=ref)

    def _decide(
        self,
        ref: ObjectRef,
        own: TagSet | None,
        kwargs: dict[str, Any],
        previous: TagSet | None,
        retries: int,
    ) -> _Planned:
        """What to do with an object once its current tags (if needed) are known."""
        try:
            if own is None and self._default_result is not None:
                result, body = self._default_result, self._default_body
            else:
                result, body = self._result_for(ref, own, previous or EMPTY_TAGS), None
        except InvalidTagError as err:
            return FAILED, ref, ObjectFailure(ref, "InvalidTag", str(err)), retries
        if previous is not None and previous == result:
            if self.skip_unchanged:
                return SKIPPED, ref, None, retries
            return UNCHANGED, ref, (kwargs, result, body, previous), retries
        return CHANGED, ref, (kwargs, result, body, previous), retries

    def _write_request(self, planned: _Planned) -> tuple[str, dict[str, Any]] | None:
        """The write an object needs (method name and kwargs), or None (skipped, failed, dry run)."""
        outcome, _ref, detail, _retries = planned
        if outcome >= SKIPPED or self.dry_run:
            return None
        kwargs, result, body, _previous = detail
        if not result:
            # An empty TagSet removes all tags; DeleteObjectTagging says so explicitly (and moto
            # cannot parse an empty TagSet).
            return "delete_object_tagging", kwargs
        kwargs["Tagging"] = body if body is not None else {"TagSet": result.to_boto()}
        return "put_object_tagging", kwargs

    @staticmethod
    def _undo_records(planned: Iterable[_Planned]) -> list[tuple[ObjectRef, TagSet]]:
        return [(ref, detail[3]) for outcome, ref, detail, _ in planned if outcome == CHANGED]

    def _new_result(self) -> TaggingResult:
        result = TaggingResult(dry_run=self.dry_run)
        if self.undo_log is not None:
            result.undo_log = self.undo_log.uri
        return result

    def _report(self, result: TaggingResult, total: int | None, started: float, last_report: float) -> float:
        """Call ``progress`` when ``progress_interval`` has passed; return the time of the last report."""
        now = time.monotonic()
        if self.progress is not None and now - last_report >= self.progress_interval:
            self.progress(result.total, total, result.total / (now - started))
            return now
        return last_report

    def _finish(self, result: TaggingResult, total: int | None, started: float) -> TaggingResult:
        result.elapsed_seconds = time.monotonic() - started
        if self.progress is not None:
            self.progress(result.total, total, result.objects_per_second)
        return result

    def _count(self, result: TaggingResult, outcomes: Iterable[_Planned]) -> None:
        counts = [0, 0, 0, 0]
        retries = 0
        for outcome, _ref, detail, spent in outcomes:
            counts[outcome] += 1
            retries += spent
            if outcome == FAILED:
                result.record_failure(detail)
        changed, unchanged, skipped, failed = counts
        result.total += changed + unchanged + skipped + failed
        result.changed += changed
        result.unchanged += unchanged
        result.skipped += skipped
        result.retries += retries
        if not self.dry_run:
            result.written += changed + unchanged


class TaggingEngine(_EngineBase):
    """Tags objects with one shared boto3 S3 client and a pool of ``concurrency`` threads.

    :param client: a boto3 S3 client (or anything with the same methods); it must allow at least
        ``concurrency`` pooled connections.

    The other parameters are those of every engine: ``tags``, ``mode``, ``concurrency`` (threads),
    ``skip_unchanged``, ``dry_run``, ``undo_log``, ``expected_bucket_owner``, ``extra_retries``,
    ``retry_backoff``, ``chunk_size``, ``progress``, ``progress_interval`` (see ``AsyncTaggingEngine``).
    """

    def _call(self, method: Callable[..., Any], kwargs: dict[str, Any]) -> tuple[Any, int]:
        """Call ``method``; return the response and the retries it took, or raise ``_Failed``."""
        retries = 0
        attempt = 0
        while True:
            try:
                response = method(**kwargs)
            except (ClientError, *_CONNECTION_ERRORS) as err:
                retries += _retry_attempts(err)
                delay = self._retry_delay(err, attempt)
                if delay is None:
                    raise _Failed(error_code(err), str(err), retries) from None
                attempt += 1
                retries += 1
                time.sleep(delay)
                continue
            return response, retries + self._response_retries(response)

    def _plan_one(self, item: TaggingItem) -> _Planned:
        """Read (when needed) and decide."""
        ref, own = item
        kwargs = self._request_kwargs(ref)
        previous: TagSet | None = None
        retries = 0
        if self.reads:
            try:
                response, retries = self._call(self.client.get_object_tagging, kwargs)
            except _Failed as failed:
                return failed.outcome(ref, 0)
            previous = self._tags_of(response)
        return self._decide(ref, own, kwargs, previous, retries)

    def _write_one(self, planned: _Planned) -> _Planned:
        request = self._write_request(planned)
        if request is None:
            return planned
        outcome, ref, _detail, retries = planned
        try:
            retries += self._call(getattr(self.client, request[0]), request[1])[1]
        except _Failed as failed:
            return failed.outcome(ref, retries)
        return outcome, ref, None, retries

    def _tag_one(self, item: TaggingItem) -> _Planned:
        return self._write_one(self._plan_one(item))

    def run(self, items: Iterable[TaggingItem], *, total: int | None = None) -> TaggingResult:
        """Tag every object of ``items`` (``(ObjectRef, own TagSet or None)`` pairs, streamed)."""
        result = self._new_result()
        started = last_report = time.monotonic()
        iterator: Iterator[TaggingItem] = iter(items)
        # Two chunks in flight at most: the next chunk is queued before the previous one is counted,
        # so the threads never idle at a chunk boundary, and memory stays bounded.
        pending: deque[Iterable[_Planned]] = deque()
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="s3-tagging") as pool:
            while chunk := list(islice(iterator, self.chunk_size)):
                if self.undo_log is None:
                    pending.append(pool.map(self._tag_one, chunk))
                else:
                    planned = list(pool.map(self._plan_one, chunk))
                    if records := self._undo_records(planned):
                        # Flushed before any object of this chunk is written.
                        result.undo_log_parts.append(self.undo_log.write_part(records))
                    pending.append(pool.map(self._write_one, planned))
                if len(pending) > 1:
                    self._count(result, pending.popleft())
                    last_report = self._report(result, total, started, last_report)
            while pending:
                self._count(result, pending.popleft())
        return self._finish(result, total, started)


class AsyncTaggingEngine(_EngineBase):
    """Tags objects with one shared aiobotocore S3 client and ``concurrency`` requests in flight.

    Run it on an event loop: ``await AsyncTaggingEngine(client, ...).run(items)``, with ``client``
    an entered aiobotocore S3 client (``async with session.create_client("s3") as client``) whose
    pool allows at least ``concurrency`` connections. The undo log writer keeps its own (blocking)
    client and writes from a worker thread, so the loop goes on serving requests meanwhile.

    :param client: an aiobotocore S3 client (or anything with the same coroutine methods).
    :param tags: the tags every object gets unless it brings its own (for ``remove``: the keys).
    :param mode: ``replace``, ``merge``, ``remove`` or ``delete``.
    :param concurrency: requests in flight at most.
    :param skip_unchanged: read each object's tags first and write only those that change.
    :param dry_run: read and count what would change; write nothing (no undo log either).
    :param undo_log: where to write the previous tag sets before changing them.
    :param expected_bucket_owner: passed as ``ExpectedBucketOwner`` on every request.
    :param extra_retries: retries after botocore gave up on a retryable error.
    :param retry_backoff: base of the engine's exponential backoff, in seconds.
    :param chunk_size: objects per chunk (undo log part).
    :param progress: called as ``progress(done, total_or_None, objects_per_second)`` at most every
        ``progress_interval`` seconds and at the end.
    """

    async def _call(self, method: Callable[..., Awaitable[Any]], kwargs: dict[str, Any]) -> tuple[Any, int]:
        """Await ``method``; return the response and the retries it took, or raise ``_Failed``."""
        retries = 0
        attempt = 0
        while True:
            try:
                response = await method(**kwargs)
            except (ClientError, *_CONNECTION_ERRORS) as err:
                retries += _retry_attempts(err)
                delay = self._retry_delay(err, attempt)
                if delay is None:
                    raise _Failed(error_code(err), str(err), retries) from None
                attempt += 1
                retries += 1
                await asyncio.sleep(delay)
                continue
            return response, retries + self._response_retries(response)

    async def _plan_one(self, item: TaggingItem) -> _Planned:
        ref, own = item
        kwargs = self._request_kwargs(ref)
        previous: TagSet | None = None
        retries = 0
        if self.reads:
            try:
                response, retries = await self._call(self.client.get_object_tagging, kwargs)
            except _Failed as failed:
                return failed.outcome(ref, 0)
            previous = self._tags_of(response)
        return self._decide(ref, own, kwargs, previous, retries)

    async def _write_one(self, planned: _Planned) -> _Planned:
        request = self._write_request(planned)
        if request is None:
            return planned
        outcome, ref, _detail, retries = planned
        try:
            retries += (await self._call(getattr(self.client, request[0]), request[1]))[1]
        except _Failed as failed:
            return failed.outcome(ref, retries)
        return outcome, ref, None, retries

    async def _tag_one(self, item: TaggingItem) -> _Planned:
        return await self._write_one(await self._plan_one(item))

    async def _map(
        self, slots: asyncio.Semaphore, work: Callable[[Any], Awaitable[_Planned]], chunk: list[Any]
    ) -> list[_Planned]:
        """``work`` over a chunk, in order, with no more than ``concurrency`` objects in flight overall.

        An unexpected error (one ``work`` does not record per object, such as expired credentials)
        cancels the chunk's other objects and is raised as it is.
        """

        async def one(value: Any) -> _Planned:
            async with slots:
                return await work(value)

        tasks = [asyncio.ensure_future(one(value)) for value in chunk]
        try:
            return await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def run(self, items: Iterable[TaggingItem], *, total: int | None = None) -> TaggingResult:
        """Tag every object of ``items`` (``(ObjectRef, own TagSet or None)`` pairs, streamed)."""
        result = self._new_result()
        started = last_report = time.monotonic()
        slots = asyncio.Semaphore(self.concurrency)
        iterator: Iterator[TaggingItem] = iter(items)
        # As with threads: two chunks in flight at most, sharing the ``concurrency`` slots.
        pending: deque[asyncio.Future[list[_Planned]]] = deque()
        try:
            while chunk := list(islice(iterator, self.chunk_size)):
                if self.undo_log is None:
                    pending.append(asyncio.ensure_future(self._map(slots, self._tag_one, chunk)))
                else:
                    planned = await self._map(slots, self._plan_one, chunk)
                    if records := self._undo_records(planned):
                        # Flushed before any object of this chunk is written.
                        part = await asyncio.to_thread(self.undo_log.write_part, records)
                        result.undo_log_parts.append(part)
                    pending.append(asyncio.ensure_future(self._map(slots, self._write_one, planned)))
                if len(pending) > 1:
                    self._count(result, await pending.popleft())
                    last_report = self._report(result, total, started, last_report)
            while pending:
                self._count(result, await pending.popleft())
        finally:
            # On an error (or cancellation), stop the requests still in flight.
            for future in pending:
                future.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        return self._finish(result, total, started)


def tag_objects(client: Any, items: Iterable[TaggingItem], **options: Any) -> TaggingResult:
    """Tag ``items`` with a boto3 ``client`` and threads: ``TaggingEngine(client, **options).run(items)``."""
    total = options.pop("total", None)
    return TaggingEngine(client, **options).run(items, total=total)


async def tag_objects_async(client: Any, items: Iterable[TaggingItem], **options: Any) -> TaggingResult:
    """Tag ``items`` with an aiobotocore ``client``: ``await AsyncTaggingEngine(client, **options).run()``."""
    total = options.pop("total", None)
    return await AsyncTaggingEngine(client, **options).run(items, total=total)
