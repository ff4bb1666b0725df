"""rvcqa's own RVC synthesizer: RVC's generator network, strict loading, and inference.

Written from RVC's and Applio's documented behaviour (not copied) so rvcqa can convert audio
with any RVC or Applio model (HiFi-GAN, MRF HiFi-GAN or RefineGAN decoder) without either tool
installed, reject files they would silently mis-load, and reproduce their output to float32
rounding (see tests/data/conformance and tests/test_synth_applio.py).
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
    vocoder_for,
)
from rvcqa.synth.vocoders import VOCODERS

__all__ = [
    "CANONICAL_VARIANTS",
    "SynthConfig",
    "VOCODERS",
    "Synthesizer",
    "build_synthesizer",
    "canonical_config",
    "expected_inference_keys",
    "load_synthesizer",
    "variant_of",
    "vocoder_for",
]
