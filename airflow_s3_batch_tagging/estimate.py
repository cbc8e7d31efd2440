"""A priced plan: what a tagging run will ask of S3 and pay on each path, and how long it will take.

Counts come from the planned batches (the planner already counted every object once); prices from
``pricing``; the direct path's speed per task from the engine's measured rates (BENCHMARKS.md) and
the number of mapped tasks Airflow runs at once; the batch path's from a start-up time and a job rate
the user can set (AWS publishes neither).

Plain Python: no Airflow, no AWS call.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_s3_batch_tagging.errors import S3TaggingInputError
from airflow_s3_batch_tagging.tags import TaggingMode, reads_before_writing
from airflow_s3_batch_tagging.transports import DEFAULT_ENGINE, engine_name

if TYPE_CHECKING:
    from airflow_s3_batch_tagging.pricing import S3Prices

DIRECT = "direct"
BATCH = "batch"

# Objects per second of ONE direct-path task (default settings, 20 ms of S3 latency, no write ceiling),
# as measured by a full-size `make bench` on 2026-11-27 (BENCHMARKS.md, "1-2. Direct path at 20 ms
# latency"): (writes only, read then write with an undo log).
DIRECT_OBJECTS_PER_SECOND: dict[str, tuple[float, float]] = {
    "crt": (3580.0, 1352.0),
    "aiobotocore": (611.0, 318.0),
    "threads": (394.0, 157.0),
}
S3_WRITES_PER_SECOND = 3500.0
"""S3's documented floor of PUT/COPY/POST/DELETE requests per second per partitioned prefix."""
BATCH_STARTUP_SECONDS = 300.0
"""Assumed: a job reads and prepares its manifest for minutes before it runs. Not an AWS figure."""
BATCH_OBJECTS_PER_SECOND = 1000.0
"""Assumed rate of one S3 Batch Operations job. AWS publishes none: set it from your own jobs
(``DescribeJob``: ``TotalNumberOfTasks / Timers.ElapsedTimeInActiveSeconds``)."""
LIST_PAGE_SIZE = 1000  # keys per ListObjectsV2 page
DEFAULT_UNDO_CHUNK = 1000  # objects per undo log part (the engine's default chunk size)

SOURCES = {
    "objects": "an upstream list",
    "manifest": "a CSV manifest",
    "inventory_manifest": "an S3 Inventory report",
    "bucket": "a listing",
}


class EstimateError(S3TaggingInputError):
    """The estimate cannot be computed from what was given."""


@dataclass(frozen=True, slots=True)
class TaggingWork:
    """What a run does to each object, as far as choosing and pricing a path needs to know."""

    mode: TaggingMode = TaggingMode.REPLACE
    skip_unchanged: bool = False
    dry_run: bool = False
    undo_log: bool = False
    per_object_tags: bool = False
    conditions: bool = False

    @property
    def reads(self) -> bool:
        """Whether the direct path reads each object's tags before writing (a GET per object)."""
        return reads_before_writing(
            self.mode,
            skip_unchanged=self.skip_unchanged,
            dry_run=self.dry_run,
            undo_log=self.undo_log,
            condition=self.conditions,
        )

    def batch_cannot(self) -> list[str]:
        """Why S3 Batch Operations cannot do this work (empty when it can).

        A job replaces every object's whole tag set with one tag set (``S3PutObjectTagging``) or
        removes them all (``S3DeleteObjectTagging``): it reads nothing and keeps nothing.
        """
        reasons = []
        if self.mode not in (TaggingMode.REPLACE, TaggingMode.DELETE):
            reasons.append(f"mode {self.mode.value!r} (a job only replaces or deletes whole tag sets)")
        if self.per_object_tags:
            reasons.append("per-object tags (a job writes one tag set to every object)")
        if self.skip_unchanged:
            reasons.append("skip_unchanged (a job does not read the current tags)")
        if self.dry_run:
            reasons.append("dry_run (a job has no dry run)")
        if self.undo_log:
            reasons.append("an undo log (a job keeps no previous tags)")
        if self.conditions:
            reasons.append("conditions on the current tags (a job does not read them)")
        return reasons


