"""pYIN (Mauch & Dixon 2014) as librosa computes it, with a Viterbi decode that skips what cannot win.

librosa's ``pyin`` rebuilds its dense ``2N x 2N`` transition matrix (N ~ 540 pitch bins for
50-1100 Hz at 10 cents) on every call and runs a dense Viterbi over it, holding the GIL: ~0.5 s
per second of audio, most of a sweep's cost per window after synthesis. Here the observation
model is librosa's (same steps, same defaults), the transition matrix is built once per setting,
and the decode only visits the transitions that are non-zero (a pitch moves at most
``max_transition_rate`` per frame: ~40 of the N bins). A zero transition costs ``log(tiny)`` (about
-708) in librosa's decode; wherever such a step could still be the best predecessor of a state,
that state's whole column is evaluated as librosa does, so the decoded states are the same.
``tests/test_pyin.py`` checks the result against ``librosa.pyin`` itself.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np


def _cmnd(y_frames: np.ndarray, min_period: int, max_period: int) -> np.ndarray:
    """YIN's cumulative mean normalised difference (de Cheveigne & Kawahara, eq. 8), per frame."""
    import librosa

    acf = librosa.autocorrelate(y_frames, max_size=max_period + 1, axis=-2)
    d = np.square(y_frames)
    np.cumsum(d, out=d, axis=-2)
    k = slice(1, max_period + 1)
    d[0, :] = 0
    d[k, :] = 2 * (acf[0:1, :] - acf[k, :]) - d[: k.stop - 1, :]
    numerator = d[min_period: max_period + 1, :]
    lags = np.arange(1, max_period + 1)[:, None]
    cumulative_mean = np.cumsum(d[k, :], axis=-2) / lags
    denominator = cumulative_mean[min_period - 1: max_period, :]
    out: np.ndarray = numerator / (denominator + librosa.util.tiny(denominator))
    return out


def _parabolic_shifts(x: np.ndarray) -> np.ndarray:
    """Offset of the parabola through each lag and its two neighbours (0 at the ends, or when the
    optimum lies outside the neighbours). Rounded as librosa's compiled stencil rounds it: sums of
    two neighbours in the input's precision, the rest in float64."""
    shifts = np.zeros_like(x)
    a = (x[2:] + x[:-2]).astype(np.float64) - 2.0 * x[1:-1].astype(np.float64)
    b = (x[2:] - x[:-2]).astype(np.float64) / 2.0
    inside = np.abs(b) < np.abs(a)
    shifts[1:-1] = np.where(inside, -b / np.where(inside, a, 1.0), 0.0)
    return shifts


def _observations(yin: np.ndarray, shifts: np.ndarray, *, sr: float, thresholds: np.ndarray, boltzmann: float,
                  beta_probs: np.ndarray, no_trough_prob: float, min_period: int, fmin: float, n_bins: int,
                  bins_per_semitone: int) -> tuple[np.ndarray, np.ndarray]:
    """pYIN's observation probabilities ``[2N, T]`` (voiced bins, then unvoiced) and voiced probability."""
    import librosa
    import scipy.stats

    yin_probs = np.zeros_like(yin)
    for i, frame in enumerate(yin.T):
        is_trough = librosa.util.localmin(frame)
        is_trough[0] = frame[0] < frame[1]
        (troughs,) = np.nonzero(is_trough)
        if len(troughs) == 0:
            continue
        heights = frame[troughs]
        below = np.less.outer(heights, thresholds[1:])
        positions = np.cumsum(below, axis=0) - 1
        n_below = np.count_nonzero(below, axis=0)
        prior = scipy.stats.boltzmann.pmf(positions, boltzmann, n_below)
        prior[~below] = 0
        probs = prior.dot(beta_probs)
        lowest = np.argmin(heights)
        n_above = np.count_nonzero(~below[lowest, :])
        probs[lowest] += no_trough_prob * np.sum(beta_probs[:n_above])
        yin_probs[troughs, i] = probs
    period, frame_index = np.nonzero(yin_probs)
    periods = min_period + period + shifts[period, frame_index]
    bins = 12 * bins_per_semitone * np.log2(sr / periods / fmin)
    bins = np.clip(np.round(bins), 0, n_bins).astype(int)
    obs = np.zeros((2 * n_bins, yin.shape[1]))
    obs[bins, frame_index] = yin_probs[period, frame_index]
    voiced_prob = np.clip(np.sum(obs[:n_bins, :], axis=0, keepdims=True), 0, 1)
    obs[n_bins:, :] = (1 - voiced_prob) / n_bins
    return obs, voiced_prob[0]


