"""rvcqa.synth.resample against torchaudio's published windowed-sinc formula, evaluated directly.

The reference here is the formula written out in float64 numpy, one output sample at a time:
``y[m] = sum_i x[i] * h(i - m * orig / new)`` with
``h(d) = sinc(base * d) * kaiser(base * d) * base / orig`` (``sinc(u) = sin(pi u) / (pi u)``),
``base = min(orig, new) * rolloff``, the argument clamped to ``±lpw`` zero crossings and the
input treated as zero outside ``[0, length)``; ``ceil(new * length / orig)`` outputs. torchaudio
holds ``beta`` and the normaliser ``I0(beta)`` in float32 tensors whatever the waveform's dtype, so
the formula uses those values.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rvcqa.synth.resample import kernel_width, reduced_rates, resample, resampled_length, sinc_kernel
from rvcqa.synth.refinegan import BETA, LOWPASS_FILTER_WIDTH, ROLLOFF

BETA32 = float(np.float32(BETA))
I0_BETA32 = float(torch.i0(torch.tensor(BETA32, dtype=torch.float32)))


def _formula(x: np.ndarray, orig_freq: int, new_freq: int, lpw: int, rolloff: float, beta: float) -> np.ndarray:
    g = math.gcd(orig_freq, new_freq)
    orig, new = orig_freq // g, new_freq // g
    base = min(orig, new) * rolloff
    width = math.ceil(lpw * orig / base)
    n_out = math.ceil(new * len(x) / orig)
    out = np.zeros(n_out)
    for m in range(n_out):
        block, phase = divmod(m, new)
        first = block * orig - width  # the filter for output m spans these input samples
        i = np.arange(first, first + 2 * width + orig)
        u = ((i - block * orig) / orig - phase / new) * base
        u = np.clip(u, -lpw, lpw)
        window = np.i0(beta * np.sqrt(1 - (u / lpw) ** 2)) / I0_BETA32
        h = np.sinc(u) * window * base / orig
        inside = (i >= 0) & (i < len(x))
        out[m] = np.dot(x[i[inside]], h[inside])
    return out


@pytest.mark.parametrize(
    ("orig", "new", "lpw", "rolloff"),
    [(2, 1, LOWPASS_FILTER_WIDTH, ROLLOFF), (12, 1, LOWPASS_FILTER_WIDTH, ROLLOFF), (3, 2, 6, 0.99), (2, 3, 6, 0.99),
     (48000, 16000, 16, 0.95)],
)
def test_matches_the_formula_on_noise(orig: int, new: int, lpw: int, rolloff: float) -> None:
    rng = np.random.default_rng(orig * 7 + new)
    x = rng.standard_normal(203)
    want = _formula(x, orig, new, lpw, rolloff, BETA32)
    got = resample(torch.from_numpy(x), orig, new, lpw, rolloff, BETA).numpy()
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * max(1.0, np.abs(want).max()))


def test_float32_agrees_with_float64_to_rounding() -> None:
    x = torch.randn(2, 3, 960, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y64 = resample(x, 960 * 24, 96 * 24, LOWPASS_FILTER_WIDTH, ROLLOFF, BETA)
    y32 = resample(x.float(), 960 * 24, 96 * 24, LOWPASS_FILTER_WIDTH, ROLLOFF, BETA)
    assert y32.dtype == torch.float32 and y32.shape == (2, 3, 96)
    assert float((y32.double() - y64).norm() / y64.norm()) < 1e-5


def test_kernel_is_the_formula() -> None:
    """Each row of the filter bank is the windowed sinc sampled at that output's phase."""
    orig, new, lpw, rolloff = 3, 2, 6, 0.99
    kernel, width = sinc_kernel(orig, new, lpw, rolloff, BETA, dtype=torch.float64)
    base = min(orig, new) * rolloff
    assert width == math.ceil(lpw * orig / base) == kernel_width(orig, new, lpw, rolloff)
    assert kernel.shape == (new, 1, 2 * width + orig)
    for phase in range(new):
        u = np.clip(((np.arange(-width, width + orig)) / orig - phase / new) * base, -lpw, lpw)
        want = np.sinc(u) * np.i0(BETA32 * np.sqrt(1 - (u / lpw) ** 2)) / I0_BETA32 * base / orig
        np.testing.assert_allclose(kernel[phase, 0].numpy(), want, rtol=1e-12, atol=1e-15)


def _tone_gain(freq_ratio: float, orig: int, new: int = 1, n: int = 24000) -> float:
    """Output/input RMS of a sine at ``freq_ratio`` x the input Nyquist, away from the edges."""
    t = np.arange(n)
    x = np.sin(np.pi * freq_ratio * t + 0.3)
    y = resample(torch.from_numpy(x), orig, new, LOWPASS_FILTER_WIDTH, ROLLOFF, BETA).numpy()
    edge = len(y) // 4
    core = y[edge:-edge]
    return float(np.sqrt(np.mean(core**2)) / np.sqrt(0.5))


@pytest.mark.parametrize("orig", [2, 10, 12])
def test_passband_is_kept_and_stopband_removed(orig: int) -> None:
    """Downsampling by ``orig`` keeps tones well below the new Nyquist and kills tones above it."""
    nyq_out = 1 / orig  # new Nyquist as a fraction of the input Nyquist
    assert abs(_tone_gain(0.5 * nyq_out * ROLLOFF, orig) - 1) < 1e-3
    assert _tone_gain(1.1 * nyq_out, orig) < 1e-4  # Kaiser beta 14.77: about -120 dB stopband
    assert _tone_gain(min(3.3 * nyq_out, 0.9), orig) < 1e-4


def test_tone_frequency_survives_rate_change() -> None:
    """A 440 Hz tone at 48 kHz resampled to 16 kHz is a 440 Hz tone at 16 kHz."""
    t = np.arange(4800) / 48000
    y = resample(torch.from_numpy(np.sin(2 * np.pi * 440 * t)), 48000, 16000, 16, 0.95, BETA).numpy()
    want = np.sin(2 * np.pi * 440 * np.arange(len(y)) / 16000)
    core = slice(200, len(y) - 200)
    assert np.max(np.abs(y[core] - want[core])) < 1e-3


@pytest.mark.parametrize(("length", "orig", "new"), [(100, 2, 1), (101, 2, 1), (7, 12, 1), (10, 3, 2), (10, 2, 3),
                                                       (24 * 480, 24 * 480, 24 * 240), (1, 5, 1)])
def test_length_rule(length: int, orig: int, new: int) -> None:
    o, n = reduced_rates(orig, new)
    want = math.ceil(n * length / o)
    assert resampled_length(length, orig, new) == want
    assert resample(torch.zeros(1, length), orig, new).shape == (1, want)


def test_rates_only_matter_through_their_ratio() -> None:
    """RefineGAN passes length-dependent rates (frames x samples per frame); only the ratio counts."""
    x = torch.randn(1, 4, 37 * 40, generator=torch.Generator().manual_seed(1))
    a = resample(x, 37 * 40, 37 * 4, LOWPASS_FILTER_WIDTH, ROLLOFF, BETA)
    b = resample(x, 10, 1, LOWPASS_FILTER_WIDTH, ROLLOFF, BETA)
    assert torch.equal(a, b)


def test_equal_rates_and_bad_input() -> None:
    x = torch.randn(5)
    assert resample(x, 3, 3) is x
    with pytest.raises(ValueError, match="positive"):
        resample(x, 0, 3)
    with pytest.raises(ValueError, match="integers"):
        resample(x, 2.5, 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="floating-point"):
        resample(torch.arange(5), 2, 1)
