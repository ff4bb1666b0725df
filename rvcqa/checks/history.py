"""Training-history judgement across sources and sessions: train.log vs TensorBoard, NaN onset,
RVC's display clamp, resumed/restarted runs, and checkpoints that fit no run.

Reads :meth:`ModelContext.history` (:mod:`rvcqa.history`), so train.log, a captured console and
TensorBoard event files are judged alike. Facts: RVC's train.py clamps the printed ``loss_mel`` at
75 and ``loss_kl`` at 9; RVC resumes only when ``logs/NAME`` holds both a ``D_`` and a ``G_``
checkpoint and otherwise loads the pretrained base again at epoch 1 (appending to train.log);
with ``fp16_run`` its GradScaler skips every optimizer step whose gradients are not finite.
"""
from __future__ import annotations

import hashlib
import math
from typing import Any, Callable

import numpy as np

from rvcqa.context import ModelContext
from rvcqa.errors import RvcqaError
from rvcqa.findings import Finding, failed, passed, skipped, warning
from rvcqa.history import History, Run, checkpoint_run, finite_values, first_nonfinite
from rvcqa.modeldir import CheckpointFile
from rvcqa.trainlog import KL_CAP, MEL_CAP, LossEntry, TrainLog

CHECK_IDS: tuple[str, ...] = (
    "training.sources",
    "training.nan_onset",
    "training.display_cap",
    "training.runs",
    "training.checkpoint_runs",
)

DEFAULTS: dict[str, Any] = {
    # train.log and TensorBoard are written from the same tensors at the same steps; more than this
    # median relative difference of loss_mel at shared steps means they are not the same run
    # (the 3-decimal rounding of the text log is far below it).
    "training.sources.max_rel_diff": 0.05,
    # Share of the last third of the run printed at the 75 / 9 clamp that makes the level unknown.
    "training.display_cap.max_fraction": 0.5,
}


def _history(ctx: ModelContext) -> History:
    return ctx.history()


def _where(e: LossEntry) -> str:
    parts = [f"epoch {e.epoch}"] if e.epoch is not None else []
    if e.step is not None:
        parts.append(f"step {e.step}")
    return ", ".join(parts) or f"line {e.line_no}"


def _g_files(ctx: ModelContext) -> list[CheckpointFile]:
    return [c for c in ctx.md.g_checkpoints if not c.is_latest_only]


# --------------------------------------------------------------------------- train.log vs TensorBoard

def check_sources(ctx: ModelContext, hist: History) -> Finding:
    cid = "training.sources"
    text, tb = hist.text, hist.tensorboard
    if text is None or tb is None:
        return skipped(cid, f"one history source only ({hist.source}); nothing to compare")
    limit = float(ctx.threshold("training.sources.max_rel_diff", DEFAULTS["training.sources.max_rel_diff"]))
    t_mel = {s: v for s, v in finite_values(text.entries, "loss_mel")
             if not any(e.step == s and e.mel_capped for e in text.entries)}
    b_mel = dict(finite_values(tb.entries, "loss_mel"))
    shared = sorted(set(t_mel) & set(b_mel))
    t_last, b_last = text.last_step, tb.last_step
    if not shared and not t_mel and text.applio_epochs and b_mel:
        return _compare_applio_console(cid, text.applio_epochs[-1].step, text.applio_epochs[-1].epoch, tb)
    if not shared:
        if not t_mel or not b_mel:
            return skipped(cid, "train.log or TensorBoard has no loss_mel values to compare")
        return failed(cid, f"train.log (steps {min(t_mel)}-{max(t_mel)}) and TensorBoard (steps {min(b_mel)}-"
                           f"{max(b_mel)}) share no logged step",
                      cause="they are from different runs: RVC never clears logs/NAME, so a second run with the "
                            "same experiment name leaves the old event files or log beside the new one")
    rel = [abs(t_mel[s] - b_mel[s]) / max(abs(b_mel[s]), 1e-6) for s in shared]
    med = float(np.median(rel))
    worst = max(shared, key=lambda s: abs(t_mel[s] - b_mel[s]))
    details = {"shared_steps": len(shared), "median_rel_diff": med}
    if med > limit:
        return failed(
            cid, f"train.log and TensorBoard disagree: loss_mel differs by a median {100 * med:.0f}% at "
                 f"{len(shared)} shared steps (step {worst}: train.log {t_mel[worst]:.3f}, TensorBoard "
                 f"{b_mel[worst]:.3f})",
            measured=med, expected=f"<= {limit}", details=details,
            cause="the two files are from different runs with the same experiment name (logs/NAME is never "
                  "cleared); delete the stale one, or pass the right console capture with --train-log",
        )
    if t_last is not None and b_last is not None and abs(t_last - b_last) > _interval(text.entries):
        return warning(cid, f"train.log ends at step {t_last} but TensorBoard at step {b_last}",
                       measured=[t_last, b_last], details=details,
                       cause="one of them was cut off (a crash before the file was flushed) or is from another run")
    return passed(cid, f"train.log and TensorBoard agree at {len(shared)} shared steps (median loss_mel "
                       f"difference {100 * med:.2f}%)", measured=med, details=details)


