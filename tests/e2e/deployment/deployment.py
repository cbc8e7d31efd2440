"""A real Airflow deployment on this machine, for the end-to-end tests in this folder.

``Deployment`` starts the local stand-in (``python -m airflow_s3_batch_tagging.testing serve``) and
Airflow's api-server, scheduler, dag-processor and triggerer as separate processes (LocalExecutor,
SQLite, a temporary ``AIRFLOW_HOME`` with the example DAGs copied into its DAGs folder, free ports
chosen at runtime), and stops every process it started, whatever happens:

- each child runs in its own session, and this process is made a child subreaper, so anything a
  child starts (LocalExecutor workers, task runners, which Airflow 3.3 puts in their own process
  groups) stays below this process even when its parent dies;
- ``stop()`` kills every descendant of this process (SIGTERM, then SIGKILL), is idempotent, and runs
  from the fixture's ``finally``, from ``atexit`` and on SIGTERM/SIGALRM (turned into exceptions);
- its logs stay in the work directory, which ``stop(keep_logs=True)`` copies to a kept folder.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import boto3
import httpx
import psutil
from botocore.config import Config

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "dags_examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("example_*.py"))
PR_SET_CHILD_SUBREAPER = 36
TERMINAL_RUN_STATES = frozenset({"success", "failed"})
DB_LOCKED_ATTEMPTS = 6
STOP_GRACE_SECONDS = 10  # for all components together to shut down on SIGTERM, then SIGKILL


class DeploymentError(Exception):
    """The deployment did not start or did not answer as Airflow promises."""


class DeploymentTimeout(BaseException):
    """The hard overall timeout (SIGALRM) or a SIGTERM: unwinds through every ``finally``."""


def say(text: str) -> None:
    """A progress line for the person watching (a run takes minutes); see ``progress_sink``."""
    with _say_lock:
        progress_sink[0](f"[e2e {time.strftime('%H:%M:%S')}] {text}")


# Where ``say`` writes; the conftest points it at pytest's terminal, past output capturing.
progress_sink: list[Callable[[str], None]] = [lambda line: print(line, file=sys.stderr, flush=True)]
_say_lock = threading.Lock()


def free_port() -> int:
    """A port nobody listens on now (bound to port 0 and released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def become_subreaper() -> None:
    """Orphans of our children are re-parented to this process instead of init (Linux only)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def wait_until(what: str, check: Any, timeout: float, interval: float = 0.5) -> Any:
    """Call ``check()`` until it returns something truthy; raise ``DeploymentError`` after ``timeout``.

    Errors of the REST API or the deployment are retried until then; any other error ends the wait.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = check()
            if value:
                return value
        except (httpx.HTTPError, DeploymentError) as err:
            last_error = err
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            raise DeploymentError(f"Timed out after {timeout:.0f} s waiting for {what}{detail}")
        time.sleep(interval)


@dataclass
class StandIn:
    """What ``serve`` printed: the environment that points Airflow and boto3 at it, and the role."""

    env: dict[str, str]
    role_arn: str

    @classmethod
    def from_output(cls, text: str) -> StandIn:
        env: dict[str, str] = {}
        role_arn = ""
        for line in text.splitlines():
            if line.startswith("export "):
                name, _, value = line[len("export ") :].partition("=")
                env[name] = shlex.split(value)[0]
            elif line.startswith("# Role ARN for jobs:"):
                role_arn = line.split(":", 1)[1].strip()
        if "AIRFLOW_CONN_AWS_DEFAULT" not in env or not role_arn:
            raise DeploymentError(f"Unexpected output of the stand-in's serve command:\n{text}")
        return cls(env, role_arn)

    @property
    def extra(self) -> dict[str, Any]:
        return dict(json.loads(self.env["AIRFLOW_CONN_AWS_DEFAULT"])["extra"])

    @property
    def account_id(self) -> str:
        return str(self.extra["account_id"])

    def client(self, service_name: str) -> Any:
        """A plain boto3 client, configured from the connection the stand-in printed for Airflow."""
        extra = self.extra
        config = Config(**extra["config_kwargs"], max_pool_connections=16)
        return boto3.session.Session().client(
            service_name,  # type: ignore[call-overload]
            endpoint_url=extra["endpoint_url"],
            region_name=extra["region_name"],
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            config=config,
        )


class RestApi:
    """Airflow's public REST API (``/api/v2``) with a token from the simple auth manager."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url
        response = httpx.post(
            f"{base_url}/auth/token", json={"username": username, "password": password}, timeout=30
        )
        response.raise_for_status()
        self.client = httpx.Client(
            base_url=f"{base_url}/api/v2",
            headers={"Authorization": f"Bearer {response.json()['access_token']}"},
            timeout=60,
        )

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call; repeated while SQLite is locked (Airflow then rolls the request back and answers
        500 "Database error", or 503 for a backfill), which concurrent writers cause on SQLite."""
        for attempt in range(DB_LOCKED_ATTEMPTS):
            response = self.client.request(method, path, **kwargs)
            locked = (response.status_code == 500 and "Database error" in response.text) or (
                response.status_code == 503 and "locked" in response.text
            )
            if not locked or attempt == DB_LOCKED_ATTEMPTS - 1:
                break
            time.sleep(1.0 + attempt)
        if response.status_code >= 400:
            raise DeploymentError(f"{method} {path} answered {response.status_code}: {response.text}")
        return response.json() if response.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.request("POST", path, json=body)

    def patch(self, path: str, body: dict[str, Any]) -> Any:
        return self.request("PATCH", path, json=body)

    # -- the calls the tests make --------------------------------------------------------------
    def trigger(self, dag_id: str, run_id: str, conf: dict[str, Any] | None = None) -> dict[str, Any]:
        """A manual run as the UI's Trigger button makes it: no logical date."""
        body = {"dag_run_id": run_id, "logical_date": None, "conf": conf or {}}
        return dict(self.post(f"/dags/{dag_id}/dagRuns", body))

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.get(f"/dags/{dag_id}/dagRuns/{run_id}"))

    def dag_runs(self, dag_id: str = "~") -> list[dict[str, Any]]:
        return list(self.get(f"/dags/{dag_id}/dagRuns", limit=1000)["dag_runs"])

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        return list(self.get(path, limit=1000)["task_instances"])

    def task_instance(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
        if map_index >= 0:
            path += f"/{map_index}"
        return dict(self.get(path))

    def tries(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> list[dict[str, Any]]:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
        path += f"/{map_index}/tries" if map_index >= 0 else "/tries"
        return list(self.get(path)["task_instances"])

    def xcom(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> Any:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value"
        return self.get(path, map_index=map_index, deserialize=True)["value"]

    def set_state(self, dag_id: str, run_id: str, task_id: str, state: str) -> Any:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
        return self.patch(path, {"new_state": state})

    def clear(self, dag_id: str, run_id: str, task_id: str) -> Any:
        body = {
            "dry_run": False,
            "dag_run_id": run_id,
            "task_ids": [task_id],
            "only_failed": False,
            "reset_dag_runs": True,
        }
        return self.post(f"/dags/{dag_id}/clearTaskInstances", body)

    def unpause(self, dag_id: str) -> Any:
        return self.patch(f"/dags/{dag_id}", {"is_paused": False})


@dataclass
class Deployment:
    """The stand-in plus Airflow's four components, each a separate process under ``workdir``."""

    job_step_delay: float
    airflow_settings: dict[str, str] = field(default_factory=dict)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="s3-tagging-e2e-")))
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    stand_in: StandIn | None = None
    api: RestApi | None = None
    api_port: int = 0
    kept_logs: Path | None = None
    _stopped: bool = False

    def __post_init__(self) -> None:
        self.logs = self.workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.airflow_home = self.workdir / "airflow-home"
        self.dags_folder = self.airflow_home / "dags"
        self.db_path = self.airflow_home / "airflow.db"
        self.dags_folder.mkdir(parents=True)
        for example in EXAMPLE_FILES:  # as a user deploys them: files in the DAGs folder
            shutil.copy(example, self.dags_folder / example.name)
        self.jwt_secret = secrets.token_urlsafe(32)
        become_subreaper()
        atexit.register(self.stop)

    # -- processes ------------------------------------------------------------------------------
    def spawn(self, name: str, argv: Sequence[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log: IO[bytes] = (self.logs / f"{name}.log").open("ab")
        try:
            child = subprocess.Popen(
                list(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=self.workdir,
                start_new_session=True,
            )
        finally:
            log.close()
        self.children[name] = child
        return child

    def log_text(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def check_alive(self) -> None:
        for name, child in self.children.items():
            if name != "db-migrate" and child.poll() is not None:
                tail = "\n".join(self.log_text(name).splitlines()[-30:])
                raise DeploymentError(f"{name} exited with {child.returncode}; its log ends:\n{tail}")

    def descendants(self) -> list[psutil.Process]:
        with contextlib.suppress(psutil.Error):
            return list(psutil.Process().children(recursive=True))
        return []

    def stop(self, keep_logs: bool = False) -> None:
        """Stop every process this deployment started (all descendants of this process)."""
        if not self._stopped:
            self._stopped = True
            for child in self.children.values():  # each child's session first: clean shutdowns
                if child.poll() is None:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(child.pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE_SECONDS
            for child in self.children.values():
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(max(0.1, deadline - time.monotonic()))
            survivors = self.descendants()
            for process in survivors:
                with contextlib.suppress(psutil.Error):
                    process.kill()
            psutil.wait_procs(survivors, timeout=10)
            for child in self.children.values():
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(5)
            reap_orphans()
            say(f"stopped {len(self.children)} processes and {len(survivors)} left over below them")
        if keep_logs and self.kept_logs is None:
            self.kept_logs = Path(tempfile.mkdtemp(prefix="s3-tagging-e2e-logs-"))
            shutil.copytree(self.logs, self.kept_logs / "processes", dirs_exist_ok=True)
            if (self.airflow_home / "logs").exists():
                shutil.copytree(self.airflow_home / "logs", self.kept_logs / "tasks", dirs_exist_ok=True)
            if self.db_path.exists():
                shutil.copy(self.db_path, self.kept_logs / "airflow.db")
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- start-up --------------------------------------------------------------------------------
    def start_stand_in(self) -> StandIn:
        argv = [sys.executable, "-m", "airflow_s3_batch_tagging.testing", "serve"]
        argv += ["--job-step-delay", str(self.job_step_delay)]
        child = self.spawn("stand-in", argv, {**base_env(), "PYTHONUNBUFFERED": "1"})

        def printed() -> str:
            if child.poll() is not None:
                raise DeploymentError(f"the stand-in exited: {self.log_text('stand-in')}")
            text = self.log_text("stand-in")
            return text if "# Press Ctrl-C" in text else ""

        self.stand_in = StandIn.from_output(wait_until("the stand-in to listen", printed, 60, 0.2))
        say(f"stand-in serving on {self.stand_in.extra['endpoint_url']} (logs: {self.logs})")
        return self.stand_in

    def airflow_env(self) -> dict[str, str]:
        assert self.stand_in is not None
        base_url = f"http://127.0.0.1:{self.api_port}"
        env = base_env()
        env.update(self.stand_in.env)
        env.update(
            {
                "AIRFLOW_HOME": str(self.airflow_home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                # A writer waits up to 30 s for SQLite's lock (5 s by default, after which Airflow
                # answers 500 to the REST and execution APIs alike under this many processes).
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.db_path}?timeout=30",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
                "AIRFLOW__API__BASE_URL": base_url,
                "AIRFLOW__API__PORT": str(self.api_port),
                # Every component signs and checks the same tokens.
                "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt_secret,
                "AIRFLOW__API__SECRET_KEY": self.jwt_secret,
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                "PYTHONWARNINGS": "ignore",
                **self.airflow_settings,
            }
        )
        return env

    def airflow(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        return self.spawn(name, [sys.executable, "-m", "airflow", *args], self.airflow_env())

    def start_airflow(self) -> RestApi:
        """``airflow db migrate`` must have finished; start the four components and wait for them."""
        self.api_port = free_port()
        self.airflow("api-server", "api-server", "--host", "127.0.0.1", "--port", str(self.api_port))
        for component in ("scheduler", "dag-processor", "triggerer"):
            self.airflow(component, component)
        base_url = f"http://127.0.0.1:{self.api_port}"

        def healthy() -> bool:
            self.check_alive()
            health = httpx.get(f"{base_url}/api/v2/monitor/health", timeout=10).json()
            return all(
                (health.get(part) or {}).get("status") == "healthy"
                for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
            )

        wait_until("every Airflow component to report healthy", healthy, 180, 1.0)
        say(f"api-server, scheduler, dag-processor and triggerer healthy; api-server on {base_url}")
        passwords = self.airflow_home / "simple_auth_manager_passwords.json.generated"
        password = json.loads(passwords.read_text())["admin"]
        self.api = RestApi(base_url, "admin", password)
        return self.api

    def wait_for_dags(self, dag_ids: Sequence[str], timeout: float) -> None:
        """Every example DAG parsed by the dag-processor, and no import error."""
        assert self.api is not None
        api = self.api

        def parsed() -> bool:
            self.check_alive()
            errors = api.get("/importErrors")["import_errors"]
            if errors:
                raise DeploymentError(f"Import errors in the example DAGs: {errors}")
            found = {dag["dag_id"] for dag in api.get("/dags", limit=100)["dags"]}
            return set(dag_ids) <= found

        wait_until(f"the dag-processor to parse {len(dag_ids)} example DAGs", parsed, timeout, 1.0)
        say(f"{len(dag_ids)} example DAGs parsed, no import error")

    def task_runner(self, ti_id: str) -> psutil.Process | None:
        """The task runner process of one task instance try, among this deployment's processes.

        Airflow 3's task runner titles itself ``airflow worker -- <task instance id>``.
        """
        for process in self.descendants():
            with contextlib.suppress(psutil.Error):
                if " ".join(process.cmdline()).strip() == f"airflow worker -- {ti_id}":
                    return process
        return None


def base_env() -> dict[str, str]:
    """This process's environment without Airflow, AWS and Python-path settings."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AIRFLOW", "AWS_", "PYTEST")) and name != "PYTHONPATH"
    }


def reap_orphans() -> None:
    """Collect exit statuses of re-parented orphans (we are their subreaper)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


@contextlib.contextmanager
def hard_timeout(seconds: int) -> Iterator[None]:
    """Raise ``DeploymentTimeout`` in the main thread after ``seconds`` or on SIGTERM."""

    def expire(signum: int, frame: Any) -> None:
        raise DeploymentTimeout(f"end-to-end run stopped by signal {signal.Signals(signum).name}")

    previous_alarm = signal.signal(signal.SIGALRM, expire)
    previous_term = signal.signal(signal.SIGTERM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous_alarm)
        signal.signal(signal.SIGTERM, previous_term)
