"""Content band of a signal: the highest frequency its long-term spectrum still reaches.

Audio recorded or stored at 16 or 22.05 kHz and resampled up to 40/48 kHz keeps nothing above
the source's Nyquist; its spectrum drops off a cliff there. The edge is the highest frequency
whose long-term average power (frames within 40 dB of the loudest, n_fft 2048, Hann, 50 %
overlap) is within ``drop_db`` of the in-band level (the 90th percentile of 300-3000 Hz).
Measured (50 dB): VCTK at 48 kHz reaches 24 kHz; the same file through 16 kHz 7.7 kHz; LJ
Speech (22.05 kHz) upsampled to 48 kHz 10.6-12.3 kHz with scipy's polyphase filter, 10.5-10.7
kHz with librosa's.
"""
from __future__ import annotations

import numpy as np

N_FFT = 2048
DROP_DB = 50.0


def long_term_spectrum(x: np.ndarray, sr: int, n_fft: int = N_FFT) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies in Hz, mean power in dB) over the frames within 40 dB of the loudest."""
    from numpy.lib.stride_tricks import sliding_window_view

    y = np.asarray(x, dtype=np.float64).reshape(-1)
    if y.size < n_fft:
        y = np.pad(y, (0, n_fft - y.size))
    frames = sliding_window_view(y, n_fft)[:: n_fft // 2] * np.hanning(n_fft)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    energy = power.sum(axis=1)
    keep = energy > (energy.max() * 1e-4 if energy.size else 0.0)
    mean = power[keep].mean(axis=0) if keep.any() else np.zeros(power.shape[1])
    return np.fft.rfftfreq(n_fft, 1.0 / sr), 10.0 * np.log10(mean + 1e-30)


def content_edge_hz(x: np.ndarray, sr: int, drop_db: float = DROP_DB) -> float | None:
    """Highest frequency within ``drop_db`` of the in-band level; None for silence."""
    freqs, db = long_term_spectrum(x, sr)
    band = (freqs >= 300.0) & (freqs <= 3000.0)
    if not band.any() or not np.isfinite(db).all() or db.max() <= -290.0:
        return None
    ref = float(np.percentile(db[band], 90))
    above = np.flatnonzero(db > ref - drop_db)
    return float(freqs[above[-1]]) if above.size else None
