"""Training-log health, and verdicts on the lexi report's hypotheses.

Reads ``logs/NAME/train.log`` or a captured console (``--train-log PATH``) through
:func:`rvcqa.trainlog.parse_train_log`. Facts: RVC_FORMATS.md 3.3 (log format, 75/9 display caps),
5.6 (loss_mel = 45 x mean |log-mel error|), 5.7 (what healthy runs print), 6 (failure modes).

``run(ctx)`` returns the ``training.*`` findings. ``hypotheses(ctx)`` returns one informational
finding per ``hypothesis.*`` id (status PASSED = ruled out, WARNING = supported, SKIPPED = not
testable; the verdict is also in ``details["verdict"]``); :data:`HYPOTHESES` wraps it so
``ctx.findings(trainlog.HYPOTHESES)`` caches it like a checks module.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np

from rvcqa.context import ModelContext
from rvcqa.errors import RvcqaError, TrainLogError
from rvcqa.findings import Finding, Status, failed, passed, skipped, warning
from rvcqa.trainlog import (
    KL_CAP,
    MEL_CAP,
    LossEntry,
    TrainLog,
    rvc_bucket_steps,
    steps_per_epoch_from_log,
)

CHECK_IDS: tuple[str, ...] = (
    "training.log",
    "training.nan",
    "training.mel_start",
    "training.mel_final",
    "training.mel_progress",
    "training.kl",
    "training.pretrained",
    "training.pretrained_match",
    "training.checkpoints",
    "training.steps_per_epoch",
    "training.completed",
)

HYPOTHESIS_IDS: tuple[str, ...] = (
    "hypothesis.insufficient_training",
    "hypothesis.feature_misalignment",
    "hypothesis.pretrained_mismatch",
    "hypothesis.learning_rate",
    "hypothesis.batch_size",
)

DEFAULTS: dict[str, Any] = {
    # Final loss_mel (median of the last 10% of loss lines) above this fails. loss_mel is
    # 45 x mean |log-mel error| (c_mel = 45), so 40 is 0.89 nepers per mel bin; posted healthy RVC
    # runs end at 15-25 and the worst still-usable posted run sat at 25-32 (RVC_FORMATS 5.7).
    "training.mel_final.max": 40.0,
    # Above this (the top of the healthy 15-25 range) the final level is a warning.
    "training.mel_final.warn": 25.0,
    # First loss_mel above this fails: from RVC's pretrained base runs start around 30 (posted logs
    # 5.7: 31, 30, 21 at step 200); random init prints the 75.000 cap. 50 leaves room for one bad batch.
    "training.mel_start.max": 50.0,
    # A log starting later than this many steps is a resumed run: its start says nothing.
    "training.mel_start.max_first_step": 400,
    # Relative drop of the median loss_mel from the early window (10-33% of the run) to the last
    # third that counts as "still improving". Healthy curves drop 15-40% over that span.
    "training.mel_progress.min_improvement": 0.05,
    # Relative rise early -> late that fails: the Hopper-GPU failure (RVC #2406) goes 30 -> 50-60.
    "training.mel_progress.max_rise": 0.15,
    # The medians must also differ by this many standard errors (noise from line-to-line MAD).
    "training.mel_progress.noise_z": 2.0,
    # Fewer loss lines cannot separate a trend from noise (RVC prints one per 200 steps).
    "training.mel_progress.min_points": 6,
    # loss_kl (late median) above this fails: RVC's display cap; healthy runs sit at 1.5-2.
    "training.kl.max": 9.0,
    # loss_kl (late median) below this is a warning: the posterior has collapsed onto the prior.
    "training.kl.min": 0.05,
    # Allowed difference between the log's steps/epoch and RVC's bucket-sampler arithmetic on the
    # data here (exact by construction when the data is what was trained).
    "training.steps_per_epoch.tolerance": 0,
    # Learning rates above this support the learning-rate hypothesis: RVC's default is 1e-4
    # (config.json train.learning_rate), which every posted healthy run used.
    "hypothesis.learning_rate.max": 5e-4,
    # Batch sizes below this support the batch-size hypothesis: RVC's UI offers 1-40 and posted
    # healthy runs use 4-12; below 2 the GAN statistics are very noisy.
    "hypothesis.batch_size.min": 2,
}

C_MEL = 45.0
HEALTHY_MEL = (15.0, 25.0)


# --------------------------------------------------------------------------- loading

@dataclass
class _Loaded:
    log: TrainLog | None
    skip: str | None  # reason every check is skipped
    error: str | None = None  # unreadable log: training.log fails with it


def _load(ctx: ModelContext) -> _Loaded:
    def compute() -> _Loaded:
        if ctx.md.train_log is None and ctx.history().tensorboard is None:
            return _Loaded(None, f"no train.log in {ctx.md.root}: RVC >= 2.2.231006 prints the losses to the "
                                 "console instead; capture it and pass --train-log PATH")
        try:
            log = ctx.train_log()
        except TrainLogError as exc:
            return _Loaded(None, f"the training log could not be read ({exc})", error=str(exc))
        if log is None:
            return _Loaded(None, "no training log")
        if log.is_empty:
            return _Loaded(log, "train.log is empty: RVC >= 2.2.231006 logs to the console; capture it and pass "
                                "--train-log PATH")
        return _Loaded(log, None)

    return ctx.cached("trainlog:loaded", compute)


def _need_losses(log: TrainLog, cid: str) -> Finding | None:
    if log.mel_entries:
        return None
    if log.applio_epochs:
        return skipped(cid, "Applio prints no losses (only 'epoch=... | lowest_value=...'); its loss_mel is in "
                            "TensorBoard under logs/NAME/eval (loss/g/mel)")
    return skipped(cid, f"no loss lines in the log ({log.format} format, {log.n_lines} lines)")


# --------------------------------------------------------------------------- series analysis

@dataclass
class Window:
    entries: list[LossEntry]
    median: float

    def span(self) -> str:
        return _span(self.entries)


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


def _span(entries: list[LossEntry]) -> str:
    epochs = [e.epoch for e in entries if e.epoch is not None]
    if epochs:
        lo, hi = min(epochs), max(epochs)
        return f"epoch {lo}" if lo == hi else f"epochs {lo}-{hi}"
    steps = [e.step for e in entries if e.step is not None]
    if steps:
        return f"steps {min(steps)}-{max(steps)}"
    return f"log lines {entries[0].line_no}-{entries[-1].line_no}"


def _where(e: LossEntry) -> str:
    parts = []
    if e.epoch is not None:
        parts.append(f"epoch {e.epoch}")
    if e.step is not None:
        parts.append(f"step {e.step}")
    return ", ".join(parts) if parts else f"line {e.line_no}"


def _finite(entries: list[LossEntry], attr: str) -> list[LossEntry]:
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


def mel_analysis(ctx: ModelContext, log: TrainLog) -> MelAnalysis:
    def compute() -> MelAnalysis:
        t = lambda k: ctx.threshold(k, DEFAULTS[k])  # noqa: E731
        return analyse_series(
            _finite(log.entries, "loss_mel"), "loss_mel",
            min_improvement=float(t("training.mel_progress.min_improvement")),
            max_rise=float(t("training.mel_progress.max_rise")),
            z=float(t("training.mel_progress.noise_z")),
            min_points=int(t("training.mel_progress.min_points")),
        )

    return ctx.cached("trainlog:mel_analysis", compute)


def _final(points: list[LossEntry], attr: str) -> tuple[float, list[LossEntry], float]:
    k = max(3, math.ceil(0.1 * len(points)))
    last = points[-k:]
    capped_attr = "mel_capped" if attr == "loss_mel" else "kl_capped"
    return (float(np.median([getattr(p, attr) for p in last])), last,
            sum(bool(getattr(p, capped_attr)) for p in last) / len(last))


def _nepers(mel: float) -> str:
    n = mel / C_MEL
    return f"{n:.2f} nepers ({n * 8.686:.1f} dB) mean log-mel error per bin"


def _data_cause(ctx: ModelContext) -> str | None:
    """The dataset finding that most likely explains an unfittable target, in RVC's words."""
    try:
        from rvcqa.checks import dataset

        found = ctx.findings(dataset)
    except Exception:  # pragma: no cover - the dataset checks never raise; stay robust anyway
        return None
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


