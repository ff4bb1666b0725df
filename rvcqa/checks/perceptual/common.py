"""Wording and aggregation shared by the resynthesis and conversion checks, and their F0 judge."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Optional, Sequence

from rvcqa.checks.perceptual.defaults import thr
from rvcqa.errors import RvcqaError
from rvcqa.findings import Finding, failed, passed
from rvcqa.stats import median_or_none

if TYPE_CHECKING:
    from rvcqa.context import ModelContext


def flat_num(x: Optional[float]) -> str:
    """Flatness-style number: 4 decimals, scientific below 0.0005."""
    if x is None:
        return "n/a"
    return f"{x:.4f}" if abs(x) >= 0.0005 or x == 0 else f"{x:.1e}"


def num3(x: Optional[float]) -> str:
    return "n/a" if x is None else f"{x:.3g}"


def pct(x: Optional[float]) -> str:
    return "n/a" if x is None else f"{100 * x:.0f}%"


def hz(x: Optional[float]) -> str:
    return "n/a" if x is None else f"{x:.0f} Hz"


def band_text(bands: Sequence[tuple[float, float]]) -> str:
    uniq = sorted({(round(lo), round(hi)) for lo, hi in bands})
    if not uniq:
        return "n/a"
    if len(uniq) == 1:
        return f"{uniq[0][0]}–{uniq[0][1]} Hz"
    los = min(u[0] for u in uniq)
    return f"{los}–{min(u[1] for u in uniq)}..{max(u[1] for u in uniq)} Hz (per-clip content bands)"


def allowed(lo: float, hi: float) -> str:
    return f"allowed {lo:g}–{hi:g}"


def dbfs(x: Optional[float]) -> str:
    if x is None:
        return "n/a"
    return f"{20 * math.log10(x):.1f} dBFS" if x > 0 else "-inf dBFS"


def for_all(ids: Sequence[str], make: Any, message: str, **kw: Any) -> list[Finding]:
    return [make(cid, message, **kw) for cid in ids]


def synthesizer_or_failures(ctx: ModelContext, ids: Sequence[str]) -> tuple[Any, list[Finding]]:
    """The loaded synthesizer, or (None, one failure per id) naming why the model cannot be run."""
    try:
        return ctx.synthesizer(), []
    except RvcqaError as error:
        return None, for_all(ids, failed, f"the model cannot be run: {error}")


def progress_of(ctx: ModelContext) -> Any:
    return getattr(ctx, "progress", None)


def zcr_reading(ratio: float, lo: float, hi: float) -> str:
    if ratio > hi:
        return "the output is dominated by high-frequency noise"
    if ratio < lo:
        return "the output is a slow drift or hum rather than speech (what an untrained generator outputs)"
    return "speech-like"


def f0_summary(comps: Sequence[Any]) -> tuple[Optional[float], Optional[float], int, int, Optional[float]]:
    """(median of per-clip median |cents|, pooled share within 50 cents, both-voiced frames,
    reference-voiced frames, median voicing decision error)."""
    both = sum(c.n_both_voiced for c in comps)
    ref = sum(c.n_reference_voiced for c in comps)
    cents = median_or_none([c.median_abs_cents_error for c in comps if c.n_both_voiced])
    within = (
        sum((c.fraction_within_50_cents or 0.0) * c.n_both_voiced for c in comps) / both if both else None
    )
    vde = median_or_none([c.voicing_decision_error_rate for c in comps])
    return cents, within, both, ref, vde


def judge_f0(ctx: ModelContext, cid: str, key: str, comps: Sequence[Any], ref: str, scope: str, common: dict[str, Any],
              cause: str, *, record: str, voicing: bool = False, transpose: float = 0.0) -> Finding:
    max_cents = float(thr(ctx, f"{key}.max_cents"))
    min_within = float(thr(ctx, f"{key}.min_within_50"))
    min_overlap = float(thr(ctx, f"{key}.min_voiced_overlap"))
    cents, within, both, ref_voiced, vde = f0_summary(comps)
    shift = f" shifted {transpose:+g} semitones" if transpose else ""
    details = dict(common, both_voiced_frames=both, reference_voiced_frames=ref_voiced, median_abs_cents=cents,
                   within_50=within, voicing_error=vde, tracker="librosa pYIN 50-1100 Hz at 16 kHz on both")
    ctx.record(record, cents)
    overlap = both / ref_voiced if ref_voiced else 0.0
    if overlap < min_overlap or cents is None:
        return failed(
            cid,
            f"the output is unvoiced where the {ref} is voiced: pYIN finds voice in {both} of {ref_voiced} "
            f"{ref}-voiced frames ({pct(overlap)}, need ≥ {pct(min_overlap)}; {scope})",
            measured=overlap, expected=f">= {min_overlap:g}", cause=cause, details=details,
        )
    bad_cents = cents > max_cents
    bad_within = within is not None and within < min_within
    parts = [
        f"median error {cents:.0f} cents" + (f" (limit {max_cents:g})" if bad_cents else ""),
        f"{pct(within)} of {both} frames voiced in both within 50 cents"
        + (f" (need ≥ {pct(min_within)})" if bad_within else ""),
    ]
    bad_vde = False
    if voicing and vde is not None:
        max_vde = float(thr(ctx, f"{key}.max_voicing_error"))
        bad_vde = vde > max_vde
        parts.append(f"voicing decisions differ on {pct(vde)} of frames" + (f" (limit {pct(max_vde)})" if bad_vde else ""))
    text = f"{', '.join(parts)} (pYIN on both; {scope})"
    if not (bad_cents or bad_within or bad_vde):
        return passed(cid, f"output F0 follows the {ref}{shift}: {text}", measured=cents,
                      expected=f"<= {max_cents:g} cents", details=details)
    return failed(cid, f"output F0 does not follow the {ref}{shift}: {text}", measured=cents,
                  expected=f"<= {max_cents:g} cents", cause=cause, details=details)

