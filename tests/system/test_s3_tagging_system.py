"""System test: both tagging paths end to end, on a real AWS account or on the local stand-in.

The same DAG, the same boto3 calls, on either target (``tests/system/target.py``):

- setup: check the credentials' account, create a versioned data bucket and an ops bucket (names
  carry the run's environment id), write objects with hostile keys (spaces, ``+``, ``%``, ``=``,
  ``&``, ``?``, ``#``, accents, CJK, emoji, leading ``/``, ``//``, keys that look URL-encoded,
  1,024-byte keys), each in two versions, and create the IAM role S3 Batch Operations assumes;
- batch path: ``S3BatchPutObjectTaggingOperator`` tags the *older* version of every object from an
  upstream list (the operator writes the manifest, with version ids), plus a few versions deleted
  beforehand, which fail with a 404 and must come back named exactly in the completion report;
- direct path: ``plan_tagging_batches`` over a CSV manifest written here, ``S3PutObjectTaggingOperator``
  mapped over the batches merges tags into the *latest* version of every object, with an undo log;
  ``S3RestoreObjectTaggingOperator`` then puts the previous tags back from that log;
- checks, each reading S3 with a plain boto3 client and comparing with the constants below: every
  version's tags, the listing, the batch operator's result and the completion report (read again
  here, without the product's reader), the direct results and the undo log;
- teardown (``ALL_DONE``, so it runs after a failure too): cancel any job of this run still running,
  delete every object version and both buckets, delete the role and its policy. ``watcher`` fails
  the run when any task failed, so a successful teardown cannot hide a failed check.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import time
from collections import Counter
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote, unquote_plus, urlencode

from airflow.exceptions import AirflowException
from airflow.providers.common.compat.sdk import DAG, TriggerRule, chain, task

from airflow_s3_batch_tagging.operators.s3_batch_operations import S3BatchPutObjectTaggingOperator
from airflow_s3_batch_tagging.operators.s3_object_tagging import (
    S3PutObjectTaggingOperator,
    S3RestoreObjectTaggingOperator,
    plan_tagging_batches,
)
from tests.system.target import ACCOUNT_ENV, system_test_target
from tests.system.utils import (
    AWS_CONN_ID,
    ENV_ID_KEY,
    TARGET_KEY,
    SystemTestContextBuilder,
    aws_client,
    get_test_run,
    watcher,
)

DAG_ID = "system_test_s3_tagging"
CREATED_ROLE_KEY = "created_role"
log = logging.getLogger(__name__)

ON_AWS = system_test_target() == "aws"
# A real job prepares for a minute or more; the stand-in's finish in milliseconds.
POLL_SECONDS = 15 if ON_AWS else 1
POLL_ATTEMPTS = 240  # an hour at 15 s
# IAM is eventually consistent: a new role may not be usable by S3 Batch Operations for some seconds.
IAM_PROPAGATION_SECONDS = 15 if ON_AWS else 0
DIRECT_BATCH_SIZE = 10

# Keys S3 stores as given and both paths must tag exactly. Some turn into another key of the set when
# read the wrong way (a%2Bb into a+b, a%20b and a+b into a b), so a manifest or report decoded wrongly
# names a wrong object, which the checks see, not just a missing one.
_LONG_ASCII = "long/" + "k" * 1019  # 1,024 bytes, S3's limit
_LONG_UNICODE = "long-utf8/" + "é" * 507  # 1,024 bytes of UTF-8 in 517 characters
HOSTILE_KEYS: tuple[str, ...] = (
    "plain/object.csv",
    "space in/the key.csv",
    "ends with a space ",
    "plus+sign/a+b.csv",
    "percent/100%.csv",
    "percent/%25.csv",
    "equals/dt=2026-03-01/part=1.csv",
    "ampersand/a&b.csv",
    "question/why?.csv",
    "hash/#1.csv",
    "csv,comma;semicolon.csv",
    "quotes/\"double\" and 'single'.csv",
    "accents/café-naïve-Ærøskøbing.csv",
    "cjk/日本語のキー/数据.csv",
    "emoji/🎉-🚀.csv",
    "/leading-slash.csv",
    "//two-leading-slashes.csv",
    "double//slash/inside.csv",
    "looks-encoded/a%2Bb.csv",
    "looks-encoded/a+b.csv",
    "looks-encoded/a%20b.csv",
    "looks-encoded/a b.csv",
    "tilde~star*parens()!.csv",
    _LONG_ASCII,
    _LONG_UNICODE,
)
# Keys whose manifest line for the batch job names a version deleted beforehand: those tasks fail
# (404) and the completion report must name them exactly.
MISSING_VERSION_KEYS: tuple[str, ...] = (
    "space in/the key.csv",
    "plus+sign/a+b.csv",
    "looks-encoded/a%2Bb.csv",
    "emoji/🎉-🚀.csv",
    "/leading-slash.csv",
    "csv,comma;semicolon.csv",
)
MISSING_VERSION_CODES = {"NoSuchVersion", "NoSuchKey"}

OLDER_TAGS = {"owner": "system-test", "version": "older"}
LATEST_TAGS = {"owner": "system-test", "version": "latest", "kept": "merge keeps this"}
# S3's tag characters: letters, numbers, spaces and _ . : / = + - @ (AWS_FACTS.md).
BATCH_TAGS = {"tagged-by": "batch job", "note": "Ærø 日本 a+b=c/d:e@f_g.h-i", "clé": "valeur"}
DIRECT_TAGS = {"classification": "internal", "reviewed_on": "{{ ds }}"}

TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "batchoperations.s3.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def role_policy(data_bucket: str, ops_bucket: str) -> dict[str, Any]:
    """The job role's permissions: AWS's "PUT object tagging" example policy for these two buckets
    (S3 user guide, "Granting permissions for Batch Operations"; awsdocs/amazon-s3-developer-guide,
    ``batch-ops-iam-role-policies.md``), with the manifest and report prefixes this DAG uses."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:PutObjectTagging", "s3:PutObjectVersionTagging"],
                "Resource": f"arn:aws:s3:::{data_bucket}/*",
            },
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:GetBucketLocation"],
                "Resource": [f"arn:aws:s3:::{ops_bucket}", f"arn:aws:s3:::{ops_bucket}/batch-tagging/*"],
            },
            {
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:GetBucketLocation"],
                "Resource": [
                    f"arn:aws:s3:::{ops_bucket}",
                    f"arn:aws:s3:::{ops_bucket}/batch-tagging/reports/*",
                ],
            },
        ],
    }


