"""Example 1: an upstream task chooses the objects, an S3 Batch Operations job tags them, a
downstream task reads the job's summary.

What it shows:

- ``list_objects_to_tag`` stands for any query that yields the objects to tag (here: a listing of
  ``params.prefix`` filtered by suffix). It returns plain keys; the batch operator writes them as a
  CSV manifest under ``s3://<ops bucket>/batch-tagging/`` and creates one ``S3PutObjectTagging`` job.
- The job replaces every listed object's tag set with ``tags`` (Batch Operations cannot merge: use
  the direct path, example 2, for that). ``retagged_on`` is the run day (``RUN_DAY``: the logical
  date, or the trigger time of a run triggered without one).
- ``deferrable=True``: while the job runs, the task waits in the triggerer, not in a worker slot.
  ``airflow dags test`` and ``dag.test()`` run the trigger in line (Airflow 3), so this DAG works
  unchanged there.
- ``summarize_job`` receives the operator's result (job id, status, task counts, failures by code)
  through XCom; it skips when there is none (the task was marked success by hand, which cancels
  the job). A retried task reattaches to the job its first try created instead of making a
  second one.

Configuration (no code change needed): Airflow Variables ``s3_tagging_data_bucket`` (the objects),
``s3_tagging_ops_bucket`` (manifests and completion reports) and ``s3_tagging_role_arn`` (the role
S3 Batch Operations assumes); DAG params ``prefix`` and ``suffix`` per run. The environment variable
``S3_TAGGING_EXAMPLE_POLL_SECONDS`` (default 30) sets how often the job status is checked.

Pointing it at real AWS: only the connection and the role change. Give the ``aws_default``
connection real credentials (no ``endpoint_url``; optionally ``account_id`` in its extra, else STS
answers), and set ``s3_tagging_role_arn`` to a role that trusts ``batchoperations.s3.amazonaws.com``
(see docs/batch-path.md, "IAM"). Against the local stand-in the connection comes from
``LocalAWS.env()`` and any role ARN of the valid form works.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.providers.common.compat.sdk import AirflowSkipException, Param, dag, task

from airflow_s3_batch_tagging.operators.s3_batch_operations import S3BatchPutObjectTaggingOperator

DATA_BUCKET = "{{ var.value.get('s3_tagging_data_bucket', 'my-data') }}"
OPS_BUCKET = "{{ var.value.get('s3_tagging_ops_bucket', 'my-ops-bucket') }}"
# The run's day (YYYY-MM-DD): its logical date or, for a run triggered without one (the default of
# Airflow 3's Trigger button, `airflow dags trigger` and the REST API), the time it was triggered.
# `{{ ds }}` is undefined in such a run and fails the task.
RUN_DAY = "{{ (dag_run.logical_date or dag_run.run_after) | ds }}"
ROLE_ARN = "{{ var.value.get('s3_tagging_role_arn', 'arn:aws:iam::123456789012:role/s3-batch-tagging') }}"
POLL_SECONDS = int(os.environ.get("S3_TAGGING_EXAMPLE_POLL_SECONDS", "30"))

# A retry is safe: the direct path is idempotent per run, and a batch task's retry reattaches to the
# job its earlier try created. See docs/deployment.md, "Running on several workers".
RETRIES = {"retries": 2, "retry_delay": timedelta(minutes=1)}


@dag(
    dag_id="example_s3_batch_tagging_from_upstream",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args=RETRIES,
    params={
        "prefix": Param("exports/", type="string", description="Key prefix to list."),
        "suffix": Param(".parquet", type="string", description="Only keys ending with this."),
    },
    tags=["example", "s3-batch-tagging", "batch"],
    doc_md=__doc__,
)
def example_s3_batch_tagging_from_upstream() -> None:
    # [START howto_operator_s3_batch_put_object_tagging]
    @task
    def list_objects_to_tag(bucket: str, prefix: str, suffix: str) -> list[str]:
        """The objects to tag: any query works; here, a listing filtered by suffix."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        keys = S3Hook(aws_conn_id="aws_default").list_keys(bucket_name=bucket, prefix=prefix)
        return [key for key in keys if key.endswith(suffix)]

    objects = list_objects_to_tag(
        bucket=DATA_BUCKET, prefix="{{ params.prefix }}", suffix="{{ params.suffix }}"
    )

    retag = S3BatchPutObjectTaggingOperator(
        task_id="retag_with_batch_job",
        objects=objects,
        bucket=DATA_BUCKET,
        tags={"tier": "cold", "retagged_on": RUN_DAY},
        role_arn=ROLE_ARN,
        manifest_location=f"s3://{OPS_BUCKET}/batch-tagging/",
        description=f"example_s3_batch_tagging_from_upstream {RUN_DAY}",
        deferrable=True,
        waiter_delay=POLL_SECONDS,
    )
    # [END howto_operator_s3_batch_put_object_tagging]

    # [START howto_batch_job_result]
    @task
    def summarize_job(result: dict[str, Any] | None) -> dict[str, Any]:
        """Read the job's result from XCom; a real DAG might alert or publish it here."""
        if result is None:
            # A task marked success by hand returns nothing (and its job was cancelled).
            raise AirflowSkipException(
                "retag_with_batch_job left no result: it was marked success by hand, which cancels its "
                "S3 Batch Operations job (cancel_on_kill); see its log and console link for the job."
            )
        summary = {
            "job_id": result["job_id"],
            "status": result["status"],
            "tasks_total": result["tasks_total"],
            "tasks_succeeded": result["tasks_succeeded"],
            "tasks_failed": result["tasks_failed"],
            "failures_by_code": (result.get("report_summary") or {}).get("failures_by_code") or {},
        }
        print(f"S3 Batch Operations job summary: {summary}")
        return summary

    job_result: Any = retag.output
    summarize_job(job_result)
    # [END howto_batch_job_result]


example_s3_batch_tagging_from_upstream()
