"""A local stand-in for AWS: moto's S3 plus an S3 Batch Operations (S3 Control job API) emulator.

``LocalAWS`` runs both on one loopback endpoint, for tests, demos and manual runs; the pytest
fixtures live in ``airflow_s3_batch_tagging.testing.pytest_plugin`` and the command line in
``python -m airflow_s3_batch_tagging.testing serve``. Importing this package imports neither
Airflow, boto3 nor moto: each name below is imported on first use, so the ``pytest11`` plugin that
every pytest run of an image with this provider loads stays free.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_s3_batch_tagging.testing.faults import Faults
    from airflow_s3_batch_tagging.testing.jobs import Job, JobStore
    from airflow_s3_batch_tagging.testing.server import LocalAWS

__all__ = ["Faults", "Job", "JobStore", "LocalAWS"]

_HOMES = {
    "Faults": "airflow_s3_batch_tagging.testing.faults",
    "Job": "airflow_s3_batch_tagging.testing.jobs",
    "JobStore": "airflow_s3_batch_tagging.testing.jobs",
    "LocalAWS": "airflow_s3_batch_tagging.testing.server",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
