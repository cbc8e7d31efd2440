"""S3 Batch Operations jobs as the emulator keeps them: each job's request and state, and the store.

The models, as moto keeps a service's models apart from its behaviour: a ``Job`` answers
DescribeJob and ListJobs from its state, and the ``JobStore`` holds the jobs, their idempotency
tokens and their runner threads. What a job does while it runs is ``testing.runner``'s.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_s3_batch_tagging.testing.formats import (
    GENERATED_MANIFEST_FORMAT,
    REPORT_FORMAT,
    ReportRow,
    S3Object,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

TERMINAL_STATUSES = frozenset({"Complete", "Cancelled", "Failed"})
CANCELLABLE_STATUSES = frozenset({"New", "Preparing", "Suspended", "Ready", "Active", "Pausing", "Paused"})
__all__ = ["GENERATED_MANIFEST_FORMAT", "REPORT_FORMAT", "Job", "JobStore"]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class TaskResult:
    """How one task (one object) ended."""

    obj: S3Object
    succeeded: bool
    http_status: int
    error_code: str = ""
    message: str = "Successful"

    def report_row(self) -> ReportRow:
        return ReportRow(self.obj, self.succeeded, self.http_status, self.error_code, self.message)


@dataclass
class Job:
    """One job's request and state. Read and change it only while holding the store's lock."""

    job_id: str
    account_id: str
    region: str
    request: dict[str, Any]
    status: str = "New"
    status_update_reason: str | None = None
    priority: int = 0
    creation_time: dt.datetime = field(default_factory=utcnow)
    termination_date: dt.datetime | None = None
    suspended_date: dt.datetime | None = None
    suspended_cause: str | None = None
    failure_reasons: list[dict[str, str]] = field(default_factory=list)
    total_tasks: int | None = None
    succeeded: int = 0
    failed: int = 0
    active_since: float | None = None
    active_seconds: float = 0.0
    tags: list[dict[str, str]] = field(default_factory=list)
    generated_manifest: dict[str, Any] | None = None
    cancel_requested: bool = False
    confirmed: bool = False
    results: list[TaskResult] = field(default_factory=list)
    history: list[str] = field(default_factory=lambda: ["New"])
    report_manifest_key: str | None = None

    def set_status(self, status: str, reason: str | None = None) -> None:
        """Record a status change (store lock held)."""
        self.status = status
        if self.history[-1] != status:
            self.history.append(status)
        if reason:
            self.status_update_reason = reason

    @property
    def confirmation_required(self) -> bool:
        return bool(self.request.get("ConfirmationRequired", True))

    @property
    def operation_name(self) -> str:
        return next(iter(self.request["Operation"]))

    @property
    def arn(self) -> str:
        return f"arn:aws:s3:{self.region}:{self.account_id}:job/{self.job_id}"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def _elapsed_active(self) -> int:
        running = time.monotonic() - self.active_since if self.active_since is not None else 0.0
        return int(self.active_seconds + running)

    def progress_summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "NumberOfTasksSucceeded": self.succeeded,
            "NumberOfTasksFailed": self.failed,
            "Timers": {"ElapsedTimeInActiveSeconds": self._elapsed_active()},
        }
        if self.total_tasks is not None:
            summary["TotalNumberOfTasks"] = self.total_tasks
        return summary

    def describe(self) -> dict[str, Any]:
        """The ``JobDescriptor`` DescribeJob answers."""
        request = self.request
        descriptor: dict[str, Any] = {
            "JobId": self.job_id,
            "ConfirmationRequired": self.confirmation_required,
            "Description": request.get("Description"),
            "JobArn": self.arn,
            "Status": self.status,
            "Manifest": request.get("Manifest"),
            "ManifestGenerator": request.get("ManifestGenerator"),
            "Operation": request["Operation"],
            "Priority": self.priority,
            "ProgressSummary": self.progress_summary(),
            "StatusUpdateReason": self.status_update_reason,
            "FailureReasons": self.failure_reasons or None,
            "Report": request["Report"],
            "CreationTime": self.creation_time,
            "TerminationDate": self.termination_date,
            "RoleArn": request["RoleArn"],
            "SuspendedDate": self.suspended_date,
            "SuspendedCause": self.suspended_cause,
            "GeneratedManifestDescriptor": self.generated_manifest,
        }
        return {name: value for name, value in descriptor.items() if value is not None}

    def list_descriptor(self) -> dict[str, Any]:
        """The ``JobListDescriptor`` ListJobs answers."""
        descriptor: dict[str, Any] = {
            "JobId": self.job_id,
            "Description": self.request.get("Description"),
            "Operation": self.operation_name,
            "Priority": self.priority,
            "Status": self.status,
            "CreationTime": self.creation_time,
            "TerminationDate": self.termination_date,
            "ProgressSummary": self.progress_summary(),
        }
        return {name: value for name, value in descriptor.items() if value is not None}


S3ClientFactory = Callable[[], "S3Client"]


class JobStore:
    """All jobs of the emulator, their idempotency tokens and their runner threads.

    :param s3_client_factory: builds the boto3 S3 client a job's runner uses.
    :param job_step_delay: seconds to pause between status steps and between task chunks.
    :param tasks_per_step: tasks run between two progress updates (and pauses).
    """

    def __init__(
        self,
        s3_client_factory: S3ClientFactory,
        *,
        account_id: str,
        region: str,
        job_step_delay: float = 0.0,
        tasks_per_step: int = 10,
    ) -> None:
        if job_step_delay < 0:
            raise ValueError(f"Invalid job_step_delay {job_step_delay!r}: it must not be negative.")
        if tasks_per_step < 1:
            raise ValueError(f"Invalid tasks_per_step {tasks_per_step!r}: it must be at least 1.")
        self.s3_client_factory = s3_client_factory
        self.account_id = account_id
        self.region = region
        self.job_step_delay = job_step_delay
        self.tasks_per_step = tasks_per_step
        self.condition = threading.Condition()
        self._jobs: dict[str, Job] = {}
        self._tokens: dict[str, tuple[str, str]] = {}
        self._threads: list[threading.Thread] = []
        self._s3: S3Client | None = None
        self.stopping = False

    def s3_client(self) -> S3Client:
        """The S3 client job runners share (boto3 clients are safe to use from several threads)."""
        with self.condition:
            if self._s3 is None:
                self._s3 = self.s3_client_factory()
            return self._s3

    # -- lookups for the emulator and for tests --------------------------------------------
    def __len__(self) -> int:
        with self.condition:
            return len(self._jobs)

    def __iter__(self) -> Iterator[Job]:
        return iter(self.list())

    def __contains__(self, job_id: object) -> bool:
        with self.condition:
            return job_id in self._jobs

    def __getitem__(self, job_id: str) -> Job:
        return self.get(job_id)

    def get(self, job_id: str) -> Job:
        """The job, or ``KeyError``."""
        with self.condition:
            return self._jobs[job_id]

    def list(self, statuses: set[str] | frozenset[str] | None = None) -> list[Job]:
        """Jobs, newest first, optionally only those in ``statuses``."""
        with self.condition:
            jobs = list(reversed(self._jobs.values()))
        return [job for job in jobs if statuses is None or job.status in statuses]

    def describe(self, job_id: str) -> dict[str, Any]:
        with self.condition:
            return self._jobs[job_id].describe()

    def wait_for(self, job_id: str, *statuses: str, timeout: float = 30.0) -> Job:
        """Block until the job reaches one of ``statuses`` (default: a terminal one); return it."""
        wanted = set(statuses) or set(TERMINAL_STATUSES)
        with self.condition:
            job = self._jobs[job_id]
            if not self.condition.wait_for(lambda: job.status in wanted, timeout=timeout):
                raise TimeoutError(
                    f"Job {job_id} is {job.status} after {timeout}s; expected one of {sorted(wanted)}."
                )
            return job

    # -- changes -----------------------------------------------------------------------------
    def create(self, request: dict[str, Any], fingerprint: str) -> tuple[Job, bool]:
        """Create and start a job, or return the one made earlier with the same token and request.

        Returns ``(job, created)``; raises ``ValueError`` when the token was used for another request.
        """
        token = request["ClientRequestToken"]
        # Imported here: the runner imports this module's models.
        from airflow_s3_batch_tagging.testing.runner import JobRunner

        with self.condition:
            known = self._tokens.get(token)
            if known is not None:
                known_fingerprint, job_id = known
                if known_fingerprint != fingerprint:
                    raise ValueError(token)
                return self._jobs[job_id], False
            job = Job(
                job_id=str(uuid.uuid4()),
                account_id=self.account_id,
                region=self.region,
                request=request,
                priority=int(request["Priority"]),
                tags=list(request.get("Tags") or []),
            )
            self._jobs[job.job_id] = job
            self._tokens[token] = (fingerprint, job.job_id)
            runner = threading.Thread(
                target=JobRunner(self, job).run, name=f"s3-batch-job-{job.job_id[:8]}", daemon=True
            )
            self._threads.append(runner)
        runner.start()
        return job, True

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every runner to leave and wait for them."""
        with self.condition:
            self.stopping = True
            self.condition.notify_all()
            threads = list(self._threads)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
