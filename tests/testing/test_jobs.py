"""Jobs run by the emulator, driven through the plain boto3 s3control client: statuses, manifests,
tasks, completion reports."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import re
import time
from typing import Any

import pytest

from airflow_s3_batch_tagging.manifest import InventoryManifest, read_inventory_csv
from airflow_s3_batch_tagging.testing import LocalAWS

pytestmark = pytest.mark.e2e


def tags_of(s3: Any, bucket: str, key: str, version_id: str | None = None) -> dict[str, str]:
    kwargs = {"VersionId": version_id} if version_id else {}
    tag_set = s3.get_object_tagging(Bucket=bucket, Key=key, **kwargs)["TagSet"]
    return {tag["Key"]: tag["Value"] for tag in tag_set}


def read_report(s3: Any, bucket: str, job_id: str) -> tuple[dict[str, Any], dict[str, list[list[str]]]]:
    """The report's manifest.json and its result rows by TaskExecutionStatus."""
    manifest_key = f"reports/job-{job_id}/manifest.json"
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
    rows: dict[str, list[list[str]]] = {}
    for result in manifest["Results"]:
        assert result["Key"].startswith(f"reports/job-{job_id}/results/")
        body = s3.get_object(Bucket=result["Bucket"], Key=result["Key"])["Body"].read()
        rows[result["TaskExecutionStatus"]] = list(csv.reader(io.StringIO(body.decode())))
    return manifest, rows


def test_csv_manifest_job_tags_encoded_keys_reports_all(
    local_aws: LocalAWS,
    s3: Any,
    s3control: Any,
    s3_bucket: str,
    put_manifest: Any,
    job_request: Any,
    wait_job: Any,
) -> None:
    keys = {
        "plain.txt": "plain.txt",
        "with space.txt": "with%20space.txt",
        "a,b+c.txt": "a%2Cb%2Bc.txt",
        "dir/ünï.csv": "dir/%C3%BCn%C3%AF.csv",
        "100%.txt": "100%25.txt",
    }
    for key in keys:
        s3.put_object(Bucket=s3_bucket, Key=key, Body=b"x")
    location = put_manifest(s3_bucket, [f"{s3_bucket},{encoded}" for encoded in keys.values()])

    job_id = s3control.create_job(
        **job_request(location, tags={"team": "data", "tier": "gold"}, report_bucket=s3_bucket)
    )["JobId"]
    job = wait_job(job_id)

    assert job["Status"] == "Complete"
    assert job["ProgressSummary"]["TotalNumberOfTasks"] == 5
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 5
    assert job["ProgressSummary"]["NumberOfTasksFailed"] == 0
    assert job["TerminationDate"] >= job["CreationTime"]
    assert job["JobArn"] == f"arn:aws:s3:{local_aws.region}:{local_aws.account_id}:job/{job_id}"
    for key in keys:
        assert tags_of(s3, s3_bucket, key) == {"team": "data", "tier": "gold"}
    manifest, rows = read_report(s3, s3_bucket, job_id)
    assert manifest["Format"] == "Report_CSV_20180820"
    assert (
        manifest["ReportSchema"]
        == "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage"
    )
    # Real report manifests carry nanoseconds (2025-07-20T21:18:22.395320681Z, published by LINZ).
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", manifest["ReportCreationDate"])
    assert set(rows) == {"succeeded"}
    # Report keys are form-encoded like an inventory's: a space is "+", a plus "%2B".
    assert sorted(row[1] for row in rows["succeeded"]) == sorted(
        encoded.replace("%20", "+") for encoded in keys.values()
    )
    # AWS writes the HTTP status before the error code, whatever the ReportSchema line says.
    assert {(row[0], row[3], row[4], row[5]) for row in rows["succeeded"]} == {
        (s3_bucket, "succeeded", "200", "")
    }


def test_csv_manifest_version_ids_tag_those_versions(
    s3: Any,
    s3control: Any,
    versioned_s3_bucket: str,
    put_manifest: Any,
    job_request: Any,
    wait_job: Any,
    local_aws: LocalAWS,
) -> None:
    bucket = local_aws.create_bucket()
    s3.put_object(Bucket=bucket, Key="legacy.txt", Body=b"written before versioning")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    latest = s3.put_object(Bucket=bucket, Key="legacy.txt", Body=b"new")["VersionId"]
    first = s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"1")["VersionId"]
    second = s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"2")["VersionId"]
    location = put_manifest(bucket, [f"{bucket},legacy.txt,null", f"{bucket},doc.txt,{first}"])

    job_id = s3control.create_job(**job_request(location, fields=["Bucket", "Key", "VersionId"]))["JobId"]
    job = wait_job(job_id)

    assert job["Status"] == "Complete"
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 2
    assert tags_of(s3, bucket, "legacy.txt", "null") == {"team": "data"}
    assert tags_of(s3, bucket, "legacy.txt", latest) == {}
    assert tags_of(s3, bucket, "doc.txt", first) == {"team": "data"}
    assert tags_of(s3, bucket, "doc.txt", second) == {}


