"""The read-to-write window measurement (benchmarks/race_window.py) times every written object and
only those, on the fake S3 server; no figure is asserted, only that the measurement is whole."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from airflow_s3_batch_tagging.tagging_engine import DEFAULT_CONCURRENCY
from benchmarks import race_window

pytestmark = pytest.mark.e2e


class Answering:
    name = "memory"

    async def get_tagging(self, ref: Any, owner: str | None) -> dict[str, str]:
        await asyncio.sleep(0.001)
        return {}

    async def put_tagging(self, ref: Any, tags: Any, owner: str | None) -> None:
        await asyncio.sleep(0.001)

    async def delete_tagging(self, ref: Any, owner: str | None) -> None:
        await asyncio.sleep(0.001)


def test_clocks_order_read_and_write_of_each_object() -> None:
    clocked = race_window.ClockedTransport(Answering())

    async def one(key: str, write: bool) -> None:
        await clocked.get_tagging(key, None)
        if write:
            await asyncio.sleep(0.005)
            await clocked.put_tagging(key, {}, None)

    async def main() -> None:
        await asyncio.gather(one("a", True), one("b", False), one("c", True))

    asyncio.run(main())
    hold, bound = clocked.windows()
    assert len(hold) == len(bound) == 2  # "b" was read, never written: not a window
    assert all(h >= 5 for h in hold)
    assert all(b > h for h, b in zip(hold, bound, strict=True))


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert race_window.percentile(values, 0.99) == 99.0
    assert race_window.percentile(values, 0.5) == 50.0
    assert race_window.percentile([3.0], 0.99) == 3.0


def test_every_scenario_times_each_written_object() -> None:
    results = race_window.run(count=60, latency=0.002, repeats=1)
    assert [(r["scenario"], r["permits"]) for r in results["runs"]] == [
        ("condition", "writes first"),
        ("condition", "fifo"),
        ("condition_undo", "writes first"),
        ("condition_undo", "fifo"),
    ]
    for figures in results["runs"]:
        assert (figures["written"], figures["skipped_by_condition"]) == (54, 6)
        assert figures["concurrency"] == DEFAULT_CONCURRENCY
        assert 0 <= figures["hold"]["median_ms"] <= figures["hold"]["p99_ms"] <= figures["hold"]["max_ms"]
        assert figures["bound"]["median_ms"] >= figures["hold"]["median_ms"]
    assert [r["undo_parts"] for r in results["runs"]] == [0, 0, 1, 1]
    assert "| condition_undo |" in race_window.markdown(results)
