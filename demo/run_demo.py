"""The demo behind ``make demo``: the example DAGs re-tag a seeded bucket on the local stand-in.

Steps: start ``LocalAWS`` (moto's S3 plus the S3 Batch Operations job emulator) in this process;
migrate a throw-away Airflow metadata DB under a temporary ``AIRFLOW_HOME`` while a versioned bucket
is seeded with a few thousand objects (some with older versions, most with old tags); run every
example DAG with ``airflow dags test`` as a subprocess (logs to files, one line per run here);
print a before/after table of sample objects and each run's summary (its XCom result); check the
tags of every object version on S3 against what the DAGs promise. Exits 0 when all of it holds,
1 otherwise, 130 when interrupted; every process it started is stopped in every case.

Run it with ``make demo`` or ``.venv/bin/python -m demo [--keep]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from botocore.config import Config

from airflow_s3_batch_tagging.testing import LocalAWS
from airflow_s3_batch_tagging.testing.external_jobs import create_external_tagging_job

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import FrameType

DAGS_FOLDER = Path(__file__).resolve().parents[1] / "dags_examples"
DATA_BUCKET = "demo-data"
OPS_BUCKET = "demo-ops"
RUN_TIMEOUT_SECONDS = 300
EVENT_DAYS = ("2026-01-01", "2026-01-02", "2026-01-03")
SUMMARY_TASKS = {
    "example_s3_batch_tagging_from_upstream": "summarize_job",
    "example_s3_direct_tagging_mapped": "aggregate_results",
    "example_s3_scheduled_retagging": "interval_summary",
    "example_s3_backfill_retagging": "backfill_summary",
    "example_s3_batch_job_sensor": "job_summary",
}
EXTERNAL_JOB_TAGS = {"legal_hold": "true", "reviewed_by": "legal"}

Tags = dict[str, str]


class DemoFailure(Exception):
    """Something the demo promised did not happen."""


@dataclass(frozen=True)
class Sizes:
    """How many objects each example gets."""

    exports: int = 1000
    datasets: int = 1000
    events_per_day: int = 200
    archive: int = 300


@dataclass
class SeededVersion:
    key: str
    version_id: str
    tags: Tags
    latest: bool


@dataclass
class RunResult:
    dag_id: str
    logical_date: str
    state: str
    seconds: float
    log: Path
    summary: dict[str, Any] | None = None
    note: str = ""


@dataclass
class Report:
    runs: list[RunResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


# -- output -------------------------------------------------------------------------------------------


def header(step: int, total: int, text: str) -> None:
    print(f"\n== [{step}/{total}] {text}", flush=True)


def say(text: str) -> None:
    print(f"   {text}", flush=True)


def format_tags(tags: Tags | None) -> str:
    if tags is None:
        return "-"
    return ", ".join(f"{k}={v}" for k, v in sorted(tags.items())) or "(no tags)"


def print_table(rows: Sequence[Sequence[str]], headings: Sequence[str]) -> None:
    widths = [max(len(str(row[i])) for row in [headings, *rows]) for i in range(len(headings))]
    line = "   " + "  ".join(f"{{:<{width}}}" for width in widths)
    print(line.format(*headings).rstrip())
    print(line.format(*("-" * w for w in widths)).rstrip())
    for row in rows:
        print(line.format(*row).rstrip())


# -- what the DAGs promise ----------------------------------------------------------------------------


def seed_plan(sizes: Sizes) -> list[tuple[str, list[Tags | None]]]:
    """Each key with the tag sets of its versions, oldest first (the last one is the latest)."""
    plan: list[tuple[str, list[Tags | None]]] = []
    for i in range(sizes.exports):
        current = {"tier": "hot", "owner": "etl"}
        older = [{"tier": "hot", "owner": "etl", "draft": "true"}] if i % 10 == 0 else []
        plan.append((f"exports/2026/03/part-{i:04d}.parquet", [*older, current]))
    plan.append(("exports/2026/03/_SUCCESS", [None]))
    for i in range(sizes.datasets):
        tags = None if i % 4 == 0 else {"owner": f"team-{i % 3}", "classification": "public"}
        older = [{"classification": "restricted"}] if i % 20 == 0 else []
        plan.append((f"datasets/{i:04d}.csv", [*older, tags]))
    for day in EVENT_DAYS:
        for i in range(sizes.events_per_day):
            plan.append((f"events/dt={day}/{i:04d}.json", [{"source": "app"} if i % 2 == 0 else None]))
    for i in range(sizes.archive):
        plan.append((f"archive/{i:04d}.bin", [{"legal_hold": "false"}]))
    return plan


def expected_tags(key: str, before: Tags) -> Tags:
    """The tags the example DAGs promise for the latest version of ``key`` (seeded with ``before``)."""
    if key.startswith("exports/") and key.endswith(".parquet"):
        return {"tier": "cold", "retagged_on": "2026-03-01"}  # a batch job replaces the tag set
    if key.startswith("datasets/"):
        return {**before, "classification": "internal", "reviewed_on": "2026-03-01"}  # merged
    if key.startswith("events/dt=2026-01-03/"):
        return {**before, "ingest_date": "2026-01-03", "expires_after": "2026-04-03", "retention": "90d"}
    if key.startswith(("events/dt=2026-01-01/", "events/dt=2026-01-02/")):
        day = key.split("dt=", 1)[1][:10]
        return {**before, "retention_class": "archive", "backfilled_for": day}
    if key.startswith("archive/"):
        return dict(EXTERNAL_JOB_TAGS)
    return before


# -- the demo -----------------------------------------------------------------------------------------


class Demo:
    def __init__(self, aws: LocalAWS, workdir: Path, sizes: Sizes) -> None:
        self.aws = aws
        self.workdir = workdir
        self.sizes = sizes
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.airflow_home = workdir / "airflow-home"
        self.airflow_home.mkdir(exist_ok=True)
        self.db_path = self.airflow_home / "airflow.db"
        self.s3 = aws.client("s3", config=Config(max_pool_connections=16))
        self.children: list[subprocess.Popen[bytes]] = []
        self.seeded: list[SeededVersion] = []
        self.report = Report()

    # -- processes ----------------------------------------------------------------------------------

    def airflow_env(self) -> dict[str, str]:
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("AIRFLOW", "AWS_")) and name != "PYTHONPATH"
        }
        env.update(self.aws.env())
        env.update(
            {
                "AIRFLOW_HOME": str(self.airflow_home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.db_path}",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                # The example DAGs read these (Airflow Variables from the environment).
                "AIRFLOW_VAR_S3_TAGGING_DATA_BUCKET": DATA_BUCKET,
                "AIRFLOW_VAR_S3_TAGGING_OPS_BUCKET": OPS_BUCKET,
                "AIRFLOW_VAR_S3_TAGGING_ROLE_ARN": self.aws.role_arn,
                "S3_TAGGING_EXAMPLE_POLL_SECONDS": "1",
                "S3_TAGGING_EXAMPLE_BATCH_SIZE": "250",
                "PYTHONUNBUFFERED": "1",
                "PYTHONWARNINGS": "ignore",
            }
        )
        return env

    def start_airflow(self, args: Sequence[str], log_name: str) -> tuple[subprocess.Popen[bytes], Path]:
        log_path = self.logs / log_name
        log: IO[bytes] = log_path.open("wb")
        try:
            child = subprocess.Popen(
                [sys.executable, "-m", "airflow", *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.airflow_env(),
                cwd=self.workdir,
                start_new_session=True,  # Ctrl-C reaches the demo, which stops the child itself
            )
        finally:
            log.close()
        self.children.append(child)
        return child, log_path

    def wait(self, child: subprocess.Popen[bytes], timeout: float) -> int:
        try:
            return child.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop(child)
            raise
        finally:
            if child.poll() is not None and child in self.children:
                self.children.remove(child)

    def stop(self, child: subprocess.Popen[bytes]) -> None:
        """Stop a child and everything it started (its own session)."""
        if child.poll() is None:
            try:
                os.killpg(child.pid, signal.SIGTERM)
                child.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                child.wait(5)
        if child in self.children:
            self.children.remove(child)

    def stop_all(self) -> None:
        for child in list(self.children):
            self.stop(child)

    # -- seeding --------------------------------------------------------------------------------------

    def seed(self) -> None:
        self.aws.create_bucket(DATA_BUCKET, versioned=True)
        self.aws.create_bucket(OPS_BUCKET)

        def put(item: tuple[str, list[Tags | None]]) -> list[SeededVersion]:
            key, versions = item
            seeded = []
            for n, tags in enumerate(versions):
                extra = {"Tagging": "&".join(f"{k}={v}" for k, v in tags.items())} if tags else {}
                response = self.s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=key.encode(), **extra)
                seeded.append(SeededVersion(key, response["VersionId"], tags or {}, n == len(versions) - 1))
            return seeded

        with ThreadPoolExecutor(12) as pool:
            for versions in pool.map(put, seed_plan(self.sizes)):
                self.seeded.extend(versions)

    # -- runs ----------------------------------------------------------------------------------------

    def run_dag(
        self, dag_id: str, logical_date: str, conf: dict[str, Any] | None = None, note: str = ""
    ) -> RunResult:
        args = ["dags", "test", dag_id, logical_date]
        if conf is not None:
            args += ["--conf", json.dumps(conf)]
        started = time.monotonic()
        n = len(self.report.runs) + 1
        child, log = self.start_airflow(args, f"{n:02d}-{dag_id}-{logical_date}.log")
        try:
            self.wait(child, RUN_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.report.problems.append(f"{dag_id} {logical_date} did not finish in {RUN_TIMEOUT_SECONDS} s")
        state, summary = self.read_run(dag_id)
        result = RunResult(dag_id, logical_date, state, time.monotonic() - started, log, summary, note)
        self.report.runs.append(result)
        say(f"{dag_id} {logical_date}{note}: {state} in {result.seconds:.1f} s")
        if state != "success":
            self.report.problems.append(f"{dag_id} {logical_date} ended {state}; log: {log}")
        return result

    def read_run(self, dag_id: str) -> tuple[str, dict[str, Any] | None]:
        """The state of the DAG's latest run and its summary task's XCom, from the metadata DB."""
        with sqlite3.connect(self.db_path) as db:
            row = db.execute(
                "SELECT id, state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)
            ).fetchone()
            if row is None:
                return "not created", None
            run_id, state = row
            value = db.execute(
                "SELECT value FROM xcom WHERE dag_run_id = ? AND task_id = ? AND key = 'return_value' "
                "AND map_index = -1",
                (run_id, SUMMARY_TASKS[dag_id]),
            ).fetchone()
        summary = None
        if value is not None:
            summary = json.loads(value[0])
            if isinstance(summary, str):
                summary = json.loads(summary)
        return str(state), summary

    def create_external_job(self) -> str:
        """A tagging job made outside Airflow (as the console or the AWS CLI would), for example 5."""
        return create_external_tagging_job(
            self.aws.client("s3control"),
            account_id=self.aws.account_id,
            role_arn=self.aws.role_arn,
            source_bucket=DATA_BUCKET,
            key_prefix="archive/",
            tags=EXTERNAL_JOB_TAGS,
            report_bucket=OPS_BUCKET,
            description="created outside Airflow by the demo",
            confirmation_required=False,
            report_scope="FailedTasksOnly",
        )

    # -- checks ----------------------------------------------------------------------------------------

    def tags_of(self, key: str, version_id: str) -> Tags:
        response = self.s3.get_object_tagging(Bucket=DATA_BUCKET, Key=key, VersionId=version_id)
        return {t["Key"]: t["Value"] for t in response["TagSet"]}

    def read_all_tags(self) -> dict[tuple[str, str], Tags]:
        with ThreadPoolExecutor(12) as pool:
            found = pool.map(
                lambda v: ((v.key, v.version_id), self.tags_of(v.key, v.version_id)), self.seeded
            )
            return dict(found)

    def verify(self, actual: dict[tuple[str, str], Tags]) -> int:
        """Compare every seeded version's tags with the promise; return how many were checked."""
        listed = 0
        for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=DATA_BUCKET):
            listed += len(page.get("Versions", []))
        if listed != len(self.seeded):
            self.report.problems.append(
                f"{DATA_BUCKET} holds {listed} object versions, seeded {len(self.seeded)}"
            )
        wrong = []
        for version in self.seeded:
            want = expected_tags(version.key, version.tags) if version.latest else version.tags
            got = actual[(version.key, version.version_id)]
            if got != want:
                wrong.append(
                    f"{version.key} ({version.version_id[:8]}): {format_tags(got)}; want {format_tags(want)}"
                )
        if wrong:
            self.report.problems.append(f"{len(wrong)} object versions have the wrong tags, e.g.:")
            self.report.problems.extend(f"  {line}" for line in wrong[:10])
        return len(self.seeded)

    def check_summaries(self) -> None:
        """What each run's own summary must say, beyond the tags."""
        for run in self.report.runs:
            summary = run.summary or {}
            if run.state != "success":
                continue
            if summary == {}:
                self.report.problems.append(f"{run.dag_id} {run.logical_date}: no summary in XCom")
            elif "tasks_failed" in summary and (summary["status"], summary["tasks_failed"]) != (
                "Complete",
                0,
            ):
                self.report.problems.append(f"{run.dag_id}: job {summary['job_id']} is {summary}")
            elif summary.get("failed"):
                self.report.problems.append(
                    f"{run.dag_id} {run.logical_date}: {summary['failed']} objects failed"
                )
        reruns = [r for r in self.report.runs if r.dag_id == "example_s3_backfill_retagging"]
        if len(reruns) == 3 and (reruns[2].summary or {}).get("changed") != 0:
            self.report.problems.append("re-running a backfill interval changed tags again (not idempotent)")


