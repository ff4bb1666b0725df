"""The results folder: where resynthesis, conversion and the sweep write what they produce.

One place decides where outputs go and how they are written, so the rule "nothing is written
into a model folder" is enforced once, and every output file is created world-readable (0644)
whatever the umask: results are meant to be opened by whoever reviews the run.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional

import numpy as np

from rvcqa.errors import RvcqaError
from rvcqa.modeldir import ModelDir

#: permissions of every file written to the results folder
FILE_MODE = 0o644


def safe_output_dir(results_dir: Optional[Path], md: ModelDir, name: str, sub: str) -> Path:
    """``results_dir/sub`` (default ``./rvcqa-results/NAME/sub``), refused inside the model folder."""
    base = Path(results_dir) if results_dir is not None else Path("rvcqa-results") / name
    out = (base / sub).resolve()
    model_root = md.root.resolve()
    if out == model_root or model_root in out.parents:
        raise RvcqaError(
            f"results folder {out} is inside the model directory {md.root}; rvcqa never writes into a "
            "model directory: choose another --rvcqa-results"
        )
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_wav(path: Path, audio: np.ndarray, sr: int) -> Path:
    """Float32 WAV (RVC's own 0_gt_wavs format), values as produced (not clipped or rescaled)."""
    import soundfile as sf

    sf.write(str(path), np.asarray(audio, dtype=np.float32), int(sr), subtype="FLOAT")
    os.chmod(path, FILE_MODE)
    return path


def _plain(o: Any) -> Any:
    """JSON fallback for numpy scalars and arrays (``tolist``) and anything else (``str``)."""
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


def write_json(path: Path, data: Any) -> Path:
    """``data`` as indented JSON; numpy values become lists/numbers, paths and the rest strings."""
    path.write_text(json.dumps(data, indent=2, default=_plain), encoding="utf-8")
    os.chmod(path, FILE_MODE)
    return path
