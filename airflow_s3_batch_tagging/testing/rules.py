"""What S3 checks in a request, as the stand-in checks it: bucket names and tags.

Written from the S3 user guide ("Bucket naming rules", "Categorizing your storage using tags") and
the S3 Control service model, apart from the product's validators on purpose: the stand-in is the
oracle the product is tested against, so a product rule that drifts from AWS's shows up as a
disagreement instead of being confirmed by its own copy.
"""

from __future__ import annotations

import ipaddress
import string
import unicodedata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

OBJECT_TAGS_LIMIT = 10
TAG_KEY_LIMIT = 128
TAG_VALUE_LIMIT = 256
_TAG_PUNCTUATION = frozenset("_.:/=+-@")
_BUCKET_ALPHABET = frozenset(string.ascii_lowercase + string.digits + ".-")
_BUCKET_EDGE = frozenset(string.ascii_lowercase + string.digits)
_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def bucket_name_problem(name: Any) -> str | None:
    """Why S3 refuses ``name`` as a general purpose bucket name, or None."""
    if not isinstance(name, str) or not 3 <= len(name) <= 63:
        return "bucket names must be between 3 and 63 characters long"
    if not set(name) <= _BUCKET_ALPHABET:
        return "bucket names can consist only of lowercase letters, numbers, dots (.), and hyphens (-)"
    if name[0] not in _BUCKET_EDGE or name[-1] not in _BUCKET_EDGE:
        return "bucket names must begin and end with a letter or number"
    if ".." in name:
        return "bucket names must not contain two adjacent periods"
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        return "bucket names must not be formatted as an IP address"
    for prefix in _BUCKET_PREFIXES:
        if name.startswith(prefix):
            return f"bucket names must not start with the prefix {prefix}"
    for suffix in _BUCKET_SUFFIXES:
        if name.endswith(suffix):
            return f"bucket names must not end with the suffix {suffix}"
    return None


def _allowed_tag_text(text: str) -> bool:
    """S3's tag pattern ``^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$``: letters, spaces, digits, ``_.:/=+-@``."""
    return all(char in _TAG_PUNCTUATION or unicodedata.category(char)[0] in "LZN" for char in text)


def tag_problem(key: Any, value: Any) -> str | None:
    """Why S3 refuses the tag ``key=value`` (on an object or a job), or None."""
    if not isinstance(key, str) or not isinstance(value, str):
        return "tag keys and values are strings"
    if not 1 <= len(key) <= TAG_KEY_LIMIT:
        return f"a tag key can be up to {TAG_KEY_LIMIT} Unicode characters in length"
    if len(value) > TAG_VALUE_LIMIT:
        return f"a tag value can be up to {TAG_VALUE_LIMIT} Unicode characters in length"
    if key.lower().startswith("aws:"):
        return "the aws: prefix is reserved for AWS use"
    if not _allowed_tag_text(key) or not _allowed_tag_text(value):
        return "tags may hold letters, numbers, spaces and the characters _ . : / = + - @"
    return None


def tag_list_problem(tags: Iterable[Mapping[str, Any]], *, limit: int | None) -> str | None:
    """Why S3 refuses a ``[{"Key": ..., "Value": ...}]`` list (``limit`` tags at most), or None."""
    seen: set[str] = set()
    count = 0
    for tag in tags:
        count += 1
        key, value = tag.get("Key"), tag.get("Value", "")
        problem = tag_problem(key, value)
        if problem:
            return f"{key!r}={value!r}: {problem}"
        if key in seen:
            return f"the tag key {key!r} appears more than once; tag keys must be unique"
        seen.add(str(key))
    if limit is not None and count > limit:
        return f"{count} tags were given; at most {limit} are allowed"
    return None
