"""Which AWS the system test runs against, from the environment (no Airflow import: the root
conftest reads it before Airflow loads).

- ``S3_TAGGING_SYSTEM_TEST_TARGET=local``: the local stand-in (moto's S3, IAM and STS plus the S3
  Control job emulator), started by the test itself; no credentials needed.
- ``S3_TAGGING_SYSTEM_TEST_ACCOUNT=<12 digits>`` (target ``aws``, the default) and AWS credentials:
  a real account. The credentials must belong to that account; the test checks it before it
  creates anything.
- Neither: the system test is skipped, with a reason that says what to set.
"""

from __future__ import annotations

import os
import re

TARGET_ENV = "S3_TAGGING_SYSTEM_TEST_TARGET"
ACCOUNT_ENV = "S3_TAGGING_SYSTEM_TEST_ACCOUNT"
TARGETS = ("aws", "local")

SKIP_REASON = (
    f"System test not requested: set {TARGET_ENV}=local to run it on the local stand-in, or "
    f"{ACCOUNT_ENV}=<12-digit account id> plus AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID/"
    "AWS_SECRET_ACCESS_KEY, or AIRFLOW_CONN_AWS_DEFAULT) to run it on a real account (`make system-test`)."
)


def system_test_target() -> str | None:
    """``"local"``, ``"aws"`` or None (not requested); raises ValueError naming a bad setting."""
    target = os.environ.get(TARGET_ENV, "aws").strip().lower() or "aws"
    if target not in TARGETS:
        raise ValueError(f"Invalid {TARGET_ENV}={target!r}: choose 'local' or 'aws' (the default).")
    if target == "local":
        return "local"
    account = os.environ.get(ACCOUNT_ENV, "").strip()
    if not account:
        return None
    if not re.fullmatch(r"[0-9]{12}", account):
        raise ValueError(f"Invalid {ACCOUNT_ENV}={account!r}: an AWS account id is 12 digits.")
    return "aws"


def runs_on_real_aws() -> bool:
    """Whether this session is the system test on a real account (it keeps the caller's credentials)."""
    try:
        return system_test_target() == "aws"
    except ValueError:
        return False
