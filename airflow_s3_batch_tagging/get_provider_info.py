"""Provider metadata that Airflow reads through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, metadata
from typing import Any

from airflow_s3_batch_tagging import __version__

PACKAGE_NAME = "airflow-s3-batch-tagging"
# The how-to guides, as docs pages of this repository (the Amazon provider's form: paths from /docs/).
HOW_TO_GUIDES = [
    "/docs/choosing-a-path.md",
    "/docs/direct-path.md",
    "/docs/batch-path.md",
    "/docs/testing.md",
]


def documentation_url() -> str | None:
    """The ``Documentation`` URL of the package's metadata (pyproject's ``project.urls``, its one home).

    Airflow reads the same entry for the providers list of its UI and REST API.
    """
    try:
        urls = metadata(PACKAGE_NAME).get_all("Project-URL") or []
    except PackageNotFoundError:
        return None
    for entry in urls:
        name, _, url = entry.partition(",")
        if name.strip().lower() == "documentation":
            return url.strip()
    return None


def get_provider_info() -> dict[str, Any]:
    """Describe the provider: its package, version and the modules Airflow should know about."""
    return {
        "package-name": PACKAGE_NAME,
        "name": "S3 Batch Tagging",
        "description": (
            # Plain words: `airflow providers list` strips the characters `_<> (RST syntax).
            "Re-tag Amazon S3 objects from Airflow: S3 Batch Operations PutObjectTagging and "
            "DeleteObjectTagging jobs, and direct, mapped PutObjectTagging requests with merge, remove "
            "and undo."
        ),
        "versions": [__version__],
        "docs-url": documentation_url(),
        "integrations": [
            {
                "integration-name": "Amazon S3 Batch Operations",
                "external-doc-url": "https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops.html",
                "how-to-guide": HOW_TO_GUIDES,
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
                    "airflow_s3_batch_tagging.operators.tagging_plan",
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
