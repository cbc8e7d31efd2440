"""Direct-path measurements against the fake S3 server (run in a child process by ``benchmarks.child``).

Every client here is a real boto3 client (SigV4 signing, request checksums, retries) pointed at the
fake server with dummy credentials; only the network and S3 are stand-ins.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from typing import Any

from benchmarks.child import Measurement

BUCKET = "bench-bucket"
NEW_TAGS = {"project": "bench", "retention": "cold"}
OLD_TAGS = {"owner": "team-a"}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def make_client(endpoint_url: str, **config: Any) -> Any:
    """A boto3 S3 client for the fake server: dummy credentials, path-style addressing."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(
        aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1"
    )
    return session.client("s3", endpoint_url=endpoint_url, config=Config(**config))


def _boto_tags(tags: dict[str, str]) -> dict[str, Any]:
    return {"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}


def naive_loop(endpoint_url: str, count: int, prefix: str) -> dict[str, Any]:
    """The baseline: a plain sequential loop of ``put_object_tagging`` with a default boto3 client."""
    client = make_client(endpoint_url)
    tagging = _boto_tags(NEW_TAGS)
    client.put_object_tagging(Bucket=BUCKET, Key=f"warmup/{prefix}", Tagging=tagging)
    cpu, started = cpu_seconds(), time.perf_counter()
    for index in range(count):
        client.put_object_tagging(Bucket=BUCKET, Key=f"{prefix}{index}", Tagging=tagging)
    seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    return {
        "objects": count,
        "seconds": seconds,
        "objects_per_second": count / seconds,
        "cpu_ms_per_object": cpu / count * 1000,
    }


STATIC_USER_AGENT = "airflow-s3-batch-tagging-bench Boto3 Botocore"
CLIENT_VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "parameter_validation=False": {"parameter_validation": False},
    "static user_agent": {"user_agent": STATIC_USER_AGENT},
    "static user_agent, parameter_validation=False": {
        "user_agent": STATIC_USER_AGENT,
        "parameter_validation": False,
    },
}
"""Client settings compared for CPU per call; every one keeps SigV4 signing, the checksum and retries."""
SUGGESTED_VARIANT = "static user_agent, parameter_validation=False"
BOTOCORE_DEFAULTS = "botocore defaults"
"""An engine client variant: the hook's pool and retries, but botocore's own per-request work back on."""


def _client_variant(endpoint_url: str, variant: str) -> Any:
    if variant not in CLIENT_VARIANTS:
        raise ValueError(f"unknown client variant {variant!r}; choose from {sorted(CLIENT_VARIANTS)}")
    return make_client(endpoint_url, **CLIENT_VARIANTS[variant])


def botocore_ceiling(endpoint_url: str, count: int, prefix: str, variant: str = "default") -> dict[str, Any]:
    """Bare botocore at zero latency: the CPU one ``put_object_tagging`` call costs the client."""
    client = _client_variant(endpoint_url, variant)
    tagging = _boto_tags(NEW_TAGS)
    for index in range(50):
        client.put_object_tagging(Bucket=BUCKET, Key=f"{prefix}warmup/{index}", Tagging=tagging)
    cpu, started = cpu_seconds(), time.perf_counter()
    for index in range(count):
        client.put_object_tagging(Bucket=BUCKET, Key=f"{prefix}{index}", Tagging=tagging)
    seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    cpu_ms = cpu / count * 1000
    return {
        "calls": count,
        "seconds": seconds,
        "calls_per_second": count / seconds,
        "cpu_ms_per_call": cpu_ms,
        "ceiling_calls_per_cpu_second": 1000 / cpu_ms,
    }


def async_client_kwargs(endpoint_url: str, client_config: dict[str, Any] | None) -> dict[str, Any]:
    """``create_client`` arguments of an aiobotocore S3 client for the fake server (dummy credentials)."""
    from botocore.config import Config

    return {
        "endpoint_url": endpoint_url,
        "region_name": "us-east-1",
        "aws_access_key_id": "bench",
        "aws_secret_access_key": "bench",
        "config": Config(**(client_config or {})),
    }


