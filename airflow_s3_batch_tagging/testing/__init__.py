"""A local stand-in for AWS: moto's S3 plus an S3 Batch Operations (S3 Control job API) emulator.

``LocalAWS`` runs both on one loopback endpoint, for tests, demos and manual runs; the pytest
fixtures live in ``airflow_s3_batch_tagging.testing.pytest_plugin`` and the command line in
``python -m airflow_s3_batch_tagging.testing serve``. Importing this package imports neither
Airflow nor moto (moto is imported when a ``LocalAWS`` starts).
"""

from __future__ import annotations

from airflow_s3_batch_tagging.testing.faults import Faults
from airflow_s3_batch_tagging.testing.jobs import Job, JobStore
from airflow_s3_batch_tagging.testing.server import LocalAWS

__all__ = ["Faults", "Job", "JobStore", "LocalAWS"]
