"""Lineage of tagging runs: which S3 locations a run read and re-tagged, for OpenLineage and Airflow.

Two consumers, one vocabulary:

- OpenLineage (``apache-airflow-providers-openlineage``, optional: the ``openlineage`` extra): the
  operators' ``get_openlineage_facets_on_complete`` return :func:`operator_lineage`, whose datasets are
  named as the Amazon provider names S3 (namespace ``s3://bucket``, name the key or prefix, ``/`` for
  a whole bucket) and whose run carries the :class:`S3TaggingRunFacet` built by
  :func:`tagging_run_facet`.
- Airflow's hook-level lineage: the hooks report what they read and write through
  :func:`add_hook_input` / :func:`add_hook_output` (``get_hook_lineage_collector()``).

Both work at bucket/prefix level, never per object: a run can tag millions of objects, and the
collector keeps at most ``[lineage] max_assets_per_collector`` (100) assets per task anyway.
:class:`LocationTracker` folds the objects a run touches into one common prefix per bucket.

Nothing here imports OpenLineage at module import time: without the provider, the package behaves as
it always did (hook-level lineage needs only Airflow).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import attr

from airflow_s3_batch_tagging.batch_jobs import job_counts, job_report_location
from airflow_s3_batch_tagging.objects import ObjectRef, S3Location, parse_bucket_arn
from airflow_s3_batch_tagging.report import report_job_prefix

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence

    from airflow.providers.common.compat.openlineage.facet import Dataset
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_s3_batch_tagging.tagging_engine import TaggingItem, TaggingResult

try:  # openlineage-python comes with the OpenLineage provider; without it the facet is never built.
    from openlineage.client.generated.base import RunFacet as _RunFacetBase
except ImportError:  # pragma: no cover - depends on the installed extras
    _RunFacetBase = object  # type: ignore[assignment,misc]

TAGGING_FACET_NAME = "s3Tagging"
"""The key of :class:`S3TaggingRunFacet` among the run facets."""
TAGGING_FACET_SCHEMA = "urn:airflow-s3-batch-tagging:openlineage:S3TaggingRunFacet:1-0-0"
"""``$id`` of the facet's JSON schema, shipped as ``S3TaggingRunFacet.json`` beside this module."""
MAX_TAG_KEYS = 100
"""Tag keys listed in the facet at most (per-object tag sets of a large batch can name many)."""

_Item = TypeVar("_Item")


@attr.define
class S3TaggingRunFacet(_RunFacetBase):
    """What a tagging run did: path, mode, tag keys, object counts and the Batch Operations job.

    :param path: ``batch`` (an S3 Batch Operations job) or ``direct`` (``PutObjectTagging`` per object).
    :param mode: ``replace``, ``merge``, ``remove``, ``delete`` or ``restore`` (from an undo log).
    :param tagKeys: the tag keys written or removed, sorted (never their values).
    :param tagKeysTruncated: more keys than ``MAX_TAG_KEYS`` were involved; the rest are left out.
    :param dryRun: the run only read and reported (direct path).
    :param objectsTotal: objects (batch: the job's tasks) in the run.
    :param objectsSucceeded: objects tagged without error.
    :param objectsFailed: objects that failed.
    :param objectsChanged: objects whose tag set changed (direct path).
    :param objectsUnchanged: objects written that already had the resulting tags (direct path).
    :param objectsSkipped: objects not written because their tags were already right (direct path).
    :param batchJobId: the S3 Batch Operations job id (batch path).
    :param batchJobStatus: the job's status when the task ended (batch path).
    """

    # OpenLineage facets name their fields in camelCase.
    path: str
    mode: str
    tagKeys: list[str] = attr.field(factory=list)
    tagKeysTruncated: bool = False
    dryRun: bool = False
    objectsTotal: int | None = None
    objectsSucceeded: int | None = None
    objectsFailed: int | None = None
    objectsChanged: int | None = None
    objectsUnchanged: int | None = None
    objectsSkipped: int | None = None
    batchJobId: str | None = None
    batchJobStatus: str | None = None

    @staticmethod
    def _get_schema() -> str:
        return f"{TAGGING_FACET_SCHEMA}#/$defs/S3TaggingRunFacet"


# -- locations --------------------------------------------------------------------------------------


