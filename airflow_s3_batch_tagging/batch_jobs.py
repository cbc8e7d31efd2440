"""S3 Batch Operations tagging jobs without I/O: the rules, the request parts and the verdicts.

What the operators check before any request (``BatchJobSpec``), what ``CreateJob`` is sent (report,
operation, manifest generator, job tags, request tokens), how a described job reads (counts, report
location, failure reasons, who cancelled it) and whether a finished job is a success. Plain Python:
the hook in ``hooks/s3_batch_operations.py`` makes the requests.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from airflow_s3_batch_tagging.accounts import validate_account_id, validate_expected_bucket_owner
from airflow_s3_batch_tagging.errors import InvalidTagError, S3TaggingInputError
from airflow_s3_batch_tagging.manifest import CSV_MANIFEST_FORMAT, INVENTORY_MANIFEST_FORMAT
from airflow_s3_batch_tagging.objects import (
    ObjectRef,
    S3Location,
    bucket_from_arn,
    bucket_name_problem,
    parse_bucket_arn,
    split_s3_uri,
    validate_bucket_name,
)
from airflow_s3_batch_tagging.report import (
    REPORT_FORMAT,
    REPORT_SCOPES,
    describe_failed_object,
    describe_failure_codes,
    failures_tolerated,
    intolerable_failures_message,
    validate_failure_tolerance,
)
from airflow_s3_batch_tagging.tags import TaggingMode, TagSet, tag_problem

JOB_SUCCESS_STATES = ("Complete",)
JOB_FAILURE_STATES = ("Failed", "Cancelled")
JOB_INTERMEDIATE_STATES = (
    "New",
    "Preparing",
    "Suspended",
    "Ready",
    "Active",
    "Pausing",
    "Paused",
    "Completing",
    "Cancelling",
    "Failing",
)
JOB_ENDING_STATES = ("Cancelling", "Failing")
"""Statuses that can only lead to ``Cancelled`` or ``Failed``."""
KILL_REASON = "Airflow task was killed"
"""``StatusUpdateReason`` of a job cancelled by ``on_kill``, followed by `` (try N)``."""
_KILL_REASON = re.compile(re.escape(KILL_REASON) + r" \(try (\d+)\)")
JOB_STATUS_QUERIES = [
    "Job.Status",
    "join('', ['succeeded ', to_string(Job.ProgressSummary.NumberOfTasksSucceeded || `0`), "
    "', failed ', to_string(Job.ProgressSummary.NumberOfTasksFailed || `0`), "
    "' of ', to_string(Job.ProgressSummary.TotalNumberOfTasks || `0`)])",
    "Job.StatusUpdateReason",
]
"""JMESPath queries on ``DescribeJob`` that a waiter logs on every poll."""

MAX_PRIORITY = 2_147_483_647
MAX_JOB_TAGS = 50
MAX_DESCRIPTION_LENGTH = 256
MAX_TOKEN_LENGTH = 64

_ROLE_ARN = re.compile(r"arn:[^:]+:iam::[0-9]{12}:role/.+")

ManifestSource = Literal["objects", "manifest", "manifest_generator"]

# -- validators -------------------------------------------------------------------------------------


def validate_role_arn(role_arn: object) -> str:
    """Return ``role_arn`` when it has the form ``arn:<partition>:iam::<12 digits>:role/<name>``."""
    if not isinstance(role_arn, str) or not _ROLE_ARN.fullmatch(role_arn):
        raise S3TaggingInputError(
            f"Invalid role ARN {role_arn!r}: it must look like arn:aws:iam::123456789012:role/NAME."
        )
    return role_arn


def validate_priority(priority: object) -> int:
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= MAX_PRIORITY:
        raise S3TaggingInputError(
            f"Invalid priority {priority!r}: it must be an integer from 0 to {MAX_PRIORITY}."
        )
    return priority


def validate_waiter_settings(waiter_delay: object, waiter_max_attempts: object) -> tuple[int, int]:
    """Return ``(waiter_delay, waiter_max_attempts)`` when the delay is a number of seconds >= 0 and the
    attempts an integer >= 1, else raise naming the value (checked before the job is created)."""
    if isinstance(waiter_delay, bool) or not isinstance(waiter_delay, int) or waiter_delay < 0:
        raise S3TaggingInputError(
            f"Invalid waiter_delay {waiter_delay!r}: it must be a whole number of seconds >= 0."
        )
    if (
        isinstance(waiter_max_attempts, bool)
        or not isinstance(waiter_max_attempts, int)
        or waiter_max_attempts < 1
    ):
        raise S3TaggingInputError(
            f"Invalid waiter_max_attempts {waiter_max_attempts!r}: it must be an integer >= 1."
        )
    return waiter_delay, waiter_max_attempts


# The trigger's own waiter gives up after delay * attempts; the deferral's timeout is the triggerer's
# backstop for a trigger that never fires (as in the Amazon provider's BatchSensor and ECS operators).
DEFER_TIMEOUT_MARGIN = timedelta(seconds=60)


def deferral_timeout(waiter_delay: float, waiter_max_attempts: int) -> timedelta:
    """The ``timeout`` of a deferral whose trigger polls ``waiter_max_attempts`` times, ``waiter_delay``
    seconds apart: that span plus a margin, so that a lost trigger does not wait forever."""
    return timedelta(seconds=waiter_delay * waiter_max_attempts) + DEFER_TIMEOUT_MARGIN


def validate_report_scope(report_scope: object) -> str:
    if report_scope not in REPORT_SCOPES:
        raise S3TaggingInputError(
            f"Invalid report_scope {report_scope!r}: choose one of {', '.join(REPORT_SCOPES)}."
        )
    return str(report_scope)


def validate_description(description: object) -> str | None:
    if description is None:
        return None
    if not isinstance(description, str) or not 1 <= len(description) <= MAX_DESCRIPTION_LENGTH:
        raise S3TaggingInputError(
            f"Invalid description {description!r}: it must be a string of 1 to "
            f"{MAX_DESCRIPTION_LENGTH} characters."
        )
    return description


def validate_client_request_token(token: str) -> str:
    """Return ``token`` when it has 1 to 64 characters (``CreateJob``'s ``ClientRequestToken``)."""
    if not 1 <= len(token) <= MAX_TOKEN_LENGTH:
        raise S3TaggingInputError(
            f"Invalid client request token {token!r}: it must be 1 to {MAX_TOKEN_LENGTH} characters."
        )
    return token


def validate_first_failures(first_failures: object) -> int:
    """Return ``first_failures`` (how many failed objects a result lists) when it is an integer >= 0."""
    if isinstance(first_failures, bool) or not isinstance(first_failures, int) or first_failures < 0:
        raise S3TaggingInputError(f"Invalid first_failures {first_failures!r}: it must be an integer >= 0.")
    return first_failures


def as_int(value: object) -> object:
    """A templated number may arrive as its string; anything else is left for the validator."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


# -- request parts ----------------------------------------------------------------------------------


def job_tags_to_boto(job_tags: Mapping[str, str] | None) -> list[dict[str, str]] | None:
    """Validate job tags (at most 50, S3's tag rules) and return boto3's ``Key``/``Value`` list."""
    if job_tags is None:
        return None
    if not isinstance(job_tags, Mapping):
        raise InvalidTagError(f"Invalid job_tags {job_tags!r}: expected a dict of tag keys to values.")
    if len(job_tags) > MAX_JOB_TAGS:
        raise InvalidTagError(
            f"Invalid job_tags: a job may have at most {MAX_JOB_TAGS} tags, got {len(job_tags)}."
        )
    for key, value in job_tags.items():
        problem = tag_problem(key, value)
        if problem:
            raise InvalidTagError(f"Invalid job tag {key!r}={value!r}: {problem}.")
    return [{"Key": key, "Value": job_tags[key]} for key in sorted(job_tags)]


def job_request_token(dag_id: str, task_id: str, run_id: str, map_index: int | None = None) -> str:
    """The ``ClientRequestToken`` of the job one task instance creates (the same on every try).

    A hash of the DAG id, task id, run id and map index, so a retried task's ``CreateJob`` returns
    the job its first try created instead of starting a second one.
    """
    index = -1 if map_index is None else map_index
    material = "\x1f".join((dag_id, task_id, run_id, str(index))).encode("utf-8")
    return f"airflow-{hashlib.sha256(material).hexdigest()[:48]}"


def successor_request_token(token: str, ended_job_id: str) -> str:
    """The token of the job that replaces ``ended_job_id`` (which ended Failed or Cancelled)."""
    digest = hashlib.sha256(f"{token}\x1f{ended_job_id}".encode()).hexdigest()
    return f"airflow-{digest[:48]}"


def redrive_request_token(token: str, failed_job_id: str) -> str:
    """The token of the job that reruns the failed tasks of ``failed_job_id`` (created with ``token``).

    Derived like ``successor_request_token`` but apart from it, so a retried task's redrive returns the
    redrive job its first try created, and a redrive never collides with a successor job.
    """
    digest = hashlib.sha256(f"redrive\x1f{token}\x1f{failed_job_id}".encode()).hexdigest()
    return f"airflow-{digest[:48]}"


def tagging_from_operation(
    operation: Mapping[str, Any] | None, *, job_id: str
) -> tuple[TaggingMode, TagSet | None]:
    """The tagging mode and tag set of a described job's ``Operation`` (to create a job doing the same).

    Raises ``S3TaggingInputError`` for a job that does not tag (``LambdaInvoke``, ``S3PutObjectCopy``, ...).
    """
    operation = operation or {}
    if "S3PutObjectTagging" in operation:
        tag_list = (operation["S3PutObjectTagging"] or {}).get("TagSet") or []
        return TaggingMode.REPLACE, TagSet.from_boto(tag_list, context=f"the tags of job {job_id}")
    if "S3DeleteObjectTagging" in operation:
        return TaggingMode.DELETE, None
    names = ", ".join(sorted(operation)) or "none"
    raise S3TaggingInputError(
        f"Cannot redrive job {job_id}: its operation ({names}) is not S3PutObjectTagging or "
        "S3DeleteObjectTagging, the operations this provider runs."
    )


def kill_reason(try_number: int | None) -> str:
    """The ``StatusUpdateReason`` of a cancel made when try ``try_number`` of a task was killed."""
    return f"{KILL_REASON} (try {try_number})" if try_number else KILL_REASON


def build_report(
    location: S3Location | None, report_scope: str = "FailedTasksOnly", *, partition: str = "aws"
) -> dict[str, Any]:
    """The ``Report`` argument of ``CreateJob``: off when ``location`` is None.

    :param partition: the AWS partition of the bucket ARN (``aws``, ``aws-cn``, ``aws-us-gov``, ...).
    """
    if location is None:
        return {"Enabled": False}
    validate_report_scope(report_scope)
    report = {
        "Enabled": True,
        "Bucket": location.bucket_arn(partition),
        "Format": REPORT_FORMAT,
        "Prefix": location.prefix.strip("/") or None,
        "ReportScope": report_scope,
    }
    return {name: value for name, value in report.items() if value is not None}


def tagging_operation(mode: TaggingMode | str, tags: TagSet | None) -> dict[str, Any]:
    """The ``Operation`` argument: ``S3PutObjectTagging`` (replace) or ``S3DeleteObjectTagging``."""
    mode = TaggingMode.parse(mode)
    if mode is TaggingMode.REPLACE:
        return {"S3PutObjectTagging": {"TagSet": (tags if tags is not None else TagSet()).to_boto()}}
    if mode is TaggingMode.DELETE:
        return {"S3DeleteObjectTagging": {}}
    raise InvalidTagError(
        f"Invalid tagging mode {mode.value!r} for S3 Batch Operations: a job can only replace tag sets "
        "('replace') or delete them ('delete'); merge and remove need the direct path."
    )


def resolve_manifest_format(key: str, manifest_format: str | None) -> str:
    """The manifest ``Spec.Format`` for ``key``, from ``manifest_format`` or the object's name."""
    aliases = {
        "csv": CSV_MANIFEST_FORMAT,
        "inventory": INVENTORY_MANIFEST_FORMAT,
        CSV_MANIFEST_FORMAT.lower(): CSV_MANIFEST_FORMAT,
        INVENTORY_MANIFEST_FORMAT.lower(): INVENTORY_MANIFEST_FORMAT,
    }
    if manifest_format is None:
        return INVENTORY_MANIFEST_FORMAT if key.rsplit("/", 1)[-1] == "manifest.json" else CSV_MANIFEST_FORMAT
    try:
        return aliases[str(manifest_format).lower()]
    except KeyError:
        raise S3TaggingInputError(
            f"Invalid manifest_format {manifest_format!r}: choose 'csv', 'inventory', "
            f"{CSV_MANIFEST_FORMAT!r} or {INVENTORY_MANIFEST_FORMAT!r}."
        ) from None


@dataclass(frozen=True)
class ManifestGeneratorSpec:
    """A checked ``S3JobManifestGenerator``: its source bucket and its other members as given.

    A source given as a name or ``s3://`` URI takes the connection's partition when the request is
    built (``to_boto``); a source given as an ARN keeps its own.
    """

    source_bucket: str
    source_arn: str | None
    members: Mapping[str, Any]

    @classmethod
    def parse(
        cls, generator: Mapping[str, Any] | None, *, expected_bucket_owner: str | None = None
    ) -> ManifestGeneratorSpec:
        """Check an ``S3JobManifestGenerator`` dict (or one wrapped in ``{"S3JobManifestGenerator": ...}``).

        ``SourceBucket`` may be a bucket name, ``s3://bucket`` or a bucket ARN; ``EnableManifestOutput``
        defaults to False; ``ExpectedBucketOwner`` (of the source bucket) to ``expected_bucket_owner``.
        """
        if not isinstance(generator, Mapping):
            raise S3TaggingInputError(f"Invalid manifest_generator {generator!r}: expected a dict.")
        inner = dict(generator.get("S3JobManifestGenerator", generator))
        source = inner.pop("SourceBucket", None)
        if not isinstance(source, str) or not source:
            raise S3TaggingInputError(
                f"Invalid manifest_generator {dict(generator)!r}: "
                "it needs SourceBucket (a bucket name or ARN)."
            )
        source_arn = None
        if source.startswith("s3://"):
            bucket, _ = split_s3_uri(source, what="manifest_generator SourceBucket")
        elif not source.startswith("arn:"):
            bucket = validate_bucket_name(source)
        else:
            partition, bucket = parse_bucket_arn(source) or ("", "")
            if not partition or ":" in partition or bucket_name_problem(bucket):
                raise S3TaggingInputError(
                    f"Invalid manifest_generator SourceBucket {source!r}: a bucket ARN looks like "
                    f"arn:aws:s3:::BUCKET with a valid bucket name "
                    f"({bucket_name_problem(bucket) or 'bad ARN'})."
                )
            source_arn = source
        inner.setdefault("EnableManifestOutput", False)
        if expected_bucket_owner and "ExpectedBucketOwner" not in inner:
            inner["ExpectedBucketOwner"] = expected_bucket_owner
        return cls(source_bucket=bucket, source_arn=source_arn, members=inner)

    def to_boto(self, partition: str = "aws") -> dict[str, Any]:
        """The ``ManifestGenerator`` argument of ``CreateJob``, its bucket ARN in ``partition``."""
        source = self.source_arn or f"arn:{partition}:s3:::{self.source_bucket}"
        return {"S3JobManifestGenerator": {"SourceBucket": source, **self.members}}


# -- the operators' inputs, checked once --------------------------------------------------------------


@dataclass(frozen=True)
class BatchJobSpec:
    """Everything a batch tagging operator was given, checked before any request (``parse``).

    The bucket ARNs of the report and the manifest generator depend on the connection's partition,
    known only once the hook is built: ``report`` and ``manifest_generator_request`` take it.
    """

    source: ManifestSource
    tags: TagSet | None
    role_arn: str
    priority: int
    report_location: S3Location | None
    """Where the completion report goes; None when the job writes none."""
    report_scope: str
    refs: tuple[ObjectRef, ...] = ()
    manifest_location: S3Location | None = None
    manifest_generator: ManifestGeneratorSpec | None = None

    @classmethod
    def parse(
        cls,
        *,
        tags: TagSet | None,
        role_arn: object,
        objects: Iterable[Any] | None,
        bucket: str | None,
        manifest: str | None,
        manifest_format: str | None,
        manifest_generator: Mapping[str, Any] | None,
        manifest_location: str | None,
        account_id: object,
        priority: object,
        description: object,
        job_tags: Mapping[str, str] | None,
        report_location: str | None,
        report_enabled: bool,
        report_scope: object,
        waiter_delay: object,
        waiter_max_attempts: object,
        max_failed_tasks: object,
        max_failure_ratio: object,
        first_failures: object,
        expected_bucket_owner: object,
    ) -> BatchJobSpec:
        """Check every argument of a batch tagging operator; raise naming the first bad one."""
        sources = [
            name
            for name, value in (
                ("objects", objects),
                ("manifest", manifest),
                ("manifest_generator", manifest_generator),
            )
            if value is not None
        ]
        if len(sources) != 1:
            raise S3TaggingInputError(
                f"Give exactly one manifest source of objects, manifest and manifest_generator; "
                f"got {', '.join(sources) if sources else 'none'}."
            )
        role = validate_role_arn(role_arn)
        if account_id is not None:
            validate_account_id(account_id)
        validate_expected_bucket_owner(expected_bucket_owner)
        checked_priority = validate_priority(as_int(priority))
        validate_description(description)
        job_tags_to_boto(job_tags)
        scope = validate_report_scope(report_scope)
        validate_waiter_settings(as_int(waiter_delay), as_int(waiter_max_attempts))
        validate_failure_tolerance(max_failed_tasks, max_failure_ratio)
        validate_first_failures(first_failures)
        manifest_prefix = None
        if manifest_location is not None:
            manifest_prefix = S3Location.from_uri(manifest_location, what="manifest_location")
        refs: tuple[ObjectRef, ...] = ()
        generator = None
        if objects is not None:
            if manifest_prefix is None:
                raise S3TaggingInputError(
                    "objects needs manifest_location: "
                    "the s3:// prefix the operator writes its CSV manifest under."
                )
            if isinstance(objects, str | bytes | Mapping) or not isinstance(objects, Iterable):
                raise S3TaggingInputError(
                    f"Invalid objects {objects!r:.100}: expected a list of s3:// URIs, keys (with "
                    "bucket=) or dicts with bucket, key and optional version_id."
                )
            refs = tuple(ObjectRef.parse(item, default_bucket=bucket) for item in objects)
            if not refs:
                raise S3TaggingInputError(
                    "objects is empty: an S3 Batch Operations job needs at least one object. Skip this "
                    "task upstream (for example with a ShortCircuitOperator) when there is nothing to tag."
                )
        elif manifest is not None:
            _, key = split_s3_uri(manifest, what="manifest")
            resolve_manifest_format(key, manifest_format)
        else:
            owner = expected_bucket_owner if isinstance(expected_bucket_owner, str) else None
            generator = ManifestGeneratorSpec.parse(manifest_generator, expected_bucket_owner=owner)
        report_prefix = None
        if report_location is not None:
            report_prefix = S3Location.from_uri(report_location, what="report_location")
        if report_enabled and report_prefix is None:
            if manifest_prefix is None:
                raise S3TaggingInputError(
                    "Set report_location (an s3:// prefix) for the job's completion report, "
                    "or report_enabled=False to run the job without one."
                )
            report_prefix = S3Location(manifest_prefix.bucket, manifest_prefix.join("reports"))
        return cls(
            source=sources[0],  # type: ignore[arg-type]  # one of the three names above
            tags=tags,
            role_arn=role,
            priority=checked_priority,
            report_location=report_prefix if report_enabled else None,
            report_scope=scope,
            refs=refs,
            manifest_location=manifest_prefix if objects is not None else None,
            manifest_generator=generator,
        )

    def report(self, partition: str = "aws") -> dict[str, Any]:
        """The ``Report`` argument of ``CreateJob``, its bucket ARN in ``partition``."""
        return build_report(self.report_location, self.report_scope, partition=partition)

    def manifest_generator_request(self, partition: str = "aws") -> dict[str, Any] | None:
        """The ``ManifestGenerator`` argument of ``CreateJob``, or None when the job has a manifest."""
        return None if self.manifest_generator is None else self.manifest_generator.to_boto(partition)


# -- described jobs and verdicts --------------------------------------------------------------------


def killed_by_earlier_try(job: Mapping[str, Any], try_number: int) -> int | None:
    """The try whose kill cancelled ``job``, when that try came before ``try_number``; else None.

    Clearing a deferred task kills its try: the trigger's ``on_kill`` cancels the job moments after
    the new try may have reattached to it. A live try never sees its own kill, so a job cancelled by
    an earlier try's kill is no verdict on this try: it starts the successor job instead.
    """
    if job.get("Status") not in ("Cancelling", "Cancelled"):
        return None
    match = _KILL_REASON.fullmatch(str(job.get("StatusUpdateReason") or ""))
    if match is None or int(match.group(1)) >= try_number:
        return None
    return int(match.group(1))


def job_failure_reasons(job: Mapping[str, Any]) -> str:
    """AWS's reasons why a job failed or was cancelled, as one line."""
    reasons = [
        f"{item.get('FailureCode', '?')}: {item.get('FailureReason', '')}".strip()
        for item in job.get("FailureReasons") or []
    ]
    if job.get("StatusUpdateReason"):
        reasons.append(f"status update reason: {job['StatusUpdateReason']}")
    return "; ".join(reasons) or "AWS gave no reason"


def job_report_location(job: Mapping[str, Any]) -> S3Location | None:
    """Where a described job writes its completion report (bucket and prefix), or None when it writes none."""
    report = job.get("Report") or {}
    if not report.get("Enabled") or not report.get("Bucket"):
        return None
    return S3Location(bucket_from_arn(report["Bucket"]), report.get("Prefix") or "")


def job_counts(job: Mapping[str, Any]) -> dict[str, int]:
    """Task counts of a described job: ``tasks_total``, ``tasks_succeeded``, ``tasks_failed``."""
    progress = job.get("ProgressSummary") or {}
    return {
        "tasks_total": int(progress.get("TotalNumberOfTasks") or 0),
        "tasks_succeeded": int(progress.get("NumberOfTasksSucceeded") or 0),
        "tasks_failed": int(progress.get("NumberOfTasksFailed") or 0),
    }


def job_result_log_args(result: Mapping[str, Any]) -> tuple[Any, ...]:
    """``log.info`` arguments of the line that says how a job (a ``job_result``) ended."""
    return (
        "S3 Batch Operations job %s is %s: %s of %s tasks succeeded, %s failed",
        result["job_id"],
        result["status"],
        result["tasks_succeeded"],
        result["tasks_total"],
        result["tasks_failed"],
    )


def job_result_problem(
    result: Mapping[str, Any], *, max_failed_tasks: int, max_failure_ratio: float
) -> str | None:
    """
    Why a finished job's ``result`` (from the hook's ``job_result``) is no success; None when it is one.

    ``Failed`` and ``Cancelled`` jobs fail with AWS's reasons. A ``Complete`` job whose failed tasks
    exceed the tolerance (see ``failures_tolerated``) fails with the failure codes and first objects.
    """
    job_id, status = result["job_id"], result["status"]
    failed, total = result["tasks_failed"], result["tasks_total"]
    summary = result.get("report_summary") or {}
    codes = _describe_codes(summary)
    where = f" Report: {result['report_location']}" if result.get("report_location") else ""
    if status in JOB_FAILURE_STATES:
        return (
            f"S3 Batch Operations job {job_id} ended {status}: {result.get('failure_reasons')}. "
            f"{failed} of {total} tasks failed{codes}.{where}"
        )
    if status not in JOB_SUCCESS_STATES:
        return f"S3 Batch Operations job {job_id} has not finished: its status is {status}."
    if failures_tolerated(
        failed, total, max_failed_tasks=max_failed_tasks, max_failure_ratio=max_failure_ratio
    ):
        return None
    first = [
        describe_failed_object(
            f"s3://{item['bucket']}/{item['key']}"
            + (f" (version {item['version_id']})" if item.get("version_id") else ""),
            item.get("error_code"),
            item.get("message"),
        )
        for item in summary.get("first_failures") or []
    ]
    return (
        f"S3 Batch Operations job {job_id} is Complete but "
        + intolerable_failures_message(
            failed,
            total,
            unit="tasks",
            tolerance={"max_failed_tasks": max_failed_tasks, "max_failure_ratio": max_failure_ratio},
            failures_by_code=summary.get("failures_by_code") or {},
            first_failures=first,
        )
        + where
    )


def _describe_codes(summary: Mapping[str, Any]) -> str:
    by_code = summary.get("failures_by_code") or {}
    return "; failures by error code: " + describe_failure_codes(by_code) if by_code else ""
