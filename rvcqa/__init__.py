"""rvcqa: a pytest quality gate for RVC voice models.

Public API (imported lazily, so ``import rvcqa`` does not import torch):
``load_inference_model``, ``load_synthesizer``, ``build_synthesizer``, ``discover``.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["load_inference_model", "load_synthesizer", "build_synthesizer", "discover", "__version__"]

_LAZY = {
    "load_inference_model": "rvcqa.checkpoint",
    "load_training_checkpoint": "rvcqa.checkpoint",
    "load_synthesizer": "rvcqa.synth",
    "build_synthesizer": "rvcqa.synth",
    "discover": "rvcqa.modeldir",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rvcqa' has no attribute {name!r}")
