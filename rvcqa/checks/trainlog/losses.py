"""Loss checks: does the log parse, stay finite, and show loss_mel and loss_kl where healthy runs are?
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rvcqa.checks.trainlog.common import (
    base_name, data_cause, mel_analysis, mel_points, need_losses, nepers, pretrained_state,
)
from rvcqa.checks.trainlog.defaults import HEALTHY_MEL, thr
from rvcqa.findings import Finding, failed, passed, skipped, warning
from rvcqa.losscurve import analyse_series, final_median, finite_entries, span_text, where_text
from rvcqa.trainlog import KL_CAP, TrainLog

if TYPE_CHECKING:
    from rvcqa.context import ModelContext


def check_log(ctx: ModelContext, log: TrainLog) -> Finding:
    cid = "training.log"
    mel = log.mel_entries
    ctx.record("training.log_format", log.format)
    parts = [f"{log.format} format"]
    if mel:
        parts.append(f"{len(mel)} loss lines ({span_text(mel)})")
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
        return need_losses(log, cid) or skipped(cid, "no loss lines")
    bad = [e for e in log.entries if e.has_nan]
    if not bad:
        return passed(cid, f"no NaN/Inf in {len(log.entries)} loss lines", measured=0, expected=0)
    first = bad[0]
    which = [k for k, v in first.values().items() if v is not None and not math.isfinite(v)]
    return failed(
        cid,
        f"{len(bad)} of {len(log.entries)} loss lines contain NaN/Inf, first at {where_text(first)} ({', '.join(which)})",
        measured=len(bad), expected=0,
        cause="training diverged: on H100/H800/H200 GPUs under Linux RVC's loss_mel climbs 30 -> 50-60 -> nan "
              "(RVC #2406; train on another GPU or CPU); fp16 on GPUs without usable half precision (set "
              "fp16_run false); or training audio outside about +-2 (RVC #507). Use a checkpoint from before "
              f"{where_text(first)}",
        details={"first_nan": where_text(first)},
    )


def check_mel_start(ctx: ModelContext, log: TrainLog) -> Finding:
    cid = "training.mel_start"
    pts = mel_points(log, cid)
    if isinstance(pts, Finding):
        return pts
    first = pts[0]
    limit = float(thr(ctx, "training.mel_start.max"))
    max_first = int(thr(ctx, "training.mel_start.max_first_step"))
    assert first.loss_mel is not None
    if (first.step is not None and first.step > max_first) or (log.resumes and not log.pretrained_loaded):
        return skipped(cid, f"the log starts at {where_text(first)} (a resumed run): its first loss says nothing about the start")
    ctx.record("training.first_loss_mel", first.loss_mel)
    value = f"{'>= ' if first.mel_capped else ''}{first.loss_mel:.3f}"
    state, evidence = pretrained_state(log)
    if first.loss_mel <= limit and not first.mel_capped:
        return passed(cid, f"first loss_mel {value} at {where_text(first)} (from a pretrained base runs start near 30; limit {limit:g})",
                      measured=first.loss_mel, expected=f"<= {limit:g}")
    data = data_cause(ctx)
    if state in ("not_loaded",):
        cause = (f"no pretrained base was loaded ({evidence}): the generator started from random weights. Set "
                 "pretrainG/pretrainD to assets/pretrained_v2/f0G48k.pth / f0D48k.pth (matching sr and f0) and retrain")
        if data:
            cause += f"; also {data}"
        where = "and no pretrained base was loaded"
    else:
        pre = base_name(log.pretrain_g) if log.pretrain_g else "a pretrained base"
        where = f"although the log shows {pre} {'loaded' if state == 'loaded' else 'named'}"
        cause = (data + ". A loaded pretrain starts near 30 only on targets like the ones it was trained on") if data else (
            "the pretrained base is not effective for this data, or the targets are mis-scaled (integer-PCM "
            "0_gt_wavs read 32768x too loud, wrong sample rate, unnormalised audio): see the dataset.* checks")
    return failed(
        cid,
        f"first loss_mel {value} at {where_text(first)} is far above the ~30 a run from RVC's pretrained base starts at "
        f"(limit {limit:g}), {where}",
        measured=first.loss_mel, expected=f"<= {limit:g}", cause=cause,
        details={"pretrained": state, "evidence": evidence},
    )


def check_mel_final(ctx: ModelContext, log: TrainLog) -> Finding:
    cid = "training.mel_final"
    pts = mel_points(log, cid)
    if isinstance(pts, Finding):
        return pts
    limit = float(thr(ctx, "training.mel_final.max"))
    warn = float(thr(ctx, "training.mel_final.warn"))
    level, last, capped = final_median(pts, "loss_mel")
    ctx.record("training.final_loss_mel", round(level, 3))
    ctx.record("training.last_loss_mel", pts[-1].loss_mel)
    ctx.record("loss_mel_last", pts[-1].loss_mel)  # the summary table's key
    shown = f"{'>= ' if capped >= 0.5 else ''}{level:.1f}"
    what = f"final loss_mel {shown} (median of the last {len(last)} loss lines, {span_text(last)})"
    if level > limit or capped >= 0.5:
        data = data_cause(ctx)
        if mel_analysis(ctx, log).verdict == "rising":
            data = ("training diverged: loss_mel rose during the run (see training.mel_progress; H100/H800/H200 "
                    "GPUs under Linux, RVC #2406)") + (f"; also {data}" if data else "")
        cap = (" — pinned at RVC's display cap 75.000, so the true loss is higher" if capped >= 0.5 else "")
        return failed(
            cid,
            f"{what} is above {limit:g}{cap}; healthy RVC runs end at {HEALTHY_MEL[0]:g}-{HEALTHY_MEL[1]:g}. "
            f"{level:.0f} is {nepers(level)}, against about 0.4 nepers for a healthy model",
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
    if (s := need_losses(log, cid)) is not None:
        return s
    a = mel_analysis(ctx, log)
    limit = float(thr(ctx, "training.mel_final.max"))
    if a.verdict == "too_few" or a.early is None or a.late is None:
        return skipped(cid, f"only {a.n} finite loss_mel lines: too few to tell a trend from noise "
                            f"(RVC prints one every 200 steps)")
    e, l_ = a.early, a.late
    desc = (f"median loss_mel {e.median:.1f} in {e.span()} vs {l_.median:.1f} in the last third ({l_.span()}): "
            f"{a.rel:+.1%}, line-to-line noise +-{a.noise:.1f}")
    details = {"early_median": e.median, "late_median": l_.median, "relative_change": a.rel, "noise": a.noise,
               "verdict": a.verdict, "plateau_from": where_text(a.plateau_from) if a.plateau_from else None}
    ctx.record("training.mel_trend", a.verdict)
    if a.verdict == "rising":
        return failed(
            cid, f"loss_mel is rising: {desc}", measured=round(a.rel, 3),
            expected=f"falling or flat (rise <= {thr(ctx, 'training.mel_progress.max_rise'):.0%})",
            cause="training is diverging: the known case is RVC on H100/H800/H200 GPUs under Linux (RVC #2406, #2536: "
                  "30 -> 50-60 -> nan, output beeps); also a too-high learning rate. Use an earlier epoch's model; "
                  "train on another GPU or on CPU",
            details=details,
        )
    if a.verdict == "improving":
        return passed(cid, f"loss_mel still improving: {desc}", measured=round(a.rel, 3), details=details)
    if l_.median <= limit and a.late_capped_fraction < 0.5:
        return passed(cid, f"loss_mel converged at a healthy level: {desc}", measured=round(a.rel, 3), details=details)
    since = f" from {where_text(a.plateau_from)}" if a.plateau_from is not None else ""
    data = data_cause(ctx)
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
    if (s := need_losses(log, cid)) is not None:
        return s
    pts = finite_entries(log.entries, "loss_kl")
    if len(pts) < 3:
        return skipped(cid, f"only {len(pts)} finite loss_kl values")
    kl_max = float(thr(ctx, "training.kl.max"))
    kl_min = float(thr(ctx, "training.kl.min"))
    a = analyse_series(pts, "loss_kl", min_improvement=0.05, max_rise=1.0, z=2.0, min_points=3)
    level, last, capped = final_median(pts, "loss_kl")
    late = a.late.median if a.late else level
    late_capped = a.late_capped_fraction if a.late else capped
    ctx.record("training.final_loss_kl", round(level, 3))
    first = pts[0]
    text = f"loss_kl {first.loss_kl:.3f} at {where_text(first)}, {level:.3f} at the end (median of {span_text(last)})"
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
