"""Parser for RVC / Applio training output (``logs/NAME/train.log`` or a captured console).

Formats (RVC_FORMATS.md section 3.3):

- ``file``: RVC's file handler, ``%(asctime)s\\t%(name)s\\t%(levelname)s\\t%(message)s``
  (RVC 2.0.230618 and earlier wrote a populated ``train.log``);
- ``console``: ``INFO:NAME:message`` / ``INFO:root:...``, what RVC >= 2.2.231006 prints to stdout
  while its ``train.log`` stays empty;
- ``user``: bare messages from a custom training script, e.g. ``Step 1: loss_mel=333.991,
  loss_kl=72.584`` (values are then not capped);
- ``applio``: Applio's one line per epoch ``NAME | epoch=E | step=S | ... | lowest_value=X``
  (Applio writes losses only to TensorBoard);
- ``empty`` (nothing but whitespace) and ``unknown`` (text, but nothing recognised).

The parser never raises on junk lines: it notes them in ``warnings`` and goes on. Only a file that
cannot be read as text (missing, a directory, binary) raises :class:`~rvcqa.errors.TrainLogError`.
The hyperparameter record is parsed with :func:`ast.literal_eval`, never ``eval``.
"""
from __future__ import annotations

import ast
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from rvcqa.errors import TrainLogError

#: RVC prints ``min(loss_mel, 75)`` and ``min(loss_kl, 9)`` (train.py), so these values are bounds.
MEL_CAP = 75.0
KL_CAP = 9.0
#: RVC logs one loss block every ``train.log_interval`` global steps (config.json default).
DEFAULT_LOG_INTERVAL = 200

_FILE_PREFIX = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\t([^\t]*)\t(\w+)\t(.*)$")
_CONSOLE_PREFIX = re.compile(r"^(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL):([^:]*):(.*)$")
_NUM = r"[-+]?(?:nan|inf(?:inity)?|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
_LOSS_PAIR = re.compile(r"\b(loss_[a-z_]+?)\s*[=:]\s*(" + _NUM + r")(?![\w.])", re.IGNORECASE)
_STEP_LR = re.compile(r"^\[\s*(\d+)\s*,\s*(" + _NUM + r")\s*\]$", re.IGNORECASE)
_TRAIN_EPOCH = re.compile(r"Train Epoch:\s*(\d+)\s*\[\s*(\d+(?:\.\d+)?)\s*%\s*\]")
_EPOCH_END = re.compile(r"====>\s*Epoch:\s*(\d+)(?:\s*\[([^\]]*)\])?(?:\s*\|\s*\(([^)]*)\))?")
_STEP_LABEL = re.compile(r"\b(?:global[_ ]?)?step\b\s*[=:#]?\s*(\d+)", re.IGNORECASE)
_EPOCH_LABEL = re.compile(r"\bepoch\b\s*[=:#]?\s*(\d+)", re.IGNORECASE)
_LR_LABEL = re.compile(r"\b(?:lr|learning_rate)\b\s*[=:]\s*(" + _NUM + r")", re.IGNORECASE)
_PRETRAIN_LOADED = re.compile(r"loaded pretrained\s+(?:\([GD]\)\s*)?'?(.*?)'?\s*$", re.IGNORECASE)
_PRETRAIN_MISSING = re.compile(r"not exist,?\s*will not use pretrained model", re.IGNORECASE)
_SAVING = re.compile(r"Saving model and optimizer state at epoch\s+(\d+)\s+to\s+(.*?)\s*$")
_RESUMED = re.compile(r"Loaded checkpoint\s+'([^']*)'\s*\(epoch\s+(\d+)\)")
_APPLIO = re.compile(
    r"^(?P<name>.*?)\s*\|\s*epoch=(?P<epoch>\d+)\s*\|\s*step=(?P<step>\d+)(?P<rest>.*)$"
)
_APPLIO_LOWEST = re.compile(
    r"lowest_value=(?P<value>" + _NUM + r")(?:\s*\(epoch\s+(?P<epoch>\d+)\s+and\s+step\s+(?P<step>\d+)\))?",
    re.IGNORECASE,
)
_LOAD_RESULT = re.compile(r"^<?(All keys matched successfully|_IncompatibleKeys\(.*|Missing key|Unexpected key|size mismatch)")

