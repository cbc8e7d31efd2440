"""Example 5: watch an S3 Batch Operations job created outside Airflow with ``S3BatchJobSensor``.

What it shows:

- The job is created elsewhere (the S3 console, the AWS CLI, a Lambda, another team's pipeline) and
  its id reaches this DAG as the ``job_id`` param, e.g.::

      airflow dags trigger example_s3_batch_job_sensor --conf '{"job_id": "<job id>"}'

- ``S3BatchJobSensor`` waits for it to end, deferred (in the triggerer, no worker slot; ``airflow
  dags test`` runs the trigger in line). It succeeds when the job is ``Complete`` with failed tasks
  within ``max_failed_tasks`` / ``max_failure_ratio`` (AWS calls a job ``Complete`` even when tasks
  failed) and fails on ``Failed``, ``Cancelled`` or too many failed tasks, naming the failure codes.
- ``job_summary`` then reads the job's result with ``S3BatchOperationsHook.job_result``: status,
  task counts and, when tasks failed, failures by error code from the completion report.

Configuration (no code change needed): the ``job_id`` param per run; the account that owns the
job is the ``aws_default`` connection's extra ``account_id``, else STS answers. The environment
variable ``S3_TAGGING_EXAMPLE_POLL_SECONDS`` (default 30) sets how often the job status is checked.

Pointing it at real AWS: only the connection changes: real credentials allowed ``s3:DescribeJob``
(and ``s3:GetObject`` on the job's report prefix, to summarise failures), no ``endpoint_url``. No
role: the job already has its own. Against the local stand-in the connection comes from
``LocalAWS.env()``.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.providers.common.compat.sdk import Param, dag, task

from airflow_s3_batch_tagging.sensors.s3_batch_operations import S3BatchJobSensor

POLL_SECONDS = int(os.environ.get("S3_TAGGING_EXAMPLE_POLL_SECONDS", "30"))

# A retry is safe: the direct path is idempotent per run, and a batch task's retry reattaches to the
# job its earlier try created. See docs/deployment.md, "Running on several workers".
RETRIES = {"retries": 2, "retry_delay": timedelta(minutes=1)}


@dag(
    dag_id="example_s3_batch_job_sensor",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args=RETRIES,
    params={
        "job_id": Param(type="string", minLength=1, description="The S3 Batch Operations job to watch."),
    },
    tags=["example", "s3-batch-tagging", "batch", "sensor"],
    doc_md=__doc__,
)
def example_s3_batch_job_sensor() -> None:
    # [START howto_sensor_s3_batch_job]
    wait = S3BatchJobSensor(
        task_id="wait_for_job",
        job_id="{{ params.job_id }}",
        deferrable=True,
        poke_interval=POLL_SECONDS,
    )
    # [END howto_sensor_s3_batch_job]

    # [START howto_hook_job_result]
    @task
    def job_summary(params: dict[str, Any] | None = None) -> dict[str, Any]:
        """The job's result, as the batch operators return it (``params`` comes from the context)."""
        from airflow_s3_batch_tagging.hooks.s3_batch_operations import S3BatchOperationsHook

        assert params is not None
        result = S3BatchOperationsHook(aws_conn_id="aws_default").job_result(params["job_id"])
        summary = {
            "job_id": result["job_id"],
            "status": result["status"],
            "tasks_total": result["tasks_total"],
            "tasks_succeeded": result["tasks_succeeded"],
            "tasks_failed": result["tasks_failed"],
        }
        print(f"S3 Batch Operations job summary: {summary}")
        return summary

    wait >> job_summary()
    # [END howto_hook_job_result]


example_s3_batch_job_sensor()
