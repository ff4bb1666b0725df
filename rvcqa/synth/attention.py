"""The text encoder's transformer: multi-head self-attention with windowed relative positions.

Maths equal RVC's ``attentions.Encoder`` (VITS lineage): relative embeddings for offsets
-window..+window (shared by all heads) are added to the logits and to the output; offsets
outside the window contribute nothing. RVC realises this with pad-and-reshape tricks on
``[L, 2L-1]`` tensors; we add/gather the ``2*window+1`` diagonals directly, and process queries
in blocks so memory stays linear in length (the attention itself is global, so compute is
quadratic with a small constant).
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from rvcqa.synth.layers import ChannelLayerNorm, normal_

# Query rows processed at once; bounds the [B, H, rows, L] score tensor.
_QUERY_BLOCK = 1024
_MASK_VALUE = -1e4  # RVC's masked_fill value (not -inf): fully masked rows stay finite


def _diag_rows(n_rows: int, n_cols: int, offset: int) -> tuple[int, int]:
    """First row and length of diagonal ``offset`` in an ``n_rows x n_cols`` matrix."""
    start = max(0, -offset)
    length = min(n_rows - start, n_cols - start - offset)
    return start, max(0, length)


class RelativeMultiHeadAttention(nn.Module):
    """Self-attention with windowed relative-position keys and values (``heads_share=True``)."""

    def __init__(self, channels: int, n_heads: int, window_size: int = 10) -> None:
        super().__init__()
        if channels % n_heads:
            raise ValueError(f"channels {channels} not divisible by n_heads {n_heads}")
        self.n_heads = n_heads
        self.k_channels = channels // n_heads
        self.window_size = window_size
        std = self.k_channels**-0.5
        n_rel = 2 * window_size + 1
        self.emb_rel_k = nn.Parameter(normal_(torch.empty(1, n_rel, self.k_channels), 0.0, std))
        self.emb_rel_v = nn.Parameter(normal_(torch.empty(1, n_rel, self.k_channels), 0.0, std))
        self.conv_q = nn.Conv1d(channels, channels, 1)
        self.conv_k = nn.Conv1d(channels, channels, 1)
        self.conv_v = nn.Conv1d(channels, channels, 1)
        self.conv_o = nn.Conv1d(channels, channels, 1)
        for conv in (self.conv_q, self.conv_k, self.conv_v):
            nn.init.xavier_uniform_(conv.weight)

    def forward(self, x: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """``x`` [B, C, L]; ``frame_mask`` [B, L] (1 = real frame). Returns [B, C, L]."""
        b, c, length = x.shape
        h, d = self.n_heads, self.k_channels
        q = self.conv_q(x).view(b, h, d, length).transpose(2, 3)  # [B, H, L, d]
        k = self.conv_k(x).view(b, h, d, length)  # [B, H, d, L] (already transposed)
        v = self.conv_v(x).view(b, h, d, length).transpose(2, 3)  # [B, H, L, d]
        q = q / math.sqrt(d)
        rel_k = self.emb_rel_k[0]  # [2w+1, d]
        rel_v = self.emb_rel_v[0]
        key_valid = frame_mask[:, None, None, :] != 0  # [B, 1, 1, L]
        out = torch.empty(b, h, length, d, dtype=q.dtype, device=q.device)
        for i0 in range(0, length, _QUERY_BLOCK):
            i1 = min(length, i0 + _QUERY_BLOCK)
            q_blk = q[:, :, i0:i1]
            scores = torch.matmul(q_blk, k)  # [B, H, n, L]
            rel_logits = torch.matmul(q_blk, rel_k.transpose(0, 1))  # [B, H, n, 2w+1]
            self._add_band(scores, rel_logits, i0)
            valid = key_valid & (frame_mask[:, None, i0:i1, None] != 0)
            scores = scores.masked_fill(~valid, _MASK_VALUE)
            p = torch.softmax(scores, dim=-1)
            o = torch.matmul(p, v)
            o = o + torch.matmul(self._gather_band(p, i0), rel_v)
            out[:, :, i0:i1] = o
        out = out.transpose(2, 3).reshape(b, c, length)
        return self.conv_o(out)

    def _add_band(self, scores: torch.Tensor, rel: torch.Tensor, row0: int) -> None:
        """``scores[.., i, i+r] += rel[.., i, w+r]`` for |r| <= w, in place."""
        n, length = scores.shape[-2:]
        w = self.window_size
        for r in range(-w, w + 1):
            start, count = _diag_rows(n, length, row0 + r)
            if count:
                diag = scores.diagonal(offset=row0 + r, dim1=-2, dim2=-1)
                diag.add_(rel[..., start : start + count, w + r])

    def _gather_band(self, p: torch.Tensor, row0: int) -> torch.Tensor:
        """``band[.., i, w+r] = p[.., i, i+r]`` (zero where i+r is outside the sequence)."""
        n, length = p.shape[-2:]
        w = self.window_size
        band = p.new_zeros(*p.shape[:-1], 2 * w + 1)
        for r in range(-w, w + 1):
            start, count = _diag_rows(n, length, row0 + r)
            if count:
                band[..., start : start + count, w + r] = p.diagonal(offset=row0 + r, dim1=-2, dim2=-1)
        return band


class FeedForward(nn.Module):
    """Conv -> ReLU -> conv with "same" padding and masking (RVC's non-causal FFN)."""

    def __init__(self, channels: int, filter_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.conv_1 = nn.Conv1d(channels, filter_channels, kernel_size)
        self.conv_2 = nn.Conv1d(filter_channels, channels, kernel_size)

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kernel_size
        return x if k == 1 else F.pad(x, ((k - 1) // 2, k // 2))

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor) -> torch.Tensor:
        x = self.conv_1(self._pad(x * x_mask))
        x = torch.relu(x)
        x = self.conv_2(self._pad(x * x_mask))
        return x * x_mask


class AttentionEncoder(nn.Module):
    """Post-norm transformer stack: ``attn_layers``, ``norm_layers_1``, ``ffn_layers``, ``norm_layers_2``."""

    def __init__(
        self,
        hidden_channels: int,
        filter_channels: int,
        n_heads: int,
        n_layers: int,
        kernel_size: int,
        window_size: int = 10,
    ) -> None:
        super().__init__()
        self.attn_layers = nn.ModuleList()
        self.norm_layers_1 = nn.ModuleList()
        self.ffn_layers = nn.ModuleList()
        self.norm_layers_2 = nn.ModuleList()
        for _ in range(n_layers):
            self.attn_layers.append(RelativeMultiHeadAttention(hidden_channels, n_heads, window_size))
            self.norm_layers_1.append(ChannelLayerNorm(hidden_channels))
            self.ffn_layers.append(FeedForward(hidden_channels, filter_channels, kernel_size))
            self.norm_layers_2.append(ChannelLayerNorm(hidden_channels))

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor) -> torch.Tensor:
        """``x`` [B, C, L], ``x_mask`` [B, 1, L] float."""
        frame_mask = x_mask[:, 0]
        x = x * x_mask
        for attn, norm1, ffn, norm2 in zip(
            self.attn_layers, self.norm_layers_1, self.ffn_layers, self.norm_layers_2
        ):
            x = norm1(x + attn(x, frame_mask))
            x = norm2(x + ffn(x, x_mask))
        return x * x_mask
