"""Audio loading and input guards shared by every metric.

Everything rvcqa measures goes through here first, so a metric never sees a file it cannot
judge: unreadable files, NaN/Inf samples, empty, silent or too-short audio raise
:class:`rvcqa.errors.AudioError` with the file (or signal) name and what to do, instead of
producing a meaningless or "perfect" score.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Union

import numpy as np

from rvcqa.errors import AudioError

PathLike = Union[str, Path]

#: Shortest audio any metric accepts. Shorter clips give too few analysis frames (a 48 kHz
#: log-mel frame hop is 10 ms, pYIN needs 64 ms windows) for a stable median.
MIN_DURATION_S = 0.25

#: RMS level under which audio counts as silent. -60 dBFS is far below any speech recording
#: (speech sits around -20 to -30 dBFS) but above dither and converter noise floors.
SILENCE_DBFS = -60.0


_CHUNK = 1 << 16


def sum_squares(y: np.ndarray) -> float:
    """Sum of x^2 accumulated in float64, chunk by chunk through one reused buffer (a whole
    float64 copy of 10 minutes of 48 kHz audio costs more time than the arithmetic)."""
    y = np.asarray(y).ravel()
    buf = np.empty(min(_CHUNK, y.size), dtype=np.float64)
    total = 0.0
    for i in range(0, y.size, _CHUNK):
        c = buf[: min(_CHUNK, y.size - i)]
        np.copyto(c, y[i : i + _CHUNK], casting="unsafe")
        np.multiply(c, c, out=c)  # ufuncs, not np.dot: BLAS threads crawl on a busy machine
        total += float(c.sum())
    return total


def rms_dbfs(y: np.ndarray) -> float:
    """RMS level in dB relative to full scale (a full-scale square wave is 0 dBFS); floor -200."""
    y = np.asarray(y)
    if y.size == 0:
        return -200.0
    ms = sum_squares(y) / y.size
    return 10.0 * math.log10(ms) if ms > 1e-20 else -200.0


def to_float32(y: np.ndarray, *, name: str = "audio") -> np.ndarray:
    """A contiguous float32 1-D copy/view of ``y``; integer PCM is scaled to [-1, 1).

    Multi-dimensional input is refused: callers mix to mono explicitly (``load_audio`` does),
    so a stereo array passed by mistake is not silently averaged or flattened.
    """
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D mono signal, got shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.integer):
        scale = float(2 ** (np.iinfo(arr.dtype).bits - 1))
        return np.ascontiguousarray(arr.astype(np.float32) / scale)
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"{name}: expected float or integer samples, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float32)


def ensure_finite(y: np.ndarray, *, name: str = "audio") -> None:
    """Raise AudioError if any sample is NaN or infinite (a diverged model writes those)."""
    if np.isfinite(np.sum(y, dtype=np.float64)):  # one pass; NaN/Inf propagate, no overflow
        return
    finite = np.isfinite(y)
    if not finite.all():
        bad = int(y.size - np.count_nonzero(finite))
        first = int(np.argmin(finite))
        raise AudioError(
            f"{name}: {bad} of {y.size} samples are NaN or infinite (first at sample {first}). "
            "A model whose weights or training diverged (loss_mel 'nan') writes such audio; "
            "re-export it from an earlier checkpoint."
        )


def check_signal(
    y: np.ndarray,
    sr: int,
    *,
    name: str = "audio",
    min_duration_s: float = MIN_DURATION_S,
    silence_dbfs: float | None = SILENCE_DBFS,
    min_samples: int = 0,
) -> np.ndarray:
    """Validate a signal before any metric; return it as contiguous float32.

    Raises AudioError for: empty, NaN/Inf, shorter than ``min_duration_s`` (or ``min_samples``,
    e.g. one analysis window), RMS below ``silence_dbfs`` (pass None to allow silence). Silence
    must fail loudly: several toolkits report perfect F0 or mel scores for silent output.
    """
    if sr <= 0:
        raise ValueError(f"{name}: sample rate must be positive, got {sr}")
    y = to_float32(y, name=name)
    if y.size == 0:
        raise AudioError(f"{name}: the audio is empty (0 samples).")
    ensure_finite(y, name=name)
    duration = y.size / sr
    needed = max(int(math.ceil(min_duration_s * sr)), int(min_samples))
    if y.size < needed:
        raise AudioError(
            f"{name}: too short to judge: {y.size} samples ({duration:.3f} s at {sr} Hz); "
            f"need at least {needed} samples ({needed / sr:.3f} s). Use a longer clip."
        )
    if silence_dbfs is not None:
        level = rms_dbfs(y)
        if level < silence_dbfs:
            raise AudioError(
                f"{name}: the audio is silent (RMS {level:.1f} dBFS, below {silence_dbfs:.0f} dBFS); "
                "no metric can judge it. A model that outputs silence is broken: check that the "
                "weights loaded (missing/unexpected keys) and that the input clip is not silent."
            )
    return y


def resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample with librosa (soxr 'high quality') to exactly round(n * target / orig) samples,
    float32. No-op when the rates match."""
    y = to_float32(y)
    if int(orig_sr) == int(target_sr):
        return y
    import librosa  # heavy import, only when resampling is needed

    out = librosa.resample(y, orig_sr=int(orig_sr), target_sr=int(target_sr), res_type="soxr_hq")
    # exact length round(n * target / orig) in integers (librosa's float ceil can add a sample)
    n = (y.size * int(target_sr) + int(orig_sr) // 2) // int(orig_sr)
    if out.size >= n:
        out = out[:n]
    else:
        out = np.pad(out, (0, n - out.size))
    return np.ascontiguousarray(out, dtype=np.float32)


def load_audio(path: PathLike, *, sr: int | None = None) -> tuple[np.ndarray, int]:
    """Read any wav/flac/ogg soundfile can open as float32 mono, optionally resampled.

    Channels are averaged. Returns ``(samples, sample_rate)``. Raises AudioError naming the file
    when it is missing, unreadable, empty, or holds NaN/Inf samples. Silence is *not* refused
    here (a report may want to say "the output is silent"); metrics refuse it.
    """
    import soundfile as sf

    p = Path(path)
    if not p.exists():
        raise AudioError(f"{p}: audio file not found.")
    if p.is_dir():
        raise AudioError(f"{p}: is a folder, expected an audio file.")
    try:
        data, file_sr = sf.read(str(p), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises LibsndfileError/RuntimeError/TypeError
        raise AudioError(
            f"{p}: cannot read this audio file ({exc}). Convert it to WAV or FLAC "
            "(e.g. ffmpeg -i in.mp3 out.wav)."
        ) from exc
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise AudioError(f"{p}: the file holds no audio samples.")
    y = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    y = np.ascontiguousarray(y, dtype=np.float32)
    ensure_finite(y, name=str(p))
    if sr is not None and int(sr) != int(file_sr):
        y = resample(y, int(file_sr), int(sr))
        file_sr = int(sr)
    return y, int(file_sr)
