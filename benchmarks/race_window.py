"""How long a conditional (or merge) run holds an object's tags between its read and its write.

S3 has no conditional write for tags: the engine reads an object's tags (``GetObjectTagging``),
judges the condition and computes the result, then writes (``PutObjectTagging``). A tag another
writer sets on the same object in between is lost. This measures that window per object, on the
direct engine's public API over the aiobotocore transport and the default concurrency,
against the fake S3 server (``benchmarks.fake_s3``) at a given latency, by wrapping the transport
with clocks:

- ``hold``: from the read's answer reaching the engine to the write being sent. S3 read the tags
  before it answered and applies the write after it arrives, so the window at S3 is at least this.
- ``bound``: from the read being sent to the write's answer. S3 read after the first and wrote
  before the second, so the window at S3 is at most this.

Scenarios: ``condition`` (``only_if_tags`` + ``unless_tag_keys`` with ``mode="merge"``: each object
is read and written by one coroutine) and ``condition_undo`` (the same with an undo log: a whole
chunk is read, its undo part written, then its objects are written). A tenth of the objects carry
``legal-hold`` and must be skipped (checked). Each scenario runs twice: as the engine is (writes
take permits before waiting reads) and with first-come permits (``fifo``, the engine before that
change), the baseline.

Run: ``.venv/bin/python -m benchmarks.race_window [--objects 5000] [--latency 0.02]``; prints one JSON
object and a Markdown table. Figures depend on the machine's load; this is not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import time
from typing import Any

from benchmarks.direct_bench import BUCKET, async_client_kwargs
from benchmarks.fake_s3 import FakeS3Process

HOT = {"tier": "hot", "owner": "team-a"}
HELD = {"tier": "hot", "legal-hold": "on"}
NEW = {"tier": "warm"}
SCENARIOS = ("condition", "condition_undo")
# The botocore settings the hook gives the transports' client (one attempt: the engine retries).
CLIENT_SETTINGS: dict[str, Any] = {
    "max_pool_connections": 130,
    "retries": {"mode": "standard", "total_max_attempts": 1},
    "parameter_validation": False,
}


class ClockedTransport:
    """Wraps a transport: per object, when its last read was sent and answered, and when its write
    was sent and answered (``time.perf_counter``)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.read_sent: dict[Any, float] = {}
        self.read_answered: dict[Any, float] = {}
        self.write_sent: dict[Any, float] = {}
        self.write_answered: dict[Any, float] = {}

    async def get_tagging(self, ref: Any, owner: str | None) -> Any:
        self.read_sent[ref] = time.perf_counter()
        tags = await self.inner.get_tagging(ref, owner)
        self.read_answered[ref] = time.perf_counter()
        return tags

    async def put_tagging(self, ref: Any, tags: Any, owner: str | None) -> None:
        self.write_sent[ref] = time.perf_counter()
        await self.inner.put_tagging(ref, tags, owner)
        self.write_answered[ref] = time.perf_counter()

    async def delete_tagging(self, ref: Any, owner: str | None) -> None:
        self.write_sent[ref] = time.perf_counter()
        await self.inner.delete_tagging(ref, owner)
        self.write_answered[ref] = time.perf_counter()

    def windows(self) -> tuple[list[float], list[float]]:
        """``hold`` and ``bound`` in milliseconds, one each per object written."""
        written = [ref for ref in self.write_answered if ref in self.read_answered]
        hold = [(self.write_sent[ref] - self.read_answered[ref]) * 1000 for ref in written]
        bound = [(self.write_answered[ref] - self.read_sent[ref]) * 1000 for ref in written]
        return hold, bound


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` from 0 to 1) of ``values``."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered), math.ceil(share * len(ordered))) - 1)]


def summarize(values: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(values), 1),
        "p99_ms": round(percentile(values, 0.99), 1),
        "max_ms": round(max(values), 1),
    }


def measure(
    endpoint_url: str,
    scenario: str,
    count: int,
    prefix: str,
    *,
    concurrency: int | None = None,
    chunk_size: int | None = None,
    fifo: bool = False,
) -> dict[str, Any]:
    """One run of ``scenario`` over ``count`` seeded objects (``{prefix}N``, a tenth of them held)."""
    from aiobotocore.session import get_session

    from airflow_s3_batch_tagging import tagging_engine
    from airflow_s3_batch_tagging.conditions import TagCondition
    from airflow_s3_batch_tagging.objects import ObjectRef, S3Location
    from airflow_s3_batch_tagging.rate import AdaptivePermits
    from airflow_s3_batch_tagging.tags import TagSet
    from airflow_s3_batch_tagging.transports.botocore import AiobotocoreTransport
    from airflow_s3_batch_tagging.undo import UndoLogWriter
    from benchmarks.direct_bench import make_client

    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose from {SCENARIOS}")
    held = count // 10
    refs = [ObjectRef(BUCKET, f"{prefix}{i}") for i in range(count - held)]
    refs += [ObjectRef(BUCKET, f"{prefix}held-{i}") for i in range(held)]
    options: dict[str, Any] = {
        "tags": TagSet(NEW),
        "mode": "merge",
        "condition": TagCondition.parse({"tier": "hot"}, ["legal-hold"]),
    }
    if concurrency is not None:
        options["concurrency"] = concurrency
    if chunk_size is not None:
        options["chunk_size"] = chunk_size
    if scenario == "condition_undo":
        writer_client = make_client(endpoint_url, max_pool_connections=4)
        options["undo_log"] = UndoLogWriter(writer_client, S3Location(BUCKET, f"undo/{prefix}"))

    if fifo:
        # The baseline: every request waits its turn, writes behind the reads queued before them.
        first_served = AdaptivePermits.acquire

        async def first_come(self: AdaptivePermits, *, first: bool = False) -> int:
            return await first_served(self)

        AdaptivePermits.acquire = first_come  # type: ignore[method-assign]

    async def main() -> tuple[Any, ClockedTransport, float]:
        async with get_session().create_client(
            "s3", **async_client_kwargs(endpoint_url, CLIENT_SETTINGS)
        ) as client:
            clocked = ClockedTransport(AiobotocoreTransport(client))
            await clocked.inner.get_tagging(refs[0], None)  # warm-up: connection and signer
            started = time.perf_counter()
            result = await tagging_engine.TaggingEngine(clocked, **options).run((ref, None) for ref in refs)
            return result, clocked, time.perf_counter() - started

    try:
        result, clocked, seconds = asyncio.run(main())
    finally:
        if fifo:
            AdaptivePermits.acquire = first_served  # type: ignore[method-assign]
    hold, bound = clocked.windows()
    if result.failed or result.written != count - held or result.skipped_by_condition != held:
        raise AssertionError(f"unexpected result: {result.to_dict()}")
    if len(hold) != count - held:
        raise AssertionError(f"{len(hold)} objects timed, {count - held} written")
    return {
        "scenario": scenario,
        "permits": "fifo" if fifo else "writes first",
        "objects": count,
        "written": result.written,
        "skipped_by_condition": result.skipped_by_condition,
        "concurrency": options.get("concurrency", tagging_engine.DEFAULT_CONCURRENCY),
        "chunk_size": options.get("chunk_size", tagging_engine.DEFAULT_CHUNK_SIZE),
        "undo_parts": len(result.undo_log_parts),
        "seconds": round(seconds, 2),
        "objects_per_second": round(count / seconds, 1),
        "hold": summarize(hold),
        "bound": summarize(bound),
    }


def run(count: int, latency: float, repeats: int, chunk_size: int | None = None) -> dict[str, Any]:
    """Every scenario ``repeats`` times on a fresh fake S3 server at ``latency`` seconds per answer."""
    runs: list[dict[str, Any]] = []
    with FakeS3Process(latency=latency) as server:
        for repeat in range(repeats):
            for scenario, fifo in [(name, fifo) for name in SCENARIOS for fifo in (False, True)]:
                prefix = f"{scenario}/{repeat}/{'fifo' if fifo else 'first'}/"
                server.reset()
                server.seed_objects(BUCKET, prefix, count - count // 10, HOT)
                server.seed_objects(BUCKET, f"{prefix}held-", count // 10, HELD)
                figures = measure(
                    server.endpoint_url, scenario, count, prefix, chunk_size=chunk_size, fifo=fifo
                )
                written = server.count(BUCKET, prefix, {**HOT, **NEW})
                if (
                    written != count - count // 10
                    or server.count(BUCKET, f"{prefix}held-", HELD) != count // 10
                ):
                    raise AssertionError(f"{scenario}: {written} objects carry the new tags")
                runs.append(figures)
    return {"latency_seconds": latency, "objects": count, "repeats": repeats, "runs": runs}


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| scenario | permits | objects/s | hold median | hold p99 | bound median | bound p99 |",
        "|---|---|---|---|---|---|---|",
    ]
    for figures in results["runs"]:
        hold, bound = figures["hold"], figures["bound"]
        lines.append(
            f"| {figures['scenario']} | {figures['permits']} | {figures['objects_per_second']:,.0f} | "
            f"{hold['median_ms']} ms | {hold['p99_ms']} ms | {bound['median_ms']} ms | {bound['p99_ms']} ms |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--objects", type=int, default=5000)
    parser.add_argument("--latency", type=float, default=0.020, help="seconds before each S3 answer")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--chunk-size", type=int, default=None, help="the engine's chunk_size (default: its own)"
    )
    args = parser.parse_args(argv)
    results = run(args.objects, args.latency, args.repeats, args.chunk_size)
    print(json.dumps(results, indent=2))
    print(markdown(results))


if __name__ == "__main__":
    main()
