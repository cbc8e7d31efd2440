"""Lineage of both operator families, run on the local stand-in (moto's S3 and the S3 Batch
Operations emulator): the ``OperatorLineage`` their ``get_openlineage_facets_on_complete`` returns,
serialized by OpenLineage's client, and the assets their hooks reported to Airflow's collector."""

from __future__ import annotations

import json
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from openlineage.client.serde import Serde

from airflow_s3_batch_tagging.lineage import TAGGING_FACET_NAME
from airflow_s3_batch_tagging.manifest import write_csv_manifest
from airflow_s3_batch_tagging.objects import ObjectRef
from airflow_s3_batch_tagging.operators.s3_batch_operations import (
    S3BatchDeleteObjectTaggingOperator,
    S3BatchPutObjectTaggingOperator,
)
from airflow_s3_batch_tagging.operators.s3_object_tagging import (
    S3PutObjectTaggingOperator,
    S3RestoreObjectTaggingOperator,
    plan_batches,
)
from tests.lineage_collector import collected_uris, hook_lineage_collector

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("aws_default_conn")]

# Values of the kind that must never leave the deployment in a lineage event.
PRIVATE_TAGS = {"owner": "alice@example.com", "classification": "legal-hold-case-4711"}
KEYS = ["curated/2026/a.csv", "curated/2026/b c.csv", "curated/2026/deep/d.csv"]


def context(task_id: str = "tag") -> dict[str, Any]:
    """A task context of a new run: batch jobs' request tokens derive from the run, and the stand-in
    (shared by the session) refuses one token for a second, different job."""
    xcoms: dict[str, Any] = {}
    ti = SimpleNamespace(
        dag_id="lineage",
        run_id=f"manual__{uuid.uuid4().hex[:12]}",
        task_id=task_id,
        map_index=-1,
        try_number=1,
        start_date=None,
        xcoms=xcoms,
        xcom_push=lambda key, value, **_: xcoms.__setitem__(key, value),
    )
    return {"ti": ti}


def datasets(items: list[Any]) -> list[tuple[str, str]]:
    return [(item.namespace, item.name) for item in items]


def serialized(lineage: Any) -> str:
    """Everything the lineage would send, through OpenLineage's own serializer."""
    parts = [*lineage.inputs, *lineage.outputs, *lineage.run_facets.values(), *lineage.job_facets.values()]
    return "\n".join(Serde.to_json(part) for part in parts)


def facet_of(lineage: Any) -> dict[str, Any]:
    return json.loads(Serde.to_json(lineage.run_facets[TAGGING_FACET_NAME]))


def assert_private_values_absent(lineage: Any) -> None:
    text = serialized(lineage)
    for value in PRIVATE_TAGS.values():
        assert value not in text


@pytest.fixture
def s3(local_aws: Any) -> Any:
    return local_aws.client("s3")


@pytest.fixture
def objects(s3: Any, s3_bucket: str) -> list[str]:
    for key in KEYS:
        s3.put_object(Bucket=s3_bucket, Key=key, Body=b"x", Tagging="keep=1")
    return [f"s3://{s3_bucket}/{key}" for key in KEYS]


def test_direct_tagging_reports_objects_prefix_undo_log_and_keys_only(
    s3_bucket: str, objects: list[str]
) -> None:
    op = S3PutObjectTaggingOperator(
        task_id="tag", objects=objects, tags=PRIVATE_TAGS, mode="merge", undo_log=f"s3://{s3_bucket}/undo/"
    )
    run = context()
    with hook_lineage_collector() as collector:
        result = op.execute(run)
        inputs, outputs = collected_uris(collector)
    lineage = op.get_openlineage_facets_on_complete(None)

    undo_prefix = result["undo_log"].removeprefix(f"s3://{s3_bucket}/")
    assert undo_prefix.startswith(f"undo/lineage/{run['ti'].run_id}/tag/unmapped/try-0001")
    assert datasets(lineage.inputs) == []
    assert datasets(lineage.outputs) == [
        (f"s3://{s3_bucket}", "curated/2026"),
        (f"s3://{s3_bucket}", undo_prefix.rstrip("/")),
    ]
    facet = facet_of(lineage)
    assert (facet["path"], facet["mode"], facet["tagKeys"], facet["dryRun"]) == (
        "direct",
        "merge",
        ["classification", "owner"],
        False,
    )
    assert (facet["objectsTotal"], facet["objectsChanged"], facet["objectsFailed"]) == (3, 3, 0)
    assert_private_values_absent(lineage)
    # The hook reported the same locations, at prefix level, as Airflow assets.
    assert inputs == set()
    assert outputs == {f"s3://{s3_bucket}/curated/2026", result["undo_log"].rstrip("/")}


