"""Judging measured candidates: which to release, and what the trend says (pure logic, no I/O)."""
from __future__ import annotations

import math

from rvcqa.sweep.model import Recommendation, SweepResult, SweepRow, SweepWarning
from rvcqa.sweep.tolerances import Tolerances, is_worse, released_is_worse


def pct(a: float, b: float) -> str:
    """How much worse ``a`` is than ``b``: percent, or the plain difference when ``b`` is ~0."""
    if math.isinf(a):
        return "no usable output"
    if b > 1e-6:
        p = 100 * (a - b) / b
        return f"{p:+.1f}%" if abs(p) < 10 else f"{p:+.0f}%"
    return f"{a - b:+.3f}"


def _score(row: SweepRow, rank_on: str) -> float:
    s = row.score(rank_on)
    assert s is not None
    return float(s)


def analyse(result: SweepResult, tol: Tolerances) -> None:
    """Fill in the recommendation and the trend / release warnings."""
    rank_on = result.rank_on
    rows = result.rows
    for r in rows:
        if r.error:
            result.warnings.append(SweepWarning("candidate_error", f"{r.candidate.label} could not be measured: {r.error}"))
    measured = [(i, r) for i, r in enumerate(rows) if r.score(rank_on) is not None]
    if not measured:
        return
    best_i, best = min(measured, key=lambda ir: (_score(ir[1], rank_on), ir[0]))
    best_score = _score(best, rank_on)
    if not math.isfinite(best_score):
        result.warnings.append(SweepWarning(
            "no_usable_output", f"none of the {len(measured)} candidates produced audio that can be measured "
                                "(silent or NaN output on every segment)"))
        return
    where = "the held-out slice (never trained on)" if rank_on == "heldout" else "the training sample"
    ranked_set = best.heldout if rank_on == "heldout" else best.train
    n = ranked_set.n if ranked_set is not None else 0
    reason = f"lowest log-mel distance to the targets on {where}: {best_score:.3f} (median over {n} segments)"
    others = sorted((_score(r, rank_on), i) for i, r in measured if i != best_i)
    if others:
        s2, i2 = others[0]
        reason += f"; next best {rows[i2].candidate.label} {s2:.3f} ({pct(s2, best_score)})"
    reason += _second_opinion(result, best_i, best, tol)
    result.recommendation = Recommendation(best_i, best.candidate.label, best_score, reason)

    trend = [(i, r) for i, r in measured if r.candidate.kind != "released"]
    if len(trend) >= 3:
        _trend_warnings(result, trend, tol)
    rel = result.released_row
    if rel is not None and rel.score(rank_on) is not None and result.released_index != best_i:
        rs = _score(rel, rank_on)
        if released_is_worse(rs, best_score, tol):
            result.warnings.append(SweepWarning(
                "released_not_best",
                f"the released model {result.released_name} is not the best-measured "
                f"candidate: it scores {rs:.3f} against {best_score:.3f} for {best.candidate.short} "
                f"({pct(rs, best_score)}; tolerance {tol.released_vs_best:.0%}); release {best.candidate.label} "
                "instead (RVC: ckpt processing -> extract small model, or use the per-epoch file)"))


def _second_opinion(result: SweepResult, best_i: int, best: SweepRow, tol: Tolerances) -> str:
    """What the other set says about the choice."""
    other = "train" if result.rank_on == "heldout" else "heldout"
    scored = [(i, _score(r, other)) for i, r in enumerate(result.rows) if r.score(other) is not None]
    if len(scored) < 2 or best.score(other) is None:
        return ""
    oi, os_ = min(scored, key=lambda t: (t[1], t[0]))
    name = "training sample" if other == "train" else (
        "held-out slice" if result.heldout.kind == "not_in_filelist" else "set-aside slice")
    mine = _score(best, other)
    if oi == best_i:
        return f"; the {name} agrees ({mine:.3f}, its best)"
    if not is_worse(mine, os_, tol.plateau, tol.min_difference):
        return (f"; on the {name} it is within {tol.plateau:.0%} of the best there "
                f"({mine:.3f} vs {os_:.3f} for {result.rows[oi].candidate.label})")
    return (f"; the {name} prefers {result.rows[oi].candidate.label} ({os_:.3f} vs {mine:.3f}): the ranking is "
            "uncertain, listen to both")


def _trend_warnings(result: SweepResult, trend: list[tuple[int, SweepRow]], tol: Tolerances) -> None:
    rank_on = result.rank_on
    scores = [_score(r, rank_on) for _, r in trend]
    best = min(scores)
    b = scores.index(best)
    last = trend[-1][1]
    steps = [r.candidate.plot_step for _, r in trend]
    # plateau: the first checkpoint already as good as the best came long before the last one
    k = next(j for j, s in enumerate(scores) if not is_worse(s, best, tol.plateau, tol.min_difference))
    if k < len(trend) - 1:
        first_step, last_step = steps[k], steps[-1]
        frac = first_step / last_step if first_step is not None and last_step else k / (len(trend) - 1)
        if frac <= tol.plateau_fraction:
            rk = trend[k][1]
            later = len(trend) - 1 - k
            result.warnings.append(SweepWarning(
                "plateau",
                f"quality stopped improving at {rk.candidate.short}, {frac:.0%} of the run: none of the {later} later "
                f"checkpoint{'s' if later != 1 else ''} up to {last.candidate.label} is more than {tol.plateau:.0%} "
                f"better (best {best:.3f}, this one {scores[k]:.3f}). More epochs would not help: train about this "
                "long, and look elsewhere (data, pretrained base) for more quality"))
    # the end is worse than the best
    if b < len(trend) - 1 and is_worse(scores[-1], best, tol.overtraining, tol.min_difference):
        rb = trend[b][1]
        if rank_on == "heldout":
            fit = [r.score("train") for _, r in trend]
            known = [float(f) for f in fit if f is not None]
            kept = fit[-1] is not None and len(known) == len(fit) and not is_worse(
                known[-1], min(known), tol.overtraining, tol.min_difference)
            tail = (" while the fit to the training segments did not get worse: overfitting (overtraining), the model "
                    "memorises its training data" if kept else
                    "; the training segments got worse too, so training itself degraded (not only overfitting)")
            text = (f"quality on segments never trained on got worse after {rb.candidate.short}: the last checkpoint "
                    f"{last.candidate.label} scores {scores[-1]:.3f} vs {best:.3f} ({pct(scores[-1], best)})" + tail)
            kind = "overfitting" if kept else "overtraining"
        else:
            text = (f"quality got worse at the end (overtraining): the last checkpoint {last.candidate.label} scores "
                    f"{scores[-1]:.3f} vs {best:.3f} at {rb.candidate.short} ({pct(scores[-1], best)}). Measured on "
                    "segments it was trained on, so this is training drifting away from its targets (too many epochs "
                    "at this learning rate, adversarial instability), not only the overfitting unseen audio would "
                    f"show; release {rb.candidate.label} or earlier")
            kind = "overtraining"
        result.warnings.append(SweepWarning(kind, text))
