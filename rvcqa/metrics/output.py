"""Failure modes of a model's output beyond noise: a steady tone, silence, clipping, DC, and
sound where the input is silent.

A generator that collapsed rings at one frequency (its frame rate, or a stuck NSF sine): the
long-term spectrum then holds most of its power in a few narrow peaks, where speech smears its
harmonics over the moving F0. ``tonal_share`` is the share of long-term power within +-2 bins
(n_fft 2048) of the 5 strongest spectral peaks; ``f0_spread_cents`` is the spread (10th-90th
percentile) of a frame-wise autocorrelation F0 over the frames where it is confident.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rvcqa.metrics.band import long_term_spectrum


@dataclass
class OutputSignal:
    """Facts of one output clip (model rate)."""

    seconds: float
    rms_dbfs: float
    peak: float
    clipped_share: float
    dc: float
    tonal_share: float
    dominant_hz: float
    f0_spread_cents: float | None
    voiced_share: float


def _dbfs(x: float) -> float:
    return 20 * math.log10(x) if x > 0 else -math.inf


def tonal_share(x: np.ndarray, sr: int, peaks: int = 5, width: int = 2) -> tuple[float, float]:
    """(share of power in the strongest narrow peaks, frequency of the strongest)."""
    freqs, db = long_term_spectrum(x, sr)
    power = 10.0 ** (db / 10.0)
    power[:2] = 0.0  # DC is judged on its own
    total = float(power.sum())
    if total <= 0.0:
        return 0.0, 0.0
    work = power.copy()
    taken = 0.0
    top_hz = float(freqs[int(np.argmax(work))])
    for _ in range(peaks):
        k = int(np.argmax(work))
        lo, hi = max(0, k - width), min(len(work), k + width + 1)
        taken += float(work[lo:hi].sum())
        work[max(0, k - 3 * width): k + 3 * width + 1] = 0.0
    return taken / total, top_hz


def frame_f0(x: np.ndarray, sr: int, fmin: float = 60.0, fmax: float = 1000.0) -> np.ndarray:
    """Autocorrelation F0 per 20 ms frame (hop 10 ms) where the peak is confident (> 0.6), else 0."""
    from numpy.lib.stride_tricks import sliding_window_view

    n, hop = int(0.04 * sr), int(0.01 * sr)
    y = np.asarray(x, dtype=np.float64)
    if y.size < n:
        return np.zeros(0)
    frames = sliding_window_view(y, n)[::hop]
    frames = frames - frames.mean(axis=1, keepdims=True)
    spec = np.fft.rfft(frames, 2 * n, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, :n]
    energy = ac[:, :1]
    norm = np.divide(ac, energy, out=np.zeros_like(ac), where=energy > 1e-12)
    lo, hi = int(sr / fmax), min(n - 1, int(sr / fmin))
    lag = lo + np.argmax(norm[:, lo:hi], axis=1)
    conf = norm[np.arange(len(lag)), lag]
    rms = np.sqrt(np.mean(frames ** 2, axis=1))
    loud = rms > 0.05 * (rms.max() or 1.0)
    return np.where((conf > 0.6) & loud, sr / lag, 0.0)


def measure_output(x: np.ndarray, sr: int) -> OutputSignal:
    """All facts of one output clip."""
    y = np.nan_to_num(np.asarray(x, dtype=np.float64).reshape(-1))
    a = np.abs(y)
    share, top = tonal_share(y, sr)
    f0 = frame_f0(y, sr)
    voiced = f0[f0 > 0]
    spread = None
    if voiced.size >= 10:
        cents = 1200 * np.log2(voiced / np.median(voiced))
        spread = float(np.percentile(cents, 90) - np.percentile(cents, 10))
    return OutputSignal(
        seconds=y.size / sr if sr else 0.0,
        rms_dbfs=_dbfs(float(np.sqrt(np.mean((y - y.mean()) ** 2))) if y.size else 0.0),
        peak=float(a.max()) if y.size else 0.0,
        clipped_share=float(np.mean(a >= 0.999)) if y.size else 0.0,
        dc=float(y.mean()) if y.size else 0.0,
        tonal_share=share,
        dominant_hz=top,
        f0_spread_cents=spread,
        voiced_share=float(voiced.size / f0.size) if f0.size else 0.0,
    )


def level_in(x: np.ndarray, sr: int, start_s: float, end_s: float, margin_s: float = 0.1) -> float:
    """RMS in dBFS of ``x`` between two times, ``margin_s`` kept away from each edge."""
    a, b = int((start_s + margin_s) * sr), int((end_s - margin_s) * sr)
    seg = np.asarray(x[max(0, a): max(0, b)], dtype=np.float64)
    return _dbfs(float(np.sqrt(np.mean(seg ** 2)))) if seg.size else -math.inf