@dataclass(frozen=True, slots=True)
class PathEstimate:
    """One path's requests, fees (USD) and expected duration."""

    path: str
    get_requests: int
    put_requests: int
    request_fees: float
    batch_fees: float
    seconds: float
    how: str
    possible: bool = True
    why_not: tuple[str, ...] = ()

    @property
    def total_fees(self) -> float:
        return self.request_fees + self.batch_fees

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": {"GET": self.get_requests, "PUT": self.put_requests},
            "fees_usd": {
                "requests": round(self.request_fees, 6),
                "batch_operations": round(self.batch_fees, 6),
                "total": round(self.total_fees, 6),
            },
            "seconds": round(self.seconds, 1),
            "how": self.how,
            "possible": self.possible,
            "why_not": list(self.why_not),
        }


@dataclass(frozen=True, slots=True)
class TaggingEstimate:
    """The priced plan of one run: the objects, then each path's estimate."""

    objects: int
    batches: int
    source: str
    region: str
    prices: S3Prices
    parallel_tasks: int
    direct: PathEstimate
    batch: PathEstimate
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable, for XCom."""
        return {
            "objects": self.objects,
            "batches": self.batches,
            "source": self.source,
            "region": self.region,
            "parallel_tasks": self.parallel_tasks,
            "prices": self.prices.to_dict(),
            DIRECT: self.direct.to_dict(),
            BATCH: self.batch.to_dict(),
            "notes": list(self.notes),
        }

    def table(self) -> str:
        """A small table for the task log."""
        lines = [
            f"Priced plan: {self.objects:,} objects in {self.batches:,} batches "
            f"(from {SOURCES[self.source]}), "
            f"prices of {self.prices.region} read {self.prices.read_on} from {self.prices.source}",
            "| path   |       GET |       PUT | request fees | Batch Operations fees |      total | duration",
        ]
        for estimate in (self.direct, self.batch):
            fees = f"${estimate.batch_fees:,.6f}" if estimate.path == BATCH else "-"
            duration = f"{_duration(estimate.seconds)} ({estimate.how})"
            if not estimate.possible:
                duration += f"; not possible: {'; '.join(estimate.why_not)}"
            request_fees = f"${estimate.request_fees:,.6f}"
            total = f"${estimate.total_fees:,.6f}"
            lines.append(
                f"| {estimate.path:<6} | {estimate.get_requests:>9,} | {estimate.put_requests:>9,} | "
                f"{request_fees:>12} | {fees:>21} | {total:>10} | {duration}"
            )
        lines.extend(f"Note: {note}" for note in self.notes)
        return "\n".join(lines)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def batch_counts(batches: Sequence[Any]) -> list[int]:
    """The number of objects in each planned batch: a slice of an upstream list, or a reference."""
    counts = []
    for batch in batches:
        if isinstance(batch, Mapping):
            if "count" not in batch:
                raise EstimateError(f"Invalid batch reference {dict(batch)!r}: it has no count.")
            counts.append(int(batch["count"]))
        else:
            counts.append(len(batch))
    return counts


def _positive(name: str, value: Any) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise EstimateError(f"Invalid {name} {value!r}: expected a positive number.") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0 or math.isinf(value):
        raise EstimateError(f"Invalid {name} {value!r}: expected a positive number.")
    return float(value)


def _non_negative(name: str, value: Any) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise EstimateError(
                f"Invalid {name} {value!r}: expected a number of seconds, 0 or more."
            ) from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0 or math.isinf(value):
        raise EstimateError(f"Invalid {name} {value!r}: expected a number of seconds, 0 or more.")
    return float(value)


def direct_rate(engine: str, work: TaggingWork) -> float:
    """One task's measured objects per second for ``engine`` and the work."""
    try:
        name = engine_name(engine)
    except ValueError as err:
        raise EstimateError(str(err)) from None
    if name == "auto":
        name = "crt"  # what auto runs on wherever crt can serve the connection
    writes_only, read_write = DIRECT_OBJECTS_PER_SECOND[name]
    return read_write if work.reads else writes_only


