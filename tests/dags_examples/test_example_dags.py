"""The example DAGs: every file imports into a DagBag, and each DAG runs end to end (``dag.test()``)
against the local stand-in, leaving the tags on S3 that its docstring promises."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import DAG
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_0_PLUS

from airflow_s3_batch_tagging.objects import S3Location
from airflow_s3_batch_tagging.operators.s3_object_tagging import S3RestoreObjectTaggingOperator
from airflow_s3_batch_tagging.testing.external_jobs import create_external_tagging_job
from airflow_s3_batch_tagging.undo import read_undo_log
from tests.airflow_versions import dagbag, needs_runs_without_logical_date

EXAMPLES = Path(__file__).resolve().parents[2] / "dags_examples"
DAG_IDS = {
    "example_s3_batch_tagging_from_upstream",
    "example_s3_direct_tagging_mapped",
    "example_s3_scheduled_retagging",
    "example_s3_backfill_retagging",
    "example_s3_backfill_restore",
    "example_s3_batch_job_sensor",
    "example_s3_conditional_tagging",
    "example_s3_priced_plan",
    "example_s3_asset_retagging",
    "example_s3_asset_consumer",
    "example_s3_redrive_failed_tasks",
}


def _dagbag() -> Any:
    return dagbag(str(EXAMPLES))


def test_every_example_dag_imports_without_errors() -> None:
    bag = _dagbag()
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == DAG_IDS


def test_the_demo_runner_is_not_parsed_as_a_dag_file() -> None:
    files = {Path(dag.fileloc).name for dag in _dagbag().dags.values()}
    assert all(name.startswith("example_") for name in files), files


def test_example_dags_document_how_to_point_them_at_real_aws() -> None:
    for dag in _dagbag().dags.values():
        assert dag.doc_md, dag.dag_id
        assert "Pointing it at real AWS" in dag.doc_md, dag.dag_id
        assert "only the connection" in dag.doc_md, dag.dag_id


def _schedule(dag: Any) -> Any:
    """The ``schedule`` the DAG was given (Airflow 2 keeps it as ``schedule_interval``)."""
    return dag.schedule if AIRFLOW_V_3_0_PLUS else dag.schedule_interval


def test_schedules_match_their_use() -> None:
    dags = _dagbag().dags
    assert _schedule(dags["example_s3_scheduled_retagging"]) == "@daily"
    assert _schedule(dags["example_s3_backfill_retagging"]) == "@daily"
    assert dags["example_s3_backfill_retagging"].catchup is False
    for dag_id in ("example_s3_batch_tagging_from_upstream", "example_s3_batch_job_sensor"):
        assert _schedule(dags[dag_id]) is None


def test_batch_summary_skips_with_reason_without_result() -> None:
    """Marking the deferred batch task success cancels its job and leaves no XCom: not a crash."""
    from airflow.providers.common.compat.sdk import AirflowSkipException

    summarize = _dagbag().dags["example_s3_batch_tagging_from_upstream"].get_task("summarize_job")
    with pytest.raises(AirflowSkipException, match="marked success by hand"):
        summarize.python_callable(None)


# -- end to end on the local stand-in ----------------------------------------------------------------


def _tags(s3: Any, bucket: str, key: str, version_id: str | None = None) -> dict[str, str]:
    extra = {"VersionId": version_id} if version_id else {}
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key, **extra)["TagSet"]}


def _put(s3: Any, bucket: str, key: str, tags: dict[str, str] | None = None) -> str | None:
    tagging = "&".join(f"{k}={v}" for k, v in (tags or {}).items())
    response = s3.put_object(Bucket=bucket, Key=key, Body=b"x", Tagging=tagging)
    return response.get("VersionId")


@pytest.fixture
def examples(local_aws: Any, aws_default_conn: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The example DAGs, configured through Variables and environment variables as a user would,
    pointing at a fresh versioned data bucket and a fresh ops bucket."""
    data = local_aws.create_bucket(versioned=True)
    ops = local_aws.create_bucket()
    monkeypatch.setenv("AIRFLOW_VAR_S3_TAGGING_DATA_BUCKET", data)
    monkeypatch.setenv("AIRFLOW_VAR_S3_TAGGING_OPS_BUCKET", ops)
    monkeypatch.setenv("AIRFLOW_VAR_S3_TAGGING_ROLE_ARN", local_aws.role_arn)
    monkeypatch.setenv("S3_TAGGING_EXAMPLE_POLL_SECONDS", "0")
    monkeypatch.setenv("S3_TAGGING_EXAMPLE_BATCH_SIZE", "10")
    bag = _dagbag()
    assert bag.import_errors == {}
    return {"dags": bag.dags, "data": data, "ops": ops, "s3": local_aws.client("s3")}


