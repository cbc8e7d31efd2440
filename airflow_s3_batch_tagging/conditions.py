"""Conditional tagging: which objects a direct tagging run touches, judged by their current tags.

Plain Python (no Airflow import). ``TagCondition`` is the one home of the rule: ``only_if_tags``
(every given pair is on the object, same key and value, case-sensitive) and ``unless_tag_keys``
(none of these keys is on the object, whatever its value), both together meaning AND. The engine
reads each object's tags (``GetObjectTagging``) and leaves the objects that do not match unwritten.

S3 has no conditional write for tags: the condition is judged on the tags the read returned, and a
change made by someone else between that read and the write can be lost (see the documentation's
"Conditional tagging" page for the measured window).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_s3_batch_tagging.errors import InvalidTagError, shorten
from airflow_s3_batch_tagging.tags import TagSet


def _parse_only_if_tags(value: Any) -> TagSet | None:
    if value is None:
        return None
    # A dict (or boto3's Key/Value list) under S3's own tag rules: a pair S3 would refuse to store
    # can never be on an object, and more than 10 pairs can never all be on one.
    tags = TagSet.parse(value, context="only_if_tags")
    if not tags:
        raise InvalidTagError(
            f"Invalid only_if_tags {value!r}: give at least one tag pair the objects must carry, or None "
            "for no condition on tag values."
        )
    return tags


def _parse_unless_tag_keys(value: Any) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str | bytes):
        raise InvalidTagError(
            f"Invalid unless_tag_keys {shorten(repr(value), 60)}: expected a list of tag keys, "
            f"such as [{shorten(repr(value), 60)}], not a string."
        )
    if isinstance(value, Mapping) or not isinstance(value, Iterable):
        raise InvalidTagError(
            f"Invalid unless_tag_keys {shorten(repr(value), 60)}: expected a list of tag keys, "
            f"not {type(value).__name__}."
        )
    keys = frozenset(TagSet.keys_only(value, context="unless_tag_keys"))
    if not keys:
        raise InvalidTagError(
            f"Invalid unless_tag_keys {value!r}: give at least one tag key the objects must not carry, or "
            "None for no condition on tag keys."
        )
    return keys


@dataclass(frozen=True, slots=True)
class TagCondition:
    """Which objects to touch: all of ``only_if_tags`` present, none of ``unless_tag_keys`` present.

    Build it with :meth:`parse`, which validates user input; ``matches`` is the predicate.
    """

    only_if_tags: TagSet | None = None
    unless_tag_keys: frozenset[str] | None = None

    @classmethod
    def parse(cls, only_if_tags: Any = None, unless_tag_keys: Any = None) -> TagCondition | None:
        """Validate the operator's parameters; None when neither is given (every object matches).

        Raises ``InvalidTagError`` naming the problem: a wrong type, an empty condition, a key or
        value S3 would refuse, or a key both required and excluded (no object could match).
        """
        required = _parse_only_if_tags(only_if_tags)
        excluded = _parse_unless_tag_keys(unless_tag_keys)
        if required is None and excluded is None:
            return None
        if required is not None and excluded is not None:
            both = sorted(set(required) & excluded)
            if both:
                raise InvalidTagError(
                    f"Conflicting conditions: the key(s) {', '.join(map(repr, both))} are in only_if_tags "
                    "and in unless_tag_keys, so no object could match."
                )
        return cls(required, excluded)

    def matches(self, current: Mapping[str, str]) -> bool:
        """Whether an object whose tags are ``current`` is to be touched."""
        if self.only_if_tags is not None:
            for key, value in self.only_if_tags.items():
                if current.get(key) != value:
                    return False
        if self.unless_tag_keys is not None:
            return self.unless_tag_keys.isdisjoint(current)
        return True

    def describe(self) -> str:
        """The condition in words, for logs: tag keys and the values the DAG asked for."""
        parts = []
        if self.only_if_tags is not None:
            pairs = ", ".join(f"{key}={value}" for key, value in sorted(self.only_if_tags.items()))
            parts.append(f"carrying all of {pairs}")
        if self.unless_tag_keys is not None:
            parts.append(f"carrying none of the keys {', '.join(sorted(self.unless_tag_keys))}")
        return "only objects " + " and ".join(parts)


__all__ = ["TagCondition"]
