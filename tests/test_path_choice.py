"""The auto rule: work a job cannot do goes direct (every mode and option), then the thresholds, at
their edges."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_s3_batch_tagging.estimate import TaggingWork, estimate_tagging
from airflow_s3_batch_tagging.path_choice import PathChoiceError, choose_path
from airflow_s3_batch_tagging.pricing import resolve_prices
from airflow_s3_batch_tagging.tags import TaggingMode

US_EAST_1, _ = resolve_prices("us-east-1")


def _estimate(work: TaggingWork | None = None, counts: list[int] | None = None) -> Any:
    # 10 batches of 1,000 objects, one aiobotocore task at a time at 611 objects/s: 16.37 s.
    counts = [1000] * 10 if counts is None else counts
    return estimate_tagging(
        counts,
        source="bucket",
        work=work or TaggingWork(),
        prices=US_EAST_1,
        parallel_tasks=1,
        engine="aiobotocore",
    )


DIRECT_ONLY = {
    "merge": TaggingWork(mode=TaggingMode.MERGE),
    "remove": TaggingWork(mode=TaggingMode.REMOVE),
    "per-object tags": TaggingWork(per_object_tags=True),
    "skip_unchanged": TaggingWork(skip_unchanged=True),
    "dry_run": TaggingWork(dry_run=True),
    "an undo log": TaggingWork(undo_log=True),
    "conditions": TaggingWork(conditions=True),
}


@pytest.mark.parametrize("what", DIRECT_ONLY)
def test_work_a_job_cannot_do_goes_direct_however_slow(what: str) -> None:
    choice = choose_path(_estimate(DIRECT_ONLY[what]), max_direct_seconds=0)
    assert choice.path == "direct"
    assert what in choice.reasons[0]
    assert "cannot" in choice.reasons[0]


@pytest.mark.parametrize("what", DIRECT_ONLY)
def test_forcing_batch_for_work_a_job_cannot_do_is_an_error(what: str) -> None:
    with pytest.raises(PathChoiceError, match=f"strategy='batch'.*{what}"):
        choose_path(_estimate(DIRECT_ONLY[what]), strategy="batch")


@pytest.mark.parametrize("mode", [TaggingMode.REPLACE, TaggingMode.DELETE])
def test_replace_and_delete_may_go_either_way(mode: TaggingMode) -> None:
    estimate = _estimate(TaggingWork(mode=mode))
    assert choose_path(estimate).path == "direct"
    assert choose_path(estimate, max_direct_seconds=1).path == "batch"


def test_reasons_name_every_reason_a_job_cannot_do_it() -> None:
    work = TaggingWork(mode=TaggingMode.MERGE, undo_log=True, skip_unchanged=True)
    (reason,) = choose_path(_estimate(work)).reasons
    for what in ("mode 'merge'", "undo log", "skip_unchanged"):
        assert what in reason


def test_no_objects_go_direct() -> None:
    choice = choose_path(_estimate(counts=[]), max_direct_seconds=0)
    assert choice.path == "direct"
    assert "no objects" in choice.reasons[0]


def test_the_direct_path_at_exactly_its_time_limit_stays_direct() -> None:
    estimate = _estimate()
    seconds = estimate.direct.seconds
    assert seconds == pytest.approx(10 * 1000 / 611)
    assert choose_path(estimate, max_direct_seconds=seconds).path == "direct"
    slower = choose_path(estimate, max_direct_seconds=seconds - 0.01)
    assert slower.path == "batch"
    assert "more than max_direct_seconds=16.4" in slower.reasons[0]


def test_the_extra_fee_limit_at_its_edge() -> None:
    estimate = _estimate()
    # Batch costs $0.25 + 10,000 / 1,000,000 x $1.00 = $0.26 more (its requests equal the direct PUTs,
    # but the direct path also LISTs 10 pages: 10 x $0.005 / 1,000 = $0.00005 less for the batch path).
    extra = estimate.batch.total_fees - estimate.direct.total_fees
    assert extra == pytest.approx(0.26 - 0.00005)
    assert choose_path(estimate, max_direct_seconds=0, max_batch_extra_fee=extra).path == "batch"
    choice = choose_path(estimate, max_direct_seconds=0, max_batch_extra_fee=extra - 0.000001)
    assert choice.path == "direct"
    assert "above max_batch_extra_fee" in choice.reasons[-1]


@pytest.mark.parametrize("strategy", ["direct", "batch"])
def test_a_given_strategy_is_followed(strategy: str) -> None:
    choice = choose_path(_estimate(), strategy=strategy)
    assert choice.path == strategy
    assert f"strategy={strategy!r}" in choice.reasons[0]


def test_thresholds_may_be_rendered_templates() -> None:
    assert choose_path(_estimate(), max_direct_seconds="0", max_batch_extra_fee="None").path == "batch"
    assert choose_path(_estimate(), max_direct_seconds="0", max_batch_extra_fee="0.1").path == "direct"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strategy": "cheapest"}, "Invalid strategy 'cheapest'"),
        ({"max_direct_seconds": -1}, "max_direct_seconds"),
        ({"max_direct_seconds": None}, "max_direct_seconds"),
        ({"max_direct_seconds": "an hour"}, "max_direct_seconds"),
        ({"max_batch_extra_fee": float("nan")}, "max_batch_extra_fee"),
        ({"max_batch_extra_fee": True}, "max_batch_extra_fee"),
    ],
)
def test_bad_strategies_and_thresholds_are_refused_clearly(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(PathChoiceError, match=message):
        choose_path(_estimate(), **kwargs)