def _return_value(run: Any, task_id: str) -> Any:
    (ti,) = [ti for ti in run.get_task_instances() if ti.task_id == task_id]
    assert ti.state == "success", (task_id, ti.state)
    return ti.xcom_pull(task_ids=task_id)


@pytest.mark.e2e
def test_batch_job_from_upstream_listing_replaces_the_tags(
    run_dag: Callable[..., Any], examples: dict[str, Any], local_aws: Any
) -> None:
    s3, data = examples["s3"], examples["data"]
    keys = [f"exports/part-{i:03d}.parquet" for i in range(12)]
    for key in keys:
        _put(s3, data, key, {"tier": "hot", "owner": "etl"})
    old_version = _put(s3, data, keys[0], {"tier": "hot"})  # the latest version of keys[0]
    _put(s3, data, "exports/_SUCCESS")  # not a .parquet: not listed by the upstream task

    run = run_dag(examples["dags"]["example_s3_batch_tagging_from_upstream"], logical_date=_date(3, 1))

    assert run.state == "success"
    for key in keys:
        assert _tags(s3, data, key) == {"tier": "cold", "retagged_on": "2026-03-01"}
    assert _tags(s3, data, "exports/_SUCCESS") == {}
    versions = s3.list_object_versions(Bucket=data, Prefix=keys[0])["Versions"]
    older = [v["VersionId"] for v in versions if v["VersionId"] != old_version]
    assert [_tags(s3, data, keys[0], v) for v in older] == [{"tier": "hot", "owner": "etl"}]
    summary = _return_value(run, "summarize_job")
    assert summary["status"] == "Complete"
    assert (summary["tasks_total"], summary["tasks_succeeded"], summary["tasks_failed"]) == (12, 12, 0)
    assert local_aws.jobs.get(summary["job_id"]).status == "Complete"


def _date(month: int, day: int) -> datetime:
    return datetime(2026, month, day, tzinfo=UTC)


@pytest.mark.e2e
def test_direct_mapped_merges_tags_and_aggregates(
    run_dag: Callable[..., Any], examples: dict[str, Any]
) -> None:
    s3, data, ops = examples["s3"], examples["data"], examples["ops"]
    keys = [f"datasets/{i:03d}.csv" for i in range(25)]
    for i, key in enumerate(keys):
        _put(s3, data, key, {"owner": f"team-{i % 2}", "classification": "public"} if i % 5 else None)
    _put(s3, data, "other/untouched.csv", {"owner": "x"})

    run = run_dag(
        examples["dags"]["example_s3_direct_tagging_mapped"],
        logical_date=_date(3, 2),
        run_conf={"classification": "confidential"},
    )

    assert run.state == "success"
    for i, key in enumerate(keys):
        expected = {"classification": "confidential", "reviewed_on": "2026-03-02"}
        if i % 5:
            expected["owner"] = f"team-{i % 2}"
        assert _tags(s3, data, key) == expected
    assert _tags(s3, data, "other/untouched.csv") == {"owner": "x"}
    summary = _return_value(run, "aggregate_results")
    assert summary["batches"] == 3  # 25 objects in batches of 10
    assert (summary["total"], summary["changed"], summary["failed"]) == (25, 25, 0)
    assert all(
        uri.startswith(f"s3://{ops}/undo/example_s3_direct_tagging_mapped/") for uri in summary["undo_logs"]
    )


