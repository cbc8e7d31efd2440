"""The direct-path measurements tag real objects on the fake S3 server, over every transport
(benchmarks/direct_bench.py), in a few seconds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from airflow_s3_batch_tagging.transports import DEFAULT_ENGINE
from benchmarks import direct_bench
from benchmarks.fake_s3 import FakeS3Process

pytestmark = pytest.mark.e2e

# The shape of the hook's settings (``hook_client_config``), sized for the small concurrency used here.
CLIENT_CONFIG: dict[str, Any] = {
    "max_pool_connections": 10,
    "retries": {"mode": "standard", "total_max_attempts": 10},
    "parameter_validation": False,
    "user_agent": direct_bench.STATIC_USER_AGENT,
}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeS3Process]:
    with FakeS3Process(latency=0.0) as running:
        yield running


@pytest.fixture
def url(server: FakeS3Process) -> str:
    server.reset()
    server.configure(latency=0.002, slowdown=0.0, write_rate=0)
    return server.endpoint_url


@pytest.mark.parametrize("engine", direct_bench.ENGINES)
def test_direct_engine_replace_tags_every_object(engine: str, url: str, server: FakeS3Process) -> None:
    result = direct_bench.direct_engine(
        url, 120, "r/", concurrency=8, client_config=CLIENT_CONFIG, engine=engine
    )
    assert result["engine"] == engine
    assert (result["written"], result["failed"], result["concurrency"]) == (120, 0, 8)
    assert result["objects_per_second"] > 0
    assert result["cpu_ms_per_object"] > 0
    assert server.count(direct_bench.BUCKET, "r/", direct_bench.NEW_TAGS) == 120
    # One write per object, plus the warm-up read.
    stats = server.stats()
    assert (stats["put"], stats["get"]) == (120, 1)


@pytest.mark.parametrize("engine", direct_bench.ENGINES)
def test_direct_engine_merge_with_undo_log(engine: str, url: str, server: FakeS3Process) -> None:
    server.seed_objects(direct_bench.BUCKET, "m/", 60, direct_bench.OLD_TAGS)
    result = direct_bench.direct_engine(
        url, 60, "m/", mode="merge", undo_log=True, concurrency=4, client_config=CLIENT_CONFIG, engine=engine
    )
    assert (result["written"], result["failed"], result["undo_parts"]) == (60, 0, 1)
    merged = {**direct_bench.OLD_TAGS, **direct_bench.NEW_TAGS}
    assert server.count(direct_bench.BUCKET, "m/", merged) == 60
    # The undo log part was stored (PutObject) and every object was read before being written.
    stats = server.stats()
    assert (stats["put_object"], stats["get"], stats["put"]) == (1, 60 + 1, 60)


def test_direct_engine_retries_slowdowns_and_loses_nothing(url: str, server: FakeS3Process) -> None:
    server.configure(latency=0.0, slowdown=0.2, seed=3)
    result = direct_bench.direct_engine(url, 80, "s/", concurrency=8, client_config=CLIENT_CONFIG)
    assert (result["written"], result["failed"]) == (80, 0)
    assert result["retries"] == result["throttled"] == server.stats()["slowdown"] > 0
    assert server.count(direct_bench.BUCKET, "s/", direct_bench.NEW_TAGS) == 80


@pytest.mark.parametrize("engine", direct_bench.ENGINES)
def test_engine_under_write_ceiling_loses_nothing(engine: str, url: str, server: FakeS3Process) -> None:
    server.configure(write_rate=300)
    result = direct_bench.direct_engine(
        url, 400, "t/", concurrency=32, client_config=CLIENT_CONFIG, engine=engine
    )
    stats = server.stats()
    assert (result["written"], result["failed"]) == (400, 0)
    assert result["throttled"] == stats.get("rate_limited", 0)
    assert result["requests"] == 400 + result["throttled"]
    assert 0 <= result["throttled_share"] < 1
    assert server.count(direct_bench.BUCKET, "t/", direct_bench.NEW_TAGS) == 400


PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def test_hook_client_config_names_the_transport_the_default_engine_runs(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    hook = direct_bench.hook_client_config([8], url)
    # The hook's own choice for the fake server's connection (credentials, no proxy): crt.
    assert (hook["engine"], hook["transport"], hook["why"]) == (DEFAULT_ENGINE, "crt", None)
    assert hook["configs"]["8"]["max_pool_connections"] == 10
    # Through a proxy crt cannot serve it, and the same call says so: the choice is not hard-coded.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    hook = direct_bench.hook_client_config([8], url)
    assert hook["transport"] == "aiobotocore"
    assert "proxy" in str(hook["why"])


def test_bare_aiobotocore_tags_every_object(url: str, server: FakeS3Process) -> None:
    result = direct_bench.aiobotocore_concurrent(url, 50, "a/", 5, client_config=CLIENT_CONFIG)
    assert (result["loop"], result["objects"], result["concurrency"]) == ("asyncio", 50, 5)
    assert server.count(direct_bench.BUCKET, "a/", direct_bench.NEW_TAGS) == 50


@pytest.mark.parametrize("engine", direct_bench.OVERHEAD_ENGINES)
def test_engine_overhead_runs_each_engine_without_requests(engine: str) -> None:
    result = direct_bench.engine_overhead(200, 0.0, engine=engine)
    assert (result["engine"], result["objects"]) == (engine, 200)
    assert result["cpu_us_per_object"] > 0


def test_botocore_defaults_variant_drops_hook_savings() -> None:
    settings = direct_bench.engine_settings(CLIENT_CONFIG, direct_bench.BOTOCORE_DEFAULTS)
    assert settings == {"max_pool_connections": 10, "retries": CLIENT_CONFIG["retries"]}
    assert direct_bench.engine_settings(CLIENT_CONFIG) == CLIENT_CONFIG


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: direct_bench.direct_engine("http://127.0.0.1:1", 1, "x/", engine="fibers"), "fibers"),
        (lambda: direct_bench.engine_overhead(1, 0.0, engine="fibers"), "fibers"),
        (lambda: direct_bench.engine_settings(None, "turbo"), "turbo"),
    ],
)
def test_unknown_names_are_rejected(call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
