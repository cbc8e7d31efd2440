"""Tag sets and tagging modes: S3's tagging rules, defined once for both paths.

``TagSet`` is an immutable, validated mapping of tag keys to values. ``TaggingMode`` names what a
tagging step does to an object's current tags; ``TagSet.apply`` computes the result.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from enum import StrEnum
from functools import lru_cache
from typing import Any, cast

from airflow_s3_batch_tagging.errors import InvalidTagError, shorten

MAX_TAGS = 10
MAX_KEY_LENGTH = 128
MAX_VALUE_LENGTH = 256
RESERVED_KEY_PREFIX = "aws:"

_ASCII_ALLOWED = re.compile(r"[A-Za-z0-9 _.:/=+\-@]*")
_EXTRA_ALLOWED = frozenset("_.:/=+-@")


class TaggingMode(StrEnum):
    """What a tagging step does to each object's current tag set."""

    REPLACE = "replace"
    """Replace the whole tag set with the given tags (what S3 Batch Operations does)."""
    MERGE = "merge"
    """Set the given keys to the given values and keep every other tag."""
    REMOVE = "remove"
    """Drop the given keys and keep every other tag."""
    DELETE = "delete"
    """Remove every tag."""

    @classmethod
    def parse(cls, value: TaggingMode | str) -> TaggingMode:
        if isinstance(value, TaggingMode):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            choices = ", ".join(repr(m.value) for m in cls)
            raise InvalidTagError(f"Invalid tagging mode {value!r}: choose one of {choices}.") from None

    @property
    def needs_tags(self) -> bool:
        """Whether the mode is meaningless without tags (or tag keys) to apply."""
        return self is not TaggingMode.DELETE

    @property
    def reads_current_tags(self) -> bool:
        """Whether the result depends on the object's current tags."""
        return self in (TaggingMode.MERGE, TaggingMode.REMOVE)


def reads_before_writing(
    mode: TaggingMode, *, skip_unchanged: bool, dry_run: bool, undo_log: bool, condition: bool
) -> bool:
    """Whether the direct path reads each object's tags (one GET) before it writes: the mode needs
    them, or skipping unchanged objects, a dry run, an undo log or a condition on current tags does."""
    return skip_unchanged or dry_run or undo_log or condition or mode.reads_current_tags


@lru_cache(maxsize=8192)
def _text_problem(text: str) -> str | None:
    if _ASCII_ALLOWED.fullmatch(text):
        return None
    for char in text:
        if char in _EXTRA_ALLOWED or unicodedata.category(char)[0] in "LZN":
            continue
        return f"character {char!r} is not allowed (S3 allows letters, numbers, spaces and _ . : / = + - @)"
    return None


def tag_problem(key: Any, value: Any) -> str | None:
    """Return why ``key=value`` breaks S3's tag rules, or None when it is valid."""
    if not isinstance(key, str):
        return f"the key must be a string, not {type(key).__name__}"
    if not isinstance(value, str):
        return f"the value must be a string, not {type(value).__name__}"
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        return f"the key must be 1 to {MAX_KEY_LENGTH} characters long, it has {len(key)}"
    if len(value) > MAX_VALUE_LENGTH:
        return f"the value must be at most {MAX_VALUE_LENGTH} characters long, it has {len(value)}"
    if key[:4].lower() == RESERVED_KEY_PREFIX:
        return f"the key prefix {RESERVED_KEY_PREFIX!r} is reserved for AWS"
    problem = _text_problem(key)
    if problem:
        return f"in the key, {problem}"
    problem = _text_problem(value)
    if problem:
        return f"in the value, {problem}"
    return None


