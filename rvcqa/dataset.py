"""What preprocessing and feature extraction left in ``logs/NAME``: names, headers and array stats.

Layout facts: RVC_FORMATS.md sections 3.1 (RVC) and 3.2 (Applio); coarse pitch 5.4. Headers are
read with ``soundfile.info`` and arrays with ``np.load(mmap_mode="r")`` so a folder of thousands of
slices is scanned in seconds. Nothing is judged here (the dataset checks do that) and nothing is
written into the model directory.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rvcqa.facts import model_facts
from rvcqa.modeldir import stems as folder_stems

if TYPE_CHECKING:
    from rvcqa.context import ModelContext

#: suffix of each role's files, RVC's stem rule = name up to the first "."
#: Largest |GT duration - 16k duration| per slice, in seconds (one HuBERT frame; the reason is given
#: with ``dataset.durations.max_diff_s`` in rvcqa.checks.dataset.limits). Here because the training
#: checks read it too, and check modules do not import each other.
DURATION_TOLERANCE_S = 0.02

SUFFIX = {"gt_wavs": ".wav", "wavs16k": ".wav", "f0_coarse": ".npy", "f0_hz": ".npy", "features": ".npy"}
#: RVC's f0 range (extract_f0_print.py) used by the coarse mapping
F0_MIN, F0_MAX = 50.0, 1100.0

_DEFAULT_NAMES = {
    "rvc": {"gt_wavs": "0_gt_wavs", "wavs16k": "1_16k_wavs", "f0_coarse": "2a_f0", "f0_hz": "2b-f0nsf",
            "features": "3_feature768"},
    "applio": {"gt_wavs": "sliced_audios", "wavs16k": "sliced_audios_16k", "f0_coarse": "f0", "f0_hz": "f0_voiced",
               "features": "extracted"},
}


def natural_key(stem: str) -> list[Any]:
    """Sort key that puts ``0_2`` before ``0_10`` (slices are numbered, not zero-padded)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", stem)]


@dataclass
class WavInfo:
    samplerate: int
    frames: int
    subtype: str
    channels: int
    size: int

    @property
    def duration(self) -> float:
        return self.frames / self.samplerate if self.samplerate else 0.0


@dataclass
class Scan:
    """Names and headers of everything in the data folders (no sample data read)."""

    layout: str
    folders: dict[str, Path | None]
    stems: dict[str, dict[str, Path]]
    required: list[str]
    complete: list[str]
    f0_expected: bool = True
    gt: dict[str, WavInfo] = field(default_factory=dict)
    w16: dict[str, WavInfo] = field(default_factory=dict)
    unreadable: dict[str, list[str]] = field(default_factory=dict)

    def folder_name(self, role: str) -> str:
        folder = self.folders.get(role)
        return folder.name if folder is not None else _DEFAULT_NAMES[self.layout].get(role, role)

    @property
    def empty(self) -> bool:
        """No data folder at all (a folder with only the released model, or the wrong folder)."""
        return all(self.folders.get(r) is None for r in SUFFIX)


def scan(ctx: ModelContext) -> Scan:
    """The data folders of ``ctx``'s model, scanned once per context."""
    return ctx.cached("dataset:scan", lambda: _scan(ctx))


def _scan(ctx: ModelContext) -> Scan:
    import soundfile as sf

    md = ctx.md
    layout = md.layout if md.layout in ("rvc", "applio") else "rvc"
    folders = md.data_folders()
    facts = model_facts(ctx)
    required = ["gt_wavs", "wavs16k", "features"]
    has_f0_folder = folders.get("f0_coarse") is not None or folders.get("f0_hz") is not None
    f0_expected = facts.f0 if facts.f0 is not None else has_f0_folder
    if f0_expected:
        required[2:2] = ["f0_coarse", "f0_hz"]
    found = {role: folder_stems(path, SUFFIX[role]) for role, path in folders.items()}
    present = [r for r in required if folders.get(r) is not None]
    complete = sorted(set.intersection(*(set(found[r]) for r in present)), key=natural_key) if present else []
    sc = Scan(layout, folders, found, required, complete, f0_expected=bool(f0_expected))
    for role, target in (("gt_wavs", sc.gt), ("wavs16k", sc.w16)):
        for stem, path in found.get(role, {}).items():
            try:
                info = sf.info(str(path))
                target[stem] = WavInfo(int(info.samplerate), int(info.frames), str(info.subtype), int(info.channels),
                                       path.stat().st_size)
            except (RuntimeError, OSError, ValueError) as exc:  # soundfile raises LibsndfileError(RuntimeError)
                sc.unreadable.setdefault(role, []).append(f"{path.name}: {str(exc).splitlines()[0][:80]}")
    return sc


