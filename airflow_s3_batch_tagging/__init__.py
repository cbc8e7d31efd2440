"""Apache Airflow provider for re-tagging Amazon S3 objects.

Two paths share one core: S3 Batch Operations tagging jobs (``operators.s3_batch_operations``)
and direct, mapped ``put_object_tagging`` (``operators.s3_object_tagging``).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
