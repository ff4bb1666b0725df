"""The NSF excitation: a sine at the requested F0 in voiced frames, noise in unvoiced ones.

Follows RVC 20240604's ``SineGen``/``SourceModuleHnNSF``: F0 is held constant within each 10 ms
frame; the phase advances ``f0/sr`` per output sample; each frame's total increment is wrapped
to [-0.5, 0.5), accumulated across frames and wrapped to one cycle (RVC's float32 recipe, kept
op for op so the excitation matches RVC's bit for bit in practice); the fundamental starts at
phase 0. Randomness is explicit: pass a ``torch.Generator`` for
reproducible draws, or ``noise=False`` to draw nothing at all.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F

from rvcqa.synth.noise import rand_like, randn_like


class SineSettings(nn.Module):
    """What RVC's and Applio's sine generators share: rate, overtones, amplitudes, voicing threshold."""

    def __init__(
        self,
        sample_rate: int,
        harmonic_num: int = 0,
        sine_amp: float = 0.1,
        noise_std: float = 0.003,
        voiced_threshold: float = 0.0,
    ) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self.dim = harmonic_num + 1
        self.sine_amp = sine_amp
        self.noise_std = noise_std
        self.voiced_threshold = voiced_threshold


class SineGenerator(SineSettings):
    """F0 track (frames) -> sine excitation (samples); no parameters."""

    def phase(self, f0: torch.Tensor, upp: int) -> torch.Tensor:
        """Fundamental phase in cycles, ``[B, T*upp]``; frame t sample k = acc(t) + f0[t]/sr*(k+1)."""
        steps = torch.arange(1, upp + 1, dtype=f0.dtype, device=f0.device)
        rad = f0[:, :, None] / self.sample_rate * steps  # [B, T, upp]
        # Phase reached at the end of each frame but the last, wrapped to [-0.5, 0.5).
        per_frame = torch.fmod(rad[:, :-1, -1] + 0.5, 1.0) - 0.5
        offset = per_frame.cumsum(dim=1).fmod(1.0)
        rad = rad + F.pad(offset, (1, 0))[:, :, None]
        return rad.reshape(f0.shape[0], -1)

    def forward(
        self,
        f0: torch.Tensor,
        upp: int,
        noise: bool = True,
        generator: Optional[torch.Generator] = None,
    ) -> torch.Tensor:
        """``f0`` [B, T] Hz (0 = unvoiced) -> excitation ``[B, T*upp, dim]``."""
        f0 = f0.float()
        rad = self.phase(f0, upp)[:, :, None]  # [B, N, 1]
        if self.dim > 1:
            harmonics = torch.arange(1, self.dim + 1, dtype=rad.dtype, device=rad.device)
            rad = rad * harmonics
            if noise:  # random start phase for overtones only; the fundamental starts at 0
                init = rand_like(rad[:, :1, :], generator)
                init[..., 0] = 0
                rad = rad + init
        sines = torch.sin(2 * math.pi * rad) * self.sine_amp
        uv = (f0 > self.voiced_threshold).to(sines.dtype)
        uv = uv.repeat_interleave(upp, dim=1)[:, :, None]  # nearest upsampling
        sines = sines * uv
        if noise:
            amp = uv * self.noise_std + (1 - uv) * (self.sine_amp / 3)
            sines = sines + amp * randn_like(sines, generator)
        return sines


class HarmonicSource(nn.Module):
    """RVC's ``SourceModuleHnNSF``: sine excitation merged by ``l_linear`` then tanh."""

    def __init__(self, sample_rate: int, harmonic_num: int = 0) -> None:
        super().__init__()
        self.l_sin_gen = SineGenerator(sample_rate, harmonic_num)
        self.l_linear = nn.Linear(harmonic_num + 1, 1)

    def forward(
        self,
        f0: torch.Tensor,
        upp: int,
        noise: bool = True,
        generator: Optional[torch.Generator] = None,
    ) -> torch.Tensor:
        """``f0`` [B, T] Hz -> source waveform ``[B, 1, T*upp]`` in the layer's dtype."""
        sines = self.l_sin_gen(f0, upp, noise=noise, generator=generator)
        sines = sines.to(self.l_linear.weight.dtype)
        return torch.tanh(self.l_linear(sines)).transpose(1, 2)