def aiobotocore_concurrent(
    endpoint_url: str,
    count: int,
    prefix: str,
    concurrency: int,
    client_config: dict[str, Any] | None = None,
    variant: str = "default",
    loop: str = "asyncio",
) -> dict[str, Any]:
    """Bare aiobotocore, no engine: ``concurrency`` coroutines sharing one aiobotocore client, each
    awaiting ``put_object_tagging`` in turn. The ceiling of the aiobotocore transport: the same botocore
    pipeline and client, without the engine's chunks, rules and counting. ``loop``: ``asyncio`` (the
    standard event loop, as the product runs) or ``uvloop`` (only to show it is not needed).
    """
    import asyncio

    from aiobotocore.session import get_session

    settings = {**(client_config or {}), **CLIENT_VARIANTS[variant]}
    tagging = _boto_tags(NEW_TAGS)

    async def main() -> tuple[float, float]:
        async with get_session().create_client("s3", **async_client_kwargs(endpoint_url, settings)) as client:
            await client.put_object_tagging(Bucket=BUCKET, Key=f"warmup/{prefix}", Tagging=tagging)
            indexes = iter(range(count))

            async def worker() -> None:
                for index in indexes:
                    await client.put_object_tagging(Bucket=BUCKET, Key=f"{prefix}{index}", Tagging=tagging)

            cpu, started = cpu_seconds(), time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return time.perf_counter() - started, cpu_seconds() - cpu

    if loop == "uvloop":
        import uvloop

        seconds, cpu = uvloop.run(main())
    elif loop == "asyncio":
        seconds, cpu = asyncio.run(main())
    else:
        raise ValueError(f"unknown event loop {loop!r}; choose asyncio or uvloop")
    return {
        "loop": loop,
        "objects": count,
        "concurrency": concurrency,
        "seconds": seconds,
        "objects_per_second": count / seconds,
        "cpu_ms_per_object": cpu / count * 1000,
    }


_OK = {"HTTPStatusCode": 200, "RetryAttempts": 0}


class _NoNetworkClient:
    """Answers like boto3 without any request: what is left is the engine's own per-object work."""

    def __init__(self, latency: float) -> None:
        self.latency = latency

    def put_object_tagging(self, **kwargs: Any) -> dict[str, Any]:
        if self.latency:
            time.sleep(self.latency)
        return {"ResponseMetadata": _OK}

    def get_object_tagging(self, **kwargs: Any) -> dict[str, Any]:
        return {"TagSet": [], "ResponseMetadata": _OK}


class _AsyncNoNetworkClient:
    """Answers like aiobotocore without any request (awaiting ``latency``)."""

    def __init__(self, latency: float) -> None:
        self.latency = latency

    async def put_object_tagging(self, **kwargs: Any) -> dict[str, Any]:
        import asyncio

        if self.latency:
            await asyncio.sleep(self.latency)
        return {"ResponseMetadata": _OK}

    async def get_object_tagging(self, **kwargs: Any) -> dict[str, Any]:
        return {"TagSet": [], "ResponseMetadata": _OK}


ENGINES = ("aiobotocore", "threads", "crt")
"""The engine's transports measured (``asyncio`` is accepted as the old name of ``aiobotocore``)."""
OVERHEAD_ENGINES = ("aiobotocore", "threads")
"""Transports that can run over a client making no request (CRT always sends)."""


def _check_engine(engine: str, choices: tuple[str, ...] = ENGINES) -> str:
    engine = "aiobotocore" if engine == "asyncio" else engine
    if engine not in choices:
        raise ValueError(f"unknown engine {engine!r}; choose from {', '.join(choices)}")
    return engine


