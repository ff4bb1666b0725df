"""fp16 inference against fp32 (RVC's ``is_half``): finite and close, on CPU where torch can, on
CUDA when there is a device; otherwise skipped with the reason."""
from __future__ import annotations

import numpy as np
import pytest


def _record(scale: float = 1.0):
    from fixtures.build_models import Spec, base_state, pretrained_state, variant_config

    spec = Spec()
    state = pretrained_state(spec, base_state(spec))
    weight = {k: v * scale if k.startswith("dec.conv_pre") else v for k, v in state.items() if "enc_q" not in k}
    return {"weight": weight, "config": variant_config("v2", "48k"), "version": "v2", "f0": 1}


def _inputs(frames: int = 120):
    from rvcqa.resynth import SegmentInputs

    rng = np.random.default_rng(0)
    f0 = np.full(frames, 180.0, np.float32)
    return [SegmentInputs(phone=rng.standard_normal((frames, 768)).astype(np.float32) * 0.5,
                          pitch=np.full(frames, 80, np.int64), pitchf=f0,
                          target=np.zeros(frames * 480, np.float32), frames=frames, feature_frames=frames // 2,
                          f0_frames=frames)]


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_fp16_inference_is_finite_and_close_to_fp32(device):
    import torch

    from rvcqa.precision import FP16_TOLERANCE, compare_half_precision, half_support

    torch.set_num_threads(1)
    ok, why = half_support(device)
    if not ok:
        pytest.skip(why)
    result = compare_half_precision(_record(), _inputs(), device=device)
    assert result.supported, result.reason
    assert result.finite and result.samples == 120 * 480
    assert result.relative_error is not None and result.within(FP16_TOLERANCE), result


def test_fp16_overflow_is_caught():
    """A model whose activations pass fp16's 65504 gives Inf/NaN in half precision: not within."""
    import torch

    from rvcqa.precision import compare_half_precision, half_support

    torch.set_num_threads(1)
    ok, why = half_support("cpu")
    if not ok:
        pytest.skip(why)
    result = compare_half_precision(_record(scale=1e6), _inputs(), device="cpu")
    assert result.supported
    assert not result.within(), result
    assert result.nonfinite > 0 or (result.relative_error or 0) > 0.1, result


def test_cuda_without_a_device_says_so():
    import torch

    from rvcqa.precision import compare_half_precision

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    result = compare_half_precision(_record(), _inputs(), device="cuda")
    assert not result.supported and result.reason == "no CUDA device"


def _context(name: str):
    from fixtures import catalog
    from rvcqa.context import ModelContext
    from rvcqa.modeldir import discover
    from rvcqa.profile import default_thresholds

    return ModelContext(discover(catalog.build_fixture(name)), thresholds=default_thresholds())


def test_gate_check_fails_on_fp16_overflow_and_names_the_cause():
    """The catalogue's fp16_overflow model: fp32 fine, fp16 all NaN/Inf -> one clear failure."""
    import torch

    from rvcqa.checks import precision
    from rvcqa.precision import half_support

    torch.set_num_threads(1)
    if not half_support("cpu")[0]:
        pytest.skip(half_support("cpu")[1])
    ctx = _context("fp16_overflow")
    finding = ctx.findings(precision)["structure.fp16_inference"]
    assert finding.failed, finding
    assert "overflows" in finding.message and "fp16_overflow.pth" in finding.message
    assert finding.details["nonfinite"] == finding.details["samples"] > 0
    assert "65504" in (finding.cause or "")


def test_gate_check_passes_a_model_that_fits_fp16():
    import torch

    from rvcqa.checks import precision

    torch.set_num_threads(1)
    finding = _context("structural_ok").findings(precision)["structure.fp16_inference"]
    assert finding.passed or finding.skipped, finding
    if finding.passed:
        assert finding.details["relative_error"] <= precision.DEFAULTS["structure.fp16_inference.max_relative_error"]


def test_gate_check_skips_with_the_root_cause_when_the_model_does_not_load():
    from rvcqa.checks import precision

    finding = _context("truncated").findings(precision)["structure.fp16_inference"]
    assert finding.skipped
    assert "not evaluated: truncated.pth could not be loaded (see structure.file_format)" in finding.message