def test_a_dry_run_reports_no_output(s3_bucket: str, objects: list[str]) -> None:
    op = S3PutObjectTaggingOperator(task_id="tag", objects=objects, tags={"tier": "cold"}, dry_run=True)
    with hook_lineage_collector() as collector:
        op.execute(context())
        _, outputs = collected_uris(collector)
    lineage = op.get_openlineage_facets_on_complete(None)
    assert datasets(lineage.outputs) == []
    assert outputs == set()
    assert facet_of(lineage)["dryRun"] is True


def test_a_manifest_batch_reports_the_manifest_it_read(s3: Any, s3_bucket: str, objects: list[str]) -> None:
    import io

    body = io.BytesIO()
    write_csv_manifest([ObjectRef.from_uri(uri) for uri in objects], body)
    s3.put_object(Bucket=s3_bucket, Key="manifests/today.csv", Body=body.getvalue())
    (batch,) = plan_batches(s3, manifest=f"s3://{s3_bucket}/manifests/today.csv", max_batches=10)
    op = S3PutObjectTaggingOperator(task_id="tag", objects=batch, tags={"tier": "cold"}, mode="replace")
    with hook_lineage_collector() as collector:
        op.execute(context())
        inputs, outputs = collected_uris(collector)
    lineage = op.get_openlineage_facets_on_complete(None)
    assert datasets(lineage.inputs) == [(f"s3://{s3_bucket}", "manifests/today.csv")]
    assert datasets(lineage.outputs) == [(f"s3://{s3_bucket}", "curated/2026")]
    assert inputs == {f"s3://{s3_bucket}/manifests/today.csv"}
    assert outputs == {f"s3://{s3_bucket}/curated/2026"}


def test_restore_reports_the_undo_log_read_and_the_restored_keys(
    s3: Any, s3_bucket: str, objects: list[str]
) -> None:
    tagging = S3PutObjectTaggingOperator(
        task_id="tag", objects=objects, tags=PRIVATE_TAGS, mode="replace", undo_log=f"s3://{s3_bucket}/undo/"
    )
    tagged = tagging.execute(context())
    restore = S3RestoreObjectTaggingOperator(task_id="restore", undo_log=tagged)
    with hook_lineage_collector() as collector:
        result = restore.execute(context("restore"))
        inputs, outputs = collected_uris(collector)
    lineage = restore.get_openlineage_facets_on_complete(None)
    assert result["changed"] == 3
    undo = tagged["undo_log"].removeprefix(f"s3://{s3_bucket}/").rstrip("/")
    assert datasets(lineage.inputs) == [(f"s3://{s3_bucket}", undo)]
    assert datasets(lineage.outputs) == [(f"s3://{s3_bucket}", "curated/2026")]
    facet = facet_of(lineage)
    # The tag keys the objects got back: the ones they had before (values never listed).
    assert (facet["mode"], facet["tagKeys"], facet["objectsTotal"]) == ("restore", ["keep"], 3)
    assert inputs == {tagged["undo_log"].rstrip("/")}
    assert outputs == {f"s3://{s3_bucket}/curated/2026"}
    assert_private_values_absent(lineage)


def test_batch_job_reports_manifest_objects_report_and_job(
    local_aws: Any, s3: Any, s3_bucket: str, objects: list[str]
) -> None:
    op = S3BatchPutObjectTaggingOperator(
        task_id="retag",
        objects=objects,
        tags=PRIVATE_TAGS,
        role_arn=local_aws.role_arn,
        manifest_location=f"s3://{s3_bucket}/batch/",
        report_scope="AllTasks",
        waiter_delay=0,
    )
    with hook_lineage_collector() as collector:
        result = op.execute(context("retag"))
        inputs, outputs = collected_uris(collector)
    lineage = op.get_openlineage_facets_on_complete(None)

    manifest_arn = local_aws.jobs.get(result["job_id"]).request["Manifest"]["Location"]["ObjectArn"]
    manifest_key = manifest_arn.split(f"{s3_bucket}/", 1)[1]
    report = f"batch/reports/job-{result['job_id']}"
    assert manifest_key.startswith("batch/lineage/retag/manifest-")
    assert datasets(lineage.inputs) == [(f"s3://{s3_bucket}", manifest_key)]
    assert datasets(lineage.outputs) == [(f"s3://{s3_bucket}", "curated/2026"), (f"s3://{s3_bucket}", report)]
    facet = facet_of(lineage)
    assert (facet["path"], facet["mode"], facet["tagKeys"]) == (
        "batch",
        "replace",
        ["classification", "owner"],
    )
    assert (facet["batchJobId"], facet["batchJobStatus"]) == (result["job_id"], "Complete")
    assert (facet["objectsTotal"], facet["objectsSucceeded"], facet["objectsFailed"]) == (3, 3, 0)
    assert_private_values_absent(lineage)
    # The hook: it wrote the manifest, pointed the job at it (read), and the job tags and reports.
    assert inputs == {f"s3://{s3_bucket}/{manifest_key}"}
    assert outputs == {
        f"s3://{s3_bucket}/{manifest_key}",
        f"s3://{s3_bucket}/curated/2026",
        f"s3://{s3_bucket}/{report}",
    }


