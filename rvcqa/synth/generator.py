"""HiFi-GAN decoder (RVC's ``Generator``) and its NSF variant (``GeneratorNSF``).

The NSF variant adds a harmonic source (``m_source``) whose waveform is injected after each
upsampling stage through ``noise_convs``. The decoder is purely convolutional, so long inputs
can be decoded in overlapping chunks with identical results (see :meth:`Decoder.decode`).
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, cast

import torch
from torch import nn
from torch.nn import functional as F

from rvcqa.synth.layers import WNConv1d, WNConvTranspose1d, norm_except_dim0, normal_, same_padding
from rvcqa.synth.source import HarmonicSource

LRELU_SLOPE = 0.1


def _init_conv_(conv: nn.Module) -> None:
    """HiFi-GAN's intended N(0, 0.01) init for the weight-normed direction."""
    v, g = cast(torch.Tensor, conv.weight_v), cast(torch.Tensor, conv.weight_g)
    with torch.no_grad():
        normal_(v, 0.0, 0.01)
        g.copy_(norm_except_dim0(v))


class ResBlock1(nn.Module):
    """Three dilated conv pairs with residuals (``convs1``/``convs2``), HiFi-GAN "1"."""

    def __init__(self, channels: int, kernel_size: int, dilations: Sequence[int]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(
            WNConv1d(channels, channels, kernel_size, dilation=d, padding=same_padding(kernel_size, d))
            for d in dilations
        )
        self.convs2 = nn.ModuleList(
            WNConv1d(channels, channels, kernel_size, padding=same_padding(kernel_size))
            for _ in dilations
        )
        for conv in [*self.convs1, *self.convs2]:
            _init_conv_(conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2):
            xt = c1(F.leaky_relu(x, LRELU_SLOPE))
            xt = c2(F.leaky_relu(xt, LRELU_SLOPE, inplace=True))  # xt is a fresh temporary
            x = xt.add_(x)
        return x

    def radius(self) -> int:
        """Samples of context each side that one output sample depends on."""
        return sum(int(cast(nn.Conv1d, c).padding[0]) for c in [*self.convs1, *self.convs2])


class ResBlock2(nn.Module):
    """Two dilated convs with residuals (``convs``), HiFi-GAN "2" (RVC uses the first two dilations)."""

    def __init__(self, channels: int, kernel_size: int, dilations: Sequence[int]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            WNConv1d(channels, channels, kernel_size, dilation=d, padding=same_padding(kernel_size, d))
            for d in list(dilations)[:2]
        )
        for conv in self.convs:
            _init_conv_(conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c in self.convs:
            x = c(F.leaky_relu(x, LRELU_SLOPE)).add_(x)
        return x

    def radius(self) -> int:
        return sum(int(cast(nn.Conv1d, c).padding[0]) for c in self.convs)


_RESBLOCKS = {"1": ResBlock1, "2": ResBlock2}


class Decoder(nn.Module):
    """HiFi-GAN generator; with ``sample_rate`` set it is RVC's NSF generator (f0 models)."""

    def __init__(
        self,
        initial_channel: int,
        resblock: str,
        resblock_kernel_sizes: Sequence[int],
        resblock_dilation_sizes: Sequence[Sequence[int]],
        upsample_rates: Sequence[int],
        upsample_initial_channel: int,
        upsample_kernel_sizes: Sequence[int],
        gin_channels: int = 0,
        sample_rate: Optional[int] = None,
    ) -> None:
        super().__init__()
        if resblock not in _RESBLOCKS:
            raise ValueError(f"unknown resblock type {resblock!r}: RVC defines '1' and '2'")
        if len(upsample_rates) != len(upsample_kernel_sizes):
            raise ValueError("upsample_rates and upsample_kernel_sizes differ in length")
        block_cls = _RESBLOCKS[resblock]
        self.upsample_rates = tuple(int(u) for u in upsample_rates)
        self.upp = math.prod(self.upsample_rates)
        self.num_kernels = len(resblock_kernel_sizes)
        self.nsf = sample_rate is not None
        if self.nsf:
            self.m_source = HarmonicSource(int(cast(int, sample_rate)), harmonic_num=0)
            self.noise_convs = nn.ModuleList()
        self.conv_pre = nn.Conv1d(initial_channel, upsample_initial_channel, 7, 1, padding=3)
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        ch = upsample_initial_channel
        for i, (u, k) in enumerate(zip(upsample_rates, upsample_kernel_sizes)):
            c_in, ch = upsample_initial_channel // 2**i, upsample_initial_channel // 2 ** (i + 1)
            up = WNConvTranspose1d(c_in, ch, k, u, padding=(k - u) // 2)
            _init_conv_(up)
            self.ups.append(up)
            if self.nsf:
                stride = math.prod(upsample_rates[i + 1 :])
                if i + 1 < len(upsample_rates):
                    self.noise_convs.append(nn.Conv1d(1, ch, 2 * stride, stride=stride, padding=stride // 2))
                else:
                    self.noise_convs.append(nn.Conv1d(1, ch, 1))
        for i in range(len(self.ups)):
            ch = upsample_initial_channel // 2 ** (i + 1)
            for k, d in zip(resblock_kernel_sizes, resblock_dilation_sizes):
                self.resblocks.append(block_cls(ch, k, d))
        self.conv_post = nn.Conv1d(ch, 1, 7, 1, padding=3, bias=False)
        self.cond: Optional[nn.Conv1d] = None
        if gin_channels:
            self.cond = nn.Conv1d(gin_channels, upsample_initial_channel, 1)

    def source(
        self, f0: torch.Tensor, noise: bool = True, generator: Optional[torch.Generator] = None
    ) -> torch.Tensor:
        """Harmonic source ``[B, 1, T*hop]`` for F0 frames ``[B, T]`` (NSF decoders only)."""
        return self.m_source(f0, self.upp, noise=noise, generator=generator)

    def _stage(self, i: int, x: torch.Tensor, source: Optional[torch.Tensor]) -> torch.Tensor:
        """Upsampling stage ``i`` (the last one also applies ``conv_post`` and tanh)."""
        x = self.ups[i](F.leaky_relu(x, LRELU_SLOPE))
        if self.nsf:
            x = x.add_(self.noise_convs[i](source))
        blocks = self.resblocks[i * self.num_kernels : (i + 1) * self.num_kernels]
        xs = blocks[0](x)
        for block in blocks[1:]:
            xs = xs.add_(block(x))
        x = xs.div_(self.num_kernels)  # in place: fresh temporaries, same rounding as RVC's mean
        if i == len(self.ups) - 1:
            x = torch.tanh_(self.conv_post(F.leaky_relu(x, inplace=True)))  # slope 0.01 here, as in RVC
        return x

    def _prepare(self, x: torch.Tensor, g: Optional[torch.Tensor], source: Optional[torch.Tensor]) -> torch.Tensor:
        if self.nsf and source is None:
            raise ValueError("this decoder is NSF (f0 model): a source waveform is required")
        x = self.conv_pre(x)
        if g is not None and self.cond is not None:
            x = x + self.cond(g)
        return x

    def forward(
        self, x: torch.Tensor, g: Optional[torch.Tensor] = None, source: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """``x`` [B, C, T] latent, ``source`` [B, 1, T*hop] for NSF -> audio [B, 1, T*hop]."""
        x = self._prepare(x, g, source)
        for i in range(len(self.ups)):
            x = self._stage(i, x, source)
        return x

    def _up(self, i: int) -> nn.ConvTranspose1d:
        return cast(nn.ConvTranspose1d, self.ups[i])

    def _blocks(self, i: int) -> list[nn.Module]:
        """The resblocks of stage ``i``, averaged after it."""
        return list(self.resblocks)[i * self.num_kernels : (i + 1) * self.num_kernels]

    def stage_context(self, i: int) -> int:
        """Stage-``i`` input samples of context each side that one output chunk depends on."""
        up = self._up(i)
        u, k = int(up.stride[0]), int(up.kernel_size[0])
        reach_out = max(cast(ResBlock1, b).radius() for b in self._blocks(i)) + 2  # + noise-conv edge
        if i == len(self.ups) - 1:
            reach_out += int(self.conv_post.padding[0])
        return -(-k // u) + 2 + -(-reach_out // u) + 1

    def context_frames(self) -> int:
        """Frames of context each side beyond which an output frame cannot see (receptive radius)."""
        radius = 3.0  # conv_pre, in frames
        samples_per_frame = 1
        for i in range(len(self.ups)):
            radius += self.stage_context(i) / samples_per_frame
            samples_per_frame *= int(self._up(i).stride[0])
        return math.ceil(radius) + 1

    def decode(
        self,
        z: torch.Tensor,
        g: Optional[torch.Tensor] = None,
        source: Optional[torch.Tensor] = None,
        chunk_frames: Optional[int] = None,
        chunk_elements: int = 1 << 19,
        outer_frames: int = 1000,
    ) -> torch.Tensor:
        """Decode ``z`` [B, C, T] in overlapping time chunks; equals :meth:`forward` up to rounding.

        Two levels, both cutting off their receptive context again so no seam is audible:
        spans of ``outer_frames`` (plus ``context_frames()`` each side) bound the memory of
        intermediate stages for arbitrarily long input; within a span each upsampling stage runs
        on chunks padded by its own few samples of context, so the working set stays cache-sized
        and the cost per second of audio does not grow with length. ``chunk_frames``: frames per
        stage chunk; -1 sizes each stage's chunks to about ``chunk_elements`` output values;
        None/0 decodes in one pass like RVC.
        """
        if not chunk_frames:
            return self(z, g, source)
        t = z.shape[-1]
        if t <= outer_frames + 2 * self.context_frames():
            return self._decode_stages(z, g, source, chunk_frames, chunk_elements)
        ctx, hop = self.context_frames(), self.upp
        out = z.new_empty(z.shape[0], 1, t * hop)
        for a in range(0, t, outer_frames):
            b = min(t, a + outer_frames)
            lo, hi = max(0, a - ctx), min(t, b + ctx)
            src = source[:, :, lo * hop : hi * hop] if source is not None else None
            y = self._decode_stages(z[:, :, lo:hi], g, src, chunk_frames, chunk_elements)
            out[:, :, a * hop : b * hop] = y[:, :, (a - lo) * hop : (b - lo) * hop]
        return out

    def _decode_stages(
        self,
        z: torch.Tensor,
        g: Optional[torch.Tensor],
        source: Optional[torch.Tensor],
        chunk_frames: int,
        chunk_elements: int,
    ) -> torch.Tensor:
        x = self._prepare(z, g, source)
        in_rate = 1  # stage-input samples per frame
        for i in range(len(self.ups)):
            up = self._up(i)
            u = int(up.stride[0])
            if chunk_frames > 0:
                frames = chunk_frames
            else:
                frames = max(1, chunk_elements // (up.out_channels * in_rate * u))
            x = self._chunked_stage(i, x, source, frames * in_rate, self.upp // in_rate)
            in_rate *= u
        return x

    def _chunked_stage(
        self, i: int, x: torch.Tensor, source: Optional[torch.Tensor], chunk: int, src_per_in: int
    ) -> torch.Tensor:
        length = x.shape[-1]
        if length <= 2 * chunk:  # two overlapping chunks cost more than they save
            return self._stage(i, x, source)
        u = int(self._up(i).stride[0])
        ctx = self.stage_context(i)
        out: Optional[torch.Tensor] = None
        for a in range(0, length, chunk):
            b = min(length, a + chunk)
            lo, hi = max(0, a - ctx), min(length, b + ctx)
            src = source[:, :, lo * src_per_in : hi * src_per_in] if source is not None else None
            y = self._stage(i, x[:, :, lo:hi], src)
            if out is None:
                out = y.new_empty(y.shape[0], y.shape[1], length * u)
            out[:, :, a * u : b * u] = y[:, :, (a - lo) * u : (b - lo) * u]
        assert out is not None
        return out
