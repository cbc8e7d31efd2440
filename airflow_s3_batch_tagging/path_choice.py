"""``strategy="auto"``: pick the direct or the batch path from a priced plan, by rules a user can read.

1. Work S3 Batch Operations cannot do (``TaggingWork.batch_cannot``: merge, remove, per-object tags,
   skip_unchanged, dry run, undo log, conditions) goes direct; so does a run with no objects.
2. ``strategy="direct"`` or ``"batch"`` is followed (``"batch"`` for work a job cannot do is an error).
3. Otherwise the direct path, unless it would take longer than ``max_direct_seconds`` (the worker
   time a run may hold) and the batch path costs at most ``max_batch_extra_fee`` more (``None``: any).

For the same work the direct path is never dearer: a job pays the same tagging requests plus its
fees. The batch path buys worker time, and it is chosen for that only.

Plain Python: no Airflow, no AWS call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from airflow_s3_batch_tagging.errors import S3TaggingInputError
from airflow_s3_batch_tagging.estimate import BATCH, DIRECT, TaggingEstimate, TaggingWork

STRATEGIES = ("auto", DIRECT, BATCH)
DEFAULT_MAX_DIRECT_SECONDS = 3600.0


class PathChoiceError(S3TaggingInputError):
    """A strategy or threshold that cannot be applied."""


@dataclass(frozen=True, slots=True)
class PathChoice:
    """The chosen path and every rule that decided it, in the order applied."""

    path: str
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "reasons": list(self.reasons)}


def _threshold(name: str, value: Any, *, optional: bool) -> float | None:
    if value is None:
        if optional:
            return None
        raise PathChoiceError(f"Invalid {name} None: expected a number, 0 or more.")
    if isinstance(value, str):
        text = value.strip()
        if optional and text.lower() in ("", "none"):
            return None
        try:
            value = float(text)
        except ValueError:
            raise PathChoiceError(f"Invalid {name} {value!r}: expected a number, 0 or more.") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value) or value < 0:
        raise PathChoiceError(f"Invalid {name} {value!r}: expected a number, 0 or more.")
    return float(value)


def _refuse_batch(why: str) -> PathChoiceError:
    return PathChoiceError(f"strategy='batch', but S3 Batch Operations cannot do this run: {why}.")


def validate_strategy(strategy: Any, work: TaggingWork | None = None) -> str:
    """Check ``strategy`` (and, given the ``work``, that a forced batch path can do it) before any request."""
    if strategy not in STRATEGIES:
        raise PathChoiceError(f"Invalid strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}.")
    if strategy == BATCH and work is not None and work.batch_cannot():
        raise _refuse_batch("; ".join(work.batch_cannot()))
    return str(strategy)


def validate_thresholds(max_direct_seconds: Any, max_batch_extra_fee: Any) -> tuple[float, float | None]:
    """Check the thresholds before any request; numeric strings (rendered templates) are accepted."""
    seconds = _threshold("max_direct_seconds", max_direct_seconds, optional=False)
    assert seconds is not None
    return seconds, _threshold("max_batch_extra_fee", max_batch_extra_fee, optional=True)


def choose_path(
    estimate: TaggingEstimate,
    *,
    strategy: str = "auto",
    max_direct_seconds: Any = DEFAULT_MAX_DIRECT_SECONDS,
    max_batch_extra_fee: Any = None,
) -> PathChoice:
    """Apply the rules of this module's docstring to ``estimate``."""
    strategy = validate_strategy(strategy)
    limit, extra_limit = validate_thresholds(max_direct_seconds, max_batch_extra_fee)
    direct, batch = estimate.direct, estimate.batch
    if not batch.possible:
        why = "; ".join(batch.why_not)
        if strategy == BATCH:
            raise _refuse_batch(why)
        return PathChoice(DIRECT, [f"direct: S3 Batch Operations cannot do {why}"])
    if strategy != "auto":
        return PathChoice(strategy, [f"{strategy}: strategy={strategy!r} was given"])
    extra = batch.total_fees - direct.total_fees
    if direct.seconds <= limit:
        return PathChoice(
            DIRECT,
            [
                f"direct: it takes about {direct.seconds:,.1f} s, within max_direct_seconds={limit:,.1f}, "
                f"and costs ${direct.total_fees:,.6f} against the batch path's ${batch.total_fees:,.6f}"
            ],
        )
    reasons = [
        f"the direct path takes about {direct.seconds:,.1f} s, more than max_direct_seconds={limit:,.1f}"
    ]
    if extra_limit is not None and extra > extra_limit:
        reasons.append(
            f"direct: the batch path would cost ${extra:,.6f} more, above "
            f"max_batch_extra_fee=${extra_limit:,.6f}"
        )
        return PathChoice(DIRECT, reasons)
    within = (
        "no max_batch_extra_fee" if extra_limit is None else f"within max_batch_extra_fee=${extra_limit:,.6f}"
    )
    reasons.append(
        f"batch: it holds no worker, takes about {batch.seconds:,.1f} s and costs ${extra:,.6f} more "
        f"({within})"
    )
    return PathChoice(BATCH, reasons)