def _pretrained_state(log: TrainLog) -> tuple[str, str]:
    """("loaded" | "not_loaded" | "named" | "resumed" | "unknown", evidence)."""
    if log.pretrained_missing:
        return "not_loaded", log.pretrained_missing[0]
    g = log.hparam("pretrainG")
    if log.pretrained_loaded:
        bad = [p for p in log.pretrained_loaded if not p.matched]
        names = ", ".join(_base(p.path) for p in log.pretrained_loaded)
        if bad:
            return "named", f"'loaded pretrained {bad[0].path}' without '<All keys matched successfully>'"
        return "loaded", f"loaded {names}, all keys matched"
    if isinstance(g, str) and g.strip() == "":
        return "not_loaded", "pretrainG is '' in the hyperparameters"
    if log.resumes:
        path, epoch = log.resumes[0]
        return "resumed", f"resumed from {_base(path)} (epoch {epoch})"
    if isinstance(g, str) and g:
        return "named", f"pretrainG {g}"
    return "unknown", "the log does not name a pretrained base"


def _base(path: str) -> str:
    return re.split(r"[\\/]", path)[-1] or path


# --------------------------------------------------------------------------- checks

def check_log(ctx: ModelContext, log: TrainLog) -> Finding:
    cid = "training.log"
    mel = log.mel_entries
    ctx.record("training.log_format", log.format)
    parts = [f"{log.format} format"]
    if mel:
        parts.append(f"{len(mel)} loss lines ({_span(mel)})")
    if log.applio_epochs:
        parts.append(f"{len(log.applio_epochs)} Applio epoch lines")
    if log.epochs_ended:
        parts.append(f"{len(log.epochs_ended)} epoch ends")
    if log.hparams:
        parts.append("hyperparameters")
    if log.warnings:
        parts.append(f"{len(log.warnings)} lines not understood")
    name = ctx.md.train_log.name if ctx.md.train_log else "TensorBoard"
    if log.format == "unknown":
        return warning(cid, f"{name}: nothing recognised in {log.n_lines} lines (first: {log.warnings[0] if log.warnings else ''})",
                       cause="not an RVC/Applio training log, or a format rvcqa does not know")
    return passed(cid, f"{name}: " + ", ".join(parts), measured=len(mel), details={"format": log.format})


def check_nan(ctx: ModelContext, log: TrainLog) -> Finding:
    cid = "training.nan"
    if not log.entries:
        return _need_losses(log, cid) or skipped(cid, "no loss lines")
    bad = [e for e in log.entries if e.has_nan]
    if not bad:
        return passed(cid, f"no NaN/Inf in {len(log.entries)} loss lines", measured=0, expected=0)
    first = bad[0]
    which = [k for k, v in first.values().items() if v is not None and not math.isfinite(v)]
    return failed(
        cid,
        f"{len(bad)} of {len(log.entries)} loss lines contain NaN/Inf, first at {_where(first)} ({', '.join(which)})",
        measured=len(bad), expected=0,
        cause="training diverged: on H100/H800/H200 GPUs under Linux RVC's loss_mel climbs 30 -> 50-60 -> nan "
              "(RVC #2406; train on another GPU or CPU); fp16 on GPUs without usable half precision (set "
              "fp16_run false); or training audio outside about +-2 (RVC #507). Use a checkpoint from before "
              f"{_where(first)}",
        details={"first_nan": _where(first)},
    )


