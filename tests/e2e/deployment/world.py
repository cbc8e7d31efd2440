"""The objects the deployment test seeds, the runs it starts, and what each example DAG promises.

Written from the example DAGs' docstrings and parameters, not from the product's code: a batch job
replaces the tag set of every listed ``.parquet`` object; the direct examples merge their tags into
what each object had; the restore DAG puts back the tags an object had before its first change; the
external job replaces the tag set of every ``archive/`` object. A run's day is its logical date, or
for a manual run (no logical date) the day it was triggered for (``run_after``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

Tags = dict[str, str]

DATA_BUCKET = "e2e-data"
OPS_BUCKET = "e2e-ops"
BATCH_SIZE = 100  # objects per mapped direct-tagging task (S3_TAGGING_EXAMPLE_BATCH_SIZE)
BATCH_OBJECTS = 100  # .parquet objects per batch-job scenario
# The jobs the test cancels (by clearing their task, or marking it failed or success) get three times
# as many objects, so they stay Active three times as long (90 s): in CI a mark landed twice, and a
# clear once on a loaded machine, after the trigger's first logged poll came late and the 30 s job was
# already Completing. Marked ones are cancelled part-way, so the longer job costs no time; a cleared
# one's successor runs them all, in parallel with the other scenarios.
CANCELLED_BATCH_OBJECTS = 3 * BATCH_OBJECTS
DIRECT_OBJECTS = 3 * BATCH_SIZE  # three mapped tasks per direct run
EVENTS_PER_DAY = 40  # one mapped task per interval (these examples keep the default batch size)
ARCHIVE_OBJECTS = 50
BACKFILL_DAYS = ("2026-01-01", "2026-01-02")
EXTERNAL_JOB_TAGS = {"legal_hold": "true", "reviewed_by": "legal"}

BATCH_DAG = "example_s3_batch_tagging_from_upstream"
DIRECT_DAG = "example_s3_direct_tagging_mapped"
SCHEDULED_DAG = "example_s3_scheduled_retagging"
BACKFILL_DAG = "example_s3_backfill_retagging"
RESTORE_DAG = "example_s3_backfill_restore"
SENSOR_DAG = "example_s3_batch_job_sensor"
ALL_DAGS = (BATCH_DAG, DIRECT_DAG, SCHEDULED_DAG, BACKFILL_DAG, RESTORE_DAG, SENSOR_DAG)


@dataclass(frozen=True)
class Run:
    """A run the test triggers through the REST API, without a logical date."""

    dag_id: str
    run_id: str
    conf: dict[str, Any]
    prefix: str = ""


BATCH_PLAIN = Run(BATCH_DAG, "e2e-batch-plain", {"prefix": "exports/plain/"}, "exports/plain/")
BATCH_CLEARED = Run(BATCH_DAG, "e2e-batch-cleared", {"prefix": "exports/cleared/"}, "exports/cleared/")
BATCH_FAILED = Run(BATCH_DAG, "e2e-batch-failed", {"prefix": "exports/failed/"}, "exports/failed/")
BATCH_SUCCEEDED = Run(
    BATCH_DAG, "e2e-batch-succeeded", {"prefix": "exports/succeeded/"}, "exports/succeeded/"
)
DIRECT_PLAIN = Run(DIRECT_DAG, "e2e-direct-plain", {"prefix": "datasets/plain/"}, "datasets/plain/")
DIRECT_KILLED = Run(DIRECT_DAG, "e2e-direct-killed", {"prefix": "datasets/killed/"}, "datasets/killed/")
# Its own prefix: runs of two DAGs merging into the same objects at once would race (a merge reads,
# then writes; S3 has no conditional tagging write), and unpausing the scheduled DAGs starts a run
# of today on the default prefix "events/", where only BACKFILL_DAYS have objects.
SCHEDULED_MANUAL = Run(
    SCHEDULED_DAG, "e2e-scheduled-manual", {"prefix": "events-scheduled/"}, "events-scheduled/"
)
BACKFILL_MANUAL = Run(BACKFILL_DAG, "e2e-backfill-manual", {"prefix": "events-manual/"}, "events-manual/")
RESTORE = Run(
    RESTORE_DAG,
    "e2e-restore",
    {"undo_log": f"s3://{OPS_BUCKET}/undo/{BACKFILL_DAG}/{BACKFILL_MANUAL.run_id}/"},
)
SENSOR = Run(SENSOR_DAG, "e2e-sensor", {})  # conf gets the external job's id
BATCH_RUNS = (BATCH_PLAIN, BATCH_CLEARED, BATCH_FAILED, BATCH_SUCCEEDED)
# The runs the test triggers that must end in success, each from a manual trigger.
SUCCEEDING_RUNS = (
    BATCH_PLAIN,
    BATCH_CLEARED,
    DIRECT_PLAIN,
    DIRECT_KILLED,
    SCHEDULED_MANUAL,
    BACKFILL_MANUAL,
    RESTORE,
    SENSOR,
)

BATCH_TAGS_BEFORE = {"tier": "hot", "owner": "etl"}


def days_around(today: dt.date) -> list[str]:
    """Days a manual or scheduled run triggered now may take as its day (time-zone slack)."""
    return [(today + dt.timedelta(days=d)).isoformat() for d in (-1, 0)]


def batch_objects(run: Run) -> int:
    """How many ``.parquet`` objects a batch-job scenario's prefix holds."""
    return CANCELLED_BATCH_OBJECTS if run in (BATCH_CLEARED, BATCH_FAILED, BATCH_SUCCEEDED) else BATCH_OBJECTS


