"""F0 at RVC's frame rate, RVC's coarse pitch mapping, and transposition.

Every tracker returns Hz (0 = unvoiced) at 100 frames/s with ``N // 160 + 1`` frames for N
samples at 16 kHz: frame ``i`` is centred on sample ``160 * i``, the count RMVPE and pyworld give
and RVC's pipeline truncates from (RVC_FORMATS 5.4). Methods:

* ``"pyin"``: librosa's probabilistic YIN (no extra dependency; its first call compiles numba).
* ``"yin"``: plain YIN written here (fast, numpy only): cumulative-mean-normalised difference,
  first dip under 0.15, parabolic refinement; unvoiced where no dip is that deep or the frame is
  below -60 dBFS.
* ``"harvest"``: pyworld harvest + stonemask, then a 3-frame median filter when ``filter_radius``
  exceeds 2, as RVC's ``Pipeline.get_f0`` (the radius only switches the filter on; its width is 3).
* ``"dio"``: pyworld dio + stonemask, as RVC's training-time extraction.
* ``"rmvpe"``: RVC's default; needs the user's ``rmvpe.pt`` (see :mod:`rvcqa.features.rmvpe`).
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Union

import numpy as np

from rvcqa.features import F0_HOP, SAMPLE_RATE, OptionalDependencyMissing, as_wave16k, f0_frames

if TYPE_CHECKING:
    from rvcqa.features.rmvpe import RmvpeModel

F0_METHODS = ("pyin", "yin", "harvest", "dio", "rmvpe")
#: RVC's fixed coarse-pitch range (``f0_min``/``f0_max`` in ``Pipeline``).
COARSE_F0_MIN = 50.0
COARSE_F0_MAX = 1100.0
YIN_THRESHOLD = 0.15
YIN_SILENCE_DBFS = -60.0

RmvpeLike = Union["RmvpeModel", str, "os.PathLike[str]", None]


def pyworld_available() -> bool:
    try:
        import pyworld  # noqa: F401
    except ImportError:
        return False
    return True


def extract_f0(
    wav16k: np.ndarray,
    method: str = "pyin",
    f0_min: float = 50.0,
    f0_max: float = 1100.0,
    rmvpe: RmvpeLike = None,
    filter_radius: int = 3,
) -> np.ndarray:
    """F0 in Hz of 16 kHz mono audio, 0 where unvoiced, ``N // 160 + 1`` frames (float64).

    ``filter_radius`` (harvest only): RVC's median-filter switch, on above 2 (WebUI default 3).

    ``rmvpe``: a loaded :class:`~rvcqa.features.rmvpe.RmvpeModel` or the path of ``rmvpe.pt``,
    required for ``method="rmvpe"`` (which, like RVC, ignores ``f0_min``/``f0_max``).
    Raises :class:`~rvcqa.features.OptionalDependencyMissing` for harvest/dio without pyworld.
    """
    if method not in F0_METHODS:
        raise ValueError(f"unknown F0 method {method!r}; choose one of {', '.join(F0_METHODS)}")
    if not 0 < f0_min < f0_max < SAMPLE_RATE / 2:
        raise ValueError(f"need 0 < f0_min < f0_max < 8000 Hz, got {f0_min}, {f0_max}")
    y = as_wave16k(wav16k, name=f"F0 ({method}) input")
    n = f0_frames(y.size)
    if method == "rmvpe":
        return _fit(_rmvpe_model(rmvpe).f0(y), n)
    if method == "yin":
        return _fit(yin(y, f0_min, f0_max), n)
    if method == "pyin":
        return _fit(_pyin(y, f0_min, f0_max), n)
    return _fit(_world(y, method, f0_min, f0_max, filter_radius), n)


def _fit(f0: np.ndarray, n: int) -> np.ndarray:
    """Pad with unvoiced frames or trim to exactly ``n`` frames."""
    f0 = np.nan_to_num(np.asarray(f0, dtype=np.float64), nan=0.0)
    f0[f0 < 0] = 0.0
    return f0[:n] if f0.size >= n else np.pad(f0, (0, n - f0.size))


def _rmvpe_model(rmvpe: RmvpeLike) -> "RmvpeModel":
    if rmvpe is not None:
        from rvcqa.features.rmvpe import RmvpeModel, load_rmvpe  # torch: only when asked for

        if isinstance(rmvpe, RmvpeModel):
            return rmvpe
        if isinstance(rmvpe, (str, os.PathLike)):
            return load_rmvpe(rmvpe)
        raise TypeError(f"rmvpe must be a path to rmvpe.pt or a loaded RmvpeModel, got {type(rmvpe).__name__}")
    raise OptionalDependencyMissing(
        "F0 method 'rmvpe' needs RVC's RMVPE weights: pass rmvpe=<path to rmvpe.pt> (RVC keeps it at "
        "assets/rmvpe/rmvpe.pt) or a model from rvcqa.features.rmvpe.load_rmvpe; rvcqa downloads nothing"
    )


def _pyin(y: np.ndarray, f0_min: float, f0_max: float) -> np.ndarray:
    import librosa

    frame_length = _frame_length(f0_min)
    y = _pad_to(y, frame_length // 2 + 1)
    f0, voiced, _ = librosa.pyin(y, fmin=f0_min, fmax=f0_max, sr=SAMPLE_RATE, frame_length=frame_length,
                                 hop_length=F0_HOP, center=True)
    return np.where(voiced, f0, 0.0)


def _world(y: np.ndarray, method: str, f0_min: float, f0_max: float, filter_radius: int = 3) -> np.ndarray:
    try:
        import pyworld
    except ImportError:
        raise OptionalDependencyMissing(
            f"F0 method {method!r} needs pyworld, which is not installed. Install it with "
            "pip install 'rvcqa[pyworld]' (it builds from source: needs a C compiler and "
            "setuptools<81 in the build environment), or use method='pyin', 'yin' or 'rmvpe'."
        ) from None
    from scipy.signal import medfilt

    x = y.astype(np.float64)
    track = pyworld.harvest if method == "harvest" else pyworld.dio
    f0, t = track(x, fs=SAMPLE_RATE, f0_ceil=f0_max, f0_floor=f0_min, frame_period=1000.0 * F0_HOP / SAMPLE_RATE)
    f0 = pyworld.stonemask(x, f0, t, SAMPLE_RATE)
    return medfilt(f0, 3) if method == "harvest" and filter_radius > 2 else f0


def _frame_length(f0_min: float) -> int:
    """Analysis frame: twice the longest period must fit (YIN compares two windows)."""
    longest = int(np.ceil(SAMPLE_RATE / f0_min))
    n = 1024
    while n // 2 <= longest:
        n *= 2
    return n


def _pad_to(y: np.ndarray, n: int) -> np.ndarray:
    return y if y.size >= n else np.pad(y, (0, n - y.size))


def yin(y: np.ndarray, f0_min: float = 50.0, f0_max: float = 1100.0, *,
        threshold: float = YIN_THRESHOLD, silence_dbfs: float = YIN_SILENCE_DBFS) -> np.ndarray:
    """YIN (de Cheveigné & Kawahara 2002) on centred frames every 160 samples; Hz, 0 = unvoiced."""
    y = np.asarray(y, dtype=np.float64)
    frame_length = _frame_length(f0_min)
    win = frame_length // 2
    tau_max = min(int(np.ceil(SAMPLE_RATE / f0_min)), win - 1)
    tau_min = max(2, int(np.floor(SAMPLE_RATE / f0_max)))
    # frame i compares samples [s, s + win) with their shifts by up to tau_max; centre that
    # region on sample 160 * i (zero padding outside the signal)
    left = (win + tau_max) // 2
    padded = np.pad(y, (left, frame_length - left))
    n_frames = 1 + (padded.size - frame_length) // F0_HOP
    frames = np.lib.stride_tricks.sliding_window_view(padded, frame_length)[::F0_HOP][:n_frames]

    # difference d(tau) = e(0) + e(tau) - 2 r(tau) over a window of `win` samples
    nfft = 1 << int(np.ceil(np.log2(frame_length + win)))
    spec_head = np.fft.rfft(frames[:, :win], nfft)
    spec_all = np.fft.rfft(frames, nfft)
    corr = np.fft.irfft(np.conj(spec_head) * spec_all, nfft)[:, : tau_max + 1]
    sq = np.concatenate([np.zeros((n_frames, 1)), np.cumsum(frames**2, axis=1)], axis=1)
    energy = sq[:, win : win + tau_max + 1] - sq[:, : tau_max + 1]
    diff = np.maximum(energy[:, :1] + energy - 2.0 * corr, 0.0)

    # cumulative-mean-normalised difference d'(tau), d'(0) = 1
    cum = np.cumsum(diff[:, 1:], axis=1)
    taus = np.arange(1, tau_max + 1)
    cmnd = np.ones_like(diff)
    with np.errstate(invalid="ignore", divide="ignore"):
        cmnd[:, 1:] = np.where(cum > 0, diff[:, 1:] * taus / cum, 1.0)

    f0 = np.zeros(n_frames)
    level = 10 * np.log10(np.maximum(energy[:, 0] / win, 1e-20))
    search = cmnd[:, tau_min : tau_max + 1]
    below = search < threshold
    for i in np.flatnonzero(below.any(axis=1) & (level >= silence_dbfs)):
        k = int(np.argmax(below[i]))
        while k + 1 < search.shape[1] and search[i, k + 1] < search[i, k]:
            k += 1  # walk down to the bottom of the first dip
        tau = k + tau_min
        f0[i] = SAMPLE_RATE / _parabolic(cmnd[i], tau)
    f0[(f0 < f0_min) | (f0 > f0_max)] = 0.0
    return f0


def _parabolic(curve: np.ndarray, k: int) -> float:
    """Vertex of the parabola through ``curve[k-1..k+1]`` (the sub-sample period)."""
    if k <= 0 or k >= curve.size - 1:
        return float(k)
    a, b, c = curve[k - 1], curve[k], curve[k + 1]
    denom = a - 2 * b + c
    if denom <= 0:
        return float(k)
    return float(k + 0.5 * (a - c) / denom)


# --------------------------------------------------------------------------- RVC's pitch inputs

_MEL_MIN = 1127.0 * np.log(1.0 + COARSE_F0_MIN / 700.0)  # 77.7550
_MEL_MAX = 1127.0 * np.log(1.0 + COARSE_F0_MAX / 700.0)  # 1064.4082


def coarse_pitch(f0_hz: np.ndarray) -> np.ndarray:
    """RVC's ``pitch`` input: F0 on a mel scale, 1..255, int32 (1 = unvoiced or <= 50 Hz).

    ``mel = 1127 ln(1 + f0/700)``; where mel > 0, ``(mel - mel(50)) * 254 / (mel(1100) - mel(50)) + 1``;
    clipped to [1, 255] and rounded half-to-even (``np.rint``), as ``Pipeline.get_f0``.
    NaN counts as unvoiced.
    """
    f0 = np.nan_to_num(np.asarray(f0_hz, dtype=np.float64), nan=0.0)
    mel = 1127.0 * np.log1p(np.maximum(f0, 0.0) / 700.0)
    voiced = mel > 0
    mel[voiced] = (mel[voiced] - _MEL_MIN) * 254.0 / (_MEL_MAX - _MEL_MIN) + 1.0
    return np.rint(np.clip(mel, 1.0, 255.0)).astype(np.int32)


def transpose(f0: np.ndarray, semitones: float) -> np.ndarray:
    """RVC's ``f0_up_key``: ``f0 * 2 ** (semitones / 12)``; unvoiced (0) frames stay 0."""
    return np.asarray(f0, dtype=np.float64) * 2.0 ** (float(semitones) / 12.0)


__all__ = [
    "COARSE_F0_MAX",
    "COARSE_F0_MIN",
    "F0_METHODS",
    "coarse_pitch",
    "extract_f0",
    "pyworld_available",
    "transpose",
    "yin",
]