class LocationTracker:
    """Folds objects into one location per bucket: the longest ``/``-ended prefix common to its keys.

    A single object stays its own key. Memory is one prefix per bucket, whatever the object count.
    """

    def __init__(self) -> None:
        self._prefixes: dict[str, str] = {}
        self._single: dict[str, bool] = {}

    def add(self, ref: ObjectRef) -> None:
        known = self._prefixes.get(ref.bucket)
        if known is None:
            self._prefixes[ref.bucket] = ref.key
            self._single[ref.bucket] = True
            return
        if ref.key == known or (not self._single[ref.bucket] and ref.key.startswith(known)):
            return  # the usual case once folded: one C-level check per object
        common = _common_prefix(known, ref.key)
        self._prefixes[ref.bucket] = common[: common.rfind("/") + 1]
        self._single[ref.bucket] = False

    def track(self, items: Iterable[_Item], ref_of: Any = None) -> Iterator[_Item]:
        """Yield ``items`` unchanged, adding each one's object (``ref_of(item)``, default the item)."""
        for item in items:
            self.add(ref_of(item) if ref_of is not None else item)  # type: ignore[arg-type]
            yield item

    def locations(self) -> list[S3Location]:
        """One location per bucket, sorted by bucket."""
        return [S3Location(bucket, self._prefixes[bucket]) for bucket in sorted(self._prefixes)]


def _common_prefix(first: str, second: str) -> str:
    size = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        size += 1
    return first[:size]


def object_locations(refs: Iterable[ObjectRef]) -> list[S3Location]:
    """The bucket/prefix locations of ``refs`` (see :class:`LocationTracker`)."""
    tracker = LocationTracker()
    for ref in refs:
        tracker.add(ref)
    return tracker.locations()


def location_from_arn(arn: str) -> S3Location | None:
    """The location of an S3 bucket or object ARN (``arn:aws:s3:::bucket[/key]``), None if not one."""
    bucket_arn, _, key = str(arn).partition("/")
    parsed = parse_bucket_arn(bucket_arn)
    return S3Location(parsed[1], key) if parsed is not None and parsed[1] else None


def batch_job_locations(job: Mapping[str, Any]) -> tuple[list[S3Location], list[S3Location]]:
    """What an S3 Batch Operations job reads and writes, from ``DescribeJob``'s ``Job`` (or a
    ``CreateJob`` request with its ``JobId``: the members used have the same shapes).

    Inputs: the manifest object, or the bucket (prefixes) a manifest generator lists. Outputs: for a
    generator, the same bucket (prefixes), whose objects the job tags; the completion report's
    ``job-<id>`` prefix. The objects of a manifest are not read here (a manifest can list millions).
    """
    inputs: list[S3Location] = []
    outputs: list[S3Location] = []
    manifest_arn = ((job.get("Manifest") or {}).get("Location") or {}).get("ObjectArn")
    manifest = location_from_arn(manifest_arn) if manifest_arn else None
    if manifest is not None:
        inputs.append(manifest)
    generator = (job.get("ManifestGenerator") or {}).get("S3JobManifestGenerator") or {}
    source = location_from_arn(str(generator.get("SourceBucket") or ""))
    if source is not None:
        key_filter = (generator.get("Filter") or {}).get("KeyNameConstraint") or {}
        listed = [
            S3Location(source.bucket, str(prefix)) for prefix in key_filter.get("MatchAnyPrefix") or [""]
        ]
        inputs.extend(listed)
        outputs.extend(listed)
    report = job_report_location(job)
    if report is not None and job.get("JobId"):
        outputs.append(S3Location(report.bucket, report_job_prefix(report, str(job["JobId"])) + "/"))
    return inputs, outputs


def unique_locations(locations: Iterable[S3Location]) -> list[S3Location]:
    """``locations`` without repeats, in their first order."""
    return list(dict.fromkeys(locations))


# -- OpenLineage --------------------------------------------------------------------------------------


def s3_dataset(location: S3Location) -> Dataset:
    """An OpenLineage dataset named as the Amazon provider names S3: the key or prefix without a
    trailing ``/`` (as Airflow normalizes an ``s3://bucket/prefix/`` asset), ``/`` for a whole bucket.
    So a hook's asset and an operator's dataset of one location are one dataset in a lineage graph."""
    from airflow.providers.common.compat.openlineage.facet import Dataset

    return Dataset(namespace=f"s3://{location.bucket}", name=location.prefix.rstrip("/") or "/")


