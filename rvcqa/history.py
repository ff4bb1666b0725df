"""One training history from whatever the run left: ``train.log``/console capture and TensorBoard.

:func:`training_history` reads both sources, splits them into sessions (:class:`Run`), and returns
the :class:`~rvcqa.trainlog.TrainLog` the training checks judge: TensorBoard's losses when present
(Applio logs them nowhere else; RVC's there are recoverable above the 75/9 display clamp), with
the text log's hyperparameters, pretrained loads, saves and epoch ends, restricted to the session
that produced the released model when the folder holds more than one.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from rvcqa.errors import TrainLogError
from rvcqa.modeldir import ModelDir
from rvcqa.tblog import read_event_files, tensorboard_history
from rvcqa.trainlog import LossEntry, TrainLog, parse_train_log

#: (epoch, step) of the released model, either may be unknown
Release = tuple[int | None, int | None]


@dataclass
class Run:
    """One training session: where it started from and the steps/epochs it covered."""

    index: int  # 1-based, in the order the sessions ran
    entries: list[LossEntry]
    start: str  # "pretrained", "resumed", "scratch" or "unknown"
    evidence: str
    saves: list[str] = field(default_factory=list)  # checkpoint file names the log says it wrote
    epoch_range: tuple[int, int] | None = None  # from Applio's console lines when no loss entries

    @property
    def first_step(self) -> int | None:
        steps = [e.step for e in self.entries if e.step is not None]
        return min(steps) if steps else None

    @property
    def last_step(self) -> int | None:
        steps = [e.step for e in self.entries if e.step is not None]
        return max(steps) if steps else None

    @property
    def first_epoch(self) -> int | None:
        epochs = [e.epoch for e in self.entries if e.epoch is not None]
        return min(epochs) if epochs else (self.epoch_range[0] if self.epoch_range else None)

    @property
    def last_epoch(self) -> int | None:
        epochs = [e.epoch for e in self.entries if e.epoch is not None]
        return max(epochs) if epochs else (self.epoch_range[1] if self.epoch_range else None)

    def describe(self) -> str:
        parts = []
        if self.first_epoch is not None:
            parts.append(f"epochs {self.first_epoch}-{self.last_epoch}")
        if self.first_step is not None:
            parts.append(f"steps {self.first_step}-{self.last_step}")
        return f"run {self.index} ({', '.join(parts) or 'no losses'}; {self.evidence})"


@dataclass
class History:
    """Both sources as read, the sessions found, and the history to judge."""

    text: TrainLog | None  # train.log or --train-log
    tensorboard: TrainLog | None
    text_error: str | None
    runs: list[Run]
    judged: TrainLog | None  # what the training checks read
    judged_run: Run | None  # the session the release belongs to, when there are several
    release: Release = (None, None)
    event_files: list[str] = field(default_factory=list)

    @property
    def source(self) -> str:
        if self.text is not None and self.tensorboard is not None:
            return "train.log + TensorBoard"
        return "TensorBoard" if self.tensorboard is not None else "train.log" if self.text is not None else "none"


def training_history(md: ModelDir, train_log_path: Path | None = None,
                     release: Callable[[], Release] | None = None) -> History:
    """Read every history source of ``md``; ``release`` is asked only when sessions must be told apart."""
    path = train_log_path or md.train_log
    text: TrainLog | None = None
    error: str | None = None
    if path is not None:
        try:
            text = parse_train_log(path)
        except TrainLogError as exc:
            error = str(exc)
    files = read_event_files(md.root)
    tb = tensorboard_history(files)
    if text is not None and tb is not None:
        _label_epochs(tb, text)
    primary = tb if tb is not None else text
    runs = split_runs(text, tb)
    hist = History(text, tb, error, runs, None, None, event_files=[str(f.path) for f in files])
    if primary is None:
        return hist
    merged = _merge(primary, text)
    if release is not None and (len(runs) > 1 or any(e.has_nan for e in primary.entries)):
        hist.release = release()
        chosen = release_run(runs, hist.release)
        hist.judged_run = chosen
        if chosen is not None and chosen.entries:
            merged = replace(merged, entries=resumed_chain(runs, chosen), run_starts=[0])
    hist.judged = merged
    return hist


def _merge(primary: TrainLog, text: TrainLog | None) -> TrainLog:
    """TensorBoard's losses with the text log's facts (hyperparameters, pretrained, saves, end)."""
    if text is None or primary is text:
        return primary
    return replace(
        text, entries=list(primary.entries), run_starts=list(primary.run_starts),
        format=f"{text.format}+tensorboard", sources=[*text.sources, *primary.sources],
        warnings=[*text.warnings, *primary.warnings],
    )


def _label_epochs(tb: TrainLog, text: TrainLog) -> None:
    """TensorBoard has no epoch: take it from the text log's entry at the same step."""
    by_step = {e.step: e.epoch for e in text.entries if e.step is not None and e.epoch is not None}
    for run in text.applio_epochs:
        by_step.setdefault(run.step, run.epoch)
    for e in tb.entries:
        if e.epoch is None and e.step in by_step:
            e.epoch = by_step[e.step]


