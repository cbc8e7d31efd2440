"""The estimate's arithmetic, checked against figures computed by hand from AWS's published prices
(us-east-1: PUT-class $0.005 per 1,000 requests, GET-class $0.0004 per 1,000, Batch Operations $0.25
per job and $1.00 per million objects) and the engine's measured rates (BENCHMARKS.md, 2026-11-27:
611 objects/s per aiobotocore task writing only, 318 reading then writing; crt 3,580 and 1,352)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_s3_batch_tagging.estimate import (
    EstimateError,
    TaggingWork,
    batch_counts,
    direct_rate,
    estimate_tagging,
)
from airflow_s3_batch_tagging.pricing import resolve_prices
from airflow_s3_batch_tagging.tags import TaggingMode

US_EAST_1, _ = resolve_prices("us-east-1")
REPLACE = TaggingWork()
MERGE = TaggingWork(mode=TaggingMode.MERGE)


def test_a_thousand_objects_cost_about_fifty_times_more_by_batch_job() -> None:
    estimate = estimate_tagging(
        [1000], source="objects", work=REPLACE, prices=US_EAST_1, parallel_tasks=1, engine="aiobotocore"
    )
    # Direct: 1,000 PUTs x $0.005/1,000 = $0.005.
    assert (estimate.direct.get_requests, estimate.direct.put_requests) == (0, 1000)
    assert estimate.direct.total_fees == pytest.approx(0.005)
    # Batch: 1,000 PUTs by the job + 1 PUT of the manifest = 1,001 x $0.005/1,000 = $0.005005;
    # $0.25 per job + 1,000 / 1,000,000 x $1.00 = $0.251; total $0.256005 (AWS_FACTS: "about $0.256").
    assert estimate.batch.put_requests == 1001
    assert estimate.batch.request_fees == pytest.approx(0.005005)
    assert estimate.batch.batch_fees == pytest.approx(0.251)
    assert estimate.batch.total_fees == pytest.approx(0.256005)
    # Duration: one task, 1,000 / 611 objects/s = 1.637 s; batch: 300 s + 1,000 / 1,000/s = 301 s.
    assert estimate.direct.seconds == pytest.approx(1000 / 611)
    assert estimate.batch.seconds == pytest.approx(301)


def test_a_million_objects_from_a_listing() -> None:
    counts = [1000] * 1000
    estimate = estimate_tagging(
        counts, source="bucket", work=REPLACE, prices=US_EAST_1, parallel_tasks=4, engine="aiobotocore"
    )
    # Direct: 1,000,000 PUTs + one LIST page per batch of 1,000 keys (1,000 LISTs, PUT-class):
    # 1,001,000 x $0.005/1,000 = $5.005.
    assert estimate.direct.put_requests == 1_001_000
    assert estimate.direct.total_fees == pytest.approx(5.005)
    # Batch: 1,000,000 PUTs = $5.00, plus $0.25 + $1.00: $6.25 (AWS_FACTS: "about $6.25").
    assert estimate.batch.total_fees == pytest.approx(6.25)
    # 1,000 batches, 4 at a time: 250 waves x 1,000 / 611 s = 409.2 s (S3's 3,500 writes/s would
    # allow 1,000,000 / 3,500 = 285.7 s, so the tasks are the limit).
    assert estimate.direct.seconds == pytest.approx(250 * 1000 / 611)
    # Batch: 300 s + 1,000,000 / 1,000 objects/s = 1,300 s.
    assert estimate.batch.seconds == pytest.approx(1300)


def test_many_parallel_tasks_are_capped_by_s3s_write_rate() -> None:
    counts = [1000] * 1000
    estimate = estimate_tagging(
        counts, source="bucket", work=REPLACE, prices=US_EAST_1, parallel_tasks=16, engine="aiobotocore"
    )
    # 16 at a time: ceil(1,000 / 16) = 63 waves x 1,000 / 611 s = 103.1 s, faster than S3 allows one
    # prefix: 1,000,000 writes / 3,500 per s = 285.7 s.
    assert estimate.direct.seconds == pytest.approx(1_000_000 / 3500)
    assert "3,500 writes/s" in estimate.direct.how
    uncapped = estimate_tagging(
        counts,
        source="bucket",
        work=REPLACE,
        prices=US_EAST_1,
        parallel_tasks=16,
        s3_writes_per_second=None,
        engine="aiobotocore",
    )
    assert uncapped.direct.seconds == pytest.approx(63 * 1000 / 611)


def test_a_merge_from_a_csv_manifest_reads_then_writes_and_cannot_be_a_job() -> None:
    counts = [1000] * 1000
    estimate = estimate_tagging(
        counts, source="manifest", work=MERGE, prices=US_EAST_1, parallel_tasks=10, engine="aiobotocore"
    )
    # GET: 1,000,000 GetObjectTagging + 1,000 ranged manifest reads = 1,001,000 x $0.0004/1,000 = $0.4004.
    # PUT: 1,000,000 x $0.005/1,000 = $5.00. Total $5.4004.
    assert (estimate.direct.get_requests, estimate.direct.put_requests) == (1_001_000, 1_000_000)
    assert estimate.direct.total_fees == pytest.approx(5.4004)
    # 100 waves x 1,000 / 318 objects/s = 314.5 s (more than 1,000,000 / 3,500 = 285.7 s).
    assert estimate.direct.seconds == pytest.approx(100 * 1000 / 318)
    assert not estimate.batch.possible
    assert "mode 'merge'" in estimate.batch.why_not[0]


def test_an_inventory_batch_is_read_back_with_two_gets_and_an_undo_log_adds_a_put_per_part() -> None:
    work = TaggingWork(undo_log=True)
    estimate = estimate_tagging(
        [2500, 10], source="inventory_manifest", work=work, prices=US_EAST_1, parallel_tasks=2
    )
    # GET: 2,510 objects read first (the undo log needs their tags) + 2 batches x 2 GETs = 2,514.
    # PUT: 2,510 writes + undo parts: ceil(2,500 / 1,000) + ceil(10 / 1,000) = 3 + 1 = 4 -> 2,514.
    assert (estimate.direct.get_requests, estimate.direct.put_requests) == (2514, 2514)
    # $0.0004 x 2.514 + $0.005 x 2.514 = $0.0010056 + $0.01257 = $0.0135756.
    assert estimate.direct.total_fees == pytest.approx(0.0135756)


def test_a_dry_run_only_reads() -> None:
    estimate = estimate_tagging(
        [100], source="objects", work=TaggingWork(dry_run=True), prices=US_EAST_1, parallel_tasks=1
    )
    assert (estimate.direct.get_requests, estimate.direct.put_requests) == (100, 0)
    assert estimate.direct.total_fees == pytest.approx(100 / 1000 * 0.0004)


def test_no_objects_cost_nothing_directly_and_are_no_job() -> None:
    estimate = estimate_tagging([], source="bucket", work=REPLACE, prices=US_EAST_1, parallel_tasks=8)
    assert (estimate.objects, estimate.direct.total_fees, estimate.direct.seconds) == (0, 0, 0)
    assert not estimate.batch.possible


def test_user_rates_replace_the_measured_and_assumed_ones() -> None:
    estimate = estimate_tagging(
        [600, 600],
        source="objects",
        work=REPLACE,
        prices=US_EAST_1,
        parallel_tasks=2,
        direct_objects_per_second="200",
        batch_startup_seconds=60,
        batch_objects_per_second=12,
    )
    assert estimate.direct.seconds == pytest.approx(600 / 200)  # one wave of two tasks
    assert estimate.batch.seconds == pytest.approx(60 + 1200 / 12)


@pytest.mark.parametrize(
    ("engine", "work", "rate"),
    [
        ("aiobotocore", REPLACE, 611),
        ("asyncio", MERGE, 318),
        ("threads", REPLACE, 394),
        ("threads", TaggingWork(skip_unchanged=True), 157),
        ("crt", REPLACE, 3580),
        ("crt", MERGE, 1352),
        ("auto", REPLACE, 3580),  # the default: crt's, what auto runs wherever it can
    ],
)
def test_rates_per_engine_come_from_the_benchmarks(engine: str, work: TaggingWork, rate: float) -> None:
    assert direct_rate(engine, work) == rate


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"parallel_tasks": 0}, "parallel_tasks"),
        ({"parallel_tasks": True}, "parallel_tasks"),
        ({"engine": "curl"}, "Invalid engine 'curl'"),
        ({"direct_objects_per_second": 0}, "direct_objects_per_second"),
        ({"batch_objects_per_second": "fast"}, "batch_objects_per_second"),
        ({"batch_startup_seconds": -1}, "batch_startup_seconds"),
        ({"source": "ftp"}, "Invalid source"),
    ],
)
def test_bad_estimate_inputs_are_refused_clearly(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {
        "source": "objects",
        "work": REPLACE,
        "prices": US_EAST_1,
        "parallel_tasks": 1,
    }
    with pytest.raises(EstimateError, match=message):
        estimate_tagging([10], **{**arguments, **kwargs})


def test_counts_come_from_list_slices_and_references() -> None:
    assert batch_counts([["a", "b"], {"manifest": "s3://b/m.csv", "count": 7}]) == [2, 7]
    with pytest.raises(EstimateError, match="no count"):
        batch_counts([{"listing": "s3://b/"}])


def test_the_estimate_is_json_and_its_table_shows_both_paths() -> None:
    estimate = estimate_tagging(
        [1000], source="objects", work=REPLACE, prices=US_EAST_1, parallel_tasks=1, notes=["a note"]
    )
    data = json.loads(json.dumps(estimate.to_dict()))
    assert data["objects"] == 1000
    assert data["direct"]["fees_usd"]["total"] == 0.005
    assert data["batch"]["fees_usd"] == {"requests": 0.005005, "batch_operations": 0.251, "total": 0.256005}
    assert data["prices"]["source"] == "https://aws.amazon.com/s3/pricing/"
    table = estimate.table()
    assert "| direct |" in table
    assert "| batch  |" in table
    assert "$0.256005" in table
    assert "Note: a note" in table


def test_the_default_engine_is_capped_by_s3s_write_rate_at_once() -> None:
    # auto runs crt: 3,580 objects/s per task writing only; 4 tasks would write 14,320/s, so S3's
    # 3,500 writes/s per prefix sets the duration: 1,000,000 / 3,500 = 285.7 s.
    estimate = estimate_tagging(
        [1000] * 1000, source="bucket", work=REPLACE, prices=US_EAST_1, parallel_tasks=4
    )
    assert estimate.direct.seconds == pytest.approx(1_000_000 / 3500)