def tagging_run_facet(
    *,
    path: str,
    mode: str,
    tag_key_sets: Iterable[Iterable[str] | None] = (),
    counts: Mapping[str, Any] | None = None,
    dry_run: bool = False,
    job_id: str | None = None,
    job_status: str | None = None,
) -> S3TaggingRunFacet:
    """The one place that builds :class:`S3TaggingRunFacet`.

    Only tag *keys* go in, never values: lineage events leave the deployment (to Marquez, DataHub,
    a vendor's backend) and are read by people who may not read the bucket, while tag values often
    hold private data (an owner's e-mail, a legal-hold reason, a data classification label). The
    key sets are taken as iterables of keys so that no tag value can reach this function.

    :param counts: the direct path's result (``total``, ``changed``, ``unchanged``, ``skipped``,
        ``failed``) or the batch path's (``tasks_total``, ``tasks_succeeded``, ``tasks_failed``).
    """
    keys: set[str] = set()
    for key_set in tag_key_sets:
        keys.update(str(key) for key in key_set or ())
    ordered = sorted(keys)
    counts = counts or {}

    def count(name: str) -> int | None:
        value = counts.get(name)
        return int(value) if value is not None else None

    batch = "tasks_total" in counts
    total = count("tasks_total" if batch else "total")
    failed = count("tasks_failed" if batch else "failed")
    if batch:
        succeeded = count("tasks_succeeded")
    else:
        succeeded = total - failed if total is not None and failed is not None else None
    return S3TaggingRunFacet(
        path=path,
        mode=str(mode),
        tagKeys=ordered[:MAX_TAG_KEYS],
        tagKeysTruncated=len(ordered) > MAX_TAG_KEYS,
        dryRun=bool(dry_run),
        objectsTotal=total,
        objectsSucceeded=succeeded,
        objectsFailed=failed,
        objectsChanged=None if batch else count("changed"),
        objectsUnchanged=None if batch else count("unchanged"),
        objectsSkipped=None if batch else count("skipped"),
        batchJobId=job_id,
        batchJobStatus=job_status,
    )


def operator_lineage(
    inputs: Sequence[S3Location], outputs: Sequence[S3Location], facet: S3TaggingRunFacet
) -> OperatorLineage:
    """The ``OperatorLineage`` an operator's ``get_openlineage_facets_on_complete`` returns."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage(
        inputs=[s3_dataset(location) for location in unique_locations(inputs)],
        outputs=[s3_dataset(location) for location in unique_locations(outputs)],
        run_facets={TAGGING_FACET_NAME: facet},
    )


# -- hook-level lineage -------------------------------------------------------------------------------


def add_hook_input(hook: Any, location: S3Location) -> None:
    """Report that ``hook`` read ``location`` (an object key or a prefix) to Airflow's collector."""
    from airflow.providers.common.compat.lineage.hook import get_hook_lineage_collector

    get_hook_lineage_collector().add_input_asset(
        context=hook, scheme="s3", asset_kwargs={"bucket": location.bucket, "key": location.prefix}
    )


def add_hook_output(hook: Any, location: S3Location) -> None:
    """Report that ``hook`` wrote (or re-tagged the objects below) ``location`` to Airflow's collector."""
    from airflow.providers.common.compat.lineage.hook import get_hook_lineage_collector

    get_hook_lineage_collector().add_output_asset(
        context=hook, scheme="s3", asset_kwargs={"bucket": location.bucket, "key": location.prefix}
    )


def batch_job_lineage(
    job: Mapping[str, Any] | None,
    *,
    mode: str,
    tags: Iterable[str] | None = None,
    tagged: Iterable[ObjectRef] = (),
) -> OperatorLineage:
    """Lineage of a batch tagging task from its described job (None: no job was created).

    :param tags: the tag set (or its keys) the job writes.
    :param tagged: the objects the task wrote into the manifest, when it wrote one.
    """
    if job is None:
        return operator_lineage([], [], tagging_run_facet(path="batch", mode=mode, tag_key_sets=[tags]))
    inputs, outputs = batch_job_locations(job)
    facet = tagging_run_facet(
        path="batch",
        mode=mode,
        tag_key_sets=[tags],
        counts=job_counts(job),
        job_id=job.get("JobId"),
        job_status=job.get("Status"),
    )
    return operator_lineage(inputs, [*object_locations(tagged), *outputs], facet)


def direct_run_lineage(
    *,
    mode: str,
    tags: Iterable[str] | None,
    items: Sequence[TaggingItem],
    result: TaggingResult | None,
    inputs: Sequence[S3Location] = (),
) -> OperatorLineage:
    """Lineage of a direct tagging (or restore) task: ``inputs`` read, the objects' locations and the
    undo log written (nothing is written in a dry run), counts from ``result`` when the run ended."""
    dry_run = bool(result is not None and result.dry_run)
    outputs: list[S3Location] = []
    if result is not None and not dry_run:
        outputs.extend(object_locations(ref for ref, _own in items))
        if result.undo_log:
            outputs.append(S3Location.from_uri(result.undo_log, what="undo log"))
    facet = tagging_run_facet(
        path="direct",
        mode=mode,
        tag_key_sets=[tags, *(own for _ref, own in items)],
        counts=result.to_dict() if result is not None else None,
        dry_run=dry_run,
    )
    return operator_lineage(inputs, outputs, facet)
