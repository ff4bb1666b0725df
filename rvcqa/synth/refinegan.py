"""Applio's "RefineGAN" decoder (``RefineGANGenerator``), with Applio's key names.

The decoder ignores most of the config's decoder fields: it always starts from 512 channels, is
conditioned on a 256-wide speaker embedding, and uses parallel residual blocks of kernels 3/7/11
with dilations 1/3/5. Its source path turns F0 (linearly interpolated to the output rate) into a
sine (``m_source``), widens it (``pre_conv``) and walks it down to the frame rate: at each level
it keeps the activation for the matching upsampling stage, anti-aliases with a Kaiser-windowed
sinc resampler (torchaudio's formula, :mod:`rvcqa.synth.resample`) and widens again
(``downsample_blocks``). The latent goes through ``mel_conv`` (+ ``cond``), is concatenated with
the coarsest source activation and upsampled linearly stage by stage, each stage concatenating
the kept source activation and refining with ``upsample_conv_blocks``. ``AdaIN`` layers add
Gaussian noise scaled by a learnt per-channel weight; with noise off they are a leaky ReLU.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, cast

import torch
from torch import nn
from torch.nn import functional as F

from rvcqa.synth.applio_source import RefineSineSource
from rvcqa.synth.layers import WNConv1d, same_padding
from rvcqa.synth.noise import randn_like
from rvcqa.synth.resample import kernel_width, reduced_rates, resample
from rvcqa.synth.spans import decode_in_spans

SLOPE = 0.2
START_CHANNELS = 16
INITIAL_CHANNELS = 512
SPEAKER_CHANNELS = 256  # cond's input width is fixed in Applio, whatever gin_channels says
KERNELS = (3, 7, 11)
DILATIONS = (1, 3, 5)
# torchaudio resample arguments Applio passes
LOWPASS_FILTER_WIDTH = 64
ROLLOFF = 0.9475937167399596
BETA = 14.769656459379492


class ResBlock(nn.Module):
    """Dilated / plain weight-normed conv pairs with residuals (``convs1``/``convs2``), slope 0.2."""

    def __init__(self, channels: int, kernel_size: int, dilations: Sequence[int]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(
            WNConv1d(channels, channels, kernel_size, dilation=d, padding=same_padding(kernel_size, d))
            for d in dilations
        )
        self.convs2 = nn.ModuleList(
            WNConv1d(channels, channels, kernel_size, padding=same_padding(kernel_size)) for _ in dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2):
            xt = c2(F.leaky_relu(c1(F.leaky_relu(x, SLOPE)), SLOPE))
            x = xt + x
        return x

    def radius(self) -> int:
        return sum(int(c.padding[0]) for c in [*self.convs1, *self.convs2])


class AdaIN(nn.Module):
    """``leaky_relu(x + weight * N(0, 1))``: learnt per-channel noise, off when ``noise`` is False."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels) * 1e-4)
        self.noise = False
        self.generator: Optional[torch.Generator] = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.noise:
            x = x + randn_like(x, self.generator) * self.weight[None, :, None]
        return F.leaky_relu(x, SLOPE)


