"""Test-wide settings: a throw-away AIRFLOW_HOME and no real AWS credentials, set before Airflow loads."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from tests.system.target import runs_on_real_aws

# Hypothesis's default 200 ms deadline per example is a timed assertion: on a loaded 2-core machine an
# example of the manifest round trip took 601 ms and failed. Speed is the benchmarks' job.
settings.register_profile("no-deadline", deadline=None)
settings.load_profile("no-deadline")

_SYSTEM_TESTS = Path(__file__).resolve().parent / "system"

_AIRFLOW_HOME = tempfile.mkdtemp(prefix="s3bt-airflow-home-")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME}/airflow.db"
if version("apache-airflow").startswith("2."):
    # Airflow 2's unit-test config (unit_tests.cfg) picks the LocalExecutor, which refuses sqlite;
    # the SequentialExecutor is Airflow 2's own default on sqlite.
    os.environ.setdefault("AIRFLOW__CORE__EXECUTOR", "SequentialExecutor")
# Never reach real AWS from tests: dummy credentials and a fixed region. The one exception is the
# system test on a real account (tests/system, `make system-test`): it keeps the caller's
# credentials, and then nothing outside tests/system is collected.
_REAL_AWS_SYSTEM_TEST = runs_on_real_aws()
if not _REAL_AWS_SYSTEM_TEST:
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    """With real credentials in the environment, collect nothing but the system test."""
    if not _REAL_AWS_SYSTEM_TEST:
        return None
    path = collection_path.resolve()
    inside = path == _SYSTEM_TESTS or _SYSTEM_TESTS in path.parents
    return not (inside or path in _SYSTEM_TESTS.parents)


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """A migrated sqlite metadata DB in the temporary AIRFLOW_HOME, for tests that run real DAGs."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        env=os.environ.copy(),
        capture_output=True,
    )
    return os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


@pytest.fixture
def run_dag(airflow_db: str) -> Callable[..., Any]:
    """``run_dag(dag, logical_date=..., **kwargs)``: ``dag.test()`` on Airflow 2.11 or 3.x, returning
    the DAG run (see ``tests/airflow_versions.py``)."""
    from tests.airflow_versions import run_dag

    return run_dag
