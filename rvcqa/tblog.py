"""TensorBoard event files of an RVC / Applio run, read with TensorBoard's own event loader.

Both trainers write through ``torch.utils.tensorboard.SummaryWriter``; every process start opens a
new ``events.out.tfevents.<time>.<host>.<pid>.<n>`` file, so one file is one training session.

- RVC-WebUI writes into ``logs/NAME`` every ``log_interval`` global steps: ``loss/g/total``,
  ``loss/d/total``, ``learning_rate``, ``loss/g/fm``, ``loss/g/mel``, ``loss/g/kl`` and the
  per-discriminator ``loss/g/0..N`` (their sum is ``loss_gen``). It clamps ``loss_mel`` at 75 and
  ``loss_kl`` at 9 *before* writing them, but ``loss/g/total`` holds the real sum, so a clamped mel
  is recovered as ``total - gen - fm - kl`` while kl itself is below its clamp.
- Applio writes into ``logs/NAME/eval`` once per epoch at ``global_step = epoch x steps/epoch``:
  ``loss/g/total``, ``loss/d/adv`` (``loss/d/total`` before 2025), ``loss/g/adv``, ``loss/g/fm``,
  ``loss/g/mel``, ``loss/g/kl``, ``learning_rate``, ``grad/norm_*`` (nothing clamped), plus
  ``loss_avg_50/*`` rolling means every 50 steps.

The result is a :class:`rvcqa.trainlog.TrainLog` (format ``"tensorboard"``) so every training check
reads either source the same way. Reading never raises on a damaged file: what was read is kept
and the damage noted in ``warnings``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import reduce
from pathlib import Path

from rvcqa.trainlog import KL_CAP, MEL_CAP, LossEntry, TrainLog

EVENT_GLOB = "events.out.tfevents.*"
_MAX_DEPTH = 2  # logs/NAME and logs/NAME/eval (and one more level for hand-made layouts)

_DISC_TAGS = ("loss/d/total", "loss/d/adv")
_LOSS_TAGS = ("loss/g/total", *_DISC_TAGS, "loss/g/adv", "loss/g/fm", "loss/g/mel", "loss/g/kl", "learning_rate")


@dataclass(frozen=True)
class Scalar:
    step: int
    wall_time: float
    value: float


@dataclass
class EventFile:
    """One SummaryWriter session: its scalars by tag, in file order."""

    path: Path
    scalars: dict[str, list[Scalar]] = field(default_factory=dict)
    error: str | None = None

    @property
    def first_wall_time(self) -> float:
        times = [s.wall_time for series in self.scalars.values() for s in series]
        return min(times) if times else math.inf

    @property
    def n_loss_points(self) -> int:
        return len(self.scalars.get("loss/g/mel", [])) + len(self.scalars.get("loss/g/total", []))


def find_event_files(root: Path) -> list[Path]:
    """Event files in ``root`` and its subfolders (``eval/``), at most two levels down."""
    if not root.is_dir():
        return []
    found: list[Path] = []
    level = [root]
    for _ in range(_MAX_DEPTH + 1):
        nxt: list[Path] = []
        for folder in level:
            try:
                entries = sorted(folder.iterdir())
            except OSError:
                continue
            for entry in entries:
                if entry.is_file() and entry.name.startswith("events.out.tfevents."):
                    found.append(entry)
                elif entry.is_dir() and not entry.name.startswith(".") and _may_hold_events(entry):
                    nxt.append(entry)
        level = nxt
    return found


def _may_hold_events(folder: Path) -> bool:
    """Skip RVC's/Applio's data folders (thousands of wavs) without listing them."""
    return folder.name not in {"0_gt_wavs", "1_16k_wavs", "2a_f0", "2b-f0nsf", "3_feature768", "3_feature256",
                               "sliced_audios", "sliced_audios_16k", "f0", "f0_voiced", "extracted", "mute"}


def read_event_file(path: Path) -> EventFile:
    """All scalar summaries of one file (TensorBoard's EventFileLoader; simple and tensor values)."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.util import tensor_util

    out = EventFile(path)
    try:
        for event in EventFileLoader(str(path)).Load():
            if not event.HasField("summary"):
                continue
            for value in event.summary.value:
                kind = value.WhichOneof("value")
                if kind == "simple_value":
                    number = float(value.simple_value)
                elif kind == "tensor":
                    array = tensor_util.make_ndarray(value.tensor)
                    if array.size != 1 or array.dtype.kind not in "fiu":
                        continue
                    number = float(array.reshape(-1)[0])
                else:
                    continue
                out.scalars.setdefault(value.tag, []).append(Scalar(int(event.step), float(event.wall_time), number))
    except Exception as exc:  # a truncated or foreign file: keep what was read, say why it stopped
        out.error = f"{path.name}: stopped reading ({type(exc).__name__}: {exc})"
    return out


def read_event_files(root: Path) -> list[EventFile]:
    """Every event file under ``root``, oldest session first."""
    files = [read_event_file(p) for p in find_event_files(root)]
    return sorted(files, key=lambda f: (f.first_wall_time, f.path.name))


def tensorboard_history(files: list[EventFile]) -> TrainLog | None:
    """The loss history of the folder whose files hold the most loss points; None without any.

    Each file becomes one run (``TrainLog.run_starts``); entries are ordered by session, then step.
    """
    with_losses = [f for f in files if f.n_loss_points]
    if not with_losses:
        return None
    by_dir: dict[Path, list[EventFile]] = {}
    for f in with_losses:
        by_dir.setdefault(f.path.parent, []).append(f)
    folder, chosen = max(by_dir.items(), key=lambda kv: sum(f.n_loss_points for f in kv[1]))
    log = TrainLog(path=folder, format="tensorboard")
    log.warnings = [f.error for f in files if f.error]
    per_epoch = any("loss/g/adv" in f.scalars for f in chosen)
    for f in chosen:
        entries = _entries(f)
        if not entries:
            continue
        log.run_starts.append(len(log.entries))
        log.entries.extend(entries)
        log.sources.append(str(f.path))
    if per_epoch:
        _epochs_from_steps(log.entries)
    log.n_lines = len(log.entries)
    return log


def _entries(f: EventFile) -> list[LossEntry]:
    series = {tag: {s.step: s.value for s in f.scalars.get(tag, [])} for tag in _LOSS_TAGS}
    per_disc = sorted(t for t in f.scalars if t.startswith("loss/g/") and t[len("loss/g/"):].isdigit())
    disc_sum: dict[int, float] = {}
    for tag in per_disc:
        for s in f.scalars[tag]:
            disc_sum[s.step] = disc_sum.get(s.step, 0.0) + s.value
    steps = sorted(set(series["loss/g/mel"]) | set(series["loss/g/total"]))
    out: list[LossEntry] = []
    for step in steps:
        disc = next((series[t][step] for t in _DISC_TAGS if step in series[t]), None)
        gen = series["loss/g/adv"].get(step, disc_sum.get(step))
        fm = series["loss/g/fm"].get(step)
        mel = series["loss/g/mel"].get(step)
        kl = series["loss/g/kl"].get(step)
        total = series["loss/g/total"].get(step)
        mel, mel_capped = _uncap(mel, MEL_CAP, total, [gen, fm, kl], kl is not None and kl < KL_CAP)
        kl_capped = kl is not None and kl == KL_CAP and "loss/g/adv" not in f.scalars
        out.append(LossEntry(
            step=step, epoch=None, lr=series["learning_rate"].get(step), loss_disc=disc, loss_gen=gen,
            loss_fm=fm, loss_mel=mel, loss_kl=kl, mel_capped=mel_capped, kl_capped=kl_capped, line_no=0,
        ))
    return out


def _uncap(value: float | None, cap: float, total: float | None, others: list[float | None],
           others_real: bool) -> tuple[float | None, bool]:
    """A value at RVC's clamp is a bound; ``total`` minus the other terms gives the real one."""
    if value is None or value != cap:
        return value, False
    if total is not None and others_real and all(o is not None for o in others):
        real = total - sum(o for o in others if o is not None)
        if math.isfinite(real) and real >= cap - 1e-3:
            return real, False
    return value, True


def _epochs_from_steps(entries: list[LossEntry]) -> None:
    """Per-epoch points lie at ``epoch x steps/epoch`` (resumes too): the gcd of the steps."""
    steps = [e.step for e in entries if e.step]
    if not steps:
        return
    spe = reduce(math.gcd, steps)
    if spe <= 0:
        return
    for e in entries:
        if e.step is not None:
            e.epoch = e.step // spe