def check_mel_start(ctx: ModelContext, log: TrainLog) -> Finding:
    cid = "training.mel_start"
    if (s := _need_losses(log, cid)) is not None:
        return s
    limit = float(ctx.threshold("training.mel_start.max", DEFAULTS["training.mel_start.max"]))
    max_first = int(ctx.threshold("training.mel_start.max_first_step", DEFAULTS["training.mel_start.max_first_step"]))
    pts = _finite(log.entries, "loss_mel")
    if not pts:
        return skipped(cid, "every loss_mel is NaN (see training.nan)")
    first = pts[0]
    if (first.step is not None and first.step > max_first) or (log.resumes and not log.pretrained_loaded):
        return skipped(cid, f"the log starts at {_where(first)} (a resumed run): its first loss says nothing about the start")
    ctx.record("training.first_loss_mel", first.loss_mel)
    value = f"{'>= ' if first.mel_capped else ''}{first.loss_mel:.3f}"
    state, evidence = _pretrained_state(log)
    if first.loss_mel <= limit and not first.mel_capped:
        return passed(cid, f"first loss_mel {value} at {_where(first)} (from a pretrained base runs start near 30; limit {limit:g})",
                      measured=first.loss_mel, expected=f"<= {limit:g}")
    data = _data_cause(ctx)
    if state in ("not_loaded",):
        cause = (f"no pretrained base was loaded ({evidence}): the generator started from random weights. Set "
                 "pretrainG/pretrainD to assets/pretrained_v2/f0G48k.pth / f0D48k.pth (matching sr and f0) and retrain")
        if data:
            cause += f"; also {data}"
        where = "and no pretrained base was loaded"
    else:
        pre = _base(log.pretrain_g) if log.pretrain_g else "a pretrained base"
        where = f"although the log shows {pre} {'loaded' if state == 'loaded' else 'named'}"
        cause = (data + ". A loaded pretrain starts near 30 only on targets like the ones it was trained on") if data else (
            "the pretrained base is not effective for this data, or the targets are mis-scaled (integer-PCM "
            "0_gt_wavs read 32768x too loud, wrong sample rate, unnormalised audio): see the dataset.* checks")
    return failed(
        cid,
        f"first loss_mel {value} at {_where(first)} is far above the ~30 a run from RVC's pretrained base starts at "
        f"(limit {limit:g}), {where}",
        measured=first.loss_mel, expected=f"<= {limit:g}", cause=cause,
        details={"pretrained": state, "evidence": evidence},
    )


def check_mel_final(ctx: ModelContext, log: TrainLog) -> Finding:
    cid = "training.mel_final"
    if (s := _need_losses(log, cid)) is not None:
        return s
    limit = float(ctx.threshold("training.mel_final.max", DEFAULTS["training.mel_final.max"]))
    warn = float(ctx.threshold("training.mel_final.warn", DEFAULTS["training.mel_final.warn"]))
    pts = _finite(log.entries, "loss_mel")
    if not pts:
        return skipped(cid, "every loss_mel is NaN (see training.nan)")
    level, last, capped = _final(pts, "loss_mel")
    ctx.record("training.final_loss_mel", round(level, 3))
    ctx.record("training.last_loss_mel", pts[-1].loss_mel)
    ctx.record("loss_mel_last", pts[-1].loss_mel)  # the summary table's key
    shown = f"{'>= ' if capped >= 0.5 else ''}{level:.1f}"
    what = f"final loss_mel {shown} (median of the last {len(last)} loss lines, {_span(last)})"
    if level > limit or capped >= 0.5:
        data = _data_cause(ctx)
        if mel_analysis(ctx, log).verdict == "rising":
            data = ("training diverged: loss_mel rose during the run (see training.mel_progress; H100/H800/H200 "
                    "GPUs under Linux, RVC #2406)") + (f"; also {data}" if data else "")
        cap = (" — pinned at RVC's display cap 75.000, so the true loss is higher" if capped >= 0.5 else "")
        return failed(
            cid,
            f"{what} is above {limit:g}{cap}; healthy RVC runs end at {HEALTHY_MEL[0]:g}-{HEALTHY_MEL[1]:g}. "
            f"{level:.0f} is {_nepers(level)}, against about 0.4 nepers for a healthy model",
            measured=round(level, 3), expected=f"<= {limit:g} (healthy {HEALTHY_MEL[0]:g}-{HEALTHY_MEL[1]:g})",
            cause=data or "the generator cannot fit the targets: check the dataset.* findings (integer-PCM or wrongly "
                          "sampled 0_gt_wavs, misaligned features), and whether a pretrained base was loaded",
        )
    if level > warn:
        return warning(cid, f"{what} is above the {HEALTHY_MEL[0]:g}-{HEALTHY_MEL[1]:g} of healthy runs (limit {limit:g})",
                       measured=round(level, 3), expected=f"<= {warn:g}",
                       cause="few epochs, little or noisy data; listen to the saved epochs (RVC #1112: no universal target)")
    return passed(cid, f"{what}: healthy (15-25 is typical; limit {limit:g})", measured=round(level, 3),
                  expected=f"<= {limit:g}")


