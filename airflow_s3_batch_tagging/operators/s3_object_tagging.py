"""Operators for the direct path: tag objects with ``PutObjectTagging``, restore from an undo log,
and a TaskFlow task that plans batches for dynamic task mapping."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowException, task

from airflow_s3_batch_tagging.accounts import validate_expected_bucket_owner
from airflow_s3_batch_tagging.batch_jobs import validate_report_scope
from airflow_s3_batch_tagging.conditions import TagCondition
from airflow_s3_batch_tagging.errors import InvalidObjectRefError, InvalidTagError, S3TaggingInputError
from airflow_s3_batch_tagging.hooks.s3_object_tagging import (
    DEFAULT_ENGINE,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_RETRY_MODE,
    S3ObjectTaggingHook,
)
from airflow_s3_batch_tagging.manifest import ManifestRange
from airflow_s3_batch_tagging.objects import S3Location, validate_bucket_name
from airflow_s3_batch_tagging.planning import (
    DEFAULT_BATCH_SIZE,
    is_batch_reference,
    parse_object_entries,
    plan_batches,  # noqa: F401  (imported from here by callers; plan_tagging_batches plans through tagging_plan)
)
from airflow_s3_batch_tagging.report import (
    failures_tolerated,
    intolerable_failures_message,
    validate_failure_tolerance,
)
from airflow_s3_batch_tagging.report_writer import DirectReportWriter, direct_report_job_id
from airflow_s3_batch_tagging.tagging_engine import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_CONCURRENCY,
    Progress,
    TaggingResult,
)
from airflow_s3_batch_tagging.tags import TaggingMode, TagSet
from airflow_s3_batch_tagging.undo import UndoLogWriter, first_records, undo_task_location

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_s3_batch_tagging.tagging_engine import TaggingItem


# Airflow's key for a task's return value (BaseXCom.XCOM_RETURN_KEY on 3.x, utils.xcom on 2.x).
XCOM_RETURN_KEY = "return_value"


def _as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    raise S3TaggingInputError(f"Invalid {name} {value!r}: expected True or False.")


class _DirectTaggingOperator(AwsBaseOperator[S3ObjectTaggingHook]):
    """What the tagging and restore operators share: the client and tolerance parameters, their
    up-front checks, progress logs and the final judgement.

    The shared parameters are declared here only; each operator takes its own plus ``**kwargs``
    (as the Amazon provider's operators do) and documents the whole list in its docstring.
    """

    aws_hook_class = S3ObjectTaggingHook
    ui_color = "#ffd59e"

    def __init__(
        self,
        *,
        expected_bucket_owner: str | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        skip_unchanged: bool = False,
        dry_run: bool = False,
        max_failed_objects: int = 0,
        max_failure_ratio: float = 0.0,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        retry_mode: str = DEFAULT_RETRY_MODE,
        engine: str = DEFAULT_ENGINE,
        progress_interval: float = 30.0,
        only_if_tags: Any = None,
        unless_tag_keys: Any = None,
        report_location: str | None = None,
        report_scope: str = "FailedTasksOnly",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.report_location = report_location
        self.report_scope = report_scope
        self.expected_bucket_owner = expected_bucket_owner
        self.concurrency = concurrency
        self.skip_unchanged = skip_unchanged
        # Shadows BaseOperator.dry_run(), a template preview Airflow 3 never calls; the name is the API.
        self.dry_run = dry_run  # type: ignore[assignment,method-assign]
        self.max_failed_objects = max_failed_objects
        self.max_failure_ratio = max_failure_ratio
        self.max_attempts = max_attempts
        self.retry_mode = retry_mode
        self.engine = engine
        self.progress_interval = progress_interval
        self.only_if_tags = only_if_tags
        self.unless_tag_keys = unless_tag_keys

    @property
    def _hook_parameters(self) -> dict[str, Any]:
        return {
            **super()._hook_parameters,
            "concurrency": self.concurrency,
            "max_attempts": self.max_attempts,
            "retry_mode": self.retry_mode,
            "engine": self.engine,
            "expected_bucket_owner": self.expected_bucket_owner,
        }

    def _validate_common(self) -> tuple[bool, bool]:
        """Check the shared parameters before any request; return ``(dry_run, skip_unchanged)``."""
        dry_run = _as_bool(self.dry_run, "dry_run")
        skip_unchanged = _as_bool(self.skip_unchanged, "skip_unchanged")
        validate_failure_tolerance(
            self.max_failed_objects, self.max_failure_ratio, count_name="max_failed_objects"
        )
        validate_expected_bucket_owner(self.expected_bucket_owner)
        if self.report_location is not None:
            S3Location.from_uri(self.report_location, what="report_location")
        validate_report_scope(self.report_scope)
        return dry_run, skip_unchanged

    def _condition(self) -> TagCondition | None:
        """The validated ``only_if_tags`` / ``unless_tag_keys`` condition (None: every object), logged."""
        condition = TagCondition.parse(self.only_if_tags, self.unless_tag_keys)
        if condition is not None:
            self.log.info(
                "Condition: %s (read with GetObjectTagging first; the others are skipped_by_condition).",
                condition.describe(),
            )
        return condition

    def _open_report(self, context: Context, dry_run: bool) -> DirectReportWriter | None:
        """The completion report of this try, when ``report_location`` is set (none in a dry run)."""
        if self.report_location is None:
            return None
        if dry_run:
            self.log.info("Dry run: no completion report is written to %s.", self.report_location)
            return None
        ti = context["ti"]
        job_id = direct_report_job_id(
            ti.dag_id,
            ti.task_id,
            ti.run_id,
            getattr(ti, "map_index", -1),
            getattr(ti, "try_number", 1) or 1,
        )
        writer = DirectReportWriter(
            self.hook.conn,
            S3Location.from_uri(self.report_location, what="report_location"),
            job_id,
            scope=self.report_scope,
        )
        self.log.info("Writing the completion report (%s) to %s", self.report_scope, writer.uri)
        return writer

    def _close_report(self, writer: DirectReportWriter | None) -> dict[str, Any]:
        """Finish the report; its location for the result (empty without a report)."""
        if writer is None:
            return {}
        manifest = writer.close()
        self.log.info(
            "Completion report: %s (%s failed, %s succeeded objects)",
            manifest,
            writer.counts["failed"],
            writer.counts["succeeded"],
        )
        return {"report_location": writer.uri, "report_manifest": manifest}

    def _tag_with_report(
        self, context: Context, items: Any, **options: Any
    ) -> tuple[TaggingResult, dict[str, Any]]:
        """``hook.tag_objects`` with this try's completion report written on the way."""
        writer = self._open_report(context, bool(options.get("dry_run")))
        try:
            result = self.hook.tag_objects(items, report=writer, **options)
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
        return result, self._close_report(writer)

    def _log_progress(self, progress: Progress) -> None:
        self.log.info(
            "Tagging progress: %s/%s objects done (%.1f objects/s; requests in flight allowed: %s, "
            "throttled: %.1f%%).",
            progress.done,
            progress.total or "?",
            progress.objects_per_second,
            progress.in_flight_allowed,
            progress.throttled_share * 100,
        )

    def _finish(
        self, result: TaggingResult, context: Context, extra: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Log the outcome and return the result; fail the task when failures exceed the tolerance.

        A failed task still leaves its result in XCom (``return_value``) for a person or a
        downstream task (``trigger_rule="all_done"``) to read.
        """
        self.log.info(
            "%s %s objects in %.1f s: changed=%s unchanged=%s skipped=%s skipped_by_condition=%s failed=%s "
            "retries=%s throttled=%s/%s requests; undo log: %s.",
            "Checked (dry run)" if result.dry_run else "Tagged",
            result.total,
            result.elapsed_seconds,
            result.changed,
            result.unchanged,
            result.skipped,
            result.skipped_by_condition,
            result.failed,
            result.retries,
            result.throttled,
            result.requests,
            result.undo_log or "none",
        )
        if result.failed:
            self.log.warning("Failures by error code: %s", result.failures_by_code)
            for failure in result.first_failures:
                self.log.warning("Failed: %s", failure.describe())
        self._lineage_result = result
        summary = {**result.to_dict(), **(extra or {})}
        if not failures_tolerated(
            result.failed,
            result.total,
            max_failed_tasks=self.max_failed_objects,
            max_failure_ratio=self.max_failure_ratio,
        ):
            if self.do_xcom_push:
                context["ti"].xcom_push(key=XCOM_RETURN_KEY, value=summary)
            raise AirflowException(
                intolerable_failures_message(
                    result.failed,
                    result.total,
                    unit="objects",
                    tolerance={
                        "max_failed_objects": self.max_failed_objects,
                        "max_failure_ratio": self.max_failure_ratio,
                    },
                    failures_by_code=result.failures_by_code,
                    first_failures=[failure.describe() for failure in result.first_failures],
                )
                + (
                    f" Every failed object: {summary['report_manifest']}"
                    if summary.get("report_manifest")
                    else ""
                )
            )
        return summary


class S3PutObjectTaggingOperator(_DirectTaggingOperator):
    """Tag S3 objects directly with ``PutObjectTagging``, concurrently, with merge, remove and undo.

    .. seealso::
        - :external+boto3:py:meth:`S3.Client.put_object_tagging`

    :param objects: what to tag: a list of ``s3://`` URIs, bare keys (with ``bucket``) or dicts with
        ``bucket``, ``key``, optional ``version_id`` and optional per-object ``tags``; or a batch
        reference from :func:`plan_tagging_batches`. (templated)
    :param tags: the tag set, a dict; per-object ``tags`` take precedence. For ``mode="remove"``, the
        tag keys to remove (a list, or a dict whose values are ignored). (templated)
    :param mode: ``replace`` (the default, as S3 Batch Operations: the whole tag set becomes
        ``tags``), ``merge`` (set these keys, keep the others), ``remove`` (drop these keys) or
        ``delete`` (remove every tag; no ``tags``). (templated)
    :param bucket: the bucket of bare keys. (templated)
    :param expected_bucket_owner: account id sent as ``ExpectedBucketOwner``. (templated)
    :param concurrency: requests in flight at most, sharing one S3 client.
    :param skip_unchanged: read each object's tags first and write only objects whose tags change.
        (templated)
    :param dry_run: read and report what would change; write nothing. (templated)
    :param undo_log: an ``s3://bucket/prefix`` below which the previous tag sets are written (JSON
        lines) before objects are changed; see :class:`S3RestoreObjectTaggingOperator`. (templated)
    :param only_if_tags: touch only objects carrying every one of these tags (a dict, same keys and
        values); the others are counted as ``skipped_by_condition`` and neither written nor in the
        undo log. Each object's tags are read first. (templated)
    :param unless_tag_keys: touch only objects carrying none of these tag keys (a list). With
        ``only_if_tags``, both must hold. (templated)
    :param max_failed_objects: how many objects may fail without failing the task.
    :param max_failure_ratio: which share of the objects (0 to 1) may fail without failing the task;
        the task fails only when the failures exceed both limits.
    :param max_attempts: attempts per request, first included (the engine retries throttling,
        5xx, timeouts and resets; requests in flight adapt to S3's ``SlowDown``).
    :param retry_mode: botocore's retry mode of the client reading batches and writing the undo log.
    :param engine: ``auto`` (the default), ``crt``, ``aiobotocore`` or ``threads``. ``crt`` (AWS's
        Common Runtime) takes the least CPU per object; ``aiobotocore`` is coroutines over one
        aiobotocore client (``asyncio`` is an alias); ``threads`` is a thread pool over one boto3 client,
        for moto's in-process ``mock_aws``. ``auto`` runs ``crt`` unless it cannot serve the connection
        (a proxy, anonymous access, no usable awscrt: then ``aiobotocore``; under ``mock_aws``:
        ``threads``), and logs which it chose and why.
    :param chunk_size: objects per chunk: the unit of the undo log.
    :param progress_interval: seconds between progress log lines.
    :param report_location: an ``s3://bucket/prefix`` below which every failed object (with
        ``report_scope="AllTasks"`` every object) is written as the task runs, in the layout of an S3
        Batch Operations completion report (``job-{id}/manifest.json`` and result CSVs), so the
        redrive and the report reader serve it too. Not written in a dry run. (templated)
    :param report_scope: ``FailedTasksOnly`` (default) or ``AllTasks``. (templated)
    :param aws_conn_id: The Airflow connection used for AWS credentials.
    :param region_name: AWS region_name. If not specified then the default boto3 behaviour is used.
    :param verify: Whether or not to verify SSL certificates.
    :param botocore_config: Configuration dictionary (key-values) for botocore client.
    :return: a small dict: ``total``, ``changed``, ``unchanged``, ``skipped``, ``skipped_by_condition``,
        ``failed``, ``written``, ``retries``, ``requests``, ``throttled``, ``transport``,
        ``failures_by_code``, ``first_failures`` (at most 10), ``undo_log``, ``undo_log_parts``, ``dry_run``,
        ``elapsed_seconds``, ``objects_per_second``; with a report, ``report_location`` and
        ``report_manifest``.
    """

    template_fields: Sequence[str] = aws_template_fields(
        "objects",
        "tags",
        "mode",
        "bucket",
        "expected_bucket_owner",
        "skip_unchanged",
        "dry_run",
        "undo_log",
        "only_if_tags",
        "unless_tag_keys",
        "report_location",
        "report_scope",
    )
    template_fields_renderers = {"objects": "json", "tags": "json", "only_if_tags": "json"}

    def __init__(
        self,
        *,
        objects: Any,
        tags: Any = None,
        mode: str = "replace",
        bucket: str | None = None,
        undo_log: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.objects = objects
        self.tags = tags
        self.mode = mode
        self.bucket = bucket
        self.undo_log = undo_log
        self.chunk_size = chunk_size

    def _parse_tags(self, mode: TaggingMode) -> TagSet | None:
        if mode is TaggingMode.DELETE:
            if self.tags:
                # Keys of a dict; a boto3 list of Key/Value dicts as given (dicts do not sort).
                given = sorted(self.tags) if isinstance(self.tags, Mapping) else self.tags
                raise InvalidTagError(
                    f"Conflicting parameters: mode 'delete' removes every tag, but tags "
                    f"{given!r} were given; use mode 'remove' to drop only some keys."
                )
            return None
        if self.tags is None:
            return None
        if mode is TaggingMode.REMOVE and not isinstance(self.tags, Mapping):
            if isinstance(self.tags, str | bytes):
                raise InvalidTagError(f"Invalid tags {self.tags!r}: expected a list of tag keys to remove.")
            tags = TagSet.keys_only(self.tags, context="mode 'remove'")
        else:
            tags = TagSet.parse(self.tags, context="the task's tags")
        if not tags:
            raise InvalidTagError(
                f"Invalid tags {self.tags!r}: mode {mode.value!r} needs at least one tag "
                "(to remove every tag, use mode 'delete')."
            )
        return tags

    def _items(self, mode: TaggingMode) -> list[TaggingItem]:
        objects = self.objects
        if is_batch_reference(objects):
            return [(ref, None) for ref in self.hook.read_batch(objects)]
        if isinstance(objects, str | bytes | Mapping) or not isinstance(objects, Sequence):
            raise InvalidObjectRefError(
                f"Invalid objects of type {type(objects).__name__}: expected a list of s3:// URIs, keys or "
                "dicts, or a batch reference from plan_tagging_batches."
            )
        items = parse_object_entries(
            objects, default_bucket=self.bucket, tags_are_keys=mode is TaggingMode.REMOVE
        )
        if mode is TaggingMode.DELETE:
            for ref, own in items:
                if own:
                    raise InvalidTagError(
                        f"Conflicting parameters: mode 'delete' removes every tag, but object {ref} has its "
                        "own tags."
                    )
        return items

    def _validate(self) -> tuple[TaggingMode, TagSet | None, bool, bool]:
        mode = TaggingMode.parse(self.mode)
        dry_run, skip_unchanged = self._validate_common()
        if self.bucket is not None:
            validate_bucket_name(self.bucket)
        if self.undo_log is not None:
            S3Location.from_uri(self.undo_log, what="undo_log location")
        return mode, self._parse_tags(mode), dry_run, skip_unchanged

    def execute(self, context: Context) -> dict[str, Any]:
        mode, tags, dry_run, skip_unchanged = self._validate()
        condition = self._condition()
        items = self._items(mode)
        self._lineage_items = items
        if mode.needs_tags and tags is None:
            without = next((ref for ref, own in items if own is None), None)
            if without is not None:
                raise InvalidTagError(
                    f"Mode {mode.value!r} needs tags, but no tags were given and object {without} has none "
                    "of its own."
                )
        undo_writer = None
        if self.undo_log is not None and not dry_run:
            ti = context["ti"]
            location = undo_task_location(
                S3Location.from_uri(self.undo_log, what="undo_log location"),
                dag_id=ti.dag_id,
                run_id=ti.run_id,
                task_id=ti.task_id,
                map_index=getattr(ti, "map_index", -1),
                try_number=getattr(ti, "try_number", 1) or 1,
            )
            undo_writer = UndoLogWriter(self.hook.conn, location)
        self.log.info(
            "%s %s objects: mode=%s, concurrency=%s (engine %s), skip_unchanged=%s, undo log: %s.",
            "Checking (dry run)" if dry_run else "Tagging",
            len(items),
            mode.value,
            self.concurrency,
            self.engine,
            skip_unchanged,
            undo_writer.uri if undo_writer else "none",
        )
        result, report = self._tag_with_report(
            context,
            items,
            total=len(items),
            tags=tags,
            mode=mode,
            skip_unchanged=skip_unchanged,
            dry_run=dry_run,
            undo_log=undo_writer,
            expected_bucket_owner=self.expected_bucket_owner,
            chunk_size=self.chunk_size,
            progress=self._log_progress,
            progress_interval=self.progress_interval,
            condition=condition,
        )
        return self._finish(result, context, report)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """Implement _on_complete: a batch reference resolves to objects only in ``execute``."""
        from airflow_s3_batch_tagging.lineage import direct_run_lineage

        try:
            mode = TaggingMode.parse(self.mode)
            mode_name, tags = mode.value, self._parse_tags(mode)
        except S3TaggingInputError:  # the task failed on it before any request: no keys to report
            mode_name, tags = str(self.mode), None
        inputs = []
        if ManifestRange.is_range(self.objects):
            inputs.append(S3Location.from_uri(self.objects["manifest"], what="manifest URI"))
        return direct_run_lineage(
            mode=mode_name,
            tags=tags,
            items=getattr(self, "_lineage_items", []),
            result=getattr(self, "_lineage_result", None),
            inputs=inputs,
        )


def _undo_locations(value: Any) -> list[str]:
    """Undo log URIs from a URI, a tagging result dict, or a list of either (None entries skipped)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        if "undo_log" not in value:
            raise S3TaggingInputError(
                f"Invalid undo_log {value!r}: a dict must be the result of S3PutObjectTaggingOperator."
            )
        return _undo_locations(value["undo_log"])
    try:
        return [uri for item in value for uri in _undo_locations(item)]
    except TypeError:
        raise S3TaggingInputError(
            f"Invalid undo_log {value!r}: expected an s3:// prefix, a tagging result or a list of them."
        ) from None


class S3RestoreObjectTaggingOperator(_DirectTaggingOperator):
    """Re-apply the original tag sets recorded in an undo log by :class:`S3PutObjectTaggingOperator`.

    Every object in the log gets back the tag set it had before it was first changed (objects that
    had none lose their tags). Reading the whole log happens before any write.

    :param undo_log: an ``s3://`` prefix of an undo log (one task try, one task, or a whole run), the
        result dict of :class:`S3PutObjectTaggingOperator`, or a list of those. (templated)
    :param expected_bucket_owner: account id sent as ``ExpectedBucketOwner`` when tagging. (templated)
    :param concurrency: requests in flight at most, sharing one S3 client.
    :param skip_unchanged: read each object's tags first and write only those that differ. (templated)
    :param dry_run: read and report what would change; write nothing. (templated)
    :param only_if_tags: restore only objects now carrying every one of these tags (a dict); the
        others are counted as ``skipped_by_condition``. (templated)
    :param unless_tag_keys: restore only objects now carrying none of these tag keys (a list).
        (templated)
    :param max_failed_objects: how many objects may fail without failing the task.
    :param max_failure_ratio: which share of the objects may fail without failing the task.
    :param max_attempts: attempts per request, first included (the engine retries throttling,
        5xx, timeouts and resets; requests in flight adapt to S3's ``SlowDown``).
    :param retry_mode: botocore's retry mode of the client reading batches and writing the undo log.
    :param engine: ``auto`` (the default), ``crt``, ``aiobotocore`` or ``threads``. ``crt`` (AWS's
        Common Runtime) takes the least CPU per object; ``aiobotocore`` is coroutines over one
        aiobotocore client (``asyncio`` is an alias); ``threads`` is a thread pool over one boto3 client,
        for moto's in-process ``mock_aws``. ``auto`` runs ``crt`` unless it cannot serve the connection
        (a proxy, anonymous access, no usable awscrt: then ``aiobotocore``; under ``mock_aws``:
        ``threads``), and logs which it chose and why.
    :param progress_interval: seconds between progress log lines.
    :param report_location: as :class:`S3PutObjectTaggingOperator`'s. (templated)
    :param report_scope: ``FailedTasksOnly`` (default) or ``AllTasks``. (templated)
    :param aws_conn_id: The Airflow connection used for AWS credentials.
    :param region_name: AWS region_name. If not specified then the default boto3 behaviour is used.
    :param verify: Whether or not to verify SSL certificates.
    :param botocore_config: Configuration dictionary (key-values) for botocore client.
    :return: the same small dict as :class:`S3PutObjectTaggingOperator`.
    """

    template_fields: Sequence[str] = aws_template_fields(
        "undo_log",
        "expected_bucket_owner",
        "skip_unchanged",
        "dry_run",
        "only_if_tags",
        "unless_tag_keys",
        "report_location",
        "report_scope",
    )
    template_fields_renderers = {"only_if_tags": "json"}

    def __init__(self, *, undo_log: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.undo_log = undo_log

    def execute(self, context: Context) -> dict[str, Any]:
        dry_run, skip_unchanged = self._validate_common()
        condition = self._condition()
        locations = [
            S3Location.from_uri(uri, what="undo_log location") for uri in _undo_locations(self.undo_log)
        ]
        if not locations:
            self.log.info("No undo log to restore from (the tagging task wrote none, e.g. a dry run).")
            return TaggingResult(dry_run=dry_run).to_dict()
        records = []
        for location in locations:
            records.extend(self.hook.read_undo_log(location))
        items = [(record.ref, record.tags) for record in first_records(records)]
        self._lineage_items = items
        self.log.info(
            "Restoring the original tags of %s objects from %s.", len(items), ", ".join(map(str, locations))
        )
        result, report = self._tag_with_report(
            context,
            items,
            total=len(items),
            mode=TaggingMode.REPLACE,
            skip_unchanged=skip_unchanged,
            dry_run=dry_run,
            expected_bucket_owner=self.expected_bucket_owner,
            progress=self._log_progress,
            progress_interval=self.progress_interval,
            condition=condition,
        )
        return self._finish(result, context, report)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """Implement _on_complete: the objects are known once the undo log was read in ``execute``."""
        from airflow_s3_batch_tagging.lineage import direct_run_lineage

        return direct_run_lineage(
            mode="restore",
            tags=None,
            items=getattr(self, "_lineage_items", []),
            result=getattr(self, "_lineage_result", None),
            inputs=[
                S3Location.from_uri(uri, what="undo_log location") for uri in _undo_locations(self.undo_log)
            ],
        )


@task
def plan_tagging_batches(
    objects: Sequence[Any] | None = None,
    manifest: str | None = None,
    inventory_manifest: str | None = None,
    bucket: str | None = None,
    prefix: str = "",
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_batch_size: int | None = None,
    aws_conn_id: str | None = "aws_default",
    region_name: str | None = None,
    expected_bucket_owner: str | None = None,
    mode: str = "replace",
    skip_unchanged: Any = False,
    dry_run: Any = False,
    undo_log: str | None = None,
    prices: Any = None,
    max_parallel_tasks: Any = None,
    engine: str = DEFAULT_ENGINE,
) -> list[Any]:
    """TaskFlow task: plan batches of one source (see :func:`plan_batches`) for dynamic task mapping.

    .. code-block:: python

        batches = plan_tagging_batches(manifest="s3://bucket/manifests/today.csv")
        S3PutObjectTaggingOperator.partial(task_id="tag", tags={"tier": "cold"}).expand(objects=batches)

    ``expected_bucket_owner`` is sent as ``ExpectedBucketOwner`` on the manifest reads and listings.

    Beside the batches, a priced plan of the run (objects, requests, fees and duration per path; see
    ``operators.tagging_plan.plan_tagging``) is logged as a table and pushed as the XCom ``estimate``.
    ``mode``, ``skip_unchanged``, ``dry_run`` and ``undo_log`` say what the mapped tagging task will
    do; ``prices`` overrides the package's price table; ``max_parallel_tasks`` is how many mapped
    tasks run at once (else read from Airflow's configuration); ``engine`` is the tagging task's.
    """
    # Imported here: tagging_plan imports this module.
    from airflow_s3_batch_tagging.operators import tagging_plan

    work = tagging_plan.tagging_work(
        mode=mode, skip_unchanged=skip_unchanged, dry_run=dry_run, undo_log=undo_log, objects=objects
    )
    batches, estimate = tagging_plan.plan_and_price(
        objects=objects,
        manifest=manifest,
        inventory_manifest=inventory_manifest,
        bucket=bucket,
        prefix=prefix,
        batch_size=batch_size,
        max_batch_size=max_batch_size,
        aws_conn_id=aws_conn_id,
        region_name=region_name,
        expected_bucket_owner=expected_bucket_owner,
        work=work,
        prices=prices,
        max_parallel_tasks=max_parallel_tasks,
        engine=engine,
    )
    tagging_plan.push_xcom(tagging_plan.ESTIMATE_XCOM_KEY, estimate.to_dict())
    return batches
