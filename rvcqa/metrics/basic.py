"""Reference-free signal statistics: spectral flatness, zero-crossing rate, level, clipping.

These reproduce the numbers of the user's report (METRICS.md): speech input flatness 0.0019,
ZCR 1059 Hz; noise output 0.41 and 9747 Hz. They run on whole files, about a second per 10
minutes of 48 kHz audio: STFT frames are processed in blocks with float32 FFTs, and nothing
calls BLAS (its threads crawl on a busy machine).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator, Union

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import as_strided

from rvcqa.audio import check_signal, ensure_finite, rms_dbfs, sum_squares, to_float32
from rvcqa.errors import AudioError
from rvcqa.metrics.registry import register

#: STFT of the flatness/band analysis: librosa's defaults, so per-frame values equal
#: ``librosa.feature.spectral_flatness(y=y)`` and the report's numbers are reproducible.
FLATNESS_N_FFT = 2048
FLATNESS_HOP = 512
#: librosa's floor on power values; an all-zero frame scores exactly 1.0 because of it, which
#: is why silent frames must be gated out before aggregating.
FLATNESS_AMIN = 1e-10
#: Frames whose (in-band) energy is more than this many dB below the loudest frame are silence.
SILENCE_GATE_DB = 40.0
#: A band whose loudest frame is this many dB below the loudest full-band frame is empty.
BAND_EMPTY_DB = 60.0
#: content_band: a frequency has content where the long-term spectrum is within this many dB
#: of its peak.
CONTENT_BAND_DB = 60.0
#: Clipping: |x| at or above this counts as full scale (int16 +32767 reads as 0.99997).
CLIP_LEVEL = 0.999
#: Clipping: this many consecutive identical samples at the file's own peak form a flat top.
CLIP_MIN_RUN = 4

_BLOCK_FRAMES = 512  # frames per FFT block: keeps the working set in cache


@dataclass(frozen=True)
class Band:
    """A frequency band in Hz, with the rule that chose it (for reports)."""

    fmin_hz: float
    fmax_hz: float
    rule: str = "given"

    def as_tuple(self) -> tuple[float, float]:
        return (self.fmin_hz, self.fmax_hz)


BandLike = Union[Band, tuple[float, float], None]


@dataclass(frozen=True)
class SpectralFlatness:
    """Result of :func:`spectral_flatness`; ``float(result)`` is the value."""

    value: float
    band_hz: tuple[float, float]
    band_rule: str
    frames_used: int
    frames_total: int
    silence_gate_db: float
    n_fft: int
    hop_length: int

    def __float__(self) -> float:
        return self.value


# --------------------------------------------------------------------------- STFT engine


@lru_cache(maxsize=8)
def periodic_hann(n: int) -> np.ndarray:
    """Periodic Hann window 0.5 - 0.5 cos(2 pi k / n), as scipy ``get_window('hann', n)``
    and ``torch.hann_window(n)`` build it (numpy only: scipy.signal costs ~1 s to import)."""
    w = (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)).astype(np.float32)
    w.flags.writeable = False
    return w


def _frames(y: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Read-only (n_frames, n_fft) view of ``y`` zero-padded by n_fft//2 (librosa center=True)."""
    yp = np.pad(y, n_fft // 2)
    n_frames = 1 + (yp.size - n_fft) // hop
    step = yp.strides[0]
    return as_strided(yp, shape=(n_frames, n_fft), strides=(step * hop, step), writeable=False)


def _power_blocks(y: np.ndarray, n_fft: int, hop: int) -> Iterator[np.ndarray]:
    """Yield the power spectrum |STFT|^2 (frames x bins, float32) block by block."""
    frames = _frames(y, n_fft, hop)
    window = periodic_hann(n_fft)
    for start in range(0, frames.shape[0], _BLOCK_FRAMES):
        spec = scipy.fft.rfft(frames[start : start + _BLOCK_FRAMES] * window, axis=1, workers=-1)
        power = np.square(spec.real)
        power += np.square(spec.imag)
        yield power


def _band_bins(sr: int, n_fft: int, band: BandLike) -> tuple[int, int, Band]:
    """Inclusive bin range [lo, hi] covering ``band`` (clamped to 0..Nyquist)."""
    nyquist = sr / 2.0
    if band is None:
        b = Band(0.0, nyquist, "full band")
    elif isinstance(band, Band):
        b = band
    else:
        fmin, fmax = band
        b = Band(float(fmin), float(fmax), "given")
    if not (b.fmin_hz >= 0 and b.fmax_hz > b.fmin_hz):
        raise ValueError(f"band must satisfy 0 <= fmin < fmax, got {b.as_tuple()}")
    fmax = min(b.fmax_hz, nyquist)
    if b.fmin_hz >= fmax:
        raise ValueError(f"band {b.as_tuple()} lies above the Nyquist frequency {nyquist:g} Hz")
    bin_hz = sr / n_fft
    lo = int(math.ceil(b.fmin_hz / bin_hz - 1e-9))
    hi = int(math.floor(fmax / bin_hz + 1e-9))
    if hi < lo:  # narrower than one bin: take the nearest bin
        lo = hi = int(round((b.fmin_hz + fmax) / 2 / bin_hz))
    return lo, hi, Band(lo * bin_hz, hi * bin_hz, b.rule)


def _flatness_frames(
    y: np.ndarray, sr: int, band: BandLike = None, *, n_fft: int = FLATNESS_N_FFT, hop: int = FLATNESS_HOP
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Band]:
    """Per-frame flatness (librosa definition, amin floor), in-band and full-band energy."""
    lo, hi, used = _band_bins(sr, n_fft, band)
    full_band = lo == 0 and hi == n_fft // 2
    flat: list[np.ndarray] = []
    energy: list[np.ndarray] = []
    total: list[np.ndarray] = []
    for power in _power_blocks(y, n_fft, hop):
        p = power[:, lo : hi + 1]
        # float32 pairwise sums over <= 1025 bins: ~1e-6 relative error, half the time of float64
        energy.append(p.sum(axis=1))
        total.append(energy[-1] if full_band else power.sum(axis=1))
        np.maximum(p, np.float32(FLATNESS_AMIN), out=p)
        amean = p.mean(axis=1)
        gmean = np.exp(np.log(p, out=p).mean(axis=1))
        flat.append(gmean.astype(np.float64) / amean)
    return np.concatenate(flat), np.concatenate(energy), np.concatenate(total), used


def _gate(energy: np.ndarray, gate_db: float) -> np.ndarray:
    """Boolean mask of frames within ``gate_db`` of the loudest frame's energy."""
    peak = float(energy.max())
    if peak <= 0.0:
        return np.zeros(energy.shape, dtype=bool)
    return energy >= peak * 10.0 ** (-gate_db / 10.0)


# --------------------------------------------------------------------------- metrics


@register(
    "spectral_flatness",
    "Median power-spectrum flatness over non-silent frames (0 = tonal, 0.56 = white noise).",
    better="lower",
)
def spectral_flatness(
    y: np.ndarray, sr: int, band: BandLike = None, *, gate_db: float = SILENCE_GATE_DB, name: str = "audio"
) -> SpectralFlatness:
    """Spectral flatness: geometric / arithmetic mean of the power spectrum, per frame.

    Definition (stable across versions; state it in reports):
    - spectrum: power |STFT|^2 (librosa ``power=2``), Hann window, n_fft 2048, hop 512,
      centred frames with zero padding; bins restricted to ``band`` (Hz, inclusive; default
      0..Nyquist); power values floored at 1e-10 (librosa's ``amin``);
    - silence gate: frames whose in-band energy is more than ``gate_db`` (40) dB below the
      loudest frame are dropped (an all-zero frame would score 1.0);
    - aggregate: median over the remaining frames;
    - refused (AudioError) when the band's loudest frame is > 60 dB below the loudest
      full-band frame: the floored bins would read as flat noise (1.0).
    Speech gives ~0.002, white noise 0.56. Audio upsampled from a lower rate has an empty top
    band that drives any signal's full-band flatness to ~0, so judge an output within
    :func:`content_band` of its reference. Gain-invariant while bins stay above the floor.
    """
    y = check_signal(y, sr, name=name)
    flat, energy, total, used = _flatness_frames(y, sr, band)
    in_band, overall = float(energy.max()), float(total.max())
    if in_band <= overall * 10.0 ** (-BAND_EMPTY_DB / 10.0):
        raise AudioError(
            f"{name}: almost no energy in the band {used.fmin_hz:.0f}-{used.fmax_hz:.0f} Hz "
            f"(more than {BAND_EMPTY_DB:g} dB below the whole spectrum); the audio's content lies "
            "outside it, so its flatness there would only measure the numerical floor."
        )
    keep = _gate(energy, gate_db)
    return SpectralFlatness(
        value=float(np.median(flat[keep])),
        band_hz=used.as_tuple(),
        band_rule=used.rule,
        frames_used=int(keep.sum()),
        frames_total=int(keep.size),
        silence_gate_db=float(gate_db),
        n_fft=FLATNESS_N_FFT,
        hop_length=FLATNESS_HOP,
    )


@register(
    "content_band",
    "Band (Hz) where the reference's long-term spectrum is within 60 dB of its peak.",
    unit="Hz",
)
def content_band(
    reference: np.ndarray, sr: int, *, threshold_db: float = CONTENT_BAND_DB, name: str = "reference"
) -> Band:
    """The frequency band in which ``reference`` actually has content.

    Rule: average the power spectrum (n_fft 2048, hop 512, Hann) over the reference's
    non-silent frames (40 dB gate, full-band energy); the band runs from the lowest to the
    highest bin whose long-term level is within ``threshold_db`` (60 dB) of the spectrum's
    maximum.

    Why this rule and not "frequency under which 99.x % of the energy lies": an energy
    quantile follows the speech spectral tilt and cuts real content (99 % of speech energy
    lies under ~6-8 kHz, which would drop the sibilant region), and it moves with the
    speaker. The empty band of upsampled audio, by contrast, sits 100 dB or more below the
    peak (soxr/librosa stopbands), while recorded content, even faint sibilants and room
    noise, stays within ~60 dB: 22.05 kHz speech resampled to 48 kHz gives ~0-10.7 kHz,
    16 kHz speech ~0-7.6 kHz, native 48 kHz speech 0-24 kHz.
    """
    y = check_signal(reference, sr, name=name)
    n_fft = FLATNESS_N_FFT
    blocks = list(_power_blocks(y, n_fft, FLATNESS_HOP))
    energy = np.concatenate([b.sum(axis=1, dtype=np.float64) for b in blocks])
    keep = _gate(energy, SILENCE_GATE_DB)
    total = np.zeros(n_fft // 2 + 1, dtype=np.float64)
    start = 0
    for b in blocks:
        k = keep[start : start + b.shape[0]]
        total += b[k].sum(axis=0, dtype=np.float64)
        start += b.shape[0]
    spectrum = total / max(int(keep.sum()), 1)
    level = 10.0 * np.log10(np.maximum(spectrum, 1e-30))
    above = np.flatnonzero(level >= level.max() - threshold_db)
    bin_hz = sr / n_fft
    return Band(
        float(above[0] * bin_hz),
        float(above[-1] * bin_hz),
        f"reference long-term spectrum within {threshold_db:g} dB of its peak",
    )


@register(
    "zcr_hz",
    "Zero-crossing rate as a frequency: sign changes per second / 2 (a tone reads its frequency).",
    unit="Hz",
    better="closer",
)
def zcr_hz(y: np.ndarray, sr: int, *, name: str = "audio") -> float:
    """Zero-crossing rate in Hz = (sign changes per second) / 2, over the whole signal.

    A sign change is a pair of consecutive samples where one is < 0 and the other >= 0 (zero
    and -0.0 count as positive, like librosa's ``zero_pos``). No DC removal and no silence
    gate: a DC offset or slow drift (an untrained generator's output) must read as ~0 Hz.
    A pure tone reads its frequency; white noise at 48 kHz ~12,000 Hz; speech ~900-2,000 Hz.
    """
    return _zcr_hz(check_signal(y, sr, name=name), sr)


def _zcr_hz(y: np.ndarray, sr: int) -> float:
    neg = y < 0
    crossings = int(np.count_nonzero(neg[1:] != neg[:-1]))
    return crossings / (y.size / sr) / 2.0


@register("rms", "Root-mean-square level of all samples (linear, full scale = 1).", better="closer")
def rms(y: np.ndarray) -> float:
    """RMS = sqrt(mean(x^2)) over every sample (float64 accumulation); 0 for silence."""
    y = _finite_nonempty(y)
    return math.sqrt(sum_squares(y) / y.size)


@register("peak", "Largest absolute sample value (linear, full scale = 1).")
def peak(y: np.ndarray) -> float:
    """Peak = max |x| over every sample (no oversampling: inter-sample peaks are not estimated).

    RVC writes int16 with the peak normalised to at most 0.99, so a healthy output has
    0 < peak <= 0.99; compare with the input's peak for level sanity.
    """
    y = _finite_nonempty(y)
    return float(max(y.max(), -y.min()))


@register(
    "clipping_fraction",
    "Fraction of samples at full scale (|x| >= 0.999) or on flat tops at the file's own peak.",
    better="lower",
)
def clipping_fraction(y: np.ndarray, *, level: float = CLIP_LEVEL, min_run: int = CLIP_MIN_RUN) -> float:
    """Fraction of samples that are clipped.

    A sample counts as clipped when (a) |x| >= ``level`` (0.999, digital full scale), or
    (b) it lies on a flat top: a run of at least ``min_run`` (4) consecutive identical samples
    whose absolute value equals the file's own peak max|x|, entered and left with a step of
    at least 10 % of the file's mean absolute sample-to-sample change. (b) finds clipping that
    happened before a gain change (e.g. RVC's peak normalisation to 0.99); the step condition
    keeps the smooth maximum of a slow or quantised wave (it enters its plateau with a ~0
    step) from counting.
    """
    y = _finite_nonempty(y)
    n_clipped = int(np.count_nonzero(y >= level)) + int(np.count_nonzero(y <= -level))
    top = max(float(y.max()), -float(y.min()))
    if 0.0 < top < level and min_run > 1:  # flat tops at or above `level` are counted already
        idx = np.flatnonzero((y == top) | (y == -top))  # usually a handful of samples
        if idx.size >= min_run:
            # runs of identical samples at the peak = consecutive indices with the same sign
            breaks = np.flatnonzero((np.diff(idx) != 1) | (np.diff(np.signbit(y[idx])) != 0)) + 1
            first = np.concatenate(([0], breaks))
            last = np.concatenate((breaks, [idx.size])) - 1
            long_runs = (last - first + 1) >= min_run
            if long_runs.any():
                steep = 0.1 * _mean_abs_step(y)
                for s, e in zip(idx[first[long_runs]].tolist(), (idx[last[long_runs]] + 1).tolist()):
                    sides = [abs(float(y[s]) - float(y[s - 1]))] if s > 0 else []
                    if e < y.size:
                        sides.append(abs(float(y[e]) - float(y[e - 1])))
                    if sides and min(sides) >= steep:
                        n_clipped += e - s
    return n_clipped / y.size


def _mean_abs_step(y: np.ndarray, chunk: int = 1 << 16) -> float:
    """mean |x[n+1] - x[n]|, chunked through one buffer (no full-length temporaries)."""
    if y.size < 2:
        return 0.0
    buf = np.empty(min(chunk, y.size - 1), dtype=np.float32)
    total = 0.0
    for i in range(0, y.size - 1, chunk):
        m = min(chunk, y.size - 1 - i)
        d = np.subtract(y[i + 1 : i + 1 + m], y[i : i + m], out=buf[:m])
        np.abs(d, out=d)
        total += float(d.sum(dtype=np.float64))
    return total / (y.size - 1)


@register(
    "duration_ratio",
    "Output duration / reference duration (RVC keeps timing: expect ~1.0).",
    needs_reference=True,
    better="closer",
)
def duration_ratio(output: np.ndarray, sr_output: int, reference: np.ndarray, sr_reference: int) -> float:
    """Duration ratio = (len(output)/sr_output) / (len(reference)/sr_reference)."""
    if len(reference) == 0:
        raise AudioError("reference: the audio is empty (0 samples).")
    return (len(output) / sr_output) / (len(reference) / sr_reference)


def _finite_nonempty(y: np.ndarray) -> np.ndarray:
    y = to_float32(y)
    if y.size == 0:
        raise AudioError("audio: the audio is empty (0 samples).")
    ensure_finite(y)
    return y


def basic_profile(y: np.ndarray, sr: int, band: BandLike = None, *, name: str = "audio") -> dict:
    """Flatness, ZCR, RMS, peak and clipping of one signal, plus every setting behind them.

    ``band`` restricts flatness (pass ``content_band(reference, sr)`` when comparing an output
    with an upsampled reference). The dict carries the band used, the silence gate and frame
    counts, and one-line definitions, so a report can state exactly what was measured.
    Raises AudioError for silent, too-short, empty or non-finite audio.
    """
    y = check_signal(y, sr, name=name)
    flat = spectral_flatness(y, sr, band, name=name)
    return {
        "flatness": flat.value,
        "zcr_hz": _zcr_hz(y, sr),
        "rms": rms(y),
        "rms_dbfs": rms_dbfs(y),
        "peak": peak(y),
        "clipping": clipping_fraction(y),
        "duration_s": y.size / sr,
        "sample_rate": int(sr),
        "band_hz": flat.band_hz,
        "band_rule": flat.band_rule,
        "silence_gate_db": flat.silence_gate_db,
        "frames_used": flat.frames_used,
        "frames_total": flat.frames_total,
        "n_fft": flat.n_fft,
        "hop_length": flat.hop_length,
        "definitions": {
            "flatness": (
                f"median over frames within {flat.silence_gate_db:g} dB of the loudest (in-band energy) "
                f"of geometric/arithmetic mean of the power spectrum, Hann n_fft {flat.n_fft} hop "
                f"{flat.hop_length}, bins {flat.band_hz[0]:.0f}-{flat.band_hz[1]:.0f} Hz, floor 1e-10"
            ),
            "zcr_hz": "sign changes per second / 2 over the whole signal, no DC removal",
            "rms": "sqrt(mean(x^2)) over all samples",
            "peak": "max |x|",
            "clipping": (
                f"fraction of samples with |x| >= {CLIP_LEVEL} or in runs of >= {CLIP_MIN_RUN} "
                "identical samples at the file's peak"
            ),
        },
    }
