"""pytest fixtures for DAG tests against the local stand-in, registered through the ``pytest11`` entry point.

- ``local_aws``: one ``LocalAWS`` for the whole session (started on first use);
- ``s3_bucket`` / ``versioned_s3_bucket``: a fresh bucket name per test;
- ``aws_default_conn``: points Airflow's ``aws_default`` connection (and plain boto3) at the stand-in
  for one test, through environment variables; returns the connection id;
- ``aws_faults``: the stand-in's fault injection, turned off again after the test.

Importing this module imports neither Airflow, boto3 nor moto (the stand-in is imported inside the
fixtures), so it costs nothing in test runs that do not use them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_s3_batch_tagging.testing.faults import Faults
    from airflow_s3_batch_tagging.testing.server import LocalAWS


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAWS]:
    """A running ``LocalAWS`` (moto's S3 and the S3 Batch Operations emulator) shared by the session."""
    from airflow_s3_batch_tagging.testing.server import LocalAWS

    with LocalAWS() as aws:
        yield aws


@pytest.fixture
def s3_bucket(local_aws: LocalAWS) -> str:
    """The name of a new, empty bucket on the stand-in."""
    return local_aws.create_bucket()


@pytest.fixture
def versioned_s3_bucket(local_aws: LocalAWS) -> str:
    """The name of a new, empty bucket with versioning enabled."""
    return local_aws.create_bucket(versioned=True)


@pytest.fixture
def aws_default_conn(local_aws: LocalAWS, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point ``aws_default`` (``AIRFLOW_CONN_AWS_DEFAULT``) and boto3's defaults at the stand-in."""
    for name, value in local_aws.env().items():
        monkeypatch.setenv(name, value)
    return "aws_default"


@pytest.fixture
def aws_faults(local_aws: LocalAWS) -> Iterator[Faults]:
    """The stand-in's fault injection, cleared (faults off, counters zero) before and after the test."""
    local_aws.faults.clear()
    yield local_aws.faults
    local_aws.faults.clear()
