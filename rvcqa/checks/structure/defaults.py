"""Thresholds of the structure checks, each with where its default comes from."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rvcqa.context import ModelContext

DEFAULTS: dict[str, Any] = {
    # Largest |value| a healthy tensor holds. RVC's init keeps every tensor below ~5 (embeddings
    # N(0,1); weight_g = ||v|| ~ 1); the conformance models (RVC init x1.5-2) peak at 5.9, and fp16
    # overflows at 65504. 1e3 leaves 200x headroom over healthy and flags divergence well before inf.
    "structure.tensor_stats.max_abs": 1e3,
    # Largest standard deviation of one tensor: healthy tensors (init and trained) stay below ~2
    # (the conformance models' embeddings: 1.6); 1e2 means a tensor has blown up.
    "structure.tensor_stats.max_std": 1e2,
    # Smallest tensor judged by the "one constant value" rule. Tiny tensors can be constant by chance
    # in fp16: the conformance models' 2-element weight_g of the last resblocks (narrow widths) are.
    # Real models' smallest randomly initialised tensors have 32+ elements.
    "structure.tensor_stats.constant_min_numel": 16,
    # Widths that differ from RVC's (inter/hidden 192, filter 768, ...) load fine in a matching
    # network but no RVC/Applio release writes them: "warning" (default) or "failed" or "passed".
    "structure.canonical_config.custom_widths": "warning",
}


def thr(ctx: ModelContext, key: str) -> Any:
    """The profile's value for ``key``, this module's default when nothing overrides it."""
    return ctx.threshold(key, DEFAULTS[key])
