"""Small summary statistics shared by checks, the sweep and the report.

Measurements arrive with gaps (a segment that failed to measure is ``None``, a silent one may be
NaN), so every helper here skips what is not a finite number. The two variants differ only in
what an empty input gives: ``None`` ("not measured") or ``0.0`` (a count-like quantity).
"""
from __future__ import annotations

import math
from typing import Iterable, SupportsFloat


def finite_values(values: Iterable[object]) -> list[float]:
    """The finite real numbers among ``values`` (None, NaN, Inf, booleans and text dropped)."""
    out: list[float] = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, SupportsFloat):
            continue
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            out.append(f)
    return out


def median_or_none(values: Iterable[object]) -> float | None:
    """Median of the finite values; None when there is none (nothing was measured)."""
    vals = sorted(finite_values(values))
    if not vals:
        return None
    mid = len(vals) // 2
    return vals[mid] if len(vals) % 2 else (vals[mid - 1] + vals[mid]) / 2


def median_or_zero(values: Iterable[object]) -> float:
    """Median of the finite values; 0.0 when there is none (e.g. no weight tensors to summarise)."""
    m = median_or_none(values)
    return 0.0 if m is None else m
