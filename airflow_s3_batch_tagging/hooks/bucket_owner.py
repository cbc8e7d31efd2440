"""``ExpectedBucketOwner`` on every S3 request of a client: the request wiring of both paths' hooks.

The account-id rules live in ``airflow_s3_batch_tagging.accounts``.
"""

from __future__ import annotations

from typing import Any

# Re-exported: imported from here before the rules moved to the core.
from airflow_s3_batch_tagging.accounts import is_account_id, validate_expected_bucket_owner

__all__ = ["expect_bucket_owner", "is_account_id", "validate_expected_bucket_owner"]


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