def _compare_applio_console(cid: str, step: int, epoch: int, tb: TrainLog) -> Finding:
    """Applio's console prints no losses: its last epoch/step must be TensorBoard's last point."""
    last = tb.entries[-1]
    if last.step == step:
        return passed(cid, f"Applio's console and TensorBoard both end at epoch {epoch}, step {step}", measured=step)
    return failed(cid, f"train.log and TensorBoard disagree: Applio's console ends at epoch {epoch}, step {step}, "
                       f"TensorBoard at step {last.step}", measured=[step, last.step],
                  cause="the console capture and the event files are from different runs of this experiment name")


def _interval(entries: list[LossEntry]) -> int:
    steps = sorted({e.step for e in entries if e.step is not None})
    gaps = [b - a for a, b in zip(steps, steps[1:]) if b > a]
    return max(gaps) if gaps else 200


# --------------------------------------------------------------------------- NaN onset

def _weights_digest(ctx: ModelContext, c: CheckpointFile) -> str | None:
    try:
        ck = ctx.training_checkpoint(c.path)
    except RvcqaError:
        return None

    def compute() -> str:
        h = hashlib.sha256()
        for key in sorted(ck.model):
            h.update(key.encode())
            h.update(ck.model[key].detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()

    return ctx.cached(f"history:digest:{c.path}", compute)


def check_nan_onset(ctx: ModelContext, hist: History) -> Finding:
    cid = "training.nan_onset"
    log = hist.judged
    if log is None or not log.entries:
        return skipped(cid, "no loss history")
    onset = first_nonfinite(log.entries)
    if onset is None:
        return passed(cid, f"no loss turns NaN/Inf in {len(log.entries)} points ({hist.source})", measured=None)
    which = ", ".join(k for k, v in onset.values().items() if v is not None and not math.isfinite(v))
    before = [e for e in log.entries if e.step is not None and onset.step is not None and e.step < onset.step]
    last_good = _where(before[-1]) if before else "the start"
    msg = [f"{which} first turns NaN/Inf at {_where(onset)} ({hist.source}; last finite point {last_good})"]
    gs = _g_files(ctx)
    after = [c for c in gs if onset.step is not None and c.step > onset.step]
    good = [c for c in gs if onset.step is not None and c.step <= onset.step]
    frozen = False
    if after:
        msg.append(f"saved after it: {', '.join(c.path.name for c in after)}")
        digests = [_weights_digest(ctx, c) for c in after]
        ref = _weights_digest(ctx, good[-1]) if good else None
        if all(digests) and len(set(digests)) == 1 and (len(after) > 1 or digests[0] == ref):
            frozen = True
            same = [c.path.name for c in after] + ([good[-1].path.name] if ref == digests[0] else [])
            msg.append(f"their weights are bit-identical ({', '.join(same)}): with fp16_run RVC's GradScaler "
                       "skipped every step with non-finite gradients, so the weights froze at the last good "
                       "step and the epochs after it trained nothing")
    epoch, step = hist.release
    release_after = (step is not None and onset.step is not None and step > onset.step) or (
        step is None and epoch is not None and onset.epoch is not None and epoch > onset.epoch)
    if release_after:
        msg.append(f"the released model (epoch {epoch}{f', step {step}' if step is not None else ''}) comes after it")
    cause = ("training diverged; use a checkpoint or per-epoch model from before "
             f"{_where(onset)} ({good[-1].path.name if good else 'none was saved before it'}) and retrain from "
             "there with fp16_run off or a lower learning rate")
    details = {"onset_step": onset.step, "onset_epoch": onset.epoch, "after": [c.path.name for c in after],
               "frozen": frozen}
    if release_after:
        return failed(cid, "; ".join(msg), measured=_where(onset), cause=cause, details=details)
    return warning(cid, "; ".join(msg) + "; the released model is not known to come after it",
                   measured=_where(onset), cause=cause, details=details)


# --------------------------------------------------------------------------- display clamp

def check_display_cap(ctx: ModelContext, hist: History) -> Finding:
    cid = "training.display_cap"
    log = hist.judged
    if log is None or not log.mel_entries:
        return skipped(cid, "no loss_mel history")
    limit = float(ctx.threshold("training.display_cap.max_fraction", DEFAULTS["training.display_cap.max_fraction"]))
    pts = [e for e in log.entries if e.loss_mel is not None]
    late = pts[(2 * len(pts)) // 3:]
    problems = []
    for attr, cap, flag in (("loss_mel", MEL_CAP, "mel_capped"), ("loss_kl", KL_CAP, "kl_capped")):
        n_all = sum(bool(getattr(e, flag)) for e in pts)
        n_late = sum(bool(getattr(e, flag)) for e in late)
        if late and n_late / len(late) > limit:
            problems.append(f"{attr} is printed at RVC's display cap {cap:.3f} in {n_late} of the last {len(late)} "
                            f"points ({n_all} of {len(pts)} in all): the real {attr} is unknown, only that it is "
                            f"at least {cap:g}")
    recovered = hist.tensorboard is not None and any(
        e.loss_mel is not None and e.loss_mel > MEL_CAP for e in hist.tensorboard.entries)
    if problems:
        return failed(cid, "; ".join(problems), measured=len(late),
                      cause="the run never came down from the clamp: no pretrained base, unreachable targets "
                            "(see the dataset checks) or divergence; RVC's TensorBoard loss/g/total holds the real "
                            "sum: keep logs/NAME's events.out.tfevents files so rvcqa can read it")
    n_capped = sum(e.mel_capped for e in pts)
    if recovered:
        real = max(e.loss_mel for e in hist.tensorboard.entries if e.loss_mel is not None)  # type: ignore[union-attr]
        return passed(cid, f"loss_mel above RVC's display cap is taken from TensorBoard's loss/g/total (up to "
                           f"{real:.1f})", measured=n_capped)
    return passed(cid, f"{n_capped} of {len(pts)} loss_mel points at the display cap, none in the last third",
                  measured=n_capped)


# --------------------------------------------------------------------------- sessions

def _owners(ctx: ModelContext, hist: History) -> dict[str, Run | None]:
    return {c.path.name: checkpoint_run(hist.runs, c.path.name, c.step) for c in _g_files(ctx)}


def check_runs(ctx: ModelContext, hist: History) -> Finding:
    cid = "training.runs"
    runs = hist.runs
    if not runs:
        return skipped(cid, "no loss history with sessions to tell apart")
    if len(runs) == 1:
        return passed(cid, f"one training session: {runs[0].describe()}", measured=1)
    owners = _owners(ctx, hist)
    by_run: dict[int, list[str]] = {}
    for name, run in owners.items():
        if run is not None:
            by_run.setdefault(run.index, []).append(name)
    chosen = hist.judged_run
    parts = [r.describe() for r in runs]
    own = "; ".join(f"{', '.join(names)} from run {i}" for i, names in sorted(by_run.items()))
    epoch, step = hist.release
    rel = (f"the released model (epoch {epoch}{f', step {step}' if step is not None else ''}) is from run "
           f"{chosen.index}, which is the run judged here" if chosen is not None else "")
    restarts = [r for r in runs[1:] if r.start in ("pretrained", "scratch")]
    text = f"{len(runs)} training sessions in the history: " + "; ".join(parts)
    tail = "; ".join(x for x in (own, rel) if x)
    details = {"runs": len(runs), "owners": {k: (v.index if v else None) for k, v in owners.items()},
               "release_run": chosen.index if chosen else None}
    if restarts and len(by_run) > 1 or restarts and chosen is not None and chosen is not runs[-1]:
        r = restarts[0]
        return failed(
            cid, f"{text}. Run {r.index} started again from epoch {r.first_epoch} ({r.evidence}) instead of "
                 f"resuming; {tail}",
            measured=len(runs), details=details,
            cause="RVC resumes only when logs/NAME holds both a G_ and a D_ checkpoint; with the D_ files deleted "
                  "(or a new run under the same experiment name) it loads the pretrained base at epoch 1 and "
                  "appends to train.log, overwriting G_ files of the same steps. Keep D_ files to resume, or use "
                  "a new experiment name for a new run",
        )
    if restarts:
        return warning(cid, f"{text}. Run {restarts[0].index} restarted ({restarts[0].evidence}); {tail}",
                       measured=len(runs), details=details,
                       cause="an earlier run under the same experiment name; its curves are not this model's")
    return passed(cid, f"{text}; {tail}".rstrip("; "), measured=len(runs), details=details)


def check_checkpoint_runs(ctx: ModelContext, hist: History) -> Finding:
    cid = "training.checkpoint_runs"
    gs = _g_files(ctx)
    if not hist.runs:
        return skipped(cid, "no loss history to place the checkpoints in")
    if not gs:
        return skipped(cid, "no G_*.pth checkpoints with a step in the name")
    owners = _owners(ctx, hist)
    orphans = [name for name, run in owners.items() if run is None]
    spans = "; ".join(r.describe() for r in hist.runs)
    if orphans:
        return failed(cid, f"{', '.join(orphans)} fit no run in the history ({spans})",
                      measured=orphans, expected="every G_ step inside a run",
                      cause="the checkpoints come from a run whose log is gone (a stale train.log or event file, "
                            "or a copied folder), so the history judged here is not theirs")
    return passed(cid, f"all {len(gs)} G_ checkpoints fall inside a run of the history ({spans})", measured=0)


_CHECKS: tuple[tuple[str, Callable[[ModelContext, History], Finding]], ...] = (
    ("training.sources", check_sources),
    ("training.nan_onset", check_nan_onset),
    ("training.display_cap", check_display_cap),
    ("training.runs", check_runs),
    ("training.checkpoint_runs", check_checkpoint_runs),
)


def run(ctx: ModelContext) -> list[Finding]:
    """One finding per id in :data:`CHECK_IDS`."""
    try:
        hist = _history(ctx)
    except RvcqaError as exc:
        return [skipped(cid, str(exc)) for cid in CHECK_IDS]
    if hist.judged is None:
        why = hist.text_error or f"no train.log and no TensorBoard event files in {ctx.md.root}"
        return [skipped(cid, why) for cid in CHECK_IDS]
    out = []
    for cid, fn in _CHECKS:
        try:
            out.append(fn(ctx, hist))
        except RvcqaError as exc:
            out.append(failed(cid, str(exc)))
    return out