def check_mel_progress(ctx: ModelContext, log: TrainLog) -> Finding:
    """Stagnation or a rising trend, judged robustly against line-to-line noise.

    Early window: loss lines from 10% to 33% of the run (after RVC's fast initial drop); late window:
    the last third. The change between their medians counts only if it exceeds both
    ``noise_z`` standard errors (noise = 1.48 x MAD of successive differences / sqrt 2) and a
    relative minimum. A flat curve is fine at a healthy level (converged) and a failure above
    ``training.mel_final.max`` (stuck: more epochs will not help).
    """
    cid = "training.mel_progress"
    if (s := _need_losses(log, cid)) is not None:
        return s
    a = mel_analysis(ctx, log)
    limit = float(ctx.threshold("training.mel_final.max", DEFAULTS["training.mel_final.max"]))
    if a.verdict == "too_few" or a.early is None or a.late is None:
        return skipped(cid, f"only {a.n} finite loss_mel lines: too few to tell a trend from noise "
                            f"(RVC prints one every 200 steps)")
    e, l_ = a.early, a.late
    desc = (f"median loss_mel {e.median:.1f} in {e.span()} vs {l_.median:.1f} in the last third ({l_.span()}): "
            f"{a.rel:+.1%}, line-to-line noise +-{a.noise:.1f}")
    details = {"early_median": e.median, "late_median": l_.median, "relative_change": a.rel, "noise": a.noise,
               "verdict": a.verdict, "plateau_from": _where(a.plateau_from) if a.plateau_from else None}
    ctx.record("training.mel_trend", a.verdict)
    if a.verdict == "rising":
        return failed(
            cid, f"loss_mel is rising: {desc}", measured=round(a.rel, 3),
            expected=f"falling or flat (rise <= {ctx.threshold('training.mel_progress.max_rise', DEFAULTS['training.mel_progress.max_rise']):.0%})",
            cause="training is diverging: the known case is RVC on H100/H800/H200 GPUs under Linux (RVC #2406, #2536: "
                  "30 -> 50-60 -> nan, output beeps); also a too-high learning rate. Use an earlier epoch's model; "
                  "train on another GPU or on CPU",
            details=details,
        )
    if a.verdict == "improving":
        return passed(cid, f"loss_mel still improving: {desc}", measured=round(a.rel, 3), details=details)
    if l_.median <= limit and a.late_capped_fraction < 0.5:
        return passed(cid, f"loss_mel converged at a healthy level: {desc}", measured=round(a.rel, 3), details=details)
    since = f" from {_where(a.plateau_from)}" if a.plateau_from is not None else ""
    data = _data_cause(ctx)
    capped = " (pinned at RVC's 75.000 display cap)" if a.late_capped_fraction >= 0.5 else ""
    return failed(
        cid,
        f"loss_mel stagnates at {l_.median:.0f}{capped}{since}: {desc}. It stopped improving far above a healthy "
        f"{HEALTHY_MEL[0]:g}-{HEALTHY_MEL[1]:g} (limit {limit:g}); more epochs will not help",
        measured=round(l_.median, 1), expected=f"falling to <= {limit:g}",
        cause=(data + ". The model learned what it can (the rough envelope) in the first epoch and cannot get closer")
        if data else "something keeps the generator from fitting the targets: check the dataset.* findings "
                     "(integer-PCM 0_gt_wavs, sample rates, alignment) and whether the pretrained base was loaded",
        details=details,
    )


def check_kl(ctx: ModelContext, log: TrainLog) -> Finding:
    cid = "training.kl"
    if (s := _need_losses(log, cid)) is not None:
        return s
    pts = _finite(log.entries, "loss_kl")
    if len(pts) < 3:
        return skipped(cid, f"only {len(pts)} finite loss_kl values")
    kl_max = float(ctx.threshold("training.kl.max", DEFAULTS["training.kl.max"]))
    kl_min = float(ctx.threshold("training.kl.min", DEFAULTS["training.kl.min"]))
    a = analyse_series(pts, "loss_kl", min_improvement=0.05, max_rise=1.0, z=2.0, min_points=3)
    level, last, capped = _final(pts, "loss_kl")
    late = a.late.median if a.late else level
    late_capped = a.late_capped_fraction if a.late else capped
    ctx.record("training.final_loss_kl", round(level, 3))
    first = pts[0]
    text = f"loss_kl {first.loss_kl:.3f} at {_where(first)}, {level:.3f} at the end (median of {_span(last)})"
    if late_capped >= 0.5 or capped >= 0.5:
        return failed(cid, f"loss_kl is pinned at RVC's 9.000 display cap in the last third of training ({text})",
                      measured=f">= {KL_CAP:g}", expected=f"about 1.5-2 (< {kl_max:g})",
                      cause="the posterior and prior encoders have diverged (fumiama fork #135: kl 9.000 then NaN); "
                            "the usual causes are fp16 instability and Hopper GPUs (RVC #2406). Use an earlier epoch")
    if late > kl_max:
        return failed(cid, f"loss_kl explodes: {text}; late median {late:.2f} > {kl_max:g}",
                      measured=round(late, 3), expected=f"< {kl_max:g}",
                      cause="the posterior and prior have diverged: fp16 instability, a too-high learning rate, or bad data")
    if a.verdict == "rising" and a.early is not None and late > 3 * a.early.median and late > 5:
        return failed(cid, f"loss_kl keeps rising: {a.early.median:.2f} -> {late:.2f} ({text})",
                      measured=round(late, 3), expected="flat around 1.5-2",
                      cause="the posterior and prior encoders are drifting apart; divergence usually follows")
    if late < kl_min:
        return warning(cid, f"loss_kl collapsed to {late:.3f} ({text})", measured=round(late, 3), expected=f">= {kl_min:g}",
                       cause="the posterior carries almost no information beyond the prior")
    note = "" if 1.0 <= late <= 3.0 else " (healthy runs sit at 1.5-2)"
    return passed(cid, f"{text}: neither pinned at the 9.000 cap nor exploding{note}", measured=round(late, 3),
                  expected=f"< {kl_max:g}")


def check_pretrained(ctx: ModelContext, log: TrainLog) -> Finding:
    cid = "training.pretrained"
    state, evidence = _pretrained_state(log)
    ctx.record("training.pretrained", state)
    if state == "loaded":
        return passed(cid, f"pretrained base used: {evidence}", measured=state)
    if state == "not_loaded":
        return failed(
            cid, f"no pretrained base was loaded: {evidence}. Training started from random weights",
            measured=state, expected="loaded pretrained ...f0G48k.pth + <All keys matched successfully>",
            cause="pretrainG/pretrainD left empty in the training tab, or the file is missing (the WebUI then logs "
                  "'... not exist, will not use pretrained model', RVC #1908). From scratch a small dataset gives noise "
                  "for a long time. Download assets/pretrained_v2 and retrain",
        )
    if state == "named":
        return warning(cid, f"a pretrained base is named ({evidence}) but its loading is not in the log",
                       measured=state, cause="a custom training script, or the log was captured after start-up")
    if state == "resumed":
        return skipped(cid, f"this log {evidence}: whether the first run loaded a pretrained base is in an earlier log")
    return skipped(cid, "the log does not say whether a pretrained base was loaded (no hyperparameter record, no "
                        "'loaded pretrained' line)")


