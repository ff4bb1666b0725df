"""Which saved checkpoint is best, and is the released one it? (``--rvcqa-sweep`` / ``rvcqa sweep``)

Runs :func:`rvcqa.sweep.run_sweep` once per model (cached on the context): every ``G_*.pth`` and
per-epoch inference file resynthesises the same training segments, deterministically, and is
scored by its log-mel distance to ``0_gt_wavs`` (flatness, ZCR, F0 and voicing error alongside).

- ``sweep.released_vs_best``: FAILS when the released inference model scores measurably worse than
  the best candidate (relative tolerance ``sweep.released_vs_best_mel``).
- ``sweep.recommendation``: the candidate to release and why; a WARNING when quality stopped
  improving long before the last checkpoint (more epochs would not help) or got worse at the end
  (overtraining).

Both are SKIPPED unless the sweep was asked for (it runs every checkpoint: minutes on CPU), and when
there is a single candidate (nothing to compare).
"""
from __future__ import annotations

from typing import Any, Optional

from rvcqa.context import ModelContext
from rvcqa.errors import ModelDirError, RvcqaError
from rvcqa.findings import Finding, failed, passed, skipped, warning
from rvcqa.sweep import SweepResult, Tolerances, format_table, run_sweep
from rvcqa.sweep.tolerances import DEFAULTS as SWEEP_DEFAULTS
from rvcqa.sweep.tolerances import released_is_worse

CHECK_IDS: tuple[str, ...] = ("sweep.released_vs_best", "sweep.recommendation")

#: the sweep's and the watch's profile keys; their defaults and reasons live in rvcqa.sweep.tolerances
DEFAULTS: dict[str, Any] = dict(SWEEP_DEFAULTS)

NOT_ASKED = "pass --rvcqa-sweep to rank checkpoints"


def _thr(ctx: ModelContext, key: str) -> Any:
    return ctx.threshold(key, DEFAULTS[key])


def tolerances(ctx: ModelContext) -> Tolerances:
    return Tolerances.from_profile(ctx.threshold)


def sweep_result(ctx: ModelContext, *, plot: bool = True) -> SweepResult:
    """The model's :class:`rvcqa.sweep.SweepResult`, computed once per context."""
    window = _thr(ctx, "sweep.window_s")

    def compute() -> SweepResult:
        return run_sweep(
            ctx,
            segments=int(_thr(ctx, "sweep.segments")),
            heldout_segments=int(_thr(ctx, "sweep.heldout_segments")),
            window_s=float(window) if window else None,
            progress=ctx.sweep_progress or ctx.progress or _stderr,
            tolerances=tolerances(ctx),
            plot=plot,
        )

    return ctx.cached("sweep:result", compute)


def cached_result(ctx: ModelContext) -> Optional[SweepResult]:
    """The sweep this context already ran, or None (for summaries; runs nothing)."""
    value = ctx.peek("sweep:result")
    return value if isinstance(value, SweepResult) else None


