"""Fixtures of the system test: where it runs (tests/system/target.py) and, on the stand-in, the
stand-in itself."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest

from tests.system.target import SKIP_REASON, system_test_target

log = logging.getLogger(__name__)


def _credentials_configured() -> bool:
    if os.environ.get("AIRFLOW_CONN_AWS_DEFAULT"):
        return True
    import boto3

    return boto3.session.Session().get_credentials() is not None


@pytest.fixture
def system_test_aws(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``"local"`` or ``"aws"``; skips the test when neither is requested.

    On ``local`` the stand-in is started and the ``aws_default`` connection (and plain boto3) point at
    it, and the number of S3 (and IAM, STS) requests it served is logged afterwards: what docs/testing.md's
    cost figure counts. On ``aws`` the connection and credentials are the caller's own, untouched.
    """
    target = system_test_target()
    if target is None:
        pytest.skip(SKIP_REASON)
    if target == "aws":
        if not _credentials_configured():
            pytest.skip(
                f"System test on AWS account {os.environ.get('S3_TAGGING_SYSTEM_TEST_ACCOUNT')}: no AWS "
                "credentials found (set AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or "
                "AIRFLOW_CONN_AWS_DEFAULT)."
            )
        yield target
        return
    local_aws = request.getfixturevalue("local_aws")
    for name, value in local_aws.env().items():
        monkeypatch.setenv(name, value)
    before = local_aws.faults.counters["requests"]
    yield target
    log.warning(
        "The stand-in served %s S3, IAM and STS requests to the system test (S3 Control not counted)",
        local_aws.faults.counters["requests"] - before,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "system: the system test (tests/system): both paths end to end on AWS or the stand-in"
    )
