"""Checkpoints and steps against the log: saves, steps per epoch from the data here, a finished run.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rvcqa.checks.trainlog.defaults import thr
from rvcqa.findings import Finding, passed, skipped, warning
from rvcqa.trainlog import TrainLog, rvc_bucket_steps, steps_per_epoch_from_log

if TYPE_CHECKING:
    from rvcqa.context import ModelContext


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
    from rvcqa.dataset import scan
    from rvcqa.errors import ModelDirError
    from rvcqa.facts import model_facts

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
    try:
        entries = ctx.filelist() or []
    except ModelDirError as exc:
        return skipped(cid, f"{exc} (see dataset.filelist)")
    if entries:
        for e in entries:
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
    tol = int(thr(ctx, "training.steps_per_epoch.tolerance"))
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
