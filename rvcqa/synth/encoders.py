"""Prior encoder ``enc_p`` (content + pitch -> prior stats) and posterior encoder ``enc_q``.

``enc_q`` only exists during training (it encodes the target spectrogram); RVC strips its
keys from inference files, but it is built here so training-checkpoint key tables match.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F

from rvcqa.synth.attention import AttentionEncoder
from rvcqa.synth.layers import embedding, sequence_mask
from rvcqa.synth.noise import randn_like
from rvcqa.synth.wavenet import WaveNet


class TextEncoder(nn.Module):
    """HuBERT/ContentVec features (+ coarse pitch) -> prior mean and log-std per frame."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        hidden_channels: int,
        filter_channels: int,
        n_heads: int,
        n_layers: int,
        kernel_size: int,
        f0: bool = True,
    ) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.hidden_channels = hidden_channels
        self.emb_phone = nn.Linear(in_channels, hidden_channels)
        self.emb_pitch: Optional[nn.Embedding] = embedding(256, hidden_channels) if f0 else None
        self.encoder = AttentionEncoder(hidden_channels, filter_channels, n_heads, n_layers, kernel_size)
        self.proj = nn.Conv1d(hidden_channels, out_channels * 2, 1)

    def forward(
        self, phone: torch.Tensor, pitch: Optional[torch.Tensor], lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``phone`` [B, T, in], ``pitch`` [B, T] long or None -> (m, logs, x_mask [B, 1, T])."""
        x = self.emb_phone(phone)
        if self.emb_pitch is not None:
            if pitch is None:
                raise ValueError("this is an f0 model: coarse pitch is required")
            x = x + self.emb_pitch(pitch)
        x = F.leaky_relu(x * math.sqrt(self.hidden_channels), 0.1)
        x = x.transpose(1, -1)  # [B, H, T]
        x_mask = sequence_mask(lengths, x.shape[2])[:, None, :].to(x.dtype)
        x = self.encoder(x * x_mask, x_mask)
        stats = self.proj(x) * x_mask
        m, logs = torch.split(stats, self.out_channels, dim=1)
        return m, logs, x_mask


class PosteriorEncoder(nn.Module):
    """Linear spectrogram -> latent ``z`` (training only); keys ``pre``, ``enc``, ``proj``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        hidden_channels: int,
        kernel_size: int = 5,
        dilation_rate: int = 1,
        n_layers: int = 16,
        gin_channels: int = 0,
    ) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.pre = nn.Conv1d(in_channels, hidden_channels, 1)
        self.enc = WaveNet(hidden_channels, kernel_size, dilation_rate, n_layers, gin_channels)
        self.proj = nn.Conv1d(hidden_channels, out_channels * 2, 1)

    def forward(
        self,
        spec: torch.Tensor,
        lengths: torch.Tensor,
        g: Optional[torch.Tensor] = None,
        generator: Optional[torch.Generator] = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``spec`` [B, F, T] -> (z, m, logs, mask); z = m + N(0,1)*exp(logs), masked."""
        x_mask = sequence_mask(lengths, spec.shape[2])[:, None, :].to(spec.dtype)
        x = self.pre(spec) * x_mask
        x = self.enc(x, x_mask, g=g)
        stats = self.proj(x) * x_mask
        m, logs = torch.split(stats, self.out_channels, dim=1)
        z = (m + randn_like(m, generator) * torch.exp(logs)) * x_mask
        return z, m, logs, x_mask