@pytest.mark.e2e
def test_scheduled_retagging_tags_only_its_interval(
    run_dag: Callable[..., Any], examples: dict[str, Any]
) -> None:
    s3, data = examples["s3"], examples["data"]
    for day in ("2026-03-04", "2026-03-05"):
        for i in range(4):
            _put(s3, data, f"events/dt={day}/{i}.json", {"source": "app"})
    dag = examples["dags"]["example_s3_scheduled_retagging"]

    run = run_dag(dag, logical_date=_date(3, 5))

    assert run.state == "success"
    for i in range(4):
        assert _tags(s3, data, f"events/dt=2026-03-05/{i}.json") == {
            "source": "app",
            "ingest_date": "2026-03-05",
            "expires_after": "2026-06-03",
            "retention": "90d",
        }
        assert _tags(s3, data, f"events/dt=2026-03-04/{i}.json") == {"source": "app"}
    assert _return_value(run, "interval_summary")["changed"] == 4
    # An interval without objects: nothing to tag, still a success.
    empty = run_dag(dag, logical_date=_date(3, 9))
    assert empty.state == "success"
    assert _return_value(empty, "interval_summary")["total"] == 0


@pytest.mark.e2e
def test_backfill_idempotent_per_interval_and_undo_restores(
    run_dag: Callable[..., Any], examples: dict[str, Any]
) -> None:
    s3, data, ops = examples["s3"], examples["data"], examples["ops"]
    before = {}
    for day in ("2026-01-01", "2026-01-02"):
        for i in range(3):
            key = f"events/dt={day}/{i}.json"
            before[key] = {"source": "app"} if i else {}
            _put(s3, data, key, before[key] or None)
    dags = examples["dags"]
    backfill = dags["example_s3_backfill_retagging"]

    first = [run_dag(backfill, logical_date=_date(1, day)) for day in (1, 2)]
    assert [run.state for run in first] == ["success", "success"]
    for key, old in before.items():
        day = key.split("dt=")[1][:10]
        assert _tags(s3, data, key) == {**old, "retention_class": "archive", "backfilled_for": day}
    assert _return_value(first[0], "backfill_summary")["changed"] == 3

    again = run_dag(backfill, logical_date=_date(1, 1))  # the same interval once more
    assert again.state == "success"
    summary = _return_value(again, "backfill_summary")
    assert (summary["total"], summary["changed"], summary["skipped"]) == (3, 0, 3)

    restore = run_dag(dags["example_s3_backfill_restore"], logical_date=_date(1, 3))
    assert restore.state == "success"
    for key, old in before.items():
        assert _tags(s3, data, key) == old
    listed = s3.list_objects_v2(Bucket=ops, Prefix="undo/example_s3_backfill_retagging/")["Contents"]
    assert len(listed) >= 2


@pytest.mark.e2e
def test_sensor_waits_for_a_job_created_outside_the_dag(
    run_dag: Callable[..., Any], examples: dict[str, Any], local_aws: Any
) -> None:
    s3, data = examples["s3"], examples["data"]
    for i in range(5):
        _put(s3, data, f"archive/{i}.bin", {"old": "1"})
    with local_aws.paced_jobs(0.2):  # the job is still running when the sensor starts
        job_id = create_external_tagging_job(
            local_aws.client("s3control"),
            account_id=local_aws.account_id,
            role_arn=local_aws.role_arn,
            source_bucket=data,
            key_prefix="archive/",
            tags={"legal_hold": "true"},
            report_bucket=examples["ops"],
            description="created outside the DAG by the test",
            confirmation_required=False,
        )
        assert local_aws.jobs.get(job_id).status != "Complete"
        run = run_dag(
            examples["dags"]["example_s3_batch_job_sensor"],
            logical_date=_date(3, 7),
            run_conf={"job_id": job_id},
        )

    assert run.state == "success"
    summary = _return_value(run, "job_summary")
    assert summary == {
        "job_id": job_id,
        "status": "Complete",
        "tasks_total": 5,
        "tasks_succeeded": 5,
        "tasks_failed": 0,
    }
    for i in range(5):
        assert _tags(s3, data, f"archive/{i}.bin") == {"legal_hold": "true"}


