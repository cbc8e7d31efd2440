"""A WSGI app that answers the S3 Control job API (``/v20180820/jobs...``) as AWS does.

Implemented: CreateJob, DescribeJob, ListJobs, UpdateJobStatus, UpdateJobPriority, GetJobTagging,
PutJobTagging and DeleteJobTagging. Any other S3 Control request answers ``NotImplemented`` (501)
naming the operation.

Error codes: a request body that cannot be read as the model describes it gives
``BadRequestException``; a value that breaks AWS's rules gives ``InvalidRequest`` (400); an unknown
job id ``NotFoundException`` (404); a status change the job's status does not allow
``JobStatusException``; a reused ``ClientRequestToken`` with another request ``IdempotencyException``;
an account id that is not the stand-in's ``AccessDenied`` (403). A job operation or option the
emulator does not run (anything but S3PutObjectTagging and S3DeleteObjectTagging) gives
``NotImplemented`` (501) at CreateJob.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from airflow_s3_batch_tagging.testing.formats import (
    CSV_MANIFEST_FORMAT,
    GENERATED_MANIFEST_FORMAT,
    INVENTORY_MANIFEST_FORMAT,
    REPORT_FORMAT,
)
from airflow_s3_batch_tagging.testing.jobs import CANCELLABLE_STATUSES, JobStore
from airflow_s3_batch_tagging.testing.rules import OBJECT_TAGS_LIMIT, bucket_name_problem, tag_list_problem
from airflow_s3_batch_tagging.testing.wire import (
    WireError,
    error_body,
    new_request_id,
    operation_model,
    parse_request,
    serialize_response,
    service_model,
)

log = logging.getLogger(__name__)

API_PREFIX = "/v20180820/"
# [0-9], not \d: \d also matches other scripts' digits, which AWS rejects.
ACCOUNT_ID_PATTERN = re.compile(r"[0-9]{12}")
ROLE_ARN_PATTERN = re.compile(r"arn:[^:]+:iam::[0-9]{12}:role/.*")
BUCKET_ARN_PATTERN = re.compile(r"arn:[^:]+:s3:::(?P<bucket>[^/]+)")
OBJECT_ARN_PATTERN = re.compile(r"arn:[^:]+:s3:::(?P<bucket>[^/]+)/(?P<key>.+)", re.DOTALL)
MAX_PRIORITY = 2147483647
MAX_JOB_TAGS = 50
MAX_LIST_RESULTS = 1000
SUPPORTED_OPERATIONS = ("S3PutObjectTagging", "S3DeleteObjectTagging")
JOB_STATUSES = frozenset(service_model().shape_for("JobStatus").enum)  # type: ignore[attr-defined]
CSV_FIELD_ORDERS = (["Bucket", "Key"], ["Bucket", "Key", "VersionId"])
UNSUPPORTED_FILTERS = ("EligibleForReplication", "ObjectReplicationStatuses", "MatchAnyObjectEncryption")

WSGIEnviron = dict[str, Any]
StartResponse = Callable[..., Any]

_REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
            409: "Conflict", 500: "Internal Server Error", 501: "Not Implemented"}  # fmt: skip


class S3ControlError(Exception):
    """An error answer: the AWS error code, a message and the HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def invalid(message: str) -> S3ControlError:
    return S3ControlError("InvalidRequest", message, 400)


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    operation: str
    query_flag: str | None = None


def _routes() -> list[Route]:
    """One route per operation of the model whose URI is under ``/v20180820/``."""
    routes = []
    model = service_model()
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri: str = http["requestUri"]
        path, _, query = uri.partition("?")
        if not path.startswith(API_PREFIX):
            continue
        regex = re.sub(
            r"\{(\w+)(\+?)\}",
            lambda match: f"(?P<{match.group(1)}>{'.+' if match.group(2) else '[^/]+'})",
            re.escape(path).replace(r"\{", "{").replace(r"\}", "}"),
        )
        routes.append(Route(http["method"], re.compile(regex + "/?"), name, query.split("=")[0] or None))
    # Most specific first: a route naming a query flag, then longer paths.
    routes.sort(key=lambda route: (route.query_flag is None, -len(route.pattern.pattern)))
    return routes


