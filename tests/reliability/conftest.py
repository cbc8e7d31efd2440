"""Shared pieces of the reliability suite: the figures each scenario reports, and RELIABILITY.md.

Every scenario calls ``reliability.record(...)`` with what it injected and what it checked. At the
end of the session, when ``WRITE_RELIABILITY=1`` is set (``make reliability``), the collected
figures are written to ``RELIABILITY.md`` at the repository root: the file only ever holds numbers
from a real run of this suite.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
REPORT_PATH = REPO_ROOT / "RELIABILITY.md"


@dataclass
class Scenario:
    """The figures of one reliability scenario."""

    name: str
    test: str
    faults: str
    faults_injected: int
    objects_checked: int
    objects_lost: int
    notes: str = ""
    seconds: float = 0.0


@dataclass
class ReliabilityLog:
    """Collects ``Scenario`` figures during a session and renders them as Markdown."""

    scenarios: list[Scenario] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def record(self, **figures: Any) -> Scenario:
        scenario = Scenario(**figures)
        self.scenarios.append(scenario)
        return scenario

    def render(self) -> str:
        lines = [
            "# Reliability",
            "",
            "Written by the reliability suite (`tests/reliability/`, `make reliability`) from the run of "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC with the direct path on the "
            f"`{os.environ.get('RELIABILITY_ENGINE') or _default_engine()}` engine, "
            f"on {platform.system()} {platform.machine()} "
            f"(Python {platform.python_version()}, {os.cpu_count()} CPUs), against the local stand-in "
            "(moto's S3 plus the S3 Batch Operations emulator) with its fault injection. Every figure below "
            "comes from that run; rerun `make reliability` to refresh it.",
            "",
            "*Objects lost*: objects whose tag set at the end of the scenario is not the one expected "
            "(left untagged, tagged wrongly, or not restored to the original tags). *Faults injected*: "
            "errors, connection resets and kills the stand-in or the test caused, as counted by it.",
            "",
            "| Scenario | Faults | Faults injected | Objects checked | Objects lost | Test | Seconds |",
            "|---|---|---:|---:|---:|---|---:|",
        ]
        for s in self.scenarios:
            lines.append(
                f"| {s.name} | {s.faults} | {s.faults_injected} | {s.objects_checked} | {s.objects_lost} "
                f"| `{s.test}` | {s.seconds:.1f} |"
            )
        total_checked = sum(s.objects_checked for s in self.scenarios)
        total_lost = sum(s.objects_lost for s in self.scenarios)
        total_faults = sum(s.faults_injected for s in self.scenarios)
        lines += [
            "",
            f"Total: {len(self.scenarios)} scenarios, {total_faults} faults injected, {total_checked} "
            f"objects checked, {total_lost} lost.",
            "",
            "## Notes per scenario",
            "",
        ]
        lines += [f"- **{s.name}**: {s.notes}" for s in self.scenarios if s.notes]
        return "\n".join(lines) + "\n"


_LOG = ReliabilityLog()


def _default_engine() -> str:
    from airflow_s3_batch_tagging.hooks.s3_object_tagging import DEFAULT_ENGINE

    return DEFAULT_ENGINE


@pytest.fixture(autouse=True)
def reliability_engine(monkeypatch: pytest.MonkeyPatch) -> str:
    """The direct path's engine under test: the default, or ``RELIABILITY_ENGINE`` (``make reliability
    RELIABILITY_ENGINE=crt``) for every hook left on the default, so the suite vets a transport
    before it becomes the default."""
    from airflow_s3_batch_tagging.hooks import s3_object_tagging

    engine = os.environ.get("RELIABILITY_ENGINE") or s3_object_tagging.DEFAULT_ENGINE
    if engine != s3_object_tagging.DEFAULT_ENGINE:
        original = s3_object_tagging.S3ObjectTaggingHook.__init__

        def init(self: Any, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            if self.engine == s3_object_tagging.DEFAULT_ENGINE:
                self.engine = engine

        monkeypatch.setattr(s3_object_tagging.S3ObjectTaggingHook, "__init__", init)
    return engine


@pytest.fixture(scope="session")
def reliability_log() -> Iterator[ReliabilityLog]:
    """The session's figures; written to RELIABILITY.md at the end when ``WRITE_RELIABILITY=1``."""
    yield _LOG
    if os.environ.get("WRITE_RELIABILITY") == "1" and _LOG.scenarios:
        REPORT_PATH.write_text(_LOG.render(), encoding="utf-8")


@pytest.fixture
def reliability(reliability_log: ReliabilityLog, request: pytest.FixtureRequest) -> Iterator[Any]:
    """``reliability.record(name=..., faults=..., ...)`` for one test; the test id and time are filled in."""
    started = time.monotonic()
    recorded: list[Scenario] = []

    class _Recorder:
        def record(self, **figures: Any) -> None:
            figures.setdefault("test", request.node.nodeid.split("tests/", 1)[-1])
            figures.setdefault("seconds", 0.0)  # 0: the test's own duration, filled in at its end
            recorded.append(reliability_log.record(**figures))

    yield _Recorder()
    for scenario in recorded:
        scenario.seconds = scenario.seconds or time.monotonic() - started


def tags_of(s3: Any, bucket: str, key: str, version_id: str | None = None) -> dict[str, str]:
    """The tag set of one object (version), as a dict."""
    extra = {"VersionId": version_id} if version_id else {}
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key, **extra)["TagSet"]}


def put_objects(
    s3: Any, bucket: str, objects: dict[str, dict[str, str]], *, threads: int = 8
) -> dict[str, str]:
    """Create ``{key: tags}`` in ``bucket`` concurrently; return each key's version id (or "")."""
    from concurrent.futures import ThreadPoolExecutor
    from urllib.parse import urlencode

    def put(item: tuple[str, dict[str, str]]) -> tuple[str, str]:
        key, tags = item
        response = s3.put_object(Bucket=bucket, Key=key, Body=b"x", Tagging=urlencode(tags))
        return key, str(response.get("VersionId") or "")

    with ThreadPoolExecutor(threads) as pool:
        return dict(pool.map(put, objects.items()))


@pytest.fixture
def s3(local_aws: Any) -> Any:
    """A plain S3 client on the stand-in, with botocore's retries so the test's own checks ride out faults."""
    from botocore.config import Config

    return local_aws.client(
        "s3", config=Config(retries={"mode": "standard", "total_max_attempts": 10}, max_pool_connections=20)
    )


@pytest.fixture
def fast_botocore_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep botocore's retry backoff but at 1/50 of its length, so hundreds of retries fit in seconds."""
    from botocore.retries.standard import ExponentialBackoff

    original = ExponentialBackoff.delay_amount

    def shorter(self: Any, context: Any) -> float:
        return float(original(self, context)) / 50

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", shorter)