def engine_overhead(count: int, latency: float, engine: str = "aiobotocore") -> dict[str, Any]:
    """The engine (default settings) over a transport whose client makes no request, answering after
    ``latency``."""
    import asyncio

    from airflow_s3_batch_tagging import tagging_engine
    from airflow_s3_batch_tagging.objects import ObjectRef
    from airflow_s3_batch_tagging.tags import TagSet
    from airflow_s3_batch_tagging.transports.botocore import AiobotocoreTransport, Boto3ThreadsTransport

    engine = _check_engine(engine, OVERHEAD_ENGINES)
    items = ((ObjectRef(BUCKET, f"o/{index}"), None) for index in range(count))

    async def main() -> Any:
        if engine == "threads":
            with Boto3ThreadsTransport(
                _NoNetworkClient(latency), threads=tagging_engine.DEFAULT_CONCURRENCY
            ) as pool:
                return await tagging_engine.TaggingEngine(pool, tags=TagSet(NEW_TAGS)).run(items)
        transport = AiobotocoreTransport(_AsyncNoNetworkClient(latency))
        return await tagging_engine.TaggingEngine(transport, tags=TagSet(NEW_TAGS)).run(items)

    cpu, started = cpu_seconds(), time.perf_counter()
    result = asyncio.run(main())
    seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    if result.written != count:
        raise AssertionError(f"the engine wrote {result.written} objects, expected {count}")
    return {
        "engine": engine,
        "objects": count,
        "concurrency": tagging_engine.DEFAULT_CONCURRENCY,
        "seconds": seconds,
        "objects_per_second": count / seconds,
        "cpu_us_per_object": cpu / count * 1e6,
    }


def engine_defaults() -> dict[str, Any]:
    """The direct engine's default settings, or an empty dict when it is not importable yet."""
    try:
        from airflow_s3_batch_tagging import tagging_engine
    except ImportError:
        return {}
    return {
        "concurrency": tagging_engine.DEFAULT_CONCURRENCY,
        "chunk_size": tagging_engine.DEFAULT_CHUNK_SIZE,
    }


def hook_client_config(concurrencies: list[int], endpoint_url: str | None = None) -> dict[str, Any]:
    """The botocore settings ``S3ObjectTaggingHook`` gives its client for each concurrency, and the
    transport its default engine runs against the fake server (``endpoint_url``).

    The transport is the hook's own choice (``choose_transport``), for a connection like the
    benchmarks' clients: dummy static credentials, the fake server's endpoint and this process's proxy
    settings. Building the client makes no request. Imports Airflow, so it runs in its own child
    process; the figures' children only import boto3.
    """
    from unittest import mock

    from airflow_s3_batch_tagging.hooks.s3_object_tagging import S3ObjectTaggingHook
    from airflow_s3_batch_tagging.transports import DEFAULT_ENGINE

    configs = {}
    for concurrency in concurrencies:
        config = S3ObjectTaggingHook(aws_conn_id=None, concurrency=concurrency).tagging_config()
        configs[str(concurrency)] = {
            name: getattr(config, name, None)
            for name in ("max_pool_connections", "retries", "parameter_validation", "user_agent")
        }
    connection = {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        **({"AWS_ENDPOINT_URL_S3": endpoint_url} if endpoint_url else {}),
    }
    with mock.patch.dict("os.environ", connection):
        transport, why = S3ObjectTaggingHook(aws_conn_id=None).choose_transport()
    return {"configs": configs, "engine": DEFAULT_ENGINE, "transport": transport, "why": why}


def engine_settings(client_config: dict[str, Any] | None, variant: str = "default") -> dict[str, Any]:
    """The botocore settings of an engine's client: the hook's (``client_config``), or a variant of them."""
    config = dict(client_config or {})
    if variant == BOTOCORE_DEFAULTS:
        config.pop("parameter_validation", None)
        config.pop("user_agent", None)
        return config
    if variant not in CLIENT_VARIANTS:
        raise ValueError(f"unknown client variant {variant!r}; choose from {sorted(CLIENT_VARIANTS)}")
    return {**config, **CLIENT_VARIANTS[variant]}


def engine_client(endpoint_url: str, client_config: dict[str, Any] | None, variant: str = "default") -> Any:
    """The boto3 client the direct operator's hook would build (``client_config``), at ``endpoint_url``."""
    return make_client(endpoint_url, **engine_settings(client_config, variant))


