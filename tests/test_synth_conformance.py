"""Our synthesizer reproduces RVC's own output (tests/data/conformance, written by RVC's classes).

This is the acceptance test for rvcqa.synth: with every random draw off, ``infer`` must equal
RVC's ``infer(...)[0]`` to float32 rounding for all eight variants.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rvcqa.synth import load_synthesizer

DATA = Path(__file__).parent / "data" / "conformance"
CASES = [c["name"] for c in json.loads((DATA / "index.json").read_text())]
MAX_REL_L2 = 1e-5


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _inputs(name: str) -> dict[str, torch.Tensor | None]:
    d = np.load(DATA / f"{name}.npz")
    get = lambda k: torch.from_numpy(d[k]) if k in d.files else None  # noqa: E731
    return {k: get(k) for k in ("phone", "phone_lengths", "pitch", "nsff0", "sid", "audio")}


def _rel_l2(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def test_all_eight_cases_present() -> None:
    assert len(CASES) == 8
    for name in CASES:
        assert (DATA / f"{name}.pth").is_file() and (DATA / f"{name}.npz").is_file()


@pytest.mark.parametrize("name", CASES)
def test_matches_rvc_output(name: str) -> None:
    synth = load_synthesizer(DATA / f"{name}.pth")
    x = _inputs(name)
    out = synth.infer(
        x["phone"], x["phone_lengths"], x["pitch"], x["nsff0"], x["sid"], noise_scale=0, source_noise=False
    )
    ref = x["audio"].numpy()
    assert out.shape == ref.shape
    assert out.dtype == torch.float32  # fp16 file, fp32 compute on CPU
    err = _rel_l2(out.numpy(), ref)
    assert err <= MAX_REL_L2, f"{name}: relative L2 error {err:.3e}"


@pytest.mark.parametrize("name", ["v2_48k_f0", "v1_32k_f0"])
def test_matches_rvc_output_when_decoded_in_small_chunks(name: str) -> None:
    """Chunked decoding (tiny chunks, so every chunk boundary is exercised) is still exact."""
    synth = load_synthesizer(DATA / f"{name}.pth")
    x = _inputs(name)
    out = synth.infer(
        x["phone"], x["phone_lengths"], x["pitch"], x["nsff0"], x["sid"],
        noise_scale=0, source_noise=False, chunk_frames=5,
    )
    assert _rel_l2(out.numpy(), x["audio"].numpy()) <= MAX_REL_L2


def test_loads_from_record_and_dict_alike() -> None:
    """A path, the project's InferenceModel record and a plain dict give the same network."""
    checkpoint = pytest.importorskip("rvcqa.checkpoint")
    path = DATA / "v2_40k_f0.pth"
    x = _inputs("v2_40k_f0")
    raw = torch.load(path, map_location="cpu", weights_only=True)
    outs = []
    for source in (path, str(path), checkpoint.load_inference_model(path), dict(raw)):
        synth = load_synthesizer(source)
        outs.append(
            synth.infer(x["phone"], x["phone_lengths"], x["pitch"], x["nsff0"], x["sid"],
                        noise_scale=0, source_noise=False)
        )
    for o in outs[1:]:
        assert torch.equal(o, outs[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("name", ["v2_48k_f0", "v2_48k_nof0"])
def test_matches_rvc_output_on_cuda(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # TF32 convolutions (torch's CUDA default) round to 10-bit mantissas; compare in true fp32.
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    synth = load_synthesizer(DATA / f"{name}.pth", device="cuda")
    x = _inputs(name)
    out = synth.infer(
        x["phone"], x["phone_lengths"], x["pitch"], x["nsff0"], x["sid"], noise_scale=0, source_noise=False
    )
    assert out.is_cuda
    assert _rel_l2(out.cpu().numpy(), x["audio"].numpy()) <= 1e-4  # cuDNN summation order
