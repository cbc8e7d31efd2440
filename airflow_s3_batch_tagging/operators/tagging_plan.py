"""A priced plan before anything is written, and the choice of path it allows.

- ``plan_tagging``: a TaskFlow task that plans the batches of one source (as
  ``plan_tagging_batches``, and returns them), prices both paths, logs the table and picks a path
  (``path_choice``); the XComs ``estimate``, ``path`` and ``reasons`` say so.
- ``choose_tagging_path``: a branch task that follows the planned path to the direct or the batch task.
- ``priced_estimate``: the estimate of planned batches, shared with ``plan_tagging_batches``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from airflow.providers.common.compat.sdk import conf, get_current_context, task

from airflow_s3_batch_tagging.accounts import validate_expected_bucket_owner
from airflow_s3_batch_tagging.estimate import (
    BATCH_OBJECTS_PER_SECOND,
    BATCH_STARTUP_SECONDS,
    S3_WRITES_PER_SECOND,
    EstimateError,
    TaggingEstimate,
    TaggingWork,
    batch_counts,
    estimate_tagging,
)
from airflow_s3_batch_tagging.hooks.s3_object_tagging import DEFAULT_ENGINE, S3ObjectTaggingHook
from airflow_s3_batch_tagging.objects import S3Location
from airflow_s3_batch_tagging.operators.s3_object_tagging import _as_bool
from airflow_s3_batch_tagging.path_choice import (
    DEFAULT_MAX_DIRECT_SECONDS,
    choose_path,
    validate_strategy,
    validate_thresholds,
)
from airflow_s3_batch_tagging.planning import DEFAULT_BATCH_SIZE, plan_batches
from airflow_s3_batch_tagging.pricing import S3Prices, resolve_prices

__all__ = [
    "ESTIMATE_XCOM_KEY",
    "choose_tagging_path",
    "client_region",
    "parallel_tasks",
    "plan_and_price",
    "plan_tagging",
    "priced_estimate",
    "push_xcom",
    "resolve_prices",
    "source_of",
    "tagging_work",
]
from airflow_s3_batch_tagging.tags import TaggingMode

log = logging.getLogger(__name__)

ESTIMATE_XCOM_KEY = "estimate"
PATH_XCOM_KEY = "path"
REASONS_XCOM_KEY = "reasons"


def _has_own_tags(objects: Sequence[Any] | None) -> bool:
    return bool(objects) and any(
        isinstance(entry, Mapping) and entry.get("tags") is not None for entry in objects or ()
    )


def tagging_work(
    *,
    mode: Any = "replace",
    skip_unchanged: Any = False,
    dry_run: Any = False,
    undo_log: str | None = None,
    objects: Sequence[Any] | None = None,
    only_if_tags: Any = None,
    unless_tag_keys: Any = None,
) -> TaggingWork:
    """What the run will do to each object, from the direct operator's parameters (checked here,
    before any request)."""
    return TaggingWork(
        mode=TaggingMode.parse(mode),
        skip_unchanged=_as_bool(skip_unchanged, "skip_unchanged"),
        dry_run=_as_bool(dry_run, "dry_run"),
        undo_log=bool(undo_log),
        per_object_tags=_has_own_tags(objects),
        conditions=bool(only_if_tags) or bool(unless_tag_keys),
    )


def source_of(objects: Any, manifest: Any, inventory_manifest: Any) -> str:
    if objects is not None:
        return "objects"
    if manifest is not None:
        return "manifest"
    if inventory_manifest is not None:
        return "inventory_manifest"
    return "bucket"


def parallel_tasks(max_parallel_tasks: Any = None, *, direct_task_id: str | None = None) -> tuple[int, str]:
    """How many mapped direct tasks Airflow will run at once, and where that figure comes from.

    ``max_parallel_tasks`` when given; else the smallest of ``[core] parallelism``, the DAG's
    ``max_active_tasks`` and the direct task's ``max_active_tis_per_dag`` (when ``direct_task_id``
    names it). Pool slots and the executor's own capacity are not known here.
    """
    if max_parallel_tasks is not None:
        try:
            value = int(max_parallel_tasks)
        except (TypeError, ValueError):
            value = 0
        if isinstance(max_parallel_tasks, bool) or value < 1 or str(value) != str(max_parallel_tasks).strip():
            raise EstimateError(
                f"Invalid max_parallel_tasks {max_parallel_tasks!r}: expected a positive integer."
            )
        return value, "max_parallel_tasks"
    limits = {"[core] parallelism": conf.getint("core", "parallelism", fallback=32)}
    dag = None
    with contextlib.suppress(Exception):  # outside a running task there is no context
        dag = get_current_context()["dag"]
    if dag is not None:
        limits["the DAG's max_active_tasks"] = int(dag.max_active_tasks)
        if direct_task_id and dag.has_task(direct_task_id):
            per_task = getattr(dag.get_task(direct_task_id), "max_active_tis_per_dag", None)
            if per_task:
                limits[f"{direct_task_id}'s max_active_tis_per_dag"] = int(per_task)
    else:
        limits["[core] max_active_tasks_per_dag"] = conf.getint(
            "core", "max_active_tasks_per_dag", fallback=16
        )
    limits = {name: value for name, value in limits.items() if value > 0}  # 0: no limit
    if not limits:
        raise EstimateError("Airflow sets no limit on parallel tasks here: give max_parallel_tasks.")
    name = min(limits, key=lambda key: limits[key])
    return limits[name], f"{name} (pools and executor slots not counted: set max_parallel_tasks)"


def priced_estimate(
    batches: Sequence[Any],
    *,
    source: str,
    work: TaggingWork,
    region: str | None,
    prices: S3Prices | Mapping[str, Any] | None = None,
    max_parallel_tasks: Any = None,
    direct_task_id: str | None = None,
    engine: str = DEFAULT_ENGINE,
    direct_objects_per_second: Any = None,
    s3_writes_per_second: Any = S3_WRITES_PER_SECOND,
    batch_startup_seconds: Any = BATCH_STARTUP_SECONDS,
    batch_objects_per_second: Any = BATCH_OBJECTS_PER_SECOND,
) -> TaggingEstimate:
    """Price planned ``batches`` and log the table (and every fallback) for the operator to read."""
    price_table, price_note = resolve_prices(region, prices)
    running, running_from = parallel_tasks(max_parallel_tasks, direct_task_id=direct_task_id)
    notes = [f"{running} mapped tasks at a time, from {running_from}"]
    if price_note:
        log.warning("Prices: %s.", price_note)
        notes.append(price_note)
    estimate = estimate_tagging(
        batch_counts(batches),
        source=source,
        work=work,
        prices=price_table,
        parallel_tasks=running,
        engine=engine,
        direct_objects_per_second=direct_objects_per_second,
        s3_writes_per_second=s3_writes_per_second,
        batch_startup_seconds=batch_startup_seconds,
        batch_objects_per_second=batch_objects_per_second,
        notes=notes,
    )
    log.info("%s", estimate.table())
    return estimate


def plan_and_price(
    *,
    objects: Sequence[Any] | None,
    manifest: str | None,
    inventory_manifest: str | None,
    bucket: str | None,
    prefix: str,
    batch_size: int,
    max_batch_size: int | None,
    aws_conn_id: str | None,
    region_name: str | None,
    expected_bucket_owner: str | None,
    work: TaggingWork,
    **options: Any,
) -> tuple[list[Any], TaggingEstimate]:
    """Plan the batches of one source (``plan_batches``) and price them (``priced_estimate`` with
    ``options``). Every parameter is checked before the first request."""
    source = source_of(objects, manifest, inventory_manifest)
    validate_expected_bucket_owner(expected_bucket_owner)
    prices, _note = resolve_prices(region_name, options.get("prices"))
    running, _from = parallel_tasks(
        options.get("max_parallel_tasks"), direct_task_id=options.get("direct_task_id")
    )
    rates = {name: options[name] for name in _RATE_OPTIONS if name in options}
    estimate_tagging(
        [], source=source, work=work, prices=prices, parallel_tasks=running, **rates
    )  # checks only
    hook = S3ObjectTaggingHook(
        aws_conn_id=aws_conn_id,
        region_name=region_name,
        concurrency=1,
        expected_bucket_owner=expected_bucket_owner,
    )
    client = None if objects is not None else hook.conn
    read = manifest or inventory_manifest
    if client is not None and read is not None:
        from airflow_s3_batch_tagging.lineage import add_hook_input

        add_hook_input(hook, S3Location.from_uri(read, what="manifest URI"))
    batches = plan_batches(
        client,
        objects=objects,
        manifest=manifest,
        inventory_manifest=inventory_manifest,
        bucket=bucket,
        prefix=prefix,
        batch_size=batch_size,
        max_batch_size=max_batch_size,
    )
    region = client_region(client, region_name, hook)
    return batches, priced_estimate(batches, source=source, work=work, region=region, **options)


_RATE_OPTIONS = (
    "engine",
    "direct_objects_per_second",
    "s3_writes_per_second",
    "batch_startup_seconds",
    "batch_objects_per_second",
)


def push_xcom(key: str, value: Any) -> None:
    """Push ``value`` under ``key`` when running as a task (a plain call has no task instance)."""
    try:
        ti = get_current_context()["ti"]
    except Exception:  # not in a running task: nothing to push to
        return
    ti.xcom_push(key=key, value=value)


def client_region(client: Any, region_name: str | None, hook: S3ObjectTaggingHook) -> str | None:
    """The region the run's requests go to: the client's, the one given, or the connection's."""
    if client is not None:
        return str(client.meta.region_name)
    if region_name:
        return region_name
    with contextlib.suppress(Exception):  # no connection: the prices say which region they used
        return hook.conn_config.region_name
    return None