def test_missing_keys_and_versions_fail_with_s3_codes(
    s3: Any, s3control: Any, versioned_s3_bucket: str, put_manifest: Any, job_request: Any, wait_job: Any
) -> None:
    bucket = versioned_s3_bucket
    version = s3.put_object(Bucket=bucket, Key="here.txt", Body=b"x")["VersionId"]
    location = put_manifest(
        bucket,
        [
            f"{bucket},here.txt,{version}",
            f"{bucket},gone.txt,{version}",
            f"{bucket},here.txt,no-such-version",
        ],
    )

    job_id = s3control.create_job(
        **job_request(
            location, fields=["Bucket", "Key", "VersionId"], report_bucket=bucket, scope="FailedTasksOnly"
        )
    )["JobId"]
    job = wait_job(job_id)

    # Complete does not mean every task succeeded.
    assert job["Status"] == "Complete"
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 1
    assert job["ProgressSummary"]["NumberOfTasksFailed"] == 2
    manifest, rows = read_report(s3, bucket, job_id)
    assert [result["TaskExecutionStatus"] for result in manifest["Results"]] == ["failed"]
    failures = {(row[1], row[2]): (row[3], row[5], row[4]) for row in rows["failed"]}
    status, code, http_status = failures[("gone.txt", version)]
    assert (status, http_status) == ("failed", "404")
    assert code in ("NoSuchKey", "NoSuchVersion")
    assert failures[("here.txt", "no-such-version")] == ("failed", "NoSuchVersion", "404")
    assert len(rows["failed"]) == 2


def test_missing_key_without_version_fails_with_no_such_key(
    s3: Any, s3control: Any, s3_bucket: str, put_manifest: Any, job_request: Any, wait_job: Any
) -> None:
    location = put_manifest(s3_bucket, [f"{s3_bucket},never-written.txt"])

    job_id = s3control.create_job(**job_request(location, report_bucket=s3_bucket))["JobId"]
    job = wait_job(job_id)

    assert job["Status"] == "Complete"
    assert job["ProgressSummary"]["NumberOfTasksFailed"] == 1
    _, rows = read_report(s3, s3_bucket, job_id)
    assert rows["failed"][0][:6] == [s3_bucket, "never-written.txt", "", "failed", "404", "NoSuchKey"]


def test_etag_mismatch_fails_job_while_preparing(
    s3: Any, s3control: Any, s3_bucket: str, put_manifest: Any, job_request: Any, wait_job: Any
) -> None:
    s3.put_object(Bucket=s3_bucket, Key="a.txt", Body=b"x")
    location = put_manifest(s3_bucket, [f"{s3_bucket},a.txt"])
    stale = {**location, "ETag": "0123456789abcdef0123456789abcdef"}

    job_id = s3control.create_job(**job_request(stale, report_bucket=s3_bucket))["JobId"]
    job = wait_job(job_id)

    assert job["Status"] == "Failed"
    assert job["FailureReasons"][0]["FailureCode"] == "ManifestETagMismatch"
    assert "0123456789abcdef0123456789abcdef" in job["FailureReasons"][0]["FailureReason"]
    assert "TerminationDate" in job
    assert tags_of(s3, s3_bucket, "a.txt") == {}
    assert s3.list_objects_v2(Bucket=s3_bucket, Prefix="reports/")["KeyCount"] == 0


def test_quoted_etag_from_head_object_is_accepted(
    s3: Any, s3control: Any, s3_bucket: str, put_manifest: Any, job_request: Any, wait_job: Any
) -> None:
    s3.put_object(Bucket=s3_bucket, Key="a.txt", Body=b"x")
    location = put_manifest(s3_bucket, [f"{s3_bucket},a.txt"])
    location["ETag"] = f'"{location["ETag"]}"'

    job = wait_job(s3control.create_job(**job_request(location))["JobId"])

    assert job["Status"] == "Complete"