@pytest.mark.e2e
def test_conditional_retiers_only_matching_and_restores_them(
    run_dag: Callable[..., Any], examples: dict[str, Any]
) -> None:
    s3, data, ops = examples["s3"], examples["data"], examples["ops"]
    before: dict[str, dict[str, str]] = {}
    for i in range(12):  # 12 hot objects, every third with an owner's tag; 18 objects: 2 batches of 10
        before[f"datasets/hot-{i:02d}.csv"] = {"tier": "hot", **({"owner": "team-b"} if i % 3 == 0 else {})}
    before["datasets/cold.csv"] = {"tier": "cold"}
    before["datasets/held.csv"] = {"tier": "hot", "legal-hold": "2027"}
    before["datasets/held-empty.csv"] = {"tier": "hot", "legal-hold": ""}
    before["datasets/HOT-case.csv"] = {"tier": "HOT"}
    before["datasets/untagged.csv"] = {}
    for key, tags in before.items():
        _put(s3, data, key, tags or None)
    # Versioned bucket, no version ids in a listing: the latest version is judged and tagged.
    older = _put(s3, data, "datasets/was-hot.csv", {"tier": "hot"})
    before["datasets/was-hot.csv"] = {"tier": "cold"}
    _put(s3, data, "datasets/was-hot.csv", before["datasets/was-hot.csv"])
    _put(s3, data, "other/hot.csv", {"tier": "hot"})
    matching = {key for key in before if key.startswith("datasets/hot-")}

    run = run_dag(
        examples["dags"]["example_s3_conditional_tagging"],
        logical_date=_date(3, 10),
        run_conf={"to_tier": "cold"},
    )

    assert run.state == "success"
    for key, tags in before.items():
        expected = {**tags, "tier": "cold", "tiered_on": "2026-03-10"} if key in matching else tags
        assert _tags(s3, data, key) == expected, key
    assert _tags(s3, data, "datasets/was-hot.csv", older) == {"tier": "hot"}
    assert _tags(s3, data, "other/hot.csv") == {"tier": "hot"}
    summary = _return_value(run, "summarize")
    assert summary["batches"] == 2
    assert (summary["total"], summary["changed"], summary["skipped_by_condition"], summary["failed"]) == (
        18,
        12,
        6,
        0,
    )
    undo_logs = summary["undo_logs"]
    assert all(uri.startswith(f"s3://{ops}/undo/example_s3_conditional_tagging/") for uri in undo_logs)
    logged = {
        record.ref.key: record.tags.to_dict()
        for uri in undo_logs
        for record in read_undo_log(s3, S3Location.from_uri(uri))
    }
    assert logged == {key: before[key] for key in matching}

    with DAG("conditional_restore_e2e", schedule=None, start_date=_date(1, 1)) as restore_dag:
        S3RestoreObjectTaggingOperator(task_id="restore", undo_log=undo_logs)
    restored = run_dag(restore_dag)
    assert restored.state == "success"
    assert _return_value(restored, "restore")["changed"] == 12
    assert {key: _tags(s3, data, key) for key in before} == before


@pytest.mark.e2e
def test_redrive_reruns_failures_of_both_paths(
    run_dag: Callable[..., Any], examples: dict[str, Any], local_aws: Any, aws_faults: Any
) -> None:
    s3, data = examples["s3"], examples["data"]
    batch = [f"redrive/batch/{name}" for name in ("a.parquet", "b b+c.parquet", "c.parquet")]
    direct = [f"redrive/direct/{name}" for name in ("x.csv", "y y+z.csv", "z.csv")]
    for key in batch + direct:
        _put(s3, data, key, {"tier": "hot"})
    # The batch key fails one job's 6 tries (SlowDown), the direct key its first read (AccessDenied).
    aws_faults.configure(
        failing_keys={batch[1]: "SlowDown", direct[1]: "AccessDenied"},
        failing_key_times={batch[1]: 6, direct[1]: 1},
        tagging_only=True,
    )

    run = run_dag(examples["dags"]["example_s3_redrive_failed_tasks"], logical_date=_date(3, 9))

    assert run.state == "success"
    aws_faults.clear()
    for key in batch + direct:
        assert _tags(s3, data, key) == {"tier": "cold"}, key
    job = _return_value(run, "retag_with_batch_job")
    assert (job["tasks_total"], job["tasks_succeeded"], job["tasks_failed"], job["redrives"]) == (3, 3, 0, 1)
    assert [(item["tasks_total"], item["tasks_failed"]) for item in job["jobs"]] == [(3, 1), (1, 0)]
    tagged = _return_value(run, "retag_directly")
    assert (tagged["total"], tagged["failed"]) == (3, 1)
    assert tagged["report_manifest"].endswith("/manifest.json")
    rerun = [ti for ti in run.get_task_instances() if ti.task_id == "rerun_failed"]
    assert [ti.state for ti in rerun] == ["success"]
    assert rerun[0].xcom_pull(task_ids="rerun_failed", map_indexes=0)["changed"] == 1


