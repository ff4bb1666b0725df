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


def fake_f0(n: int) -> np.ndarray:
    """An F0 track of ``n`` frames standing in for the tracker (float64 Hz): a 95-260 Hz wobble,
    unvoiced at the start, in a gap and on single frames, with single-frame octave jumps (what
    harvest's median filter removes)."""
    i = np.arange(n)
    f0 = 157.0 * 2.0 ** (0.7 * np.sin(2 * np.pi * i / 70.0))
    f0[i % 29 == 7] *= 2.0
    f0[(i < 15) | ((i >= 60) & (i < 68)) | (i % 41 == 3)] = 0.0
    return f0


def clip16k(seconds: float, offset: float = 0.3) -> np.ndarray:
    """``seconds`` of the LJ Speech fixture clip at 16 kHz (float32), as both sides read it."""
    from pathlib import Path

    import soundfile as sf

    from rvcqa.audio import resample

    path = Path(__file__).resolve().parent.parent / "fixtures" / "audio" / "ljspeech" / "LJ001-0003.wav"
    y, sr = sf.read(str(path), dtype="float32")
    y = resample(y, sr, 16000)
    start = int(offset * 16000)
    return np.ascontiguousarray(y[start : start + int(seconds * 16000)])


def tiny_hubert(seed: int = 3, final_dim: int = 256) -> "object":
    """A 12-layer fairseq-layout HuBERT (32-dim, 24-channel convs) projecting to ``final_dim``:
    enough to tell layer 9 from layer 12 and feed a v1 synthesizer."""
    from rvcqa.features.hubert import HubertArch, HubertContentModel, build_hubert

    arch = HubertArch(conv_layers=((24, 10, 5),) + ((24, 3, 2),) * 4 + ((24, 2, 2),) * 2, embed_dim=32,
                      ffn_dim=64, heads=4, layers=12, conv_pos=16, conv_pos_groups=4, final_dim=final_dim,
                      label_embs=None)
    net = build_hubert(arch)
    net.load_state_dict(seeded_state(net.state_dict(), seed), strict=True, assign=True)
    return HubertContentModel(net=net.eval(), default_version="v1")


def index_vectors(dim: int, rows: int = 300, seed: int = 11) -> np.ndarray:
    """The vectors of the retrieval index (an exact IndexFlatL2 over them), float32."""
    return (np.random.default_rng(seed).standard_normal((rows, dim)) * 0.8).astype(np.float32)


def rvc_int16(audio: np.ndarray) -> np.ndarray:
    """RVC's writer: scale by 32768 (divided by ``peak / 0.99`` when that exceeds 1), truncate."""
    peak = float(np.abs(audio).max()) / 0.99
    scale = 32768.0 / peak if peak > 1 else 32768.0
    return (np.asarray(audio) * scale).astype(np.int16)