class TagSet(Mapping[str, str]):
    """An immutable S3 tag set: at most 10 tags, unique keys, S3's length and character rules.

    Compares equal to any tag set (or dict) with the same pairs, in any order.
    """

    __slots__ = ("_tags",)

    _tags: dict[str, str]

    def __init__(self, tags: Mapping[str, str] | None = None, *, context: str | None = None) -> None:
        items = dict(tags or {})
        self._tags = items
        self.validate(context=context)

    def validate(self, *, context: str | None = None) -> None:
        where = f" for {context}" if context else ""
        if len(self._tags) > MAX_TAGS:
            raise InvalidTagError(
                f"Invalid tag set{where}: S3 allows at most {MAX_TAGS} tags per object, "
                f"this one has {len(self._tags)} ({', '.join(sorted(map(str, self._tags)))})."
            )
        for key, value in self._tags.items():
            problem = tag_problem(key, value)
            if problem:
                raise InvalidTagError(
                    f"Invalid tag {shorten(repr(key), 60)}={shorten(repr(value), 60)}{where}: {problem}."
                )

    @classmethod
    def _trusted(cls, tags: dict[str, str]) -> TagSet:
        """Wrap a dict already known to be valid (a subset of a valid set)."""
        tag_set = cls.__new__(cls)
        tag_set._tags = tags
        return tag_set

    @classmethod
    def from_boto(cls, tag_list: Iterable[Mapping[str, str]], *, context: str | None = None) -> TagSet:
        """Build from boto3's ``[{"Key": ..., "Value": ...}]`` (a ``TagSet`` or ``Tags`` list)."""
        tags: dict[str, str] = {}
        where = f" for {context}" if context else ""
        for item in tag_list:
            try:
                key, value = item["Key"], item["Value"]
            except (KeyError, TypeError):
                raise InvalidTagError(
                    f"Invalid tag entry {shorten(repr(item), 60)}{where}: "
                    "expected a dict with 'Key' and 'Value'."
                ) from None
            if key in tags:
                raise InvalidTagError(f"Invalid tag set{where}: the key {key!r} appears more than once.")
            tags[key] = value
        return cls(tags, context=context)

    @classmethod
    def parse(
        cls, value: TagSet | Mapping[str, str] | Iterable[Any] | None, *, context: str | None = None
    ) -> TagSet:
        """Build from a ``TagSet``, a dict, boto3's list of ``Key``/``Value`` dicts, or None (empty)."""
        if value is None:
            return EMPTY_TAGS
        if isinstance(value, TagSet):
            return value
        if isinstance(value, Mapping):
            return cls(value, context=context)
        if isinstance(value, str | bytes):
            where = f" for {context}" if context else ""
            raise InvalidTagError(
                f"Invalid tags{where}: got the string {shorten(repr(value), 60)}; "
                "expected a dict of tag keys to values."
            )
        if not isinstance(value, Iterable):
            where = f" for {context}" if context else ""
            raise InvalidTagError(
                f"Invalid tags{where}: got {type(value).__name__} {shorten(repr(value), 60)}; "
                "expected a dict of tag keys to values."
            )
        return cls.from_boto(cast("Iterable[Mapping[str, str]]", value), context=context)

    @classmethod
    def keys_only(cls, keys: Iterable[str], *, context: str | None = None) -> TagSet:
        """A tag set naming keys to remove (values are empty); for ``TaggingMode.REMOVE``."""
        where = f" for {context}" if context else ""
        if not isinstance(keys, Iterable):
            raise InvalidTagError(
                f"Invalid tag keys{where}: got {type(keys).__name__} {shorten(repr(keys), 60)}; "
                "expected a list of tag keys."
            )
        key_list = list(keys)
        for key in key_list:
            problem = tag_problem(key, "")
            if problem:
                raise InvalidTagError(f"Invalid tag key {shorten(repr(key), 60)}{where}: {problem}.")
        return cls._trusted(dict.fromkeys(key_list, ""))

    def to_boto(self) -> list[dict[str, str]]:
        """boto3's ``[{"Key": ..., "Value": ...}]``, sorted by key for stable requests."""
        return [{"Key": key, "Value": self._tags[key]} for key in sorted(self._tags)]

    def to_dict(self) -> dict[str, str]:
        return dict(self._tags)

    def apply(self, mode: TaggingMode | str, current: Mapping[str, str], *, obj: object = None) -> TagSet:
        """The tag set an object ends with when ``mode`` applies these tags to its ``current`` tags.

        ``obj`` (an ``ObjectRef`` or any label) is named in the error when the result breaks a rule,
        for example an 11th tag after a merge.
        """
        mode = TaggingMode.parse(mode)
        if mode is TaggingMode.REPLACE:
            return self
        if mode is TaggingMode.DELETE:
            return EMPTY_TAGS
        if mode is TaggingMode.REMOVE:
            return TagSet._trusted({k: v for k, v in current.items() if k not in self._tags})
        merged = {**current, **self._tags}
        if len(merged) > MAX_TAGS:
            added = sorted(set(self._tags) - set(current))
            raise InvalidTagError(
                f"Cannot merge tags into {obj if obj is not None else 'the object'}: it has {len(current)} "
                f"tags and the merge adds {len(added)} ({', '.join(added)}), "
                f"more than the {MAX_TAGS} S3 allows."
            )
        return TagSet._trusted(merged)

    def __getitem__(self, key: str) -> str:
        return self._tags[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tags)

    def __len__(self) -> int:
        return len(self._tags)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TagSet):
            return self._tags == other._tags
        if isinstance(other, Mapping):
            return self._tags == dict(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(frozenset(self._tags.items()))

    def __repr__(self) -> str:
        return f"TagSet({self._tags!r})"


EMPTY_TAGS = TagSet._trusted({})