_LOSS_NAMES = {
    "loss_disc": "loss_disc",
    "loss_d": "loss_disc",
    "loss_gen": "loss_gen",
    "loss_g": "loss_gen",
    "loss_fm": "loss_fm",
    "loss_mel": "loss_mel",
    "loss_kl": "loss_kl",
}


@dataclass
class LossEntry:
    """One loss record. Values are floats (``nan`` kept as ``nan``) or None when not printed.

    ``mel_capped``/``kl_capped``: the printed value is RVC's display cap (75.000 / 9.000), so the
    true loss was *at least* that.
    """

    step: int | None
    epoch: int | None
    lr: float | None
    loss_disc: float | None
    loss_gen: float | None
    loss_fm: float | None
    loss_mel: float | None
    loss_kl: float | None
    mel_capped: bool
    kl_capped: bool
    line_no: int
    progress_pct: float | None = None  # the ``Train Epoch: E [P%]`` percentage, when printed

    def values(self) -> dict[str, float | None]:
        return {
            "loss_disc": self.loss_disc,
            "loss_gen": self.loss_gen,
            "loss_fm": self.loss_fm,
            "loss_mel": self.loss_mel,
            "loss_kl": self.loss_kl,
        }

    @property
    def has_nan(self) -> bool:
        return any(v is not None and not math.isfinite(v) for v in self.values().values())


class EpochEnd(NamedTuple):
    epoch: int
    timestamp: str | None


class PretrainedLoad(NamedTuple):
    path: str
    result: str | None  # the next line, normally ``<All keys matched successfully>``

    @property
    def matched(self) -> bool:
        return self.result is not None and ("All keys matched successfully" in self.result or self.result == APPLIO_LOADED)


#: Applio prints ``Loaded pretrained (G) 'PATH'`` and exits on a mismatch, so the line itself is the match
APPLIO_LOADED = "loaded by Applio (it exits when the keys do not match)"


class Save(NamedTuple):
    epoch: int
    path: str


class ApplioEpoch(NamedTuple):
    name: str
    epoch: int
    step: int
    lowest_value: float | None
    lowest_epoch: int | None
    lowest_step: int | None
    line_no: int


