"""Trend analysis of a loss curve from a training log: windows, noise, verdict.

Pure arithmetic on :class:`rvcqa.trainlog.LossEntry` series, so the training checks, the report and
the sweep read the same trend from the same numbers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rvcqa.trainlog import LossEntry


@dataclass
class Window:
    entries: list[LossEntry]
    median: float

    def span(self) -> str:
        return span_text(self.entries)


@dataclass
class MelAnalysis:
    n: int
    early: Window | None
    late: Window | None
    noise: float
    change: float  # late - early median
    rel: float  # change / early median
    se: float
    verdict: str  # "improving", "flat", "rising", "too_few"
    plateau_from: LossEntry | None
    late_capped_fraction: float


def span_text(entries: list[LossEntry]) -> str:
    epochs = [e.epoch for e in entries if e.epoch is not None]
    if epochs:
        lo, hi = min(epochs), max(epochs)
        return f"epoch {lo}" if lo == hi else f"epochs {lo}-{hi}"
    steps = [e.step for e in entries if e.step is not None]
    if steps:
        return f"steps {min(steps)}-{max(steps)}"
    return f"log lines {entries[0].line_no}-{entries[-1].line_no}"


def where_text(e: LossEntry) -> str:
    parts = []
    if e.epoch is not None:
        parts.append(f"epoch {e.epoch}")
    if e.step is not None:
        parts.append(f"step {e.step}")
    return ", ".join(parts) if parts else f"line {e.line_no}"


def finite_entries(entries: list[LossEntry], attr: str) -> list[LossEntry]:
    return [e for e in entries if getattr(e, attr) is not None and math.isfinite(getattr(e, attr))]


def _windows(points: list[LossEntry]) -> tuple[list[LossEntry], list[LossEntry]]:
    """Early = 10-33% of the run, late = last third; by step when every point has one, else by order."""
    n = len(points)
    steps = [p.step for p in points]
    if all(s is not None for s in steps) and steps[-1] > steps[0]:  # type: ignore[operator]
        s0, s1 = steps[0], steps[-1]
        frac = [(s - s0) / (s1 - s0) for s in steps]  # type: ignore[operator]
        early = [p for p, f in zip(points, frac) if 0.1 <= f <= 1 / 3]
        late = [p for p, f in zip(points, frac) if f >= 2 / 3]
        if len(early) >= 2 and len(late) >= 2:
            return early, late
    early = points[max(1, math.ceil(0.1 * n)): max(2, n // 3)]
    late = points[(2 * n) // 3:]
    return early, late


def analyse_series(points: list[LossEntry], attr: str, *, min_improvement: float, max_rise: float, z: float,
                   min_points: int) -> MelAnalysis:
    ys = np.array([getattr(p, attr) for p in points], dtype=np.float64)
    n = len(points)
    if n < min_points:
        return MelAnalysis(n, None, None, 0.0, 0.0, 0.0, 0.0, "too_few", None, 0.0)
    early, late = _windows(points)
    if not early or not late:
        return MelAnalysis(n, None, None, 0.0, 0.0, 0.0, 0.0, "too_few", None, 0.0)
    e_med = float(np.median([getattr(p, attr) for p in early]))
    l_med = float(np.median([getattr(p, attr) for p in late]))
    start = max(1, math.ceil(0.1 * n))
    tail = ys[start:]
    diffs = np.abs(np.diff(tail)) if len(tail) > 2 else np.abs(np.diff(ys))
    noise = float(1.4826 * np.median(diffs) / math.sqrt(2)) if len(diffs) else 0.0
    se = 1.2533 * noise * math.sqrt(1 / len(early) + 1 / len(late))
    change = l_med - e_med
    rel = change / e_med if e_med else 0.0
    if -change > max(z * se, min_improvement * abs(e_med)):
        verdict = "improving"
    elif change > max(z * se, max_rise * abs(e_med)):
        verdict = "rising"
    else:
        verdict = "flat"
    band = l_med + max(2 * noise, 0.05 * abs(l_med))
    plateau = next((p for p in points if getattr(p, attr) <= band), None)
    capped_attr = "mel_capped" if attr == "loss_mel" else "kl_capped"
    late_capped = sum(bool(getattr(p, capped_attr)) for p in late) / len(late)
    return MelAnalysis(n, Window(early, e_med), Window(late, l_med), noise, change, rel, se, verdict, plateau, late_capped)


def final_median(points: list[LossEntry], attr: str) -> tuple[float, list[LossEntry], float]:
    k = max(3, math.ceil(0.1 * len(points)))
    last = points[-k:]
    capped_attr = "mel_capped" if attr == "loss_mel" else "kl_capped"
    return (float(np.median([getattr(p, attr) for p in last])), last,
            sum(bool(getattr(p, capped_attr)) for p in last) / len(last))
