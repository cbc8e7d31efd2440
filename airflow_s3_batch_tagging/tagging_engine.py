"""The direct tagging engine: ``PutObjectTagging`` for many objects, one event loop, any transport.

Plain Python (no Airflow import). One asyncio engine holds every rule: the tagging modes, which
objects are read first, which are skipped, the undo log written before any object of its chunk,
per-object failure records, retries, rate control, counting and cancellation. A transport
(``airflow_s3_batch_tagging.transports``) only sends one request: over aiobotocore, a boto3 client
in threads, or AWS's Common Runtime.

Objects stream through in chunks, so memory stays flat however many there are. With an undo log,
the previous tag sets of a chunk's objects are flushed to S3 before any object of that chunk is
written.

Retries: transports make one attempt; the engine retries throttling, 5xx, timeouts and dropped
connections up to ``max_attempts`` per request with jittered exponential backoff, and records
errors no retry fixes (``NoSuchKey``, ``AccessDenied``, ...) for the object. Rate control: the
requests in flight follow S3's ``SlowDown`` answers (``airflow_s3_batch_tagging.rate``), so a task
rides S3's per-prefix ceiling instead of bursting into throttling. Measured figures: BENCHMARKS.md.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

from airflow_s3_batch_tagging.errors import InvalidTagError
from airflow_s3_batch_tagging.rate import AdaptivePermits
from airflow_s3_batch_tagging.report import DEFAULT_FIRST_FAILURES, describe_failed_object
from airflow_s3_batch_tagging.tags import EMPTY_TAGS, TaggingMode, TagSet, reads_before_writing
from airflow_s3_batch_tagging.transports.base import TransportError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from airflow_s3_batch_tagging.conditions import TagCondition
    from airflow_s3_batch_tagging.objects import ObjectRef
    from airflow_s3_batch_tagging.report_writer import DirectReportWriter
    from airflow_s3_batch_tagging.transports.base import Transport
    from airflow_s3_batch_tagging.undo import UndoLogWriter


DEFAULT_CONCURRENCY = 256
"""Requests in flight at most (the rate control's ceiling); chosen from BENCHMARKS.md's sweep of the
default transport (crt)."""
DEFAULT_CHUNK_SIZE = 1000
"""Objects per chunk: the unit of the undo log and the bound on objects held in flight."""
DEFAULT_MAX_ATTEMPTS = 10
"""Attempts per request, the first included, before a retryable error is recorded for the object."""
DEFAULT_RETRY_BACKOFF = 0.1
"""Seconds: the first retry waits 0.05-0.1 s, each next one twice as long (at most 20 s)."""
MAX_RETRY_DELAY = 20.0
REPORT_FLUSH_BYTES = 1024 * 1024
"""Completion report rows buffered before they are sent to S3."""

# Outcome of one object, as a small int so the hot loop stays cheap.
CHANGED, UNCHANGED, SKIPPED, FAILED = 0, 1, 2, 3
SKIPPED_BY_CONDITION = 4

TaggingItem = tuple["ObjectRef", "TagSet | None"]
"""One object to tag and its own tags (None: use the task's tags)."""


@dataclass(frozen=True, slots=True)
class ObjectFailure:
    """An object that could not be tagged, with the S3 error code (or a local one such as ``InvalidTag``)."""

    ref: ObjectRef
    code: str
    message: str
    http_status: int = 0
    """S3's HTTP status; 0 when no answer came (a connection error) or the failure is local."""

    def to_dict(self) -> dict[str, Any]:
        return {**self.ref.to_dict(), "code": self.code, "message": self.message[:300]}

    def describe(self) -> str:
        """``<object>: <code> (<why>)``, for logs and error messages."""
        return describe_failed_object(str(self.ref), self.code, self.message)


@dataclass
class TaggingResult:
    """What a tagging run did; ``to_dict`` is the operator's small XCom value.

    ``total == changed + unchanged + skipped + skipped_by_condition + failed``. ``changed`` counts
    objects written (or, in a dry run, that would be written) with a different tag set, including
    writes made without reading first; ``unchanged`` objects already had the resulting tags and were
    written anyway; ``skipped`` ones had them and were not written (``skip_unchanged``);
    ``skipped_by_condition`` ones did not match the run's ``TagCondition`` and were not written.
    ``requests`` counts the answers S3 gave (every attempt), ``throttled`` those that were ``SlowDown``.
    """

    dry_run: bool = False
    total: int = 0
    changed: int = 0
    unchanged: int = 0
    skipped: int = 0
    skipped_by_condition: int = 0
    failed: int = 0
    written: int = 0
    retries: int = 0
    requests: int = 0
    throttled: int = 0
    transport: str | None = None
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
        if len(self.first_failures) < DEFAULT_FIRST_FAILURES:
            self.first_failures.append(failure)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "total": self.total,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "skipped_by_condition": self.skipped_by_condition,
            "failed": self.failed,
            "written": self.written,
            "retries": self.retries,
            "requests": self.requests,
            "throttled": self.throttled,
            "transport": self.transport,
            "failures_by_code": dict(self.failures_by_code),
            "first_failures": [failure.to_dict() for failure in self.first_failures],
            "undo_log": self.undo_log,
            "undo_log_parts": len(self.undo_log_parts),
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "objects_per_second": round(self.objects_per_second, 1),
        }


@dataclass(frozen=True, slots=True)
class Progress:
    """What a progress report says: objects done, of how many, how fast, and the rate control's state."""

    done: int
    total: int | None
    objects_per_second: float
    in_flight_allowed: int
    throttled_share: float


class _Failed(Exception):
    """An object's request failed for good; carries the code and the retries spent."""

    def __init__(self, code: str, message: str, retries: int, status: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.retries = retries
        self.status = status

    def outcome(self, ref: ObjectRef, retries_before: int) -> _Planned:
        """The object's FAILED outcome, counting the retries spent before this request too."""
        failure = ObjectFailure(ref, self.code, str(self), self.status)
        return FAILED, ref, failure, retries_before + self.retries


_Planned = tuple[int, "ObjectRef", Any, int]
"""(outcome, ref, detail, retries); detail: for CHANGED/UNCHANGED a tuple (result, previous), for
FAILED an ``ObjectFailure``, for SKIPPED and SKIPPED_BY_CONDITION None."""


class TaggingEngine:
    """Tags objects over one ``transport`` with at most ``concurrency`` requests in flight.

    Run it on an event loop: ``await TaggingEngine(transport, ...).run(items)``. The undo log writer
    keeps its own (blocking) client and writes from a worker thread, so the loop goes on serving
    requests meanwhile.

    :param transport: how requests reach S3 (see ``airflow_s3_batch_tagging.transports``).
    :param tags: the tags every object gets unless it brings its own (for ``remove``: the keys).
    :param mode: ``replace``, ``merge``, ``remove`` or ``delete``.
    :param concurrency: requests in flight at most.
    :param skip_unchanged: read each object's tags first and write only those that change.
    :param dry_run: read and count what would change; write nothing (no undo log either).
    :param undo_log: where to write the previous tag sets before changing them.
    :param expected_bucket_owner: sent as ``ExpectedBucketOwner`` on every request.
    :param max_attempts: attempts per request, the first included, for retryable errors.
    :param retry_backoff: base of the jittered exponential backoff between attempts, in seconds.
    :param rate_control: adapt the requests in flight to S3's ``SlowDown`` answers (between one and
        ``concurrency``); off, ``concurrency`` requests are always in flight.
    :param chunk_size: objects per chunk (undo log part).
    :param progress: called with a ``Progress`` at most every ``progress_interval`` seconds and at
        the end.
    :param condition: touch only objects whose current tags match it (read first); the others are
        counted as ``skipped_by_condition``, never written and never in the undo log.
    :param report: a ``report_writer.DirectReportWriter`` told every object's outcome as chunks finish
        (flushed to S3 from a worker thread); the caller closes it.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        tags: TagSet | None = None,
        mode: TaggingMode | str = TaggingMode.REPLACE,
        concurrency: int = DEFAULT_CONCURRENCY,
        skip_unchanged: bool = False,
        dry_run: bool = False,
        undo_log: UndoLogWriter | None = None,
        expected_bucket_owner: str | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        retry_backoff: float = DEFAULT_RETRY_BACKOFF,
        rate_control: bool = True,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        progress: Callable[[Progress], None] | None = None,
        progress_interval: float = 30.0,
        condition: TagCondition | None = None,
        report: DirectReportWriter | None = None,
    ) -> None:
        self.report = report
        if concurrency < 1:
            raise ValueError(f"Invalid concurrency {concurrency!r}: it must be at least 1.")
        if chunk_size < 1:
            raise ValueError(f"Invalid chunk_size {chunk_size!r}: it must be at least 1.")
        if max_attempts < 1:
            raise ValueError(f"Invalid max_attempts {max_attempts!r}: it must be at least 1.")
        self.transport = transport
        self.mode = TaggingMode.parse(mode)
        self.tags = tags
        self.concurrency = concurrency
        self.skip_unchanged = skip_unchanged
        self.dry_run = dry_run
        self.undo_log = None if dry_run else undo_log
        self.expected_bucket_owner = expected_bucket_owner or None
        self.max_attempts = max_attempts
        self.retry_backoff = retry_backoff
        self.rate_control = rate_control
        self.chunk_size = chunk_size
        self.progress = progress
        self.progress_interval = progress_interval
        self.condition = condition
        self.reads = reads_before_writing(
            self.mode,
            skip_unchanged=skip_unchanged,
            dry_run=dry_run,
            undo_log=self.undo_log is not None,
            condition=condition is not None,
        )
        self.permits = AdaptivePermits(concurrency, adaptive=rate_control)
        # The result for objects without their own tags, computed once (and so one body to encode).
        self._default_result: TagSet | None = None
        if not self.mode.reads_current_tags and (tags is not None or self.mode is TaggingMode.DELETE):
            self._default_result = (tags or EMPTY_TAGS).apply(self.mode, EMPTY_TAGS)

    # -- requests ---------------------------------------------------------------------------------

    def _retry_delay(self, attempt: int) -> float:
        delay = min(self.retry_backoff * 2**attempt, MAX_RETRY_DELAY)
        return delay * (0.5 + random.random() / 2)

    async def _call(self, request: Callable[..., Any], *args: Any, first: bool = False) -> tuple[Any, int]:
        """One request with the engine's retries: return its answer and the retries it took, or raise
        ``_Failed``. Each attempt holds one permit and tells the rate control how it went; ``first``
        requests (writes) get theirs before the others (reads)."""
        attempt = 0
        permits = self.permits
        while True:
            token = await permits.acquire(first=first)
            throttled: bool | None = None  # no verdict when the request never got an answer
            try:
                answer = await request(*args)
            except TransportError as err:
                throttled = err.throttled
                if not err.retryable or attempt + 1 >= self.max_attempts:
                    raise _Failed(err.code, err.message, attempt, err.status) from None
            else:
                throttled = False
                return answer, attempt
            finally:
                permits.release(token, throttled=throttled)
            await asyncio.sleep(self._retry_delay(attempt))
            attempt += 1

    # -- rules ------------------------------------------------------------------------------------

    def _result_for(self, ref: ObjectRef, own: TagSet | None, current: TagSet) -> TagSet:
        tags = own if own is not None else self.tags
        if tags is None:
            if self.mode is TaggingMode.DELETE:
                return EMPTY_TAGS
            raise InvalidTagError(f"No tags for {ref}: mode {self.mode.value!r} needs tags.")
        return tags.apply(self.mode, current, obj=ref)

    async def _plan_one(self, item: TaggingItem) -> _Planned:
        """Read the object's tags (when needed) and decide what to do with it."""
        ref, own = item
        previous: TagSet | None = None
        retries = 0
        if self.reads:
            try:
                previous, retries = await self._call(
                    self.transport.get_tagging, ref, self.expected_bucket_owner
                )
            except _Failed as failed:
                return failed.outcome(ref, 0)
        # Judged before the result: an object left alone cannot fail the mode's rules either.
        if self.condition is not None and not self.condition.matches(previous or EMPTY_TAGS):
            return SKIPPED_BY_CONDITION, ref, None, retries
        try:
            if own is None and self._default_result is not None:
                result = self._default_result
            else:
                result = self._result_for(ref, own, previous or EMPTY_TAGS)
        except InvalidTagError as err:
            return FAILED, ref, ObjectFailure(ref, "InvalidTag", str(err)), retries
        if previous is not None and previous == result:
            if self.skip_unchanged:
                return SKIPPED, ref, None, retries
            return UNCHANGED, ref, (result, previous), retries
        return CHANGED, ref, (result, previous), retries

    async def _write_one(self, planned: _Planned) -> _Planned:
        outcome, ref, detail, retries = planned
        if outcome >= SKIPPED or self.dry_run:
            return planned
        result = detail[0]
        try:
            if result:
                # Writes go before waiting reads: the read-to-write window stays short (no conditional
                # write for tags in S3).
                spent = (
                    await self._call(
                        self.transport.put_tagging, ref, result, self.expected_bucket_owner, first=True
                    )
                )[1]
            else:
                # An empty TagSet removes all tags; DeleteObjectTagging says so explicitly (and moto
                # cannot parse an empty TagSet).
                spent = (
                    await self._call(
                        self.transport.delete_tagging, ref, self.expected_bucket_owner, first=True
                    )
                )[1]
        except _Failed as failed:
            return failed.outcome(ref, retries)
        return outcome, ref, None, retries + spent

    async def _tag_one(self, item: TaggingItem) -> _Planned:
        return await self._write_one(await self._plan_one(item))

    @staticmethod
    async def _map(work: Callable[[Any], Any], chunk: list[Any]) -> list[_Planned]:
        """``work`` over a chunk, in order (the permits bound the requests in flight).

        An unexpected error (one ``work`` does not record per object, such as expired credentials)
        cancels the chunk's other objects and is raised as it is.
        """
        tasks = [asyncio.ensure_future(work(value)) for value in chunk]
        try:
            return await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    # -- counting ---------------------------------------------------------------------------------

    @staticmethod
    def _undo_records(planned: Iterable[_Planned]) -> list[tuple[ObjectRef, TagSet]]:
        return [(ref, detail[1]) for outcome, ref, detail, _ in planned if outcome == CHANGED]

    def _count(self, result: TaggingResult, outcomes: Iterable[_Planned]) -> None:
        counts = [0, 0, 0, 0, 0]
        retries = 0
        for outcome, _ref, detail, spent in outcomes:
            counts[outcome] += 1
            retries += spent
            if outcome == FAILED:
                result.record_failure(detail)
            if self.report is not None:
                self._report_outcome(outcome, _ref, detail)
        changed, unchanged, skipped, failed, skipped_by_condition = counts
        result.total += changed + unchanged + skipped + failed + skipped_by_condition
        result.changed += changed
        result.unchanged += unchanged
        result.skipped += skipped
        result.skipped_by_condition += skipped_by_condition
        result.retries += retries
        if not self.dry_run:
            result.written += changed + unchanged
        result.requests = self.permits.answers
        result.throttled = self.permits.throttled

    def _report_outcome(self, outcome: int, ref: ObjectRef, detail: Any) -> None:
        """One row of the completion report: a failure with S3's status and code, else a success."""
        assert self.report is not None
        if outcome == FAILED:
            # A failure without an answer (connection error) or a local one reads as AWS's 500 / 400.
            status = detail.http_status or (400 if detail.code == "InvalidTag" else 500)
            self.report.add(
                ref, succeeded=False, http_status=status, code=detail.code, message=detail.message
            )
        else:
            message = {
                SKIPPED: "Skipped: tags unchanged",
                SKIPPED_BY_CONDITION: "Skipped: current tags do not match the condition",
            }.get(outcome, "")
            self.report.add(ref, succeeded=True, http_status=200, message=message)

    async def _flush_report(self) -> None:
        """Send the report rows counted so far to S3, off the event loop, once enough are buffered."""
        if self.report is not None and self.report.pending_bytes >= REPORT_FLUSH_BYTES:
            await asyncio.to_thread(self.report.flush)

    def _report(self, result: TaggingResult, total: int | None, started: float) -> None:
        if self.progress is None:
            return
        elapsed = time.monotonic() - started
        answers = self.permits.answers
        self.progress(
            Progress(
                done=result.total,
                total=total,
                objects_per_second=result.total / elapsed if elapsed > 0 else 0.0,
                in_flight_allowed=self.permits.allowed,
                throttled_share=self.permits.throttled / answers if answers else 0.0,
            )
        )

    # -- the run ----------------------------------------------------------------------------------

    async def run(self, items: Iterable[TaggingItem], *, total: int | None = None) -> TaggingResult:
        """Tag every object of ``items`` (``(ObjectRef, own TagSet or None)`` pairs, streamed)."""
        result = TaggingResult(dry_run=self.dry_run, transport=getattr(self.transport, "name", None))
        if self.undo_log is not None:
            result.undo_log = self.undo_log.uri
        started = last_report = time.monotonic()
        iterator: Iterator[TaggingItem] = iter(items)
        # Two chunks in flight at most, sharing the permits: the next chunk is queued before the
        # previous one is counted, so requests never idle at a chunk boundary, and memory stays bounded.
        pending: deque[asyncio.Future[list[_Planned]]] = deque()
        try:
            while chunk := list(islice(iterator, self.chunk_size)):
                if self.undo_log is None:
                    pending.append(asyncio.ensure_future(self._map(self._tag_one, chunk)))
                else:
                    planned = await self._map(self._plan_one, chunk)
                    if records := self._undo_records(planned):
                        # Flushed before any object of this chunk is written.
                        part = await asyncio.to_thread(self.undo_log.write_part, records)
                        result.undo_log_parts.append(part)
                    pending.append(asyncio.ensure_future(self._map(self._write_one, planned)))
                if len(pending) > 1:
                    self._count(result, await pending.popleft())
                    await self._flush_report()
                    if time.monotonic() - last_report >= self.progress_interval:
                        self._report(result, total, started)
                        last_report = time.monotonic()
            while pending:
                self._count(result, await pending.popleft())
                await self._flush_report()
        finally:
            # On an error (or cancellation), stop the requests still in flight.
            for future in pending:
                future.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        result.elapsed_seconds = time.monotonic() - started
        result.requests = self.permits.answers
        result.throttled = self.permits.throttled
        self._report(result, total, started)
        return result
