"""Decoding long latents in overlapping spans, for decoders that are local in time.

A decoder whose output sample depends only on a bounded neighbourhood of latent frames (and of
its precomputed source waveform) can decode spans of ``outer`` frames padded with ``context``
frames each side and keep only the span's own samples: the result equals a one-pass decode up
to float rounding, while intermediate activations stay bounded for arbitrarily long input.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch

DecodeFn = Callable[[torch.Tensor, Optional[torch.Tensor]], torch.Tensor]


def decode_in_spans(
    decode: DecodeFn,
    z: torch.Tensor,
    source: Optional[torch.Tensor],
    hop: int,
    context: int,
    outer: int,
) -> torch.Tensor:
    """``decode(z_span, source_span)`` over spans of ``outer`` frames (+ ``context`` each side).

    ``z`` is ``[B, C, T]`` frames, ``source`` ``[B, 1, T*hop]`` samples or None; returns
    ``[B, 1, T*hop]``. Inputs no longer than ``outer + 2*context`` are decoded in one pass.
    """
    t = z.shape[-1]
    if outer <= 0 or t <= outer + 2 * context:
        return decode(z, source)
    out: Optional[torch.Tensor] = None
    for a in range(0, t, outer):
        b = min(t, a + outer)
        lo, hi = max(0, a - context), min(t, b + context)
        src = source[:, :, lo * hop : hi * hop] if source is not None else None
        y = decode(z[:, :, lo:hi], src)
        if out is None:
            out = y.new_empty(y.shape[0], y.shape[1], t * hop)
        out[:, :, a * hop : b * hop] = y[:, :, (a - lo) * hop : (b - lo) * hop]
    assert out is not None
    return out