def _tagging(tags: dict[str, str]) -> str:
    """The ``Tagging`` header of PutObject: query-encoded, a space as ``%20`` (not ``+``, which a
    strict reader would keep as a plus)."""
    return urlencode(tags, quote_via=quote)


def _tags(s3: Any, bucket: str, key: str, version_id: str) -> dict[str, str]:
    response = s3.get_object_tagging(Bucket=bucket, Key=key, VersionId=version_id)
    return {tag["Key"]: tag["Value"] for tag in response["TagSet"]}


def _read(s3: Any, bucket: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def _fail_if(problems: list[str], what: str) -> None:
    if problems:
        shown = "\n  ".join(problems[:30])
        more = f"\n  ... and {len(problems) - 30} more" if len(problems) > 30 else ""
        raise AirflowException(f"{what}: {len(problems)} problem(s):\n  {shown}{more}")


# -- setup ---------------------------------------------------------------------------------------------


@task
def verify_account(target: str) -> str:
    """The account the credentials act in; on AWS it must be the one the caller named."""
    account = aws_client("sts").get_caller_identity()["Account"]
    if target == "aws" and account != os.environ.get(ACCOUNT_ENV):
        raise AirflowException(
            f"The credentials belong to account {account}, not {ACCOUNT_ENV}={os.environ.get(ACCOUNT_ENV)}: "
            "nothing was created."
        )
    log.info("Running in account %s (%s)", account, target)
    return account


@task
def create_test_bucket(bucket: str) -> str:
    """Create a bucket that did not exist: teardown deletes only what this task returned."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook = S3Hook(aws_conn_id=AWS_CONN_ID)
    if hook.check_for_bucket(bucket):
        raise AirflowException(
            f"Bucket {bucket} already exists: it is not this run's and stays untouched. "
            "Choose another SYSTEM_TESTS_ENV_ID."
        )
    hook.create_bucket(bucket_name=bucket)
    log.info("Created bucket %s in %s", bucket, hook.conn_region_name)
    return bucket


@task
def enable_versioning(bucket: str) -> None:
    aws_client("s3").put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


@task
def create_batch_role(role_name: str, data_bucket: str, ops_bucket: str, **context: Any) -> str:
    """Create the role S3 Batch Operations assumes and wait until IAM knows it.

    The role's name goes to XCom (``created_role``) as soon as it exists, so teardown deletes it even
    when a later step here fails, and never deletes a role of that name this run did not create.
    """
    iam = aws_client("iam")
    role = iam.create_role(
        RoleName=role_name,
        AssumeRolePolicyDocument=json.dumps(TRUST_POLICY),
        Description="airflow-s3-batch-tagging system test; deleted by the test's teardown",
    )["Role"]
    context["ti"].xcom_push(key=CREATED_ROLE_KEY, value=role_name)
    iam.put_role_policy(
        RoleName=role_name,
        PolicyName="s3-batch-tagging",
        PolicyDocument=json.dumps(role_policy(data_bucket, ops_bucket)),
    )
    iam.get_waiter("role_exists").wait(RoleName=role_name)
    if IAM_PROPAGATION_SECONDS:
        # No API tells when S3 Batch Operations can assume a new role: wait as AWS's guides do.
        log.info("Waiting %s s for IAM to propagate role %s", IAM_PROPAGATION_SECONDS, role["Arn"])
        time.sleep(IAM_PROPAGATION_SECONDS)
    return role["Arn"]


@task
def put_hostile_objects(bucket: str) -> dict[str, Any]:
    """Two versions of every hostile key (older and latest, tagged differently), plus a third, oldest
    version of some keys, deleted again: the batch job is given those version ids and must fail them."""
    s3 = aws_client("s3")
    objects, missing = [], []
    for key in HOSTILE_KEYS:
        doomed = None
        if key in MISSING_VERSION_KEYS:
            doomed = s3.put_object(Bucket=bucket, Key=key, Body=b"deleted")["VersionId"]
        older = s3.put_object(Bucket=bucket, Key=key, Body=b"older", Tagging=_tagging(OLDER_TAGS))
        latest = s3.put_object(Bucket=bucket, Key=key, Body=b"latest", Tagging=_tagging(LATEST_TAGS))
        if doomed is not None:
            s3.delete_object(Bucket=bucket, Key=key, VersionId=doomed)
            missing.append({"key": key, "version_id": doomed})
        objects.append({"key": key, "older": older["VersionId"], "latest": latest["VersionId"]})
    log.info("Wrote %s objects in 2 versions each; %s deleted versions", len(objects), len(missing))
    return {"bucket": bucket, "objects": objects, "missing": missing}


# -- batch path --------------------------------------------------------------------------------------


@task
def objects_for_the_batch_job(written: dict[str, Any]) -> list[dict[str, str]]:
    """What an upstream task hands the batch operator: the older versions, and the deleted ones."""
    bucket = written["bucket"]
    chosen = [{"bucket": bucket, "key": o["key"], "version_id": o["older"]} for o in written["objects"]]
    chosen += [{"bucket": bucket, "key": m["key"], "version_id": m["version_id"]} for m in written["missing"]]
    return chosen


@task
def check_batch_result(result: dict[str, Any], written: dict[str, Any], ops_bucket: str) -> None:
    """The operator's result: job counts, and the failed rows it read from the completion report."""
    problems = []
    succeeded, failed = len(written["objects"]), len(written["missing"])
    if result["status"] != "Complete":
        problems.append(f"status {result['status']!r}, expected 'Complete'")
    counts = (result["tasks_total"], result["tasks_succeeded"], result["tasks_failed"])
    expected_counts = (succeeded + failed, succeeded, failed)
    if counts != expected_counts:
        problems.append(f"tasks (total, succeeded, failed) = {counts}, expected {expected_counts}")
    expected_location = f"s3://{ops_bucket}/batch-tagging/reports/job-{result['job_id']}/"
    if result["report_location"] != expected_location:
        problems.append(f"report_location {result['report_location']!r}, expected {expected_location!r}")
    summary = result.get("report_summary") or {}
    named = Counter((f["key"], f.get("version_id")) for f in summary.get("first_failures", []))
    expected = Counter((m["key"], m["version_id"]) for m in written["missing"])
    if named != expected:
        problems.append(
            f"failed objects named {sorted(named.elements())}, expected {sorted(expected.elements())}"
        )
    codes = summary.get("failures_by_code") or {}
    if sum(codes.values()) != failed or not set(codes) <= MISSING_VERSION_CODES:
        problems.append(f"failures_by_code {codes}, expected {failed} of {sorted(MISSING_VERSION_CODES)}")
    _fail_if(problems, f"Batch job {result.get('job_id')} result")
    log.info("Batch job %s: %s succeeded, %s failed, as expected", result["job_id"], succeeded, failed)


def _report_rows(s3: Any, report_location: str) -> list[list[str]]:
    """Every row of a completion report, read as AWS documents it: ``manifest.json`` lists result
    CSVs (no header) with their MD5 checksums."""
    bucket, prefix = report_location.removeprefix("s3://").split("/", 1)
    manifest = json.loads(_read(s3, bucket, f"{prefix}manifest.json"))
    rows = []
    for entry in manifest["Results"]:
        result_bucket = (entry.get("Bucket") or bucket).rsplit(":", 1)[-1]
        body = _read(s3, result_bucket, entry["Key"])
        if entry.get("MD5Checksum") and hashlib.md5(body).hexdigest() != entry["MD5Checksum"]:
            raise AirflowException(f"Report file {entry['Key']!r} does not match its MD5Checksum")
        rows += [row for row in csv.reader(io.StringIO(body.decode("utf-8"), newline="")) if row]
    return rows


# How a report may write keys (AWS_FACTS.md: encoded or literal, *unverified*): exactly one reading
# must give back the keys and versions the job was given.
_KEY_READINGS = {"literal": lambda field: field, "URL-encoded": unquote, "form-encoded": unquote_plus}


@task
def check_completion_report(result: dict[str, Any], written: dict[str, Any]) -> None:
    """Read the whole completion report here (not through the product) and match every row."""
    s3 = aws_client("s3")
    rows = _report_rows(s3, result["report_location"])
    bucket = written["bucket"]
    expected = Counter((bucket, o["key"], o["older"], "succeeded") for o in written["objects"])
    expected += Counter((bucket, m["key"], m["version_id"], "failed") for m in written["missing"])
    readings = [
        name
        for name, read_key in _KEY_READINGS.items()
        if Counter((r[0], read_key(r[1]), r[2], r[3].lower()) for r in rows) == expected
    ]
    problems = []
    if not readings:
        literal = Counter((r[0], r[1], r[2], r[3].lower()) for r in rows)
        problems.append(
            f"no reading of the {len(rows)} rows gives the {sum(expected.values())} tasks the job was "
            f"given; rows not expected (literal): {sorted((literal - expected).elements())[:10]}"
        )
    for row in rows:
        if row[3].lower() == "failed":
            codes = {field for field in row[4:6] if field and not field.isdigit()}
            if not codes <= MISSING_VERSION_CODES:
                problems.append(f"failed row {row!r}: error code not one of {sorted(MISSING_VERSION_CODES)}")
    _fail_if(problems, f"Completion report {result['report_location']}")
    log.info("Completion report: %s rows, keys read as %s", len(rows), " or ".join(readings))


# -- direct path -------------------------------------------------------------------------------------


@task
def write_direct_manifest(written: dict[str, Any], ops_bucket: str) -> str:
    """A CSV manifest of the latest versions as AWS documents the format: no header, ``bucket,key,
    version`` per line, keys URL-encoded with ``%20`` for a space and ``%2B`` for a plus."""
    bucket = written["bucket"]
    lines = [f"{bucket},{quote(o['key'], safe='/')},{o['latest']}\n" for o in written["objects"]]
    key = "direct/manifest.csv"
    aws_client("s3").put_object(Bucket=ops_bucket, Key=key, Body="".join(lines).encode("utf-8"))
    return f"s3://{ops_bucket}/{key}"


@task
def check_direct_results(results: list[dict[str, Any]], written: dict[str, Any], ops_bucket: str) -> None:
    """The mapped results add up, and the undo log (read here) holds every object's previous tags."""
    results = list(results)
    total = len(written["objects"])
    problems = []
    sums = {name: sum(int(r[name]) for r in results) for name in ("total", "changed", "failed")}
    if sums != {"total": total, "changed": total, "failed": 0}:
        problems.append(f"results add up to {sums}, expected total = changed = {total}, failed = 0")
    if len(results) != -(-total // DIRECT_BATCH_SIZE):
        problems.append(f"{len(results)} mapped tasks, expected {-(-total // DIRECT_BATCH_SIZE)}")
    s3 = aws_client("s3")
    logged: Counter[tuple[str, str, str | None, str]] = Counter()
    for result in results:
        prefix = result["undo_log"].removeprefix(f"s3://{ops_bucket}/")
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=ops_bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                for line in _read(s3, ops_bucket, entry["Key"]).decode("utf-8").splitlines():
                    record = json.loads(line)
                    tags = json.dumps(record["tags"], sort_keys=True)
                    logged[(record["bucket"], record["key"], record.get("version_id"), tags)] += 1
    previous = json.dumps(LATEST_TAGS, sort_keys=True)
    expected = Counter((written["bucket"], o["key"], o["latest"], previous) for o in written["objects"])
    if logged != expected:
        problems.append(
            f"undo log records not expected: {sorted((logged - expected).elements())[:5]}; "
            f"missing: {sorted((expected - logged).elements())[:5]}"
        )
    _fail_if(problems, "Direct tagging")
    log.info("Direct tagging: %s objects in %s mapped tasks, %s undo records", total, len(results), total)


# -- checks of S3 itself -----------------------------------------------------------------------------


def _check_versions(written: dict[str, Any], latest_tags: dict[str, str]) -> None:
    """Every version on S3, read with a plain client: the listing holds exactly the hostile keys in
    their two versions, the older ones carry the batch job's tags, the latest ones ``latest_tags``."""
    s3 = aws_client("s3")
    bucket = written["bucket"]
    listed: dict[str, set[str]] = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for version in page.get("Versions", []):
            listed.setdefault(version["Key"], set()).add(version["VersionId"])
    problems = []
    if set(listed) != set(HOSTILE_KEYS):
        problems.append(
            f"listing differs: not written {sorted(set(listed) - set(HOSTILE_KEYS))!r}, "
            f"missing {sorted(set(HOSTILE_KEYS) - set(listed))!r}"
        )
    for o in written["objects"]:
        key = o["key"]
        if listed.get(key, set()) != {o["older"], o["latest"]}:
            problems.append(f"{key!r}: versions {sorted(listed.get(key, set()))}, expected older and latest")
        for version, expected in (("older", BATCH_TAGS), ("latest", latest_tags)):
            actual = _tags(s3, bucket, key, o[version])
            if actual != expected:
                problems.append(f"{key!r} ({version} version): tags {actual}, expected {expected}")
    _fail_if(problems, f"Objects in {bucket}")
    log.info("%s keys x 2 versions carry the expected tags", len(written["objects"]))


@task
def check_tags_after_tagging(written: dict[str, Any], **context: Any) -> None:
    _check_versions(written, {**LATEST_TAGS, "classification": "internal", "reviewed_on": context["ds"]})


@task
def check_tags_after_restore(written: dict[str, Any]) -> None:
    _check_versions(written, LATEST_TAGS)


# -- teardown ----------------------------------------------------------------------------------------


@task(trigger_rule=TriggerRule.ALL_DONE)
def cancel_unfinished_jobs(env_id: str) -> None:
    """Cancel this run's jobs that have not ended (a failed wait leaves one running)."""
    account = aws_client("sts").get_caller_identity()["Account"]
    s3control = aws_client("s3control")
    unfinished = ["New", "Preparing", "Suspended", "Ready", "Active", "Pausing", "Paused"]
    request: dict[str, Any] = {"AccountId": account, "JobStatuses": unfinished}
    while True:  # botocore has no paginator for ListJobs
        page = s3control.list_jobs(**request)
        for job in page.get("Jobs", []):
            if env_id in (job.get("Description") or ""):
                log.info("Cancelling job %s (%s)", job["JobId"], job["Status"])
                s3control.update_job_status(
                    AccountId=account,
                    JobId=job["JobId"],
                    RequestedJobStatus="Cancelled",
                    StatusUpdateReason="system test teardown",
                )
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]


@task(trigger_rule=TriggerRule.ALL_DONE)
def delete_bucket_and_every_version(created_by: str, **context: Any) -> None:
    """Delete every object version and delete marker, then the bucket, if task ``created_by`` made it."""
    bucket = context["ti"].xcom_pull(task_ids=created_by)
    if not bucket:
        log.info("%s created no bucket: nothing to delete", created_by)
        return
    s3 = aws_client("s3")
    deleted = 0
    try:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            entries = page.get("Versions", []) + page.get("DeleteMarkers", [])
            if not entries:
                continue
            batch = [{"Key": e["Key"], "VersionId": e["VersionId"]} for e in entries]
            response = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            if response.get("Errors"):
                raise AirflowException(f"Could not delete from {bucket}: {response['Errors'][:3]}")
            deleted += len(batch)
        s3.delete_bucket(Bucket=bucket)
    except s3.exceptions.NoSuchBucket:
        log.info("Bucket %s does not exist: nothing to delete", bucket)
        return
    log.info("Deleted bucket %s and its %s object versions", bucket, deleted)


@task(trigger_rule=TriggerRule.ALL_DONE)
def delete_batch_role(**context: Any) -> None:
    """Delete the role ``create_batch_role`` created, and its inline policy."""
    role_name = context["ti"].xcom_pull(task_ids="create_batch_role", key=CREATED_ROLE_KEY)
    if not role_name:
        log.info("create_batch_role created no role: nothing to delete")
        return
    iam = aws_client("iam")
    try:
        for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
            iam.delete_role_policy(RoleName=role_name, PolicyName=name)
        iam.delete_role(RoleName=role_name)
    except iam.exceptions.NoSuchEntityException:
        log.info("Role %s does not exist: nothing to delete", role_name)
        return
    log.info("Deleted role %s", role_name)


sys_test_context_task = SystemTestContextBuilder().build()

with DAG(
    dag_id=DAG_ID,
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["system-test", "s3-batch-tagging"],
) as dag:
    test_context = sys_test_context_task()
    env_id = test_context[ENV_ID_KEY]
    data_bucket = f"s3bt-{env_id}-data"
    ops_bucket = f"s3bt-{env_id}-ops"
    role_name = f"s3bt-system-test-{env_id}"

    # TEST SETUP
    account = verify_account(test_context[TARGET_KEY])
    create_data_bucket = create_test_bucket.override(task_id="create_data_bucket")(data_bucket)
    create_ops_bucket = create_test_bucket.override(task_id="create_ops_bucket")(ops_bucket)
    versioning = enable_versioning(create_data_bucket)
    role_arn = create_batch_role(role_name, data_bucket, ops_bucket)
    written = put_hostile_objects(data_bucket)

    # TEST BODY: the batch path
    batch_job = S3BatchPutObjectTaggingOperator(
        task_id="tag_with_batch_job",
        objects=objects_for_the_batch_job(written),
        tags=BATCH_TAGS,
        role_arn=role_arn,
        account_id=account,
        manifest_location=f"s3://{ops_bucket}/batch-tagging/",
        report_scope="AllTasks",
        max_failed_tasks=len(MISSING_VERSION_KEYS),
        first_failures=len(MISSING_VERSION_KEYS) + 5,
        description=f"airflow-s3-batch-tagging system test {env_id}",
        deferrable=True,
        waiter_delay=POLL_SECONDS,
        waiter_max_attempts=POLL_ATTEMPTS,
        aws_conn_id=AWS_CONN_ID,
    )
    batch_result: Any = batch_job.output

    # TEST BODY: the direct path
    batches = plan_tagging_batches(
        manifest=write_direct_manifest(written, ops_bucket),
        batch_size=DIRECT_BATCH_SIZE,
        aws_conn_id=AWS_CONN_ID,
    )
    tagged = S3PutObjectTaggingOperator.partial(
        task_id="tag_directly",
        tags=DIRECT_TAGS,
        mode="merge",
        undo_log=f"s3://{ops_bucket}/undo/",
        concurrency=8,
        aws_conn_id=AWS_CONN_ID,
    ).expand(objects=batches)
    direct_results: Any = tagged.output
    restore = S3RestoreObjectTaggingOperator(
        task_id="restore_direct_tags", undo_log=direct_results, aws_conn_id=AWS_CONN_ID
    )

    # TEST CHECKS
    checked_batch = check_batch_result(batch_result, written, ops_bucket)
    checked_report = check_completion_report(batch_result, written)
    checked_direct = check_direct_results(direct_results, written, ops_bucket)
    checked_tags = check_tags_after_tagging(written)
    checked_restore = check_tags_after_restore(written)

    # TEST TEARDOWN
    cancel_jobs = cancel_unfinished_jobs(env_id)
    delete_data_bucket = delete_bucket_and_every_version.override(task_id="delete_data_bucket")(
        "create_data_bucket"
    )
    delete_ops_bucket = delete_bucket_and_every_version.override(task_id="delete_ops_bucket")(
        "create_ops_bucket"
    )
    delete_role = delete_batch_role()

    chain(test_context, account, [create_data_bucket, create_ops_bucket])
    chain(versioning, written)
    chain([create_data_bucket, create_ops_bucket], role_arn)
    chain([written, role_arn, create_ops_bucket], batch_job, [checked_batch, checked_report])
    chain([written, create_ops_bucket], batches)
    chain([batch_job, tagged], checked_tags, restore, checked_restore)
    chain(tagged, checked_direct)
    chain(
        [checked_batch, checked_report, checked_direct, checked_restore],
        cancel_jobs,
        [delete_data_bucket, delete_ops_bucket],
        delete_role,
    )

    # A teardown that succeeds must not turn a failed check into a successful run.
    list(dag.tasks) >> watcher()


# Run with pytest (`make system-test`); skipped unless a target is set (tests/system/target.py).
test_run = get_test_run(dag)