def test_unreadable_manifest_fails_the_job_with_a_reason(
    s3control: Any, s3_bucket: str, job_request: Any, wait_job: Any
) -> None:
    location = {"ObjectArn": f"arn:aws:s3:::{s3_bucket}/does/not/exist.csv", "ETag": "abc"}

    job = wait_job(s3control.create_job(**job_request(location))["JobId"])

    assert job["Status"] == "Failed"
    assert job["FailureReasons"][0]["FailureCode"] == "ManifestNotFound"
    assert "does/not/exist.csv" in job["FailureReasons"][0]["FailureReason"]


def test_malformed_manifest_line_fails_the_job(
    s3control: Any, s3_bucket: str, put_manifest: Any, job_request: Any, wait_job: Any
) -> None:
    location = put_manifest(s3_bucket, [f"{s3_bucket},a.txt,v1,extra"])

    job = wait_job(s3control.create_job(**job_request(location))["JobId"])

    assert job["Status"] == "Failed"
    assert job["FailureReasons"][0]["FailureCode"] == "InvalidManifest"
    assert "row 1" in job["FailureReasons"][0]["FailureReason"]


def test_paced_job_shows_every_status_and_moving_progress(
    paced: LocalAWS, s3: Any, s3control: Any, s3_bucket: str, put_manifest: Any, job_request: Any
) -> None:
    keys = [f"obj-{i:02d}" for i in range(60)]
    for key in keys:
        s3.put_object(Bucket=s3_bucket, Key=key, Body=b"x")
    location = put_manifest(s3_bucket, [f"{s3_bucket},{key}" for key in keys])

    job_id = s3control.create_job(**job_request(location))["JobId"]
    statuses: list[str] = []
    progress: list[int] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        job = s3control.describe_job(AccountId=paced.account_id, JobId=job_id)["Job"]
        if not statuses or statuses[-1] != job["Status"]:
            statuses.append(job["Status"])
        if job["Status"] == "Active":
            progress.append(job["ProgressSummary"]["NumberOfTasksSucceeded"])
        if job["Status"] == "Complete":
            break
        time.sleep(0.03)

    expected = ["New", "Preparing", "Ready", "Active", "Completing", "Complete"]
    assert paced.jobs[job_id].history == expected
    assert statuses[-1] == "Complete"
    assert [status for status in expected if status in statuses] == statuses  # seen in order
    assert {"New", "Preparing", "Active"} <= set(statuses)
    assert any(0 < done < 60 for done in progress), progress
    assert progress == sorted(progress)
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 60
    assert job["ProgressSummary"]["Timers"]["ElapsedTimeInActiveSeconds"] >= 1


def test_confirmation_required_job_waits_suspended_until_ready(
    s3: Any,
    s3control: Any,
    s3_bucket: str,
    put_manifest: Any,
    job_request: Any,
    wait_job: Any,
    local_aws: LocalAWS,
) -> None:
    s3.put_object(Bucket=s3_bucket, Key="a.txt", Body=b"x")
    location = put_manifest(s3_bucket, [f"{s3_bucket},a.txt"])
    request = job_request(location)
    del request["ConfirmationRequired"]  # AWS's default: the job waits for confirmation

    job_id = s3control.create_job(**request)["JobId"]
    job = wait_job(job_id, ("Suspended",))
    time.sleep(0.1)

    assert job["ConfirmationRequired"] is True
    assert job["SuspendedCause"]
    assert job["SuspendedDate"] >= job["CreationTime"]
    assert job["ProgressSummary"]["TotalNumberOfTasks"] == 1
    assert tags_of(s3, s3_bucket, "a.txt") == {}
    answer = s3control.update_job_status(
        AccountId=local_aws.account_id, JobId=job_id, RequestedJobStatus="Ready", StatusUpdateReason="go"
    )
    assert answer["Status"] == "Ready"
    assert answer["StatusUpdateReason"] == "go"
    assert wait_job(job_id)["Status"] == "Complete"
    assert tags_of(s3, s3_bucket, "a.txt") == {"team": "data"}
    assert local_aws.jobs[job_id].history == [
        "New", "Preparing", "Suspended", "Ready", "Active", "Completing", "Complete"
    ]  # fmt: skip


