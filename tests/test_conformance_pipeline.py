"""rvcqa's conversion pipeline against RVC's and Applio's own ``Pipeline.pipeline``, step by step.

The vectors (``tests/data/pipeline/pipeline_cases.npz``, cases in ``tests/data/pipeline/cases.json``)
were computed by running RVC-WebUI 20240604's ``infer/modules/vc/pipeline.py`` and Applio 3.x's
``rvc/infer/pipeline.py`` themselves on the same inputs: the LJ Speech fixture clip, the synthesizer
conformance models (``tests/data/conformance``, RVC's own classes) with noise off, an exact faiss index
over seeded vectors, and, in place of the trackers and HuBERT checkpoints, the seeded stand-ins of
:mod:`conformance_helpers` (an F0 track, a 12-layer fairseq-layout HuBERT, rvcqa's stand-in
features). What is compared is each pipeline step: F0 transposition and coarse mapping, harvest's
median filter, the embedder's layer, index blend, upsampling and ``protect``, padding and splitting,
the RMS mix, resampling, and the written audio.
"""
from __future__ import annotations

import dataclasses

import json
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from conformance_helpers import clip16k, fake_f0, index_vectors, rel_l2, rvc_int16, tiny_hubert

DATA = Path(__file__).parent / "data"
CASES = {c["name"]: c for c in json.loads((DATA / "pipeline" / "cases.json").read_text())}
VECTORS = np.load(DATA / "pipeline" / "pipeline_cases.npz")
#: RVC writes int16: our float output, written the same way, may differ by an LSB here and there
MAX_AUDIO_REL = 1e-3
MAX_FEATURE_REL = 1e-5


pytestmark = pytest.mark.usefixtures("one_torch_thread")


class _Recorder:
    """Wraps the synthesizer and keeps what the pipeline fed it, chunk by chunk."""

    def __init__(self, synth: Any) -> None:
        self.synth, self.calls = synth, []
        self.sample_rate, self.f0 = synth.sample_rate, synth.f0

    def infer(self, phone: torch.Tensor, lengths: torch.Tensor, pitch: Any, nsff0: Any, sid: torch.Tensor,
              **kw: Any) -> torch.Tensor:
        self.calls.append((phone.numpy().copy(), None if pitch is None else pitch.numpy().copy(),
                           None if nsff0 is None else nsff0.numpy().copy()))
        return self.synth.infer(phone, lengths, pitch, nsff0, sid, **kw)


def _fake_pyworld() -> types.ModuleType:
    mod = types.ModuleType("pyworld")
    mod.harvest = lambda x, fs, f0_ceil, f0_floor, frame_period: (fake_f0(len(x) // 160 + 1), None)  # type: ignore[attr-defined]
    mod.stonemask = lambda x, f0, t, fs: f0  # type: ignore[attr-defined]
    mod.dio = mod.harvest  # type: ignore[attr-defined]
    return mod


def _convert(case: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> tuple[Any, _Recorder]:
    import rvcqa.features.f0 as f0mod
    from rvcqa.convert import Converter, PipelineSettings, Retrieval
    from rvcqa.features.standin import StandInContent
    from rvcqa.synth import load_synthesizer

    version = case["model"][:2]
    dim = 256 if version == "v1" else 768
    method = case.get("f0_method", "rmvpe")
    if method == "harvest":
        monkeypatch.setitem(__import__("sys").modules, "pyworld", _fake_pyworld())
    else:
        monkeypatch.setattr(f0mod, "extract_f0", lambda wav16k, **kw: fake_f0(np.asarray(wav16k).size // 160 + 1))
    content: Any
    if case["content"] == "hubert":
        hubert = tiny_hubert()
        trainer = "applio" if case["flavour"] == "applio" else "rvc"
        content = dataclasses.replace(hubert, trainer=trainer).for_version(version)
    else:
        content = StandInContent(dim, 5)
    retrieval = None
    if case.get("index_rate", 0):
        faiss = pytest.importorskip("faiss", reason="the index extra (faiss-cpu) is not installed")
        vectors = index_vectors(dim)
        index = faiss.IndexFlatL2(dim)
        index.add(vectors)
        retrieval = Retrieval(index, vectors)
    settings = PipelineSettings(
        transpose=case.get("transpose", 0), f0_method="harvest" if method == "harvest" else "pyin",
        index_rate=case.get("index_rate", 0), protect=case.get("protect", 0.33),
        rms_mix_rate=case.get("rms_mix_rate", 1.0), x_query=case.get("x_query", 6), x_center=case.get("x_center", 38),
        x_max=case.get("x_max", 41), speaker_id=case.get("sid", 0), noise_scale=0.0, source_noise=False,
        filter_radius=case.get("filter_radius", 3), resample_sr=case.get("resample_sr", 0), flavour=case["flavour"],
    )
    synth = _Recorder(load_synthesizer(DATA / "conformance" / f"{case['model']}.pth"))
    return Converter(synth, content, settings=settings, retrieval=retrieval).convert(clip16k(case["seconds"])), synth


def _written(case: dict[str, Any], audio: np.ndarray) -> np.ndarray:
    """What each program hands back: RVC int16; Applio float, divided by ``peak / 0.99`` above 1."""
    if case["flavour"] == "rvc":
        return rvc_int16(audio).astype(np.float64)
    peak = float(np.abs(audio).max()) / 0.99
    return audio / peak if peak > 1 else audio


@pytest.mark.parametrize("name", sorted(CASES))
def test_pipeline_matches_upstream(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES[name]
    ref = {k.split(".", 1)[1]: VECTORS[k] for k in VECTORS.files if k.startswith(name + ".")}
    conv, synth = _convert(case, monkeypatch)
    assert conv.chunks == len(synth.calls) == int(ref["chunks"])
    phone = np.concatenate([p[0, :, :8] for p, _, _ in synth.calls])
    assert phone.shape == ref["phone8"].shape
    assert rel_l2(phone, ref["phone8"]) < MAX_FEATURE_REL, "content features fed to the synthesizer"
    if "pitch" in ref:
        np.testing.assert_array_equal(np.concatenate([p[0] for _, p, _ in synth.calls]), ref["pitch"])
        np.testing.assert_allclose(np.concatenate([f[0] for _, _, f in synth.calls]), ref["pitchf"], rtol=1e-6)
    else:
        assert all(p is None and f is None for _, p, f in synth.calls)
    stride = case["stride"]
    out = _written(case, conv.output)[::stride]
    assert conv.sample_rate == (case.get("resample_sr") or int(synth.sample_rate))
    assert out.shape == ref["audio"].shape
    assert rel_l2(out, ref["audio"]) < MAX_AUDIO_REL