def direct_engine(
    endpoint_url: str,
    count: int,
    prefix: str,
    mode: str = "replace",
    concurrency: int | None = None,
    undo_log: bool = False,
    client_config: dict[str, Any] | None = None,
    client_variant: str = "default",
    engine: str = "aiobotocore",
    rate_control: bool = True,
) -> dict[str, Any]:
    """The engine through its public API over one transport, with the client the hook would give it
    (one attempt per request: the engine retries), under ``asyncio.run``. The undo log writer has its
    own boto3 client (as in the hook)."""
    import asyncio

    from airflow_s3_batch_tagging import tagging_engine
    from airflow_s3_batch_tagging.objects import ObjectRef, S3Location
    from airflow_s3_batch_tagging.tags import TagSet
    from airflow_s3_batch_tagging.transports.botocore import AiobotocoreTransport, Boto3ThreadsTransport

    engine = _check_engine(engine)
    settings = engine_settings(client_config, client_variant)
    one_attempt = {**settings, "retries": {"mode": "standard", "total_max_attempts": 1}}
    options: dict[str, Any] = {"tags": TagSet(NEW_TAGS), "mode": mode, "rate_control": rate_control}
    if concurrency is not None:
        options["concurrency"] = concurrency
    if undo_log:
        from airflow_s3_batch_tagging.undo import UndoLogWriter

        writer_client = make_client(endpoint_url, **settings)
        options["undo_log"] = UndoLogWriter(writer_client, S3Location(BUCKET, f"undo/{prefix}"))

    def items() -> Iterator[tuple[Any, None]]:
        for index in range(count):
            yield ObjectRef(BUCKET, f"{prefix}{index}"), None

    async def timed(transport: Any) -> tuple[Any, float, float]:
        await transport.get_tagging(ObjectRef(BUCKET, f"{prefix}warmup"), None)
        cpu, started = cpu_seconds(), time.perf_counter()
        outcome = await tagging_engine.TaggingEngine(transport, **options).run(items(), total=count)
        return outcome, time.perf_counter() - started, cpu_seconds() - cpu

    async def main() -> tuple[Any, float, float]:
        if engine == "threads":
            client = make_client(endpoint_url, **one_attempt)
            with Boto3ThreadsTransport(client, threads=options.get("concurrency", 128)) as threads:
                return await timed(threads)
        if engine == "crt":
            from airflow_s3_batch_tagging.transports.crt import CrtTransport

            client = make_client(endpoint_url, **one_attempt)
            crt = CrtTransport(
                client, max_connections=options.get("concurrency", tagging_engine.DEFAULT_CONCURRENCY)
            )
            async with crt:
                return await timed(crt)
        from aiobotocore.session import get_session

        async with get_session().create_client(
            "s3", **async_client_kwargs(endpoint_url, one_attempt)
        ) as client:
            return await timed(AiobotocoreTransport(client))

    result, seconds, cpu = asyncio.run(main())
    return {
        "engine": engine,
        "rate_control": rate_control,
        "objects": count,
        "concurrency": concurrency or tagging_engine.DEFAULT_CONCURRENCY,
        "seconds": seconds,
        "objects_per_second": count / seconds,
        "cpu_ms_per_object": cpu / count * 1000,
        "failed": result.failed,
        "written": result.written,
        "retries": result.retries,
        "requests": result.requests,
        "throttled": result.throttled,
        "throttled_share": result.throttled / result.requests if result.requests else 0.0,
        "undo_parts": len(result.undo_log_parts),
    }


def plan_direct(endpoint_url: str, manifest: str, expected: int) -> dict[str, Any]:
    """The direct path's planner, ``plan_csv_manifest``, over a manifest stored in the fake server."""
    import json

    from airflow_s3_batch_tagging import planning

    client = make_client(endpoint_url)
    started = time.perf_counter()
    descriptors = planning.plan_csv_manifest(client, manifest)
    seconds = time.perf_counter() - started
    planned = sum(int(d["count"]) for d in descriptors)
    if planned != expected:
        raise AssertionError(f"planned {planned} objects, expected {expected}")
    return {
        "keys": expected,
        "batches": len(descriptors),
        "batch_size": planning.DEFAULT_BATCH_SIZE,
        "max_batches": planning.DEFAULT_MAX_BATCHES,
        "seconds": seconds,
        "keys_per_second": expected / seconds,
        "largest_descriptor_bytes": max(len(json.dumps(d, separators=(",", ":"))) for d in descriptors),
        "all_descriptors_bytes": len(json.dumps(descriptors, separators=(",", ":"))),
    }


MEASUREMENTS: dict[str, Measurement] = {
    "naive_loop": naive_loop,
    "botocore_ceiling": botocore_ceiling,
    "direct_engine": direct_engine,
    "engine_overhead": engine_overhead,
    "aiobotocore_concurrent": aiobotocore_concurrent,
    "hook_client_config": hook_client_config,
    "plan_direct": plan_direct,
}
