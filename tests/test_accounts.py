"""AWS account ids (airflow_s3_batch_tagging/accounts.py): the job owner and the expected bucket owner."""

from __future__ import annotations

import pytest

from airflow_s3_batch_tagging.accounts import (
    is_account_id,
    validate_account_id,
    validate_expected_bucket_owner,
)
from airflow_s3_batch_tagging.errors import S3TaggingInputError

OWNER = "123456789012"


def test_validate_account_id_accepts_twelve_digits() -> None:
    assert validate_account_id("000000000000") == "000000000000"


@pytest.mark.parametrize("value", ["12345678901", "1234567890123", "١٢٣٤٥٦٧٨٩٠١٢", 123456789012, None])
def test_account_id_is_a_string_of_12_ascii_digits(value: object) -> None:
    assert not is_account_id(value)
    with pytest.raises(S3TaggingInputError, match=r"Invalid AWS account id .*: it must be exactly 12 digits"):
        validate_account_id(value)


@pytest.mark.parametrize("owner", ["12345678901", "1234567890123", "12345678901a", 123456789012, True, ""])
def test_an_owner_that_is_not_12_digits_is_rejected(owner: object) -> None:
    with pytest.raises(S3TaggingInputError, match=f"Invalid expected_bucket_owner {owner!r}"):
        validate_expected_bucket_owner(owner)


def test_no_owner_or_12_digits_pass() -> None:
    validate_expected_bucket_owner(None)
    validate_expected_bucket_owner(OWNER)
