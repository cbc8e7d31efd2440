"""Drives the example DAGs on the running deployment as an operator would, then records what happened.

All runs start at once (the machine has two cores; start-up of Airflow's processes costs most of the
time): each scenario that acts on a run part-way (clear, mark failed, mark success, kill the task
process, confirm the external job, restore after a run) runs in its own thread and records what it
saw. ``Outcome`` is what the tests assert on: runs, task instances and their tries from the REST API,
jobs from S3 Control ``DescribeJob`` on the stand-in, and the tags of every seeded object.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from airflow_s3_batch_tagging.testing.external_jobs import create_external_tagging_job

from .deployment import TERMINAL_RUN_STATES, Deployment, DeploymentError, RestApi, say, wait_until
from .world import (
    ALL_DAGS,
    BACKFILL_DAG,
    BACKFILL_DAYS,
    BACKFILL_MANUAL,
    BATCH_CLEARED,
    BATCH_FAILED,
    BATCH_PLAIN,
    BATCH_SUCCEEDED,
    DATA_BUCKET,
    DIRECT_KILLED,
    DIRECT_PLAIN,
    EXTERNAL_JOB_TAGS,
    OPS_BUCKET,
    RESTORE,
    SCHEDULED_MANUAL,
    SENSOR,
    Run,
    Tags,
    seed_plan,
)

BATCH_TASK = "retag_with_batch_job"
TI_FINISHED = frozenset({"success", "failed", "upstream_failed", "skipped", "removed"})
JOB_TERMINAL = frozenset({"Complete", "Cancelled", "Failed"})
WAIT_SECONDS = 150  # for any one thing a scenario waits for


class ScenarioError(Exception):
    """A scenario cannot go on: what it waits for will not happen."""


@dataclass
class Job:
    """One S3 Batch Operations job on the stand-in, with the keys of its manifest (None: generated)."""

    description: dict[str, Any]
    keys: list[str] | None

    @property
    def job_id(self) -> str:
        return str(self.description["JobId"])

    @property
    def status(self) -> str:
        return str(self.description["Status"])

    def covers(self, prefix: str) -> bool:
        return bool(self.keys) and all(key.startswith(prefix) for key in self.keys or [])


@dataclass
class Outcome:
    seeded: dict[str, Tags]
    tags: dict[str, Tags] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    # By (dag id, run id): scheduled runs of two DAGs share a run id.
    task_instances: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    tries: dict[tuple[str, str, str, int], list[dict[str, Any]]] = field(default_factory=dict)
    jobs: list[Job] = field(default_factory=list)
    external_job_id: str = ""
    seen: dict[str, dict[str, Any]] = field(default_factory=dict)  # what each scenario observed
    problems: dict[str, list[str]] = field(default_factory=dict)  # what went wrong while driving

    def run(self, run: Run) -> dict[str, Any]:
        found = [r for r in self.runs if (r["dag_id"], r["dag_run_id"]) == (run.dag_id, run.run_id)]
        assert found, f"run {run.run_id} of {run.dag_id} does not exist"
        return found[0]

    def task(self, run: Run, task_id: str, map_index: int = -1) -> dict[str, Any]:
        for ti in self.task_instances.get((run.dag_id, run.run_id), []):
            if (ti["task_id"], ti["map_index"]) == (task_id, map_index):
                return ti
        raise AssertionError(f"no task instance {task_id}[{map_index}] in run {run.run_id}")

    def summary(self) -> dict[str, Any]:
        """What happened, for a person reading the kept logs (``outcome.json``)."""
        return {
            "runs": {
                f"{run['dag_id']} {run['dag_run_id']}": {
                    "state": run["state"],
                    "run_type": run["run_type"],
                    "tasks": {
                        f"{ti['task_id']}[{ti['map_index']}]": f"{ti['state']} (try {ti['try_number']})"
                        for ti in self.task_instances.get((run["dag_id"], run["dag_run_id"]), [])
                    },
                }
                for run in self.runs
            },
            "jobs": {
                job.job_id: {
                    "status": job.status,
                    "progress": job.description.get("ProgressSummary"),
                    "first_key": (job.keys or ["(generated manifest)"])[0],
                }
                for job in self.jobs
            },
            "seen": self.seen,
            "problems": self.problems,
        }

    def jobs_under(self, prefix: str) -> list[Job]:
        """Jobs whose manifest lists only keys under ``prefix``, oldest first."""
        jobs = [job for job in self.jobs if job.covers(prefix)]
        return sorted(jobs, key=lambda job: job.description["CreationTime"])


class Driver:
    def __init__(self, deployment: Deployment) -> None:
        assert deployment.stand_in is not None
        self.deployment = deployment
        self._api: RestApi | None = None
        self.s3 = deployment.stand_in.client("s3")
        self.s3control = deployment.stand_in.client("s3control")
        self.account_id = deployment.stand_in.account_id
        self.role_arn = deployment.stand_in.role_arn
        self.outcome = Outcome(seeded=seed_plan(dt.datetime.now(dt.UTC).date()))
        self.threads: list[threading.Thread] = []
        self.manifests: dict[str, list[str] | None] = {}  # job id -> keys

    @property
    def api(self) -> RestApi:
        if self._api is None:
            raise DeploymentError("the api-server is not up yet")
        return self._api

    @api.setter
    def api(self, api: RestApi) -> None:
        self._api = api

    # -- helpers ------------------------------------------------------------------------------------
    def note(self, scenario: str, **seen: Any) -> None:
        self.outcome.seen.setdefault(scenario, {}).update(seen)

    def in_thread(self, scenario: str, work: Callable[[], None]) -> None:
        """Run one scenario's actions in a thread; an error is recorded against that scenario."""

        def guarded() -> None:
            try:
                work()
            except Exception as err:
                self.outcome.problems.setdefault(scenario, []).append(
                    f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=3)}"
                )

        thread = threading.Thread(target=guarded, name=scenario, daemon=True)
        thread.start()
        self.threads.append(thread)

    def ti_state(self, run: Run, task_id: str, map_index: int = -1) -> dict[str, Any] | None:
        try:
            return self.api.task_instance(run.dag_id, run.run_id, task_id, map_index)
        except DeploymentError:
            return None  # not created yet (mapped tasks appear once their upstream ran)

    def wait_for_state(self, run: Run, task_id: str, states: set[str], map_index: int = -1) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            ti = self.ti_state(run, task_id, map_index)
            if ti is not None and ti["state"] in TI_FINISHED - states:
                raise ScenarioError(f"{run.run_id} {task_id} ended {ti['state']}, never {sorted(states)}")
            return ti if ti is not None and ti["state"] in states else None

        return dict(wait_until(f"{run.run_id} {task_id} in {sorted(states)}", reached, WAIT_SECONDS, 0.3))

    def wait_for_run(self, run: Run) -> dict[str, Any]:
        def ended() -> dict[str, Any] | None:
            state = self.api.dag_run(run.dag_id, run.run_id)
            return state if state["state"] in TERMINAL_RUN_STATES else None

        return dict(wait_until(f"{run.run_id} to end", ended, WAIT_SECONDS * 2, 1.0))

    def describe_job(self, job_id: str) -> dict[str, Any]:
        return dict(self.s3control.describe_job(AccountId=self.account_id, JobId=job_id)["Job"])

    def job_under(self, prefix: str) -> Job | None:
        """The newest job whose manifest lists keys under ``prefix``."""
        jobs = [job for job in self.read_jobs() if job.covers(prefix)]
        return max(jobs, key=lambda job: job.description["CreationTime"]) if jobs else None

    def read_jobs(self) -> list[Job]:
        jobs = []
        for listed in self.s3control.list_jobs(AccountId=self.account_id).get("Jobs", []):
            description = self.describe_job(listed["JobId"])
            if listed["JobId"] not in self.manifests:
                self.manifests[listed["JobId"]] = self.manifest_keys(description)
            jobs.append(Job(description, self.manifests[listed["JobId"]]))
        return jobs

    def manifest_keys(self, description: dict[str, Any]) -> list[str] | None:
        """The keys a CSV manifest lists (``bucket,key[,version]`` lines, keys URL-encoded)."""
        location = (description.get("Manifest") or {}).get("Location")
        if not location:
            return None
        bucket, _, key = location["ObjectArn"].split(":::", 1)[1].partition("/")
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        return [unquote_plus(line.split(",")[1]) for line in body.splitlines() if line.strip()]

    # -- set-up -------------------------------------------------------------------------------------
    def seed(self) -> None:
        self.s3.create_bucket(Bucket=DATA_BUCKET)
        self.s3.create_bucket(Bucket=OPS_BUCKET)

        def put(item: tuple[str, Tags]) -> None:
            key, tags = item
            extra = {"Tagging": "&".join(f"{k}={v}" for k, v in tags.items())} if tags else {}
            self.s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=key.encode(), **extra)

        with ThreadPoolExecutor(12) as pool:
            list(pool.map(put, self.outcome.seeded.items()))

    def create_external_job(self) -> str:
        """A job made outside Airflow (console, CLI), waiting for confirmation like the console's."""
        return create_external_tagging_job(
            self.s3control,
            account_id=self.account_id,
            role_arn=self.role_arn,
            source_bucket=DATA_BUCKET,
            key_prefix="archive/",
            tags=EXTERNAL_JOB_TAGS,
            report_bucket=OPS_BUCKET,
            description="created outside Airflow by the deployment test",
            confirmation_required=True,
        )

    # -- scenarios ------------------------------------------------------------------------------------
    def act_on_deferred_batch_task(self, run: Run, action: str) -> None:
        """Once the batch task is deferred, its job Active and its trigger polling the job in the
        triggerer (its log shows a status), clear the task or mark it failed or success."""

        def mid_job() -> Job | None:
            ti = self.wait_for_state(run, BATCH_TASK, {"deferred"})
            job = self.job_under(run.prefix)
            if job is not None and job.status in JOB_TERMINAL:
                raise ScenarioError(f"job {job.job_id} ended {job.status} before the task could be {action}")
            if job is None or job.status != "Active":
                return None
            return job if self.trigger_polled(run, ti["try_number"], job.job_id) else None

        job = wait_until(f"{run.run_id}: deferred, trigger polling, job Active", mid_job, WAIT_SECONDS, 0.3)
        self.note(run.run_id, job_status_at_action=job.status, job_id=job.job_id)
        if action == "clear":
            self.api.clear(run.dag_id, run.run_id, BATCH_TASK)
        else:
            self.api.set_state(run.dag_id, run.run_id, BATCH_TASK, action)
        after = self.describe_job(job.job_id)["Status"]
        self.note(run.run_id, acted=action, job_status_after_action=after)
        verb = "cleared" if action == "clear" else f"marked {action}"
        say(f"{run.run_id}: {verb} {BATCH_TASK} while job {job.job_id} was {job.status} (then {after})")
        if after in ("Completing", "Complete", "Failed"):  # no cancel can land on these
            raise ScenarioError(f"job {job.job_id} was {after} when the REST call returned: it came too late")

    def trigger_polled(self, run: Run, try_number: int, job_id: str) -> bool:
        """Whether the task's trigger has logged a status of ``job_id`` (Airflow writes a trigger's
        log beside the try's log: ``attempt=N.log.trigger.<triggerer id>.log``)."""
        folder = (
            self.deployment.airflow_home
            / "logs"
            / f"dag_id={run.dag_id}"
            / f"run_id={run.run_id}"
            / f"task_id={BATCH_TASK}"
        )
        for path in folder.glob(f"attempt={try_number}.log.trigger.*.log"):
            if f"{job_id}: Active" in path.read_text(errors="replace"):
                return True
        return False

    def kill_task_process_mid_batch(self) -> None:
        """SIGKILL the task runner of map index 0 while it writes tags: once its undo log part exists
        and one of the objects the part lists has the new tags."""
        run = DIRECT_KILLED
        ti = self.wait_for_state(run, "tag_batch", {"running"}, map_index=0)
        prefix = f"undo/{run.dag_id}/{run.run_id}/tag_batch/map-0/try-0001/"

        def undo_part() -> str | None:
            listed = self.s3.list_objects_v2(Bucket=OPS_BUCKET, Prefix=prefix).get("Contents", [])
            return str(listed[0]["Key"]) if listed else None

        part = wait_until(f"the undo log part under {prefix}", undo_part, WAIT_SECONDS, 0.05)
        process = self.deployment.task_runner(ti["id"])
        if process is None:
            raise DeploymentError(f"no task runner process titled 'airflow worker -- {ti['id']}'")
        body = self.s3.get_object(Bucket=OPS_BUCKET, Key=part)["Body"].read().decode()
        keys = [json.loads(line)["key"] for line in body.splitlines() if line.strip()]
        with ThreadPoolExecutor(8) as pool:

            def writing() -> bool:
                return any("reviewed_on" in tags for tags in pool.map(self.tags_of, keys[:8]))

            wait_until("the first tags of the batch", writing, WAIT_SECONDS, 0.02)
            process.send_signal(signal.SIGKILL)
            # Not our child: psutil's wait() only sees it gone once its parent reaps it, and a zombie
            # is dead enough (it writes nothing more).
            wait_until(f"pid {process.pid} to end", lambda: _ended(process), WAIT_SECONDS, 0.05)
            done = sum("reviewed_on" in tags for tags in pool.map(self.tags_of, keys))
        self.note(run.run_id, killed_pid=process.pid, batch_objects=len(keys), tagged_when_killed=done)
        say(f"{run.run_id}: SIGKILLed tag_batch[0]'s task runner (pid {process.pid}) at {done}/{len(keys)}")

    def confirm_external_job_when_sensor_waits(self, job_id: str) -> None:
        try:
            ti = self.wait_for_state(SENSOR, "wait_for_job", {"deferred"})
            self.note(SENSOR.run_id, sensor_state_at_confirm=ti["state"])
        finally:  # confirmed in every case, so the archive/ objects always end tagged
            wait_until(
                f"job {job_id} to await confirmation",
                lambda: self.describe_job(job_id)["Status"] == "Suspended",
                WAIT_SECONDS,
            )
            self.s3control.update_job_status(
                AccountId=self.account_id, JobId=job_id, RequestedJobStatus="Ready"
            )
            say(f"{SENSOR.run_id}: confirmed the external job {job_id} the sensor waits for")

    def restore_after_manual_backfill_run(self) -> None:
        run = self.wait_for_run(BACKFILL_MANUAL)
        if run["state"] != "success":
            raise DeploymentError(f"{BACKFILL_MANUAL.run_id} ended {run['state']}: nothing to restore")
        keys = [key for key in self.outcome.seeded if key.startswith(BACKFILL_MANUAL.prefix)]
        self.note(RESTORE.run_id, tags_before_restore={key: self.tags_of(key) for key in keys})
        self.api.trigger(RESTORE.dag_id, RESTORE.run_id, RESTORE.conf)
        say(f"{RESTORE.run_id}: triggered a restore from {RESTORE.conf['undo_log']}")

    def create_backfill(self) -> None:
        """``POST /backfills`` over BACKFILL_DAYS (repeated while SQLite is locked: see ``RestApi``)."""
        body = {
            "dag_id": BACKFILL_DAG,
            "from_date": f"{BACKFILL_DAYS[0]}T00:00:00Z",
            "to_date": f"{BACKFILL_DAYS[-1]}T00:00:00Z",
            "max_active_runs": 2,
        }
        backfill = self.api.post("/backfills", body)
        self.note("backfill", backfill_id=backfill["id"])

    # -- the whole drive --------------------------------------------------------------------------------
    def drive(self) -> Outcome:
        api = self.api
        self.create_backfill()  # first: Airflow refuses it on SQLite while the DB is busy
        for dag_id in ALL_DAGS:
            api.unpause(dag_id)
        self.outcome.external_job_id = job_id = self.create_external_job()
        sensor = Run(SENSOR.dag_id, SENSOR.run_id, {"job_id": job_id})
        for run in (
            BATCH_PLAIN,
            BATCH_CLEARED,
            BATCH_FAILED,
            BATCH_SUCCEEDED,
            DIRECT_PLAIN,
            DIRECT_KILLED,
            SCHEDULED_MANUAL,
            BACKFILL_MANUAL,
            sensor,
        ):
            api.trigger(run.dag_id, run.run_id, run.conf)
        self.in_thread(BATCH_CLEARED.run_id, lambda: self.act_on_deferred_batch_task(BATCH_CLEARED, "clear"))
        self.in_thread(BATCH_FAILED.run_id, lambda: self.act_on_deferred_batch_task(BATCH_FAILED, "failed"))
        self.in_thread(
            BATCH_SUCCEEDED.run_id, lambda: self.act_on_deferred_batch_task(BATCH_SUCCEEDED, "success")
        )
        self.in_thread(DIRECT_KILLED.run_id, self.kill_task_process_mid_batch)
        self.in_thread(SENSOR.run_id, lambda: self.confirm_external_job_when_sensor_waits(job_id))
        self.in_thread(RESTORE.run_id, self.restore_after_manual_backfill_run)
        say("triggered 9 runs without a logical date and a backfill of 2 days; waiting for them")
        self.wait_for_every_run()
        self.collect()
        return self.outcome

    def wait_for_every_run(self) -> None:
        deadline = time.monotonic() + WAIT_SECONDS * 3
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))

        def all_ended() -> bool:
            self.deployment.check_alive()
            runs = self.api.dag_runs()
            backfilled = [run for run in runs if run["run_type"] == "backfill"]
            expected = len(BACKFILL_DAYS)
            if RESTORE.run_id not in {run["dag_run_id"] for run in runs} and not self.outcome.problems.get(
                RESTORE.run_id
            ):
                return False
            return len(backfilled) >= expected and all(run["state"] in TERMINAL_RUN_STATES for run in runs)

        wait_until("every DAG run to end", all_ended, max(10.0, deadline - time.monotonic()), 1.0)
        say("every DAG run ended; reading runs, task instances, jobs and tags")

    # -- what happened ----------------------------------------------------------------------------------
    def tags_of(self, key: str) -> Tags:
        response = self.s3.get_object_tagging(Bucket=DATA_BUCKET, Key=key)
        return {tag["Key"]: tag["Value"] for tag in response["TagSet"]}

    def collect(self) -> None:
        outcome = self.outcome
        outcome.runs = self.api.dag_runs()
        for run in outcome.runs:
            tis = self.api.task_instances(run["dag_id"], run["dag_run_id"])
            outcome.task_instances[(run["dag_id"], run["dag_run_id"])] = tis
            for ti in tis:
                if ti["map_index"] >= 0 or ti["task_id"] == BATCH_TASK:
                    key = (run["dag_id"], run["dag_run_id"], ti["task_id"], ti["map_index"])
                    outcome.tries[key] = self.api.tries(
                        run["dag_id"], run["dag_run_id"], ti["task_id"], ti["map_index"]
                    )
        outcome.jobs = self.read_jobs()
        with ThreadPoolExecutor(12) as pool:
            outcome.tags = dict(zip(outcome.seeded, pool.map(self.tags_of, outcome.seeded), strict=True))


def _ended(process: Any) -> bool:
    """Whether a process (``psutil.Process``) is gone or a zombie."""
    import psutil

    try:
        return bool(process.status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True
