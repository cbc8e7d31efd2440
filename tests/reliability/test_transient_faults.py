"""Throttling and transient faults: 30% of S3 requests answered 503 SlowDown, 500 InternalError or a
dropped connection. The direct path must still end with every object tagged as asked (and restored
as it was); the batch path's job must report every task truthfully."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_s3_batch_tagging.operators.s3_batch_operations import S3BatchPutObjectTaggingOperator
from airflow_s3_batch_tagging.operators.s3_object_tagging import (
    S3PutObjectTaggingOperator,
    S3RestoreObjectTaggingOperator,
)

from .conftest import put_objects, tags_of

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("aws_default_conn", "fast_botocore_backoff")]

FAULTS = {"slowdown_ratio": 0.10, "error_500_ratio": 0.10, "reset_ratio": 0.10}
FAULTS_TEXT = "30% of all S3 requests: 10% 503 SlowDown, 10% 500 InternalError, 10% connection reset"
NEW_TAGS = {"tier": "cold", "retagged": "2026-03-01"}


def _context(task_id: str) -> dict[str, Any]:
    ti = SimpleNamespace(
        dag_id="reliability_faults", run_id=f"manual__{uuid.uuid4().hex[:8]}", task_id=task_id,
        map_index=0, try_number=1, start_date=None, xcom_push=lambda key, value: None,
    )  # fmt: skip
    return {"ti": ti}


def _original(i: int) -> dict[str, str]:
    """Varied original tag sets: none, one tag, a tag the merge overwrites, several tags."""
    choices = [{}, {"owner": f"team-{i % 7}"}, {"tier": "hot", "owner": "x"}, {"a": "1", "b": "2", "c": "3"}]
    return choices[i % 4]


def test_direct_path_under_faults_tags_all_then_restores(
    local_aws: Any, s3: Any, aws_faults: Any, reliability: Any, reliability_engine: str
) -> None:
    plain = local_aws.create_bucket()
    versioned = local_aws.create_bucket(versioned=True)
    keys = [f"data/{i:04d} part+{i % 5}.csv" for i in range(160)]
    put_objects(s3, plain, {key: _original(i) for i, key in enumerate(keys)})
    # Versioned objects: the old version is tagged, the latest must stay as it is.
    old_versions = put_objects(s3, versioned, {f"v/{i:03d}.json": _original(i) for i in range(20)})
    put_objects(s3, versioned, {key: {"latest": "yes"} for key in old_versions})
    objects: list[Any] = [f"s3://{plain}/{key}" for key in keys]
    objects += [{"bucket": versioned, "key": key, "version_id": vid} for key, vid in old_versions.items()]
    undo_log = f"s3://{plain}/undo/"

    aws_faults.configure(seed=20260301, **FAULTS)
    result = S3PutObjectTaggingOperator(
        task_id="tag", objects=objects, tags=NEW_TAGS, mode="merge", undo_log=undo_log,
        concurrency=16, chunk_size=50,
    ).execute(_context("tag"))  # fmt: skip
    tag_counters = aws_faults.counters
    tag_faults = aws_faults.injected_total
    aws_faults.clear()

    lost = 0
    for i, key in enumerate(keys):
        lost += tags_of(s3, plain, key) != {**_original(i), **NEW_TAGS}
    for i, (key, vid) in enumerate(old_versions.items()):
        lost += tags_of(s3, versioned, key, vid) != {**_original(i), **NEW_TAGS}
        lost += tags_of(s3, versioned, key) != {"latest": "yes"}
    assert lost == 0
    assert tag_faults >= 0.2 * tag_counters["requests"]
    assert tag_counters["reset"] > 0
    assert tag_counters["slowdown"] > 0
    assert tag_counters["error_500"] > 0
    assert (result["total"], result["changed"], result["failed"]) == (180, 180, 0)
    # Every injected fault on a tagging request cost one retry that the summary counts (the undo
    # log's own PutObject retries are botocore's too but not per object, so at least as many).
    assert result["retries"] >= 0.5 * tag_faults
    assert result["undo_log_parts"] == 4

    aws_faults.configure(seed=20260302, **FAULTS)
    restored = S3RestoreObjectTaggingOperator(task_id="restore", undo_log=result, concurrency=16).execute(
        _context("restore")
    )
    restore_faults = aws_faults.injected_total
    aws_faults.clear()

    restore_lost = 0
    for i, key in enumerate(keys):
        restore_lost += tags_of(s3, plain, key) != _original(i)
    for i, (key, vid) in enumerate(old_versions.items()):
        restore_lost += tags_of(s3, versioned, key, vid) != _original(i)
        restore_lost += tags_of(s3, versioned, key) != {"latest": "yes"}
    assert restore_lost == 0
    assert (restored["total"], restored["failed"]) == (180, 0)
    assert restore_faults > 0
    assert restored["retries"] > 0

    reliability.record(
        name="Direct path under transient faults (merge + undo log, then restore)",
        faults=FAULTS_TEXT,
        faults_injected=tag_faults + restore_faults,
        objects_checked=2 * (len(keys) + 2 * len(old_versions)),
        objects_lost=lost + restore_lost,
        notes=(
            "160 objects plus 20 old versions (whose latest versions must stay untouched) merged with 2 "
            f"tags by S3PutObjectTaggingOperator ({reliability_engine} engine, at most 16 requests in flight "
            "under its rate control, chunks of "
            f"50, undo log on), then restored by "
            f"S3RestoreObjectTaggingOperator, both with faults on. Tagging: {tag_counters['requests']} S3 "
            f"requests, {tag_faults} faults ({tag_counters['slowdown']} SlowDown, "
            f"{tag_counters['error_500']} 500, {tag_counters['reset']} resets), {result['retries']} retries "
            f"counted in the task's summary; restore: {restore_faults} faults, "
            f"{restored['retries']} retries. "
            "The engine retries tagging requests (its transports make one attempt); botocore retries the "
            "undo log's PutObject, with its backoff shortened 50x in the test. Counted retries can be "
            "fewer than faults: aiohttp (under aiobotocore) re-sends an idempotent request once, "
            "uncounted, when a kept-alive connection is reset before any answer (RFC 9112, 9.3.1), and "
            "the undo log's PutObject retries are not per object."
        ),
    )


def test_batch_job_under_faults_reports_every_task(
    local_aws: Any, s3: Any, aws_faults: Any, reliability: Any
) -> None:
    bucket = local_aws.create_bucket()
    keys = [f"batch/{i:04d}.csv" for i in range(80)]
    put_objects(s3, bucket, {key: {"old": "1"} for key in keys})
    operator = S3BatchPutObjectTaggingOperator(
        task_id="retag",
        objects=[f"s3://{bucket}/{key}" for key in keys],
        tags={"tier": "cold"},
        role_arn=local_aws.role_arn,
        manifest_location=f"s3://{bucket}/m/",
        report_scope="AllTasks",
        description=f"reliability faults {uuid.uuid4()}",
        waiter_delay=0,
        # The job emulator, like Batch Operations, retries each task a bounded number of times; a task
        # may still fail under 30% faults, and then it must be reported, not lost.
        max_failed_tasks=len(keys),
    )
    aws_faults.configure(seed=20260303, **FAULTS)
    result = operator.execute(_context("retag"))
    counters = aws_faults.counters
    injected = aws_faults.injected_total
    aws_faults.clear()

    assert result["status"] == "Complete"
    assert result["tasks_total"] == len(keys)
    failed_keys = {item["key"] for item in (result["report_summary"] or {}).get("first_failures", [])}
    assert len(failed_keys) == result["tasks_failed"]
    lost = 0
    for key in keys:
        expected = {"old": "1"} if key in failed_keys else {"tier": "cold"}
        lost += tags_of(s3, bucket, key) != expected
    assert lost == 0
    assert result["tasks_succeeded"] >= len(keys) - 3
    assert injected > 0

    reliability.record(
        name="Batch path job under transient faults",
        faults=FAULTS_TEXT + " (the job emulator's own S3 requests included)",
        faults_injected=injected,
        objects_checked=len(keys),
        objects_lost=lost,
        notes=(
            f"S3BatchPutObjectTaggingOperator over 80 objects: {counters['requests']} S3 requests, "
            f"{injected} faults. The job ended {result['status']} with {result['tasks_succeeded']} tasks "
            f"succeeded and {result['tasks_failed']} failed; every object carries the new tags if its task "
            "succeeded and its old tags if the completion report lists it as failed."
        ),
    )
