"""Applio's "MRF HiFi-GAN" decoder (``HiFiGANMRFGenerator``), with Applio's key names.

Same shape of network as HiFi-GAN NSF: weight-normed ``conv_pre``, transposed-conv ``upsamples``
each followed by the excitation injected through ``noise_convs`` and the mean of multi-receptive-
field blocks ``mrfs[i][j].layers[k].conv1/conv2``, then weight-normed ``conv_post`` (with bias)
and tanh. Its source (``m_source``) is Applio's per-sample sine generator with eight overtones,
driven by F0 upsampled by nearest neighbour. Odd upsampling rates get Applio's padding rule.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, cast

import torch
from torch import nn
from torch.nn import functional as F

from rvcqa.synth.applio_source import MergedSineSource
from rvcqa.synth.layers import WNConv1d, WNConvTranspose1d
from rvcqa.synth.spans import DecodeFn, decode_in_spans

LRELU_SLOPE = 0.1
MRF_HARMONICS = 8  # Applio builds the MRF source with harmonic_num=8


def upsample_padding(rate: int, kernel: int) -> tuple[int, int]:
    """(padding, output_padding) of Applio's transposed conv for an upsampling rate."""
    if rate % 2 == 0:
        return (kernel - rate) // 2, 0
    return rate // 2 + rate % 2, rate % 2


def noise_conv_geometry(stride: int) -> tuple[int, int]:
    """(kernel, padding) of the conv that brings the source down to a stage's rate."""
    if stride == 1:
        return 1, 0
    kernel = stride * 2 - stride % 2
    return kernel, (kernel - stride) // 2


class MRFLayer(nn.Module):
    """Dilated conv then plain conv, leaky ReLU before each, residual around both."""

    def __init__(self, channels: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        self.conv1 = WNConv1d(channels, channels, kernel_size, dilation=dilation,
                              padding=(kernel_size * dilation - dilation) // 2)
        self.conv2 = WNConv1d(channels, channels, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = self.conv1(F.leaky_relu(x, LRELU_SLOPE))
        y = self.conv2(F.leaky_relu(y, LRELU_SLOPE))
        return x + y

    def radius(self) -> int:
        return int(self.conv1.padding[0]) + int(self.conv2.padding[0])


class MRFBlock(nn.Module):
    """MRF layers of one kernel size applied in sequence (``layers``)."""

    def __init__(self, channels: int, kernel_size: int, dilations: Sequence[int]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(MRFLayer(channels, kernel_size, d) for d in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def radius(self) -> int:
        return sum(cast(MRFLayer, layer).radius() for layer in self.layers)


class MRFDecoder(nn.Module):
    """HiFi-GAN with MRF blocks and a per-sample harmonic source (f0 models only)."""

    def __init__(
        self,
        in_channels: int,
        upsample_initial_channel: int,
        upsample_rates: Sequence[int],
        upsample_kernel_sizes: Sequence[int],
        resblock_kernel_sizes: Sequence[int],
        resblock_dilations: Sequence[Sequence[int]],
        gin_channels: int,
        sample_rate: int,
        harmonic_num: int = MRF_HARMONICS,
    ) -> None:
        super().__init__()
        if len(upsample_rates) != len(upsample_kernel_sizes):
            raise ValueError("upsample_rates and upsample_kernel_sizes differ in length")
        self.upsample_rates = tuple(int(u) for u in upsample_rates)
        self.upp = math.prod(self.upsample_rates)
        self.num_kernels = len(resblock_kernel_sizes)
        self.m_source = MergedSineSource(sample_rate, harmonic_num)
        self.conv_pre = WNConv1d(in_channels, upsample_initial_channel, 7, 1, padding=3)
        self.upsamples = nn.ModuleList()
        self.noise_convs = nn.ModuleList()
        self.mrfs = nn.ModuleList()
        ch = upsample_initial_channel
        for i, (u, k) in enumerate(zip(self.upsample_rates, upsample_kernel_sizes)):
            c_in, ch = upsample_initial_channel // 2**i, upsample_initial_channel // 2 ** (i + 1)
            pad, out_pad = upsample_padding(u, int(k))
            self.upsamples.append(WNConvTranspose1d(c_in, ch, int(k), u, padding=pad, output_padding=out_pad))
            stride = math.prod(self.upsample_rates[i + 1 :])
            nk, npad = noise_conv_geometry(stride)
            self.noise_convs.append(nn.Conv1d(1, ch, nk, stride=stride, padding=npad))
            self.mrfs.append(
                nn.ModuleList(MRFBlock(ch, int(rk), d) for rk, d in zip(resblock_kernel_sizes, resblock_dilations))
            )
        self.conv_post = WNConv1d(ch, 1, 7, 1, padding=3)
        self.cond: Optional[nn.Conv1d] = nn.Conv1d(gin_channels, upsample_initial_channel, 1) if gin_channels else None

    def source(
        self, f0: torch.Tensor, noise: bool = False, generator: Optional[torch.Generator] = None
    ) -> torch.Tensor:
        """Excitation ``[B, 1, T*upp]`` for F0 frames ``[B, T]`` (Hz), computed over the whole input."""
        f0_up = F.interpolate(f0.float()[:, None, :], scale_factor=float(self.upp), mode="nearest")
        excitation: torch.Tensor = self.m_source(f0_up.transpose(-1, -2), noise, generator)
        return excitation.transpose(-1, -2)

    def forward(
        self, x: torch.Tensor, g: Optional[torch.Tensor] = None, source: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """``x`` [B, C, T] latent, ``source`` [B, 1, T*upp] -> audio [B, 1, T*upp]."""
        if source is None:
            raise ValueError("the MRF HiFi-GAN decoder needs its source waveform (f0 models only)")
        x = self.conv_pre(x)
        if g is not None and self.cond is not None:
            x = x + self.cond(g)
        for up, mrf, noise_conv in zip(self.upsamples, self.mrfs, self.noise_convs):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            x = x + noise_conv(source)
            blocks = cast(nn.ModuleList, mrf)
            xs: torch.Tensor = blocks[0](x)
            for block in blocks[1:]:
                xs = xs + block(x)
            x = xs / self.num_kernels
        return torch.tanh(self.conv_post(F.leaky_relu(x)))

    def context_frames(self) -> int:
        """Latent frames each side beyond which an output frame cannot see (a safe bound)."""
        radius = 3.0  # conv_pre
        rate = 1  # stage-input samples per frame
        for up, mrf, noise_conv in zip(self.upsamples, self.mrfs, self.noise_convs):
            u, k = int(cast(nn.ConvTranspose1d, up).stride[0]), int(cast(nn.ConvTranspose1d, up).kernel_size[0])
            radius += (-(-k // u) + 1) / rate
            rate *= u
            reach = max(cast(MRFBlock, b).radius() for b in cast(nn.ModuleList, mrf))
            reach += int(cast(nn.Conv1d, noise_conv).kernel_size[0])
            radius += reach / rate
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
        else in one pass; the MRF decoder draws nothing random itself."""
        if not chunk_frames:
            return self._span(g)(z, source)
        outer = chunk_frames if chunk_frames > 0 else outer_frames
        return decode_in_spans(self._span(g), z, source, self.upp, self.context_frames(), outer)

    def _span(self, g: Optional[torch.Tensor]) -> DecodeFn:
        def run(z: torch.Tensor, source: Optional[torch.Tensor]) -> torch.Tensor:
            out: torch.Tensor = self(z, g, source)
            return out

        return run
