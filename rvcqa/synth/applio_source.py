"""Applio's per-sample sine excitation, used by its MRF HiFi-GAN and RefineGAN decoders.

Unlike RVC's frame-wise phase (:mod:`rvcqa.synth.source`), Applio's generator takes F0 already
upsampled to the output rate and accumulates ``(f0 * k / sr) mod 1`` sample by sample for the
fundamental and each overtone ``k``. The running sum is kept small the way Applio does it: where
the wrapped cumulative phase decreases, one cycle is subtracted before the final cumulative sum.
We follow that float32 recipe op for op so long inputs drift exactly as Applio's do. Randomness
(random overtone start phases, additive noise) is explicit and can be switched off.
"""
from __future__ import annotations

import math
from typing import Optional, cast

import torch
from torch import nn

from rvcqa.synth.noise import rand_like, randn_like
from rvcqa.synth.source import SineSettings


class SampleSineGenerator(SineSettings):
    """Per-sample F0 ``[B, N, 1]`` (Hz) -> sines ``[B, N, harmonics + 1]``; no parameters."""

    def phase_sines(
        self, f0: torch.Tensor, noise: bool = False, generator: Optional[torch.Generator] = None
    ) -> torch.Tensor:
        """Unit-amplitude sines of the fundamental and overtones, ``[B, N, dim]``."""
        b, n = f0.shape[0], f0.shape[1]
        buf = f0.new_zeros(b, n, self.dim)
        buf[:, :, 0] = f0[:, :, 0]
        for k in range(1, self.dim):
            buf[:, :, k] = buf[:, :, 0] * (k + 1)
        rad = (buf / self.sample_rate) % 1
        if noise and self.dim > 1:  # random start phase for overtones only
            start = rand_like(rad[:, 0, :], generator)
            start[:, 0] = 0
            rad[:, 0, :] = rad[:, 0, :] + start
        wrapped = torch.cumsum(rad, 1) % 1
        falls = (wrapped[:, 1:, :] - wrapped[:, :-1, :]) < 0
        shift = torch.zeros_like(rad)
        shift[:, 1:, :] = falls * -1.0
        return torch.sin(torch.cumsum(rad + shift, dim=1) * 2 * math.pi)

    def forward(
        self, f0: torch.Tensor, noise: bool = False, generator: Optional[torch.Generator] = None
    ) -> torch.Tensor:
        """``f0`` [B, N, 1] Hz (0 = unvoiced) -> excitation ``[B, N, dim]``."""
        f0 = f0.float()
        sines = self.phase_sines(f0, noise, generator) * self.sine_amp
        uv = (f0 > self.voiced_threshold).to(sines.dtype)
        sines = sines * uv
        if noise:
            amp = uv * self.noise_std + (1 - uv) * self.sine_amp / 3
            sines = sines + amp * randn_like(sines, generator)
        return sines


class MergedSineSource(nn.Module):
    """Applio MRF's ``SourceModuleHnNSF``: sines merged by ``l_linear`` (with bias), then tanh."""

    def __init__(self, sample_rate: int, harmonic_num: int) -> None:
        super().__init__()
        self.l_sin_gen = SampleSineGenerator(sample_rate, harmonic_num)
        self.l_linear = nn.Linear(harmonic_num + 1, 1)

    def forward(
        self, f0: torch.Tensor, noise: bool = False, generator: Optional[torch.Generator] = None
    ) -> torch.Tensor:
        """``f0`` [B, N, 1] -> ``[B, N, 1]`` in the layer's dtype."""
        sines = self.l_sin_gen(f0, noise, generator).to(self.l_linear.weight.dtype)
        return torch.tanh(self.l_linear(sines))


class RefineSineSource(SampleSineGenerator):
    """RefineGAN's ``SineGenerator``: the same sines merged by ``merge.0`` (no bias), then tanh."""

    def __init__(self, sample_rate: int, harmonic_num: int = 0) -> None:
        super().__init__(sample_rate, harmonic_num)
        self.merge = nn.Sequential(nn.Linear(self.dim, 1, bias=False), nn.Tanh())

    def forward(
        self, f0: torch.Tensor, noise: bool = False, generator: Optional[torch.Generator] = None
    ) -> torch.Tensor:
        """``f0`` [B, N, 1] -> ``[B, N, 1]``."""
        sines = super().forward(f0, noise, generator)
        linear = cast(nn.Linear, self.merge[0])
        out: torch.Tensor = self.merge(sines.to(linear.weight.dtype))
        return out
