"""Verdicts on the lexi report's five hypotheses: supported, ruled out or not testable, with evidence.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from rvcqa.checks.trainlog.common import data_cause, load_log, mel_analysis, pretrained_state
from rvcqa.checks.trainlog.defaults import HEALTHY_MEL, thr
from rvcqa.checks.trainlog.pretrained import check_pretrained_match
from rvcqa.dataset import DURATION_TOLERANCE_S
from rvcqa.findings import Finding, Status
from rvcqa.losscurve import finite_entries, where_text
from rvcqa.trainlog import TrainLog, steps_per_epoch_from_log

if TYPE_CHECKING:
    from rvcqa.context import ModelContext


def _verdict(hid: str, verdict: str, message: str, evidence: dict[str, Any] | None = None, *, cause: str | None = None) -> Finding:
    status = {"supported": Status.WARNING, "ruled out": Status.PASSED, "not testable": Status.SKIPPED}[verdict]
    title = hid.split(".", 1)[1].replace("_", " ")
    return Finding(hid, status, f"{title}: {verdict} — {message}", cause=cause,
                   details={"verdict": verdict, "evidence": evidence or {}})


def hypotheses(ctx: ModelContext) -> list[Finding]:
    """Verdicts on the lexi report's five hypotheses, one finding per :data:`HYPOTHESIS_IDS`."""
    loaded = load_log(ctx)
    log = loaded.log if loaded.skip is None else None
    why_no_log = loaded.skip or "no training log"
    return [
        _h_insufficient(ctx, log, why_no_log),
        _h_misalignment(ctx),
        _h_pretrained(ctx, log, why_no_log),
        _h_learning_rate(ctx, log, why_no_log),
        _h_batch_size(ctx, log, why_no_log),
    ]


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
    since = f" by {where_text(a.plateau_from)}" if a.plateau_from is not None else ""
    if late <= HEALTHY_MEL[1]:
        return _verdict(hid, "ruled out", f"loss_mel converged at a healthy {late:.1f}{since}", ev)
    return _verdict(
        hid, "ruled out",
        f"loss_mel plateaued{since} at about {late:.0f}; the last third ({a.late.span()}) differs from {a.early.span()} "
        f"by {a.rel:+.1%}, within noise (+-{a.noise:.1f}). More epochs (e.g. 500 like the Biden model) would not "
        "help: the run is stuck, not unfinished", ev,
        cause=data_cause(ctx),
    )


def _h_misalignment(ctx: ModelContext) -> Finding:
    hid = "hypothesis.feature_misalignment"
    found = ctx.findings_of("dataset")
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
    tol_ms = float(ctx.threshold("dataset.durations.max_diff_s", DURATION_TOLERANCE_S)) * 1000
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
    state, evidence = pretrained_state(log)
    match = check_pretrained_match(ctx, log)
    ev = {"pretrained": state, "evidence": evidence, "match": match.status.value}
    if state == "not_loaded":
        return _verdict(hid, "supported", f"no pretrained base was loaded ({evidence}): training started from scratch", ev,
                        cause="set pretrainG/pretrainD to the f0G/f0D file at the model's rate and retrain")
    if match.status is Status.FAILED:
        return _verdict(hid, "supported", match.message, ev, cause=match.cause)
    if state in ("unknown", "resumed"):
        return _verdict(hid, "not testable", evidence, ev)
    first = next((e for e in finite_entries(log.entries, "loss_mel")), None)
    extra = ""
    cause = None
    if first is not None and first.loss_mel is not None and first.loss_mel > float(thr(ctx, "training.mel_start.max")):
        data = data_cause(ctx)
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
    lr_max = float(thr(ctx, "hypothesis.learning_rate.max"))
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
    bmin = int(thr(ctx, "hypothesis.batch_size.min"))
    spe = steps_per_epoch_from_log(log)
    ev = {"batch_size": batch, "steps_per_epoch": spe}
    if batch < bmin:
        return _verdict(hid, "supported", f"batch size {batch} is below {bmin}: gradients and the discriminator's "
                                          "statistics are very noisy", ev)
    a = mel_analysis(ctx, log) if log.mel_entries else None
    noise = ""
    if a is not None and a.late is not None and a.verdict != "too_few":
        limit = float(thr(ctx, "training.mel_final.max"))
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
