"""Hook for direct object tagging: one S3 client sized for many threads, and the engine over it."""

from __future__ import annotations

import platform
from functools import cached_property
from typing import TYPE_CHECKING, Any

import boto3
import botocore
from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from botocore.config import Config

from airflow_s3_batch_tagging import __version__
from airflow_s3_batch_tagging.direct import DEFAULT_CONCURRENCY, TaggingEngine, TaggingItem, TaggingResult

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from airflow_s3_batch_tagging.objects import ObjectRef, S3Location
    from airflow_s3_batch_tagging.undo import UndoRecord

STATIC_USER_AGENT = (
    f"Boto3/{boto3.__version__} Botocore/{botocore.__version__} Python/{platform.python_version()} "
    f"airflow-s3-batch-tagging/{__version__}"
)
DEFAULT_MAX_ATTEMPTS = 10
DEFAULT_RETRY_MODE = "standard"
RETRY_MODES = ("standard", "adaptive", "legacy")


class S3ObjectTaggingHook(AwsBaseHook):
    """Interact with Amazon S3 object tags through one client shared by ``concurrency`` threads.

    The client gets ``max_pool_connections`` of at least ``concurrency`` and botocore's retries
    (``retry_mode``, ``max_attempts``), merged over the connection's own botocore config.

    :param concurrency: threads that will share the client.
    :param max_attempts: attempts per request, the first included (botocore's ``total_max_attempts``).
    :param retry_mode: botocore's retry mode: ``standard`` or ``adaptive`` (client-side rate limiting).
    :param expected_bucket_owner: account id sent as ``ExpectedBucketOwner`` on every S3 request of the
        client that accepts it (tags, manifest reads, listings, undo log writes and reads).

    Additional arguments (such as ``aws_conn_id``) may be specified and are passed down to the
    underlying AwsBaseHook.

    .. seealso::
        - :class:`airflow.providers.amazon.aws.hooks.base_aws.AwsBaseHook`
    """

    def __init__(
        self,
        *args: Any,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        retry_mode: str = DEFAULT_RETRY_MODE,
        expected_bucket_owner: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs["client_type"] = "s3"
        super().__init__(*args, **kwargs)
        self.concurrency = concurrency
        self.max_attempts = max_attempts
        self.retry_mode = retry_mode
        self.expected_bucket_owner = expected_bucket_owner

    def tagging_config(self) -> Config:
        """The botocore config of the shared client: the connection's, plus pool size and retries."""
        if not isinstance(self.concurrency, int) or self.concurrency < 1:
            raise ValueError(f"Invalid concurrency {self.concurrency!r}: it must be a positive integer.")
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError(f"Invalid max_attempts {self.max_attempts!r}: it must be a positive integer.")
        if self.retry_mode not in RETRY_MODES:
            raise ValueError(
                f"Invalid retry_mode {self.retry_mode!r}: choose one of {', '.join(RETRY_MODES)}."
            )
        base = self.config
        supplied: dict[str, Any] = getattr(base, "_user_provided_options", {})
        # The undo log writer and reads of batch references use the client too.
        pool = max(self.concurrency + 2, supplied.get("max_pool_connections") or 0)
        retries: Any = {"mode": self.retry_mode, "total_max_attempts": self.max_attempts}
        settings: dict[str, Any] = {"max_pool_connections": pool, "retries": retries}
        # CPU per request is what limits one process; unless the connection says otherwise, skip
        # what costs CPU on every call and adds nothing here: botocore's parameter validation (the
        # core has validated buckets, keys, version ids and tags) and the per-request build of the
        # structured User-Agent (a static one; Airflow's user_agent_extra is still appended).
        if "parameter_validation" not in supplied:
            settings["parameter_validation"] = False
        if "user_agent" not in supplied:
            settings["user_agent"] = STATIC_USER_AGENT
        return base.merge(Config(**settings))

    @cached_property
    def conn(self) -> Any:
        """One boto3 S3 client, safe to share between threads (cached)."""
        client: Any = self.get_client_type(region_name=self.region_name, config=self.tagging_config())
        if self.expected_bucket_owner:
            client.meta.events.register("before-parameter-build.s3", self._add_expected_bucket_owner)
        return client

    def _add_expected_bucket_owner(self, params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        """Send ``ExpectedBucketOwner`` on every operation that takes it, unless the call set one."""
        shape = model.input_shape
        if shape is not None and "ExpectedBucketOwner" in shape.members:
            params.setdefault("ExpectedBucketOwner", self.expected_bucket_owner)

    def get_conn(self) -> Any:
        return self.conn

    def tag_objects(
        self,
        items: Iterable[TaggingItem],
        *,
        total: int | None = None,
        **options: Any,
    ) -> TaggingResult:
        """Tag objects concurrently with ``PutObjectTagging`` / ``DeleteObjectTagging`` (reading
        with ``GetObjectTagging`` where needed). ``options`` are those of
        :class:`~airflow_s3_batch_tagging.direct.TaggingEngine`; ``concurrency`` defaults to the hook's.
        """
        options.setdefault("concurrency", self.concurrency)
        return TaggingEngine(self.conn, **options).run(items, total=total)

    def read_batch(self, batch: Mapping[str, Any]) -> list[ObjectRef]:
        """The objects of a batch reference (ranged ``GetObject`` / ``ListObjectsV2``)."""
        from airflow_s3_batch_tagging.planning import read_batch

        return read_batch(self.conn, batch)

    def read_undo_log(self, location: S3Location) -> list[UndoRecord]:
        """The original tag sets recorded in an undo log (``ListObjectsV2`` and ``GetObject``)."""
        from airflow_s3_batch_tagging.undo import read_undo_log

        return read_undo_log(self.conn, location)
