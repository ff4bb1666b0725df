"""The watch's calls: trend per checkpoint, "stop: quality stopped improving", "overtraining".

One metric decides (printed with the profile keys it used): the distance on the target speaker's
held-out recordings when given (the only real generalisation measure), else on the training folder's
true held-out slice (segments not in ``filelist.txt``), else on the training sample itself (then the
call can say "stopped improving", not "generalises").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from rvcqa.sweep.analysis import pct
from rvcqa.sweep.model import SweepRow
from rvcqa.sweep.tolerances import Tolerances, is_worse


@dataclass
class Point:
    """One judged checkpoint."""

    row: SweepRow  # train = training sample, heldout = the folder's set-aside / held-out slice
    recordings: Optional[float] = None  # median distance on --heldout recordings
    recordings_n: int = 0

    @property
    def epoch(self) -> Optional[int]:
        return self.row.candidate.epoch

    @property
    def label(self) -> str:
        return self.row.candidate.label

    def value(self, metric: str) -> Optional[float]:
        if metric == "recordings":
            return self.recordings
        return self.row.score(metric)


@dataclass
class Call:
    kind: str  # "stop" or "overtraining" or "declining"
    epoch: Optional[int]
    release: str  # the file to release
    message: str


@dataclass
class Judge:
    """Keeps the judged points and says what they show."""

    metric: str  # "recordings", "heldout" or "train"
    tol: Tolerances
    points: list[Point] = field(default_factory=list)

    @property
    def metric_name(self) -> str:
        return {"recordings": "held-out recordings of the speaker", "heldout": "held-out slice (not in filelist.txt)",
                "train": "training sample"}[self.metric]

    def describe(self) -> str:
        keys = ", ".join(f"{k}={v:g}" for k, v in self.tol.describe().items()
                         if k in ("sweep.plateau_tolerance", "watch.patience", "sweep.overtraining_tolerance",
                                  "sweep.min_mel_difference"))
        return (f"metric: median in-band log-mel L1 distance to the targets (lower is better) on the "
                f"{self.metric_name}; tolerances: {keys}")

    def scored(self) -> list[tuple[int, float]]:
        out = []
        for i, p in enumerate(self.points):
            v = p.value(self.metric)
            if v is not None:
                out.append((i, float(v)))
        return out

    def best(self) -> Optional[Point]:
        s = self.scored()
        return self.points[min(s, key=lambda t: (t[1], t[0]))[0]] if s else None

    def trend(self, point: Point) -> str:
        """How ``point`` (the newest) compares with the previous judged one and the best before it."""
        v = point.value(self.metric)
        if v is None:
            return "not measured"
        earlier = [(i, s) for i, s in self.scored() if self.points[i] is not point]
        if not earlier:
            return "first"
        prev = earlier[-1][1]
        best_before = min(s for _, s in earlier)
        t = self.tol
        if is_worse(prev, v, 0.0, t.min_difference):
            word = f"better ({pct(v, prev)})"
        elif is_worse(v, prev, 0.0, t.min_difference):
            word = f"worse ({pct(v, prev)})"
        else:
            word = "same"
        if v < best_before and is_worse(best_before, v, 0.0, t.min_difference):
            word += ", best so far"
        return word

    def calls(self) -> list[Call]:
        """Every call the points earn now (none until there is enough to say it)."""
        s = self.scored()
        out: list[Call] = []
        if len(s) < 2:
            return out
        t = self.tol
        best = min(v for _, v in s)
        b = next(i for i, v in s if v == best)
        bp = self.points[b]
        k_pos = next(j for j, (_, v) in enumerate(s) if not is_worse(v, best, t.plateau, t.min_difference))
        k_point = self.points[s[k_pos][0]]
        since = len(s) - 1 - k_pos
        if since >= t.patience:
            first = k_point.label if k_point is not bp else bp.label
            out.append(Call(
                "stop", k_point.epoch, bp.label,
                f"quality stopped improving at epoch {k_point.epoch} ({first}): the {self.metric_name} stayed "
                f"within {t.plateau:.0%} of the best over the last {since} checkpoints: stop and release "
                f"{bp.label} (epoch {bp.epoch}, distance {best:.3f})"))
        last_i, last_v = s[-1]
        if last_i != b and is_worse(last_v, best, t.overtraining, t.min_difference):
            last = self.points[last_i]
            if self.metric == "train":
                out.append(Call(
                    "declining", bp.epoch, bp.label,
                    f"the training sample is getting worse since epoch {bp.epoch}: {last.label} scores {last_v:.3f} "
                    f"vs {best:.3f} ({pct(last_v, best)}); release {bp.label}"))
            else:
                fit_last, fit_best = last.row.score("train"), bp.row.score("train")
                if fit_last is not None and fit_best is not None and not is_worse(
                        fit_last, fit_best, 0.0, t.min_difference):
                    out.append(Call(
                        "overtraining", bp.epoch, bp.label,
                        f"held-out getting worse while training gets better: overtraining since epoch {bp.epoch} "
                        f"({self.metric_name} {last_v:.3f} vs {best:.3f}, {pct(last_v, best)}; training sample "
                        f"{fit_last:.3f} vs {fit_best:.3f}): stop and release {bp.label}"))
                else:
                    out.append(Call(
                        "declining", bp.epoch, bp.label,
                        f"held-out and training both got worse since epoch {bp.epoch} ({last_v:.3f} vs {best:.3f}, "
                        f"{pct(last_v, best)}): training itself degraded; release {bp.label}"))
        return out

    def recommendation(self) -> str:
        """The closing line: what to release, and why."""
        bp = self.best()
        if bp is None:
            return "no checkpoint could be measured yet: nothing to recommend"
        v = bp.value(self.metric)
        calls = self.calls()
        head = f"recommendation: release {bp.label} (epoch {bp.epoch}): lowest distance {v:.3f} on the {self.metric_name}"
        if calls:
            return head + "; " + "; ".join(c.message for c in calls)
        n = len(self.scored())
        return head + (f"; still improving or too few checkpoints ({n}) to call a plateau "
                       f"(watch.patience={self.tol.patience})")
