"""AdaptivePermits: waiters asking ``first`` (the engine's writes) are served before the others."""

from __future__ import annotations

import asyncio

from airflow_s3_batch_tagging.rate import AdaptivePermits


async def test_first_waiters_go_before_earlier_waiters() -> None:
    permits = AdaptivePermits(1, adaptive=False)
    order: list[str] = []

    async def request(name: str, first: bool) -> None:
        token = await permits.acquire(first=first)
        order.append(name)
        await asyncio.sleep(0)
        permits.release(token, throttled=False)

    holder = await permits.acquire()
    tasks = [asyncio.ensure_future(request(f"read-{i}", False)) for i in range(3)]
    tasks += [asyncio.ensure_future(request(f"write-{i}", True)) for i in range(2)]
    await asyncio.sleep(0)  # every request is waiting now, in that order
    permits.release(holder, throttled=False)
    await asyncio.gather(*tasks)
    assert order == ["write-0", "write-1", "read-0", "read-1", "read-2"]
    assert permits.in_flight == 0


async def test_a_cancelled_first_waiter_leaves_its_queue() -> None:
    permits = AdaptivePermits(1, adaptive=False)
    holder = await permits.acquire()
    waiting = asyncio.ensure_future(permits.acquire(first=True))
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    permits.release(holder, throttled=False)
    assert permits.in_flight == 0
    assert await permits.acquire() == 0
    assert permits.in_flight == 1
