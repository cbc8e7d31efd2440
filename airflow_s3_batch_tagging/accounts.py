"""AWS account ids: the job owner and the ``ExpectedBucketOwner`` of both paths, checked before requests."""

from __future__ import annotations

import re
from typing import TypeGuard

from airflow_s3_batch_tagging.errors import S3TaggingInputError

# [0-9], not \d: \d also matches other scripts' digits ("١٢٣٤٥٦٧٨٩٠١٢"), which AWS rejects.
_ACCOUNT_ID = re.compile(r"[0-9]{12}")


def is_account_id(value: object) -> TypeGuard[str]:
    """Whether ``value`` is an AWS account id: a string of exactly 12 digits."""
    return isinstance(value, str) and _ACCOUNT_ID.fullmatch(value) is not None


def validate_account_id(account_id: object) -> str:
    """Return ``account_id`` when it is 12 digits, else raise ``ValueError`` naming it."""
    if not is_account_id(account_id):
        raise S3TaggingInputError(f"Invalid AWS account id {account_id!r}: it must be exactly 12 digits.")
    return account_id


def validate_expected_bucket_owner(owner: object) -> None:
    """``expected_bucket_owner`` is None or an account id of 12 digits (checked before any request)."""
    if owner is not None and not is_account_id(owner):
        raise S3TaggingInputError(
            f"Invalid expected_bucket_owner {owner!r}: it must be an AWS account id of exactly 12 digits."
        )
