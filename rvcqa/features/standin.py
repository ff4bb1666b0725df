"""A deterministic stand-in for HuBERT content features, for when its weights are not available.

rvcqa downloads nothing, and HuBERT weights are not on a fresh machine, so fixtures and the demo
drive the synthesizer with this instead. It is *not* HuBERT: it carries the spectral envelope
(and so some speaker identity), not phonetic content learned from data. What it guarantees:

* HuBERT's framing: frame ``t`` looks at samples ``[320 t, 320 t + 400)`` (its conv stack's
  receptive field), so there are ``(N - 400) // 320 + 1`` frames at 50 frames/s, and a
  synthesizer trained on these features sees them at the times it would see HuBERT's.
* The definition is fixed: Hann window of 400 samples zero-padded to a 512-point FFT, magnitude,
  80 Slaney mel bands over 0-8000 Hz (librosa), ``ln(max(mel, 1e-5))``, normalised with the fixed
  constants :data:`LOGMEL_MEAN`/:data:`LOGMEL_STD` (LJ Speech at 16 kHz: mean -6.2, sd 2.2), then
  multiplied by an ``80 x dim`` standard Gaussian matrix from ``numpy.random.default_rng(seed)``
  (float64) divided by sqrt(80), so each output dimension has roughly unit variance.
* Everything is computed in float64 with numpy and cast to float32 at the end: the same input
  gives the same features on every run and machine (to float32 rounding).

Training and testing must use the same extractor (same ``dim`` and ``seed``); :meth:`describe`
says which, for reports.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from rvcqa.features.common import CONTENT_HOP, CONTENT_WINDOW, SAMPLE_RATE, as_wave16k

N_MELS = 80
N_FFT = 512
LOG_CLAMP = 1e-5
LOGMEL_MEAN = -6.0
LOGMEL_STD = 2.5
DEFAULT_SEED = 1234
VERSION = 1  # bump when the definition changes: fixtures trained on the old one no longer fit


@lru_cache(maxsize=1)
def _mel_fb() -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=0.0,
                               fmax=SAMPLE_RATE / 2, dtype=np.float64)


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    n = np.arange(CONTENT_WINDOW)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * n / CONTENT_WINDOW)  # periodic Hann


@lru_cache(maxsize=8)
def projection(dim: int, seed: int) -> np.ndarray:
    """The fixed ``[80, dim]`` float64 matrix: default_rng(seed) standard normals / sqrt(80)."""
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((N_MELS, dim)) / np.sqrt(N_MELS)
    m.setflags(write=False)
    return m


def log_mel(wav16k: np.ndarray) -> np.ndarray:
    """``[(N - 400) // 320 + 1, 80]`` float64 log-mel on HuBERT's frame grid (unnormalised)."""
    y = as_wave16k(wav16k, name="stand-in content input", min_samples=CONTENT_WINDOW).astype(np.float64)
    frames = np.lib.stride_tricks.sliding_window_view(y, CONTENT_WINDOW)[::CONTENT_HOP]
    mag = np.abs(np.fft.rfft(frames * _window(), N_FFT, axis=1))
    return np.log(np.maximum(mag @ _mel_fb().T, LOG_CLAMP))


class StandInContent:
    """Seeded random projection of a normalised log-mel; same interface as the HuBERT model."""

    def __init__(self, dim: int = 768, seed: int = DEFAULT_SEED) -> None:
        if int(dim) <= 0:
            raise ValueError(f"dim must be positive (RVC: 256 for v1, 768 for v2), got {dim}")
        self._dim = int(dim)
        self.seed = int(seed)

    @property
    def dim(self) -> int:
        return self._dim

    def features(self, wav16k: np.ndarray) -> np.ndarray:
        """16 kHz mono audio -> ``[(N - 400) // 320 + 1, dim]`` float32 at 50 frames/s."""
        z = (log_mel(wav16k) - LOGMEL_MEAN) / LOGMEL_STD
        return (z @ projection(self._dim, self.seed)).astype(np.float32)

    def describe(self) -> str:
        return (f"stand-in content features v{VERSION} (not HuBERT): 16 kHz log-mel, 80 bands, "
                f"400-sample window, hop 320 (50 frames/s), normalised (x - ({LOGMEL_MEAN:g})) / {LOGMEL_STD:g}, "
                f"seeded Gaussian projection to {self._dim} dims (seed {self.seed})")

    def __repr__(self) -> str:
        return f"StandInContent(dim={self._dim}, seed={self.seed})"


__all__ = ["DEFAULT_SEED", "StandInContent", "log_mel", "projection"]
