"""Render the results of ``benchmarks.run`` as BENCHMARKS.md."""

from __future__ import annotations

from typing import Any

WRITE_TARGET = 500_000
RATIO_TARGET = 25.0
RSS_FLAT_MB = 50.0
SWEEP_SHARE = 0.95
"""The share of the best throughput at 20 ms that counts as "within reach" in the Little's-law text."""
# The default concurrency: each concurrency scores its worst share, over the sweep's latencies, of that
# latency's best median throughput. The recommendation is the smallest concurrency that the runs cannot
# tell apart from the top scorer: at every latency its best run reaches the top scorer's worst run. So
# run-to-run noise (the sweep's runs spread by several percent on 2 shared cores) does not flip it.
SUGGESTED = "static user_agent, parameter_validation=False"
TRANSPORTS = ("crt", "aiobotocore", "threads")
"""The transports measured; section 1-2's figures are ``results[f"{figure}_{transport}"]``."""
TRANSPORT_NOTES = {
    "crt": "AWS's Common Runtime: SigV4 signing and HTTP in native code",
    "aiobotocore": "coroutines over one aiobotocore client; alias `asyncio`",
    "threads": "one boto3 client in a thread pool",
}
FIGURES = ("replace", "merge", "slowdown")


def _n(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _rate(figure: Any, key: str) -> str:
    low, high = figure.spread(key)
    return f"{_n(figure.median(key))} ({_n(low)}-{_n(high)})"


def _load(values: tuple[float, ...]) -> str:
    return ", ".join(f"{value:.2f}" for value in values)


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def default_transport(results: dict[str, Any]) -> str:
    """The transport the product's default engine ran on against the fake server."""
    return str(results.get("default_engine") or "aiobotocore")


def transports(results: dict[str, Any]) -> list[str]:
    """The transports with section 1-2 figures, the default first."""
    ordered = dict.fromkeys((default_transport(results), *(results.get("transports") or TRANSPORTS)))
    return [name for name in ordered if any(f"{figure}_{name}" in results for figure in FIGURES)]


def _default_setting(results: dict[str, Any]) -> str:
    """How the default transport was chosen, e.g. ``crt (engine='auto')``."""
    default, setting = default_transport(results), results.get("default_engine_setting")
    return f"{default} (engine={setting!r})" if setting and setting != default else default


def _label(results: dict[str, Any], transport: str) -> str:
    return f"{transport} (default)" if transport == default_transport(results) else transport


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
    out += _s3_ceiling(results)
    out += _direct(results)
    out += _sweep(results)
    for swept, sweeps in (results.get("sweep_by_engine") or {}).items():
        if swept != results.get("default_engine"):
            out += _sweep({**results, "sweep": sweeps}, engine=swept)
    out += _manifest(results)
    out += _report(results)
    out += _redrive(results)
    out += _plan(results)
    out += _cpu(results)
    out += _notes(results)
    return "\n".join(out).rstrip() + "\n"


def _targets(results: dict[str, Any]) -> list[str]:
    rows = []
    default = default_transport(results)
    if f"replace_{default}" in results and "naive" in results:
        naive = results["naive"].median("objects_per_second")
        ratio = results[f"replace_{default}"].median("objects_per_second") / naive
        ceiling = results["ceiling"]["default"].median("ceiling_calls_per_cpu_second") / naive
        extra = "".join(
            f"; {name}: {results[f'replace_{name}'].median('objects_per_second') / naive:.1f}x"
            for name in transports(results)
            if name != default and f"replace_{name}" in results
        )
        if "aiobotocore" in results:
            bare = results["aiobotocore"]["asyncio"].median("objects_per_second") / naive
            extra += f"; bare aiobotocore, no engine: {bare:.1f}x"
        rows.append(
            f"| direct path >= {RATIO_TARGET:.0f}x the naive loop at 20 ms | {ratio:.1f}x with the default "
            f"transport, {_default_setting(results)}{extra}; one-core bare-botocore ceiling: {ceiling:.1f}x "
            f"| {_met(ratio >= RATIO_TARGET)} |"
        )
    names = [f"{figure}_{name}" for figure in ("merge", "slowdown") for name in transports(results)]
    names = [name for name in names if name in results]
    if names:
        lost = sum(int(run["lost"]) for name in names for run in results[name].runs)
        objects = sum(int(run["objects"]) for name in names for run in results[name].runs)
        rows.append(
            f"| no object lost (merge + undo log, 10% SlowDown; every transport) | {lost} lost of "
            f"{_n(objects)} | {_met(lost == 0)} |"
        )
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
        "`benchmarks/fake_s3.py`: an asyncio HTTP/1.1 server (uvloop when installed) in its own process "
        "answering "
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
    out += ["", f"One core of the server answers about {_n(1e6 / cpu)} requests/s."]
    replace = results.get(f"replace_{default_transport(results)}")
    if replace is not None:
        client = replace.median("cpu_ms_per_object")
        out[-1] += (
            f" The default transport ({default_transport(results)}) needs {client:.2f} ms of client CPU "
            "per object (below), so "
            f"one client core asks for at most about {_n(1000 / client)}/s: the server has "
            f"{1e6 / cpu / (1000 / client):.0f}x headroom."
        )
    return [*out, ""]


def _row(label: str, figure: Any, naive_rate: float, key: str = "cpu_ms_per_object") -> str:
    lost = f"{int(figure.total('lost'))} of {_n(figure.total('objects'))}" if "lost" in figure.runs[0] else ""
    return (
        f"| {label} | {_rate(figure, 'objects_per_second')} | "
        f"{figure.median('objects_per_second') / naive_rate:.1f}x | {figure.median(key):.2f} | "
        f"{figure.median('max_rss_mb'):.0f} MB | {lost} |"
    )


def _direct(results: dict[str, Any]) -> list[str]:
    if "ceiling" not in results:
        return []
    sizes = results["sizes"]
    ceiling = results["ceiling"]["default"]
    naive = results["naive"]
    naive_rate = naive.median("objects_per_second")
    ceiling_rate = ceiling.median("ceiling_calls_per_cpu_second")
    default = default_transport(results)
    measured = transports(results)
    out = ["## 1-2. Direct path at 20 ms latency: replace, merge with undo log, SlowDown", ""]
    notes = "; ".join(
        f'`{name}` ({TRANSPORT_NOTES.get(name, "transport")}, `engine="{name}"`)' for name in measured
    )
    intro = f"Each row is `TaggingEngine` over one transport, labelled by it: {notes}." if measured else ""
    if measured:
        why = results.get("default_engine_why")
        setting = results.get("default_engine_setting")
        if setting and setting != default:
            intro += f" The product's default, engine={setting!r}, runs `{default}` here"
        else:
            intro += f" The product's default transport is `{default}`"
        if why:
            intro += f": {why}"
        elif setting == "auto" and default == "crt":
            intro += " (the fake server's connection has credentials and no proxy)"
        intro += "; the other transports are measured in the same run for comparison."
    out += [
        intro,
        "",
        "| | objects/s | vs naive loop | CPU ms per object | peak RSS | objects lost |",
        "|---|---|---|---|---|---|",
        f"| naive sequential `put_object_tagging` loop, {_n(sizes.naive_objects)} objects | "
        f"{_rate(naive, 'objects_per_second')} "
        f"| 1x | {naive.median('cpu_ms_per_object'):.2f} | {naive.median('max_rss_mb'):.0f} MB | |",
        f"| bare botocore ceiling: one core / CPU per call at 0 ms ({_n(sizes.ceiling_calls)} calls) | "
        f"{_n(ceiling_rate)} | {ceiling_rate / naive_rate:.1f}x | {ceiling.median('cpu_ms_per_call'):.3f} | "
        f"{ceiling.median('max_rss_mb'):.0f} MB | |",
    ]
    bare = results.get("aiobotocore", {}).get("asyncio")
    if bare is not None:
        out.append(
            _row(
                f"bare aiobotocore, no engine: {bare.runs[0]['concurrency']} coroutines awaiting "
                f"`put_object_tagging` (the hook's client settings), {_n(sizes.asyncio_objects)} objects",
                bare,
                naive_rate,
            )
        )
    replace = results.get(f"replace_{default}")
    if replace is None:
        out += ["", f"Direct engine figures skipped: {results.get('direct_skipped', 'not run')}.", ""]
        return out
    what = {
        "replace": "replace, default settings",
        "merge": "merge (get + put) with undo log",
        "slowdown": "replace, 10% SlowDown injected",
    }
    for figure in FIGURES:
        for name in measured:
            if f"{figure}_{name}" not in results:
                continue
            label = f"{_label(results, name)}, {what[figure]}"
            if figure == "replace" and name == default:
                label = f"**{label}**"
            objects = results[f"{figure}_{name}"].runs[0]["objects"]
            out.append(_row(f"{label}, {_n(objects)} objects", results[f"{figure}_{name}"], naive_rate))
    plain = results.get("botocore_defaults")
    if plain is not None:
        out.append(
            _row(
                "aiobotocore, replace, default settings but botocore's default client settings (parameter "
                f"validation, per-request User-Agent), {_n(sizes.botocore_defaults_objects)} objects",
                plain,
                naive_rate,
            )
        )
    defaults = results.get("engine_defaults", {})
    rate, cpu = replace.median("objects_per_second"), replace.median("cpu_ms_per_object")
    out += [
        "",
        f"Default settings: engine={results.get('default_engine_setting', default)!r} ({default} here), "
        f"{', '.join(f'{k}={v}' for k, v in defaults.items())}. The botocore client the hook builds for "
        "the transports (SigV4, request checksums; one attempt per request, the engine retries) has the "
        f"settings `S3ObjectTaggingHook` gives it: `{results.get('client_config')}`; crt takes its "
        "endpoint, credentials and timeouts from that client and signs and sends in native code.",
    ]
    rates = [
        (name, results[f"replace_{name}"], results.get(f"merge_{name}"))
        for name in measured
        if f"replace_{name}" in results
    ]
    out.append(
        "One task's objects/s by transport (default settings, 20 ms; the figures of "
        "`estimate.DIRECT_OBJECTS_PER_SECOND`), writes only (replace) / read then write (merge with undo "
        "log): "
        + "; ".join(
            f"**{name}: {_n(write.median('objects_per_second'))} / "
            + (_n(read.median("objects_per_second")) if read is not None else "not measured")
            + "**"
            for name, write, read in rates
        )
        + "."
    )
    aio = results.get("replace_aiobotocore")
    if default != "aiobotocore" and aio is not None:
        out.append(
            f"The default transport, {default}, replaces at {rate / aio.median('objects_per_second'):.1f}x "
            f"aiobotocore's throughput with {cpu / aio.median('cpu_ms_per_object'):.0%} of its CPU per "
            f"object ({cpu:.2f} against {aio.median('cpu_ms_per_object'):.2f} ms)."
        )
    same = results["ceiling"].get(SUGGESTED, ceiling)
    same_rate = same.median("ceiling_calls_per_cpu_second")
    if bare is not None and aio is not None:
        aio_rate, aio_cpu = aio.median("objects_per_second"), aio.median("cpu_ms_per_object")
        out.append(
            f"The aiobotocore transport reaches {aio_rate / bare.median('objects_per_second'):.0%} of bare "
            f"aiobotocore's throughput ({aio_cpu:.2f} ms CPU per object against "
            f"{bare.median('cpu_ms_per_object'):.2f} ms with no engine) and "
            f"{aio_rate / same_rate:.0%} of the one-core bare-botocore ceiling with the same client settings "
            f"({_n(same_rate)}/s)."
        )
    threads = results.get("replace_threads")
    if threads is not None:
        sentence = (
            f"The threads transport reaches {threads.median('objects_per_second') / ceiling_rate:.0%} of the "
            f"bare-botocore ceiling ({threads.median('cpu_ms_per_object'):.2f} ms CPU per object against "
            f"{ceiling.median('cpu_ms_per_call'):.2f} ms per bare call)"
        )
        if aio is not None:
            aio_rate, aio_cpu = aio.median("objects_per_second"), aio.median("cpu_ms_per_object")
            sentence += (
                f"; aiobotocore is {aio_rate / threads.median('objects_per_second'):.2f}x its throughput "
                f"with {1 - aio_cpu / threads.median('cpu_ms_per_object'):.0%} less CPU per object "
                '(see "Where the CPU goes")'
            )
        out.append(sentence + ".")
    slowdown, merge = results.get(f"slowdown_{default}"), results.get(f"merge_{default}")
    if slowdown is not None:
        out.append(
            "Under SlowDown, the server answered "
            f"{_n(slowdown.median('server_slowdowns'))} 503s per run (median) to the default transport "
            f"({default}) and its counted retries were {_n(slowdown.median('retries'))}; lost objects are "
            "counted on the server after each run (objects without the expected tags)."
        )
    if merge is not None:
        out.append(
            "Merge writes one undo log part per chunk "
            f"({_n(merge.median('undo_parts'))} parts per run over {default}) before writing that chunk's "
            "objects."
        )
    return [*out, ""]


CEILING_SHARE_TARGET = 0.85
THROTTLED_TARGET = 0.05
CPU_RATIO_TARGET = 0.3


def s3_ceiling_verdicts(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per transport at the lowest latency: the issue's targets, measured, and whether each is met."""
    figures = results.get("s3_ceiling") or {}
    if not figures:
        return {}
    ceiling = float(results.get("write_ceiling", 3500.0))
    bare = results["ceiling"]["default"].median("cpu_ms_per_call")
    base = min(figures)
    verdicts = {}
    for label, figure in figures[base].items():
        if not all(run.get("rate_control", True) for run in figure.runs):
            continue
        share = figure.median("objects_per_second") / ceiling
        throttled = figure.median("throttled_share")
        lost = int(figure.total("lost"))
        ratio = figure.median("cpu_ms_per_object") / bare
        verdicts[label] = {
            "share": share,
            "throttled": throttled,
            "lost": lost,
            "cpu_ratio": ratio,
            "failed": [
                name
                for name, ok in (
                    (
                        f"objects/s {share:.0%} of the ceiling < {CEILING_SHARE_TARGET:.0%}",
                        share >= CEILING_SHARE_TARGET,
                    ),
                    (f"throttled {throttled:.1%} > {THROTTLED_TARGET:.0%}", throttled <= THROTTLED_TARGET),
                    (f"{lost} objects lost", lost == 0),
                    (f"CPU {ratio:.2f}x bare botocore > {CPU_RATIO_TARGET}x", ratio <= CPU_RATIO_TARGET),
                )
                if not ok
            ],
        }
    return verdicts


def _other_load(figure: Any) -> float:
    """Cores other processes kept busy just before the runs (median; 0 when not recorded)."""
    if figure.runs and all("busy_cores_before" in run for run in figure.runs):
        return float(figure.median("busy_cores_before"))
    return 0.0


def _machine_share(results: dict[str, Any], figure: Any, ceiling: float) -> str:
    """What else limited a run below the ceiling on a shared machine: other processes' load just
    before the runs, and the fake server's own capacity measured in the same run."""
    notes = []
    if figure.runs and all("busy_cores_before" in run for run in figure.runs):
        notes.append(
            f"other processes kept {figure.median('busy_cores_before'):.2f} cores busy just before these "
            "runs (median)"
        )
    capacity = max(
        (
            float(row["requests_per_second"])
            for row in results.get("server") or []
            if row.get("latency_ms") == 20 and row.get("requests_per_second")
        ),
        default=0.0,
    )
    if capacity and capacity < CEILING_SHARE_TARGET * ceiling:
        notes.append(
            f"the fake server itself answered at most {_n(capacity)} requests/s at 20 ms to a raw client in "
            f"this run, below {CEILING_SHARE_TARGET:.0%} of the ceiling, so this machine could not show the "
            "target"
        )
    return "".join(f"; {note}" for note in notes)


def _s3_ceiling(results: dict[str, Any]) -> list[str]:
    figures: dict[float, dict[str, Any]] | None = results.get("s3_ceiling")
    if not figures:
        return []
    ceiling = float(results.get("write_ceiling", 3500.0))
    bare = results["ceiling"]["default"]
    bare_ms = bare.median("cpu_ms_per_call")
    objects = next(iter(next(iter(figures.values())).values())).runs[0]["objects"]
    out = [
        "## One task at S3's ceiling",
        "",
        f"The fake server enforces S3's write ceiling per partitioned prefix, {_n(ceiling)} writes/s (a "
        f"token bucket, burst 0.1 s), and answers `503 SlowDown` above it. One task, default settings "
        f"(concurrency {results.get('engine_defaults', {}).get('concurrency')}, rate control on), tags "
        f"{_n(objects)} objects under one prefix over each transport. CPU is the client process's; the "
        f"ratio divides it by bare botocore's CPU per `put_object_tagging` call measured in this run "
        f"({bare_ms:.2f} ms, zero latency, default client), so it holds across machines.",
        "",
        "| latency | transport | objects/s | share of the ceiling | CPU ms per object | CPU / bare botocore "
        "call | requests throttled | objects lost |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for latency in sorted(figures):
        for label, figure in figures[latency].items():
            out.append(
                f"| {latency * 1000:.0f} ms | {label} | {_rate(figure, 'objects_per_second')} | "
                f"{figure.median('objects_per_second') / ceiling:.0%} | "
                f"{figure.median('cpu_ms_per_object'):.2f} | "
                f"{figure.median('cpu_ms_per_object') / bare_ms:.2f}x | "
                f"{figure.median('throttled_share'):.1%} | {int(figure.total('lost'))} |"
            )
    verdicts = s3_ceiling_verdicts(results)
    base = min(figures)
    out += [
        "",
        f"**Targets** (one task, default settings, {base * 1000:.0f} ms): at least "
        f"{CEILING_SHARE_TARGET:.0%} of the ceiling, at most {THROTTLED_TARGET:.0%} of requests throttled, "
        f"none lost, CPU per object at most {CPU_RATIO_TARGET}x bare botocore's per call.",
        "",
    ]
    for label, verdict in verdicts.items():
        state = "meets every target" if not verdict["failed"] else "misses: " + "; ".join(verdict["failed"])
        figure = figures[base][label]
        if verdict["share"] < CEILING_SHARE_TARGET and "client_cores" in figure.runs[0]:
            client, server = figure.median("client_cores"), figure.median("server_cores")
            cpus = str(results["machine"].get("cpus", "0")).split()[0]
            cores = int(cpus) if cpus.isdigit() else 0
            if verdict["throttled"] >= 0.001:
                limit = "the rate control backed off from SlowDown answers"
            elif client >= 0.9:
                limit = "CPU-bound: the task's one Python thread kept about a core busy"
            elif cores and client + server >= 0.8 * cores:
                limit = "CPU-bound: the task and the fake server together kept the machine's cores busy"
            elif cores and _other_load(figure) + client + server >= 0.8 * cores:
                limit = (
                    "the machine was busy: other processes, the task and the fake server together kept its "
                    "cores busy, so the task got less than a core"
                )
            else:
                in_flight_bound = int(results.get("engine_defaults", {}).get("concurrency") or 0) / base
                native = (
                    " and awscrt's Python objects, under the GIL, while CRT's own threads sign and send"
                    if label.startswith("crt")
                    else ""
                )
                limit = (
                    "not throttled, far below the in-flight bound (concurrency / latency = "
                    f"{_n(in_flight_bound)}/s) and below a full core: every request passes through the "
                    f"task's one Python thread (the engine and the transport{native}), which sets the plateau"
                )
            state += (
                f" (why: {limit}; the task's process kept {client:.2f} cores busy and the fake server "
                f"{server:.2f}, of {cores or '?'}{_machine_share(results, figure, ceiling)})"
            )
        out.append(f"- {label}: {state}.")
    default = results.get("default_engine")
    if default:
        setting = results.get("default_engine_setting")
        chosen = f" (engine={setting!r})" if setting and setting != default else ""
        why = results.get("default_engine_why")
        out += [
            "",
            f"The product's default transport in this run: `{default}`{chosen}"
            + (f": {why}." if why else "."),
        ]
    out.append("")
    return out


def _sweep(results: dict[str, Any], engine: str | None = None) -> list[str]:
    """The default concurrency from the default transport's sweep (or, with ``engine``, what it would
    be if ``engine``, the fallback transport, were the default)."""
    sweeps: dict[float, dict[int, Any]] | None = results.get("sweep")
    if not sweeps:
        return []
    latencies = sorted(sweeps)
    base = latencies[0]
    concurrencies = sorted(set.intersection(*(set(sweep) for sweep in sweeps.values())))
    best = {
        latency: max(f.median("objects_per_second") for f in sweeps[latency].values())
        for latency in latencies
    }
    header = " | ".join(f"objects/s at {latency * 1000:.0f} ms | CPU ms per object" for latency in latencies)
    setting = results.get("default_engine_setting")
    title = f"## The default concurrency if `{engine}` were the default transport" if engine else ""
    which = (
        f'The `{engine}` transport (what `engine="auto"` falls back to where crt cannot serve the connection)'
        if engine
        else f"The `{default_transport(results)}` transport (the product's default"
        + (f" here, engine={setting!r}" if setting and setting != default_transport(results) else "")
        + ")"
    )
    out = [
        title or "## Choosing the default concurrency",
        "",
        f"{which} with the hook's client "
        "for each concurrency "
        "(`max_pool_connections` = concurrency + 2), replace mode, at two S3 latencies:",
        "",
        f"| concurrency | objects per run | {header} | peak RSS at {base * 1000:.0f} ms |",
        "|---|---|" + "---|---|" * len(latencies) + "---|",
    ]
    for concurrency in concurrencies:
        cells = " | ".join(
            f"{_rate(sweeps[latency][concurrency], 'objects_per_second')} | "
            f"{sweeps[latency][concurrency].median('cpu_ms_per_object'):.2f}"
            for latency in latencies
        )
        out.append(
            f"| {concurrency} | {_n(sweeps[base][concurrency].runs[0]['objects'])} | {cells} | "
            f"{sweeps[base][concurrency].median('max_rss_mb'):.0f} MB |"
        )

    def score(concurrency: int) -> float:
        return min(
            sweeps[latency][concurrency].median("objects_per_second") / best[latency] for latency in latencies
        )

    def indistinguishable(concurrency: int, top: int) -> bool:
        return all(
            sweeps[latency][concurrency].spread("objects_per_second")[1]
            >= sweeps[latency][top].spread("objects_per_second")[0]
            for latency in latencies
        )

    scores = {c: score(c) for c in concurrencies}
    top_scorer = max(concurrencies, key=lambda c: (scores[c], -c))
    recommended = min(c for c in concurrencies if c == top_scorer or indistinguishable(c, top_scorer))
    fast_enough = min(
        c for c in concurrencies if sweeps[base][c].median("objects_per_second") >= SWEEP_SHARE * best[base]
    )
    current = results.get("engine_defaults", {}).get("concurrency")
    if engine:
        verdict = (
            f"The engine's default in this run is {current}, chosen from the default transport's sweep; "
            + (
                "it would match."
                if current == recommended
                else f"were {engine} the default, it would be {recommended}."
            )
        )
    elif current == recommended:
        verdict = f"The engine's default in this run is {current}: it matches."
    else:
        verdict = f"The engine's default in this run is {current}: **change it to {recommended}**."
    slow = latencies[-1]
    chosen, least, most = (
        sweeps[base][recommended],
        sweeps[base][fast_enough],
        sweeps[base][max(concurrencies)],
    )
    slow_rates = ", ".join(
        f"{c}: {_n(sweeps[slow][c].median('objects_per_second'))}/s"
        for c in concurrencies
        if c <= recommended
    )
    out += [
        "",
        f"**Recommended default concurrency: {recommended}.** Rule: each concurrency scores its worst "
        f"share of the best throughput across the latencies tested (best "
        + ", ".join(f"{_n(best[latency])}/s at {latency * 1000:.0f} ms" for latency in latencies)
        + "), and the recommendation is the smallest concurrency that the runs cannot tell apart from "
        "the top scorer (at every latency its best run reaches the top scorer's worst run). Scores: "
        + ", ".join(f"{c}: {scores[c]:.0%}" for c in concurrencies)
        + f"; top: {top_scorer}. {verdict}",
        "",
        "Why: one task is CPU-bound on one core, so throughput stops growing once that core is busy. By "
        f"Little's law that takes about throughput x latency requests in flight: "
        f"{_n(best[base])} x {base:g} s = {best[base] * base:.0f} at {base * 1000:.0f} ms "
        f"(the smallest tested concurrency within {SWEEP_SHARE:.0%} there is {fast_enough}), but "
        f"{_n(best[slow])} x {slow:g} s = {best[slow] * slow:.0f} at {slow * 1000:.0f} ms, and real S3 "
        f"latency varies (tens of ms, with a long tail). At {slow * 1000:.0f} ms: {slow_rates}. "
        f"A waiting coroutine is cheap: {recommended} in flight cost "
        f"{chosen.median('max_rss_mb') - least.median('max_rss_mb'):+.0f} MB of peak RSS and "
        f"{chosen.median('cpu_ms_per_object') - least.median('cpu_ms_per_object'):+.2f} ms of CPU per object "
        f"against {fast_enough} at {base * 1000:.0f} ms"
        + (
            f"; far more add per-connection overhead ({max(concurrencies)}: "
            f"{most.median('cpu_ms_per_object'):.2f} ms CPU per object, {most.median('max_rss_mb'):.0f} MB)"
            if max(concurrencies) > recommended
            else ""
        )
        + f". Above {slow * 1000:.0f} ms raise it: about "
        f"1.5 x latency (s) x {_n(best[base])}.",
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


def _redrive(results: dict[str, Any]) -> list[str]:
    figures = results.get("redrive")
    if not figures:
        return []
    out = [
        "## 4b. Redrive manifest from a completion report",
        "",
        "`read_report_csv` (1 MiB chunks, as an S3 body is read) -> `write_redrive_manifest` "
        "(`retryable_only`: SlowDown rows kept, AccessDenied rows counted and left) -> `StreamingUpload` "
        "(8 MiB parts, to a sink that keeps no body). Peak RSS must not grow with the report.",
        "",
        "| failed rows | redriven | rows/s | seconds | manifest | parts | peak RSS |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for rows, figure in sorted(figures.items()):
        run = figure.runs[0]
        out.append(
            f"| {_n(rows)} | {_n(run['redriven'])} | {_rate(figure, 'rows_per_second')} | "
            f"{figure.median('seconds'):.1f} | {run['manifest_bytes'] / 2**20:.0f} MiB | {run['parts']} | "
            f"{figure.median('max_rss_mb'):.0f} MB |"
        )
    smallest, largest = min(figures), max(figures)
    growth = figures[largest].median("max_rss_mb") - figures[smallest].median("max_rss_mb")
    out += [
        "",
        f"Peak RSS from {_n(smallest)} to {_n(largest)} rows: {growth:+.0f} MB.",
        "",
    ]
    return out


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
    bare_loops = results.get("aiobotocore") or {}
    # The botocore-based transports against their bare clients: aiobotocore and threads.
    replace, threads = results.get("replace_aiobotocore"), results.get("replace_threads")
    if not (bare_loops and replace and threads):
        return out
    bare = bare_loops["asyncio"]
    concurrency = replace.runs[0]["concurrency"]
    bare_call = ceiling[SUGGESTED].median("cpu_ms_per_call") if SUGGESTED in ceiling else default
    rows = [
        (f"bare botocore, one call at a time at 0 ms (`{SUGGESTED}`)", None, bare_call, None),
        (f"threads transport, {concurrency} threads, 20 ms", threads, threads.median("cpu_ms_per_object"),
         bare_call),
        (f"bare aiobotocore, no engine, {concurrency} coroutines, 20 ms", bare,
         bare.median("cpu_ms_per_object"), None),
        (f"aiobotocore transport, {concurrency} coroutines, 20 ms", replace,
         replace.median("cpu_ms_per_object"), bare.median("cpu_ms_per_object")),
    ]  # fmt: skip
    out += [
        "Each botocore-based transport against its bare client, same hook client settings, concurrency "
        f"{concurrency}:",
        "",
        "| | objects/s | vs naive loop | CPU ms per object | vs its bare client | peak RSS |",
        "|---|---|---|---|---|---|",
    ]
    for label, figure, cpu, reference in rows:
        rate = (
            f"{_rate(figure, 'objects_per_second')}" if figure is not None else f"{_n(1000 / cpu)} (1 core)"
        )
        ratio = (figure.median("objects_per_second") if figure is not None else 1000 / cpu) / naive_rate
        extra = f"{cpu - reference:+.2f} ms" if reference is not None else ""
        rss = figure.median("max_rss_mb") if figure is not None else ceiling[SUGGESTED].median("max_rss_mb")
        out.append(f"| {label} | {rate} | {ratio:.1f}x | {cpu:.2f} | {extra} | {rss:.0f} MB |")
    threaded_cpu, asyncio_cpu = threads.median("cpu_ms_per_object"), replace.median("cpu_ms_per_object")
    out += [
        "",
        f"**Why aiobotocore uses {1 - asyncio_cpu / threaded_cpu:.0%} less CPU per object than threads** "
        f"({asyncio_cpu:.2f} against {threaded_cpu:.2f} ms): both run the same botocore pipeline "
        "(parameter serialisation, SigV4 signing, the checksum, response parsing), which is most of the "
        f"cost. The threads add {threaded_cpu - bare_call:+.2f} ms per object on top of a bare call: "
        f"{concurrency} threads share one GIL, and every blocking socket call of every request releases "
        "it and has to win it back, so "
        "each request costs several GIL hand-offs, OS thread wake-ups and context switches. The "
        "aiobotocore transport runs every request on one thread, waiting on all sockets in one `epoll` "
        "call: no hand-offs. "
        "Its own work (chunks, semaphore, rules, counting) adds "
        f"{asyncio_cpu - bare.median('cpu_ms_per_object'):+.2f} ms per object to bare aiobotocore.",
    ]
    if "uvloop" in bare_loops:
        fast = bare_loops["uvloop"]
        gain = fast.median("objects_per_second") / bare.median("objects_per_second") - 1
        out.append(
            f"The standard asyncio event loop is enough: bare aiobotocore under uvloop measured "
            f"{_n(fast.median('objects_per_second'))} objects/s and "
            f"{fast.median('cpu_ms_per_object'):.2f} ms CPU per object, against "
            f"{_n(bare.median('objects_per_second'))} and {bare.median('cpu_ms_per_object'):.2f} ms on the "
            f"standard loop ({gain:+.0%} throughput); "
            "the product does not depend on uvloop (the fake server uses it when installed)."
        )
    plain = results.get("botocore_defaults")
    if plain:
        speedup = replace.median("objects_per_second") / plain.median("objects_per_second") - 1
        out.append(
            "The hook's client settings, against botocore's defaults, changed the aiobotocore transport's "
            f"throughput by {speedup:+.0%} "
            f"and its CPU per object by {asyncio_cpu / plain.median('cpu_ms_per_object') - 1:+.0%}."
        )
    overhead = results.get("overhead")
    if overhead:
        parts = []
        for engine, by_latency in overhead.items():
            fast, slow = by_latency[0.0], by_latency[0.020]
            parts.append(
                f"{engine}: {fast.median('cpu_us_per_object'):.0f} us of CPU per object "
                f"({_n(fast.median('objects_per_second'))} objects/s) when the call returns at once, "
                f"{slow.median('cpu_us_per_object'):.0f} us when it waits 20 ms "
                f"({_n(slow.median('objects_per_second'))} objects/s)"
            )
        out.append(
            "The engines' own work over a client that makes no request, at the default concurrency: "
            + "; ".join(parts)
            + "."
        )
    rss = replace.median("max_rss_mb") - threads.median("max_rss_mb")
    out += [
        "",
        '**What the aiobotocore transport costs** (what `engine="auto"` falls back to):',
        "",
        "- No new dependency: aiobotocore (with aiohttp) already comes with "
        "`apache-airflow-providers-amazon[aiobotocore]`, which the batch path's deferrable trigger needs "
        f"(versions in the machine table). Its process peaked {rss:+.0f} MB above the threads "
        "transport's here (aiobotocore and aiohttp are imported on top of boto3).",
        "- Each run of the hook's `tag_objects` runs on an event loop of its own in a worker thread, with "
        "its own client, while the calling thread waits: a signal handler's exception (Airflow's "
        "`execution_timeout`) is raised there and cancels the run. The undo log is written by a blocking "
        "boto3 client from another worker thread, so the loop keeps serving requests meanwhile.",
        "- moto's in-process `mock_aws` patches botocore's synchronous HTTP sending, which neither "
        'aiobotocore nor CRT uses: under it `engine="auto"` runs the threads transport (and logs why); '
        '`engine="threads"` stays available everywhere: same options, results and rules, any boto3 client.',
        "",
    ]
    return out


def _notes(results: dict[str, Any]) -> list[str]:
    return [
        "## Notes",
        "",
        "- The endpoint is plain HTTP on localhost: real S3 adds TLS (small per request on a kept-alive "
        "connection) and, over HTTPS, botocore does not hash S3 payloads for the signature, which it does "
        "over plain HTTP here; both are small next to botocore's own work per request (above).",
        "- The server and the client share this machine's 2 cores; the client of one task uses about "
        "one core (the GIL, or the one event loop; crt's native threads sign and send beside it), the "
        "server well under one. Other processes on the machine "
        "lower throughput figures much more than CPU-per-object figures: see the load rows of the machine "
        "table.",
        "- Injected SlowDowns are random, not caused by load; the throughput under them measures the cost of "
        "backing off and retrying (botocore's standard mode waits up to 1 s, then 2 s, ... before a "
        "retry), not the capacity of S3. Against real S3 a SlowDown means exactly that: slow down.",
    ]
