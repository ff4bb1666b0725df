"""Measurements of model output against a reference signal, shared by every engine that runs the model.

Resynthesis compares the output with the training target (GT), conversion with the input it was
fed, the sweep with GT again for every checkpoint. All of them climb the same ladder: measure the
reference first (no usable reference: nothing else can be judged), then the output (silent or
broken output: the comparisons are meaningless), then the comparisons that can fail on their own
(log-mel distance, F0). Each rung that fails records a one-line reason under its name in
``errors`` and the checks report that reason instead of a number.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional

import numpy as np

from rvcqa.errors import AudioError

if TYPE_CHECKING:
    from rvcqa.convert import Conversion
    from rvcqa.metrics import Band, F0Comparison
    from rvcqa.resynth import SegmentResult

#: the rate conversion inputs are measured at (RVC's pipeline works at 16 kHz)
INPUT_RATE = 16000


@dataclass
class SegmentMetrics:
    """Comparison of one resynthesised segment with its GT. ``errors`` holds metrics that could
    not be computed (e.g. silent output) as metric -> one-line reason."""

    stem: str
    band_hz: Optional[tuple[float, float]] = None
    flatness: Optional[float] = None
    flatness_gt: Optional[float] = None
    zcr_hz: Optional[float] = None
    zcr_gt_hz: Optional[float] = None
    mel_distance: Optional[float] = None  # in the GT's content band (judged)
    mel_distance_full: Optional[float] = None  # all mel bands: RVC's loss_mel / 45
    rms: Optional[float] = None
    rms_gt: Optional[float] = None
    f0: Optional[F0Comparison] = None
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def zcr_ratio(self) -> Optional[float]:
        return _ratio(self.zcr_hz, self.zcr_gt_hz)

    @property
    def rms_ratio(self) -> Optional[float]:
        return _ratio(self.rms, self.rms_gt)

    def as_row(self) -> dict[str, Any]:
        """The segment's line in ``resynthesis/metrics.json`` and in the findings' ``per_segment``."""
        return metrics_row(
            self,
            "stem band_hz flatness flatness_gt zcr_hz zcr_gt_hz zcr_ratio mel_distance "
            "mel_distance_full_band=mel_distance_full rms rms_gt rms_ratio",
            "f0_median_abs_cents=median_abs_cents_error f0_within_50=fraction_within_50_cents "
            "f0_both_voiced=n_both_voiced",
        )


@dataclass
class ConversionMetrics:
    """Output vs input for one conversion. The input is what the model was fed (16 kHz,
    prepared). Flatness and ZCR are measured on both signals at 16 kHz (the output resampled),
    flatness within the input's content band: the same STFT frames and bandwidth for both, so the
    output's extra bandwidth above 8 kHz neither helps nor hurts it. RMS, peak, clipping and
    duration are measured on the output as produced (model rate)."""

    name: str
    band_hz: Optional[tuple[float, float]] = None
    flatness: Optional[float] = None
    flatness_input: Optional[float] = None
    zcr_hz: Optional[float] = None  # output resampled to 16 kHz
    zcr_full_rate_hz: Optional[float] = None  # output at the model rate, for reference
    zcr_input_hz: Optional[float] = None
    rms: Optional[float] = None
    rms_input: Optional[float] = None
    peak: Optional[float] = None
    clipping: Optional[float] = None
    duration_ratio: Optional[float] = None
    duration_s: Optional[float] = None
    input_duration_s: Optional[float] = None
    f0: Optional[F0Comparison] = None
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def zcr_ratio(self) -> Optional[float]:
        return _ratio(self.zcr_hz, self.zcr_input_hz)

    def as_row(self) -> dict[str, Any]:
        """The clip's line in ``conversion/metrics.json`` and in the findings' ``per_clip``."""
        return metrics_row(
            self,
            "name band_hz flatness flatness_input zcr_hz_at_16k=zcr_hz zcr_hz_full_rate=zcr_full_rate_hz "
            "zcr_input_hz zcr_ratio rms rms_input peak clipping duration_ratio",
            "f0_median_abs_cents=median_abs_cents_error f0_within_50=fraction_within_50_cents "
            "f0_voicing_error=voicing_decision_error_rate",
        )


def metrics_row(m: SegmentMetrics | ConversionMetrics, columns: str, f0_columns: str) -> dict[str, Any]:
    """``{key: value}`` for ``key`` or ``key=attribute`` in ``columns`` (read from ``m``) and in
    ``f0_columns`` (read from ``m.f0``, None without an F0 comparison), then ``errors``."""
    row: dict[str, Any] = {}
    for source, spec in ((m, columns), (m.f0, f0_columns)):
        for column in spec.split():
            key, _, attr = column.partition("=")
            row[key] = getattr(source, attr or key, None)
    row["errors"] = m.errors
    return row


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    if a is None or not b:
        return None
    return a / b


def rung(errors: dict[str, str], key: str, step: Callable[[], None]) -> bool:
    """Run one rung of the ladder; on :class:`AudioError` record its reason under ``key``."""
    try:
        step()
    except AudioError as exc:
        errors[key] = str(exc)
        return False
    return True


def reference_levels(y: np.ndarray, sr: int, band: Band, name: str) -> tuple[float, float, float]:
    """(flatness in ``band``, ZCR in Hz, RMS) of the reference signal: the first rung."""
    from rvcqa import metrics as M

    return float(M.spectral_flatness(y, sr, band, name=name)), M.zcr_hz(y, sr, name=name), M.rms(y)


def mel_distances(out: np.ndarray, gt: np.ndarray, sr: int, band: Band | tuple[float, float]) -> tuple[float, float]:
    """(in-band, full-band) mean |log-mel(out) - log-mel(gt)| with RVC's mel settings for ``sr``.

    Full band is what RVC's loss_mel measures (/45). In-band keeps only the mel bands whose centre
    frequency lies in the GT's content band: a GT upsampled from 22-44 kHz has an empty top band
    whose log-mel sits at the clamp, where a faint, inaudible noise floor in the output costs more
    than audible errors in the speech band (white noise at 40 dB SNR: full band 0.77, in-band 0.23
    on LJ Speech). Frames are cut to the shorter signal, no time warping.
    """
    import librosa

    from rvcqa import metrics as M

    s = M.rvc_mel_settings(sr)
    a = M.log_mel(out, sr, s, name="output")
    b = M.log_mel(gt, sr, s, name="GT")
    n = min(a.shape[1], b.shape[1])
    diff = np.abs(a[:, :n] - b[:, :n])
    centres = librosa.mel_frequencies(n_mels=s.n_mels + 2, fmin=s.fmin, fmax=s.fmax)[1:-1]
    lo, hi = band if isinstance(band, tuple) else band.as_tuple()
    inside = (centres >= lo) & (centres <= hi)
    if not inside.any():
        inside[:] = True
    return float(diff[inside].mean(dtype=np.float64)), float(diff.mean(dtype=np.float64))


def measure_segment(result: SegmentResult, *, f0: bool = True) -> SegmentMetrics:
    """Flatness (in the GT's content band), ZCR, log-mel L1 (in-band and full), RMS and F0
    agreement with the GT."""
    from rvcqa import metrics as M

    m = SegmentMetrics(result.segment.stem)
    sr, out, gt = result.sample_rate, result.output, result.target
    bands: list[Band] = []

    def reference() -> None:
        bands.append(M.content_band(gt, sr, name=f"GT {result.segment.gt.name}"))
        m.band_hz = bands[0].as_tuple()
        m.flatness_gt, m.zcr_gt_hz, m.rms_gt = reference_levels(gt, sr, bands[0], "GT")

    def output() -> None:
        m.rms = M.rms(out)
        m.flatness = float(M.spectral_flatness(out, sr, bands[0], name="output"))
        m.zcr_hz = M.zcr_hz(out, sr, name="output")

    def mel() -> None:
        m.mel_distance, m.mel_distance_full = mel_distances(out, gt, sr, bands[0])

    def pitch() -> None:
        m.f0 = M.f0_metrics(gt, sr, out, sr)

    if rung(m.errors, "gt", reference) and rung(m.errors, "output", output):
        rung(m.errors, "mel", mel)
        if f0:
            rung(m.errors, "f0", pitch)
    return m


def measure_conversion(conv: Conversion, *, transpose: float = 0.0, f0: bool = True) -> ConversionMetrics:
    """The conversion's output against its prepared 16 kHz input (see :class:`ConversionMetrics`)."""
    from rvcqa import metrics as M
    from rvcqa.audio import resample

    name = conv.source.name if conv.source else "input"
    m = ConversionMetrics(name)
    x, y, sr = conv.input16k, conv.output, conv.sample_rate
    bands: list[Band] = []

    def reference() -> None:
        bands.append(M.content_band(x, INPUT_RATE, name=f"input {name}"))
        m.band_hz = bands[0].as_tuple()
        m.flatness_input, m.zcr_input_hz, m.rms_input = reference_levels(x, INPUT_RATE, bands[0], "input")

    def output() -> None:
        m.duration_ratio = M.duration_ratio(y, sr, x, INPUT_RATE)
        m.duration_s, m.input_duration_s = y.size / sr, x.size / INPUT_RATE
        m.rms, m.peak, m.clipping = M.rms(y), M.peak(y), M.clipping_fraction(y)
        m.zcr_full_rate_hz = M.zcr_hz(y, sr, name="output")
        y16 = resample(y, sr, INPUT_RATE)
        m.flatness = float(M.spectral_flatness(y16, INPUT_RATE, bands[0], name="output at 16 kHz"))
        m.zcr_hz = M.zcr_hz(y16, INPUT_RATE, name="output at 16 kHz")

    def pitch() -> None:
        m.f0 = M.f0_metrics(x, INPUT_RATE, y, sr, transpose_semitones=transpose)

    if rung(m.errors, "input", reference) and rung(m.errors, "output", output) and f0:
        rung(m.errors, "f0", pitch)
    return m
