"""Run one measurement in a fresh process, so its peak RSS is its own.

``python -m benchmarks.child NAME JSON`` prints one JSON line: the measurement's figures plus
``max_rss_mb`` (the process's peak resident set, ``ru_maxrss``) and ``rss_before_mb`` (the peak after
imports, before the measurement ran).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

Measurement = Callable[..., dict[str, Any]]


def _registry() -> dict[str, Measurement]:
    from benchmarks import direct_bench, manifest_bench, redrive_bench

    return {**manifest_bench.MEASUREMENTS, **direct_bench.MEASUREMENTS, **redrive_bench.MEASUREMENTS}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def busy_cores(seconds: float = 0.5) -> float:
    """How many cores were busy (any process) over ``seconds``, from ``/proc/stat``; 0 when unknown."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields), idle

    try:
        total_before, idle_before = sample()
        time.sleep(seconds)
        total_after, idle_after = sample()
    except (OSError, ValueError, IndexError):
        return 0.0
    total = total_after - total_before
    busy = total - (idle_after - idle_before)
    return (os.cpu_count() or 1) * busy / total if total > 0 else 0.0


class QuietWaiter:
    """Before each run, wait (within a budget) until the machine is quiet; record the load found.

    Other processes on a shared machine steal CPU from the measured client and the fake server;
    the CPU-time figures barely change, throughput does.
    """

    def __init__(self, *, threshold: float = 0.5, max_wait: float = 10.0, budget: float = 120.0) -> None:
        self.threshold = threshold
        self.max_wait = max_wait
        self.budget = budget
        self.waited = 0.0
        self.samples: list[float] = []

    def wait(self) -> float:
        started = time.monotonic()
        busy = busy_cores()
        while busy > self.threshold and time.monotonic() - started < min(self.max_wait, self.budget):
            time.sleep(1.5)
            busy = busy_cores()
        spent = time.monotonic() - started
        self.budget = max(0.0, self.budget - spent)
        self.waited += spent
        self.samples.append(busy)
        return busy


def run_in_child(name: str, params: dict[str, Any], *, timeout: float = 900) -> dict[str, Any]:
    """Run measurement ``name`` with ``params`` in a new Python process and return its figures."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.child", name, json.dumps(params)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"Measurement {name} {params} failed (exit {completed.returncode}):\n{completed.stderr[-3000:]}"
        )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    name, params = sys.argv[1], json.loads(sys.argv[2])
    measurement = _registry()[name]
    before = peak_rss_mb()
    result = measurement(**params)
    result["rss_before_mb"] = before
    result["max_rss_mb"] = peak_rss_mb()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
