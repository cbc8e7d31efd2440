"""Render the results of ``benchmarks.run`` as BENCHMARKS.md."""

from __future__ import annotations

from typing import Any

WRITE_TARGET = 500_000
RATIO_TARGET = 25.0
RSS_FLAT_MB = 50.0
SWEEP_SHARE = 0.95
TOLERATED_LATENCY = 0.050
SUGGESTED = "static user_agent, parameter_validation=False"


def _n(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _rate(figure: Any, key: str) -> str:
    low, high = figure.spread(key)
    return f"{_n(figure.median(key))} ({_n(low)}-{_n(high)})"


def _load(values: tuple[float, ...]) -> str:
    return ", ".join(f"{value:.2f}" for value in values)


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def render(results: dict[str, Any]) -> str:
    sizes = results["sizes"]
    out: list[str] = ["# Benchmarks", ""]
    out.append(
        "Written by `make bench` (`python -m benchmarks.run`); do not edit by hand. "
        "Every figure is the median "
        f"of {sizes.runs} runs (the range of the runs in brackets), each run in a fresh child process, so a "
        "peak RSS is that measurement's own (`ru_maxrss` of the child, Python and its imports included). "
        "Baselines are measured in the same run as the figures they are compared with."
    )
    if results.get("quick"):
        out += ["", "**Quick mode**: sizes scaled down about 10x; the figures are indicative only."]
    out += ["", "## Machine", "", "| | |", "|---|---|"]
    out += [f"| {name} | {value} |" for name, value in results["machine"].items()]
    out.append(f"| whole run | {results['elapsed_seconds']:.0f} s |")
    if "load_before" in results:
        before, after = results["load_before"], results["load_after"]
        out.append(f"| load average (1, 5, 15 min) before / after | {_load(before)} / {_load(after)} |")
    quiet = results.get("quiet")
    if quiet and quiet["samples"]:
        samples = sorted(quiet["samples"])
        noisy = sum(1 for value in samples if value > quiet["threshold"])
        out.append(
            f"| other load just before each run (busy cores) | median {samples[len(samples) // 2]:.2f}, "
            f"max {samples[-1]:.2f}; {noisy} of {len(samples)} runs started above {quiet['threshold']} "
            f"(waited {quiet['waited_seconds']:.0f} s in all for quiet) |"
        )
    out.append("")
    out += _targets(results)
    out += _server(results)
    out += _direct(results)
    out += _sweep(results)
    out += _manifest(results)
    out += _report(results)
    out += _plan(results)
    out += _cpu(results)
    out += _notes(results)
    return "\n".join(out).rstrip() + "\n"


def _targets(results: dict[str, Any]) -> list[str]:
    rows = []
    if "replace" in results and "naive" in results:
        ratio = results["replace"].median("objects_per_second") / results["naive"].median(
            "objects_per_second"
        )
        naive = results["naive"].median("objects_per_second")
        ceiling = results["ceiling"]["default"].median("ceiling_calls_per_cpu_second") / naive
        extra = ""
        if "botocore_defaults" in results:
            plain = results["botocore_defaults"].median("objects_per_second") / naive
            extra = f"; {plain:.1f}x with botocore's default client settings"
        rows.append(
            f"| direct path >= {RATIO_TARGET:.0f}x the naive loop at 20 ms | {ratio:.1f}x (one-core "
            f"bare-botocore ceiling: {ceiling:.1f}x{extra}) | {_met(ratio >= RATIO_TARGET)} |"
        )
    if "merge" in results:
        lost = sum(int(run["lost"]) for run in results["merge"].runs + results["slowdown"].runs)
        rows.append(f"| no object lost (merge + undo log, 10% SlowDown) | {lost} lost | {_met(lost == 0)} |")
    manifest = results.get("manifest")
    if manifest:
        slowest = min(figures["write"].median("keys_per_second") for figures in manifest.values())
        rows.append(
            f"| manifest write >= {_n(WRITE_TARGET)} keys/s | {_n(slowest)} keys/s (slowest size) | "
            f"{_met(slowest >= WRITE_TARGET)} |"
        )
        if len(manifest) > 1:
            small, large = min(manifest), max(manifest)
            for what in ("write", "read"):
                growth = manifest[large][what].median("max_rss_mb") - manifest[small][what].median(
                    "max_rss_mb"
                )
                rows.append(
                    f"| peak RSS flat (within {RSS_FLAT_MB:.0f} MB) from {_n(small)} to {_n(large)} keys, "
                    f"{what} | {growth:+.1f} MB | {_met(abs(growth) <= RSS_FLAT_MB)} |"
                )
    if not rows:
        return []
    return ["## Targets (from issue 7)", "", "| target | figure | |", "|---|---|---|", *rows, ""]


def _server(results: dict[str, Any]) -> list[str]:
    rows = results.get("server")
    if not rows:
        return []
    out = [
        "## The local S3 endpoint is not the bottleneck",
        "",
        "`benchmarks/fake_s3.py`: an asyncio HTTP/1.1 server (uvloop) in its own process answering "
        "PutObjectTagging, GetObjectTagging, DeleteObjectTagging (and plain PutObject for undo logs) "
        "in S3's XML, "
        "keep-alive, latency by `asyncio.sleep`, optional 503 SlowDown. Loaded here by a raw asyncio client "
        "(unsigned requests, so the client is cheap); both share this machine's cores.",
        "",
        "| server latency | connections | requests/s | server CPU per request |",
        "|---|---|---|---|",
    ]
    for row in rows:
        out.append(
            f"| {row['latency_ms']:.0f} ms | {row['connections']} | {_n(row['requests_per_second'])} | "
            f"{row['server_cpu_us_per_request']:.0f} us |"
        )
    cpu = min(row["server_cpu_us_per_request"] for row in rows)
    out += [
        "",
        f"One core of the server answers about {_n(1e6 / cpu)} requests/s; a boto3 client needs about "
        "0.9 ms of CPU per request (below), so one client core can ask for about 1,100/s.",
        "",
    ]
    return out


def _direct(results: dict[str, Any]) -> list[str]:
    if "ceiling" not in results:
        return []
    sizes = results["sizes"]
    ceiling = results["ceiling"]["default"]
    naive = results["naive"]
    naive_rate = naive.median("objects_per_second")
    ceiling_rate = ceiling.median("ceiling_calls_per_cpu_second")
    out = ["## 1-2. Direct path at 20 ms latency: replace, merge with undo log, SlowDown", ""]
    out += [
        "| | objects/s | vs naive loop | CPU ms per object | peak RSS | objects lost |",
        "|---|---|---|---|---|---|",
        f"| naive sequential `put_object_tagging` loop, {_n(sizes.naive_objects)} objects | "
        f"{_rate(naive, 'objects_per_second')} "
        f"| 1x | {naive.median('cpu_ms_per_object'):.2f} | {naive.median('max_rss_mb'):.0f} MB | |",
        f"| bare botocore ceiling: one core / CPU per call at 0 ms ({_n(sizes.ceiling_calls)} calls) | "
        f"{_n(ceiling_rate)} | {ceiling_rate / naive_rate:.1f}x | {ceiling.median('cpu_ms_per_call'):.3f} | "
        f"{ceiling.median('max_rss_mb'):.0f} MB | |",
    ]
    if "replace" not in results:
        out += ["", f"Direct engine figures skipped: {results.get('direct_skipped', 'not run')}.", ""]
        return out
    labels = {
        "replace": f"direct engine, replace, default settings (the hook's client: static `user_agent`, "
        f"`parameter_validation=False`), {_n(sizes.direct_objects)} objects",
        "merge": f"direct engine, merge (get + put) with undo log, {_n(sizes.merge_objects)} objects",
        "slowdown": f"direct engine, replace, 10% SlowDown injected, {_n(sizes.slowdown_objects)} objects",
        "botocore_defaults": "direct engine, replace, default settings but botocore's default client "
        "settings (parameter validation, per-request User-Agent), "
        f"{_n(sizes.botocore_defaults_objects)} objects",
    }
    for name, label in labels.items():
        figure = results.get(name)
        if figure is None:
            continue
        rate = figure.median("objects_per_second")
        lost = int(figure.total("lost"))
        out.append(
            f"| {label} | {_rate(figure, 'objects_per_second')} | {rate / naive_rate:.1f}x | "
            f"{figure.median('cpu_ms_per_object'):.2f} | {figure.median('max_rss_mb'):.0f} MB | "
            f"{lost} of {_n(figure.total('objects'))} |"
        )
    defaults = results.get("engine_defaults", {})
    slowdown = results["slowdown"]
    replace = results["replace"]
    out += [
        "",
        f"Default settings: {', '.join(f'{k}={v}' for k, v in defaults.items())}; "
        "the client is a plain boto3 client (SigV4, request checksums) with the settings "
        f"`S3ObjectTaggingHook` gives it: `{results.get('client_config')}`.",
        f"The engine reaches {replace.median('objects_per_second') / ceiling_rate:.0%} of the bare-botocore "
        f"ceiling; the rest is thread overhead ({replace.median('cpu_ms_per_object'):.2f} ms CPU per object "
        f"against {ceiling.median('cpu_ms_per_call'):.2f} ms per bare call). "
        "Under SlowDown, the server answered "
        f"{_n(slowdown.median('server_slowdowns'))} 503s per run (median) "
        "and the engine's counted retries were "
        f"{_n(slowdown.median('retries'))}; lost objects are counted on the server after each run (objects "
        "without the expected tags).",
        "",
    ]
    return out


def _sweep(results: dict[str, Any]) -> list[str]:
    sweep = results.get("sweep")
    if not sweep:
        return []
    out = [
        "## Choosing the default concurrency",
        "",
        "| threads | objects | objects/s | CPU ms per object | peak RSS |",
        "|---|---|---|---|---|",
    ]
    best = max(figure.median("objects_per_second") for figure in sweep.values())
    for threads, figure in sweep.items():
        out.append(
            f"| {threads} | {_n(figure.runs[0]['objects'])} | {_rate(figure, 'objects_per_second')} | "
            f"{figure.median('cpu_ms_per_object'):.2f} | {figure.median('max_rss_mb'):.0f} MB |"
        )
    enough = min(t for t, f in sweep.items() if f.median("objects_per_second") >= SWEEP_SHARE * best)
    # Headroom for real S3, slower than 20 ms: keep the core busy up to TOLERATED_LATENCY.
    in_flight = best * TOLERATED_LATENCY
    covering = [t for t in sweep if t >= enough and t >= in_flight]
    recommended = min(covering) if covering else max(sweep)
    current = results.get("engine_defaults", {}).get("concurrency")
    ceiling = results["ceiling"]["default"].median("ceiling_calls_per_cpu_second")
    verdict = (
        f"The engine's default in this run is {current}: it matches."
        if current == recommended
        else f"The engine's default in this run is {current}: **change it to {recommended}**."
    )
    chosen, least = sweep[recommended], sweep[enough]
    out += [
        "",
        f"**Recommended default concurrency: {recommended}.** Rule: the smallest tested concurrency that "
        f"reaches {SWEEP_SHARE:.0%} of the best throughput at 20 ms ({enough} here; best {_n(best)}/s) "
        f"and still keeps the core busy at {TOLERATED_LATENCY * 1000:.0f} ms of latency, which needs about "
        f"{_n(best)} x {TOLERATED_LATENCY:g} s = {in_flight:.0f} requests in flight (Little's law). "
        f"{verdict}",
        "",
        "Why: one task is CPU-bound (one core, the GIL), so throughput stops growing once the core is "
        f"busy; at 20 ms that takes only about {best * 0.021:.0f} requests in flight (about "
        f"{ceiling * 0.021:.0f} at the bare-botocore ceiling of {_n(ceiling)}/s), but real S3 latency varies "
        "(tens of ms, with a long tail) and a thread waiting on a slow answer is cheap: "
        f"{recommended} threads cost {chosen.median('max_rss_mb') - least.median('max_rss_mb'):+.0f} MB of "
        f"peak RSS and {chosen.median('cpu_ms_per_object') - least.median('cpu_ms_per_object'):+.2f} ms "
        f"of CPU per object against {enough}. Far more threads only add switching overhead (see the CPU per "
        f"object at {max(sweep)}). Above {TOLERATED_LATENCY * 1000:.0f} ms raise it: about "
        f"1.5 x latency (s) x {_n(best)}.",
        "",
    ]
    return out


def _manifest(results: dict[str, Any]) -> list[str]:
    manifest = results.get("manifest")
    if not manifest:
        return []
    out = [
        "## 3. CSV manifest write and read",
        "",
        "Keys like `logs/2024/11/25/app-00000001.log.gz`; one in five needs URL encoding (a space, or "
        "non-ASCII letters). Write: `write_csv_manifest` to a local file, objects cycled from a pool of "
        "100,000 ready `ObjectRef`s (a fixed cost in RSS). Read: `read_csv_manifest` of that file, decoding "
        "and validating every object.",
        "",
        "| keys | write keys/s | write peak RSS | read keys/s | read peak RSS | file size |",
        "|---|---|---|---|---|---|",
    ]
    for keys, figures in sorted(manifest.items()):
        write, read = figures["write"], figures["read"]
        out.append(
            f"| {_n(keys)} | {_rate(write, 'keys_per_second')} | {write.median('max_rss_mb'):.0f} MB | "
            f"{_rate(read, 'keys_per_second')} | {read.median('max_rss_mb'):.0f} MB | "
            f"{write.median('bytes') / 1e6:.0f} MB |"
        )
    strings = results.get("manifest_from_strings")
    if strings:
        out += [
            "",
            f"End to end from `(bucket, key)` strings, building and validating each `ObjectRef` before "
            f"writing it ({_n(strings.runs[0]['keys'])} keys): {_rate(strings, 'keys_per_second')} keys/s, "
            f"peak RSS {strings.median('max_rss_mb'):.0f} MB.",
        ]
    return [*out, ""]


def _report(results: dict[str, Any]) -> list[str]:
    if "report" not in results:
        note = results.get("report_skipped")
        return ["## 4. Completion report parsing", "", f"Skipped: {note}.", ""] if note else []
    figure = results["report"]
    return [
        "## 4. Completion report parsing",
        "",
        f"`read_report_csv` into a `ReportSummary` (counts per error code, first failures), "
        f"{_n(figure.runs[0]['rows'])} rows of which {_n(figure.runs[0]['failed'])} failed: "
        f"{_rate(figure, 'rows_per_second')} rows/s, peak RSS {figure.median('max_rss_mb'):.0f} MB.",
        "",
    ]


def _plan(results: dict[str, Any]) -> list[str]:
    plan = results.get("plan")
    if not plan:
        return []
    out = [
        "## 5. Planning a manifest into batches",
        "",
        f"{_n(plan['keys'])} keys. A planner makes one pass over the "
        "manifest and yields one small descriptor per batch (a byte range of the manifest); a mapped task "
        "receives one descriptor, the planning task's XCom is the list of all of them.",
        "",
        "| planner | time | keys/s | batches | largest descriptor (one mapped task's input) | whole list "
        "(the planning task's XCom) | peak RSS |",
        "|---|---|---|---|---|---|---|",
    ]
    direct = plan.get("direct")
    names = {"csv": f"core `plan_csv_manifest_ranges`, batches of {_n(plan['batch_size'])}"}
    if direct is not None:
        names["direct"] = (
            f"direct path `planning.plan_csv_manifest` (GetObject from the fake server, batch_size "
            f"{_n(direct.runs[0]['batch_size'])}, at most {_n(direct.runs[0]['max_batches'])} batches)"
        )
    for name, label in names.items():
        figure = plan.get(name)
        if figure is None:
            continue
        out.append(
            f"| {label} | {figure.median('seconds'):.2f} s | {_rate(figure, 'keys_per_second')} | "
            f"{_n(figure.runs[0]['batches'])} | {figure.median('largest_descriptor_bytes'):.0f} bytes | "
            f"{_n(figure.median('all_descriptors_bytes'))} bytes | {figure.median('max_rss_mb'):.0f} MB |"
        )
    return [*out, ""]


def _cpu(results: dict[str, Any]) -> list[str]:
    ceiling = results.get("ceiling")
    if not ceiling:
        return []
    naive_rate = results["naive"].median("objects_per_second")
    default = ceiling["default"].median("cpu_ms_per_call")
    out = [
        "## Where the CPU goes, and what cuts it",
        "",
        "At 20 ms one task is CPU-bound: objects/s is about 1 / (CPU per object). CPU per "
        "`put_object_tagging` call, bare botocore at 0 ms, by client setting; every setting keeps SigV4 "
        "signing, the request checksum (CRC32) and retries:",
        "",
        "| client setting | CPU ms per call | change | one-core ceiling | vs naive loop |",
        "|---|---|---|---|---|",
    ]
    for variant, figure in ceiling.items():
        cpu = figure.median("cpu_ms_per_call")
        out.append(
            f"| `{variant}` | {cpu:.3f} | {(cpu - default) / default:+.0%} | {_n(1000 / cpu)}/s | "
            f"{1000 / cpu / naive_rate:.1f}x |"
        )
    out += [
        "",
        "- `user_agent` set to a fixed string makes botocore skip rebuilding its User-Agent header "
        "(twice per "
        "request, with per-request feature ids). Cost: AWS no longer sees the SDK's feature metadata in the "
        "header; nothing else changes.",
        "- `parameter_validation=False` skips botocore's client-side check of the request shape. Cost: a "
        "malformed request is rejected by S3 instead of before sending; the engine builds requests from "
        "already validated `ObjectRef`s and `TagSet`s.",
        "",
    ]
    asyncio_figures = results.get("aiobotocore")
    replace = results.get("replace")
    if asyncio_figures and replace:
        threads = replace.runs[0]["concurrency"]
        gain_notes: list[str] = []
        bare_change = (
            ceiling[SUGGESTED].median("cpu_ms_per_call") / default - 1 if SUGGESTED in ceiling else 0.0
        )
        out += [
            f"Threads versus asyncio at the same concurrency ({threads}), 20 ms, same hook client settings:",
            "",
            "| | objects/s | vs naive loop | CPU ms per object |",
            "|---|---|---|---|",
            f"| threaded engine (the product), the hook's client | {_rate(replace, 'objects_per_second')} | "
            f"{replace.median('objects_per_second') / naive_rate:.1f}x | "
            f"{replace.median('cpu_ms_per_object'):.2f} |",
        ]
        plain = results.get("botocore_defaults")
        if plain:
            gain_notes.append(
                f"against botocore's default client settings, the hook's settings changed the threaded "
                f"engine's throughput by "
                f"{replace.median('objects_per_second') / plain.median('objects_per_second') - 1:+.0%} "
                f"and CPU per object by "
                f"{replace.median('cpu_ms_per_object') / plain.median('cpu_ms_per_object') - 1:+.0%} "
                f"(bare calls: {bare_change:+.0%} CPU per call; the thread overhead around each call varies "
                "from run to run)"
            )
            out.append(
                f"| threaded engine, botocore's default client settings | "
                f"{_rate(plain, 'objects_per_second')} | "
                f"{plain.median('objects_per_second') / naive_rate:.1f}x | "
                f"{plain.median('cpu_ms_per_object'):.2f} |"
            )
        for figure in asyncio_figures.values():
            out.append(
                f"| not the product: aiobotocore + uvloop, the hook's client settings | "
                f"{_rate(figure, 'objects_per_second')} | "
                f"{figure.median('objects_per_second') / naive_rate:.1f}x | "
                f"{figure.median('cpu_ms_per_object'):.2f} |"
            )
        threaded = replace.median("cpu_ms_per_object")
        asyncio_cpu = asyncio_figures["default"].median("cpu_ms_per_object")
        out += [
            "",
            f"Same botocore pipeline, same settings: the threads cost {threaded - asyncio_cpu:.2f} ms of CPU "
            "per object more than asyncio workers (most likely the GIL hand-offs and thread wake-ups at each "
            "blocking socket call of each request).",
        ]
        if gain_notes:
            out.append(f"Note: {'; '.join(gain_notes)}.")
        overhead = results.get("overhead")
        if overhead:
            fast, slow = overhead[0.0], overhead[0.020]
            out.append(
                f"The engine's own work is not the cost: over a client that makes no request it spends "
                f"{fast.median('cpu_us_per_object'):.0f} us of CPU per object "
                f"({_n(fast.median('objects_per_second'))} objects/s), and "
                f"{slow.median('cpu_us_per_object'):.0f} us when each call blocks its thread for 20 ms "
                f"({_n(slow.median('objects_per_second'))} objects/s at "
                f"{replace.runs[0]['concurrency']} threads)."
            )
        out.append("")
    return out


def _notes(results: dict[str, Any]) -> list[str]:
    return [
        "## Notes",
        "",
        "- The endpoint is plain HTTP on localhost: real S3 adds TLS (small per request on a kept-alive "
        "connection) and, over HTTPS, botocore does not hash S3 payloads for the signature, which it does "
        "over plain HTTP here; both are small next to the ~0.9 ms of botocore's own work.",
        "- The server and the client share this machine's 2 cores; the client of one task uses one core "
        "(the GIL), the server well under one. Other processes on the machine lower throughput figures "
        "much more than CPU-per-object figures: see the load rows of the machine table.",
        "- Injected SlowDowns are random, not caused by load; the throughput under them measures the cost of "
        "backing off and retrying (botocore's standard mode waits up to 1 s, then 2 s, ... before a "
        "retry), not the capacity of S3. Against real S3 a SlowDown means exactly that: slow down.",
    ]
