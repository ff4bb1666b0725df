"""Constants, protocols and helpers shared by the feature modules (the package re-exports them)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from rvcqa.errors import CheckpointError, RvcqaError

#: RVC feeds HuBERT and every F0 tracker 16 kHz audio.
SAMPLE_RATE = 16000
#: HuBERT's conv stack: receptive field 400 samples, stride 320 (50 frames/s).
CONTENT_WINDOW = 400
CONTENT_HOP = 320
#: F0 hop: 160 samples = 10 ms (100 frames/s), twice the content rate.
F0_HOP = 160
#: Whose feature convention a content model follows: RVC reads a fixed layer (9 for v1, 12 for
#: v2), Applio the encoder's last hidden state (``model(feats)["last_hidden_state"]``, then
#: ``final_proj`` for v1).
TRAINERS = ("rvc", "applio")
#: the weight files of a transformers-layout embedder folder (Applio's rvc/models/embedders/<name>/),
#: safetensors first
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class OptionalDependencyMissing(RvcqaError):
    """A method needs a package that is not installed (e.g. pyworld for harvest/dio)."""


class FeatureModelError(CheckpointError):
    """A HuBERT/RMVPE weights file that does not fit the network (missing/unexpected keys,
    wrong shapes, wrong kind of file)."""


def content_frames(n_samples: int) -> int:
    """Frames HuBERT gives for ``n_samples`` at 16 kHz: ``(N - 400) // 320 + 1`` (0 if shorter)."""
    if n_samples < CONTENT_WINDOW:
        return 0
    return (n_samples - CONTENT_WINDOW) // CONTENT_HOP + 1


def f0_frames(n_samples: int) -> int:
    """Frames every F0 tracker returns for ``n_samples`` at 16 kHz: ``N // 160 + 1`` (RVC's count)."""
    return n_samples // F0_HOP + 1


def as_wave16k(wav16k: object, *, name: str = "audio", min_samples: int = 1) -> np.ndarray:
    """Validate 16 kHz mono input for a feature model; return contiguous float32 1-D.

    Accepts numpy arrays or torch tensors, ``[N]`` or RVC's ``[1, N]``. NaN/Inf samples and clips
    shorter than ``min_samples`` raise :class:`~rvcqa.errors.AudioError` naming what is needed;
    silence is allowed (a tracker reports it as unvoiced, it does not fail).
    """
    from rvcqa.audio import ensure_finite, to_float32
    from rvcqa.errors import AudioError

    if hasattr(wav16k, "detach"):  # a torch tensor; avoid importing torch here
        wav16k = wav16k.detach().cpu().float().numpy()
    arr = np.asarray(wav16k)
    if arr.ndim == 2 and arr.shape[0] == 1:
        arr = arr[0]
    y = to_float32(arr, name=name)
    ensure_finite(y, name=name)
    if y.size < min_samples:
        raise AudioError(
            f"{name}: too short: {y.size} samples at 16 kHz; need at least {min_samples} samples "
            f"({min_samples / SAMPLE_RATE * 1000:.0f} ms). Use a longer clip."
        )
    return y


def key_problems(state: Mapping[str, Any], expected: Mapping[str, Any], *,
                 optional: Sequence[str] = (), limit: int = 6) -> str:
    """Missing, unexpected and wrongly shaped keys of a state dict, in one phrase ("" if it fits).

    Checked on names and shapes before any tensor is converted, so a wrong 360 MB file fails
    fast and names everything wrong at once. Keys ending with a suffix in ``optional`` may be
    absent (e.g. BatchNorm's ``num_batches_tracked``).
    """
    missing = [k for k in expected if k not in state and not (optional and k.endswith(tuple(optional)))]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k!r} (file {list(state[k].shape)}, network {list(expected[k].shape)})"
             for k in state if k in expected and tuple(state[k].shape) != tuple(expected[k].shape)]
    parts = []
    for label, items in (("missing", [repr(k) for k in missing]), ("unexpected", [repr(k) for k in unexpected]),
                         ("wrongly shaped", wrong)):
        if items:
            shown = ", ".join(items[:limit]) + (", ..." if len(items) > limit else "")
            parts.append(f"{len(items)} {label} key{'s' if len(items) != 1 else ''} ({shown})")
    return "; ".join(parts)


def check_trainer(trainer: str) -> str:
    """``trainer`` if it names a known feature convention, else a ValueError listing them."""
    if trainer not in TRAINERS:
        raise ValueError(f"trainer must be one of {', '.join(map(repr, TRAINERS))}, got {trainer!r}")
    return trainer


def is_transformers_folder(path: str | os.PathLike[str]) -> bool:
    """A folder with ``config.json`` and one of :data:`WEIGHT_FILES`, or such a weight file."""
    p = Path(path)
    folder = p if p.is_dir() else p.parent
    if p.is_file() and p.name not in WEIGHT_FILES:
        return False
    return (folder / "config.json").is_file() and (p.is_file() or any((folder / w).is_file() for w in WEIGHT_FILES))


@runtime_checkable
class ContentExtractor(Protocol):
    """What the conversion pipeline needs from a content model: HuBERT or the stand-in."""

    @property
    def dim(self) -> int:
        """Feature width: 256 (RVC v1) or 768 (RVC v2)."""
        ...

    def features(self, wav16k: np.ndarray) -> np.ndarray:
        """16 kHz mono audio -> ``[content_frames(N), dim]`` float32 at 50 frames/s."""
        ...

    def describe(self) -> str:
        """One line for reports: what produced the features."""
        ...


__all__ = [
    "CONTENT_HOP",
    "CONTENT_WINDOW",
    "ContentExtractor",
    "F0_HOP",
    "FeatureModelError",
    "OptionalDependencyMissing",
    "SAMPLE_RATE",
    "TRAINERS",
    "WEIGHT_FILES",
    "as_wave16k",
    "check_trainer",
    "content_frames",
    "f0_frames",
    "is_transformers_folder",
    "key_problems",
]