def _stderr(line: str) -> None:
    import sys

    print(f"rvcqa: {line}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- run


def run(ctx: ModelContext) -> list[Finding]:
    if not ctx.options.sweep:
        return [skipped(cid, NOT_ASKED) for cid in CHECK_IDS]
    try:
        result = sweep_result(ctx)
    except ModelDirError as error:
        return [skipped(cid, f"checkpoint sweep not possible: {error}") for cid in CHECK_IDS]
    except RvcqaError as error:
        return [failed(cid, f"checkpoint sweep failed: {error}") for cid in CHECK_IDS]
    details = _details(result)
    ctx.record("sweep_candidates", len(result.rows))
    best = result.best_row
    if best is not None and best.score(result.rank_on) is not None:
        ctx.record("sweep_best_mel_distance", best.score(result.rank_on))
    rel = result.released_row
    if rel is not None and rel.score(result.rank_on) is not None:
        ctx.record("sweep_released_mel_distance", rel.score(result.rank_on))
    if len(result.rows) < 2:
        only = result.rows[0].candidate.short if result.rows else "none"
        why = (f"only one candidate ({only}): nothing to compare; keep more checkpoints to rank them "
               "(RVC: 'save frequency' with 'save a small final model at every save point')")
        return [skipped(cid, why, details=details) for cid in CHECK_IDS]
    return [_released_vs_best(ctx, result, details), _recommendation(result, details)]


def _details(result: SweepResult) -> dict[str, Any]:
    data = result.to_dict()
    data["table"] = format_table(result)
    return data


def _released_vs_best(ctx: ModelContext, result: SweepResult, details: dict[str, Any]) -> Finding:
    cid = "sweep.released_vs_best"
    tols = tolerances(ctx)
    tol, min_diff = tols.released_vs_best, tols.min_difference
    rec, rel = result.recommendation, result.released_row
    if rec is None:
        return failed(cid, "no checkpoint could be measured: " + "; ".join(w.message for w in result.warnings[:3]),
                      cause="the candidates do not load into the network the inference model's config describes, "
                            "or produce silent/NaN audio", details=details)
    if rel is None:
        return skipped(cid, f"the released model cannot be compared: {result.released_how}", details=details)
    rs = rel.score(result.rank_on)
    if rs is None:
        return skipped(cid, f"the released model {rel.candidate.label} could not be measured ({rel.error})",
                       details=details)
    best = result.rows[rec.index]
    bs = rec.score
    expected = f"<= best x {1 + tol:g}"
    if result.released_index == rec.index:
        return passed(cid, f"the released model {_released(result)} is the best-measured candidate: "
                           f"{best.candidate.short}, log-mel distance {bs:.3f}", measured=rs, expected=expected,
                      details=details)
    rel_diff = (rs - bs) / bs if bs > 0 else (float("inf") if rs > bs else 0.0)
    worse = "no usable output" if rs == float("inf") else (
        f"{'+' if rel_diff >= 0 else ''}{100 * rel_diff:.0f}%" if bs > 1e-6 else f"{rs - bs:+.3f}")
    text = (f"released {_released(result)} scores {rs:.3f}, best {best.candidate.short} {bs:.3f} "
            f"({worse}; tolerance {tol:.0%} and at least {min_diff:g})")
    if released_is_worse(rs, bs, tols):
        return failed(cid, f"the released model is measurably worse than the best saved checkpoint: {text}",
                      measured=rs, expected=expected,
                      cause=f"the inference file was extracted from another epoch than the best one; release "
                            f"{best.candidate.label} instead (RVC: ckpt processing -> extract small model from it, "
                            "or copy the per-epoch file)", details=details)
    return passed(cid, f"the released model is as good as the best candidate within tolerance: {text}",
                  measured=rs, expected=expected, details=details)


def _released(result: SweepResult) -> str:
    return result.released_name


def _recommendation(result: SweepResult, details: dict[str, Any]) -> Finding:
    cid = "sweep.recommendation"
    rec = result.recommendation
    if rec is None:
        return failed(cid, "no checkpoint could be measured: " + "; ".join(w.message for w in result.warnings[:3]),
                      details=details)
    best = result.rows[rec.index]
    n = len(result.rows)
    text = f"recommended of {n} candidates: {best.candidate.short}: {rec.reason}"
    trend = result.warnings_of("plateau", "overtraining", "overfitting")
    if trend:
        return warning(cid, f"{text}. " + " ".join(w.message for w in trend), measured=rec.score,
                       subject=str(best.candidate.path),
                       cause="training ran past the point where it helped; keep the recommended checkpoint and "
                             "train about that long next time", details=details)
    n_trend = sum(1 for r in result.measured if r.candidate.kind != "released")
    tail = ("no plateau long before the last checkpoint and no decline at the end beyond tolerance"
            if n_trend >= 3 else f"{n_trend} checkpoints are too few to judge the trend (3 needed)")
    return passed(cid, f"{text}; {tail}", measured=rec.score, subject=str(best.candidate.path), details=details)
