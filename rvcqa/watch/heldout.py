"""The target speaker's recordings kept out of training, turned into model inputs once.

Content features come from the user's HuBERT (``--hubert``, RVC's ``hubert_base.pt``), F0 from
pYIN at RVC's 100 frames/s, and the recording itself (resampled to the model's rate) is the target:
a checkpoint that generalises resynthesises unseen audio of its speaker close to the original.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from rvcqa.errors import RvcqaError
from rvcqa.features import ContentExtractor
from rvcqa.resynth import SegmentInputs
from rvcqa.sweep.measure import Reference
from rvcqa.sweep.segments import prepared

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


@dataclass
class Recordings:
    """Analysed held-out recordings, or why there are none."""

    refs: list[Reference] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    reason: str = ""  # set when the whole held-out measure is unavailable
    source: str = ""  # what made the content features


def load_recordings(folder: Optional[Path], hubert: Optional[Path], *, version: str, sr: int, hop: int, f0: bool,
                    frames: Optional[int]) -> Recordings:
    """Inputs and analysed targets for every audio file in ``folder``; ``reason`` says why not."""
    if folder is None:
        return Recordings(reason="no --heldout folder given")
    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in AUDIO_SUFFIXES) if Path(
        folder).is_dir() else []
    if not files:
        return Recordings(reason=f"--heldout {folder}: no .wav/.flac/.ogg recordings in it")
    if hubert is None:
        return Recordings(reason="held-out recordings need content features: pass --hubert PATH (RVC's "
                                 "assets/hubert/hubert_base.pt); held-out distance skipped")
    try:
        from rvcqa.features.hubert import load_hubert

        model = load_hubert(hubert, version=version)
    except ImportError as exc:
        return Recordings(reason=f"the content-model loader is not available ({exc}); held-out distance skipped")
    except RvcqaError as exc:
        return Recordings(reason=f"--hubert {hubert} cannot be used: {exc}; held-out distance skipped")
    out = Recordings(source=model.describe())
    for path in files:
        try:
            inputs = _inputs(path, model, sr=sr, hop=hop, f0=f0)
        except RvcqaError as exc:
            out.skipped[path.name] = str(exc)
            continue
        out.refs.append(Reference.analyse(prepared(path.stem, inputs, hop, frames, path), sr, f0=f0))
    if not out.refs:
        out.reason = "no held-out recording could be used: " + "; ".join(f"{k}: {v}" for k, v in out.skipped.items())
    return out


def _inputs(path: Path, model: ContentExtractor, *, sr: int, hop: int, f0: bool) -> SegmentInputs:
    from rvcqa.audio import load_audio
    from rvcqa.errors import AudioError
    from rvcqa.features.f0 import coarse_pitch, extract_f0

    y16, _ = load_audio(path, sr=16000)
    target, _ = load_audio(path, sr=sr)
    feats = np.asarray(model.features(y16), dtype=np.float32)
    n = min(2 * feats.shape[0], target.size // hop)
    pitch = pitchf = None
    f0_frames = None
    if f0:
        hz = extract_f0(y16, "pyin")
        f0_frames = int(hz.size)
        n = min(n, f0_frames)
        pitch = coarse_pitch(hz[:n]).astype(np.int64)
        pitchf = hz[:n].astype(np.float32)
    if n < 50:
        raise AudioError(f"{path.name}: only {n} frames ({n / 100:.2f} s): too short to judge")
    return SegmentInputs(phone=np.repeat(feats, 2, axis=0)[:n], pitch=pitch, pitchf=pitchf,
                         target=np.ascontiguousarray(target[: n * hop]), frames=n,
                         feature_frames=int(feats.shape[0]), f0_frames=f0_frames)
