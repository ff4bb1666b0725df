"""Band-limited resampling with a Kaiser-windowed sinc, as torchaudio's ``functional.resample``.

Applio's RefineGAN decoder anti-aliases its source path with torchaudio's
``resample(..., resampling_method="sinc_interp_kaiser")``. rvcqa must reproduce that without
depending on torchaudio, so this module evaluates the same published formula: both rates are
reduced by their gcd to ``orig``/``new``; the cutoff is ``base = min(orig, new) * rolloff``
(in cycles per reduced sample); output ``j`` of each block of ``new`` outputs is the dot product
of the input around ``j * orig / new`` with ``sinc(pi * base * t) * kaiser(t) * base / orig``,
``t`` running over input offsets scaled by ``base`` and clamped to ``±lowpass_filter_width``
zero crossings, ``kaiser(t) = I0(beta * sqrt(1 - (t / width)^2)) / I0(beta)``. The input is
zero-padded by ``width = ceil(lowpass_filter_width * orig / base)`` samples on the left and
``width + orig`` on the right, filtered with stride ``orig``, and cut to
``ceil(new * length / orig)`` samples.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Optional

import torch
from torch.nn import functional as F

KAISER_BEST_BETA = 14.769656459379492  # torchaudio's default beta for sinc_interp_kaiser


def reduced_rates(orig_freq: int, new_freq: int) -> tuple[int, int]:
    """``(orig, new)`` divided by their gcd; only the ratio matters to the filter."""
    if int(orig_freq) != orig_freq or int(new_freq) != new_freq:
        raise ValueError(f"resampling rates must be integers, got {orig_freq} and {new_freq}")
    if orig_freq <= 0 or new_freq <= 0:
        raise ValueError(f"resampling rates must be positive, got {orig_freq} and {new_freq}")
    g = math.gcd(int(orig_freq), int(new_freq))
    return int(orig_freq) // g, int(new_freq) // g


def kernel_width(orig: int, new: int, lowpass_filter_width: int, rolloff: float) -> int:
    """Input samples of support each side of an output: ``ceil(lpw * orig / (min(orig, new) * rolloff))``."""
    return math.ceil(lowpass_filter_width * orig / (min(orig, new) * rolloff))


def resampled_length(length: int, orig_freq: int, new_freq: int) -> int:
    """Output samples for ``length`` input samples: ``ceil(new * length / orig)`` (reduced rates)."""
    orig, new = reduced_rates(orig_freq, new_freq)
    if orig == new:
        return length
    return math.ceil(new * length / orig)


def sinc_kernel(
    orig: int,
    new: int,
    lowpass_filter_width: int,
    rolloff: float,
    beta: float = KAISER_BEST_BETA,
    dtype: torch.dtype = torch.float32,
    device: Optional[torch.device] = None,
) -> tuple[torch.Tensor, int]:
    """Filter bank ``[new, 1, 2*width + orig]`` (one filter per output phase) and ``width``.

    ``orig``/``new`` must already be gcd-reduced. Evaluated in ``dtype`` in the same order of
    operations as torchaudio, so float32 results agree to rounding.
    """
    if lowpass_filter_width <= 0:
        raise ValueError("lowpass_filter_width must be positive")
    base = min(orig, new) * rolloff
    width = kernel_width(orig, new, lowpass_filter_width, rolloff)
    offsets = torch.arange(-width, width + orig, dtype=dtype, device=device)[None, None] / orig
    t = torch.arange(0, -new, -1, dtype=dtype, device=device)[:, None, None] / new + offsets
    t *= base
    t = t.clamp_(-lowpass_filter_width, lowpass_filter_width)
    beta_t = torch.tensor(float(beta))
    window = torch.i0(beta_t * torch.sqrt(1 - (t / lowpass_filter_width) ** 2)) / torch.i0(beta_t)
    t *= math.pi
    scale = base / orig
    kernels = torch.where(t == 0, torch.tensor(1.0).to(t), t.sin() / t)
    kernels *= window * scale
    return kernels, width


@lru_cache(maxsize=32)
def _cached_kernel(
    orig: int, new: int, lowpass_filter_width: int, rolloff: float, beta: float, dtype: torch.dtype, device: str
) -> tuple[torch.Tensor, int]:
    return sinc_kernel(orig, new, lowpass_filter_width, rolloff, beta, dtype, torch.device(device))


def resample(
    waveform: torch.Tensor,
    orig_freq: int,
    new_freq: int,
    lowpass_filter_width: int = 6,
    rolloff: float = 0.99,
    beta: float = KAISER_BEST_BETA,
) -> torch.Tensor:
    """Resample the last axis of ``waveform`` from ``orig_freq`` to ``new_freq`` (Kaiser sinc).

    Any leading shape is kept; equal rates return the input unchanged.
    """
    if not waveform.is_floating_point():
        raise TypeError(f"resample needs a floating-point waveform, got {waveform.dtype}")
    orig, new = reduced_rates(orig_freq, new_freq)
    if orig == new:
        return waveform
    kernel, width = _cached_kernel(orig, new, lowpass_filter_width, float(rolloff), float(beta),
                                   waveform.dtype, str(waveform.device))
    shape = waveform.shape
    flat = waveform.reshape(-1, shape[-1])
    n, length = flat.shape
    padded = F.pad(flat, (width, width + orig))
    out = F.conv1d(padded[:, None], kernel, stride=orig)  # [n, new, blocks]
    out = out.transpose(1, 2).reshape(n, -1)[:, : math.ceil(new * length / orig)]
    return out.reshape(*shape[:-1], out.shape[-1])