def print_summaries(runs: Sequence[RunResult]) -> None:
    for run in runs:
        summary = dict(run.summary or {})
        undo = summary.pop("undo_logs", None)
        details = ", ".join(f"{k}={v}" for k, v in summary.items() if k not in ("interval",))
        print(f"   {run.dag_id} {run.logical_date}{run.note} [{run.state}, {run.seconds:.0f} s]")
        print(f"      {details or '(no summary)'}")
        if undo:
            more = f" (+{len(undo) - 1} more)" if len(undo) > 1 else ""
            print(f"      undo log: {undo[0]}{more}")


def sample_versions(seeded: Sequence[SeededVersion]) -> list[SeededVersion]:
    wanted = [
        ("exports/2026/03/part-0000.parquet", None),
        ("exports/2026/03/_SUCCESS", True),
        ("datasets/0000.csv", None),
        ("datasets/0001.csv", True),
        ("events/dt=2026-01-01/0000.json", True),
        ("events/dt=2026-01-02/0001.json", True),
        ("events/dt=2026-01-03/0000.json", True),
        ("archive/0000.bin", True),
    ]
    picked = []
    for key, latest_only in wanted:
        versions = [v for v in seeded if v.key == key]
        versions.sort(key=lambda v: not v.latest)
        picked.extend(versions[:1] if latest_only else versions)
    return picked


