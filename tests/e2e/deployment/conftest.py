"""Starts the real deployment once for the tests in this folder, drives the scenarios, stops it all.

Run with ``make e2e`` (the default ``pytest`` run deselects the ``deployment`` marker). Every process
is stopped also on failure, on the hard timeout and on SIGTERM; the processes' and tasks' logs are
copied to a kept folder (its path printed at the end) only when something failed.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .deployment import Deployment, DeploymentTimeout, hard_timeout, progress_sink, say
from .drive import Driver, Outcome
from .world import ALL_DAGS, BATCH_SIZE, DATA_BUCKET, OPS_BUCKET

HARD_TIMEOUT_SECONDS = 540
# Seconds the job emulator pauses between a job's steps and between chunks of 10 tasks: a job of
# 100 objects stays Active for 30 s, so "deferred mid-job" is reliably observable and a clear or mark
# lands mid-job even when SQLite's lock delays the REST call by seconds, or the trigger's first poll
# comes late in the job (at 1.5 s a mark once landed after the job had completed).
JOB_STEP_DELAY = 3.0
AIRFLOW_SETTINGS = {
    "AIRFLOW__CORE__PARALLELISM": "8",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
    "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
    # What the example DAGs read (Variables and environment), as docs/getting-started.md configures them.
    "AIRFLOW_VAR_S3_TAGGING_DATA_BUCKET": DATA_BUCKET,
    "AIRFLOW_VAR_S3_TAGGING_OPS_BUCKET": OPS_BUCKET,
    "S3_TAGGING_EXAMPLE_POLL_SECONDS": "1",
    "S3_TAGGING_EXAMPLE_BATCH_SIZE": str(BATCH_SIZE),
}

_failures: list[str] = []
_kept: list[Path] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    result: Any = yield
    report = result.get_result()
    if report.failed:
        _failures.append(item.nodeid)


def show_progress_on_terminal(config: pytest.Config) -> None:
    """Point ``say`` at pytest's terminal, past output capturing."""
    reporter = config.pluginmanager.getplugin("terminalreporter")
    capture = config.pluginmanager.getplugin("capturemanager")
    if reporter is None or capture is None:
        return

    def to_terminal(line: str) -> None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)

    progress_sink[0] = to_terminal


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for path in _kept:
        terminalreporter.write_line(f"Deployment logs (processes, tasks, metadata DB) kept in {path}")


@pytest.fixture(scope="session")
def deployment_outcome(pytestconfig: pytest.Config) -> Iterator[tuple[Deployment, Outcome]]:
    """The deployment, started, driven through every scenario, and what happened."""
    show_progress_on_terminal(pytestconfig)
    deployment = Deployment(job_step_delay=JOB_STEP_DELAY, airflow_settings=AIRFLOW_SETTINGS)
    started = time.monotonic()
    failed, stopped_by = True, ""
    previous_term = signal.getsignal(signal.SIGTERM)
    try:
        with hard_timeout(HARD_TIMEOUT_SECONDS):
            stand_in = deployment.start_stand_in()
            deployment.airflow_settings["AIRFLOW_VAR_S3_TAGGING_ROLE_ARN"] = stand_in.role_arn
            migrate = deployment.airflow("db-migrate", "db", "migrate")
            driver = Driver(deployment)
            driver.seed()  # while the metadata DB is migrated
            say(f"seeded {len(driver.outcome.seeded)} objects while the metadata DB is migrated")
            if migrate.wait(240) != 0:
                raise RuntimeError(f"airflow db migrate failed:\n{deployment.log_text('db-migrate')}")
            driver.api = deployment.start_airflow()
            deployment.wait_for_dags(ALL_DAGS, 120)
            ready = time.monotonic() - started
            outcome = driver.drive()
            outcome.seen["timing"] = {"ready_s": round(ready), "driven_s": round(time.monotonic() - started)}
            summary = json.dumps(outcome.summary(), indent=1, default=str)
            (deployment.logs / "outcome.json").write_text(summary)
        failed = False
        signal.signal(signal.SIGTERM, _interrupt)  # while the tests run: unwind, then stop all
        yield deployment, outcome
        failed = bool(_failures)
    except DeploymentTimeout as err:
        stopped_by = str(err)
    finally:
        # A SIGTERM during the stop must not interrupt it: every wait in stop() is bounded.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            deployment.stop(keep_logs=failed)
        finally:
            signal.signal(signal.SIGTERM, previous_term)
        if deployment.kept_logs is not None:
            _kept.append(deployment.kept_logs)
    if stopped_by:
        where = f"; logs kept in {deployment.kept_logs}" if deployment.kept_logs else ""
        pytest.exit(f"{stopped_by}: every process of the deployment was stopped{where}", returncode=1)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


@pytest.fixture(scope="session")
def outcome(deployment_outcome: tuple[Deployment, Outcome]) -> Outcome:
    return deployment_outcome[1]
