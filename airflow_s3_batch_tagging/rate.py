"""Adaptive in-flight permits: the direct engine's rate control, so one task rides S3's ceiling.

S3 accepts a fixed number of writes per second per partitioned prefix and answers ``SlowDown``
(503) above it. At a given latency, requests in flight set the request rate (rate = in flight /
latency), so the controller adjusts a window of in-flight permits as TCP does (AIMD): it grows by
one permit per window of successes (about one per round trip) and, on a throttled answer, shrinks to
``decrease`` of itself, once per round trip (answers to requests sent before the last cut do not
cut again). Until the first throttle it grows by one per success (slow start: doubling per round
trip). It never goes above ``limit`` (the task's ``concurrency``) nor below one.

Waiters are served in order, except that those asking ``first`` (the engine's writes) go before the
others (its reads): a write then follows its object's read by about one wait for a permit, not by
the reads of a whole chunk, which keeps short the window in which another writer's tags can be lost
(S3 has no conditional write for tags).
"""

from __future__ import annotations

import asyncio
from collections import deque

DEFAULT_DECREASE = 0.8
"""Share of the window kept after a throttled answer."""
INITIAL_WINDOW = 32
"""Permits before the first answer when adapting (slow start doubles it per round trip)."""


class AdaptivePermits:
    """In-flight permits whose number follows S3's throttling (or stays at ``limit`` if not ``adaptive``).

    ``token = await permits.acquire()`` (or ``acquire(first=True)``) before a request;
    ``permits.release(token, throttled=...)`` after its answer (``throttled=None``: no verdict, such
    as a cancelled or failed-to-send request).
    """

    def __init__(self, limit: int, *, adaptive: bool = True, decrease: float = DEFAULT_DECREASE) -> None:
        if limit < 1:
            raise ValueError(f"Invalid concurrency {limit!r}: it must be at least 1.")
        if not 0 < decrease < 1:
            raise ValueError(f"Invalid decrease {decrease!r}: it must be between 0 and 1.")
        self.limit = limit
        self.adaptive = adaptive
        self.decrease = decrease
        self.window = float(min(limit, INITIAL_WINDOW) if adaptive else limit)
        self.allowed = max(1, int(self.window))
        """Requests allowed in flight now (the window's whole part, kept with it)."""
        self.in_flight = 0
        self.slow_start = adaptive
        self.cuts = 0
        self.throttled = 0
        self.answers = 0
        self._epoch = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._first_waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self, *, first: bool = False) -> int:
        """Wait for a permit; return the token to release it with. ``first``: served before the
        waiters that did not ask for it."""
        if self.in_flight >= self.allowed or self._waiters or self._first_waiters:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            queue = self._first_waiters if first else self._waiters
            queue.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    # Woken and cancelled at once: the permit it was given goes on to the next.
                    self.in_flight -= 1
                    self._wake()
                elif waiter in queue:
                    queue.remove(waiter)
                raise
        else:
            self.in_flight += 1
        return self._epoch

    def release(self, token: int, *, throttled: bool | None) -> None:
        """Give a permit back with its request's verdict: throttled, answered, or none."""
        self.in_flight -= 1
        if throttled is not None:
            self.answers += 1
            if throttled:
                self.throttled += 1
        if self.adaptive and throttled is not None:
            if throttled:
                if token == self._epoch:
                    self.window = max(1.0, self.window * self.decrease)
                    self.allowed = max(1, int(self.window))
                    self.slow_start = False
                    self._epoch += 1
                    self.cuts += 1
            elif self.window < self.limit:
                self.window = min(
                    float(self.limit), self.window + (1.0 if self.slow_start else 1.0 / self.window)
                )
                self.allowed = int(self.window)
        if self._waiters or self._first_waiters:
            self._wake()

    def _wake(self) -> None:
        while (self._first_waiters or self._waiters) and self.in_flight < self.allowed:
            waiter = (self._first_waiters or self._waiters).popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)
