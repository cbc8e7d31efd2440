"""A worker killed mid-batch: a mapped direct-tagging task runs in its own process, is SIGKILLed part-way
(twice), and is retried with the same task instance identity. The final tags must be right, the undo
log must hold every changed object's original tag set first, and a restore must bring them all back.
Also a task stopped by Airflow's ``execution_timeout`` mid-batch on the direct engine."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from airflow_s3_batch_tagging.manifest import write_csv_manifest
from airflow_s3_batch_tagging.objects import ObjectRef, S3Location
from airflow_s3_batch_tagging.operators.s3_object_tagging import S3RestoreObjectTaggingOperator, plan_batches
from airflow_s3_batch_tagging.undo import list_undo_parts, read_undo_part

from .conftest import put_objects, tags_of

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("aws_default_conn")]

DAG_ID, RUN_ID, TASK_ID, MAP_INDEX = "nightly_retag", "scheduled__2026-03-01T00:00:00+00:00", "tag", 1
NEW_TAGS = {"tier": "archive", "retention": "7y"}

# The task as a worker runs it: the operator's execute() with the task instance's identity.
CHILD = """
import json, sys
from types import SimpleNamespace
from airflow_s3_batch_tagging.operators.s3_object_tagging import S3PutObjectTaggingOperator

args = json.loads(sys.argv[1])
ti = SimpleNamespace(dag_id=args["dag_id"], run_id=args["run_id"], task_id=args["task_id"],
                     map_index=args["map_index"], try_number=args["try_number"])
operator = S3PutObjectTaggingOperator(
    task_id=args["task_id"], objects=args["batch"], tags=args["tags"], mode="replace",
    undo_log=args["undo_log"], concurrency=4, chunk_size=10,
)
print(json.dumps(operator.execute({"ti": ti})))
"""


def _original(i: int) -> dict[str, str]:
    return [{}, {"owner": f"team-{i % 5}"}, {"tier": "hot", "owner": "data", "pii": "no"}][i % 3]


def _start_try(env: dict[str, str], batch: dict[str, Any], undo_log: str, try_number: int) -> Any:
    args = {
        "dag_id": DAG_ID, "run_id": RUN_ID, "task_id": TASK_ID, "map_index": MAP_INDEX,
        "try_number": try_number, "batch": batch, "tags": NEW_TAGS, "undo_log": undo_log,
    }  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_after_parts(s3: Any, process: Any, location: S3Location, parts: int) -> int:
    """SIGKILL ``process`` once ``parts`` undo-log parts of its try are in S3; return how many there were."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = len(list_undo_parts(s3, location))
        if found >= parts:
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            return found
        assert process.poll() is None, f"the task ended before it was killed: {process.communicate()}"
        time.sleep(0.02)
    process.kill()
    raise AssertionError(f"the task wrote fewer than {parts} undo parts in 60 s")


def test_killed_mapped_task_retried_ends_right_and_restores(
    local_aws: Any, s3: Any, aws_faults: Any, reliability: Any
) -> None:
    bucket = local_aws.create_bucket()
    keys = [f"events/day={i % 4}/file {i:03d}.json" for i in range(200)]
    put_objects(s3, bucket, {key: _original(i) for i, key in enumerate(keys)})
    manifest = io.BytesIO()
    write_csv_manifest((ObjectRef(bucket, key) for key in keys), manifest)
    s3.put_object(Bucket=bucket, Key="manifests/all.csv", Body=manifest.getvalue())
    batches = plan_batches(s3, manifest=f"s3://{bucket}/manifests/all.csv", batch_size=100, max_batches=8)
    assert len(batches) == 2
    undo_root = f"s3://{bucket}/undo"
    task_prefix = S3Location(bucket, f"undo/{DAG_ID}/{RUN_ID}/{TASK_ID}/map-{MAP_INDEX}/")
    mine = range(100, 200)  # the objects of map index 1; map index 0's must never change

    env = {**os.environ, **local_aws.env()}
    aws_faults.configure(latency_seconds=0.03)  # slow enough to be killed part-way
    kills = []
    for try_number, parts in ((1, 3), (2, 2)):
        process = _start_try(env, batches[MAP_INDEX], undo_root, try_number)
        try_location = S3Location(bucket, f"{task_prefix.prefix}try-{try_number:04d}/")
        kills.append(_kill_after_parts(s3, process, try_location, parts))
    aws_faults.clear()
    changed_before_retry = sum(tags_of(s3, bucket, keys[i]) == NEW_TAGS for i in mine)
    # Killed part-way: some objects carry the new tags, some do not yet (the originals never match).
    assert 0 < changed_before_retry < len(mine)

    final = _start_try(env, batches[MAP_INDEX], undo_root, 3)
    out, err = final.communicate(timeout=120)
    assert final.returncode == 0, err[-3000:]
    result = json.loads(out.strip().splitlines()[-1])
    assert (result["total"], result["failed"]) == (100, 0)

    lost = sum(tags_of(s3, bucket, keys[i]) != NEW_TAGS for i in mine)
    lost += sum(tags_of(s3, bucket, keys[i]) != _original(i) for i in range(100))
    assert lost == 0

    # The undo log, read in write order across the three tries: each object's first record is its
    # original tag set. Later records come from a retry that re-recorded an object the killed try had
    # listed but not yet written (objects already carrying the new tags are unchanged and not recorded
    # again); every record must still be the original, and the restore reads only the first.
    records: dict[str, list[dict[str, str]]] = {}
    for key in list_undo_parts(s3, task_prefix):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        for record in read_undo_part(body, source=key):
            records.setdefault(record.ref.key, []).append(record.tags.to_dict())
    undo_wrong = sum(records.get(keys[i], [None])[0] != _original(i) for i in mine)
    assert undo_wrong == 0
    assert set(records) == {keys[i] for i in mine}
    duplicates = sum(len(found) - 1 for found in records.values())
    undo_wrong += sum(found != [_original(i)] * len(found) for i in mine for found in [records[keys[i]]])
    assert undo_wrong == 0

    restored = S3RestoreObjectTaggingOperator(task_id="restore", undo_log=undo_root).execute({})
    assert (restored["total"], restored["failed"]) == (100, 0)
    restore_lost = sum(tags_of(s3, bucket, keys[i]) != _original(i) for i in range(200))
    assert restore_lost == 0

    reliability.record(
        name="Worker killed mid-batch (direct path, mapped task, undo log), retried, then restored",
        faults="SIGKILL of the task's process twice (tries 1 and 2), 30 ms latency per S3 request",
        faults_injected=len(kills),
        objects_checked=200 + 100 + 200,
        objects_lost=lost + undo_wrong + restore_lost,
        notes=(
            f"Map index 1 (100 objects, a CSV-manifest byte range) of a 200-object manifest, replace mode, "
            f"chunks of 10. Try 1 killed after {kills[0]} undo parts, try 2 after {kills[1]}; "
            f"{changed_before_retry} objects already carried the new tags when try 3 ran to the end. The "
            f"undo log held {sum(len(v) for v in records.values())} records for the 100 objects "
            f"({duplicates} duplicates from the retries); the first record of every object was its original "
            "tag set, and S3RestoreObjectTaggingOperator on the run's undo prefix restored all of them. "
            "Checked: the 200 objects after the retry (map index 0's untouched), the 100 undo records, and "
            "the 200 objects after the restore."
        ),
    )