def test_batch_delete_with_a_generator_reports_the_listed_prefix(
    local_aws: Any, s3_bucket: str, objects: list[str]
) -> None:
    op = S3BatchDeleteObjectTaggingOperator(
        task_id="untag",
        manifest_generator={
            "SourceBucket": s3_bucket,
            "Filter": {"KeyNameConstraint": {"MatchAnyPrefix": ["curated/"]}},
        },
        report_location=f"s3://{s3_bucket}/reports/",
        role_arn=local_aws.role_arn,
        waiter_delay=0,
    )
    with hook_lineage_collector() as collector:
        result = op.execute(context("untag"))
        inputs, outputs = collected_uris(collector)
    lineage = op.get_openlineage_facets_on_complete(None)
    assert result["tasks_total"] == 3
    listed = (f"s3://{s3_bucket}", "curated")
    assert datasets(lineage.inputs) == [listed]
    assert datasets(lineage.outputs) == [listed, (f"s3://{s3_bucket}", f"reports/job-{result['job_id']}")]
    facet = facet_of(lineage)
    assert (facet["mode"], facet["tagKeys"], facet["objectsTotal"]) == ("delete", [], 3)
    assert inputs == {f"s3://{s3_bucket}/curated"}
    assert outputs == {f"s3://{s3_bucket}/curated", f"s3://{s3_bucket}/reports/job-{result['job_id']}"}


def test_tasks_that_failed_on_bad_input_report_no_locations(local_aws: Any, s3_bucket: str) -> None:
    direct = S3PutObjectTaggingOperator(task_id="tag", objects=[f"s3://{s3_bucket}/a"], tags={"aws:x": "1"})
    batch = S3BatchPutObjectTaggingOperator(
        task_id="retag",
        objects=[f"s3://{s3_bucket}/a"],
        tags={"aws:x": "1"},
        role_arn=local_aws.role_arn,
        manifest_location=f"s3://{s3_bucket}/batch/",
    )
    for op in (direct, batch):
        with pytest.raises(Exception, match="aws:"):
            op.execute(context())
        lineage = op.get_openlineage_facets_on_complete(None)
        assert (lineage.inputs, lineage.outputs) == ([], [])
        facet = facet_of(lineage)
        assert (facet["mode"], facet["tagKeys"], facet.get("objectsTotal")) == ("replace", [], None)


def test_a_deferred_batch_task_reports_from_the_instance_that_resumed(
    local_aws: Any, s3_bucket: str, objects: list[str]
) -> None:
    from airflow.providers.common.compat.sdk import TaskDeferred

    arguments = {
        "task_id": "retag",
        "objects": objects,
        "tags": {"tier": "cold"},
        "role_arn": local_aws.role_arn,
        "manifest_location": f"s3://{s3_bucket}/batch/",
        "deferrable": True,
        "waiter_delay": 0,
    }
    with pytest.raises(TaskDeferred) as deferred:
        S3BatchPutObjectTaggingOperator(**arguments).execute(run := context("retag"))
    job_id = deferred.value.trigger.job_id
    # The triggerer's part, then a new operator instance resumes (as on a worker after deferral).
    resumed = S3BatchPutObjectTaggingOperator(**arguments)
    resumed.hook.wait_for_job(job_id, waiter_delay=0)
    resumed.execute_complete(run, {"status": "success", "job_id": job_id})
    lineage = resumed.get_openlineage_facets_on_complete(None)
    manifest = local_aws.jobs.get(job_id).request["Manifest"]["Location"]["ObjectArn"].split("/", 1)[1]
    assert datasets(lineage.inputs) == [(f"s3://{s3_bucket}", manifest)]
    assert datasets(lineage.outputs)[0] == (f"s3://{s3_bucket}", "curated/2026")
    assert (facet_of(lineage)["batchJobId"], facet_of(lineage)["batchJobStatus"]) == (job_id, "Complete")
