"""Deterministic inputs shared by the pipeline conformance tests and the vectors they compare with.

The vectors under ``tests/data/pipeline`` were computed by RVC's and Applio's own functions from
exactly these weights and signals; the tests rebuild them here instead of storing them.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import torch


def seeded_state(template: Mapping[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """Weights for every key of ``template``, drawn in sorted-key order from one numpy generator.

    1-D ``weight``/``running_var`` near 1, biases and means small, matrices scaled by
    1/sqrt(fan-in): a network that neither saturates nor dies, identical on every machine.
    """
    rng = np.random.default_rng(seed)
    out: dict[str, torch.Tensor] = {}
    for key in sorted(template):
        t = template[key]
        shape = tuple(t.shape)
        if not t.is_floating_point():
            out[key] = torch.zeros(shape, dtype=t.dtype)
            continue
        n = rng.standard_normal(shape)
        if key.endswith("running_var"):
            v = 1.0 + 0.2 * np.abs(n)
        elif key.endswith("running_mean"):
            v = 0.1 * n
        elif len(shape) == 1 and key.endswith("weight"):
            v = 1.0 + 0.1 * n
        elif len(shape) <= 1:
            v = 0.05 * n
        else:
            v = n / np.sqrt(float(np.prod(shape[1:])))
        out[key] = torch.from_numpy(v.astype(np.float32))
    return out


def tone(seconds: float, sr: int = 16000, *, f_start: float = 160.0, f_end: float = 260.0,
         level: float = 0.3) -> np.ndarray:
    """A gliding four-harmonic tone with a slow tremolo, float32 (a voice-like test signal)."""
    t = np.arange(int(round(seconds * sr))) / sr
    phase = 2 * np.pi * (f_start * t + 0.5 * (f_end - f_start) / seconds * t**2)
    y = sum(np.sin(k * phase) / k for k in range(1, 5))
    env = 0.6 + 0.4 * np.sin(2 * np.pi * 1.3 * t)
    return (level * env * y).astype(np.float32)


def rel_l2(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))
