"""``make bench``: measure both paths against baselines measured in the same run; write BENCHMARKS.md.

Every figure is the median of several runs, each in a fresh child process (so peak RSS is the
measurement's own). The direct-path figures run against ``benchmarks.fake_s3``, a local S3 endpoint
in its own process; the server's own capacity is measured first to show it is not the bottleneck.

    python -m benchmarks.run            # the full run (the issue's sizes), about 10 minutes on 2 cores
    python -m benchmarks.run --quick    # everything scaled down about 10x, to try the harness
    python -m benchmarks.run --only manifest,plan --output /tmp/b.md
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
import os
import pickle
import platform
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks import direct_bench, manifest_bench, redrive_bench
from benchmarks.child import QuietWaiter, run_in_child
from benchmarks.fake_s3 import FakeS3Process, load_test

SECTIONS = ("server", "direct", "manifest", "report", "redrive", "plan")
CEILING_CONCURRENCY = 128
"""Requests in flight of the extra row at 50 ms, below the default: by Little's law 3,500/s there need
175 in flight, so 128 shows what a smaller default would give up (left out if it is the default)."""
FALLBACK_ENGINE = "aiobotocore"
"""What ``engine="auto"`` runs where crt cannot serve the connection (moto's ``mock_aws`` aside): its
concurrency sweep is measured too, to show the default concurrency if it were the default."""
WRITE_CEILING = 3500.0
"""S3's documented writes per second per partitioned prefix, enforced by the fake server's token bucket."""
QUIET = QuietWaiter(budget=60.0)
M = 1_000_000


@dataclass
class Sizes:
    runs: int = 3
    # Objects per run of section 1-2, per transport (crt_*; aiobotocore: direct_, merge_ and
    # slowdown_objects; threads_*): each run lasts a few seconds at that transport's rate (crt
    # about 3,000 objects/s replacing, 900 merging, 350 under SlowDown; aiobotocore about 700
    # replacing, threads 400).
    crt_objects: int = 20_000
    crt_merge_objects: int = 6_000
    crt_slowdown_objects: int = 3_000
    direct_objects: int = 20_000
    threads_objects: int = 10_000
    merge_objects: int = 10_000
    threads_merge_objects: int = 3_000
    slowdown_objects: int = 3_000
    threads_slowdown_objects: int = 1_500
    botocore_defaults_objects: int = 6_000
    asyncio_objects: int = 6_000
    overhead_objects: int = 5_000
    naive_objects: int = 500
    ceiling_calls: int = 2_000
    sweep: tuple[int, ...] = (16, 32, 64, 128, 256)
    sweep_latencies: tuple[float, ...] = (0.020, 0.050)
    sweep_objects_per_request: int = 40
    sweep_min_objects: int = 1_500
    sweep_max_objects: int = 6_000
    manifest_keys: tuple[int, ...] = (1 * M, 10 * M)
    report_rows: int = 1 * M
    redrive_rows: tuple[int, ...] = (1 * M, 10 * M)
    plan_keys: int = 10 * M
    plan_batch_size: int = 10_000
    load_seconds: float = 2.0
    s3_ceiling_objects: int = 20_000
    s3_ceiling_latencies: tuple[float, ...] = (0.020, 0.050)

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            runs=3,
            crt_objects=4_000,
            crt_merge_objects=2_000,
            crt_slowdown_objects=1_000,
            direct_objects=2_000,
            threads_objects=1_000,
            merge_objects=2_000,
            threads_merge_objects=500,
            slowdown_objects=1_000,
            threads_slowdown_objects=500,
            botocore_defaults_objects=1_000,
            asyncio_objects=1_000,
            overhead_objects=1_000,
            naive_objects=100,
            ceiling_calls=1_000,
            sweep=(16, 64, 256),
            sweep_objects_per_request=10,
            sweep_min_objects=400,
            sweep_max_objects=1_500,
            manifest_keys=(100_000, 1 * M),
            report_rows=100_000,
            redrive_rows=(100_000, 1 * M),
            plan_keys=1 * M,
            plan_batch_size=1_000,
            load_seconds=1.0,
            s3_ceiling_objects=10_000,
        )


@dataclass
class Figure:
    """The runs of one measurement and their medians."""

    name: str
    runs: list[dict[str, Any]] = field(default_factory=list)

    def median(self, key: str) -> float:
        return float(statistics.median(float(run[key]) for run in self.runs))

    def spread(self, key: str) -> tuple[float, float]:
        values = [float(run[key]) for run in self.runs]
        return min(values), max(values)

    def total(self, key: str) -> float:
        return float(sum(float(run[key]) for run in self.runs))


def measure(
    name: str,
    params: dict[str, Any],
    runs: int,
    before: Callable[[int], None] | None = None,
    after: Callable[[int, dict[str, Any]], None] | None = None,
) -> Figure:
    figure = Figure(name)
    for index in range(runs):
        if before is not None:
            before(index)
        busy = QUIET.wait()
        result = run_in_child(name, params)
        result["busy_cores_before"] = busy
        if after is not None:
            after(index, result)
        figure.runs.append(result)
        print(f"  {name} run {index + 1}/{runs}: {_short(result)}", flush=True)
    return figure


def _short(result: dict[str, Any]) -> str:
    keys = (
        "objects_per_second",
        "keys_per_second",
        "rows_per_second",
        "calls_per_second",
        "cpu_ms_per_object",
        "cpu_ms_per_call",
        "seconds",
        "max_rss_mb",
        "lost",
        "failed",
    )
    return ", ".join(f"{k}={result[k]:.4g}" for k in keys if k in result)


# -- sections --------------------------------------------------------------------------------------
def bench_server(sizes: Sizes, results: dict[str, Any]) -> None:
    print("Fake S3 server capacity", flush=True)
    rows = []
    with FakeS3Process(latency=0.0) as server:
        for latency, connections in ((0.0, 64), (0.020, 64), (0.020, 256)):
            server.configure(latency=latency)
            row = load_test(server, connections=connections, seconds=sizes.load_seconds)
            row["latency_ms"] = latency * 1000
            rows.append(row)
            print(
                f"  latency {latency * 1000:.0f} ms, {connections} connections: "
                f"{row['requests_per_second']:.0f} req/s, "
                f"{row['server_cpu_us_per_request']:.0f} us CPU/request",
                flush=True,
            )
    results["server"] = rows


def bench_direct(sizes: Sizes, results: dict[str, Any]) -> None:
    engine_available = importlib.util.find_spec("airflow_s3_batch_tagging.tagging_engine") is not None
    runs = sizes.runs
    with FakeS3Process(latency=0.0) as server:
        url = server.endpoint_url

        def fresh(
            latency: float, slowdown: float = 0.0, seed_prefix: str | None = None, count: int = 0
        ) -> Callable[[int], None]:
            def before(index: int) -> None:
                server.reset()
                server.configure(latency=latency, slowdown=slowdown, seed=index + 1)
                if seed_prefix is not None:
                    server.seed_objects(direct_bench.BUCKET, seed_prefix, count, direct_bench.OLD_TAGS)

            return before

        def check(prefix: str, count: int, tags: dict[str, str]) -> Callable[[int, dict[str, Any]], None]:
            def after(index: int, result: dict[str, Any]) -> None:
                result["lost"] = count - server.count(direct_bench.BUCKET, prefix, tags)
                stats = server.stats()
                result["server_requests"] = stats.get("requests", 0)
                result["server_slowdowns"] = stats.get("slowdown", 0)

            return after

        print("Bare botocore ceiling (zero latency)", flush=True)
        ceiling = {}
        for variant in direct_bench.CLIENT_VARIANTS:
            params = {"endpoint_url": url, "count": sizes.ceiling_calls, "prefix": "c/", "variant": variant}
            ceiling[variant] = measure("botocore_ceiling", params, runs, fresh(0.0))
        results["ceiling"] = ceiling

        print("Naive sequential put_object_tagging loop (20 ms)", flush=True)
        params = {"endpoint_url": url, "count": sizes.naive_objects, "prefix": "n/"}
        results["naive"] = measure("naive_loop", params, runs, fresh(0.020))

        if not engine_available:
            results["direct_skipped"] = "airflow_s3_batch_tagging.tagging_engine is not importable yet"
            return
        defaults = direct_bench.engine_defaults()
        results["engine_defaults"] = defaults
        default_concurrency = int(defaults["concurrency"])
        hook = run_in_child(
            "hook_client_config",
            {
                "concurrencies": sorted({default_concurrency, CEILING_CONCURRENCY, *sizes.sweep}),
                "endpoint_url": url,
            },
        )
        configs = hook["configs"]
        results["client_config"] = configs[str(default_concurrency)]
        # The transport the product's default engine runs here, as the hook chose it (for
        # engine="auto": crt, since the fake server's connection has credentials and no proxy).
        default_engine = str(hook["transport"])
        results["default_engine"] = default_engine
        results["default_engine_setting"] = hook["engine"]
        results["default_engine_why"] = hook["why"]
        # The default transport first, then the others, for the comparisons.
        transports = list(dict.fromkeys((default_engine, *direct_bench.ENGINES)))
        results["transports"] = transports
        new = direct_bench.NEW_TAGS

        def engine(count: int, prefix: str, concurrency: int | None = None, **options: Any) -> dict[str, Any]:
            config = configs[str(concurrency or default_concurrency)]
            params = {"endpoint_url": url, "count": count, "prefix": prefix, "client_config": config}
            if concurrency is not None:
                params["concurrency"] = concurrency
            return {**params, **options}

        # Each figure over every transport, the default first: results[f"{figure}_{transport}"].
        counts = {
            "replace": {
                "crt": sizes.crt_objects,
                "aiobotocore": sizes.direct_objects,
                "threads": sizes.threads_objects,
            },
            "merge": {
                "crt": sizes.crt_merge_objects,
                "aiobotocore": sizes.merge_objects,
                "threads": sizes.threads_merge_objects,
            },
            "slowdown": {
                "crt": sizes.crt_slowdown_objects,
                "aiobotocore": sizes.slowdown_objects,
                "threads": sizes.threads_slowdown_objects,
            },
        }
        print("Direct engine, replace, default settings (20 ms)", flush=True)
        for transport in transports:
            count = counts["replace"][transport]
            results[f"replace_{transport}"] = measure(
                "direct_engine",
                engine(count, "d/", engine=transport),
                runs,
                fresh(0.020),
                check("d/", count, new),
            )

        print("Direct engine, merge with undo log (20 ms)", flush=True)
        merged = {**direct_bench.OLD_TAGS, **new}
        for transport in transports:
            count = counts["merge"][transport]
            results[f"merge_{transport}"] = measure(
                "direct_engine",
                engine(count, "m/", mode="merge", undo_log=True, engine=transport),
                runs,
                fresh(0.020, seed_prefix="m/", count=count),
                check("m/", count, merged),
            )

        print("Direct engine, replace under 10% SlowDown (20 ms)", flush=True)
        for transport in transports:
            count = counts["slowdown"][transport]
            results[f"slowdown_{transport}"] = measure(
                "direct_engine",
                engine(count, "s/", engine=transport),
                runs,
                fresh(0.020, 0.10),
                check("s/", count, new),
            )

        print("Direct engine, replace, botocore's default client settings (20 ms)", flush=True)
        count = sizes.botocore_defaults_objects
        results["botocore_defaults"] = measure(
            "direct_engine",
            engine(count, "g/", client_variant=direct_bench.BOTOCORE_DEFAULTS, engine="aiobotocore"),
            runs,
            fresh(0.020),
            check("g/", count, new),
        )

        print("Bare aiobotocore, no engine: coroutines at the default concurrency (20 ms)", flush=True)
        count = sizes.asyncio_objects
        loops = ["asyncio"] + (["uvloop"] if importlib.util.find_spec("uvloop") is not None else [])
        results["aiobotocore"] = {
            loop: measure(
                "aiobotocore_concurrent",
                {
                    "endpoint_url": url,
                    "count": count,
                    "prefix": "a/",
                    "concurrency": default_concurrency,
                    "client_config": results["client_config"],
                    "loop": loop,
                },
                runs,
                fresh(0.020),
                check("a/", count, new),
            )
            for loop in loops
        }

        print("Direct engines over a client that makes no request", flush=True)
        results["overhead"] = {
            engine_name: {
                latency: measure(
                    "engine_overhead",
                    {"count": sizes.overhead_objects, "latency": latency, "engine": engine_name},
                    runs,
                )
                for latency in (0.0, 0.020)
            }
            for engine_name in direct_bench.OVERHEAD_ENGINES
        }

        bench_s3_ceiling(sizes, results, server, engine, check)
        # The default transport's sweep picks the default concurrency; the fallback transport's is
        # measured too (when it is not the default) to show what the default would be if it were.
        by_engine: dict[str, dict[float, dict[int, Figure]]] = {}
        for swept in dict.fromkeys((default_engine, FALLBACK_ENGINE)):
            sweeps: dict[float, dict[int, Figure]] = {}
            for latency in sizes.sweep_latencies:
                print(f"Concurrency sweep, {swept} transport ({latency * 1000:.0f} ms)", flush=True)
                sweep = {}
                for concurrency in sizes.sweep:
                    count = min(
                        max(concurrency * sizes.sweep_objects_per_request, sizes.sweep_min_objects),
                        sizes.sweep_max_objects,
                    )
                    sweep[concurrency] = measure(
                        "direct_engine",
                        engine(count, "w/", concurrency, engine=swept),
                        runs,
                        fresh(latency),
                        check("w/", count, new),
                    )
                sweeps[latency] = sweep
            by_engine[swept] = sweeps
        results["sweep"] = by_engine[default_engine]
        results["sweep_by_engine"] = by_engine


def bench_s3_ceiling(
    sizes: Sizes,
    results: dict[str, Any],
    server: FakeS3Process,
    engine: Callable[..., dict[str, Any]],
    check: Callable[[str, int, dict[str, str]], Callable[[int, dict[str, Any]], None]],
) -> None:
    """Every transport, default settings, against S3's per-prefix write ceiling (SlowDown above it)."""
    count = sizes.s3_ceiling_objects
    new = direct_bench.NEW_TAGS
    figures: dict[float, dict[str, Figure]] = {}
    for latency in sizes.s3_ceiling_latencies:
        rows: dict[str, Figure] = {}
        variants: list[tuple[str, str, bool, int | None]] = [
            (name, name, True, None) for name in results["transports"]
        ]
        default = results["default_engine"]
        if latency == sizes.s3_ceiling_latencies[0]:
            variants.append((f"{default}, no rate control", default, False, None))
        elif results["engine_defaults"]["concurrency"] != CEILING_CONCURRENCY:
            # Little's law: 3,500/s at 50 ms needs 175 requests in flight.
            variants.append(
                (f"{default}, concurrency {CEILING_CONCURRENCY}", default, True, CEILING_CONCURRENCY)
            )
        for label, transport, rate_control, concurrency in variants:
            print(
                f"S3 write ceiling {WRITE_CEILING:.0f}/s per prefix, {label} ({latency * 1000:.0f} ms)",
                flush=True,
            )

            server_cpu: list[float] = []

            def before(index: int, latency: float = latency, server_cpu: list[float] = server_cpu) -> None:
                server.reset()
                server.configure(latency=latency, slowdown=0.0, seed=index + 1, write_rate=WRITE_CEILING)
                server_cpu[:] = [float(server.stats()["cpu_seconds"])]

            def after(index: int, result: dict[str, Any], server_cpu: list[float] = server_cpu) -> None:
                check("p/", count, new)(index, result)
                # Cores busy during the run: the client's (this task) and the fake server's, which
                # share the machine.
                seconds = float(result["seconds"])
                result["client_cores"] = float(result["cpu_ms_per_object"]) * count / 1000 / seconds
                result["server_cores"] = (float(server.stats()["cpu_seconds"]) - server_cpu[0]) / seconds

            rows[label] = measure(
                "direct_engine",
                engine(count, "p/", concurrency, engine=transport, rate_control=rate_control),
                sizes.runs,
                before,
                after,
            )
        figures[latency] = rows
    server.configure(write_rate=0)
    results["s3_ceiling"] = figures
    results["write_ceiling"] = WRITE_CEILING


def bench_manifest(sizes: Sizes, results: dict[str, Any], workdir: str) -> None:
    figures: dict[int, dict[str, Figure]] = {}
    for keys in sizes.manifest_keys:
        path = os.path.join(workdir, f"manifest-{keys}.csv")
        print(f"CSV manifest, {keys:,} keys", flush=True)
        write = measure("manifest_write", {"count": keys, "path": path}, sizes.runs)
        read = measure("manifest_read", {"path": path, "expected": keys}, sizes.runs)
        figures[keys] = {"write": write, "read": read}
    smallest = min(sizes.manifest_keys)
    path = os.path.join(workdir, "manifest-from-strings.csv")
    print(f"CSV manifest end to end from strings, {smallest:,} keys", flush=True)
    results["manifest_from_strings"] = measure(
        "manifest_write_from_strings", {"count": smallest, "path": path}, sizes.runs
    )
    os.remove(path)
    results["manifest"] = figures


def bench_plan(sizes: Sizes, results: dict[str, Any], workdir: str) -> None:
    keys = sizes.plan_keys
    path = os.path.join(workdir, f"manifest-{keys}.csv")
    if not os.path.exists(path):
        print(f"Writing a {keys:,}-key manifest to plan", flush=True)
        run_in_child("manifest_write", {"count": keys, "path": path})
    print(f"Planning a {keys:,}-key manifest into batches of {sizes.plan_batch_size:,}", flush=True)
    params = {"path": path, "expected": keys, "batch_size": sizes.plan_batch_size}
    plan: dict[str, Any] = {"keys": keys, "batch_size": sizes.plan_batch_size}
    plan["csv"] = measure("plan_csv", params, sizes.runs)
    results["plan"] = plan
    if importlib.util.find_spec("airflow_s3_batch_tagging.planning") is None:
        return
    print(f"Direct-path planner over the {keys:,}-key manifest stored in the fake S3 server", flush=True)
    with FakeS3Process(latency=0.0) as server:
        key = f"manifests/{keys}.csv"
        client = direct_bench.make_client(server.endpoint_url)
        with open(path, "rb") as body:
            client.put_object(Bucket=direct_bench.BUCKET, Key=key, Body=body)
        params = {
            "endpoint_url": server.endpoint_url,
            "manifest": f"s3://{direct_bench.BUCKET}/{key}",
            "expected": keys,
        }
        plan["direct"] = measure("plan_direct", params, sizes.runs)


def bench_report(sizes: Sizes, results: dict[str, Any], workdir: str) -> None:
    if importlib.util.find_spec("airflow_s3_batch_tagging.report") is None:
        results["report_skipped"] = "airflow_s3_batch_tagging.report is not importable yet"
        return
    rows = sizes.report_rows
    path = os.path.join(workdir, f"report-{rows}.csv")
    manifest_bench.write_report_file(path, rows)
    print(f"Completion report, {rows:,} rows", flush=True)
    results["report"] = measure("report_parse", {"path": path, "expected": rows}, sizes.runs)


def bench_redrive(sizes: Sizes, results: dict[str, Any], workdir: str) -> None:
    figures: dict[int, Figure] = {}
    for rows in sizes.redrive_rows:
        path = os.path.join(workdir, f"failed-report-{rows}.csv")
        redrive_bench.write_failed_report(path, rows)
        print(f"Redrive manifest from a report of {rows:,} failed rows", flush=True)
        figures[rows] = measure("redrive_manifest", {"path": path, "expected": rows}, sizes.runs)
        os.remove(path)
    results["redrive"] = figures


# -- the machine -----------------------------------------------------------------------------------
def machine() -> dict[str, str]:
    def version(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    memory = "unknown"
    model = platform.processor() or "unknown"
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpus": f"{os.cpu_count()} ({model})",
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "boto3": version("boto3"),
        "botocore": version("botocore"),
        "aiobotocore": version("aiobotocore"),
        "aiohttp": version("aiohttp"),
        "awscrt": version("awscrt"),
        "uvloop (fake server only)": version("uvloop"),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the benchmarks and write BENCHMARKS.md.")
    parser.add_argument("--quick", action="store_true", help="scale every size down (about 10x)")
    parser.add_argument("--runs", type=int, help="runs per figure (default 3)")
    parser.add_argument("--only", help=f"comma-separated sections: {', '.join(SECTIONS)}")
    parser.add_argument("--output", default="BENCHMARKS.md")
    parser.add_argument("--save-results", metavar="PATH", help="also pickle the raw results to PATH")
    parser.add_argument("--render", metavar="PATH", help="only render results saved by --save-results")
    args = parser.parse_args(argv)
    from benchmarks.report_md import render

    if args.render:
        with open(args.render, "rb") as saved:
            loaded: dict[str, Any] = pickle.load(saved)
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(render(loaded))
        print(f"Wrote {args.output} from {args.render}", flush=True)
        return
    # On SIGTERM, unwind: the fake server and the running child are stopped by their context managers.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    sizes = Sizes.quick() if args.quick else Sizes()
    if args.quick:
        QUIET.budget = 0.0
    if args.runs:
        sizes.runs = args.runs
    sections = args.only.split(",") if args.only else list(SECTIONS)
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
    results: dict[str, Any] = {"machine": machine(), "sizes": sizes, "quick": args.quick}
    results["load_before"] = os.getloadavg()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="s3bt-bench-") as workdir:
        # The hook's settings are read in a child that imports Airflow: keep its files out of ~/airflow.
        os.environ.setdefault("AIRFLOW_HOME", os.path.join(workdir, "airflow-home"))
        if "server" in sections:
            bench_server(sizes, results)
        if "direct" in sections:
            bench_direct(sizes, results)
        if "manifest" in sections:
            bench_manifest(sizes, results, workdir)
        if "report" in sections:
            bench_report(sizes, results, workdir)
        if "redrive" in sections:
            bench_redrive(sizes, results, workdir)
        if "plan" in sections:
            bench_plan(sizes, results, workdir)
    results["elapsed_seconds"] = time.monotonic() - started
    results["load_after"] = os.getloadavg()
    results["quiet"] = {
        "samples": QUIET.samples,
        "waited_seconds": QUIET.waited,
        "threshold": QUIET.threshold,
    }
    if args.save_results:
        with open(args.save_results, "wb") as saved:
            pickle.dump(results, saved)
    with open(args.output, "w", encoding="utf-8") as out:
        out.write(render(results))
    print(f"Wrote {args.output} in {results['elapsed_seconds']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
