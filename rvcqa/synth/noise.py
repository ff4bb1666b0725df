"""Random draws that honour an optional ``torch.Generator`` on any device.

A generator lives on one device; drawing there and moving the result lets a CPU generator
drive CUDA inference reproducibly (and vice versa).
"""
from __future__ import annotations

from typing import Optional

import torch


def randn_like(like: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """N(0, 1) with ``like``'s shape, device and dtype, drawn from ``generator`` if given."""
    dev = generator.device if generator is not None else like.device
    out = torch.randn(tuple(like.shape), generator=generator, device=dev, dtype=torch.float32)
    return out.to(like.device, like.dtype)


def rand_like(like: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """U[0, 1) with ``like``'s shape, device and dtype, drawn from ``generator`` if given."""
    dev = generator.device if generator is not None else like.device
    out = torch.rand(tuple(like.shape), generator=generator, device=dev, dtype=torch.float32)
    return out.to(like.device, like.dtype)