_PRETRAIN_NAME = re.compile(r"^(?P<f0>f0)?(?P<kind>[GD])(?P<sr>32|40|48)k\.pth$", re.IGNORECASE)
_SR_IN_NAME = re.compile(r"(?<!\d)(32|40|48)k(?![a-z0-9])", re.IGNORECASE)


def pretrain_facts(path: str) -> dict[str, Any]:
    """sr / f0 / version implied by a pretrain path (``assets/pretrained_v2/f0G48k.pth``)."""
    base = _base(path)
    out: dict[str, Any] = {"name": base, "sr": None, "f0": None, "version": None}
    m = _PRETRAIN_NAME.match(base)
    if m:
        out["sr"] = int(m.group("sr")) * 1000
        out["f0"] = bool(m.group("f0"))
    else:
        m2 = _SR_IN_NAME.search(base)
        if m2:
            out["sr"] = int(m2.group(1)) * 1000
    parts = [p.lower() for p in re.split(r"[\\/]", path)[:-1]]
    if parts:
        if parts[-1] == "pretrained_v2":
            out["version"] = "v2"
        elif parts[-1] == "pretrained":
            out["version"] = "v1"
    return out


def check_pretrained_match(ctx: ModelContext, log: TrainLog) -> Finding:
    cid = "training.pretrained_match"
    from rvcqa.checks.dataset import model_facts

    paths = [p for p in (log.pretrain_g, log.pretrain_d) if p]
    if ctx.options.pretrained is not None:
        paths.append(str(ctx.options.pretrained))
    if not paths:
        return skipped(cid, "no pretrained base named in the log")
    facts = model_facts(ctx)
    problems, seen = [], []
    for path in paths:
        pf = pretrain_facts(path)
        desc = []
        if pf["sr"] and facts.sr and pf["sr"] != facts.sr:
            problems.append(f"{pf['name']} is a {pf['sr'] // 1000}k pretrain but the model is {facts.sr // 1000}k ({facts.sr_source})")
        if pf["f0"] is not None and facts.f0 is not None and pf["f0"] != facts.f0:
            problems.append(f"{pf['name']} is a {'pitch-guided (f0)' if pf['f0'] else 'no-f0'} pretrain but the model "
                            f"{'has' if facts.f0 else 'has no'} pitch guidance ({facts.f0_source})")
        if pf["version"] and facts.version and pf["version"] != facts.version:
            problems.append(f"{path} is from the {pf['version']} pretrains but the model is {facts.version} ({facts.version_source})")
        for key in ("sr", "f0", "version"):
            if pf[key] is not None:
                desc.append(f"{key} {pf[key]}")
        seen.append(f"{pf['name']} ({', '.join(desc) or 'nothing readable from the name'})")
    if problems:
        return failed(
            cid, "pretrained base does not fit the model: " + "; ".join(problems),
            measured=seen, expected={"sr": facts.sr, "f0": facts.f0, "version": facts.version},
            cause="the wrong pretrain was picked in the training tab (SayanoAI/Comfy-RVC#13: 'a 40k pretrain to train "
                  "a 48k model'); RVC's strict load raises on it, so if training ran the file was renamed or a "
                  "non-strict fork loaded it and left layers random. Pick f0G/f0D at the model's rate under "
                  "assets/pretrained_v2 for v2",
        )
    if not any(pretrain_facts(p)["sr"] for p in paths):
        return skipped(cid, f"cannot tell the sample rate from the pretrain names ({', '.join(seen)})")
    model = f"{facts.sr // 1000 if facts.sr else '?'}k {'f0' if facts.f0 else 'no-f0' if facts.f0 is False else ''} {facts.version or ''}".strip()
    return passed(cid, f"pretrained base fits the model ({model}): " + "; ".join(seen), measured=seen)


def check_checkpoints(ctx: ModelContext, log: TrainLog) -> Finding:
    cid = "training.checkpoints"
    from rvcqa.checkpoint import LATEST_ONLY_STEP

    gs = [c for c in ctx.md.g_checkpoints if c.step != LATEST_ONLY_STEP]
    if not ctx.md.g_checkpoints:
        return skipped(cid, "no G_*.pth training checkpoints in the folder")
    if not gs:
        return skipped(cid, "only G_2333333.pth ('save only latest'): its name carries no step")
    last = log.last_step
    if last is None:
        return skipped(cid, "the log has no step numbers to compare the G_*.pth names with")
    spe = steps_per_epoch_from_log(log)
    if spe and log.epochs_ended:
        # the last logged step is only every log_interval steps; finished epochs say more
        last = max(last, max(e.epoch for e in log.epochs_ended) * spe)
    problems, notes = [], []
    for c in gs:
        label = f"G_{c.step}"
        if spe and c.step % spe == 0:
            notes.append(f"{label} = end of epoch {c.step // spe}")
        elif spe:
            problems.append(f"{label} is not an epoch boundary at {spe} steps/epoch")
        if c.step > last + (spe or 0):
            problems.append(f"{label} is beyond the log's last step {last}")
    saved = {re.sub(r".*[\\/]", "", s.path) for s in log.saves}
    if saved:
        unsaved = [f"G_{c.step}" for c in gs if f"G_{c.step}.pth" not in saved and c.step <= last]
        if unsaved:
            problems.append(f"{', '.join(unsaved)} not among the log's 'Saving model' lines")
    last_ep = log.last_epoch
    tail = f"; the log goes on to {'epoch ' + str(last_ep) + ', ' if last_ep else ''}step {last}"
    if problems:
        return warning(
            cid, "G_*.pth names do not fit this log: " + "; ".join(problems) + tail,
            measured=[c.step for c in gs], expected=f"multiples of {spe} up to {last}" if spe else f"<= {last}",
            cause="the checkpoints and the log come from different runs: RVC never clears logs/NAME, so a second run "
                  "with the same experiment name mixes files (RVC_FORMATS 6, row 7)",
        )
    newest = max(c.step for c in gs)
    after = ""
    if spe and last_ep and last_ep > newest // spe:
        after = f" (epochs {newest // spe + 1}-{last_ep} have no G_ checkpoint)"
    return passed(cid, ("; ".join(notes) or f"{len(gs)} G_ checkpoints within the log's steps") + tail + after,
                  measured=[c.step for c in gs])


