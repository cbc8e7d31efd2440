"""Errors raised by the provider's core for input that S3 would reject or that cannot be read.

Every error is a ``ValueError`` so that callers who only know the standard library can catch it,
and each message names the offending value, object or manifest line and the rule it broke.
"""

from __future__ import annotations


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters for an error message, keeping its last one (a closing quote)."""
    return text if len(text) <= limit else f"{text[: limit - 4]}...{text[-1]}"


class S3TaggingInputError(ValueError):
    """Base class: the input is invalid; nothing has been written."""


class InvalidTagError(S3TaggingInputError):
    """A tag or tag set breaks S3's tagging rules."""


class InvalidObjectRefError(S3TaggingInputError):
    """An object reference (bucket, key, version id or S3 URI) is invalid."""


class ManifestError(S3TaggingInputError):
    """A manifest (CSV, S3 Inventory report or completion report) is malformed."""
