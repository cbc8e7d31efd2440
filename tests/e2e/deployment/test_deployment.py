"""The example DAGs on a real Airflow deployment (api-server, scheduler, dag-processor, triggerer as
separate processes, LocalExecutor) against the stand-in, driven through the REST API: manual triggers
without a logical date, a backfill, a deferred batch task cleared mid-job, one marked failed and one
marked success, a task process killed mid-batch. What each test checks comes from sources the
product did not write: tags read back from S3, jobs from S3 Control ``DescribeJob`` on the stand-in
(which implements AWS's job behaviour on its own), task and run states from Airflow's REST API.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from .drive import BATCH_TASK, JOB_TERMINAL, Job, Outcome
from .world import (
    ARCHIVE_OBJECTS,
    BACKFILL_DAG,
    BACKFILL_DAYS,
    BACKFILL_MANUAL,
    BATCH_CLEARED,
    BATCH_FAILED,
    BATCH_OBJECTS,
    BATCH_PLAIN,
    BATCH_SUCCEEDED,
    BATCH_TAGS_BEFORE,
    DIRECT_KILLED,
    DIRECT_OBJECTS,
    RESTORE,
    SCHEDULED_DAG,
    SENSOR,
    SUCCEEDING_RUNS,
    Run,
    Verdicts,
    backfill_tags,
    batch_objects,
    batch_tags,
    direct_tags,
    promised_tags,
    run_day,
)

pytestmark = pytest.mark.deployment

FINISHED_OK = frozenset({"success", "skipped"})


def no_problems(outcome: Outcome, *scenarios: str) -> None:
    problems = [f"{name}: {text}" for name in scenarios for text in outcome.problems.get(name, [])]
    assert not problems, "\n".join(problems)


def states(outcome: Outcome, run: Run) -> dict[str, str]:
    return {
        f"{ti['task_id']}[{ti['map_index']}]" if ti["map_index"] >= 0 else ti["task_id"]: ti["state"]
        for ti in outcome.task_instances.get((run.dag_id, run.run_id), [])
    }


def day_of(outcome: Outcome, run: Run) -> str:
    return run_day(outcome.run(run))


def parquet_tags(outcome: Outcome, run: Run) -> dict[str, dict[str, str]]:
    return {key: tags for key, tags in outcome.tags.items() if key.startswith(run.prefix) and "part-" in key}


def check_cancelled_batch_job(outcome: Outcome, run: Run) -> Job:
    """One job, cancelled mid-way: every object holds the old tag set or the new one, and as many
    hold the new one as the job reports succeeded tasks."""
    jobs = outcome.jobs_under(run.prefix)
    assert [job.status for job in jobs] == ["Cancelled"], [job.description for job in jobs]
    progress = jobs[0].description["ProgressSummary"]
    new, old = batch_tags(day_of(outcome, run)), BATCH_TAGS_BEFORE
    parquet = parquet_tags(outcome, run)
    assert len(parquet) == batch_objects(run)
    odd = {key: tags for key, tags in parquet.items() if tags not in (new, old)}
    assert not odd, f"objects with neither the old nor the new tag set: {odd}"
    assert sum(tags == new for tags in parquet.values()) == progress["NumberOfTasksSucceeded"]
    assert progress["NumberOfTasksSucceeded"] < batch_objects(run), "the job was not stopped part-way"
    return jobs[0]


def test_every_example_runs_without_a_logical_date(outcome: Outcome) -> None:
    no_problems(outcome, RESTORE.run_id)  # triggered once BACKFILL_MANUAL succeeded
    wrong = {}
    for run in SUCCEEDING_RUNS:
        found = outcome.run(run)
        assert found["logical_date"] is None, found
        assert found["run_type"] == "manual", found
        bad = {task: state for task, state in states(outcome, run).items() if state not in FINISHED_OK}
        if found["state"] != "success" or bad:
            wrong[run.run_id] = (found["state"], bad)
    assert not wrong, f"runs that did not succeed (run state, tasks not successful): {wrong}"
    assert {run["dag_id"] for run in outcome.runs if run["dag_run_id"].startswith("e2e-")} >= {
        run.dag_id for run in SUCCEEDING_RUNS
    }


def test_backfill_runs_every_interval_and_tags_its_day(outcome: Outcome) -> None:
    backfilled = [run for run in outcome.runs if run["run_type"] == "backfill"]
    assert sorted(run_day(run) for run in backfilled) == list(BACKFILL_DAYS)
    assert all(run["dag_id"] == BACKFILL_DAG for run in backfilled)
    assert {run["dag_run_id"]: run["state"] for run in backfilled} == {
        run["dag_run_id"]: "success" for run in backfilled
    }
    for day in BACKFILL_DAYS:
        keys = [key for key in outcome.tags if key.startswith(f"events/dt={day}/")]
        assert keys
        wrong = [key for key in keys if outcome.tags[key] != {**outcome.seeded[key], **backfill_tags(day)}]
        assert not wrong, f"{len(wrong)} objects of {day} not backfilled, e.g. {wrong[0]}"


def test_cleared_deferred_batch_task_finishes(outcome: Outcome) -> None:
    run = BATCH_CLEARED
    no_problems(outcome, run.run_id)
    assert outcome.seen[run.run_id]["job_status_at_action"] not in (None, *JOB_TERMINAL)
    ti = outcome.task(run, BATCH_TASK)
    assert ti["state"] == "success", states(outcome, run)
    assert outcome.run(run)["state"] == "success", states(outcome, run)
    assert ti["try_number"] >= 2, "the clear did not start a new try"
    jobs = outcome.jobs_under(run.prefix)
    assert jobs, "no job was created"
    assert jobs[-1].status == "Complete", [job.description for job in jobs]
    assert {job.status for job in jobs[:-1]} <= {"Cancelled"}, "only a cancelled job precedes a successor"
    progress = jobs[-1].description["ProgressSummary"]
    assert (progress["NumberOfTasksSucceeded"], progress["NumberOfTasksFailed"]) == (batch_objects(run), 0)
    new = batch_tags(day_of(outcome, run))
    parquet = parquet_tags(outcome, run)
    assert len(parquet) == batch_objects(run)
    wrong = {key: tags for key, tags in parquet.items() if tags != new}
    assert not wrong, f"{len(wrong)} objects not tagged {new}: {wrong}"


def test_marking_a_deferred_batch_task_failed_cancels_its_job(outcome: Outcome) -> None:
    run = BATCH_FAILED
    no_problems(outcome, run.run_id)
    assert outcome.seen[run.run_id]["job_status_at_action"] not in (None, *JOB_TERMINAL)
    assert states(outcome, run) == {
        "list_objects_to_tag": "success",
        BATCH_TASK: "failed",
        "summarize_job": "upstream_failed",
    }
    assert outcome.run(run)["state"] == "failed"
    check_cancelled_batch_job(outcome, run)


def test_marked_success_batch_task_keeps_summary(outcome: Outcome) -> None:
    run = BATCH_SUCCEEDED
    no_problems(outcome, run.run_id)
    assert outcome.seen[run.run_id]["job_status_at_action"] not in (None, *JOB_TERMINAL)
    found = states(outcome, run)
    assert found[BATCH_TASK] == "success"
    assert found["summarize_job"] in FINISHED_OK, f"summarize_job ended {found['summarize_job']}"
    assert outcome.run(run)["state"] == "success"
    check_cancelled_batch_job(outcome, run)  # marking success cancels the job (docs/batch-path.md)


def test_killed_task_retried_every_object_tagged(outcome: Outcome) -> None:
    run = DIRECT_KILLED
    no_problems(outcome, run.run_id)
    seen = outcome.seen[run.run_id]
    assert 0 < seen["tagged_when_killed"] < seen["batch_objects"], f"not killed mid-batch: {seen}"
    tries = sorted(outcome.tries[(run.dag_id, run.run_id, "tag_batch", 0)], key=lambda t: t["try_number"])
    assert len(tries) >= 2, tries
    assert tries[-1]["state"] == "success", tries
    assert tries[0]["state"] in ("failed", "up_for_retry"), tries[0]
    assert outcome.run(run)["state"] == "success", states(outcome, run)
    new = direct_tags(day_of(outcome, run))
    keys = [key for key in outcome.tags if key.startswith(run.prefix)]
    assert len(keys) == DIRECT_OBJECTS
    wrong = [key for key in keys if outcome.tags[key] != {**outcome.seeded[key], **new}]
    assert not wrong, f"{len(wrong)} objects not tagged as promised, e.g. {wrong[:3]}"


def test_sensor_waits_deferred_for_an_external_job(outcome: Outcome) -> None:
    no_problems(outcome, SENSOR.run_id)
    assert outcome.seen[SENSOR.run_id]["sensor_state_at_confirm"] == "deferred"
    assert states(outcome, SENSOR) == {"wait_for_job": "success", "job_summary": "success"}


def test_restore_puts_back_the_tags_a_manual_run_changed(outcome: Outcome) -> None:
    no_problems(outcome, RESTORE.run_id)
    before_restore: dict[str, dict[str, str]] = outcome.seen[RESTORE.run_id]["tags_before_restore"]
    day = day_of(outcome, BACKFILL_MANUAL)
    changed = [key for key in before_restore if f"dt={day}/" in key]
    assert changed, f"the manual run's day {day} has no seeded objects"
    assert all(before_restore[key] == {**outcome.seeded[key], **backfill_tags(day)} for key in changed)
    assert all(outcome.tags[key] == outcome.seeded[key] for key in before_restore)


def test_every_object_has_the_tags_its_dags_promise(outcome: Outcome) -> None:
    verdicts = Verdicts(succeeded={}, scheduled_days=set(), backfilled_days=set(), unsure_days=set())
    for run in outcome.runs:
        if run["dag_run_id"].startswith("e2e-") and run["state"] == "success":
            verdicts.succeeded[run["dag_run_id"]] = run_day(run)
        if run["dag_id"] in (SCHEDULED_DAG, BACKFILL_DAG) and (run["conf"] or {}).get("prefix") in (
            None,
            "events/",
        ):
            if run["state"] != "success":
                verdicts.unsure_days.add(run_day(run))
            elif run["dag_id"] == SCHEDULED_DAG:
                verdicts.scheduled_days.add(run_day(run))
            else:
                verdicts.backfilled_days.add(run_day(run))
    wrong, checked = [], 0
    for key, before in outcome.seeded.items():
        want = promised_tags(key, before, verdicts)
        if want is None:
            continue
        checked += 1
        if outcome.tags[key] != want:
            wrong.append(f"{key}: {outcome.tags[key]}, want {want}")
    either_set = sum(batch_objects(run) + 1 for run in (BATCH_FAILED, BATCH_SUCCEEDED))
    assert checked >= len(outcome.seeded) - either_set
    assert not wrong, f"{len(wrong)} of {checked} objects have the wrong tags:\n" + "\n".join(wrong[:20])


def test_jobs_end_complete_or_cancelled_as_each_scenario_asked(outcome: Outcome) -> None:
    assert all(job.status in JOB_TERMINAL for job in outcome.jobs), [job.status for job in outcome.jobs]
    plain = outcome.jobs_under(BATCH_PLAIN.prefix)
    assert [job.status for job in plain] == ["Complete"]
    external = [job for job in outcome.jobs if job.job_id == outcome.external_job_id]
    assert [job.status for job in external] == ["Complete"]
    for job, count in ((plain[0], BATCH_OBJECTS), (external[0], ARCHIVE_OBJECTS)):
        progress = job.description["ProgressSummary"]
        assert (progress["NumberOfTasksSucceeded"], progress["NumberOfTasksFailed"]) == (count, 0)
    prefixes = [run.prefix for run in (BATCH_PLAIN, BATCH_CLEARED, BATCH_FAILED, BATCH_SUCCEEDED)]
    strays = [job.description for job in outcome.jobs if job.keys and not any(map(job.covers, prefixes))]
    assert not strays, f"jobs no scenario asked for: {strays}"


def test_each_mapped_task_overlapped_another(outcome: Outcome) -> None:
    by_task: dict[tuple[str, str], dict[int, list[tuple[dt.datetime, dt.datetime]]]] = {}
    for (dag_id, run_id, task_id, map_index), tries in outcome.tries.items():
        if map_index < 0:
            continue
        spans = [
            (parse(t["start_date"]), parse(t["end_date"])) for t in tries if t["start_date"] and t["end_date"]
        ]
        by_task.setdefault((f"{dag_id} {run_id}", task_id), {})[map_index] = spans
    lonely, counted = [], 0
    for (run_id, task_id), indexes in by_task.items():
        if len(indexes) < 2:
            continue
        for index, spans in indexes.items():
            counted += 1
            others = [span for other, more in indexes.items() if other != index for span in more]
            if not any(start < o_end and o_start < end for start, end in spans for o_start, o_end in others):
                lonely.append(f"{run_id} {task_id}[{index}] {spans}")
    assert counted >= 6, f"only {counted} mapped tasks had siblings"
    assert not lonely, "mapped tasks that ran alone:\n" + "\n".join(lonely)


def parse(value: Any) -> dt.datetime:
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