class S3ControlEmulator:
    """The WSGI app for S3 Control job requests; state lives in ``store``."""

    IMPLEMENTED = frozenset(
        {
            "CreateJob", "DescribeJob", "ListJobs", "UpdateJobStatus", "UpdateJobPriority",
            "GetJobTagging", "PutJobTagging", "DeleteJobTagging",
        }
    )  # fmt: skip

    def __init__(self, store: JobStore) -> None:
        self.store = store
        self.account_id = store.account_id
        self.routes = _routes()

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        request_id = new_request_id()
        try:
            status, body = self._handle(environ)
        except S3ControlError as err:
            log.debug("S3 Control emulator answers %s: %s", err.code, err.message)
            status, body = err.status, error_body(err.code, err.message, request_id)
        headers = [
            ("Content-Type", "application/xml"),
            ("Content-Length", str(len(body))),
            ("x-amz-request-id", request_id),
        ]
        start_response(f"{status} {_REASONS.get(status, 'Error')}", headers)
        return [body]

    def _match(self, method: str, path: str, query: dict[str, list[str]]) -> tuple[str, dict[str, str]]:
        for route in self.routes:
            if route.method != method or (route.query_flag and route.query_flag not in query):
                continue
            match = route.pattern.fullmatch(path)
            if match:
                return route.operation, match.groupdict()
        raise S3ControlError(
            "NotImplemented", f"No S3 Control operation answers {method} {path} in the local emulator.", 501
        )

    def _handle(self, environ: WSGIEnviron) -> tuple[int, bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        operation_name, uri_params = self._match(method, path, query)
        if operation_name not in self.IMPLEMENTED:
            raise S3ControlError(
                "NotImplemented",
                f"The local S3 Control emulator does not implement {operation_name}; it implements "
                f"{', '.join(sorted(self.IMPLEMENTED))}.",
                501,
            )
        operation = operation_model(operation_name)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        headers = {
            name[5:].replace("_", "-").lower(): value
            for name, value in environ.items()
            if name.startswith("HTTP_")
        }
        try:
            params = parse_request(operation, body=body, headers=headers, query=query, uri_params=uri_params)
        except WireError as err:
            raise S3ControlError("BadRequestException", str(err), 400) from None
        self._check_account(params)
        handler = getattr(self, f"_op_{operation_name}")
        result = handler(params)
        return 200, serialize_response(operation, result)

    def _check_account(self, params: dict[str, Any]) -> None:
        account_id = params.get("AccountId")
        if not isinstance(account_id, str) or not ACCOUNT_ID_PATTERN.fullmatch(account_id):
            raise invalid(f"Invalid AccountId {account_id!r}: an account id is 12 digits.")
        if account_id != self.account_id:
            raise S3ControlError(
                "AccessDenied",
                f"Access Denied: the account id {account_id} in the request is not the stand-in's account "
                f"{self.account_id}.",
                403,
            )

    def _job(self, job_id: str) -> Any:
        try:
            return self.store.get(job_id)
        except KeyError:
            raise S3ControlError("NotFoundException", f"The job {job_id} does not exist.", 404) from None

    # -- operations --------------------------------------------------------------------------
    def _op_CreateJob(self, params: dict[str, Any]) -> dict[str, Any]:
        validate_create_job(params)
        fingerprint = json.dumps(
            {name: value for name, value in params.items() if name != "ClientRequestToken"},
            sort_keys=True,
            default=str,
        )
        try:
            job, created = self.store.create(params, fingerprint)
        except ValueError:
            raise S3ControlError(
                "IdempotencyException",
                f"The ClientRequestToken {params['ClientRequestToken']!r} was already used for a different "
                "CreateJob request.",
                409,
            ) from None
        log.info("Emulated job %s %s", job.job_id, "created" if created else "returned again for its token")
        return {"JobId": job.job_id}

    def _op_DescribeJob(self, params: dict[str, Any]) -> dict[str, Any]:
        self._job(params["JobId"])
        return {"Job": self.store.describe(params["JobId"])}

    def _op_ListJobs(self, params: dict[str, Any]) -> dict[str, Any]:
        statuses = params.get("JobStatuses")
        for status in statuses or []:
            if status not in JOB_STATUSES:
                raise S3ControlError(
                    "InvalidRequestException",
                    f"Invalid job status {status!r}: choose among {', '.join(sorted(JOB_STATUSES))}.",
                )
        max_results = params.get("MaxResults")
        if max_results is None or max_results == 0:
            max_results = MAX_LIST_RESULTS
        if not 1 <= max_results <= MAX_LIST_RESULTS:
            raise S3ControlError(
                "InvalidRequestException",
                f"Invalid MaxResults {max_results}: it must be 0 to {MAX_LIST_RESULTS}.",
            )
        offset = _decode_token(params["NextToken"]) if params.get("NextToken") else 0
        with self.store.condition:
            jobs = self.store.list(frozenset(statuses) if statuses else None)
            page = [job.list_descriptor() for job in jobs[offset : offset + max_results]]
        result: dict[str, Any] = {"Jobs": page}
        if offset + max_results < len(jobs):
            result["NextToken"] = _encode_token(offset + max_results)
        return result

    def _op_UpdateJobStatus(self, params: dict[str, Any]) -> dict[str, Any]:
        job = self._job(params["JobId"])
        requested = params.get("RequestedJobStatus")
        reason = params.get("StatusUpdateReason")
        if reason is not None and not 1 <= len(reason) <= 256:
            raise invalid(f"Invalid StatusUpdateReason of {len(reason)} characters: it must be 1 to 256.")
        with self.store.condition:
            if requested == "Ready":
                if job.status != "Suspended":
                    raise S3ControlError(
                        "JobStatusException",
                        f"Job {job.job_id} is {job.status}; only a Suspended job can be moved to Ready.",
                    )
                job.confirmed = True
                job.set_status("Ready", reason or "Job confirmed")
            elif requested == "Cancelled":
                if job.status != "Cancelling":
                    if job.status not in CANCELLABLE_STATUSES:
                        raise S3ControlError(
                            "JobStatusException",
                            f"Job {job.job_id} is {job.status} and can no longer be cancelled.",
                        )
                    job.cancel_requested = True
                    job.set_status("Cancelling", reason or "Cancellation requested")
            else:
                raise invalid(f"Invalid RequestedJobStatus {requested!r}: choose Ready or Cancelled.")
            self.store.condition.notify_all()
            return {"JobId": job.job_id, "Status": job.status, "StatusUpdateReason": job.status_update_reason}

    def _op_UpdateJobPriority(self, params: dict[str, Any]) -> dict[str, Any]:
        job = self._job(params["JobId"])
        priority = _check_priority(params.get("Priority"))
        with self.store.condition:
            job.priority = priority
        return {"JobId": job.job_id, "Priority": priority}

    def _op_GetJobTagging(self, params: dict[str, Any]) -> dict[str, Any]:
        job = self._job(params["JobId"])
        with self.store.condition:
            return {"Tags": list(job.tags)}

    def _op_PutJobTagging(self, params: dict[str, Any]) -> dict[str, Any]:
        job = self._job(params["JobId"])
        tags = params.get("Tags") or []
        if len(tags) > MAX_JOB_TAGS:
            raise S3ControlError(
                "TooManyTagsException", f"A job has at most {MAX_JOB_TAGS} tags; {len(tags)} were given."
            )
        _check_job_tags(tags)
        with self.store.condition:
            job.tags = list(tags)
        return {}

    def _op_DeleteJobTagging(self, params: dict[str, Any]) -> dict[str, Any]:
        job = self._job(params["JobId"])
        with self.store.condition:
            job.tags = []
        return {}


def _encode_token(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _decode_token(token: str) -> int:
    try:
        text = base64.b64decode(token.encode(), validate=True).decode()
        prefix, _, number = text.partition(":")
        if prefix != "offset" or not number.isdigit():
            raise ValueError(token)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise S3ControlError(
            "InvalidNextTokenException", f"The NextToken {token!r} was not issued by ListJobs."
        ) from None


def _check_priority(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_PRIORITY:
        raise invalid(f"Invalid Priority {value!r}: it must be an integer from 0 to {MAX_PRIORITY}.")
    return value


def _check_job_tags(tags: list[dict[str, Any]]) -> None:
    problem = tag_list_problem(tags, limit=None)
    if problem:
        raise invalid(f"Invalid job tag {problem}.")


def _bucket_of_arn(arn: Any, what: str) -> str:
    match = BUCKET_ARN_PATTERN.fullmatch(arn) if isinstance(arn, str) else None
    if not match:
        raise invalid(f"Invalid {what} {arn!r}: expected a bucket ARN such as arn:aws:s3:::my-bucket.")
    problem = bucket_name_problem(match.group("bucket"))
    if problem:
        raise invalid(f"Invalid {what} {arn!r}: {problem}.")
    return match.group("bucket")


def _require(container: dict[str, Any], name: str, where: str) -> Any:
    if container.get(name) is None:
        raise invalid(f"Missing required parameter {where}{name}.")
    return container[name]


def validate_create_job(params: dict[str, Any]) -> None:
    """Check a CreateJob request as AWS does; raise ``S3ControlError`` naming the value and the rule."""
    for name in ("AccountId", "Operation", "Report", "ClientRequestToken", "Priority", "RoleArn"):
        _require(params, name, "")
    token = params["ClientRequestToken"]
    if not 1 <= len(token) <= 64:
        raise invalid(f"Invalid ClientRequestToken of {len(token)} characters: it must be 1 to 64.")
    _check_priority(params["Priority"])
    role_arn = params["RoleArn"]
    if not (1 <= len(role_arn) <= 2048 and ROLE_ARN_PATTERN.fullmatch(role_arn)):
        raise invalid(
            f"Invalid RoleArn {role_arn!r}: "
            "it must match arn:<partition>:iam::<12-digit account>:role/<name>."
        )
    description = params.get("Description")
    if description is not None and not 1 <= len(description) <= 256:
        raise invalid(f"Invalid Description of {len(description)} characters: it must be 1 to 256.")
    tags = params.get("Tags") or []
    if len(tags) > MAX_JOB_TAGS:
        raise invalid(f"Invalid Tags: a job has at most {MAX_JOB_TAGS} tags, {len(tags)} were given.")
    _check_job_tags(tags)
    _validate_operation(params["Operation"])
    _validate_report(params["Report"])
    has_manifest = params.get("Manifest") is not None
    has_generator = params.get("ManifestGenerator") is not None
    if has_manifest == has_generator:
        raise invalid(
            "A job needs exactly one of Manifest or ManifestGenerator; "
            f"this request has {'both' if has_manifest else 'neither'}."
        )
    if has_manifest:
        _validate_manifest(params["Manifest"])
    else:
        _validate_generator(params["ManifestGenerator"])


def _validate_operation(operation: dict[str, Any]) -> None:
    chosen = [name for name, value in operation.items() if value is not None]
    if len(chosen) != 1:
        raise invalid(f"Operation must name exactly one operation; this request names {len(chosen)}.")
    name = chosen[0]
    if name not in SUPPORTED_OPERATIONS:
        raise S3ControlError(
            "NotImplemented",
            f"The local S3 Control emulator does not run {name} jobs; "
            f"it runs {' and '.join(SUPPORTED_OPERATIONS)}.",
            501,
        )
    if name == "S3PutObjectTagging":
        problem = tag_list_problem(operation[name].get("TagSet") or [], limit=OBJECT_TAGS_LIMIT)
        if problem:
            raise invalid(f"Invalid Operation.S3PutObjectTagging.TagSet: {problem}.")


def _validate_report(report: dict[str, Any]) -> None:
    enabled = _require(report, "Enabled", "Report.")
    if report.get("ReportScope") is not None and report["ReportScope"] not in ("AllTasks", "FailedTasksOnly"):
        raise invalid(
            f"Invalid Report.ReportScope {report['ReportScope']!r}: choose AllTasks or FailedTasksOnly."
        )
    prefix = report.get("Prefix")
    if prefix is not None and not 1 <= len(prefix) <= 512:
        raise invalid(f"Invalid Report.Prefix of {len(prefix)} characters: it must be 1 to 512.")
    if report.get("ExpectedBucketOwner") is not None and not ACCOUNT_ID_PATTERN.fullmatch(
        report["ExpectedBucketOwner"]
    ):
        raise invalid(
            f"Invalid Report.ExpectedBucketOwner {report['ExpectedBucketOwner']!r}: 12 digits expected."
        )
    if not enabled:
        return
    _bucket_of_arn(_require(report, "Bucket", "Report."), "Report.Bucket")
    report_format = _require(report, "Format", "Report.")
    if report_format != REPORT_FORMAT:
        raise invalid(f"Invalid Report.Format {report_format!r}: the only format is {REPORT_FORMAT}.")


def _validate_manifest(manifest: dict[str, Any]) -> None:
    spec = _require(manifest, "Spec", "Manifest.")
    location = _require(manifest, "Location", "Manifest.")
    manifest_format = _require(spec, "Format", "Manifest.Spec.")
    if manifest_format not in (CSV_MANIFEST_FORMAT, INVENTORY_MANIFEST_FORMAT):
        raise invalid(
            f"Invalid Manifest.Spec.Format {manifest_format!r}: choose {CSV_MANIFEST_FORMAT} or "
            f"{INVENTORY_MANIFEST_FORMAT}."
        )
    if manifest_format == CSV_MANIFEST_FORMAT:
        fields = _require(spec, "Fields", "Manifest.Spec.")
        if fields not in CSV_FIELD_ORDERS:
            raise S3ControlError(
                "NotImplemented",
                "The local emulator reads CSV manifests with Fields [Bucket, Key] or "
                f"[Bucket, Key, VersionId], not {fields}.",
                501,
            )
    arn = _require(location, "ObjectArn", "Manifest.Location.")
    match = OBJECT_ARN_PATTERN.fullmatch(arn)
    if not match or bucket_name_problem(match.group("bucket")):
        raise invalid(
            f"Invalid Manifest.Location.ObjectArn {arn!r}: "
            "expected an object ARN such as arn:aws:s3:::bucket/key."
        )
    etag = _require(location, "ETag", "Manifest.Location.")
    if not 1 <= len(etag) <= 1024:
        raise invalid("Invalid Manifest.Location.ETag: it must be 1 to 1024 characters.")


def _validate_generator(generator: dict[str, Any]) -> None:
    s3_generator = generator.get("S3JobManifestGenerator")
    if s3_generator is None:
        raise invalid("ManifestGenerator must hold an S3JobManifestGenerator.")
    where = "ManifestGenerator.S3JobManifestGenerator."
    _bucket_of_arn(_require(s3_generator, "SourceBucket", where), f"{where}SourceBucket")
    if _require(s3_generator, "EnableManifestOutput", where):
        output = _require(s3_generator, "ManifestOutputLocation", where)
        _bucket_of_arn(
            _require(output, "Bucket", f"{where}ManifestOutputLocation."), "ManifestOutputLocation.Bucket"
        )
        manifest_format = _require(output, "ManifestFormat", f"{where}ManifestOutputLocation.")
        if manifest_format != GENERATED_MANIFEST_FORMAT:
            raise invalid(
                f"Invalid ManifestOutputLocation.ManifestFormat {manifest_format!r}: "
                f"the only format is {GENERATED_MANIFEST_FORMAT}."
            )
        prefix = output.get("ManifestPrefix")
        if prefix is not None and not 1 <= len(prefix) <= 512:
            raise invalid(
                f"Invalid ManifestOutputLocation.ManifestPrefix of {len(prefix)} characters: 1 to 512."
            )
    flt = s3_generator.get("Filter") or {}
    unsupported = [name for name in UNSUPPORTED_FILTERS if flt.get(name) is not None]
    if unsupported:
        raise S3ControlError(
            "NotImplemented",
            f"The local emulator does not apply the manifest generator filter(s) {', '.join(unsupported)}.",
            501,
        )
    for name in ("ObjectSizeGreaterThanBytes", "ObjectSizeLessThanBytes"):
        if flt.get(name) is not None and flt[name] < 0:
            raise invalid(f"Invalid Filter.{name} {flt[name]}: it must not be negative.")