def estimate_tagging(
    counts: Sequence[int],
    *,
    source: str,
    work: TaggingWork,
    prices: S3Prices,
    parallel_tasks: int,
    engine: str = DEFAULT_ENGINE,
    direct_objects_per_second: float | None = None,
    s3_writes_per_second: float | None = S3_WRITES_PER_SECOND,
    batch_startup_seconds: float = BATCH_STARTUP_SECONDS,
    batch_objects_per_second: float = BATCH_OBJECTS_PER_SECOND,
    undo_chunk_size: int = DEFAULT_UNDO_CHUNK,
    notes: Sequence[str] = (),
) -> TaggingEstimate:
    """Price both paths for ``counts`` (objects per planned batch) from ``source``.

    Direct path: a GET per object when it reads first (``work.reads``), a PUT per object unless a
    dry run (an upper bound with ``skip_unchanged``), plus reading each batch back (a LIST per 1,000
    keys of a listing, a ranged GET per CSV manifest batch, two GETs per inventory batch) and a PUT
    per undo log part. Its duration: the batches run ``parallel_tasks`` at a time, each at one task's
    rate; writes are capped at ``s3_writes_per_second`` (one partitioned prefix; ``None``: no cap).

    Batch path: one job; a PUT per object (the job's tagging requests, billed as requests), the
    job's fee and its per-object fee; one PUT more to write the manifest of an upstream list.
    Its duration: ``batch_startup_seconds`` plus the objects at ``batch_objects_per_second``.
    """
    if source not in SOURCES:
        raise EstimateError(f"Invalid source {source!r}: expected one of {', '.join(SOURCES)}.")
    if isinstance(parallel_tasks, bool) or not isinstance(parallel_tasks, int) or parallel_tasks < 1:
        raise EstimateError(f"Invalid parallel_tasks {parallel_tasks!r}: expected a positive integer.")
    notes = list(notes)
    objects = sum(counts)
    batches = len(counts)
    largest = max(counts, default=0)

    rate = direct_rate(engine, work)
    if direct_objects_per_second is not None:
        rate = _positive("direct_objects_per_second", direct_objects_per_second)
    cap = None if s3_writes_per_second is None else _positive("s3_writes_per_second", s3_writes_per_second)
    startup = _non_negative("batch_startup_seconds", batch_startup_seconds)
    batch_rate = _positive("batch_objects_per_second", batch_objects_per_second)

    # -- direct --------------------------------------------------------------------------------------
    direct_get = objects if work.reads else 0
    writes = 0 if work.dry_run else objects
    direct_put = writes
    if source == "bucket":
        direct_put += sum(math.ceil(count / LIST_PAGE_SIZE) for count in counts)  # LIST is PUT-class
    elif source == "manifest":
        direct_get += batches
    elif source == "inventory_manifest":
        direct_get += 2 * batches
    if work.undo_log and not work.dry_run:
        direct_put += sum(math.ceil(count / undo_chunk_size) for count in counts)
    running = min(parallel_tasks, batches) if batches else 0
    waves = math.ceil(batches / running) if running else 0
    direct_seconds = waves * largest / rate
    how = f"{batches:,} tasks, {running:,} at a time, {rate:,.0f} objects/s each"
    if cap is not None and writes and writes / cap > direct_seconds:
        direct_seconds = writes / cap
        how += f"; capped at S3's {cap:,.0f} writes/s per prefix"
    direct = PathEstimate(
        path=DIRECT,
        get_requests=direct_get,
        put_requests=direct_put,
        request_fees=_request_fees(prices, direct_get, direct_put),
        batch_fees=0.0,
        seconds=direct_seconds,
        how=how,
    )

    # -- batch ---------------------------------------------------------------------------------------
    cannot = work.batch_cannot()
    batch_put = objects + (1 if source == "objects" else 0)
    batch = PathEstimate(
        path=BATCH,
        get_requests=0,
        put_requests=batch_put,
        request_fees=_request_fees(prices, 0, batch_put),
        batch_fees=prices.batch_per_job + objects / 1_000_000 * prices.batch_per_million_objects,
        seconds=startup + objects / batch_rate,
        how=f"1 job: start-up {startup:,.0f} s, then {batch_rate:,.0f} objects/s",
        possible=not cannot and objects > 0,
        why_not=tuple(cannot)
        if cannot
        else (() if objects else ("no objects (an empty manifest is no job)",)),
    )
    return TaggingEstimate(
        objects=objects,
        batches=batches,
        source=source,
        region=prices.region,
        prices=prices,
        parallel_tasks=parallel_tasks,
        direct=direct,
        batch=batch,
        notes=tuple(notes),
    )


def _request_fees(prices: S3Prices, get: int, put: int) -> float:
    return get / 1000 * prices.get_per_1000 + put / 1000 * prices.put_per_1000
