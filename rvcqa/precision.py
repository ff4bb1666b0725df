"""Half-precision inference against fp32: does a model stay finite and close in fp16?

RVC runs inference in fp16 (``is_half``) on most GPUs; some models overflow there (activations past
65504 turn into Inf, then NaN), which fp32 tests never show. This runs the same deterministic inputs
through the model in fp32 and fp16 on one device and compares the outputs. fp16 on CPU works where
this torch build implements the ops in half; where it does not, :func:`half_support` says why.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

from rvcqa.resynth import SegmentInputs

#: fp16 vs fp32 output: RMS of the difference over the RMS of the fp32 output. fp16 rounds each
#: op to ~1e-3 relative (10-bit mantissa); through the whole network that stays at a few percent.
#: 0.1 (-20 dB) is well above that and well below an audible failure (overflow gives Inf/NaN or
#: differences of the signal's own size, ratio ~1).
FP16_TOLERANCE = 0.1


@dataclass
class HalfPrecision:
    """fp16 output compared with fp32 on the same inputs."""

    device: str
    supported: bool
    reason: str = ""  # why fp16 could not run, when it could not
    nonfinite: int = 0  # NaN/Inf samples in the fp16 output
    samples: int = 0
    relative_error: Optional[float] = None  # rms(fp16 - fp32) / rms(fp32), max over inputs
    peak_fp32: Optional[float] = None

    @property
    def finite(self) -> bool:
        return self.supported and self.nonfinite == 0

    def within(self, tolerance: float = FP16_TOLERANCE) -> bool:
        return self.finite and self.relative_error is not None and self.relative_error <= tolerance


def half_support(device: str = "cpu") -> tuple[bool, str]:
    """Whether this torch runs the synthesizer's kinds of ops in fp16 on ``device`` (and why not)."""
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        return False, "no CUDA device"
    try:
        x = torch.randn(1, 4, 32, device=device, dtype=torch.float16)
        conv = torch.nn.Conv1d(4, 4, 3, padding=1).to(device, torch.float16)
        up = torch.nn.ConvTranspose1d(4, 4, 4, stride=2).to(device, torch.float16)
        y = up(torch.nn.functional.leaky_relu(conv(x), 0.1))
        torch.nn.functional.layer_norm(y.transpose(1, 2), (4,))
        torch.softmax(y, dim=-1)
        torch.sin(y).cumsum(-1)
    except (RuntimeError, NotImplementedError, TypeError) as exc:
        return False, f"torch {torch.__version__} cannot run fp16 inference on {device}: {str(exc).splitlines()[0]}"
    return True, ""


def compare_half_precision(record: Any, inputs: Sequence[SegmentInputs], *, device: str = "cpu") -> HalfPrecision:
    """Run ``record`` (anything :func:`rvcqa.synth.load_synthesizer` takes) in fp32 and fp16 on ``inputs``."""
    import torch

    from rvcqa.resynth import run_model
    from rvcqa.synth import load_synthesizer

    ok, why = half_support(device)
    if not ok:
        return HalfPrecision(device, False, why)
    full = load_synthesizer(record, device=device, dtype=torch.float32)
    try:
        half = load_synthesizer(record, device=device, dtype=torch.float16)
        outs = [(run_model(full, x), run_model(half, x)) for x in inputs]
    except (RuntimeError, NotImplementedError) as exc:
        return HalfPrecision(device, False, f"fp16 inference failed on {device}: {str(exc).splitlines()[0]}")
    result = HalfPrecision(device, True)
    errs: list[float] = []
    for a, b in outs:
        result.samples += int(b.size)
        bad = int(np.count_nonzero(~np.isfinite(b)))
        result.nonfinite += bad
        peak = float(np.max(np.abs(a))) if a.size else 0.0
        result.peak_fp32 = peak if result.peak_fp32 is None else max(result.peak_fp32, peak)
        ref = float(np.sqrt(np.mean(np.square(a, dtype=np.float64)))) if a.size else 0.0
        if not bad and ref > 0:
            n = min(a.size, b.size)
            diff = b[:n].astype(np.float64) - a[:n].astype(np.float64)
            errs.append(float(np.sqrt(np.mean(np.square(diff)))) / ref)
    result.relative_error = max(errs) if errs else None
    return result