class ParallelResBlock(nn.Module):
    """``input_conv`` then the mean of three (AdaIN, ResBlock, AdaIN) branches (``blocks``)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.input_conv = nn.Conv1d(in_channels, out_channels, 7, 1, padding=3)
        self.blocks = nn.ModuleList(
            nn.Sequential(AdaIN(out_channels), ResBlock(out_channels, k, DILATIONS), AdaIN(out_channels))
            for k in KERNELS
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_conv(x)
        return torch.stack([block(x) for block in self.blocks], dim=0).mean(dim=0)

    def radius(self) -> int:
        return 3 + max(cast(ResBlock, cast(nn.Sequential, block)[1]).radius() for block in self.blocks)


class RefineGANDecoder(nn.Module):
    """RefineGAN (f0 models only); ``upsample_rates`` from the config, everything else fixed."""

    def __init__(self, in_channels: int, upsample_rates: Sequence[int], sample_rate: int) -> None:
        super().__init__()
        self.upsample_rates = tuple(int(u) for u in upsample_rates)
        self.upp = math.prod(self.upsample_rates)
        self.m_source = RefineSineSource(sample_rate)
        self.pre_conv = WNConv1d(1, START_CHANNELS, 7, 1, padding=3)
        # samples per frame before/after each downsampling level (Applio's int() truncation)
        self.levels: list[tuple[int, int]] = []
        self.downsample_blocks = nn.ModuleList()
        size, ch = self.upp, START_CHANNELS
        for i in range(len(self.upsample_rates)):
            new_size = int(size / self.upsample_rates[-i - 1])
            self.levels.append((size, new_size))
            size = new_size
            self.downsample_blocks.append(WNConv1d(ch, ch * 2, 7, 1, padding=3))
            ch *= 2
        ch = INITIAL_CHANNELS
        self.mel_conv = WNConv1d(in_channels, ch // 2, 7, 1, padding=3)
        self.cond = nn.Conv1d(SPEAKER_CHANNELS, ch // 2, 1)
        self.upsample_conv_blocks = nn.ModuleList()
        for _ in self.upsample_rates:
            self.upsample_conv_blocks.append(ParallelResBlock(ch + ch // 4, ch // 2))
            ch //= 2
        self.conv_post = WNConv1d(ch, 1, 7, 1, padding=3, bias=False)

    def source(
        self, f0: torch.Tensor, noise: bool = False, generator: Optional[torch.Generator] = None
    ) -> torch.Tensor:
        """Excitation ``[B, 1, T*upp]`` for F0 frames ``[B, T]`` (Hz), computed over the whole input."""
        t = f0.shape[-1]
        f0_up = F.interpolate(f0.float()[:, None, :], size=t * self.upp, mode="linear")
        excitation: torch.Tensor = self.m_source(f0_up.transpose(1, 2), noise, generator)
        return excitation.transpose(1, 2)

    def _set_noise(self, noise: bool, generator: Optional[torch.Generator]) -> None:
        for m in self.modules():
            if isinstance(m, AdaIN):
                m.noise, m.generator = noise, generator

    def forward(
        self,
        x: torch.Tensor,
        g: Optional[torch.Tensor] = None,
        source: Optional[torch.Tensor] = None,
        *,
        noise: bool = False,
        generator: Optional[torch.Generator] = None,
    ) -> torch.Tensor:
        """``x`` [B, C, T] latent, ``source`` [B, 1, T*upp] -> audio [B, 1, T*upp]."""
        if source is None:
            raise ValueError("the RefineGAN decoder needs its source waveform (f0 models only)")
        self._set_noise(noise, generator)
        frames = x.shape[-1]
        h: torch.Tensor = self.pre_conv(source)
        downs = []
        for block, (old, new) in zip(self.downsample_blocks, self.levels):
            h = F.leaky_relu(h, SLOPE)
            downs.append(h)
            h = resample(h.contiguous(), frames * old, frames * new, LOWPASS_FILTER_WIDTH, ROLLOFF, BETA)
            h = block(h)
        mel = self.mel_conv(x)
        if g is not None:
            mel = mel + self.cond(g)
        y = torch.cat([mel, h], dim=1)
        for rate, res, down in zip(self.upsample_rates, self.upsample_conv_blocks, reversed(downs)):
            y = F.interpolate(F.leaky_relu(y, SLOPE), scale_factor=float(rate), mode="linear")
            y = res(torch.cat([y, down], dim=1))
        return torch.tanh(self.conv_post(F.leaky_relu(y, SLOPE)))

    def context_frames(self) -> int:
        """Latent frames each side beyond which an output frame cannot see (a safe bound)."""
        radius = 3 / self.upp  # pre_conv at the output rate
        for old, new in self.levels:
            orig, _ = reduced_rates(old, new)
            width = kernel_width(orig, 1, LOWPASS_FILTER_WIDTH, ROLLOFF) + orig
            radius += width / old + 3 / max(new, 1)  # resampler, then the widening conv
        radius += 3  # mel_conv
        rate = 1
        for u, res in zip(self.upsample_rates, self.upsample_conv_blocks):
            rate *= u
            radius += 1 / rate * u + cast(ParallelResBlock, res).radius() / rate  # interpolation, then the block
        radius += 3 / rate  # conv_post
        return math.ceil(radius) + 2

    def decode(
        self,
        z: torch.Tensor,
        g: Optional[torch.Tensor] = None,
        source: Optional[torch.Tensor] = None,
        chunk_frames: Optional[int] = None,
        chunk_elements: int = 0,
        outer_frames: int = 1000,
        *,
        noise: bool = False,
        generator: Optional[torch.Generator] = None,
    ) -> torch.Tensor:
        """Decode in spans of ``outer_frames`` when ``chunk_frames`` is set (n > 0: span length n),
        else in one pass. ``noise``/``generator``: the AdaIN draws."""
        outer = chunk_frames if chunk_frames and chunk_frames > 0 else outer_frames

        def run(zs: torch.Tensor, src: Optional[torch.Tensor]) -> torch.Tensor:
            out: torch.Tensor = self(zs, g, src, noise=noise, generator=generator)
            return out

        if not chunk_frames:
            return run(z, source)
        return decode_in_spans(run, z, source, self.upp, self.context_frames(), outer)
