"""References to S3 objects and locations: ``ObjectRef``, ``S3Location`` and their parsing.

One home for the rules S3 puts on bucket names, keys and URIs, shared by the batch path (manifests)
and the direct path (per-object tagging). Plain Python: no Airflow, no AWS calls.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from airflow_s3_batch_tagging.errors import InvalidObjectRefError, shorten

MAX_KEY_BYTES = 1024
S3_SCHEME = "s3://"

_BUCKET_CHARS = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")
_IP_ADDRESS = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
_RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_VERSION_ID_FORBIDDEN = re.compile(r"[,\r\n\"]")


def bucket_name_problem(name: str) -> str | None:
    """Return why ``name`` breaks S3's bucket naming rules, or None when it is valid."""
    # Checked before the cache: an unhashable value (a list, a dict) would make it raise TypeError.
    if not isinstance(name, str) or not name:
        return "a bucket name must be a non-empty string"
    return _bucket_name_problem(name)


@lru_cache(maxsize=4096)
def _bucket_name_problem(name: str) -> str | None:
    if not 3 <= len(name) <= 63:
        return "a bucket name must be 3 to 63 characters long"
    if not _BUCKET_CHARS.fullmatch(name):
        return (
            "a bucket name may only contain lowercase letters, digits, dots and hyphens, "
            "and must begin and end with a letter or digit"
        )
    if ".." in name or ".-" in name or "-." in name:
        return "a bucket name must not contain two adjacent dots or a dot next to a hyphen"
    if _IP_ADDRESS.fullmatch(name):
        return "a bucket name must not be formatted as an IP address"
    if name.startswith(_RESERVED_BUCKET_PREFIXES):
        return f"a bucket name must not start with any of {', '.join(_RESERVED_BUCKET_PREFIXES)}"
    if name.endswith(_RESERVED_BUCKET_SUFFIXES):
        return f"a bucket name must not end with any of {', '.join(_RESERVED_BUCKET_SUFFIXES)}"
    return None


def validate_bucket_name(name: str) -> str:
    """Return ``name`` when it is a valid S3 bucket name, else raise ``InvalidObjectRefError``."""
    problem = bucket_name_problem(name)
    if problem:
        raise InvalidObjectRefError(f"Invalid S3 bucket name {name!r}: {problem}.")
    return name


def validate_key(key: str, *, bucket: str | None = None) -> str:
    """Return ``key`` when it is a valid S3 object key (1 to 1,024 UTF-8 bytes)."""
    where = f" in bucket {bucket!r}" if bucket else ""
    if not isinstance(key, str):
        raise InvalidObjectRefError(f"Invalid S3 key {key!r}{where}: a key must be a string.")
    if not key:
        raise InvalidObjectRefError(f"Invalid S3 key {key!r}{where}: a key must not be empty.")
    if key.isascii():
        size = len(key)
    else:
        try:
            size = len(key.encode("utf-8"))
        except UnicodeEncodeError:
            raise InvalidObjectRefError(
                f"Invalid S3 key {shorten(key, 80)!r}{where}: a key must be valid UTF-8 "
                "(it contains a lone surrogate)."
            ) from None
    if size > MAX_KEY_BYTES:
        raise InvalidObjectRefError(
            f"Invalid S3 key {shorten(key, 80)!r}{where}: a key must be at most {MAX_KEY_BYTES} bytes "
            f"in UTF-8, this one is {size}."
        )
    return key


def split_s3_uri(uri: str, *, what: str = "S3 URI") -> tuple[str, str]:
    """Split ``s3://bucket/key-or-prefix`` into its validated bucket and the raw rest (may be empty)."""
    if not isinstance(uri, str) or not uri.startswith(S3_SCHEME):
        raise InvalidObjectRefError(f"Invalid {what} {uri!r}: it must start with {S3_SCHEME!r}.")
    bucket, _, rest = uri[len(S3_SCHEME) :].partition("/")
    problem = bucket_name_problem(bucket)
    if problem:
        raise InvalidObjectRefError(f"Invalid {what} {uri!r}: bucket {bucket!r}: {problem}.")
    return bucket, rest


def parse_bucket_arn(arn: str) -> tuple[str, str] | None:
    """``arn:<partition>:s3:::<bucket>`` -> ``(partition, bucket)``; None when ``arn`` has another form."""
    if not arn.startswith("arn:"):
        return None
    partition, separator, bucket = arn.removeprefix("arn:").partition(":s3:::")
    return (partition, bucket) if separator else None


