"""What every training-log check starts from: the parsed log (loaded once) and shared wording.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rvcqa.checks.trainlog.defaults import C_MEL, thr
from rvcqa.errors import TrainLogError
from rvcqa.findings import Finding, Status, skipped
from rvcqa.losscurve import MelAnalysis, analyse_series, finite_entries
from rvcqa.trainlog import LossEntry, TrainLog

if TYPE_CHECKING:
    from rvcqa.context import ModelContext


@dataclass
class LoadedLog:
    log: TrainLog | None
    skip: str | None  # reason every check is skipped
    error: str | None = None  # unreadable log: training.log fails with it


def load_log(ctx: ModelContext) -> LoadedLog:
    def compute() -> LoadedLog:
        if ctx.md.train_log is None and ctx.history().tensorboard is None:
            return LoadedLog(None, f"no train.log in {ctx.md.root}: RVC >= 2.2.231006 prints the losses to the "
                                 "console instead; capture it and pass --train-log PATH")
        try:
            log = ctx.train_log()
        except TrainLogError as exc:
            return LoadedLog(None, f"the training log could not be read ({exc})", error=str(exc))
        if log is None:
            return LoadedLog(None, "no training log")
        if log.is_empty:
            return LoadedLog(log, "train.log is empty: RVC >= 2.2.231006 logs to the console; capture it and pass "
                                "--train-log PATH")
        return LoadedLog(log, None)

    return ctx.cached("trainlog:loaded", compute)


def need_losses(log: TrainLog, cid: str) -> Finding | None:
    if log.mel_entries:
        return None
    if log.applio_epochs:
        return skipped(cid, "Applio prints no losses (only 'epoch=... | lowest_value=...'); its loss_mel is in "
                            "TensorBoard under logs/NAME/eval (loss/g/mel)")
    return skipped(cid, f"no loss lines in the log ({log.format} format, {log.n_lines} lines)")


def mel_points(log: TrainLog, cid: str) -> list[LossEntry] | Finding:
    """The finite loss_mel entries, or the skip that says why a loss check cannot run."""
    if (s := need_losses(log, cid)) is not None:
        return s
    pts = finite_entries(log.entries, "loss_mel")
    return pts or skipped(cid, "every loss_mel is NaN (see training.nan)")


def mel_analysis(ctx: ModelContext, log: TrainLog) -> MelAnalysis:
    def compute() -> MelAnalysis:
        return analyse_series(
            finite_entries(log.entries, "loss_mel"), "loss_mel",
            min_improvement=float(thr(ctx, "training.mel_progress.min_improvement")),
            max_rise=float(thr(ctx, "training.mel_progress.max_rise")),
            z=float(thr(ctx, "training.mel_progress.noise_z")),
            min_points=int(thr(ctx, "training.mel_progress.min_points")),
        )

    return ctx.cached("trainlog:mel_analysis", compute)


def nepers(mel: float) -> str:
    n = mel / C_MEL
    return f"{n:.2f} nepers ({n * 8.686:.1f} dB) mean log-mel error per bin"


def data_cause(ctx: ModelContext) -> str | None:
    """The dataset finding that most likely explains an unfittable target, in RVC's words."""
    found = ctx.findings_of("dataset")
    order = (
        ("dataset.gt_format", "0_gt_wavs holds integer PCM wavs, which RVC's loader reads without dividing by "
                              "32768: the targets are 32768x too loud and unreachable (dataset.gt_format)"),
        ("dataset.gt_sample_rate", "0_gt_wavs is not at the model's sample rate (dataset.gt_sample_rate)"),
        ("dataset.gt_levels", "the GT slices are not normalised to [-1, 1] (dataset.gt_levels)"),
        ("dataset.durations", "the 16 kHz slices do not match the GT slices (dataset.durations)"),
        ("dataset.frames", "pitch/features do not line up with the audio (dataset.frames)"),
        ("dataset.features", "the content features are broken (dataset.features)"),
    )
    for cid, text in order:
        f = found.get(cid)
        if f is not None and f.status is Status.FAILED:
            return text
    return None


def pretrained_state(log: TrainLog) -> tuple[str, str]:
    """("loaded" | "not_loaded" | "named" | "resumed" | "unknown", evidence)."""
    if log.pretrained_missing:
        return "not_loaded", log.pretrained_missing[0]
    g = log.hparam("pretrainG")
    if log.pretrained_loaded:
        bad = [p for p in log.pretrained_loaded if not p.matched]
        names = ", ".join(base_name(p.path) for p in log.pretrained_loaded)
        if bad:
            return "named", f"'loaded pretrained {bad[0].path}' without '<All keys matched successfully>'"
        return "loaded", f"loaded {names}, all keys matched"
    if isinstance(g, str) and g.strip() == "":
        return "not_loaded", "pretrainG is '' in the hyperparameters"
    if log.resumes:
        path, epoch = log.resumes[0]
        return "resumed", f"resumed from {base_name(path)} (epoch {epoch})"
    if isinstance(g, str) and g:
        return "named", f"pretrainG {g}"
    return "unknown", "the log does not name a pretrained base"


def base_name(path: str) -> str:
    return re.split(r"[\\/]", path)[-1] or path