def test_cancel_active_job_reports_the_tasks_that_ran(
    paced: LocalAWS,
    s3: Any,
    s3control: Any,
    s3_bucket: str,
    put_manifest: Any,
    job_request: Any,
    wait_job: Any,
) -> None:
    paced.job_step_delay = 0.3  # six chunks: about two seconds of Active to cancel in
    keys = [f"obj-{i:02d}" for i in range(60)]
    for key in keys:
        s3.put_object(Bucket=s3_bucket, Key=key, Body=b"x")
    location = put_manifest(s3_bucket, [f"{s3_bucket},{key}" for key in keys])
    job_id = s3control.create_job(**job_request(location, report_bucket=s3_bucket))["JobId"]
    wait_job(job_id, ("Active",))

    answer = s3control.update_job_status(
        AccountId=paced.account_id, JobId=job_id, RequestedJobStatus="Cancelled", StatusUpdateReason="stop"
    )
    assert answer["Status"] == "Cancelling"
    job = wait_job(job_id)

    assert job["Status"] == "Cancelled"
    assert paced.jobs[job_id].history[-3:] == ["Active", "Cancelling", "Cancelled"]
    assert job["StatusUpdateReason"] == "stop"
    assert "TerminationDate" in job
    done = job["ProgressSummary"]["NumberOfTasksSucceeded"]
    assert done < 60
    tagged = [key for key in keys if tags_of(s3, s3_bucket, key)]
    assert len(tagged) == done
    if done:
        _, rows = read_report(s3, s3_bucket, job_id)
        assert sorted(row[1] for row in rows["succeeded"]) == sorted(tagged)


def test_cancelling_a_suspended_job_runs_no_task(
    s3: Any,
    s3control: Any,
    s3_bucket: str,
    put_manifest: Any,
    job_request: Any,
    wait_job: Any,
    local_aws: LocalAWS,
) -> None:
    s3.put_object(Bucket=s3_bucket, Key="a.txt", Body=b"x")
    location = put_manifest(s3_bucket, [f"{s3_bucket},a.txt"])
    job_id = s3control.create_job(**job_request(location, ConfirmationRequired=True))["JobId"]
    wait_job(job_id, ("Suspended",))

    s3control.update_job_status(AccountId=local_aws.account_id, JobId=job_id, RequestedJobStatus="Cancelled")
    job = wait_job(job_id)

    assert job["Status"] == "Cancelled"
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 0
    assert tags_of(s3, s3_bucket, "a.txt") == {}


def test_over_half_failed_after_1000_tasks_fails_job(
    s3: Any, s3control: Any, s3_bucket: str, put_manifest: Any, job_request: Any, wait_job: Any
) -> None:
    location = put_manifest(s3_bucket, [f"{s3_bucket},missing-{i}" for i in range(1100)])

    job_id = s3control.create_job(**job_request(location, report_bucket=s3_bucket, scope="FailedTasksOnly"))[
        "JobId"
    ]
    job = wait_job(job_id, timeout=60)

    assert job["Status"] == "Failed"
    assert job["FailureReasons"][0]["FailureCode"] == "TaskFailureThresholdExceeded"
    failed = job["ProgressSummary"]["NumberOfTasksFailed"]
    assert 1000 <= failed < 1100  # stopped once the threshold was crossed, before the end
    _, rows = read_report(s3, s3_bucket, job_id)  # a failed job still reports the tasks that ran
    assert len(rows["failed"]) == failed
    assert {row[5] for row in rows["failed"]} == {"NoSuchKey"}


def test_delete_job_and_empty_tag_set_remove_all_tags(
    s3: Any, s3control: Any, s3_bucket: str, put_manifest: Any, job_request: Any, wait_job: Any
) -> None:
    for key in ("a.txt", "b.txt"):
        s3.put_object(Bucket=s3_bucket, Key=key, Body=b"x", Tagging="old=1&keep=2")
    delete_job = job_request(
        put_manifest(s3_bucket, [f"{s3_bucket},a.txt"], key="m1.csv"),
        Operation={"S3DeleteObjectTagging": {}},
    )
    empty_job = job_request(put_manifest(s3_bucket, [f"{s3_bucket},b.txt"], key="m2.csv"), tags={})

    first = wait_job(s3control.create_job(**delete_job)["JobId"])
    second = wait_job(s3control.create_job(**empty_job)["JobId"])

    assert (first["Status"], second["Status"]) == ("Complete", "Complete")
    assert second["ProgressSummary"]["NumberOfTasksSucceeded"] == 1
    assert first["Operation"] == {"S3DeleteObjectTagging": {}}
    assert tags_of(s3, s3_bucket, "a.txt") == {}
    assert tags_of(s3, s3_bucket, "b.txt") == {}


