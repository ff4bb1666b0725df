"""Our synthesizer reproduces Applio's for its three vocoders (HiFi-GAN, MRF HiFi-GAN, RefineGAN).

Vectors: ``../shared/reference/conformance/applio/`` beside the checkout (written by Applio's own
classes; one MRF case is also copied into tests/data/applio). With every random draw off,
``infer`` must equal Applio's ``infer(...)[0]`` to relative L2 <= 1e-4, for both input lengths
(RefineGAN's resampling rates depend on the length).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np
import pytest
import torch

from rvcqa.errors import SynthesizerLoadError
from rvcqa.synth import expected_inference_keys, load_synthesizer

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "conformance" / "applio"
LOCAL = Path(__file__).parent / "data" / "applio"
NAMES = [f"applio_{v}_{sr}k" for v in ("hifigan", "mrf_hifigan", "refinegan") for sr in (32, 40, 48)]
VOCODER = {"hifigan": "HiFi-GAN", "mrf_hifigan": "MRF HiFi-GAN", "refinegan": "RefineGAN"}
KEYS = {"HiFi-GAN": 457, "MRF HiFi-GAN": 460, "RefineGAN": 485}
MAX_REL_L2 = 1e-4
# This case's text encoder amplifies float32 rounding about 5x per attention layer: our own fp32
# and fp64 results differ by 3.4e-3 (test_ill_conditioned_case_is_measured), so Applio's fp32
# output is only defined to a few 1e-4 on any other machine's BLAS.
ILL_CONDITIONED = {"applio_mrf_hifigan_32k": 3e-4}


def _case(name: str) -> Optional[Path]:
    for folder in (SHARED, LOCAL):
        if (folder / f"{name}.pth").is_file() and (folder / f"{name}.npz").is_file():
            return folder
    return None


def _folder(name: str) -> Path:
    folder = _case(name)
    if folder is None:
        pytest.skip(f"Applio conformance vector {name} not found in {SHARED} (shared folder beside the checkout)")
    return folder


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _run(synth, d, suffix: str = "", **kw) -> np.ndarray:
    g = lambda k: torch.from_numpy(d[k + suffix])  # noqa: E731
    out = synth.infer(g("phone"), g("phone_lengths"), g("pitch"), g("nsff0"), g("sid"),
                      noise_scale=0, source_noise=False, **kw)
    return out.numpy()


def _rel_l2(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a.astype(np.float64) - b) / np.linalg.norm(b))


def test_index_lists_the_nine_cases() -> None:
    folder = _folder(NAMES[0])
    index = {c["name"]: c for c in json.loads((folder / "index.json").read_text())}
    assert sorted(index) == sorted(NAMES)
    for name, case in index.items():
        assert case["keys"] == KEYS[case["vocoder"]]


@pytest.mark.parametrize("name", NAMES)
def test_matches_applio_output(name: str) -> None:
    folder = _folder(name)
    synth = load_synthesizer(folder / f"{name}.pth")
    assert synth.vocoder == VOCODER[name[len("applio_"):-4]]
    d = np.load(folder / f"{name}.npz")
    for suffix in ("", "_1"):
        ref = d["audio" + suffix]
        out = _run(synth, d, suffix)
        assert out.shape == ref.shape and out.dtype == np.float32
        err = _rel_l2(out, ref)
        assert err <= ILL_CONDITIONED.get(name, MAX_REL_L2), f"{name}{suffix}: relative L2 error {err:.3e}"


def test_ill_conditioned_case_is_measured() -> None:
    """The looser bar above is earned: for that case fp32 vs fp64 of the same maths differ > 1e-3."""
    name = "applio_mrf_hifigan_32k"
    folder = _folder(name)
    d = np.load(folder / f"{name}.npz")
    gap32_64 = _rel_l2(_run(load_synthesizer(folder / f"{name}.pth"), d),
                       _run(load_synthesizer(folder / f"{name}.pth", dtype=torch.float64), d).astype(np.float64))
    assert gap32_64 > 1e-3


@pytest.mark.parametrize("name", ["applio_mrf_hifigan_48k", "applio_refinegan_40k"])
def test_key_table_matches_the_file(name: str) -> None:
    folder = _folder(name)
    raw = torch.load(folder / f"{name}.pth", map_location="cpu", weights_only=True)
    table = expected_inference_keys(raw["config"], raw["version"], raw["f0"], extra=raw)
    assert len(table) == KEYS[raw["vocoder"]]
    assert table == {k: tuple(v.shape) for k, v in raw["weight"].items()}
    # without the vocoder entry the keys alone tell the decoder
    assert expected_inference_keys(raw["config"], raw["version"], raw["f0"], weight=raw["weight"]) == table


def _g_checkpoint_record(raw: dict) -> dict:
    """What the sweep builds from an Applio G_*.pth: fp32, parametrization names, no vocoder entry."""
    weight = {}
    for k, v in raw["weight"].items():
        k = k.replace(".weight_g", ".parametrizations.weight.original0").replace(
            ".weight_v", ".parametrizations.weight.original1")
        weight[k] = v.float()
    return {"weight": weight, "config": raw["config"], "version": raw["version"], "f0": raw["f0"]}


@pytest.mark.parametrize("name", ["applio_mrf_hifigan_48k", "applio_refinegan_32k"])
def test_g_checkpoint_naming_loads_and_detects_vocoder(name: str) -> None:
    folder = _folder(name)
    raw = torch.load(folder / f"{name}.pth", map_location="cpu", weights_only=True)
    record = _g_checkpoint_record(raw)
    assert any(".parametrizations.weight.original0" in k for k in record["weight"])
    synth = load_synthesizer(record)
    assert synth.vocoder == raw["vocoder"]
    assert any("renamed" in n for n in synth.load_notes)
    d = np.load(folder / f"{name}.npz")
    assert _rel_l2(_run(synth, d), d["audio"]) <= MAX_REL_L2


@pytest.mark.parametrize("name", ["applio_mrf_hifigan_48k", "applio_refinegan_32k"])
def test_strict_missing_key_is_named(name: str) -> None:
    folder = _folder(name)
    raw = torch.load(folder / f"{name}.pth", map_location="cpu", weights_only=True)
    victim = next(k for k in raw["weight"] if k.startswith("dec.") and k.endswith("weight_v"))
    del raw["weight"][victim]
    with pytest.raises(SynthesizerLoadError) as err:
        load_synthesizer(raw)
    msg = str(err.value)
    assert f"1 missing ({victim})" in msg and raw["vocoder"] in msg


def test_vocoder_entry_contradicting_keys_is_named() -> None:
    name = "applio_mrf_hifigan_48k"
    raw = torch.load(_folder(name) / f"{name}.pth", map_location="cpu", weights_only=True)
    raw["vocoder"] = "RefineGAN"
    with pytest.raises(SynthesizerLoadError, match="names vocoder 'RefineGAN' but its decoder keys are those of "
                                                    "'MRF HiFi-GAN'"):
        load_synthesizer(raw)
    raw["vocoder"] = "BigVGAN"
    with pytest.raises(SynthesizerLoadError, match="unknown vocoder 'BigVGAN'"):
        load_synthesizer(raw)


def test_applio_vocoder_without_pitch_is_refused() -> None:
    name = "applio_refinegan_48k"
    raw = torch.load(_folder(name) / f"{name}.pth", map_location="cpu", weights_only=True)
    raw["f0"] = 0
    with pytest.raises(SynthesizerLoadError, match="only for pitch"):
        load_synthesizer(raw)


@pytest.mark.parametrize("name", ["applio_mrf_hifigan_48k", "applio_refinegan_32k"])
def test_span_decoding_equals_one_pass(name: str) -> None:
    """Long inputs are decoded in overlapping spans; cutting at span edges changes nothing."""
    folder = _folder(name)
    synth = load_synthesizer(folder / f"{name}.pth")
    d = np.load(folder / f"{name}.npz")
    g = lambda k: torch.from_numpy(d[k])  # noqa: E731
    reps = 8  # 192 frames: several spans of 40 with their context
    phone, pitch, nsff0 = g("phone").repeat(1, reps, 1), g("pitch").repeat(1, reps), g("nsff0").repeat(1, reps)
    lengths = torch.tensor([phone.shape[1]])
    args = (phone, lengths, pitch, nsff0, g("sid"))
    whole = synth.infer(*args, noise_scale=0, source_noise=False, chunk_frames=None)
    spans = synth.infer(*args, noise_scale=0, source_noise=False, chunk_frames=40)
    assert synth.dec.context_frames() < 100
    assert _rel_l2(spans.numpy(), whole.numpy()) <= 1e-5


def test_refinegan_noise_is_drawn_only_when_asked() -> None:
    name = "applio_refinegan_40k"
    folder = _folder(name)
    synth = load_synthesizer(folder / f"{name}.pth")
    d = np.load(folder / f"{name}.npz")
    g = lambda k: torch.from_numpy(d[k])  # noqa: E731
    args = (g("phone"), g("phone_lengths"), g("pitch"), g("nsff0"), g("sid"))
    quiet = synth.infer(*args, noise_scale=0, source_noise=False)
    gen = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    noisy_a = synth.infer(*args, noise_scale=0, source_noise=True, generator=gen())
    noisy_b = synth.infer(*args, noise_scale=0, source_noise=True, generator=gen())
    assert torch.equal(noisy_a, noisy_b)
    assert not torch.equal(noisy_a, quiet)


@pytest.mark.parametrize("name", ["applio_mrf_hifigan_48k", "applio_refinegan_32k"])
def test_structure_layer_count_derives_applio_decoders(name: str) -> None:
    """The structure check counts keys of the decoder the file has, not HiFi-GAN's."""
    from rvcqa.checkpoint import load_inference_model
    from rvcqa.checks.structure.weights import check_layer_count
    from rvcqa.findings import Status

    model = load_inference_model(_folder(name) / f"{name}.pth")
    ok = check_layer_count(model)
    assert ok.status is Status.PASSED, ok.message
    assert ok.measured == KEYS[model.extra["vocoder"]]
    del model.weight[next(k for k in model.weight if k.startswith("dec."))]
    bad = check_layer_count(model)
    assert bad.status is Status.FAILED and "1 missing" in bad.message