@dataclass
class _Interrupted(Exception):
    signum: int


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise _Interrupted(signum)


def run(demo: Demo, steps: Callable[[int, str], None]) -> None:
    seeding_started = time.monotonic()
    steps(2, f"Seeding s3://{DATA_BUCKET} (versioned) while Airflow's metadata DB is migrated")
    migrate, migrate_log = demo.start_airflow(["db", "migrate"], "00-db-migrate.log")
    demo.seed()
    latest = sum(v.latest for v in demo.seeded)
    tagged = sum(bool(v.tags) for v in demo.seeded)
    seconds = time.monotonic() - seeding_started
    say(
        f"{latest} objects, {len(demo.seeded) - latest} older versions, {tagged} with old tags, "
        f"in {seconds:.1f} s"
    )
    if demo.wait(migrate, RUN_TIMEOUT_SECONDS) != 0:
        raise DemoFailure(f"airflow db migrate failed; log: {migrate_log}")
    say(f"airflow db migrate done (AIRFLOW_HOME={demo.airflow_home})")
    samples = sample_versions(demo.seeded)
    before = {(v.key, v.version_id): demo.tags_of(v.key, v.version_id) for v in samples}

    steps(3, f"Running the example DAGs with `airflow dags test` (logs under {demo.logs})")
    demo.run_dag("example_s3_batch_tagging_from_upstream", "2026-03-01")
    demo.run_dag("example_s3_direct_tagging_mapped", "2026-03-01")
    demo.run_dag("example_s3_scheduled_retagging", "2026-01-03")
    demo.run_dag("example_s3_backfill_retagging", "2026-01-01")
    demo.run_dag("example_s3_backfill_retagging", "2026-01-02")
    demo.run_dag("example_s3_backfill_retagging", "2026-01-01", note=" (again: must change nothing)")
    # Paced (about 15 s) so that the job is still running when the sensor starts and defers.
    with demo.aws.paced_jobs(0.4):
        job_id = demo.create_external_job()
        say(f"created S3 Batch Operations job {job_id} outside Airflow (re-tags archive/, takes ~15 s)")
        demo.run_dag("example_s3_batch_job_sensor", "2026-03-01", conf={"job_id": job_id})

    steps(4, "Sample objects before and after")
    actual = demo.read_all_tags()
    rows = []
    for v in samples:
        label = f"{v.version_id[:8]} ({'latest' if v.latest else 'older'})"
        rows.append(
            [
                v.key,
                label,
                format_tags(before[(v.key, v.version_id)]),
                format_tags(actual[(v.key, v.version_id)]),
            ]
        )
    print_table(rows, ["key", "version", "tags before", "tags after"])

    steps(5, "Run summaries (each DAG's XCom result)")
    print_summaries(demo.report.runs)

    steps(6, "Checking every object version on S3 against what the DAGs promise")
    checked = demo.verify(actual)
    demo.check_summaries()
    if not demo.report.problems:
        say(f"{checked} object versions checked: all tags are as promised")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary directory (logs, AIRFLOW_HOME)"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="s3-tagging-demo-"))
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    # Ctrl-C must stop the demo even when started from a shell that ignores SIGINT in background jobs.
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    code = 1
    demo: Demo | None = None
    try:
        header(1, 6, "Starting the local stand-in (moto's S3 + the S3 Batch Operations job emulator)")
        with LocalAWS() as aws:
            say(f"S3 and S3 Control on {aws.endpoint_url}, account {aws.account_id}")
            demo = Demo(aws, workdir, Sizes())
            try:
                run(demo, lambda step, text: header(step, 6, text))
            finally:
                demo.stop_all()
        if demo.report.problems:
            print("\nDEMO FAILED:")
            for problem in demo.report.problems:
                print(f"   {problem}")
        else:
            code = 0
    except (KeyboardInterrupt, _Interrupted):
        print("\nInterrupted: stopped the stand-in and every Airflow process the demo started.")
        code = 130
    except DemoFailure as err:
        print(f"\nDEMO FAILED: {err}")
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
        if demo is not None:
            demo.stop_all()
    elapsed = time.monotonic() - started
    if code == 0 and not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"\nDemo passed in {elapsed:.0f} s.")
    else:
        outcome = "Demo passed" if code == 0 else "Logs and AIRFLOW_HOME kept"
        print(f"\n{outcome} in {workdir} ({elapsed:.0f} s).")
    return code
