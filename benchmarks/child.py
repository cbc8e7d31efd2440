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
from collections.abc import Callable
from typing import Any

Measurement = Callable[..., dict[str, Any]]


def _registry() -> dict[str, Measurement]:
    from benchmarks import direct_bench, manifest_bench

    return {**manifest_bench.MEASUREMENTS, **direct_bench.MEASUREMENTS}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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