# -- runs without a logical date (Airflow 3's UI/CLI/REST trigger default) ---------------------------


@pytest.mark.e2e
@needs_runs_without_logical_date
def test_direct_mapped_without_logical_date_uses_trigger_day(
    run_dag: Callable[..., Any], examples: dict[str, Any]
) -> None:
    s3, data = examples["s3"], examples["data"]
    for i in range(3):
        _put(s3, data, f"datasets/{i}.csv", {"owner": "etl"})

    run = run_dag(
        examples["dags"]["example_s3_direct_tagging_mapped"],
        logical_date=None,
        run_after=datetime(2026, 3, 6, 17, 45, tzinfo=UTC),
    )

    assert run.logical_date is None
    assert run.state == "success"
    for i in range(3):
        assert _tags(s3, data, f"datasets/{i}.csv") == {
            "owner": "etl",
            "classification": "internal",
            "reviewed_on": "2026-03-06",
        }


@pytest.mark.e2e
@needs_runs_without_logical_date
def test_batch_upstream_without_logical_date_uses_trigger_day(
    run_dag: Callable[..., Any], examples: dict[str, Any], local_aws: Any
) -> None:
    s3, data = examples["s3"], examples["data"]
    _put(s3, data, "exports/a.parquet", {"tier": "hot"})

    run = run_dag(
        examples["dags"]["example_s3_batch_tagging_from_upstream"],
        logical_date=None,
        run_after=datetime(2026, 3, 6, 9, 0, tzinfo=UTC),
    )

    assert run.state == "success"
    assert _tags(s3, data, "exports/a.parquet") == {"tier": "cold", "retagged_on": "2026-03-06"}
    job_id = _return_value(run, "summarize_job")["job_id"]
    job = local_aws.client("s3control").describe_job(AccountId=local_aws.account_id, JobId=job_id)["Job"]
    assert job["Description"] == "example_s3_batch_tagging_from_upstream 2026-03-06"


@pytest.mark.e2e
@needs_runs_without_logical_date
@pytest.mark.parametrize(
    ("dag_id", "task_id", "expected"),
    [
        (
            "example_s3_scheduled_retagging",
            "interval_summary",
            {"ingest_date": "2026-03-06", "expires_after": "2026-06-04", "retention": "90d"},
        ),
        (
            "example_s3_backfill_retagging",
            "backfill_summary",
            {"retention_class": "archive", "backfilled_for": "2026-03-06"},
        ),
    ],
)
def test_scheduled_by_hand_without_date_tag_trigger_day(
    run_dag: Callable[..., Any],
    examples: dict[str, Any],
    dag_id: str,
    task_id: str,
    expected: dict[str, str],
) -> None:
    s3, data = examples["s3"], examples["data"]
    _put(s3, data, "events/dt=2026-03-06/0.json", {"source": "app"})
    _put(s3, data, "events/dt=2026-03-05/0.json", {"source": "app"})

    run = run_dag(examples["dags"][dag_id], logical_date=None, run_after=datetime(2026, 3, 6, 12, tzinfo=UTC))

    assert run.state == "success"
    assert _tags(s3, data, "events/dt=2026-03-06/0.json") == {"source": "app", **expected}
    assert _tags(s3, data, "events/dt=2026-03-05/0.json") == {"source": "app"}
    summary = _return_value(run, task_id)
    assert (summary["interval"], summary["changed"]) == ("2026-03-06", 1)
