"""Bad redrive settings fail before any request, naming the problem."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from airflow_s3_batch_tagging.errors import S3TaggingInputError
from airflow_s3_batch_tagging.operators.s3_batch_operations import S3BatchPutObjectTaggingOperator
from airflow_s3_batch_tagging.operators.s3_batch_redrive import S3BatchRedriveFailedTasksOperator

ROLE = "arn:aws:iam::123456789012:role/batch"


def _context() -> dict[str, Any]:
    return {"ti": SimpleNamespace(dag_id="d", task_id="t", run_id="r", map_index=-1, try_number=1)}


class _NoRequests:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a request was made: {name}")


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"report_enabled": False}, "needs the job's completion report"),
        ({"wait_for_completion": False}, "needs wait_for_completion=True"),
        ({"retryable_error_codes": "SlowDown"}, "Invalid retryable_error_codes"),
        ({"redrive_failed_tasks": -1}, "Invalid redrive_failed_tasks"),
    ],
)
def test_batch_operator_refuses_bad_redrive_settings_before_any_request(
    settings: dict[str, Any], problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator = S3BatchPutObjectTaggingOperator(
        task_id="t",
        tags={"a": "b"},
        role_arn=ROLE,
        objects=["s3://bucket-a/k"],
        manifest_location="s3://bucket-a/m/",
        **{"redrive_failed_tasks": 1, **settings},
    )
    monkeypatch.setattr(S3BatchPutObjectTaggingOperator, "hook", _NoRequests())
    with pytest.raises(S3TaggingInputError, match=problem):
        operator.execute(_context())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"manifest_location": "bucket/no-scheme"}, "manifest_location"),
        ({"role_arn": "not-a-role"}, "Invalid role ARN"),
        ({"retryable_error_codes": []}, "retryable_error_codes is empty"),
        ({"priority": -3}, "Invalid priority"),
    ],
)
def test_redrive_operator_refuses_bad_input_before_any_request(
    settings: dict[str, Any], problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator = S3BatchRedriveFailedTasksOperator(task_id="t", job_id="job-1", **settings)
    monkeypatch.setattr(S3BatchRedriveFailedTasksOperator, "hook", _NoRequests())
    with pytest.raises(S3TaggingInputError, match=problem):
        operator.execute(_context())  # type: ignore[arg-type]
