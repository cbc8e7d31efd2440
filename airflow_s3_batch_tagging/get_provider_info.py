"""Provider metadata that Airflow reads through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_s3_batch_tagging import __version__


def get_provider_info() -> dict[str, Any]:
    """Describe the provider: its package, version and the modules Airflow should know about."""
    return {
        "package-name": "airflow-s3-batch-tagging",
        "name": "S3 Batch Tagging",
        "description": (
            # Plain words: `airflow providers list` strips the characters `_<> (RST syntax).
            "Re-tag Amazon S3 objects from Airflow: S3 Batch Operations PutObjectTagging and "
            "DeleteObjectTagging jobs, and direct, mapped PutObjectTagging requests with merge, remove "
            "and undo."
        ),
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Amazon S3 Batch Operations",
                "external-doc-url": "https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops.html",
                "tags": ["aws"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Amazon S3 Batch Operations",
                "python-modules": [
                    "airflow_s3_batch_tagging.hooks.s3_object_tagging",
                    "airflow_s3_batch_tagging.hooks.s3_batch_operations",
                ],
            },
        ],
        "operators": [
            {
                "integration-name": "Amazon S3 Batch Operations",
                "python-modules": [
                    "airflow_s3_batch_tagging.operators.s3_object_tagging",
                    "airflow_s3_batch_tagging.operators.s3_batch_operations",
                    "airflow_s3_batch_tagging.operators.s3_batch_redrive",
                ],
            },
        ],
        "sensors": [
            {
                "integration-name": "Amazon S3 Batch Operations",
                "python-modules": ["airflow_s3_batch_tagging.sensors.s3_batch_operations"],
            },
        ],
        "triggers": [
            {
                "integration-name": "Amazon S3 Batch Operations",
                "python-modules": ["airflow_s3_batch_tagging.triggers.s3_batch_operations"],
            },
        ],
        "extra-links": ["airflow_s3_batch_tagging.links.s3_batch_operations.S3BatchJobLink"],
    }