def test_inventory_job_tags_objects_skips_delete_markers(
    s3: Any, s3control: Any, s3_bucket: str, job_request: Any, wait_job: Any
) -> None:
    for key in ("inv/a.txt", "inv/b c.txt"):
        s3.put_object(Bucket=s3_bucket, Key=key, Body=b"x")
    rows = [
        f'"{s3_bucket}","inv/a.txt","","true","false"',
        f'"{s3_bucket}","inv/b%20c.txt","","true","false"',
        f'"{s3_bucket}","inv/deleted.txt","v9","true","true"',
    ]
    data = gzip.compress(("\n".join(rows) + "\n").encode())
    s3.put_object(Bucket=s3_bucket, Key="inventory/data/part-0.csv.gz", Body=data)
    document = {
        "sourceBucket": s3_bucket,
        "destinationBucket": f"arn:aws:s3:::{s3_bucket}",
        "version": "2016-11-30",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker",
        "files": [{"key": "inventory/data/part-0.csv.gz", "size": len(data), "MD5checksum": "x"}],
    }
    etag = s3.put_object(Bucket=s3_bucket, Key="inventory/manifest.json", Body=json.dumps(document))["ETag"]
    request = job_request(
        Manifest={
            "Spec": {"Format": "S3InventoryReport_CSV_20161130"},
            "Location": {"ObjectArn": f"arn:aws:s3:::{s3_bucket}/inventory/manifest.json", "ETag": etag},
        }
    )

    job = wait_job(s3control.create_job(**request)["JobId"])

    assert job["Status"] == "Complete"
    assert job["ProgressSummary"]["TotalNumberOfTasks"] == 2
    assert tags_of(s3, s3_bucket, "inv/a.txt") == {"team": "data"}
    assert tags_of(s3, s3_bucket, "inv/b c.txt") == {"team": "data"}


def test_generator_applies_filters_and_writes_manifest(
    s3: Any, s3control: Any, s3_bucket: str, job_request: Any, wait_job: Any, local_aws: LocalAWS
) -> None:
    objects = {
        "logs/a.gz": 10,
        "logs/b.txt": 10,
        "data/c.gz": 10,
        "logs/big.gz": 500,
        "logs/empty.gz": 0,
        "logs/2026/d.gz": 20,
    }
    for key, size in objects.items():
        s3.put_object(Bucket=s3_bucket, Key=key, Body=b"x" * size)
    out_bucket = local_aws.create_bucket()
    generator = {
        "S3JobManifestGenerator": {
            "SourceBucket": f"arn:aws:s3:::{s3_bucket}",
            "EnableManifestOutput": True,
            "ManifestOutputLocation": {
                "Bucket": f"arn:aws:s3:::{out_bucket}",
                "ManifestPrefix": "generated",
                "ManifestFormat": "S3InventoryReport_CSV_20211130",
            },
            "Filter": {
                "KeyNameConstraint": {"MatchAnyPrefix": ["logs/"], "MatchAnySuffix": [".gz"]},
                "ObjectSizeGreaterThanBytes": 1,
                "ObjectSizeLessThanBytes": 100,
                "CreatedAfter": dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
            },
        }
    }

    job_id = s3control.create_job(**job_request(ManifestGenerator=generator))["JobId"]
    job = wait_job(job_id)

    assert job["Status"] == "Complete"
    assert job["ProgressSummary"]["TotalNumberOfTasks"] == 2
    tagged = {key for key in objects if tags_of(s3, s3_bucket, key)}
    assert tagged == {"logs/a.gz", "logs/2026/d.gz"}
    descriptor = job["GeneratedManifestDescriptor"]
    assert descriptor["Format"] == "S3InventoryReport_CSV_20211130"
    manifest_key = descriptor["Location"]["ObjectArn"].split(":::", 1)[1].split("/", 1)[1]
    assert manifest_key == f"generated/job-{job_id}/manifest.json"
    response = s3.get_object(Bucket=out_bucket, Key=manifest_key)
    assert response["ETag"].strip('"') == descriptor["Location"]["ETag"]
    inventory = InventoryManifest.from_json(response["Body"].read())
    listed = set()
    for data_file in inventory.files:
        body = s3.get_object(Bucket=inventory.destination_bucket, Key=data_file.key)["Body"].read()
        listed |= {obj.key for obj in read_inventory_csv(io.BytesIO(body), inventory.file_schema)}
    assert listed == {"logs/a.gz", "logs/2026/d.gz"}


