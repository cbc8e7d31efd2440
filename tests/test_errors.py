"""Error helpers shared by the core's validators."""

from __future__ import annotations

from airflow_s3_batch_tagging.errors import shorten


def test_shorten_keeps_short_text_whole() -> None:
    assert shorten("'abc'", 10) == "'abc'"


def test_shorten_cuts_to_the_limit_and_keeps_the_closing_quote() -> None:
    shown = shorten(repr("x" * 200), 20)

    assert len(shown) == 20
    assert shown == "'xxxxxxxxxxxxxxx...'"