def test_execution_timeout_stops_engine_and_undo_restores(
    run_dag: Any, local_aws: Any, s3: Any, aws_faults: Any, reliability: Any, reliability_engine: str
) -> None:
    """Airflow's ``execution_timeout`` (SIGALRM in the task process) hits a direct task mid-batch: the
    task fails, no tagging request goes on after it, and the undo log restores every changed object."""
    from datetime import UTC, datetime, timedelta

    from airflow.providers.common.compat.sdk import DAG

    from airflow_s3_batch_tagging.operators.s3_object_tagging import S3PutObjectTaggingOperator

    bucket = local_aws.create_bucket()
    keys = [f"timeout/{i:03d}.csv" for i in range(120)]
    put_objects(s3, bucket, {key: _original(i) for i, key in enumerate(keys)})
    undo_log = f"s3://{bucket}/undo/"
    with DAG(
        f"timeout_{os.getpid()}_{time.monotonic_ns()}",
        schedule=None,
        start_date=datetime(2026, 1, 1, tzinfo=UTC),
    ) as dag:
        S3PutObjectTaggingOperator(
            task_id="tag", objects=[f"s3://{bucket}/{key}" for key in keys], tags=NEW_TAGS, undo_log=undo_log,
            concurrency=4, chunk_size=10, execution_timeout=timedelta(seconds=5),
        )  # fmt: skip
    aws_faults.configure(latency_seconds=0.15, tagging_only=True)
    started = time.monotonic()
    run = run_dag(dag)
    seconds = time.monotonic() - started
    (ti,) = run.get_task_instances()
    assert str(ti.state) == "failed"
    after_failure = {key: tags_of(s3, bucket, key) for key in keys}
    time.sleep(1.0)  # were a request still going on, more objects would change now
    aws_faults.clear()
    still_running = sum(tags_of(s3, bucket, key) != after_failure[key] for key in keys)
    changed = [
        key for key in keys if after_failure[key] == NEW_TAGS and _original(keys.index(key)) != NEW_TAGS
    ]
    assert still_running == 0
    # Stopped part-way: 120 objects x 2 requests x 150 ms / 4 = 9 s > 5 s (the task's start-up and the
    # clients' creation count against the timeout too: up to 3 s on the loaded 2-core machine).
    assert 0 < len(changed) < len(keys)
    assert seconds < 120  # no hang (a loaded 2-core machine took 32 s to run this DAG)

    restored = S3RestoreObjectTaggingOperator(task_id="restore", undo_log=undo_log).execute({})
    lost = sum(tags_of(s3, bucket, key) != _original(i) for i, key in enumerate(keys))
    assert lost == 0
    assert restored["failed"] == 0
    assert restored["total"] >= len(changed)
    reliability.record(
        name=(
            f"execution_timeout mid-batch (direct path, {reliability_engine} engine, undo log), then restored"
        ),
        faults="Airflow's execution_timeout (5 s, SIGALRM) in the task, 150 ms latency per tagging request",
        faults_injected=1,
        objects_checked=2 * len(keys),
        objects_lost=lost + still_running,
        notes=(
            f"{len(keys)} objects, concurrency 4, chunks of 10, undo log on. The timeout failed the task "
            f"after {len(changed)} objects were changed; 1 s later no object had changed further (no request "
            f"left running: {still_running}); S3RestoreObjectTaggingOperator on the undo prefix restored "
            f"{restored['total']} records and every object's original tags. DAG run: {seconds:.1f} s."
        ),
    )
