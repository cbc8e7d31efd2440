"""TagCondition: which objects a conditional run touches, and the validation of its parameters."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_s3_batch_tagging.conditions import TagCondition
from airflow_s3_batch_tagging.errors import InvalidTagError
from airflow_s3_batch_tagging.tags import TagSet


def condition(only_if_tags: Any = None, unless_tag_keys: Any = None) -> TagCondition:
    parsed = TagCondition.parse(only_if_tags, unless_tag_keys)
    assert parsed is not None
    return parsed


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        ({"tier": "hot"}, True),
        ({"tier": "hot", "owner": "a"}, True),
        ({"tier": "cold"}, False),
        ({"tier": "Hot"}, False),  # values are compared exactly
        ({"Tier": "hot"}, False),  # keys are case-sensitive in S3
        ({"tier": "hot "}, False),
        ({}, False),
    ],
)
def test_only_if_tags_needs_the_pair(current: dict[str, str], expected: bool) -> None:
    assert condition(only_if_tags={"tier": "hot"}).matches(current) is expected


def test_only_if_tags_needs_every_pair() -> None:
    wanted = condition(only_if_tags={"tier": "hot", "team": "data"})
    assert wanted.matches({"tier": "hot", "team": "data", "x": "1"})
    assert not wanted.matches({"tier": "hot"})
    assert not wanted.matches({"tier": "hot", "team": "ml"})


def test_an_empty_value_is_a_value_to_match() -> None:
    wanted = condition(only_if_tags={"reviewed": ""})
    assert wanted.matches({"reviewed": ""})
    assert not wanted.matches({})
    assert not wanted.matches({"reviewed": "yes"})


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        ({}, True),
        ({"owner": "a"}, True),
        ({"legal-hold": "true"}, False),
        ({"legal-hold": ""}, False),  # a key with any value, the empty one too
        ({"Legal-Hold": "true"}, True),
        ({"retention": "7y", "owner": "a"}, False),
    ],
)
def test_unless_tag_keys_excludes_any_listed_key(current: dict[str, str], expected: bool) -> None:
    assert condition(unless_tag_keys=["legal-hold", "retention"]).matches(current) is expected


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        ({"tier": "hot"}, True),
        ({"tier": "hot", "legal-hold": "true"}, False),
        ({"tier": "cold"}, False),
        ({"legal-hold": "true"}, False),
    ],
)
def test_both_conditions_must_hold(current: dict[str, str], expected: bool) -> None:
    both = condition(only_if_tags={"tier": "hot"}, unless_tag_keys=["legal-hold"])
    assert both.matches(current) is expected


def test_matches_a_tag_set_as_the_engine_reads_it() -> None:
    read = TagSet.from_boto([{"Key": "tier", "Value": "hot"}])
    assert condition(only_if_tags={"tier": "hot"}, unless_tag_keys=["x"]).matches(read)


def test_no_parameter_means_no_condition() -> None:
    assert TagCondition.parse(None, None) is None


def test_accepted_spellings() -> None:
    boto = condition(only_if_tags=[{"Key": "tier", "Value": "hot"}])
    assert boto.only_if_tags == {"tier": "hot"}
    assert condition(unless_tag_keys=("a", "b", "a")).unless_tag_keys == {"a", "b"}
    assert condition(unless_tag_keys={"a"}).unless_tag_keys == {"a"}
    many = [f"k{i}" for i in range(20)]  # any of many keys: not bound by S3's 10 tags per object
    assert condition(unless_tag_keys=many).unless_tag_keys == set(many)


def test_describe_names_the_keys_and_values() -> None:
    text = condition(only_if_tags={"tier": "hot", "a": "1"}, unless_tag_keys=["z", "legal-hold"]).describe()
    assert text == "only objects carrying all of a=1, tier=hot and carrying none of the keys legal-hold, z"


@pytest.mark.parametrize(
    ("only_if_tags", "unless_tag_keys", "message"),
    [
        pytest.param("tier=hot", None, "only_if_tags: got the string 'tier=hot'", id="string-pairs"),
        pytest.param(["tier"], None, "Invalid tag entry 'tier' for only_if_tags", id="list-of-keys"),
        pytest.param(5, None, "only_if_tags: got int 5", id="number"),
        pytest.param({}, None, "Invalid only_if_tags {}: give at least one", id="empty-pairs"),
        pytest.param({"": "x"}, None, "for only_if_tags: the key must be 1 to 128", id="empty-key"),
        pytest.param({"tier": 1}, None, "the value must be a string, not int", id="number-value"),
        pytest.param({"aws:tier": "x"}, None, "'aws:' is reserved", id="reserved-key"),
        pytest.param({"tier": "a|b"}, None, "character '|' is not allowed", id="bad-char"),
        pytest.param({"k" * 129: "x"}, None, "1 to 128 characters long, it has 129", id="long-key"),
        pytest.param({"k": "v" * 257}, None, "at most 256 characters long", id="long-value"),
        pytest.param(
            {f"k{i}": "v" for i in range(11)}, None, "at most 10 tags per object", id="eleven-pairs"
        ),
        pytest.param(None, "legal-hold", "such as ['legal-hold'], not a string", id="string-key"),
        pytest.param(None, {"legal-hold": "x"}, "a list of tag keys, not dict", id="dict-keys"),
        pytest.param(None, 3, "a list of tag keys, not int", id="number-keys"),
        pytest.param(None, [], "Invalid unless_tag_keys []: give at least one", id="empty-keys"),
        pytest.param(None, [""], "for unless_tag_keys: the key must be 1 to 128", id="empty-key-in-list"),
        pytest.param(None, ["ok", 7], "the key must be a string, not int", id="number-in-list"),
        pytest.param(None, ["aws:createdBy"], "'aws:' is reserved", id="reserved-key-in-list"),
        pytest.param(None, ["a#b"], "character '#' is not allowed", id="bad-char-in-list"),
        pytest.param(
            {"tier": "hot", "legal-hold": "no"},
            ["legal-hold"],
            "Conflicting conditions: the key(s) 'legal-hold' are in only_if_tags and in unless_tag_keys",
            id="key-both-required-and-excluded",
        ),
    ],
)
def test_bad_conditions_name_the_problem(only_if_tags: Any, unless_tag_keys: Any, message: str) -> None:
    with pytest.raises(InvalidTagError) as raised:
        TagCondition.parse(only_if_tags, unless_tag_keys)
    assert message in str(raised.value)