def check_steps_per_epoch(ctx: ModelContext, log: TrainLog) -> Finding:
    cid = "training.steps_per_epoch"
    from rvcqa.checks.dataset import model_facts, parse_filelist, scan

    spe = steps_per_epoch_from_log(log)
    if spe is None:
        return skipped(cid, "the log does not show steps per epoch (needs step and epoch numbers)")
    ctx.record("training.steps_per_epoch", spe)
    if ctx.md.layout == "applio":
        return skipped(cid, f"the log shows {spe} steps/epoch; Applio's batch size is not in its output, so it is not compared")
    batch = log.hparam("train", "batch_size")
    if not isinstance(batch, int) or batch <= 0:
        return skipped(cid, f"the log shows {spe} steps/epoch; the batch size is not in the log's hyperparameters")
    gpus = log.hparam("gpus")
    n_gpus = len(str(gpus).split("-")) if isinstance(gpus, (str, int)) and str(gpus) else 1
    sc = scan(ctx)
    facts = model_facts(ctx)
    if not sc.gt or not facts.hop:
        return skipped(cid, f"the log shows {spe} steps/epoch at batch {batch}; no 0_gt_wavs to compare with")
    lengths: list[int] = []
    n_mute = n_data = n_missing = 0
    if ctx.md.filelist is not None:
        for e in parse_filelist(ctx.md.filelist):
            if e.mute:
                lengths.append(200)  # RVC's mute wavs: 3 s of int16 at any rate -> 200
                n_mute += 1
            elif e.stem in sc.gt:
                lengths.append(sc.gt[e.stem].size // (3 * facts.hop))
                n_data += 1
            else:
                n_missing += 1
    else:
        lengths = [i.size // (3 * facts.hop) for s, i in sc.gt.items() if s in set(sc.complete)] + [200, 200]
        n_data, n_mute = len(lengths) - 2, 2
    predicted, dropped = rvc_bucket_steps(lengths, batch, n_gpus)
    naive = (n_data + n_mute) / (batch * n_gpus)
    tol = int(ctx.threshold("training.steps_per_epoch.tolerance", DEFAULTS["training.steps_per_epoch.tolerance"]))
    basis = (f"{n_data} slices + {n_mute} mute lines at batch {batch}{f' x {n_gpus} GPUs' if n_gpus > 1 else ''}: "
             f"RVC's bucket sampler pads each length bucket to a multiple of the batch, giving {predicted} "
             f"(plain division gives {naive:.1f})")
    if dropped:
        basis += f"; it drops {dropped} slice(s) outside its length buckets"
    details = {"log": spe, "predicted": predicted, "naive": naive, "dropped": dropped, "missing": n_missing}
    if abs(predicted - spe) <= tol and not n_missing:
        return passed(cid, f"{spe} steps/epoch in the log = {basis}", measured=spe, expected=predicted, details=details)
    return warning(
        cid, f"the log shows {spe} steps/epoch but the data here gives {predicted} ({basis})"
             + (f"; {n_missing} filelist slices are not on disk" if n_missing else ""),
        measured=spe, expected=predicted, details=details,
        cause="the data folders or filelist.txt changed after this training run (slices added, re-cut or converted), "
              "or the log is from another run with the same experiment name",
    )


def check_completed(ctx: ModelContext, log: TrainLog) -> Finding:
    cid = "training.completed"
    last = log.last_epoch
    total = log.hparam("total_epoch")
    if log.finished:
        return passed(cid, f"training finished ('Training is done'){f' after epoch {last}' if last else ''}",
                      measured=last, expected=total)
    if last is None:
        return skipped(cid, "the log shows no epochs")
    if log.format == "tensorboard":
        return skipped(cid, f"TensorBoard goes to epoch {last}; it does not record whether training finished")
    if isinstance(total, int) and last < total:
        return warning(cid, f"the log ends at epoch {last} of total_epoch {total} without 'Training is done'",
                       measured=last, expected=total,
                       cause="training was stopped, crashed (out of memory, NaN), or is still running; the released "
                             "model may be from an earlier epoch")
    return warning(cid, f"the log ends at epoch {last} without 'Training is done'", measured=last,
                   cause="training was stopped or crashed, or the captured output is cut off")


_CHECKS: tuple[tuple[str, Callable[[ModelContext, TrainLog], Finding]], ...] = (
    ("training.log", check_log),
    ("training.nan", check_nan),
    ("training.mel_start", check_mel_start),
    ("training.mel_final", check_mel_final),
    ("training.mel_progress", check_mel_progress),
    ("training.kl", check_kl),
    ("training.pretrained", check_pretrained),
    ("training.pretrained_match", check_pretrained_match),
    ("training.checkpoints", check_checkpoints),
    ("training.steps_per_epoch", check_steps_per_epoch),
    ("training.completed", check_completed),
)
assert tuple(cid for cid, _ in _CHECKS) == CHECK_IDS


def run(ctx: ModelContext) -> list[Finding]:
    """One finding per id in :data:`CHECK_IDS`."""
    loaded = _load(ctx)
    if loaded.log is None or loaded.skip is not None:
        out = []
        for cid in CHECK_IDS:
            if cid == "training.log" and loaded.error:
                out.append(failed(cid, loaded.error, cause="not a text log: pass RVC's train.log or the captured console"))
            else:
                out.append(skipped(cid, loaded.skip or "no training log"))
        return out
    out = []
    for cid, fn in _CHECKS:
        try:
            out.append(fn(ctx, loaded.log))
        except RvcqaError as exc:
            out.append(failed(cid, str(exc)))
    return out


# --------------------------------------------------------------------------- hypotheses

def _verdict(hid: str, verdict: str, message: str, evidence: dict[str, Any] | None = None, *, cause: str | None = None) -> Finding:
    status = {"supported": Status.WARNING, "ruled out": Status.PASSED, "not testable": Status.SKIPPED}[verdict]
    title = hid.split(".", 1)[1].replace("_", " ")
    return Finding(hid, status, f"{title}: {verdict} — {message}", cause=cause,
                   details={"verdict": verdict, "evidence": evidence or {}})


def hypotheses(ctx: ModelContext) -> list[Finding]:
    """Verdicts on the lexi report's five hypotheses, one finding per :data:`HYPOTHESIS_IDS`."""
    loaded = _load(ctx)
    log = loaded.log if loaded.skip is None else None
    why_no_log = loaded.skip or "no training log"
    return [
        _h_insufficient(ctx, log, why_no_log),
        _h_misalignment(ctx),
        _h_pretrained(ctx, log, why_no_log),
        _h_learning_rate(ctx, log, why_no_log),
        _h_batch_size(ctx, log, why_no_log),
    ]


#: ``ctx.findings(trainlog.HYPOTHESES)`` runs and caches the verdicts like a checks module.
HYPOTHESES = SimpleNamespace(__name__="rvcqa.checks.trainlog.hypotheses", CHECK_IDS=HYPOTHESIS_IDS, run=hypotheses)


def _h_insufficient(ctx: ModelContext, log: TrainLog | None, why: str) -> Finding:
    hid = "hypothesis.insufficient_training"
    if log is None or not log.mel_entries:
        return _verdict(hid, "not testable", why if log is None else "the log has no loss_mel values")
    a = mel_analysis(ctx, log)
    if a.verdict == "too_few" or a.late is None or a.early is None:
        return _verdict(hid, "not testable", f"only {a.n} loss lines: too few to see a trend")
    ev = {"early_median": a.early.median, "late_median": a.late.median, "relative_change": a.rel,
          "noise": a.noise, "last_epoch": log.last_epoch}
    late = a.late.median
    if a.verdict == "improving" and late > HEALTHY_MEL[1]:
        return _verdict(hid, "supported", f"loss_mel was still falling at the end ({a.early.median:.1f} -> {late:.1f}, "
                                          f"{a.rel:+.0%} over the last two thirds) and is above a healthy {HEALTHY_MEL[1]:g}: "
                                          "more epochs should help", ev)
    if a.verdict == "improving":
        return _verdict(hid, "ruled out", f"loss_mel reached a healthy {late:.1f} and was still improving slowly; "
                                          "more epochs refine detail but do not turn noise into voice", ev)
    if a.verdict == "rising":
        return _verdict(hid, "ruled out", f"loss_mel rose from {a.early.median:.1f} to {late:.1f}: training diverged, "
                                          "more epochs make it worse (see training.mel_progress)", ev)
    since = f" by {_where(a.plateau_from)}" if a.plateau_from is not None else ""
    if late <= HEALTHY_MEL[1]:
        return _verdict(hid, "ruled out", f"loss_mel converged at a healthy {late:.1f}{since}", ev)
    return _verdict(
        hid, "ruled out",
        f"loss_mel plateaued{since} at about {late:.0f}; the last third ({a.late.span()}) differs from {a.early.span()} "
        f"by {a.rel:+.1%}, within noise (+-{a.noise:.1f}). More epochs (e.g. 500 like the Biden model) would not "
        "help: the run is stuck, not unfinished", ev,
        cause=_data_cause(ctx),
    )


def _h_misalignment(ctx: ModelContext) -> Finding:
    hid = "hypothesis.feature_misalignment"
    from rvcqa.checks import dataset

    found = ctx.findings(dataset)
    ids = ("dataset.stems", "dataset.gt_sample_rate", "dataset.wav16k_sample_rate", "dataset.durations",
           "dataset.frames", "dataset.features")
    relevant = {cid: found[cid] for cid in ids if cid in found}
    bad = {cid: f for cid, f in relevant.items() if f.status is Status.FAILED}
    judged = {cid: f for cid, f in relevant.items() if f.status in (Status.PASSED, Status.WARNING)}
    ev = {cid: f.status.value for cid, f in relevant.items()}
    if bad:
        first = next(iter(bad.values()))
        return _verdict(hid, "supported", f"{', '.join(bad)} failed: {first.message}", ev, cause=first.cause)
    needed = ("dataset.durations", "dataset.frames")
    if not all(cid in judged for cid in needed):
        missing = [cid for cid in needed if cid not in judged]
        reason = relevant[missing[0]].message if missing[0] in relevant else "no data folders"
        return _verdict(hid, "not testable", f"the data folders are needed ({reason})", ev)
    tol_ms = float(ctx.threshold("dataset.durations.max_diff_s", dataset.DEFAULTS["dataset.durations.max_diff_s"])) * 1000
    diff = ctx.measurements.get("dataset.max_duration_diff_s")
    worst = f" (largest difference {diff * 1000:.1f} ms)" if isinstance(diff, (int, float)) else ""
    return _verdict(
        hid, "ruled out",
        f"every slice's GT and 16 kHz durations agree within {tol_ms:.0f} ms{worst}; pitch runs at 100 frames/s and "
        "features at 50/s for the same audio; sample rates are right. The content, pitch and target describe the same "
        "audio (HuBERT's own rate is fixed at 16 kHz, which 1_16k_wavs has)", ev,
    )


def _h_pretrained(ctx: ModelContext, log: TrainLog | None, why: str) -> Finding:
    hid = "hypothesis.pretrained_mismatch"
    if log is None:
        return _verdict(hid, "not testable", why)
    state, evidence = _pretrained_state(log)
    match = check_pretrained_match(ctx, log)
    ev = {"pretrained": state, "evidence": evidence, "match": match.status.value}
    if state == "not_loaded":
        return _verdict(hid, "supported", f"no pretrained base was loaded ({evidence}): training started from scratch", ev,
                        cause="set pretrainG/pretrainD to the f0G/f0D file at the model's rate and retrain")
    if match.status is Status.FAILED:
        return _verdict(hid, "supported", match.message, ev, cause=match.cause)
    if state in ("unknown", "resumed"):
        return _verdict(hid, "not testable", evidence, ev)
    first = next((e for e in _finite(log.entries, "loss_mel")), None)
    extra = ""
    cause = None
    if first is not None and first.loss_mel > float(ctx.threshold("training.mel_start.max", DEFAULTS["training.mel_start.max"])):
        data = _data_cause(ctx)
        extra = (f" But the first loss_mel ({first.loss_mel:.3f}) is about {first.loss_mel / 30:.0f}x what a loaded "
                 "pretrain starts at: the targets are not what the pretrain expects")
        cause = data
    kind = "loaded with all keys matched" if state == "loaded" else "named"
    return _verdict(
        hid, "ruled out",
        f"the log shows {evidence if state == 'loaded' else evidence + ' (' + kind + ')'}; {match.message[0].lower() + match.message[1:]}. "
        "The premise (training from scratch) contradicts the log, and RVC loads pretrains strictly, so a mismatched "
        f"one raises instead of degrading training.{extra}", ev, cause=cause,
    )


def _h_learning_rate(ctx: ModelContext, log: TrainLog | None, why: str) -> Finding:
    hid = "hypothesis.learning_rate"
    if log is None:
        return _verdict(hid, "not testable", why)
    lr0 = log.hparam("train", "learning_rate")
    lrs = [e.lr for e in log.entries if e.lr is not None and math.isfinite(e.lr)]
    if not isinstance(lr0, (int, float)) and not lrs:
        return _verdict(hid, "not testable", "the log shows no learning rate (no hyperparameters, no [step, lr] lines)")
    lr_max = float(ctx.threshold("hypothesis.learning_rate.max", DEFAULTS["hypothesis.learning_rate.max"]))
    start = float(lr0) if isinstance(lr0, (int, float)) else lrs[0]
    end = lrs[-1] if lrs else None
    ev = {"initial_lr": start, "final_lr": end}
    if start > lr_max:
        return _verdict(hid, "supported", f"initial learning rate {start:g} is {start / 1e-4:.0f}x RVC's default 1e-4", ev,
                        cause="set train.learning_rate back to 0.0001 in config.json")
    a = mel_analysis(ctx, log) if log.mel_entries else None
    behaviour = ""
    if a is not None and a.verdict == "flat" and a.late is not None:
        behaviour = (f" The loss dropped fast at first and then stayed flat at {a.late.median:.0f} with steady noise "
                     f"(+-{a.noise:.1f}); a too-high rate shows as divergence, growing oscillation or NaN, not as a "
                     "flat level, and a lower rate would only slow the first drop")
    elif a is not None and a.verdict == "rising":
        return _verdict(hid, "supported", f"initial learning rate {start:g} is RVC's default, but loss_mel rises "
                                          "(see training.mel_progress): a lower rate avoided NaN in RVC #2406, though "
                                          "the Hopper-GPU bug is the likelier cause", ev)
    return _verdict(
        hid, "ruled out",
        f"initial learning rate {start:g} (RVC's default 1e-4{'' if abs(start - 1e-4) < 1e-9 else ' differs'})"
        f"{f', {end:.4g} at the end (decay 0.999875 per epoch)' if end else ''}, used by every posted healthy run.{behaviour}",
        ev,
    )


def _h_batch_size(ctx: ModelContext, log: TrainLog | None, why: str) -> Finding:
    hid = "hypothesis.batch_size"
    if log is None:
        return _verdict(hid, "not testable", why)
    batch = log.hparam("train", "batch_size")
    if not isinstance(batch, int):
        return _verdict(hid, "not testable", "the batch size is not in the log's hyperparameters")
    bmin = int(ctx.threshold("hypothesis.batch_size.min", DEFAULTS["hypothesis.batch_size.min"]))
    spe = steps_per_epoch_from_log(log)
    ev = {"batch_size": batch, "steps_per_epoch": spe}
    if batch < bmin:
        return _verdict(hid, "supported", f"batch size {batch} is below {bmin}: gradients and the discriminator's "
                                          "statistics are very noisy", ev)
    a = mel_analysis(ctx, log) if log.mel_entries else None
    noise = ""
    if a is not None and a.late is not None and a.verdict != "too_few":
        limit = float(ctx.threshold("training.mel_final.max", DEFAULTS["training.mel_final.max"]))
        noise = (f" Small batches make the loss noisier around its trend; here the line-to-line noise is "
                 f"+-{a.noise:.1f} on a level of {a.late.median:.0f} ({a.noise / max(a.late.median, 1e-9):.0%})")
        if a.late.median > limit:
            noise += ", and it is the level itself (far above a healthy 15-25) that is wrong, which noise does not explain"
    spe_text = f" ({spe} steps/epoch)" if spe else ""
    return _verdict(
        hid, "ruled out",
        f"batch size {batch}{spe_text} is within what RVC users train with (4-12 on consumer GPUs; RVC's config "
        f"default is 4).{noise}", ev,
    )
