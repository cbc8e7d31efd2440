"""The demo's own check: it flags any object version whose tags differ from what the DAGs promise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from demo.run_demo import DATA_BUCKET, Demo, Sizes, expected_tags, seed_plan


def test_expected_tags_follow_each_example() -> None:
    assert expected_tags("exports/2026/03/part-0001.parquet", {"tier": "hot", "owner": "etl"}) == {
        "tier": "cold",
        "retagged_on": "2026-03-01",
    }
    assert expected_tags("exports/2026/03/_SUCCESS", {}) == {}
    assert expected_tags("datasets/0001.csv", {"owner": "a", "classification": "public"}) == {
        "owner": "a",
        "classification": "internal",
        "reviewed_on": "2026-03-01",
    }
    assert expected_tags("events/dt=2026-01-02/0001.json", {}) == {
        "retention_class": "archive",
        "backfilled_for": "2026-01-02",
    }
    assert expected_tags("events/dt=2026-01-03/0000.json", {"source": "app"})["expires_after"] == "2026-04-03"
    assert expected_tags("archive/0000.bin", {"legal_hold": "false"}) == {
        "legal_hold": "true",
        "reviewed_by": "legal",
    }


def test_seed_plan_has_older_versions_and_untagged_objects() -> None:
    plan = seed_plan(Sizes())
    versions = [tags for _, history in plan for tags in history]
    assert len(plan) == 2901
    assert len(versions) - len(plan) == 150
    assert sum(tags is None for tags in versions) > 0


@pytest.mark.e2e
def test_verify_passes_or_flags_a_single_wrong_object(local_aws: Any, tmp_path: Path) -> None:
    demo = Demo(local_aws, tmp_path, Sizes(exports=10, datasets=4, events_per_day=2, archive=2))
    demo.seed()

    def put_tags(version: Any, tags: dict[str, str]) -> None:
        tag_set = [{"Key": k, "Value": v} for k, v in tags.items()]
        demo.s3.put_object_tagging(
            Bucket=DATA_BUCKET, Key=version.key, VersionId=version.version_id, Tagging={"TagSet": tag_set}
        )

    for version in demo.seeded:  # do what the DAGs promise, by hand
        if version.latest and expected_tags(version.key, version.tags) != version.tags:
            put_tags(version, expected_tags(version.key, version.tags))
    assert demo.verify(demo.read_all_tags()) == len(demo.seeded)
    assert demo.report.problems == []

    wrong = next(v for v in demo.seeded if v.latest and v.key.startswith("datasets/"))
    put_tags(wrong, {**expected_tags(wrong.key, wrong.tags), "classification": "public"})
    demo.verify(demo.read_all_tags())
    assert demo.report.problems[0] == "1 object versions have the wrong tags, e.g.:"
    assert wrong.key in demo.report.problems[1]
    assert len(demo.report.problems) == 2
