"""`python -m airflow_s3_batch_tagging.testing serve`: prints the exports and serves until interrupted."""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys

import boto3
import pytest
from botocore.config import Config

from airflow_s3_batch_tagging.testing.__main__ import build_parser

pytestmark = pytest.mark.e2e


def test_parser_requires_a_command() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args([])
    assert build_parser().parse_args(["serve", "--port", "8123"]).port == 8123


def test_serve_prints_exports_that_work_and_stops_on_ctrl_c() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_s3_batch_tagging.testing", "serve", "--job-step-delay", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As when started in the background by a non-interactive shell (`serve &`, nohup, CI): SIGINT
        # arrives ignored, and Python then raises no KeyboardInterrupt of its own.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        exports: dict[str, str] = {}
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("export "):
                name, _, value = line[len("export ") :].strip().partition("=")
                exports[name] = shlex.split(value)[0]
            if "Ctrl-C" in line:
                break
        extra = json.loads(exports["AIRFLOW_CONN_AWS_DEFAULT"])["extra"]
        s3control = boto3.client(
            "s3control",
            endpoint_url=extra["endpoint_url"],
            region_name=extra["region_name"],
            aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"],
            config=Config(**extra["config_kwargs"]),
        )

        assert s3control.list_jobs(AccountId="123456789012")["Jobs"] == []
        assert exports["AWS_ENDPOINT_URL"] == extra["endpoint_url"]
        s3control.close()
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "stopped" in out
