"""rvcqa's own RVC synthesizer: RVC's generator network, strict loading, and inference.

Written from RVC's documented behaviour (not copied) so rvcqa can convert audio with any RVC
or Applio HiFi-GAN model without RVC installed, reject files RVC would silently mis-load, and
reproduce RVC's output to float32 rounding (see tests/data/conformance).
"""
from __future__ import annotations

from rvcqa.synth.config import SynthConfig
from rvcqa.synth.loading import load_synthesizer
from rvcqa.synth.synthesizer import Synthesizer, build_synthesizer
from rvcqa.synth.variants import (
    CANONICAL_VARIANTS,
    canonical_config,
    expected_inference_keys,
    variant_of,
)

__all__ = [
    "CANONICAL_VARIANTS",
    "SynthConfig",
    "Synthesizer",
    "build_synthesizer",
    "canonical_config",
    "expected_inference_keys",
    "load_synthesizer",
    "variant_of",
]