@lru_cache(maxsize=8)
def _transitions(n_bins: int, width: int, switch_prob: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dense log transition ``[from, to]``, per target the non-zero sources ``[S, K]`` (ascending,
    padded with the first), their log weights ``[S, K]`` (padding: -inf))."""
    import librosa

    local = librosa.sequence.transition_local(n_bins, width, window="triangle", wrap=False)
    dense = np.kron(librosa.sequence.transition_loop(2, 1 - switch_prob), local)
    log_dense = np.log(dense + librosa.util.tiny(dense))
    n = dense.shape[0]
    sources = [np.nonzero(dense[:, j] > 0)[0] for j in range(n)]
    k = max(len(s) for s in sources)
    idx = np.empty((n, k), dtype=np.intp)
    weight = np.full((n, k), -np.inf)
    for j, s in enumerate(sources):
        idx[j, : len(s)], idx[j, len(s):] = s, s[0]
        weight[j, : len(s)] = log_dense[s, j]
    for a in (log_dense, idx, weight):
        a.setflags(write=False)
    return log_dense, idx, weight


def _viterbi(log_prob: np.ndarray, log_dense: np.ndarray, idx: np.ndarray, weight: np.ndarray,
             log_init: np.ndarray, floor: float) -> np.ndarray:
    """Most likely state sequence ``[T]`` for ``log_prob`` ``[T, S]``: librosa's ``_viterbi`` (first
    maximum wins) over the non-zero transitions; a state whose best non-zero source is not clearly
    better than any zero-transition step (``floor`` = log of a zero entry) gets its dense column."""
    n_steps, n_states = log_prob.shape
    ptr = np.zeros((n_steps, n_states), dtype=np.intp)
    value = log_prob[0] + log_init
    rows = np.arange(n_states)
    for t in range(1, n_steps):
        cand = value[idx] + weight
        best = np.argmax(cand, axis=1)
        top = cand[rows, best]
        src = idx[rows, best]
        unsure = np.nonzero(top <= value.max() + floor)[0]
        if unsure.size:
            full = value[:, None] + log_dense[:, unsure]
            src[unsure] = np.argmax(full, axis=0)
            top[unsure] = full[src[unsure], np.arange(unsure.size)]
        ptr[t] = src
        value = log_prob[t] + top
    states = np.empty(n_steps, dtype=np.intp)
    states[-1] = int(np.argmax(value))
    for t in range(n_steps - 2, -1, -1):
        states[t] = ptr[t + 1, states[t + 1]]
    return states


def pyin(y: np.ndarray, *, fmin: float, fmax: float, sr: float, frame_length: int, hop_length: int,
         n_thresholds: int = 100, beta_parameters: tuple[float, float] = (2, 18), boltzmann_parameter: float = 2,
         resolution: float = 0.1, max_transition_rate: float = 35.92, switch_prob: float = 0.01,
         no_trough_prob: float = 0.01) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(f0 Hz with NaN where unvoiced, voiced flag, voiced probability)`` of a mono signal: the
    result of ``librosa.pyin(y, ..., center=True, pad_mode="constant")`` with the same arguments."""
    import librosa
    import scipy.stats

    librosa.util.valid_audio(y)
    y = np.pad(y, (frame_length // 2, frame_length // 2), mode="constant")
    frames = librosa.util.frame(y, frame_length=frame_length, hop_length=hop_length)
    min_period = int(np.floor(sr / fmax))
    max_period = min(int(np.ceil(sr / fmin)), frame_length - 1)
    yin = _cmnd(frames, min_period, max_period)
    shifts = _parabolic_shifts(yin)
    thresholds = np.linspace(0, 1, n_thresholds + 1)
    beta_probs = np.diff(scipy.stats.beta.cdf(thresholds, beta_parameters[0], beta_parameters[1]))
    per_semitone = int(np.ceil(1.0 / resolution))
    n_bins = int(np.floor(12 * per_semitone * np.log2(fmax / fmin))) + 1
    obs, voiced_prob = _observations(yin, shifts, sr=sr, thresholds=thresholds, boltzmann=boltzmann_parameter,
                                     beta_probs=beta_probs, no_trough_prob=no_trough_prob, min_period=min_period,
                                     fmin=fmin, n_bins=n_bins, bins_per_semitone=per_semitone)
    width = round(max_transition_rate * 12 * hop_length / sr) * per_semitone + 1
    log_dense, idx, weight = _transitions(n_bins, width, float(switch_prob))
    eps = librosa.util.tiny(obs)
    n_states = 2 * n_bins
    log_init = np.log(np.ones(n_states) / n_states + eps)
    states = _viterbi(np.log(obs + eps).T, log_dense, idx, weight, log_init, float(np.log(eps)))
    freqs = fmin * 2 ** (np.arange(n_bins) / (12 * per_semitone))
    f0: Any = freqs[states % n_bins]
    voiced = states < n_bins
    f0[~voiced] = np.nan
    return f0, voiced, voiced_prob
