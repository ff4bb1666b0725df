"""fp16 inference (RVC's ``is_half``) against fp32: does the released model survive half precision?

RVC-WebUI and Applio run inference in fp16 on most GPUs. A model whose activations pass fp16's
largest value (65504) turns them into Inf and then NaN there, although every fp32 check passes.
This runs the same inputs (the first training segments, else a steady synthetic voice) through the
model in fp32 and fp16 on the run's device (:mod:`rvcqa.precision`). On CPU it runs where this
torch implements the synthesizer's ops in float16; bfloat16 is not a stand-in (RVC never uses it:
its 8-bit mantissa gives other errors, and its fp32 range hides exactly the overflow judged here).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from rvcqa.context import ModelContext
from rvcqa.errors import ModelDirError, RvcqaError
from rvcqa.findings import Finding, failed, passed, skipped
from rvcqa.precision import FP16_TOLERANCE
from rvcqa.resynth import SegmentInputs

CHECK_ID = "structure.fp16_inference"
CHECK_IDS: tuple[str, ...] = (CHECK_ID,)

DEFAULTS: dict[str, Any] = {
    # rms(fp16 - fp32) / rms(fp32) over the probe inputs (rvcqa.precision.FP16_TOLERANCE): fp16's
    # rounding keeps healthy models at a few percent; overflow gives Inf/NaN or a ratio near 1.
    "structure.fp16_inference.max_relative_error": FP16_TOLERANCE,
}

#: probe length per input: long enough to pass through every layer's receptive field, short
#: enough that two passes (fp32 + fp16) stay a small part of the perceptual suite
PROBE_FRAMES = 200  # 2 s at RVC's 100 frames/s
PROBE_SEGMENTS = 2


def _trimmed(x: SegmentInputs, frames: int) -> SegmentInputs:
    n = min(frames, x.frames)
    hop = x.target.size // max(1, x.frames)
    return SegmentInputs(phone=x.phone[:n], pitch=None if x.pitch is None else x.pitch[:n],
                         pitchf=None if x.pitchf is None else x.pitchf[:n], target=x.target[: n * hop],
                         frames=n, feature_frames=(n + 1) // 2, f0_frames=None if x.f0_frames is None else n)


def _synthetic(dim: int, hop: int, f0: bool) -> SegmentInputs:
    """Deterministic stand-in inputs: content-like features and a steady 180 Hz voice."""
    rng = np.random.default_rng(0)
    n = PROBE_FRAMES
    hz = np.full(n, 180.0, np.float32)
    coarse = np.full(n, 80, np.int64)
    return SegmentInputs(phone=(rng.standard_normal((n, dim)) * 0.5).astype(np.float32),
                         pitch=coarse if f0 else None, pitchf=hz if f0 else None,
                         target=np.zeros(n * hop, np.float32), frames=n, feature_frames=n // 2,
                         f0_frames=n if f0 else None)


def probe_inputs(ctx: ModelContext, synth: Any) -> tuple[list[SegmentInputs], str]:
    """The first training segments (cut to :data:`PROBE_FRAMES`), else synthetic inputs; and which."""
    from rvcqa.errors import AudioError
    from rvcqa.resynth import find_segments, load_segment_inputs
    from rvcqa.synth.synthesizer import phone_dim

    f0 = bool(getattr(synth, "f0", True))
    sr, hop, dim = int(synth.sample_rate), int(synth.hop), phone_dim(synth.version)
    try:
        found, _ = find_segments(ctx.md, need_f0=f0)
    except ModelDirError:
        found = []
    out: list[SegmentInputs] = []
    for seg in sorted((s for s in found if s.sample_rate == sr), key=lambda s: s.stem):
        try:
            out.append(_trimmed(load_segment_inputs(seg, sample_rate=sr, hop=hop, phone_dim=dim, f0=f0), PROBE_FRAMES))
        except (AudioError, RvcqaError):
            continue
        if len(out) == PROBE_SEGMENTS:
            return out, f"{len(out)} training segments"
    if out:
        return out, f"{len(out)} training segment"
    return [_synthetic(dim, hop, f0)], "synthetic inputs (no usable training segment)"


def _nonfinite_weights(record: Any) -> bool:
    """True when a stored tensor holds NaN/Inf: then fp16 has nothing of its own to show."""
    import torch

    weight = getattr(record, "weight", None)
    tensors = weight.values() if isinstance(weight, dict) else ()
    return any(isinstance(t, torch.Tensor) and t.is_floating_point() and not bool(torch.isfinite(t).all())
               for t in tensors)


def run(ctx: ModelContext) -> list[Finding]:
    from rvcqa.precision import compare_half_precision, half_support

    device = ctx.options.device
    try:
        synth = ctx.synthesizer()
        record = ctx.inference_model()
    except RvcqaError as error:
        return [skipped(CHECK_ID, f"{CHECK_ID}: {ctx.not_evaluated(error)}")]
    if _nonfinite_weights(record):
        return [skipped(CHECK_ID, f"{CHECK_ID}: not evaluated: the weights already hold NaN/Inf (see structure.finite)")]
    ok, why = half_support(device)
    if not ok:
        return [skipped(CHECK_ID, f"fp16 inference not evaluated on {device}: {why}")]
    inputs, source = probe_inputs(ctx, synth)
    result = compare_half_precision(record, inputs, device=device)
    if not result.supported:
        return [skipped(CHECK_ID, f"fp16 inference not evaluated on {device}: {result.reason}")]
    limit = float(ctx.threshold("structure.fp16_inference.max_relative_error",
                                DEFAULTS["structure.fp16_inference.max_relative_error"]))
    details = {"device": device, "inputs": source, "samples": result.samples, "nonfinite": result.nonfinite,
               "relative_error": result.relative_error, "peak_fp32": result.peak_fp32}
    name = ctx.md.inference_file.name if ctx.md.inference_file is not None else ctx.name
    cause = ("activations beyond fp16's range (65504) inside the network, typically in the decoder: fp32 "
             "hides them. Run this model with is_half off (RVC: config.is_half = False; Applio: uncheck "
             "half precision), or retrain/fine-tune from a healthy pretrain")
    if result.nonfinite:
        return [failed(CHECK_ID, f"fp16 inference (RVC's is_half) of {name} on {device} overflows: "
                                 f"{result.nonfinite} of {result.samples} output samples are NaN/Inf on {source}, "
                                 "while fp32 is finite", measured=result.nonfinite, expected=0,
                       details=details, cause=cause)]
    err = result.relative_error
    if err is None:
        return [skipped(CHECK_ID, f"fp32 output of {name} is silent on {source}: nothing to compare fp16 with")]
    ctx.record("structure.fp16_relative_error", round(err, 5))
    text = (f"fp16 vs fp32 inference of {name} on {device}: relative RMS difference {err:.4f} "
            f"(limit {limit:g}) on {source}")
    if err > limit:
        return [failed(CHECK_ID, f"fp16 inference (RVC's is_half) drifts from fp32: {text}", measured=round(err, 5),
                       expected=f"<= {limit:g}", details=details, cause=cause)]
    return [passed(CHECK_ID, text, measured=round(err, 5), expected=f"<= {limit:g}", details=details)]
