"""AWS account ids, and ``ExpectedBucketOwner`` on every S3 request of a client: one rule for both
paths' hooks and operators."""

from __future__ import annotations

import re
from typing import Any, TypeGuard

from airflow_s3_batch_tagging.errors import S3TaggingInputError

# [0-9], not \d: \d also matches other scripts' digits ("١٢٣٤٥٦٧٨٩٠١٢"), which AWS rejects.
_ACCOUNT_ID = re.compile(r"[0-9]{12}")


def is_account_id(value: object) -> TypeGuard[str]:
    """Whether ``value`` is an AWS account id: a string of exactly 12 digits."""
    return isinstance(value, str) and _ACCOUNT_ID.fullmatch(value) is not None


def validate_expected_bucket_owner(owner: object) -> None:
    """``expected_bucket_owner`` is None or an account id of 12 digits (checked before any request)."""
    if owner is not None and not is_account_id(owner):
        raise S3TaggingInputError(
            f"Invalid expected_bucket_owner {owner!r}: it must be an AWS account id of exactly 12 digits."
        )


def expect_bucket_owner(client: Any, owner: str | None) -> None:
    """Make ``client`` (boto3 or aiobotocore) send ``ExpectedBucketOwner=owner`` on every operation
    that accepts it, unless a call sets its own; S3 then answers 403 instead of touching a bucket
    another account owns. Does nothing when ``owner`` is empty."""
    if not owner:
        return

    def add_expected_bucket_owner(params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        shape = model.input_shape
        if shape is not None and "ExpectedBucketOwner" in shape.members:
            params.setdefault("ExpectedBucketOwner", owner)

    client.meta.events.register("before-parameter-build.s3", add_expected_bucket_owner)