# --------------------------------------------------------------------------- sessions

def split_runs(text: TrainLog | None, tb: TrainLog | None) -> list[Run]:
    """Sessions of the text log (headers, counters going back) or else of TensorBoard (one file each)."""
    if text is not None and (text.entries or text.applio_epochs):
        return _text_runs(text)
    if tb is not None:
        return [Run(i + 1, chunk, "unknown", f"TensorBoard file {Path(src).name}")
                for i, (chunk, src) in enumerate(zip(_chunks(tb), tb.sources or [""] * len(tb.run_starts)))]
    return []


def _chunks(log: TrainLog) -> list[list[LossEntry]]:
    starts = log.run_starts or ([0] if log.entries else [])
    bounds = [*starts, len(log.entries)]
    return [log.entries[a:b] for a, b in zip(bounds, bounds[1:])]


def _text_runs(log: TrainLog) -> list[Run]:
    chunks = _chunks(log)
    if not chunks and log.applio_epochs:
        chunks_applio = _applio_sessions(log)
        return [Run(i + 1, [], *_start_of(log, lo, hi), epoch_range=rng)
                for i, (lo, hi, rng) in enumerate(chunks_applio)]
    lines = [c[0].line_no for c in chunks] + [10 ** 9]
    runs: list[Run] = []
    for i, chunk in enumerate(chunks):
        lo = 0 if i == 0 else _session_top(log, lines[i - 1] if i else 0, lines[i])
        hi = _session_top(log, lines[i], lines[i + 1]) if i + 1 < len(chunks) else 10 ** 9
        start, evidence = _start_of(log, lo, hi)
        saves = [_base(text) for ln, kind, text in log.markers if kind == "save" and lo <= ln < hi]
        runs.append(Run(i + 1, chunk, start, evidence, saves))
    return runs


def _base(path: str) -> str:
    return re.split(r"[\\/]", path)[-1] or path


def _session_top(log: TrainLog, after: int, first_loss: int) -> int:
    """The line a session begins: its header, else its first loss line."""
    heads = [ln for ln, kind, _ in log.markers if kind in ("hparams", "start") and after < ln <= first_loss]
    return min(heads) if heads else first_loss


def _applio_sessions(log: TrainLog) -> list[tuple[int, int, tuple[int, int]]]:
    sessions: list[tuple[int, int, tuple[int, int]]] = []
    group: list[tuple[int, int]] = []  # (line, epoch)
    for a in log.applio_epochs:
        if group and a.epoch <= group[-1][1]:
            sessions.append((group[0][0], a.line_no, (group[0][1], group[-1][1])))
            group = []
        group.append((a.line_no, a.epoch))
    if group:
        sessions.append((group[0][0], 10 ** 9, (group[0][1], group[-1][1])))
    # a session's markers come before its first epoch line
    fixed = []
    for i, (lo, hi, rng) in enumerate(sessions):
        top = 0 if i == 0 else _session_top(log, sessions[i - 1][0], lo)
        fixed.append((top, hi if i + 1 == len(sessions) else _session_top(log, lo, sessions[i + 1][0]), rng))
    return fixed


