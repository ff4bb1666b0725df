"""Strict loading: files RVC would load with ``strict=False`` (and then run with random layers)
are refused with a message that counts and names the bad keys and says the likely cause."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from rvcqa.errors import SynthesizerLoadError
from rvcqa.synth import build_synthesizer, canonical_config, load_synthesizer
from rvcqa.synth.variants import narrow_config

DATA = Path(__file__).parent / "data" / "conformance"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _raw(name: str) -> dict[str, Any]:
    ckpt = torch.load(DATA / f"{name}.pth", map_location="cpu", weights_only=True)
    ckpt["weight"] = dict(ckpt["weight"])
    return ckpt


def _run(synth, name: str) -> torch.Tensor:
    d = np.load(DATA / f"{name}.npz")
    get = lambda k: torch.from_numpy(d[k]) if k in d.files else None  # noqa: E731
    return synth.infer(get("phone"), get("phone_lengths"), get("pitch"), get("nsff0"), get("sid"),
                       noise_scale=0, source_noise=False)


def _error(source: Any, **kw: Any) -> str:
    with pytest.raises(SynthesizerLoadError) as info:
        load_synthesizer(source, **kw)
    return str(info.value)


def test_v1_weights_with_version_v2() -> None:
    ckpt = _raw("v1_40k_f0")
    ckpt["version"] = "v2"
    msg = _error(ckpt)
    assert "weights are v1 (emb_phone 256) but version says v2" in msg
    assert "1 mis-shaped (enc_p.emb_phone.weight: file [16, 256] vs network [16, 768])" in msg
    assert "0 missing" not in msg and "unexpected" not in msg


def test_v2_weights_with_version_v1() -> None:
    ckpt = _raw("v2_48k_f0")
    ckpt["version"] = "v1"
    assert "weights are v2 (emb_phone 768) but version says v1" in _error(ckpt)


def test_nono_weights_into_f0_model() -> None:
    ckpt = _raw("v2_48k_nof0")
    ckpt["f0"] = 1
    msg = _error(ckpt)
    assert "11 missing (" in msg  # emb_pitch + m_source (2) + noise_convs (8)
    assert "enc_p.emb_pitch.weight" in msg
    assert "no-f0 ('nono') model" in msg and "f0=1" in msg
    err_keys = _exc(ckpt).missing  # type: ignore[attr-defined]
    assert len(err_keys) == 11


def _exc(source: Any) -> SynthesizerLoadError:
    with pytest.raises(SynthesizerLoadError) as info:
        load_synthesizer(source)
    return info.value


def test_f0_weights_into_nono_model() -> None:
    ckpt = _raw("v2_48k_f0")
    ckpt["f0"] = 0
    msg = _error(ckpt)
    assert "11 unexpected (" in msg
    assert "pitch (f0) model" in msg and "f0=0" in msg


def test_40k_config_with_48k_weights() -> None:
    ckpt = _raw("v2_48k_f0")
    ckpt["config"] = _raw("v2_40k_f0")["config"]
    msg = _error(ckpt)
    assert "upsample kernel mismatch: config says 40k ([16, 16, 4, 4]), weights are 48k ([24, 20, 4, 4])" in msg
    assert "mis-shaped (dec.ups.0.weight_v: file [32, 16, 24] vs network [32, 16, 16]" in msg


def test_rvc_0618_bug_v1_48k_list_on_v2_48k_weights() -> None:
    """RVC 2.0.230618 extracted v2-48k checkpoints with the v1 48k list (5 stages)."""
    ckpt = _raw("v2_48k_f0")
    bad = narrow_config(canonical_config("v1", 48000))
    ckpt["config"] = bad
    msg = _error(ckpt)
    assert "upsample kernel mismatch: config says 48k ([16, 16, 4, 4, 4]), weights are 48k ([24, 20, 4, 4])" in msg
    assert "missing" in msg  # the 5th stage


def test_parametrization_names_are_renamed_by_default() -> None:
    ckpt = _raw("v2_48k_f0")
    renamed = {}
    for k, v in ckpt["weight"].items():
        k = k.replace(".weight_g", ".parametrizations.weight.original0")
        renamed[k.replace(".weight_v", ".parametrizations.weight.original1")] = v
    ckpt["weight"] = renamed
    synth = load_synthesizer(ckpt)
    assert any("renamed 208" in n for n in synth.load_notes)
    torch.testing.assert_close(_run(synth, "v2_48k_f0"), _run(load_synthesizer(DATA / "v2_48k_f0.pth"), "v2_48k_f0"))
    msg = _error(ckpt, accept_parametrized=False)
    assert "208 missing" in msg and "208 unexpected" in msg
    assert "parametrization-style names" in msg and "expected weight_g/weight_v" in msg


def test_weight_norm_already_removed() -> None:
    ckpt = _raw("v2_40k_f0")
    w = ckpt["weight"]
    stem = "dec.ups.0"
    g, v = w.pop(stem + ".weight_g"), w.pop(stem + ".weight_v")
    w[stem + ".weight"] = torch._weight_norm(v.float(), g.float(), 0).half()
    msg = _error(ckpt)
    assert "2 missing (dec.ups.0.weight_g, dec.ups.0.weight_v)" in msg
    assert "1 unexpected (dec.ups.0.weight)" in msg
    assert "weight norm already removed" in msg


def test_renamed_and_extra_keys_are_listed() -> None:
    ckpt = _raw("v2_40k_f0")
    w = ckpt["weight"]
    w["module.dec.conv_pre.weight"] = w.pop("dec.conv_pre.weight")
    w["foo.bar"] = torch.zeros(1)
    exc = _exc(ckpt)
    msg = str(exc)
    assert "1 missing (dec.conv_pre.weight)" in msg
    assert "2 unexpected (module.dec.conv_pre.weight, foo.bar)" in msg
    assert "DDP 'module.' prefix" in msg
    assert exc.unexpected == ["module.dec.conv_pre.weight", "foo.bar"]  # type: ignore[attr-defined]


def test_config_widths_differ() -> None:
    ckpt = _raw("v2_40k_f0")
    ckpt["config"] = canonical_config("v2", 40000)  # real widths, narrow weights
    msg = _error(ckpt)
    assert "config widths differ from the weights" in msg
    assert "hidden_channels 192 vs 16" in msg and "upsample_initial_channel 512 vs 32" in msg


def test_resblock_type_mismatch() -> None:
    ckpt = _raw("v2_40k_f0")
    ckpt["config"] = list(ckpt["config"])
    ckpt["config"][9] = "2"
    assert "resblock type mismatch: config says '2'" in _error(ckpt)


def test_applio_vocoder_named() -> None:
    ckpt = _raw("v2_40k_f0")
    ckpt["vocoder"] = "RefineGAN"
    del ckpt["weight"]["dec.conv_post.weight"]
    assert "the file names vocoder 'RefineGAN' but its decoder keys are those of 'HiFi-GAN'" in _error(ckpt)


def test_message_truncates_long_lists() -> None:
    ckpt = _raw("v2_40k_f0")
    ckpt["version"] = "v1"
    ckpt["f0"] = 0
    msg = _error(ckpt)
    assert "…" in msg
    assert msg.count("Likely cause") == 1
    assert str(DATA) not in msg  # dict input: no path invented


def test_path_label_in_message(tmp_path: Path) -> None:
    ckpt = _raw("v2_40k_f0")
    ckpt["version"] = "v1"
    path = tmp_path / "bad.pth"
    torch.save(ckpt, path)
    assert _error(path).startswith(str(path))


def test_not_a_model() -> None:
    assert "no 'weight' entry" in _error({"foo": 1})
    assert "training checkpoint" in _error({"model": {}, "iteration": 3})
    cfg_short = _raw("v2_40k_f0")
    cfg_short["config"] = cfg_short["config"][:17]
    assert "18-element" in _error(cfg_short)
    unknown = _raw("v2_40k_f0")
    unknown["version"] = "v3"
    assert "unknown model version 'v3'" in _error(unknown)
    with pytest.raises(TypeError):
        load_synthesizer(42)


def test_speaker_count_taken_from_emb_g() -> None:
    ckpt = _raw("v2_40k_f0")
    ckpt["config"] = list(ckpt["config"])
    ckpt["config"][-3] = 109  # as written by savee; the weights have 4 speakers
    synth = load_synthesizer(ckpt)
    assert synth.emb_g.num_embeddings == 4
    assert any("emb_g rows 4" in n for n in synth.load_notes)


def test_loaded_model_is_folded_fp32_and_frozen() -> None:
    synth = load_synthesizer(DATA / "v2_48k_f0.pth")
    keys = synth.state_dict().keys()
    assert not any(k.endswith((".weight_g", ".weight_v")) for k in keys)
    assert all(p.dtype == torch.float32 and not p.requires_grad for p in synth.parameters())
    assert not synth.training and synth.enc_q is None
    assert synth.sample_rate == 48000 and synth.hop == 480


def test_training_generator_state_dict_with_enc_q_loads() -> None:
    cfg = narrow_config(canonical_config("v2", 32000))
    net = build_synthesizer(cfg, "v2", True)
    sd = net.state_dict()
    assert len(sd) == 560
    synth = load_synthesizer({"weight": sd, "config": cfg, "version": "v2", "f0": 1})
    assert synth.enc_q is not None
    partial = {k: v for k, v in sd.items() if k != "enc_q.proj.bias"}
    assert "1 missing (enc_q.proj.bias)" in _error({"weight": partial, "config": cfg, "version": "v2", "f0": 1})


def test_float16_and_float64_dtypes() -> None:
    ref = _run(load_synthesizer(DATA / "v2_40k_f0.pth"), "v2_40k_f0")
    d64 = load_synthesizer(DATA / "v2_40k_f0.pth", dtype=torch.float64)
    out64 = _run(d64, "v2_40k_f0")
    assert out64.dtype == torch.float64
    torch.testing.assert_close(out64.float(), ref, rtol=1e-4, atol=1e-5)