def test_manifest_generator_substring_and_created_before_filters(
    s3: Any, s3control: Any, s3_bucket: str, job_request: Any, wait_job: Any
) -> None:
    for key in ("x-keep-1", "x-drop-2", "y-keep-3"):
        s3.put_object(Bucket=s3_bucket, Key=key, Body=b"x")
    source = {"SourceBucket": f"arn:aws:s3:::{s3_bucket}", "EnableManifestOutput": False}
    substring = {
        "S3JobManifestGenerator": {**source, "Filter": {"KeyNameConstraint": {"MatchAnySubstring": ["keep"]}}}
    }
    too_old = {
        "S3JobManifestGenerator": {
            **source,
            "Filter": {"CreatedBefore": dt.datetime(2000, 1, 1, tzinfo=dt.UTC)},
        }
    }

    kept = wait_job(
        s3control.create_job(**job_request(ManifestGenerator=substring, tags={"k": "1"}))["JobId"]
    )
    none = wait_job(s3control.create_job(**job_request(ManifestGenerator=too_old, tags={"k": "2"}))["JobId"])

    assert kept["ProgressSummary"]["TotalNumberOfTasks"] == 2
    assert none["Status"] == "Complete"
    assert none["ProgressSummary"]["TotalNumberOfTasks"] == 0
    assert {key: tags_of(s3, s3_bucket, key) for key in ("x-keep-1", "x-drop-2", "y-keep-3")} == {
        "x-keep-1": {"k": "1"},
        "x-drop-2": {},
        "y-keep-3": {"k": "1"},
    }


def test_failing_keys_fail_tasks_and_throttling_is_retried(
    local_aws: LocalAWS,
    s3: Any,
    s3control: Any,
    s3_bucket: str,
    put_manifest: Any,
    job_request: Any,
    wait_job: Any,
    aws_faults: Any,
) -> None:
    keys = [f"k{i}" for i in range(20)]
    for key in keys:
        s3.put_object(Bucket=s3_bucket, Key=key, Body=b"x")
    location = put_manifest(s3_bucket, [f"{s3_bucket},{key}" for key in keys])
    aws_faults.configure(
        failing_keys={"k3"}, failing_key_error="AccessDenied", slowdown_ratio=0.3, tagging_only=True, seed=11
    )

    job_id = s3control.create_job(**job_request(location, report_bucket=s3_bucket))["JobId"]
    job = wait_job(job_id)
    counters = aws_faults.counters
    aws_faults.clear()

    assert job["Status"] == "Complete"
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 19
    assert job["ProgressSummary"]["NumberOfTasksFailed"] == 1
    _, rows = read_report(s3, s3_bucket, job_id)
    assert rows["failed"][0][1:6] == ["k3", "", "failed", "403", "AccessDenied"]
    assert all(tags_of(s3, s3_bucket, key) == {"team": "data"} for key in keys if key != "k3")
    assert counters["slowdown"] > 0
    assert counters["failing_key"] >= 1


def test_generator_on_versioned_bucket_targets_latest(
    s3: Any, s3control: Any, versioned_s3_bucket: str, job_request: Any, wait_job: Any
) -> None:
    bucket = versioned_s3_bucket
    old = s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"1")["VersionId"]
    new = s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"2")["VersionId"]
    generator = {
        "S3JobManifestGenerator": {"SourceBucket": f"arn:aws:s3:::{bucket}", "EnableManifestOutput": False}
    }

    job = wait_job(s3control.create_job(**job_request(ManifestGenerator=generator))["JobId"])

    assert job["ProgressSummary"]["TotalNumberOfTasks"] == 1
    assert tags_of(s3, bucket, "doc.txt", new) == {"team": "data"}
    assert tags_of(s3, bucket, "doc.txt", old) == {}


def test_unwritable_report_fails_the_job_after_its_tasks_ran(
    s3: Any, s3control: Any, s3_bucket: str, put_manifest: Any, job_request: Any, wait_job: Any
) -> None:
    s3.put_object(Bucket=s3_bucket, Key="a.txt", Body=b"x")
    location = put_manifest(s3_bucket, [f"{s3_bucket},a.txt"])

    job = wait_job(
        s3control.create_job(**job_request(location, report_bucket="no-such-report-bucket"))["JobId"]
    )

    assert job["Status"] == "Failed"
    assert job["FailureReasons"][0]["FailureCode"] == "ReportWriteFailed"
    assert "no-such-report-bucket" in job["FailureReasons"][0]["FailureReason"]
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 1
    assert tags_of(s3, s3_bucket, "a.txt") == {"team": "data"}
