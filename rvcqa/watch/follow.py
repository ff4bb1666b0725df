"""Following a training folder from outside: which checkpoint files exist, which are complete,
and whether the training log says it is over.

Nothing here writes, renames or locks: files are listed, ``stat``-ed and opened read-only. A file
counts as complete once it is a whole zip archive (``torch.save`` writes its central directory
last) and its size and modification time have not changed for ``settle_s``; until then it is only
"not yet", never "damaged".
"""
from __future__ import annotations

import json
import re
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from rvcqa.checkpoint import LATEST_ONLY_STEP

_G = re.compile(r"^G_(\d+)\.pth$")
_RVC_EPOCH = r"^{name}_e(?P<epoch>\d+)_s(?P<step>\d+)\.pth$"
_APPLIO_EPOCH = r"^{name}_(?P<epoch>\d+)e_(?P<step>\d+)s\.pth$"

#: what the trainers print when a run ends (RVC's train.log; Applio's stdout, captured by the user)
DONE_MARKERS = ("Training is done", "Training has been successfully completed")


@dataclass(frozen=True)
class Seen:
    """One checkpoint file as listed: its kind ("G" or "epoch") and what its name says."""

    path: Path
    kind: str
    step: int
    epoch: Optional[int]


def rvc_weights_dir(root: Path) -> Optional[Path]:
    """RVC writes per-epoch inference files to ``<RVC>/assets/weights`` for ``<RVC>/logs/NAME``."""
    if root.resolve().parent.name != "logs":
        return None
    base = root.resolve().parent.parent
    for sub in ("assets/weights", "weights"):
        if (base / sub).is_dir():
            return base / sub
    return None


def list_checkpoints(root: Path, name: str) -> list[Seen]:
    """``G_*.pth`` in the folder, Applio's ``NAME_{E}e_{S}s.pth`` beside them, RVC's
    ``NAME_e{E}_s{S}.pth`` in ``assets/weights``; ordered by step."""
    out: list[Seen] = []
    places = [(root, _APPLIO_EPOCH), (root, _RVC_EPOCH)]
    weights = rvc_weights_dir(root)
    if weights is not None:
        places.append((weights, _RVC_EPOCH))
    for entry in _entries(root):
        m = _G.match(entry.name)
        if m:
            out.append(Seen(entry, "G", int(m.group(1)), None))
    for folder, pattern in places:
        rx = re.compile(pattern.format(name=re.escape(name)))
        for entry in _entries(folder):
            m = rx.match(entry.name)
            if m:
                out.append(Seen(entry, "epoch", int(m.group("step")), int(m.group("epoch"))))
    uniq = {s.path: s for s in out}
    return sorted(uniq.values(), key=lambda s: (s.step, s.kind != "epoch", s.path.name))


def _entries(folder: Path) -> list[Path]:
    try:
        return [e for e in folder.iterdir() if e.is_file()]
    except OSError:
        return []


@dataclass
class _State:
    size: int
    mtime_ns: int
    since: float


@dataclass
class Readiness:
    """Tells, poll after poll, when a file being written has been finished."""

    settle_s: float = 1.0
    _states: dict[Path, _State] = field(default_factory=dict)

    def version(self, path: Path) -> Optional[tuple[int, int]]:
        """``(size, mtime_ns)`` of a complete file, else None (absent, growing, not a whole zip yet)."""
        try:
            st = path.stat()
        except OSError:
            return None
        now = time.monotonic()
        key = (st.st_size, st.st_mtime_ns)
        prev = self._states.get(path)
        if prev is None or (prev.size, prev.mtime_ns) != key:
            self._states[path] = _State(st.st_size, st.st_mtime_ns, now)
            if self.settle_s > 0:
                return None
        elif now - prev.since < self.settle_s:
            return None
        if st.st_size == 0 or not _whole_zip(path):
            return None
        return key


def _whole_zip(path: Path) -> bool:
    """The archive's central directory is there and lists a ``data.pkl`` (torch.save's layout)."""
    try:
        with zipfile.ZipFile(path) as zf:
            return any(n.endswith("data.pkl") for n in zf.namelist())
    except (OSError, zipfile.BadZipFile, ValueError):
        return False


@dataclass
class DoneSignal:
    """Whether the training says it has ended: a done line appended to the log, or Applio taking
    its ``process_pids`` out of ``config.json`` (it does that as the run closes)."""

    log: Optional[Path]
    config_json: Optional[Path]
    _offset: int = 0
    _carry: str = ""
    _had_pids: Optional[bool] = None
    message: str = ""

    def check(self) -> bool:
        if self.message:
            return True
        if self.log is not None:
            text = self._new_text(self.log)
            for marker in DONE_MARKERS:
                if marker in text:
                    line = next(ln for ln in text.splitlines() if marker in ln)
                    self.message = f"{self.log.name} says: {line.strip()[:160]}"
                    return True
        if self.config_json is not None:
            pids = self._has_pids(self.config_json)
            if self._had_pids and pids is False:
                self.message = f"{self.config_json.name} no longer lists the training's process ids (Applio's end)"
                return True
            if pids is not None:
                self._had_pids = pids
        return False

    def _new_text(self, path: Path) -> str:
        try:
            with path.open("rb") as handle:
                size = path.stat().st_size
                if size < self._offset:  # rotated or truncated: read it again
                    self._offset = 0
                handle.seek(self._offset)
                data = handle.read()
        except OSError:
            return ""
        self._offset += len(data)
        text = self._carry + data.decode("utf-8", errors="replace")
        keep = max(len(m) for m in DONE_MARKERS)
        self._carry = text[-keep:]
        return text

    @staticmethod
    def _has_pids(path: Path) -> Optional[bool]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return isinstance(data, dict) and "process_pids" in data


def is_latest_only(seen: Seen) -> bool:
    return seen.step == LATEST_ONLY_STEP
