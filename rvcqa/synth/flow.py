"""Normalising flow between the prior and the decoder's latent (RVC's ``ResidualCouplingBlock``).

Inference runs it in reverse: prior sample ``z_p`` -> decoder latent ``z``. Training runs it
forward (``z`` from ``enc_q`` -> ``z_p``). Mean-only couplings are volume preserving, so no
log-determinant is needed.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from rvcqa.synth.wavenet import WaveNet


class Flip(nn.Module):
    """Reverse the channel order so the next coupling transforms the other half."""

    def forward(
        self, x: torch.Tensor, x_mask: torch.Tensor, g: Optional[torch.Tensor] = None, reverse: bool = False
    ) -> torch.Tensor:
        return torch.flip(x, [1])


class CouplingLayer(nn.Module):
    """Mean-only affine coupling: ``x1 += m(x0)`` forward, ``x1 -= m(x0)`` reverse."""

    def __init__(
        self,
        channels: int,
        hidden_channels: int,
        kernel_size: int,
        dilation_rate: int,
        n_layers: int,
        gin_channels: int = 0,
    ) -> None:
        super().__init__()
        if channels % 2:
            raise ValueError("coupling channels must be even")
        self.half_channels = channels // 2
        self.pre = nn.Conv1d(self.half_channels, hidden_channels, 1)
        self.enc = WaveNet(hidden_channels, kernel_size, dilation_rate, n_layers, gin_channels)
        self.post = nn.Conv1d(hidden_channels, self.half_channels, 1)
        # RVC starts every coupling as the identity: an untrained flow has all-zero post.
        nn.init.zeros_(self.post.weight)
        if self.post.bias is not None:
            nn.init.zeros_(self.post.bias)

    def forward(
        self, x: torch.Tensor, x_mask: torch.Tensor, g: Optional[torch.Tensor] = None, reverse: bool = False
    ) -> torch.Tensor:
        x0, x1 = torch.split(x, [self.half_channels, self.half_channels], dim=1)
        h = self.pre(x0) * x_mask
        h = self.enc(h, x_mask, g=g)
        m = self.post(h) * x_mask
        if reverse:
            x1 = (x1 - m) * x_mask
        else:
            x1 = m + x1 * x_mask
        return torch.cat([x0, x1], dim=1)


class CouplingFlow(nn.Module):
    """``flows`` = [coupling, flip] x n_flows; parameters live at the even indices, as in RVC."""

    def __init__(
        self,
        channels: int,
        hidden_channels: int,
        kernel_size: int = 5,
        dilation_rate: int = 1,
        n_layers: int = 3,
        n_flows: int = 4,
        gin_channels: int = 0,
    ) -> None:
        super().__init__()
        self.flows = nn.ModuleList()
        for _ in range(n_flows):
            self.flows.append(
                CouplingLayer(channels, hidden_channels, kernel_size, dilation_rate, n_layers, gin_channels)
            )
            self.flows.append(Flip())

    def forward(
        self, x: torch.Tensor, x_mask: torch.Tensor, g: Optional[torch.Tensor] = None, reverse: bool = False
    ) -> torch.Tensor:
        layers = reversed(self.flows) if reverse else iter(self.flows)
        for layer in layers:
            x = layer(x, x_mask, g=g, reverse=reverse)
        return x