@dataclass
class TrainLog:
    """Everything :func:`parse_train_log` understood, plus a note for every line it did not."""

    path: Path | None
    format: str  # "file", "console", "user", "applio", "empty" or "unknown"
    hparams: dict[str, Any] | None = None
    entries: list[LossEntry] = field(default_factory=list)
    epochs_ended: list[EpochEnd] = field(default_factory=list)
    pretrained_loaded: list[PretrainedLoad] = field(default_factory=list)
    pretrained_missing: list[str] = field(default_factory=list)
    saves: list[Save] = field(default_factory=list)
    resumes: list[tuple[str, int]] = field(default_factory=list)  # (checkpoint path, epoch)
    applio_epochs: list[ApplioEpoch] = field(default_factory=list)
    finished: bool = False
    warnings: list[str] = field(default_factory=list)
    n_lines: int = 0
    logger_names: list[str] = field(default_factory=list)
    #: index into ``entries`` where each training session starts (a new header, a counter going back)
    run_starts: list[int] = field(default_factory=list)
    #: (line, kind, text) of session markers: hparams, pretrained, loaded_d, resumed, save, start, done
    markers: list[tuple[int, str, str]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # the files read (TensorBoard: one per session)

    # ------------------------------------------------------------------ conveniences
    @property
    def is_empty(self) -> bool:
        return self.format == "empty"

    def hparam(self, *keys: str, default: Any = None) -> Any:
        """``hparam("train", "batch_size")`` -> value from the hyperparameter record, or default."""
        node: Any = self.hparams
        for key in keys:
            if not isinstance(node, dict) or key not in node:
                return default
            node = node[key]
        return node

    @property
    def mel_entries(self) -> list[LossEntry]:
        return [e for e in self.entries if e.loss_mel is not None]

    @property
    def last_step(self) -> int | None:
        steps = [e.step for e in self.entries if e.step is not None]
        steps += [a.step for a in self.applio_epochs]
        return max(steps) if steps else None

    @property
    def last_epoch(self) -> int | None:
        epochs = [e.epoch for e in self.entries if e.epoch is not None]
        epochs += [e.epoch for e in self.epochs_ended]
        epochs += [a.epoch for a in self.applio_epochs]
        return max(epochs) if epochs else None

    @property
    def has_nan(self) -> bool:
        return any(e.has_nan for e in self.entries)

    @property
    def pretrain_g(self) -> str | None:
        """``pretrainG`` from the hyperparameters, else the first ``loaded pretrained`` G path."""
        value = self.hparam("pretrainG")
        if isinstance(value, str):
            return value
        loads = self.pretrained_loaded
        for load in loads:
            if pretrained_kind(load.path) == "G":
                return load.path
        return loads[0].path if loads and pretrained_kind(loads[0].path) is None else None

    @property
    def pretrain_d(self) -> str | None:
        value = self.hparam("pretrainD")
        if isinstance(value, str):
            return value
        loads = self.pretrained_loaded
        for load in loads:
            if pretrained_kind(load.path) == "D":
                return load.path
        return loads[1].path if len(loads) > 1 and pretrained_kind(loads[1].path) is None else None


_PRETRAIN_KIND = re.compile(r"(?:^|[^a-z])(?:f0)?([gd])[_-]?(?:\d{2}k|\d{5})", re.IGNORECASE)


def pretrained_kind(path: str) -> str | None:
    """"G" or "D" from a pretrain file name (``f0G48k.pth``, ``G40k.pth``, ``KLM_D48k.pth``)."""
    name = re.split(r"[\\/]", path)[-1]
    m = _PRETRAIN_KIND.search(name)
    return m.group(1).upper() if m else None


# --------------------------------------------------------------------------- reading

_MAX_BYTES = 256 * 1024 * 1024


def read_log_text(path: str | os.PathLike[str]) -> str:
    """The log as text. UTF-8, UTF-8 with BOM, UTF-16 with BOM (PowerShell's ``>`` redirect), and
    legacy code pages (decoded with replacement) are accepted; binary data raises TrainLogError."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = fh.read(_MAX_BYTES + 1)
    except IsADirectoryError:
        raise TrainLogError(f"{p} is a directory, not a training log; pass the log file with --train-log PATH") from None
    except FileNotFoundError:
        raise TrainLogError(f"training log {p} does not exist") from None
    except OSError as exc:
        raise TrainLogError(f"cannot read training log {p}: {exc.strerror or exc}") from None
    if len(data) > _MAX_BYTES:
        data = data[:_MAX_BYTES]
    return decode_log_bytes(data, p)


def decode_log_bytes(data: bytes, path: Path | None = None) -> str:
    where = str(path) if path is not None else "training log"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise TrainLogError(f"{where}: starts like UTF-16 text but cannot be decoded") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\x00" in data:
        # UTF-16 without BOM: every other byte is NUL in ASCII text.
        if len(data) >= 4 and data[1::2].count(0) > 0.9 * (len(data) // 2):
            try:
                return data.decode("utf-16-le")
            except UnicodeDecodeError:
                pass
        raise TrainLogError(
            f"{where} is not a text log (it contains binary data); pass RVC's train.log or the "
            "captured console output with --train-log PATH"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Windows logs are written in the locale's code page (e.g. GBK paths); losses are ASCII.
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    if bad > max(16, 0.2 * len(text)):
        raise TrainLogError(f"{where} is not a text log ({bad} undecodable bytes)")
    return text


# --------------------------------------------------------------------------- parsing

def parse_train_log(path: str | os.PathLike[str]) -> TrainLog:
    """Parse a training log file; see the module docstring for the formats."""
    p = Path(path)
    log = parse_train_log_text(read_log_text(p))
    log.path = p
    return log


def _to_float(text: str) -> float:
    t = text.strip().lower()
    if t.lstrip("+-") in ("nan",):
        return math.nan
    if t.lstrip("+-") in ("inf", "infinity"):
        return -math.inf if t.startswith("-") else math.inf
    return float(t)


def _literal_dict(text: str) -> dict[str, Any] | None:
    text = text.strip()
    if not (text.startswith("{") and text.endswith("}")) or len(text) > 200_000:
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def parse_train_log_text(text: str) -> TrainLog:
    """Parse training-log text (see :func:`parse_train_log`)."""
    log = TrainLog(path=None, format="empty")
    lines = text.splitlines()
    log.n_lines = len(lines)
    if not text.strip():
        return log

    n_file = n_console = n_bare_recognised = 0
    pending_epoch: int | None = None
    pending_pct: float | None = None
    pending_step: int | None = None
    pending_lr: float | None = None
    awaiting_load_result: int | None = None  # index into pretrained_loaded
    names: dict[str, int] = {}
    new_run = False
    ended_before: list[int | None] = []
    for idx, raw in enumerate(lines):
        line_no = idx + 1
        line = raw.strip()
        if not line:
            continue
        prefixed = False
        m = _FILE_PREFIX.match(line)
        if m:
            n_file += 1
            prefixed = True
            logger_name, message = m.group(2), m.group(4).strip()
        else:
            m = _CONSOLE_PREFIX.match(line)
            if m:
                n_console += 1
                prefixed = True
                logger_name, message = m.group(2), m.group(3).strip()
            else:
                logger_name, message = "", line
        if logger_name and logger_name != "root":
            names[logger_name] = names.get(logger_name, 0) + 1

        # the result of load_state_dict is the record right after "loaded pretrained"
        if awaiting_load_result is not None:
            if _LOAD_RESULT.match(message):
                path_, _ = log.pretrained_loaded[awaiting_load_result]
                log.pretrained_loaded[awaiting_load_result] = PretrainedLoad(path_, message)
                awaiting_load_result = None
                n_bare_recognised += 0 if prefixed else 1
                continue
            awaiting_load_result = None

        recognised = True
        try:
            if message.startswith("{") and (hp := _literal_dict(message)) is not None:
                log.hparams = hp if log.hparams is None else log.hparams
                log.markers.append((line_no, "hparams", ""))
                new_run = new_run or bool(log.entries)
            elif message.startswith("Starting training"):
                log.markers.append((line_no, "start", message))
                new_run = new_run or bool(log.entries)
            elif (m2 := _TRAIN_EPOCH.search(message)) and "loss_" not in message:
                pending_epoch, pending_pct = int(m2.group(1)), float(m2.group(2))
            elif m2 := _STEP_LR.match(message):
                pending_step, pending_lr = int(m2.group(1)), _to_float(m2.group(2))
            elif "loss_" in message and _LOSS_PAIR.search(message):
                entry = _loss_entry(message, line_no, pending_epoch, pending_pct, pending_step, pending_lr, log)
                if entry is None:
                    recognised = False
                else:
                    prev = log.entries[-1] if log.entries else None
                    if prev is None or new_run or _goes_back(prev, entry):
                        log.run_starts.append(len(log.entries))
                        new_run = False
                    log.entries.append(entry)
                    ended_before.append(log.epochs_ended[-1].epoch if log.epochs_ended else None)
                    pending_epoch = pending_pct = pending_step = pending_lr = None
            elif m2 := _EPOCH_END.search(message):
                log.epochs_ended.append(EpochEnd(int(m2.group(1)), (m2.group(2) or "").strip() or None))
            elif m2 := _PRETRAIN_LOADED.search(message):
                applio_form = re.search(r"pretrained\s+\([GD]\)", message, re.IGNORECASE) is not None
                log.pretrained_loaded.append(PretrainedLoad(m2.group(1), APPLIO_LOADED if applio_form else None))
                log.markers.append((line_no, "pretrained", m2.group(1)))
                awaiting_load_result = None if applio_form else len(log.pretrained_loaded) - 1
            elif _PRETRAIN_MISSING.search(message):
                log.pretrained_missing.append(message)
            elif m2 := _SAVING.search(message):
                log.saves.append(Save(int(m2.group(1)), m2.group(2)))
                log.markers.append((line_no, "save", m2.group(2)))
            elif m2 := _RESUMED.search(message):
                log.resumes.append((m2.group(1), int(m2.group(2))))
                log.markers.append((line_no, "resumed", m2.group(1)))
            elif "Training is done" in message or "saving final ckpt" in message:
                log.finished = True
                log.markers.append((line_no, "done", message))
            elif message == "loaded D":
                log.markers.append((line_no, "loaded_d", message))
            elif message.startswith("saving ckpt"):
                pass
            elif (m2 := _APPLIO.match(message)) and "epoch=" in message:
                low = _APPLIO_LOWEST.search(m2.group("rest"))
                log.applio_epochs.append(ApplioEpoch(
                    m2.group("name").strip(), int(m2.group("epoch")), int(m2.group("step")),
                    _to_float(low.group("value")) if low else None,
                    int(low.group("epoch")) if low and low.group("epoch") else None,
                    int(low.group("step")) if low and low.group("step") else None,
                    line_no,
                ))
                if "Training has been successfully completed" in message:
                    log.finished = True
            elif "Training has been successfully completed" in message:
                log.finished = True
            else:
                recognised = False
        except (ValueError, OverflowError) as exc:  # pragma: no cover - regexes admit only numbers
            recognised = False
            log.warnings.append(f"line {line_no}: {exc}")
        if recognised and not prefixed:
            n_bare_recognised += 1
        if not recognised and len(log.warnings) < 200:
            log.warnings.append(f"line {line_no}: not understood: {line[:120]}")

    log.logger_names = sorted(names, key=lambda n: -names[n])
    if n_file and n_file >= n_console:
        log.format = "file"
    elif n_console:
        log.format = "console"
    elif log.entries:
        log.format = "user"
    elif log.applio_epochs:
        log.format = "applio"
    elif n_bare_recognised:
        log.format = "user"
    else:
        log.format = "unknown"
    _fill_epochs(log, ended_before)
    return log


def _loss_entry(
    message: str,
    line_no: int,
    epoch: int | None,
    pct: float | None,
    step: int | None,
    lr: float | None,
    log: TrainLog,
) -> LossEntry | None:
    values: dict[str, float] = {}
    for key, raw in _LOSS_PAIR.findall(message):
        canon = _LOSS_NAMES.get(key.lower())
        if canon is None or canon in values:
            continue
        try:
            values[canon] = _to_float(raw)
        except ValueError:
            continue
    if not values:
        return None
    # labels on the same line (custom scripts): "Epoch 3 Step 40: loss_mel=..., lr=1e-4"
    head = _LOSS_PAIR.sub(" ", message)
    if step is None and (m := _STEP_LABEL.search(head)):
        step = int(m.group(1))
    if epoch is None and (m := _EPOCH_LABEL.search(head)):
        epoch = int(m.group(1))
    if lr is None and (m := _LR_LABEL.search(message)):
        try:
            lr = _to_float(m.group(1))
        except ValueError:
            lr = None
    mel, kl = values.get("loss_mel"), values.get("loss_kl")
    return LossEntry(
        step=step,
        epoch=epoch,
        lr=lr,
        loss_disc=values.get("loss_disc"),
        loss_gen=values.get("loss_gen"),
        loss_fm=values.get("loss_fm"),
        loss_mel=mel,
        loss_kl=kl,
        mel_capped=mel is not None and mel == MEL_CAP,
        kl_capped=kl is not None and kl == KL_CAP,
        line_no=line_no,
        progress_pct=pct,
    )


def _goes_back(prev: LossEntry, entry: LossEntry) -> bool:
    """A step or epoch counter lower than the line before: RVC appended a new session."""
    if prev.step is not None and entry.step is not None:
        return entry.step < prev.step
    return prev.epoch is not None and entry.epoch is not None and entry.epoch < prev.epoch


def _fill_epochs(log: TrainLog, ended_before: list[int | None]) -> None:
    """Entries without an epoch label get the epoch in progress: the last ended epoch + 1."""
    if not log.epochs_ended:
        return
    for entry, ended in zip(log.entries, ended_before):
        if entry.epoch is None:
            entry.epoch = (ended or 0) + 1


# --------------------------------------------------------------------------- analysis helpers

def format_rvc_loss_line(loss_disc: float, loss_gen: float, loss_fm: float, loss_mel: float, loss_kl: float) -> str:
    """The loss record exactly as RVC's train.py prints it (caps and the missing space included)."""
    mel = min(loss_mel, MEL_CAP) if not math.isnan(loss_mel) else loss_mel
    kl = min(loss_kl, KL_CAP) if not math.isnan(loss_kl) else loss_kl
    return (
        f"loss_disc={loss_disc:.3f}, loss_gen={loss_gen:.3f}, loss_fm={loss_fm:.3f},"
        f"loss_mel={mel:.3f}, loss_kl={kl:.3f}"
    )


def steps_per_epoch_from_log(log: TrainLog) -> int | None:
    """Steps per epoch implied by ``Train Epoch: E [P%]`` + ``[step, lr]`` blocks.

    RVC prints ``P = 100 * batch_idx / len(train_loader)`` and ``step = (E-1) * len + batch_idx``
    (for a run that was not resumed). The smallest ``len`` consistent with every block is returned,
    or, without percentages, the ratio of the last step to the last epoch.
    """
    blocks = [(e.epoch, e.progress_pct, e.step) for e in log.entries
              if e.epoch is not None and e.step is not None]
    with_pct = [(ep, pct, st) for ep, pct, st in blocks if pct is not None and ep >= 1 and st >= 0]
    if with_pct:
        # step lies in [(ep-1)*spe, ep*spe): spe > step/ep and, for ep > 1, spe <= step/(ep-1)
        lo = max(st // ep + 1 for ep, _, st in with_pct)
        hi = min([st // (ep - 1) for ep, _, st in with_pct if ep > 1] or [lo + 10_000])
        for spe in range(lo, min(hi, lo + 10_000) + 1):
            ok = True
            for ep, pct, st in with_pct:
                idx = st - (ep - 1) * spe
                if not 0 <= idx < spe or abs(100.0 * idx / spe - pct) > 0.5 + 1e-9:
                    ok = False
                    break
            if ok:
                return spe
    # Without percentages: epoch ends or step labels.
    blocks = [(ep, pct, st) for ep, pct, st in blocks if ep >= 1 and st >= 0]
    if blocks:
        ep, _, st = max(blocks, key=lambda b: b[2])
        if ep > 1:
            # step lies in [(ep-1)*spe, ep*spe): spe in (st/ep, st/(ep-1)]
            lo = st // ep + 1
            hi = st // (ep - 1)
            if lo <= hi:
                return lo if lo == hi else round(st / (ep - 0.5))
    if log.applio_epochs:
        last = max(log.applio_epochs, key=lambda a: a.step)
        if last.epoch > 0:
            return round(last.step / last.epoch)
    return None


def rvc_bucket_steps(lengths: list[int], batch_size: int, n_gpus: int = 1,
                     boundaries: tuple[int, ...] = (100, 200, 300, 400, 500, 600, 700, 800, 900)) -> tuple[int, int]:
    """Steps per epoch of RVC's ``DistributedBucketSampler`` and how many items it drops.

    ``lengths`` are RVC's estimates ``os.path.getsize(wav) // (3 * hop_length)``. Items with a
    length outside ``(100, 900]`` are dropped; each non-empty bucket is padded to a multiple of the
    total batch size. With ``g`` GPUs the per-rank loader has ``sum(ceil(n_b / (bs * g * g)))``
    batches (RVC passes ``batch_size * n_gpus`` as the sampler's batch size).
    """
    counts = [0] * (len(boundaries) - 1)
    dropped = 0
    for length in lengths:
        for i in range(len(boundaries) - 1):
            if boundaries[i] < length <= boundaries[i + 1]:
                counts[i] += 1
                break
        else:
            dropped += 1
    total = max(1, batch_size * n_gpus * n_gpus)
    steps = sum(-(-c // total) for c in counts if c)
    return steps, dropped
