"""Small building blocks whose parameter names must equal RVC's state-dict keys.

RVC uses torch's *legacy* weight norm, so its files store ``weight_g``/``weight_v`` instead of
``weight``. Torch's legacy helper is deprecated and warns, so we hold the two tensors ourselves
and fold them into one plain ``weight`` once the trained values are loaded (inference only).
"""
from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn
from torch.nn import functional as F


def norm_except_dim0(v: torch.Tensor) -> torch.Tensor:
    """L2 norm over every dim but the first, kept as ``[n, 1, 1]`` like legacy ``weight_g``."""
    if v.is_meta:  # shape-only builds: skip the (slow on meta) decomposition
        return v.new_empty((v.shape[0],) + (1,) * (v.dim() - 1))
    return torch.linalg.vector_norm(v, dim=tuple(range(1, v.dim())), keepdim=True)


@torch.no_grad()
def normal_(t: torch.Tensor, mean: float = 0.0, std: float = 1.0) -> torch.Tensor:
    """In-place N(mean, std) init, a no-op on the meta device (torch's meta ``normal_`` pulls in
    its slow Python decompositions; shape-only builds never need values)."""
    return t if t.is_meta else t.normal_(mean, std)


def embedding(num: int, dim: int) -> nn.Embedding:
    """``nn.Embedding`` with torch's N(0, 1) init, cheap on the meta device."""
    weight = normal_(torch.empty(num, dim))
    return nn.Embedding(num, dim, _weight=weight)


def weight_from_norm(g: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``g * v / ||v||`` exactly as legacy weight norm computes it (dim 0)."""
    return torch._weight_norm(v, g, 0)


class _WeightNormMixin:
    """Replace ``weight`` with ``weight_g``/``weight_v`` until :meth:`fold` is called."""

    folded: bool
    weight: Any  # the layer's own Parameter until split, then absent until folded
    weight_g: nn.Parameter
    weight_v: nn.Parameter

    def _split_weight(self) -> None:
        w = self.weight
        del self.weight
        self.weight_g = nn.Parameter(norm_except_dim0(w.detach()))
        self.weight_v = nn.Parameter(w.detach().clone())
        self.folded = False

    def effective_weight(self) -> torch.Tensor:
        if self.folded:
            folded: torch.Tensor = self.weight
            return folded
        return weight_from_norm(self.weight_g, self.weight_v)

    @torch.no_grad()
    def fold(self) -> None:
        """Store ``g*v/||v||`` as a plain ``weight``; afterwards g and v are gone."""
        if self.folded:
            return
        w = weight_from_norm(self.weight_g.float(), self.weight_v.float()).to(self.weight_v.dtype)
        del self.weight_g
        del self.weight_v
        self.weight = nn.Parameter(w, requires_grad=False)
        self.folded = True


class WNConv1d(_WeightNormMixin, nn.Conv1d):
    """Conv1d with legacy weight-norm parameters (``bias``, ``weight_g``, ``weight_v``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._split_weight()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.effective_weight(), self.bias)


class WNConvTranspose1d(_WeightNormMixin, nn.ConvTranspose1d):
    """ConvTranspose1d with legacy weight-norm parameters (g has shape ``[in, 1, 1]``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._split_weight()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return F.conv_transpose1d(
            x,
            self.effective_weight(),
            self.bias,
            self.stride,
            cast(tuple[int, ...], self.padding),
            self.output_padding,
            self.groups,
            self.dilation,
        )


def fold_weight_norm(module: nn.Module) -> int:
    """Fold every weight-normed layer under ``module``; returns how many were folded."""
    n = 0
    for m in module.modules():
        if isinstance(m, _WeightNormMixin) and not m.folded:
            m.fold()
            n += 1
    return n


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel axis of ``[B, C, T]``; params named ``gamma``/``beta`` as RVC."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.channels = channels
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.layer_norm(x.transpose(1, -1), (self.channels,), self.gamma, self.beta, self.eps)
        return y.transpose(1, -1)


def same_padding(kernel_size: int, dilation: int = 1) -> int:
    """Padding that keeps length for odd kernels (RVC's ``get_padding``)."""
    return (kernel_size * dilation - dilation) // 2


def sequence_mask(lengths: torch.Tensor, max_length: int) -> torch.Tensor:
    """``[B, T]`` bool mask, True where the frame index is below that item's length."""
    return torch.arange(max_length, device=lengths.device)[None, :] < lengths[:, None]