def _start_of(log: TrainLog, lo: int, hi: int) -> tuple[str, str]:
    inside = [(kind, text) for ln, kind, text in log.markers if lo <= ln < hi]
    kinds = [k for k, _ in inside]
    if "resumed" in kinds or "loaded_d" in kinds:
        what = next((t for k, t in inside if k == "resumed"), "")
        return "resumed", f"resumed from {_base(what)}" if what else "resumed ('loaded D')"
    if "pretrained" in kinds:
        names = [_base(t) for k, t in inside if k == "pretrained"]
        return "pretrained", f"started from the pretrained {', '.join(names)}"
    if any(ln for ln, k, _ in log.markers if k == "hparams" and lo <= ln < hi) and log.hparam("pretrainG") == "":
        return "scratch", "started without a pretrained base"
    return "unknown", "the log does not say how it started"


def release_run(runs: list[Run], release: Release) -> Run | None:
    """The session the released model came from: the latest one reaching its step, else its epoch."""
    epoch, step = release
    if step is not None:
        for run in reversed(runs):
            if run.first_step is not None and run.first_step <= step <= (run.last_step or 0) + _tolerance(run):
                return run
    if epoch is not None:
        for run in reversed(runs):
            if run.first_epoch is not None and run.first_epoch <= epoch <= (run.last_epoch or 0) + _epoch_tolerance(run):
                return run
    return runs[-1] if runs else None


def _epoch_tolerance(run: Run) -> int:
    """The logging interval in epochs (at least one): the epochs a run goes on after its last loss line."""
    lo_s, hi_s, lo_e, hi_e = run.first_step, run.last_step, run.first_epoch, run.last_epoch
    if lo_s is None or hi_s is None or lo_e is None or hi_e is None or hi_e == lo_e:
        return 1
    spe = (hi_s - lo_s) / (hi_e - lo_e)
    return max(1, math.ceil(_tolerance(run) / spe)) if spe > 0 else 1


def resumed_chain(runs: list[Run], chosen: Run) -> list[LossEntry]:
    """The losses that trained ``chosen``: it and the sessions it resumed, back to the last fresh start.

    Steps an earlier session logged past the point the next one resumed from were trained again
    from the checkpoint, so they are dropped.
    """
    chain = [chosen]
    i = runs.index(chosen)
    while chain[0].start == "resumed" and i > 0:
        i -= 1
        chain.insert(0, runs[i])
    out: list[LossEntry] = []
    for run, nxt in zip(chain, [*chain[1:], None]):
        cut = nxt.first_step if nxt is not None else None
        out.extend(e for e in run.entries if cut is None or e.step is None or e.step < cut)
    return out


def _tolerance(run: Run) -> int:
    """Checkpoints fall between logged steps: allow one logging interval past the last one."""
    steps = sorted({e.step for e in run.entries if e.step is not None})
    gaps = [b - a for a, b in zip(steps, steps[1:]) if b > a]
    return max(gaps) if gaps else 0


def checkpoint_run(runs: list[Run], name: str, step: int | None, epoch: int | None = None) -> Run | None:
    """The session that wrote a checkpoint: the latest naming it in a save line, else by step/epoch."""
    for run in reversed(runs):
        if name in run.saves:
            return run
    if step is not None:
        for run in reversed(runs):
            lo, hi = run.first_step, run.last_step
            if lo is not None and hi is not None and lo - _tolerance(run) <= step <= hi + _tolerance(run):
                return run
    if epoch is not None:
        for run in reversed(runs):
            lo_e, hi_e = run.first_epoch, run.last_epoch
            if lo_e is not None and hi_e is not None and lo_e <= epoch <= hi_e + _epoch_tolerance(run):
                return run
    return None


def first_nonfinite(entries: list[LossEntry]) -> LossEntry | None:
    return next((e for e in entries if e.has_nan), None)


def finite_values(entries: list[LossEntry], attr: str) -> list[tuple[int, float]]:
    """(step, value) of one loss, finite values with a step only."""
    out = []
    for e in entries:
        v = getattr(e, attr)
        if e.step is not None and v is not None and math.isfinite(v):
            out.append((e.step, float(v)))
    return out