def bucket_from_arn(arn: str) -> str:
    """``arn:aws:s3:::bucket`` -> ``bucket`` (a bare name, or another ARN, is returned as is)."""
    parsed = parse_bucket_arn(arn)
    return parsed[1] if parsed is not None else arn


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """One S3 object, or one version of it when ``version_id`` is set.

    ``version_id`` ``"null"`` is a real version id: the version written while versioning was off.
    """

    bucket: str
    key: str
    version_id: str | None = None

    def __post_init__(self) -> None:
        validate_bucket_name(self.bucket)
        validate_key(self.key, bucket=self.bucket)
        if self.version_id is not None and (
            not isinstance(self.version_id, str)
            or not self.version_id
            or _VERSION_ID_FORBIDDEN.search(self.version_id)
        ):
            raise InvalidObjectRefError(
                f"Invalid version id {self.version_id!r} for s3://{self.bucket}/{shorten(self.key, 80)}: "
                "a version id is a non-empty string without commas, quotes or line breaks."
            )

    @property
    def uri(self) -> str:
        """``s3://bucket/key`` (without the version id)."""
        return f"{S3_SCHEME}{self.bucket}/{self.key}"

    def __str__(self) -> str:
        return self.uri if self.version_id is None else f"{self.uri} (version {self.version_id})"

    @classmethod
    def from_uri(cls, uri: str, *, version_id: str | None = None) -> ObjectRef:
        """Build from ``s3://bucket/key``; the key is taken as written (not URL-decoded)."""
        bucket, key = split_s3_uri(uri, what="S3 object URI")
        if not key:
            raise InvalidObjectRefError(f"Invalid S3 object URI {uri!r}: it has no key after the bucket.")
        return cls(bucket, key, version_id)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, default_bucket: str | None = None) -> ObjectRef:
        """Build from ``{"bucket", "key", "version_id"}`` or AWS-style ``{"Bucket", "Key", "VersionId"}``.

        ``uri`` (``s3://bucket/key``) may stand in for ``bucket`` and ``key``.
        """
        uri = data.get("uri")
        if uri is not None:
            bucket, key = split_s3_uri(uri, what="S3 object URI")
        else:
            bucket = data.get("bucket", data.get("Bucket", default_bucket))
            key = data.get("key", data.get("Key"))
        version_id = data.get("version_id", data.get("VersionId"))
        if key is None:
            raise InvalidObjectRefError(f"Invalid object entry {dict(data)!r}: it has no 'key' (or 'Key').")
        if bucket is None:
            raise InvalidObjectRefError(
                f"Invalid object entry {dict(data)!r}: it has no 'bucket' and no default bucket was given."
            )
        return cls(bucket, key, version_id or None)

    @classmethod
    def parse(
        cls, value: ObjectRef | str | Mapping[str, Any], *, default_bucket: str | None = None
    ) -> ObjectRef:
        """Build from an ``ObjectRef``, an ``s3://`` URI, a bare key (with ``default_bucket``) or a dict."""
        if isinstance(value, ObjectRef):
            return value
        if isinstance(value, str):
            if value.startswith(S3_SCHEME):
                return cls.from_uri(value)
            if default_bucket is None:
                raise InvalidObjectRefError(
                    f"Invalid object {value!r}: a bare key needs a bucket; pass an s3:// URI or set bucket=."
                )
            return cls(default_bucket, value)
        if isinstance(value, Mapping):
            return cls.from_dict(value, default_bucket=default_bucket)
        raise InvalidObjectRefError(
            f"Invalid object {value!r} of type {type(value).__name__}: expected an s3:// URI, "
            "a key, or a dict with 'bucket', 'key' and optional 'version_id'."
        )

    def to_dict(self) -> dict[str, str]:
        """Plain data for XCom: ``bucket``, ``key`` and ``version_id`` when set."""
        data = {"bucket": self.bucket, "key": self.key}
        if self.version_id is not None:
            data["version_id"] = self.version_id
        return data


@dataclass(frozen=True, slots=True)
class S3Location:
    """A bucket and a key prefix, parsed from ``s3://bucket/prefix`` (for manifests, reports, undo logs)."""

    bucket: str
    prefix: str = ""

    @classmethod
    def from_uri(cls, uri: str, *, what: str = "S3 location") -> S3Location:
        bucket, prefix = split_s3_uri(uri, what=what)
        return cls(bucket, prefix)

    @property
    def uri(self) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.prefix}"

    def bucket_arn(self, partition: str = "aws") -> str:
        """The bucket's ARN in ``partition`` (``aws``, ``aws-cn``, ``aws-us-gov``, ...)."""
        return f"arn:{partition}:s3:::{self.bucket}"

    def join(self, *parts: str) -> str:
        """The key of ``parts`` below this prefix, with exactly one ``/`` between segments."""
        segments = [self.prefix.rstrip("/")] if self.prefix.strip("/") else []
        segments.extend(part.strip("/") for part in parts if part.strip("/"))
        return "/".join(segments)

    def __str__(self) -> str:
        return self.uri
