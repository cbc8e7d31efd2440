"""The price table: published figures with their source, the us-east-1 fallback, user overrides."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_s3_batch_tagging.pricing import (
    PRICES_READ_ON,
    PRICES_SOURCE,
    PUBLISHED_PRICES,
    PricingError,
    S3Prices,
    resolve_prices,
)


def test_us_east_1_has_the_published_figures_with_source_and_date() -> None:
    # AWS's S3 pricing page (us-east-1, S3 Standard; Batch Operations), as AWS_FACTS.md quotes it:
    # PUT-class $0.005 per 1,000, GET-class $0.0004 per 1,000, $0.25 per job, $1.00 per million objects.
    prices, note = resolve_prices("us-east-1")
    assert note is None
    assert (prices.put_per_1000, prices.get_per_1000) == (0.005, 0.0004)
    assert (prices.batch_per_job, prices.batch_per_million_objects) == (0.25, 1.00)
    assert prices.source == PRICES_SOURCE == "https://aws.amazon.com/s3/pricing/"
    assert prices.read_on == PRICES_READ_ON


def test_a_region_without_figures_falls_back_to_us_east_1_and_says_so() -> None:
    prices, note = resolve_prices("eu-central-2")
    assert prices.region == "eu-central-2"
    assert prices.put_per_1000 == PUBLISHED_PRICES["us-east-1"].put_per_1000
    assert note is not None
    assert "eu-central-2" in note
    assert "us-east-1" in note


def test_no_region_means_us_east_1() -> None:
    prices, note = resolve_prices(None)
    assert (prices.region, note) == ("us-east-1", None)


def test_a_mapping_overrides_some_prices_and_names_them_in_the_source() -> None:
    prices, _ = resolve_prices("us-east-1", {"put_per_1000": "0.0055", "batch_per_job": 0.3})
    assert (prices.put_per_1000, prices.batch_per_job, prices.get_per_1000) == (0.0055, 0.3, 0.0004)
    assert "user overrides: batch_per_job, put_per_1000" in prices.source


def test_overrides_over_the_fallback_keep_its_note() -> None:
    # The region has no figures here: the ones not overridden are still us-east-1's, so the note stays.
    given = {
        "put_per_1000": 0.0054,
        "get_per_1000": 0.00043,
        "source": "my price list",
        "read_on": "2026-11-01",
    }
    prices, note = resolve_prices("eu-west-3", given)
    assert (prices.source, prices.read_on, prices.put_per_1000) == ("my price list", "2026-11-01", 0.0054)
    assert note is not None


def test_a_whole_price_object_is_used_as_given() -> None:
    mine = S3Prices("ap-south-1", 0.005, 0.0004, 0.25, 1.0, source="mine", read_on="2026-10-01")
    assert resolve_prices("ap-south-1", mine) == (mine, None)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"put_per_100": 1}, "unknown field"),
        ({"put_per_1000": -0.1}, "cannot be negative"),
        ({"get_per_1000": "cheap"}, "expected a number"),
        ({"batch_per_job": True}, "expected a number"),
        ({"batch_per_job": float("nan")}, "expected a number"),
        ("0.005", "expected an S3Prices or a mapping"),
    ],
)
def test_bad_overrides_are_refused_clearly(override: Any, message: str) -> None:
    with pytest.raises(PricingError, match=message):
        resolve_prices("us-east-1", override)
