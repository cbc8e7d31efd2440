"""Tests of TagSet and TaggingMode (airflow_s3_batch_tagging/tags.py)."""

from __future__ import annotations

import pytest

from airflow_s3_batch_tagging.errors import InvalidTagError
from airflow_s3_batch_tagging.objects import ObjectRef
from airflow_s3_batch_tagging.tags import EMPTY_TAGS, TaggingMode, TagSet


def test_tag_sets_compare_without_regard_to_order() -> None:
    assert TagSet({"a": "1", "b": "2"}) == TagSet({"b": "2", "a": "1"})
    assert TagSet({"a": "1"}) == {"a": "1"}
    assert TagSet({"a": "1"}) != TagSet({"a": "2"})
    assert hash(TagSet({"a": "1", "b": "2"})) == hash(TagSet({"b": "2", "a": "1"}))


def test_boto_round_trip_is_sorted_and_lossless() -> None:
    tags = TagSet({"team": "data", "class": "pii"})
    boto = tags.to_boto()
    assert boto == [{"Key": "class", "Value": "pii"}, {"Key": "team", "Value": "data"}]
    assert TagSet.from_boto(boto) == tags
    assert tags.to_dict() == {"team": "data", "class": "pii"}


def test_parse_accepts_dicts_boto_lists_and_none() -> None:
    assert TagSet.parse({"a": "1"}) == {"a": "1"}
    assert TagSet.parse([{"Key": "a", "Value": "1"}]) == {"a": "1"}
    assert TagSet.parse(None) == EMPTY_TAGS


def test_parse_rejects_a_string_such_as_an_unrendered_template() -> None:
    with pytest.raises(InvalidTagError, match="got the string"):
        TagSet.parse('{"a": "1"}')


def test_eleven_tags_are_rejected_listing_them() -> None:
    with pytest.raises(InvalidTagError, match="at most 10 tags.*has 11"):
        TagSet({f"k{i}": "v" for i in range(11)})


def test_duplicate_keys_in_a_boto_list_are_rejected() -> None:
    with pytest.raises(InvalidTagError, match="'a' appears more than once"):
        TagSet.from_boto([{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}])


@pytest.mark.parametrize(
    ("key", "value", "rule"),
    [
        ("", "v", "1 to 128 characters"),
        ("k" * 129, "v", "1 to 128 characters"),
        ("k", "v" * 257, "at most 256"),
        ("aws:created", "v", "reserved"),
        ("AWS:created", "v", "reserved"),
        ("key*", "v", r"character '\*'"),
        ("k", "va|ue", r"character '\|'"),
        ("k", "line\nbreak", "character"),
        (1, "v", "must be a string"),
        ("k", 1, "must be a string"),
    ],
)
def test_tag_rules_are_enforced_naming_the_tag_and_rule(key: object, value: object, rule: str) -> None:
    with pytest.raises(InvalidTagError, match=rule):
        TagSet({key: value})  # type: ignore[dict-item]


def test_unicode_letters_numbers_spaces_and_symbols_are_allowed() -> None:
    tags = TagSet({"Abteilung": "Übersee Ⅻ", "路径": "a/b:c=d+e-f@g_h.i", "k" * 128: "v" * 256, "empty": ""})
    assert len(tags) == 4


def test_error_names_the_context() -> None:
    with pytest.raises(InvalidTagError, match="for s3://b/k"):
        TagSet({"bad*": "v"}, context="s3://b/k")


@pytest.mark.parametrize(
    ("mode", "current", "tags", "expected"),
    [
        ("replace", {"old": "1", "keep": "2"}, {"new": "3"}, {"new": "3"}),
        ("merge", {"old": "1", "keep": "2"}, {"old": "9", "new": "3"}, {"old": "9", "keep": "2", "new": "3"}),
        ("remove", {"old": "1", "keep": "2"}, {"old": ""}, {"keep": "2"}),
        ("remove", {"keep": "2"}, {"absent": ""}, {"keep": "2"}),
        ("delete", {"old": "1"}, {}, {}),
    ],
)
def test_modes_compute_the_resulting_tag_set(
    mode: str, current: dict[str, str], tags: dict[str, str], expected: dict[str, str]
) -> None:
    assert TagSet(tags).apply(mode, current) == expected


def test_merge_past_ten_tags_is_an_error_naming_the_object() -> None:
    current = {f"k{i}": "v" for i in range(10)}
    with pytest.raises(InvalidTagError, match=r"s3://my-bucket/data.csv.*has 10 tags.*adds 1 \(new\)"):
        TagSet({"new": "x"}).apply("merge", current, obj=ObjectRef("my-bucket", "data.csv"))


def test_merge_overwriting_keys_of_a_full_set_is_allowed() -> None:
    current = {f"k{i}": "v" for i in range(10)}
    assert TagSet({"k0": "changed"}).apply(TaggingMode.MERGE, current)["k0"] == "changed"


def test_non_collection_tags_get_the_input_error() -> None:
    with pytest.raises(InvalidTagError, match="got int 5; expected a dict"):
        TagSet.parse(5)  # type: ignore[arg-type]
    with pytest.raises(InvalidTagError, match="got int 5; expected a list of tag keys"):
        TagSet.keys_only(5)  # type: ignore[arg-type]


def test_keys_only_builds_a_removal_set_and_validates_keys() -> None:
    assert TagSet.keys_only(["a", "b"]).apply("remove", {"a": "1", "c": "3"}) == {"c": "3"}
    with pytest.raises(InvalidTagError, match="reserved"):
        TagSet.keys_only(["aws:x"])


def test_mode_parse_ignores_case_and_rejects_unknown() -> None:
    assert TaggingMode.parse("MERGE") is TaggingMode.MERGE
    with pytest.raises(InvalidTagError, match="'append'.*'replace', 'merge', 'remove', 'delete'"):
        TaggingMode.parse("append")


def test_mode_properties() -> None:
    assert not TaggingMode.DELETE.needs_tags
    assert TaggingMode.REPLACE.needs_tags
    assert TaggingMode.MERGE.reads_current_tags
    assert TaggingMode.REMOVE.reads_current_tags
    assert not TaggingMode.REPLACE.reads_current_tags