@task
def plan_tagging(
    objects: Sequence[Any] | None = None,
    manifest: str | None = None,
    inventory_manifest: str | None = None,
    bucket: str | None = None,
    prefix: str = "",
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_batch_size: int | None = None,
    mode: str = "replace",
    skip_unchanged: Any = False,
    dry_run: Any = False,
    undo_log: str | None = None,
    only_if_tags: Any = None,
    unless_tag_keys: Any = None,
    strategy: str = "auto",
    max_direct_seconds: Any = DEFAULT_MAX_DIRECT_SECONDS,
    max_batch_extra_fee: Any = None,
    max_parallel_tasks: Any = None,
    direct_task_id: str | None = None,
    engine: str = DEFAULT_ENGINE,
    prices: S3Prices | Mapping[str, Any] | None = None,
    direct_objects_per_second: Any = None,
    s3_writes_per_second: Any = S3_WRITES_PER_SECOND,
    batch_startup_seconds: Any = BATCH_STARTUP_SECONDS,
    batch_objects_per_second: Any = BATCH_OBJECTS_PER_SECOND,
    aws_conn_id: str | None = "aws_default",
    region_name: str | None = None,
    expected_bucket_owner: str | None = None,
) -> list[Any]:
    """TaskFlow task: plan the batches of one source, price both paths and pick one.

    The source is as for ``plan_tagging_batches`` (one of ``objects``, ``manifest``,
    ``inventory_manifest``, ``bucket`` with ``prefix``); the objects are counted in the planning
    pass, never read twice. ``mode``, ``skip_unchanged``, ``dry_run``, ``undo_log``,
    ``only_if_tags`` and ``unless_tag_keys`` say what the direct task will do (and so which work a
    batch job cannot do). ``strategy`` is ``auto``, ``direct`` or ``batch``; ``auto`` applies
    ``path_choice``'s rules with ``max_direct_seconds`` and ``max_batch_extra_fee``.

    :return: the batches, for ``S3PutObjectTaggingOperator.expand(objects=...)`` (Airflow maps over a
        return value only). The XComs ``estimate`` (``TaggingEstimate.to_dict``), ``path``
        (``direct`` or ``batch``) and ``reasons`` hold the rest: ``plan["path"]`` in a DAG.
    """
    # Every parameter is checked before the first request.
    work = tagging_work(
        mode=mode,
        skip_unchanged=skip_unchanged,
        dry_run=dry_run,
        undo_log=undo_log,
        objects=objects,
        only_if_tags=only_if_tags,
        unless_tag_keys=unless_tag_keys,
    )
    strategy = validate_strategy(strategy, work)
    validate_thresholds(max_direct_seconds, max_batch_extra_fee)
    batches, estimate = plan_and_price(
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
        direct_task_id=direct_task_id,
        engine=engine,
        direct_objects_per_second=direct_objects_per_second,
        s3_writes_per_second=s3_writes_per_second,
        batch_startup_seconds=batch_startup_seconds,
        batch_objects_per_second=batch_objects_per_second,
    )
    choice = choose_path(
        estimate,
        strategy=strategy,
        max_direct_seconds=max_direct_seconds,
        max_batch_extra_fee=max_batch_extra_fee,
    )
    for reason in choice.reasons:
        log.info("Path: %s", reason)
    log.info("Chosen path: %s.", choice.path)
    push_xcom(ESTIMATE_XCOM_KEY, estimate.to_dict())
    push_xcom(PATH_XCOM_KEY, choice.path)
    push_xcom(REASONS_XCOM_KEY, choice.reasons)
    return batches


@task.branch
def choose_tagging_path(path: str, direct_task_id: str, batch_task_id: str) -> str:
    """Branch task: follow ``path`` (``plan_tagging``'s ``path`` XCom) to ``direct_task_id`` or
    ``batch_task_id``; the other is skipped.

    .. code-block:: python

        plan = plan_tagging(bucket="my-data", prefix="exports/", mode="replace")
        choose_tagging_path(plan["path"], direct_task_id="tag_directly", batch_task_id="tag_with_job")
    """
    targets = {"direct": direct_task_id, "batch": batch_task_id}
    if path not in targets:
        raise EstimateError(f"Invalid path {path!r}: expected 'direct' or 'batch' (plan_tagging's path).")
    log.info("Following the %s path: %s.", path, targets[path])
    return targets[path]