def seed_plan(today: dt.date) -> dict[str, Tags]:
    """Every object to create, with its tags."""
    plan: dict[str, Tags] = {}
    for run in BATCH_RUNS:
        for i in range(batch_objects(run)):
            plan[f"{run.prefix}part-{i:03d}.parquet"] = dict(BATCH_TAGS_BEFORE)
        plan[f"{run.prefix}_SUCCESS"] = {}
    for run in (DIRECT_PLAIN, DIRECT_KILLED):
        for i in range(DIRECT_OBJECTS):
            tags = {} if i % 4 == 0 else {"owner": f"team-{i % 3}", "classification": "public"}
            plan[f"{run.prefix}{i:04d}.csv"] = tags
    for prefix, days in (
        ("events/", BACKFILL_DAYS),
        (SCHEDULED_MANUAL.prefix, days_around(today)),
        (BACKFILL_MANUAL.prefix, days_around(today)),
    ):
        for day in days:
            for i in range(EVENTS_PER_DAY):
                plan[f"{prefix}dt={day}/{i:04d}.json"] = {"source": "app"} if i % 2 == 0 else {}
    for i in range(ARCHIVE_OBJECTS):
        plan[f"archive/{i:04d}.bin"] = {"legal_hold": "false"}
    return plan


def run_day(run: dict[str, Any]) -> str:
    """The day a run (as the REST API returns it) re-tags: its logical date, else its run_after."""
    return str(run["logical_date"] or run["run_after"])[:10]


def batch_tags(day: str) -> Tags:
    return {"tier": "cold", "retagged_on": day}


def direct_tags(day: str) -> Tags:
    return {"classification": "internal", "reviewed_on": day}


def scheduled_tags(day: str) -> Tags:
    expires = (dt.date.fromisoformat(day) + dt.timedelta(days=90)).isoformat()
    return {"ingest_date": day, "expires_after": expires, "retention": "90d"}


def backfill_tags(day: str) -> Tags:
    return {"retention_class": "archive", "backfilled_for": day}


@dataclass
class Verdicts:
    """What the runs did, as the REST API reports it: the input of ``promised_tags``."""

    succeeded: dict[str, str]  # run id of each of the test's own runs that succeeded -> its day
    scheduled_days: set[str]  # days of successful runs of SCHEDULED_DAG on the default prefix
    backfilled_days: set[str]  # days of successful runs of BACKFILL_DAG on the default prefix
    unsure_days: set[str]  # days of runs on the default prefix that did not succeed


def promised_tags(key: str, before: Tags, verdicts: Verdicts) -> Tags | None:
    """The tags ``key`` must end with; None where no promise holds (a run stopped part-way)."""
    for run in (BATCH_PLAIN, BATCH_CLEARED):
        if key.startswith(run.prefix):
            day = verdicts.succeeded.get(run.run_id)
            if day is None:
                return None
            return batch_tags(day) if key.endswith(".parquet") else before
    for run in (DIRECT_PLAIN, DIRECT_KILLED):
        if key.startswith(run.prefix):
            day = verdicts.succeeded.get(run.run_id)
            return None if day is None else {**before, **direct_tags(day)}
    if key.startswith((BATCH_FAILED.prefix, BATCH_SUCCEEDED.prefix)):
        return None  # jobs cancelled part-way: checked by the scenarios' own tests
    if key.startswith(SCHEDULED_MANUAL.prefix):
        day = verdicts.succeeded.get(SCHEDULED_MANUAL.run_id)
        if day is None:
            return None
        return {**before, **scheduled_tags(day)} if f"dt={day}/" in key else before
    if key.startswith("events/"):
        day = key.split("dt=", 1)[1][:10]
        if day in verdicts.unsure_days:
            return None
        tags = dict(before)
        if day in verdicts.scheduled_days:
            tags.update(scheduled_tags(day))
        if day in verdicts.backfilled_days:
            tags.update(backfill_tags(day))
        return tags
    if key.startswith(BACKFILL_MANUAL.prefix):
        # re-tagged by BACKFILL_MANUAL, then restored from its undo log by RESTORE
        return before if RESTORE.run_id in verdicts.succeeded else None
    if key.startswith("archive/"):
        return dict(EXTERNAL_JOB_TAGS)  # the external job, confirmed by the test in every case
    return before