@pytest.mark.parametrize("vocoder", ["MRF HiFi-GAN", "RefineGAN"])
def test_applio_vocoder_fixture_runs_through_the_checks(vocoder: str) -> None:
    """An Applio folder trained with another vocoder loads strictly, synthesizes, and passes the
    structure, provenance, data and log checks; only the RVC-compatibility check names the vocoder."""
    from fixtures import catalog
    from rvcqa.checks import dataset, provenance, structure, trainlog
    from rvcqa.context import ModelContext, Options
    from rvcqa.findings import Status
    from rvcqa.modeldir import discover

    root = catalog.build_variant("v2", "40k", True, layout="applio", vocoder=vocoder)
    ctx = ModelContext(discover(root), Options())
    assert ctx.inference_model().extra["vocoder"] == vocoder
    synth = ctx.synthesizer()
    assert synth.vocoder == vocoder
    frames = 30
    gen = torch.Generator().manual_seed(0)
    audio = synth.infer(torch.randn(1, frames, 768, generator=gen), torch.tensor([frames]),
                        torch.full((1, frames), 60), torch.full((1, frames), 150.0), 0, generator=gen)
    assert audio.shape == (1, 1, frames * synth.hop) and bool(torch.isfinite(audio).all())
    failed = {cid: f.message for m in (structure, provenance, dataset, trainlog)
              for cid, f in ctx.findings(m).items() if f.status is Status.FAILED}
    assert set(failed) <= {"structure.vocoder"}, failed
    assert ctx.findings(structure)["structure.layer_count"].status is Status.PASSED
    assert ctx.findings(structure)["structure.strict_load"].status is Status.PASSED


def test_sweep_loads_every_applio_refinegan_candidate() -> None:
    """The epoch sweep builds each saved epoch's network with the decoder the folder was trained with."""
    from fixtures import catalog
    from rvcqa import sweep
    from rvcqa.context import ModelContext, Options
    from rvcqa.facts import network_config
    from rvcqa.modeldir import discover
    from rvcqa.sweep.loading import NetworkCache, read_candidate

    ctx = ModelContext(discover(catalog.build_variant("v2", "40k", True, layout="applio", vocoder="RefineGAN")),
                       Options())
    cands = sweep.find_candidates(ctx)
    assert len(cands) == 2
    facts = network_config(ctx)
    cache = NetworkCache()
    assert {cache.synthesizer(read_candidate(ctx, c, facts)).vocoder for c in cands} == {"RefineGAN"}
