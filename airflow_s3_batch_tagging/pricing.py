"""What AWS charges for a tagging run: S3 request prices and S3 Batch Operations' fees, per region.

The published figures, their source and the day they were read are kept here, in one table; a user
overrides them with an ``S3Prices`` or a mapping of its field names. A region without a published
figure here falls back to us-east-1, and the estimate says so.

Plain Python: no Airflow, no AWS call.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from airflow_s3_batch_tagging.errors import S3TaggingInputError

PRICES_SOURCE = "https://aws.amazon.com/s3/pricing/"
"""AWS's S3 pricing page: "Requests & data retrievals" (S3 Standard) and "Management & insights"
(S3 Batch Operations). The request cells of that page are filled in by script; the figures below were
read on ``PRICES_READ_ON`` from its public transcriptions (us-east-1, S3 Standard: PUT, COPY, POST,
LIST $0.005 per 1,000; GET, SELECT and all other requests $0.0004 per 1,000) and agree with the
project's AWS_FACTS.md (Batch Operations: $0.25 per job, $1.00 per million object operations)."""
PRICES_READ_ON = "2026-11-27"
FALLBACK_REGION = "us-east-1"


class PricingError(S3TaggingInputError):
    """A price table or override that cannot be used."""


@dataclass(frozen=True, slots=True)
class S3Prices:
    """The prices (USD) a tagging run pays in one region.

    ``put_per_1000`` is S3's "PUT, COPY, POST, LIST" request class: ``PutObjectTagging``,
    ``ListObjectsV2`` and, priced as an upper bound, ``DeleteObjectTagging``. ``get_per_1000`` is the
    "GET, SELECT and all other requests" class: ``GetObjectTagging`` and manifest reads.
    """

    region: str
    put_per_1000: float
    get_per_1000: float
    batch_per_job: float
    batch_per_million_objects: float
    source: str = PRICES_SOURCE
    read_on: str = PRICES_READ_ON

    def __post_init__(self) -> None:
        for name in _PRICE_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise PricingError(f"Invalid price {name}={value!r}: expected a number of US dollars.")
            if value < 0:
                raise PricingError(f"Invalid price {name}={value!r}: a price cannot be negative.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_PRICE_FIELDS = ("put_per_1000", "get_per_1000", "batch_per_job", "batch_per_million_objects")
_FIELD_NAMES = {f.name for f in fields(S3Prices)}

PUBLISHED_PRICES: dict[str, S3Prices] = {
    # S3 Standard requests and S3 Batch Operations, as published for US East (N. Virginia).
    "us-east-1": S3Prices(
        region="us-east-1",
        put_per_1000=0.005,
        get_per_1000=0.0004,
        batch_per_job=0.25,
        batch_per_million_objects=1.00,
    ),
}
"""Only the regions whose figures were found in a public source; add others by override."""


def resolve_prices(
    region: str | None, override: S3Prices | Mapping[str, Any] | None = None
) -> tuple[S3Prices, str | None]:
    """The prices for ``region`` and a note when they are not that region's published figures.

    ``override`` is a whole ``S3Prices`` (used as given), or a mapping of some of its fields laid
    over the region's published prices (or us-east-1's, when the region has none here).
    """
    wanted = region or FALLBACK_REGION
    if isinstance(override, S3Prices):
        note = None if override.region == wanted else f"prices given for {override.region}, used for {wanted}"
        return override, note
    if override is not None and not isinstance(override, Mapping):
        raise PricingError(
            f"Invalid prices {override!r}: expected an S3Prices or a mapping of {', '.join(_PRICE_FIELDS)}."
        )
    unknown = sorted(set(override or {}) - _FIELD_NAMES)
    if unknown:
        raise PricingError(
            f"Invalid prices: unknown field(s) {', '.join(map(repr, unknown))}; "
            f"expected some of {', '.join(_PRICE_FIELDS)}."
        )
    published = PUBLISHED_PRICES.get(wanted)
    note = None
    if published is None:
        published = replace(PUBLISHED_PRICES[FALLBACK_REGION], region=wanted)
        note = (
            f"no published prices for {wanted} in the package's table; using {FALLBACK_REGION}'s "
            f"(read {PRICES_READ_ON} from {PRICES_SOURCE}): pass prices= to give that region's"
        )
    if override:
        given = sorted(name for name in _PRICE_FIELDS if name in override)
        changes: dict[str, Any] = {name: _number(name, override[name]) for name in given}
        changes.update({name: str(override[name]) for name in ("source", "read_on") if name in override})
        prices = replace(published, **changes)
        if "source" not in override:
            prices = replace(prices, source=f"{published.source} with user overrides: {', '.join(given)}")
        return prices, note
    return published, note


def _number(name: str, value: Any) -> float:
    """A price from a mapping; a numeric string (a rendered template) is accepted."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise PricingError(f"Invalid price {name}={value!r}: expected a number of US dollars.") from None
    return value  # checked by S3Prices
