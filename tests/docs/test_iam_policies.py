"""The IAM policies the docs pages include (docs/iam/*.json) against AWS's own examples.

AWS's policies (``corpus/``, each with a ``.source`` naming the S3 User Guide page) are the oracle:
every statement of AWS's example for a job role must be granted by one statement of ours, so a
missing action (the README's role policy once lacked ``s3:GetBucketLocation``) fails here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.docs.docs_site import DOCS

IAM = DOCS / "iam"
CORPUS = Path(__file__).resolve().parent / "corpus"


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def missing_statements(ours: dict[str, Any], theirs: dict[str, Any]) -> list[set[str]]:
    """The actions of each of ``theirs``' statements that no single statement of ``ours`` grants."""
    missing = []
    for statement in theirs["Statement"]:
        wanted = _actions(statement)
        if not any(wanted <= _actions(own) for own in ours["Statement"] if own["Effect"] == "Allow"):
            missing.append(wanted)
    return missing


@pytest.mark.parametrize("path", sorted(IAM.glob("*.json")), ids=lambda path: path.name)
def test_docs_policies_are_valid_iam_documents(path: Path) -> None:
    policy = _load(path)
    assert policy["Version"] == "2012-10-17"
    assert policy["Statement"]
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert _actions(statement)
        assert ("Resource" in statement) != ("Principal" in statement)


def test_every_corpus_policy_names_its_source() -> None:
    policies = sorted(CORPUS.glob("*.json"))
    assert len(policies) == 3
    for path in policies:
        source = path.with_name(path.name + ".source").read_text()
        assert "url: https://docs.aws.amazon.com/" in source, path.name


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("batch-job-role-put-tagging-policy.json", "aws-userguide-put-object-tagging-role-policy.json"),
        ("batch-job-role-delete-tagging-policy.json", "aws-userguide-delete-object-tagging-role-policy.json"),
    ],
)
def test_job_role_grants_everything_aws_example_grants(ours: str, theirs: str) -> None:
    assert missing_statements(_load(IAM / ours), _load(CORPUS / theirs)) == []


def test_job_role_trusts_batch_operations_as_aws_example_does() -> None:
    ours = _load(IAM / "batch-job-role-trust-policy.json")["Statement"]
    theirs = _load(CORPUS / "aws-userguide-trust-policy.json")["Statement"]
    assert ours == theirs


def test_a_role_policy_without_get_bucket_location_is_caught() -> None:
    """The check can disagree: the role policy the README carried before is reported."""
    readme_policy = {
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:PutObjectTagging", "s3:PutObjectVersionTagging"]},
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"]},
            {"Effect": "Allow", "Action": ["s3:PutObject"]},
        ]
    }
    theirs = _load(CORPUS / "aws-userguide-put-object-tagging-role-policy.json")
    assert missing_statements(readme_policy, theirs) == [
        {"s3:GetObject", "s3:GetObjectVersion", "s3:GetBucketLocation"},
        {"s3:PutObject", "s3:GetBucketLocation"},
    ]


def test_caller_policy_can_create_jobs_and_pass_the_role() -> None:
    """AWS: creating a job needs s3:CreateJob and iam:PassRole on the job's role."""
    caller = _load(IAM / "batch-caller-policy.json")
    granted = set().union(*(_actions(statement) for statement in caller["Statement"]))
    assert {"s3:CreateJob", "iam:PassRole", "s3:DescribeJob", "s3:UpdateJobStatus"} <= granted
