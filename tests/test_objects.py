"""Tests of ObjectRef, S3Location and S3 naming rules (airflow_s3_batch_tagging/objects.py)."""

from __future__ import annotations

import dataclasses

import pytest

from airflow_s3_batch_tagging.errors import InvalidObjectRefError
from airflow_s3_batch_tagging.objects import (
    ObjectRef,
    S3Location,
    bucket_from_arn,
    parse_bucket_arn,
    split_s3_uri,
    validate_bucket_name,
)


def test_object_ref_from_uri_keeps_key_as_written() -> None:
    ref = ObjectRef.from_uri("s3://my-bucket/a/b c%20d.txt")
    assert ref == ObjectRef("my-bucket", "a/b c%20d.txt")
    assert ref.uri == "s3://my-bucket/a/b c%20d.txt"


def test_object_ref_is_immutable_and_hashable() -> None:
    ref = ObjectRef("my-bucket", "k", "v1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.key = "other"  # type: ignore[misc]
    assert {ref, ObjectRef("my-bucket", "k", "v1")} == {ref}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"bucket": "my-bucket", "key": "k", "version_id": "v1"}, ObjectRef("my-bucket", "k", "v1")),
        ({"Bucket": "my-bucket", "Key": "k", "VersionId": "v2"}, ObjectRef("my-bucket", "k", "v2")),
        ({"key": "k"}, ObjectRef("default-bucket", "k")),
        ({"uri": "s3://my-bucket/x/y", "version_id": "null"}, ObjectRef("my-bucket", "x/y", "null")),
        ({"bucket": "my-bucket", "key": "k", "version_id": ""}, ObjectRef("my-bucket", "k")),
        ("s3://my-bucket/k", ObjectRef("my-bucket", "k")),
        ("bare/key.csv", ObjectRef("default-bucket", "bare/key.csv")),
    ],
)
def test_object_ref_parse_accepts_uris_keys_and_dicts(value: object, expected: ObjectRef) -> None:
    assert ObjectRef.parse(value, default_bucket="default-bucket") == expected  # type: ignore[arg-type]


def test_object_ref_parse_returns_an_object_ref_unchanged() -> None:
    ref = ObjectRef("my-bucket", "k")
    assert ObjectRef.parse(ref) is ref


def test_bare_key_without_bucket_names_the_key() -> None:
    with pytest.raises(InvalidObjectRefError, match=r"'data/x.csv'.*needs a bucket"):
        ObjectRef.parse("data/x.csv")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"bucket": "my-bucket"}, "no 'key'"),
        ({"key": "k"}, "no 'bucket'"),
        (42, "type int"),
        ("s3://my-bucket", "no key after the bucket"),
        ("s3://my-bucket/", "no key after the bucket"),
        ("s3://Bad_Bucket/key", "'Bad_Bucket'"),
    ],
)
def test_object_ref_parse_rejects_malformed_entries(value: object, message: str) -> None:
    with pytest.raises(InvalidObjectRefError, match=message):
        ObjectRef.parse(value)  # type: ignore[arg-type]


def test_empty_key_is_rejected() -> None:
    with pytest.raises(InvalidObjectRefError, match="must not be empty"):
        ObjectRef("my-bucket", "")


def test_key_of_1024_bytes_accepted_1025_rejected() -> None:
    assert ObjectRef("my-bucket", "é" * 512).key  # 1,024 bytes in UTF-8
    with pytest.raises(InvalidObjectRefError, match="at most 1024 bytes.*1025"):
        ObjectRef("my-bucket", "é" * 512 + "x")


def test_key_with_a_lone_surrogate_is_rejected() -> None:
    with pytest.raises(InvalidObjectRefError, match="valid UTF-8"):
        ObjectRef("my-bucket", "bad\udc80key")


@pytest.mark.parametrize("version_id", ["", "a,b", "a\nb", 'a"b', 7])
def test_invalid_version_ids_are_rejected(version_id: object) -> None:
    with pytest.raises(InvalidObjectRefError, match="version id"):
        ObjectRef("my-bucket", "k", version_id)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("ab", "3 to 63"),
        ("a" * 64, "3 to 63"),
        ("My-Bucket", "lowercase"),
        ("my_bucket", "lowercase"),
        ("-bucket", "begin and end"),
        ("bucket-", "begin and end"),
        ("my..bucket", "adjacent"),
        ("my.-bucket", "adjacent"),
        ("192.168.5.4", "IP address"),
        ("xn--bucket", "must not start"),
        ("sthree-bucket", "must not start"),
        ("bucket-s3alias", "must not end"),
        ("bucket--ol-s3", "must not end"),
    ],
)
def test_bucket_naming_rules_are_enforced_with_the_rule_named(name: str, rule: str) -> None:
    with pytest.raises(InvalidObjectRefError, match=rule):
        validate_bucket_name(name)


@pytest.mark.parametrize("name", [["bucket"], {"bucket": 1}, 42])
def test_non_string_bucket_gets_the_input_error(name: object) -> None:
    with pytest.raises(InvalidObjectRefError, match="non-empty string"):
        validate_bucket_name(name)  # type: ignore[arg-type]
    with pytest.raises(InvalidObjectRefError, match="non-empty string"):
        ObjectRef.parse({"bucket": name, "key": "k"})


@pytest.mark.parametrize("name", ["abc", "my-bucket", "my.bucket.name", "a" * 63, "1bucket"])
def test_valid_bucket_names_pass(name: str) -> None:
    assert validate_bucket_name(name) == name


def test_split_s3_uri_requires_the_scheme() -> None:
    with pytest.raises(InvalidObjectRefError, match="must start with 's3://'"):
        split_s3_uri("https://my-bucket/key")
    assert split_s3_uri("s3://my-bucket") == ("my-bucket", "")


def test_s3_location_joins_keys_with_single_slashes() -> None:
    location = S3Location.from_uri("s3://reports-bucket/batch/reports/")
    assert location.join("job-1", "manifest.json") == "batch/reports/job-1/manifest.json"
    assert S3Location.from_uri("s3://reports-bucket").join("a", "/b/") == "a/b"
    assert location.bucket_arn() == "arn:aws:s3:::reports-bucket"
    assert location.bucket_arn("aws-cn") == "arn:aws-cn:s3:::reports-bucket"


def test_to_dict_omits_missing_version_id() -> None:
    assert ObjectRef("my-bucket", "k").to_dict() == {"bucket": "my-bucket", "key": "k"}
    assert ObjectRef("my-bucket", "k", "v").to_dict() == {
        "bucket": "my-bucket",
        "key": "k",
        "version_id": "v",
    }


def test_bucket_arn_parses_into_partition_and_bucket() -> None:
    assert parse_bucket_arn("arn:aws-cn:s3:::my-bucket") == ("aws-cn", "my-bucket")
    assert parse_bucket_arn("my-bucket") is None
    assert parse_bucket_arn("arn:aws:s3:us-east-1:123456789012:accesspoint/ap") is None
    assert S3Location("my-bucket").bucket_arn("aws-us-gov") == "arn:aws-us-gov:s3:::my-bucket"
    assert bucket_from_arn(S3Location("my-bucket").bucket_arn("aws-us-gov")) == "my-bucket"
    assert bucket_from_arn("my-bucket") == "my-bucket"
