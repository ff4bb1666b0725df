"""What a sweep produces: candidates, their scores per set of segments, the recommendation.

Plain data, no I/O: the engine fills it, :mod:`rvcqa.sweep.analysis` judges it, the renderers and
:mod:`rvcqa.checks.sweep` read it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from rvcqa.checkpoint import LATEST_ONLY_STEP

#: RVC's loss weight on the mel L1 (loss_mel = 45 x mean |log-mel difference|)
C_MEL = 45.0


@dataclass
class SweepCandidate:
    """One set of weights to measure. ``also`` lists other files holding the same weights (RVC
    writes ``G_{S}.pth`` and ``NAME_e{E}_s{S}.pth`` from one state)."""

    path: Path
    kind: str  # "G", "epoch" or "released" (the released file, not among the checkpoints)
    step: Optional[int]
    epoch: Optional[int]
    also: list[Path] = field(default_factory=list)
    plot_step: Optional[int] = None  # step on the plot's axis (G_2333333 -> estimated)

    @property
    def label(self) -> str:
        return self.path.name

    @property
    def short(self) -> str:
        """``G_300.pth (epoch 15, step 300)``: what progress lines and messages say."""
        parts = []
        if self.epoch is not None:
            parts.append(f"epoch {self.epoch}")
        if self.step == LATEST_ONLY_STEP:
            parts.append("'save only latest'")
        elif self.step is not None:
            parts.append(f"step {self.step}")
        return f"{self.label} ({', '.join(parts)})" if parts else self.label

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "kind": self.kind, "step": self.step, "epoch": self.epoch,
                "also": [str(p) for p in self.also], "plot_step": self.plot_step}


@dataclass
class SetScores:
    """One candidate on one set of segments: medians over the segments that could be measured."""

    n: int = 0
    mel: Optional[float] = None  # in-band log-mel L1 (ranking metric)
    mel_full: Optional[float] = None  # all bands: RVC's loss_mel / 45
    flatness: Optional[float] = None
    zcr_ratio: Optional[float] = None
    f0_cents: Optional[float] = None  # median over segments of the median |cents| error
    vde: Optional[float] = None  # voicing decision error (share of frames)
    rms_ratio: Optional[float] = None
    per_segment: list[dict[str, Any]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # stem -> why a segment has no score

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "mel_distance": self.mel, "mel_distance_full_band": self.mel_full,
                "loss_mel_equivalent": None if self.mel_full is None else self.mel_full * C_MEL,
                "flatness": self.flatness, "zcr_ratio": self.zcr_ratio, "f0_median_abs_cents": self.f0_cents,
                "voicing_error": self.vde, "rms_ratio": self.rms_ratio, "per_segment": self.per_segment,
                "errors": dict(self.errors)}


@dataclass
class SweepRow:
    """One candidate's measurement (or the reason it has none)."""

    candidate: SweepCandidate
    train: Optional[SetScores] = None
    heldout: Optional[SetScores] = None
    seconds: float = 0.0
    error: Optional[str] = None
    released: bool = False
    loss_mel: Optional[float] = None  # the training log's loss_mel near this step

    def score(self, rank_on: str) -> Optional[float]:
        s = self.heldout if rank_on == "heldout" else self.train
        return s.mel if s is not None else None

    @property
    def scores(self) -> Optional[SetScores]:
        """The set shown when one is enough (training sample, else held-out)."""
        return self.train or self.heldout

    def to_dict(self, rank_on: str = "train") -> dict[str, Any]:
        return {"candidate": self.candidate.to_dict(), "label": self.candidate.label, "step": self.candidate.step,
                "epoch": self.candidate.epoch, "score": self.score(rank_on), "released": self.released,
                "train": self.train.to_dict() if self.train else None,
                "heldout": self.heldout.to_dict() if self.heldout else None,
                "seconds": round(self.seconds, 2), "error": self.error, "log_loss_mel": self.loss_mel}


@dataclass
class HeldOut:
    """Which segments were kept out of the ranking sample, and what that means."""

    kind: str  # "not_in_filelist", "selection_only" or "none"
    stems: list[str]
    description: str


@dataclass
class Recommendation:
    index: int  # into SweepResult.rows
    label: str
    score: float
    reason: str


@dataclass
class SweepWarning:
    kind: str  # plateau, overtraining, overfitting, released_not_best, candidate_error, released_unknown,
    # no_usable_output
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass
class SweepResult:
    name: str
    rows: list[SweepRow]
    rank_on: str  # "train" or "heldout": which set's mel distance ranks the candidates
    heldout: HeldOut
    train_stems: list[str]
    recommendation: Optional[Recommendation] = None
    warnings: list[SweepWarning] = field(default_factory=list)
    released_index: Optional[int] = None
    released_how: str = ""
    released_file: Optional[Path] = None
    plot_path: Optional[Path] = None
    plot_note: str = ""
    out_dir: Optional[Path] = None
    loss_mel: list[tuple[int, float]] = field(default_factory=list)  # (step, loss_mel) from the log
    settings: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def measured(self) -> list[SweepRow]:
        return [r for r in self.rows if r.score(self.rank_on) is not None]

    @property
    def released_row(self) -> Optional[SweepRow]:
        return self.rows[self.released_index] if self.released_index is not None else None

    @property
    def best_row(self) -> Optional[SweepRow]:
        return self.rows[self.recommendation.index] if self.recommendation else None

    @property
    def released_name(self) -> str:
        """``sw.pth (bit-equal to G_500.pth ...)``: the released file and how it was matched."""
        name = self.released_file.name if self.released_file else "?"
        return f"{name} ({self.released_how})"

    def warnings_of(self, *kinds: str) -> list[SweepWarning]:
        return [w for w in self.warnings if w.kind in kinds]

    def to_dict(self) -> dict[str, Any]:
        rec = self.recommendation
        return {
            "name": self.name, "rank_on": self.rank_on,
            "rows": [r.to_dict(self.rank_on) for r in self.rows],
            "heldout": {"kind": self.heldout.kind, "stems": self.heldout.stems,
                        "description": self.heldout.description},
            "train_stems": self.train_stems,
            "recommendation": None if rec is None else {"index": rec.index, "label": rec.label, "score": rec.score,
                                                        "reason": rec.reason},
            "warnings": [{"kind": w.kind, "message": w.message} for w in self.warnings],
            "released_index": self.released_index, "released_how": self.released_how,
            "released_file": str(self.released_file) if self.released_file else None,
            "plot_path": str(self.plot_path) if self.plot_path else None, "plot_note": self.plot_note,
            "out_dir": str(self.out_dir) if self.out_dir else None, "settings": self.settings,
            "seconds": round(self.seconds, 1),
        }