@dataclass
class ArrayStats:
    shape: tuple[int, ...]
    dtype: str
    n_nonfinite: int = 0
    vmin: float | None = None
    vmax: float | None = None
    n_voiced: int = 0
    n_out_of_range: int = 0
    integral: bool = True
    error: str | None = None
    values: np.ndarray[Any, Any] | None = None  # small f0 arrays are kept for cross-checks


def load_array(path: Path) -> np.ndarray[Any, Any]:
    """A ``.npy`` file, memory-mapped where it can be (never unpickled)."""
    try:
        arr: np.ndarray[Any, Any] = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError:
        arr = np.load(path, allow_pickle=False)
    return arr


def feature_stats(ctx: ModelContext) -> dict[str, ArrayStats]:
    """Shape, dtype and NaN/Inf count of every feature file."""
    def compute() -> dict[str, ArrayStats]:
        out: dict[str, ArrayStats] = {}
        for stem, path in scan(ctx).stems.get("features", {}).items():
            try:
                arr = load_array(path)
                st = ArrayStats(tuple(int(s) for s in arr.shape), str(arr.dtype))
                if arr.dtype.kind in "fc":
                    st.n_nonfinite = int(arr.size - np.count_nonzero(np.isfinite(arr)))
                out[stem] = st
            except (OSError, ValueError, EOFError) as exc:
                out[stem] = ArrayStats((), "?", error=str(exc).splitlines()[0][:80])
        return out

    return ctx.cached("dataset:feature_stats", compute)


def _f0_file_stats(path: Path, hz: bool) -> ArrayStats:
    try:
        arr = np.asarray(load_array(path))
    except (OSError, ValueError, EOFError) as exc:
        return ArrayStats((), "?", error=str(exc).splitlines()[0][:80])
    st = ArrayStats(tuple(int(s) for s in arr.shape), str(arr.dtype), values=arr.reshape(-1) if arr.ndim == 1 else None)
    if arr.size == 0 or arr.dtype.kind not in "iuf":
        return st
    flat = arr.reshape(-1).astype(np.float64)
    finite = np.isfinite(flat)
    st.n_nonfinite = int(flat.size - finite.sum())
    fin = flat[finite]
    if fin.size:
        st.vmin, st.vmax = float(fin.min()), float(fin.max())
        st.integral = bool(np.all(fin == np.round(fin)))
    if hz:
        voiced = fin[fin != 0]
        st.n_voiced = int(voiced.size)
        st.n_out_of_range = int(np.count_nonzero((voiced < F0_MIN - 0.5) | (voiced > F0_MAX + 0.5)))
    return st


def f0_stats(ctx: ModelContext) -> dict[str, dict[str, ArrayStats]]:
    """Per-file stats of the coarse (``2a_f0``) and Hz (``2b-f0nsf``) pitch files."""
    def compute() -> dict[str, dict[str, ArrayStats]]:
        sc = scan(ctx)
        return {
            "coarse": {s: _f0_file_stats(p, False) for s, p in sc.stems.get("f0_coarse", {}).items()},
            "hz": {s: _f0_file_stats(p, True) for s, p in sc.stems.get("f0_hz", {}).items()},
        }

    return ctx.cached("dataset:f0_stats", compute)


def coarse_pitch(f0_hz: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """RVC's coarse pitch 1..255 (RVC_FORMATS 5.4)."""
    mel_min, mel_max = 1127 * math.log(1 + F0_MIN / 700), 1127 * math.log(1 + F0_MAX / 700)
    mel = 1127 * np.log(1 + np.asarray(f0_hz, dtype=np.float64) / 700)
    mel = np.where(mel > 0, (mel - mel_min) * 254 / (mel_max - mel_min) + 1, mel)
    out: np.ndarray[Any, Any] = np.rint(np.clip(mel, 1, 255)).astype(np.int64)
    return out


@dataclass
class FilelistEntry:
    """One line of ``filelist.txt``: the slice stem, its ``|``-separated fields, mute or not."""

    stem: str
    fields: list[str]
    mute: bool
    line_no: int


def parse_filelist(path: Path) -> list[FilelistEntry]:
    """RVC's ``filelist.txt`` (wav|feature|2a|2b|sid, or wav|feature|sid without f0)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    out = []
    for i, raw in enumerate(text.split("\n"), 1):
        line = raw.strip().strip("\r")
        if not line:
            continue
        fields = [f.strip() for f in line.split("|")]
        wav = normalise_path(fields[0])
        base = wav.rsplit("/", 1)[-1]
        parent_dirs = wav.split("/")[:-1]
        mute = base.startswith("mute") and any(d.startswith("mute") for d in parent_dirs)
        out.append(FilelistEntry(base.split(".", 1)[0], fields, mute, i))
    return out


def normalise_path(p: str) -> str:
    """Windows or POSIX separators (a filelist written on another machine) as ``/``."""
    return re.sub(r"[\\/]+", "/", p)
