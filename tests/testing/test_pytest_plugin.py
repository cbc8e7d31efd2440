"""The fixtures users get through the ``pytest11`` entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from typing import Any

import pytest

from airflow_s3_batch_tagging.testing import Faults, LocalAWS

pytestmark = pytest.mark.e2e


def test_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    plugins = {entry.name: entry.value for entry in entry_points(group="pytest11")}

    assert plugins["s3_batch_tagging"] == "airflow_s3_batch_tagging.testing.pytest_plugin"


def test_local_aws_is_running_and_shared(local_aws: LocalAWS, request: pytest.FixtureRequest) -> None:
    assert local_aws.running
    assert request.getfixturevalue("local_aws") is local_aws


def test_each_test_gets_fresh_buckets(local_aws: LocalAWS, s3_bucket: str, versioned_s3_bucket: str) -> None:
    s3 = local_aws.client("s3")

    assert s3_bucket != versioned_s3_bucket
    assert s3.list_objects_v2(Bucket=s3_bucket)["KeyCount"] == 0
    assert s3.get_bucket_versioning(Bucket=versioned_s3_bucket)["Status"] == "Enabled"
    assert "Status" not in s3.get_bucket_versioning(Bucket=s3_bucket)


def test_aws_default_conn_sets_the_environment(local_aws: LocalAWS, aws_default_conn: str) -> None:
    assert aws_default_conn == "aws_default"
    for name, value in local_aws.env().items():
        assert os.environ[name] == value


def test_aws_faults_starts_clean(aws_faults: Faults, local_aws: LocalAWS) -> None:
    assert aws_faults is local_aws.faults
    assert aws_faults.injected_total == 0
    assert aws_faults.slowdown_ratio == 0.0
    aws_faults.slowdown_ratio = 0.5  # cleared again by the fixture


def test_aws_faults_was_cleared_after_the_previous_test(local_aws: LocalAWS, s3: Any) -> None:
    assert local_aws.faults.slowdown_ratio == 0.0


def test_plugin_import_loads_no_aws_or_moto() -> None:
    code = (
        "import sys, airflow_s3_batch_tagging.testing.pytest_plugin; "
        "print(sorted(m for m in ('boto3', 'botocore', 'moto', 'airflow', 'werkzeug') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout

    assert loaded.strip() == "[]"


def test_package_names_still_resolve_lazily() -> None:
    import airflow_s3_batch_tagging.testing as testing

    assert testing.LocalAWS.__name__ == "LocalAWS"
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = testing.Nope
