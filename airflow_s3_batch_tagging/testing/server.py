"""``LocalAWS``: one loopback HTTP server answering S3 (moto) and the S3 Control job API (our emulator).

Requests whose path starts with ``/v20180820/`` and that carry an ``x-amz-account-id`` header go to
the job emulator; everything else goes, through the fault injection middleware and a small layer
that corrects two of moto's tagging answers (``moto_compat``), to moto's server app (server-mode
state, shared by every client that talks to the endpoint).

botocore's S3 Control endpoint rules always put the account id in front of the host
(``http://123456789012.127.0.0.1:<port>``), which does not resolve; ``inject_host_prefix=False``
does not change that. The stand-in's client settings therefore name its own endpoint as the HTTP
proxy: the request then goes to the loopback server whatever its host, with no DNS lookup and no
special case in the code that makes the call. Both botocore and aiobotocore honour it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import uuid
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from airflow_s3_batch_tagging.testing.faults import FaultInjectionMiddleware, Faults
from airflow_s3_batch_tagging.testing.jobs import JobStore
from airflow_s3_batch_tagging.testing.moto_compat import MotoCompatMiddleware
from airflow_s3_batch_tagging.testing.rules import bucket_name_problem
from airflow_s3_batch_tagging.testing.s3control_emulator import API_PREFIX, S3ControlEmulator

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from types import TracebackType

    from werkzeug.serving import BaseWSGIServer

log = logging.getLogger(__name__)

DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"
DUMMY_ACCESS_KEY_ID = "testing"
DUMMY_SECRET_ACCESS_KEY = "testing"
ROLE_NAME = "s3-batch-tagging"


class _Dispatcher:
    """Send S3 Control job requests to the emulator and the rest to moto."""

    def __init__(self, s3control: Any, s3: Any) -> None:
        self.s3control = s3control
        self.s3 = s3

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(API_PREFIX) and "HTTP_X_AMZ_ACCOUNT_ID" in environ:
            return self.s3control(environ, start_response)
        return self.s3(environ, start_response)


class LocalAWS:
    """A local stand-in for S3 and S3 Batch Operations, for tests, demos and manual runs.

    :param account_id: the account the stand-in answers for (12 digits).
    :param region: region of the clients and of job ARNs.
    :param job_step_delay: seconds the job emulator pauses between status steps and task chunks.
    :param tasks_per_step: tasks a job runs between two progress updates.
    :param host: loopback address to listen on.
    :param port: port to listen on; 0 picks a free one.
    :param fault_seed: seed of the fault injection's random choices.
    """

    def __init__(
        self,
        *,
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
        job_step_delay: float = 0.0,
        tasks_per_step: int = 10,
        host: str = "127.0.0.1",
        port: int = 0,
        fault_seed: int | None = None,
    ) -> None:
        if not (isinstance(account_id, str) and len(account_id) == 12 and account_id.isdigit()):
            raise ValueError(f"Invalid account_id {account_id!r}: an AWS account id is 12 digits.")
        self.account_id = account_id
        self.region = region
        self.host = host
        self.port = port
        self.faults = Faults(seed=fault_seed)
        self.jobs = JobStore(
            self._job_s3_client,
            account_id=account_id,
            region=region,
            job_step_delay=job_step_delay,
            tasks_per_step=tasks_per_step,
        )
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._admin_s3: Any = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> LocalAWS:
        """Start the server in a background thread (idempotent); return self."""
        if self._server is not None:
            return self
        # moto is imported only here: importing this package must stay cheap.
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        class QuietRequestHandler(MotoRequestHandler):
            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                """Leave per-request logging out of test output."""

        moto_app = MotoCompatMiddleware(DomainDispatcherApplication(create_backend_app))
        app = _Dispatcher(S3ControlEmulator(self.jobs), FaultInjectionMiddleware(moto_app, self.faults))
        self._server = make_server(
            self.host, self.port, app, threaded=True, request_handler=QuietRequestHandler
        )
        self.port = self._server.server_port
        server = self._server
        self._thread = threading.Thread(
            target=lambda: server.serve_forever(poll_interval=0.05),
            name=f"local-aws-{self.port}",
            daemon=True,
        )
        self._thread.start()
        log.info("LocalAWS serving S3 and S3 Control on %s", self.endpoint_url)
        return self

    def stop(self) -> None:
        """Stop the job runners and the server."""
        self.jobs.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)
        self._server = None
        self._thread = None
        self._admin_s3 = None

    def __enter__(self) -> LocalAWS:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    # -- what clients need -------------------------------------------------------------------
    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("LocalAWS is not running: use it as a context manager or call start().")
        return f"http://{self.host}:{self.port}"

    @property
    def role_arn(self) -> str:
        """A role ARN of the valid form for CreateJob (the stand-in does not check IAM)."""
        return f"arn:aws:iam::{self.account_id}:role/{ROLE_NAME}"

    @property
    def job_step_delay(self) -> float:
        return self.jobs.job_step_delay

    @job_step_delay.setter
    def job_step_delay(self, value: float) -> None:
        if value < 0:
            raise ValueError(f"Invalid job_step_delay {value!r}: it must not be negative.")
        self.jobs.job_step_delay = value

    @contextlib.contextmanager
    def paced_jobs(self, job_step_delay: float) -> Iterator[LocalAWS]:
        """Within the block, jobs pause ``job_step_delay`` seconds between steps (so that a test or
        a demo can act while one runs); the previous delay comes back afterwards, on error too."""
        previous = self.job_step_delay
        self.job_step_delay = job_step_delay
        try:
            yield self
        finally:
            self.job_step_delay = previous

    @property
    def config_kwargs(self) -> dict[str, Any]:
        """botocore ``Config`` arguments that route every client, S3 Control included, to the stand-in."""
        return {
            "inject_host_prefix": False,
            "proxies": {"http": self.endpoint_url},
            "s3": {"addressing_style": "path"},
        }

    def botocore_config(self, **overrides: Any) -> Config:
        return Config(**{**self.config_kwargs, "region_name": self.region, **overrides})

    def client(self, service_name: str, **kwargs: Any) -> Any:
        """A plain boto3 client wired to the stand-in (``config=`` is merged over its settings)."""
        config = self.botocore_config()
        if "config" in kwargs:
            config = config.merge(kwargs.pop("config"))
        params: dict[str, Any] = {
            "endpoint_url": self.endpoint_url,
            "region_name": self.region,
            "aws_access_key_id": DUMMY_ACCESS_KEY_ID,
            "aws_secret_access_key": DUMMY_SECRET_ACCESS_KEY,
            "config": config,
            **kwargs,
        }
        return boto3.session.Session().client(service_name, **params)  # type: ignore[call-overload]

    def _job_s3_client(self) -> Any:
        # The job runner retries throttling and resets itself, with short delays.
        return self.client("s3", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))

    @property
    def connection_extra(self) -> dict[str, Any]:
        """The ``extra`` of an Airflow ``aws`` connection that points at the stand-in."""
        return {
            "endpoint_url": self.endpoint_url,
            "region_name": self.region,
            "config_kwargs": self.config_kwargs,
            "account_id": self.account_id,
        }

    @property
    def airflow_conn_json(self) -> str:
        """The value of ``AIRFLOW_CONN_AWS_DEFAULT`` (JSON form, dummy keys included)."""
        return json.dumps(
            {
                "conn_type": "aws",
                "login": DUMMY_ACCESS_KEY_ID,
                "password": DUMMY_SECRET_ACCESS_KEY,
                "extra": self.connection_extra,
            }
        )

    def env(self, conn_id: str = "aws_default") -> dict[str, str]:
        """Environment variables for Airflow (and plain boto3) to use the stand-in."""
        return {
            f"AIRFLOW_CONN_{conn_id.upper()}": self.airflow_conn_json,
            "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_ACCESS_KEY,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
        }

    # -- conveniences for tests ----------------------------------------------------------------
    def create_bucket(self, name: str | None = None, *, versioned: bool = False) -> str:
        """Create a bucket (a fresh unique name when ``name`` is None); return its name."""
        bucket = name or f"bucket-{uuid.uuid4().hex[:16]}"
        problem = bucket_name_problem(bucket)
        if problem:
            raise ValueError(f"Invalid bucket name {bucket!r}: {problem}.")
        if self._admin_s3 is None:
            self._admin_s3 = self.client("s3")
        s3 = self._admin_s3
        if self.region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": self.region})
        if versioned:
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        return bucket

    def __repr__(self) -> str:
        where = f"http://{self.host}:{self.port}" if self.running else "not running"
        return f"LocalAWS(account_id={self.account_id!r}, region={self.region!r}, {where})"
