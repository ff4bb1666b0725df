"""HuBERT in plain torch: fairseq's key layout, safe loading, and outputs against a reference.

No real weights are needed: checkpoints are written here in fairseq's layout (key names and shapes
enumerated by hand below, not taken from rvcqa), with a small width so tests stay fast. The
reference forward pass is written with bare tensor ops, independently of rvcqa's modules.
Set ``RVCQA_HUBERT=/path/to/hubert_base.pt`` to also run the real-weight checks.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from rvcqa.errors import AudioError, CheckpointError, UnsafeCheckpointError
from rvcqa.features import ContentExtractor, FeatureModelError, content_frames
from rvcqa.features.hubert import (
    HubertArch,
    HubertContentModel,
    _eval_layer_spec,
    build_hubert,
    load_hubert,
    read_fairseq_checkpoint,
)

BASE = [(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2
TINY = dict(conv=[(24, 10, 5)] + [(24, 3, 2)] * 4 + [(24, 2, 2)] * 2, embed=32, ffn=64, heads=4,
            layers=12, pos_k=16, pos_g=4, final=16, labels=10)
TINY_SPEC = "[(24, 10, 5)] + [(24, 3, 2)] * 4 + [(24, 2, 2)] * 2"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --------------------------------------------------------------------------- fairseq layout

def fairseq_shapes(conv=BASE, embed=768, ffn=3072, layers=12, pos_k=128, pos_g=16, final=256,
                   labels=504, **_: Any) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of fairseq's HubertModel state dict (extractor_mode "default", no conv bias)."""
    s: dict[str, tuple[int, ...]] = {"mask_emb": (embed,), "label_embs_concat": (labels, final)}
    c_in = 1
    for i, (dim, k, _stride) in enumerate(conv):
        s[f"feature_extractor.conv_layers.{i}.0.weight"] = (dim, c_in, k)
        if i == 0:  # Fp32GroupNorm(dim, dim) is module 2 of the first block
            s["feature_extractor.conv_layers.0.2.weight"] = (dim,)
            s["feature_extractor.conv_layers.0.2.bias"] = (dim,)
        c_in = dim
    s["post_extract_proj.weight"] = (embed, c_in)
    s["post_extract_proj.bias"] = (embed,)
    s["encoder.pos_conv.0.bias"] = (embed,)
    s["encoder.pos_conv.0.weight_g"] = (1, 1, pos_k)  # weight norm over dim 2
    s["encoder.pos_conv.0.weight_v"] = (embed, embed // pos_g, pos_k)
    for i in range(layers):
        p = f"encoder.layers.{i}."
        for proj in ("k", "v", "q", "out"):
            s[p + f"self_attn.{proj}_proj.weight"] = (embed, embed)
            s[p + f"self_attn.{proj}_proj.bias"] = (embed,)
        for ln in ("self_attn_layer_norm", "final_layer_norm"):
            s[p + f"{ln}.weight"] = (embed,)
            s[p + f"{ln}.bias"] = (embed,)
        s[p + "fc1.weight"], s[p + "fc1.bias"] = (ffn, embed), (ffn,)
        s[p + "fc2.weight"], s[p + "fc2.bias"] = (embed, ffn), (embed,)
    s["encoder.layer_norm.weight"] = s["encoder.layer_norm.bias"] = (embed,)
    s["layer_norm.weight"] = s["layer_norm.bias"] = (c_in,)
    s["final_proj.weight"], s["final_proj.bias"] = (final, embed), (final,)
    return s


def random_state(shapes: dict[str, tuple[int, ...]], seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights of sensible scale: norms near 1, weights ~ 1/sqrt(fan_in)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for key, shape in shapes.items():
        t = torch.randn(shape, generator=g)
        if key.endswith("weight_g"):
            t = 1.0 + 0.2 * t.abs()
        elif "norm" in key or key.startswith("layer_norm") or ".conv_layers.0.2." in key:
            t = (1.0 if key.endswith("weight") else 0.0) + 0.1 * t
        elif len(shape) >= 2:
            t = t / math.sqrt(math.prod(shape[1:]))
        else:
            t = 0.1 * t
        out[key] = t
    return out


def tiny_cfg(**over: Any) -> dict[str, Any]:
    model = {"_name": "hubert", "conv_feature_layers": TINY_SPEC, "encoder_attention_heads": TINY["heads"],
             "encoder_embed_dim": TINY["embed"], "encoder_layers": TINY["layers"], "extractor_mode": "default",
             "layer_norm_first": False, "conv_pos": TINY["pos_k"], "conv_pos_groups": TINY["pos_g"],
             "final_dim": TINY["final"], "activation_fn": "gelu"}
    model.update(over)
    return {"common": {"fp16": True}, "model": model, "task": {"_name": "hubert_pretraining", "normalize": False}}


def save_tiny(path: Path, *, seed: int = 0, half: bool = False, **cfg_over: Any) -> dict[str, torch.Tensor]:
    state = random_state(fairseq_shapes(**TINY), seed)
    saved = {k: v.half() for k, v in state.items()} if half else state
    torch.save({"args": None, "cfg": tiny_cfg(**cfg_over), "model": saved, "task_state": {},
                "optimizer_history": [], "extra_state": {"epoch": 3}}, path)
    return state


@pytest.fixture
def tiny(tmp_path: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    path = tmp_path / "hubert_tiny.pt"
    return path, save_tiny(path)


def speechlike(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    y = 0.2 * np.sin(2 * np.pi * 140 * t) + 0.1 * np.sin(2 * np.pi * 280 * t) + 0.02 * rng.standard_normal(n)
    return y.astype(np.float32)


# --------------------------------------------------------------------------- reference forward

def _gelu(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def _ln(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + 1e-5) * w + b


def reference_hidden(sd: dict[str, torch.Tensor], wav: np.ndarray, *, heads: int, conv=TINY["conv"],
                     pos_g: int = TINY["pos_g"], pre_norm: bool = False) -> list[torch.Tensor]:
    """fairseq HuBERT's forward written out op by op: [encoder input, layer 1, ..., layer L]."""
    sd = {k: v.double() for k, v in sd.items()}
    x = torch.from_numpy(wav.astype(np.float64))[None, None]  # [1, 1, N]
    for i, (_dim, _k, stride) in enumerate(conv):
        x = torch.nn.functional.conv1d(x, sd[f"feature_extractor.conv_layers.{i}.0.weight"], stride=stride)
        if i == 0:  # group norm, one group per channel: statistics over time
            mu = x.mean(-1, keepdim=True)
            var = ((x - mu) ** 2).mean(-1, keepdim=True)
            x = (x - mu) / torch.sqrt(var + 1e-5)
            x = x * sd["feature_extractor.conv_layers.0.2.weight"][:, None] + sd["feature_extractor.conv_layers.0.2.bias"][:, None]
        x = _gelu(x)
    x = _ln(x.transpose(1, 2), sd["layer_norm.weight"], sd["layer_norm.bias"])
    x = x @ sd["post_extract_proj.weight"].T + sd["post_extract_proj.bias"]
    v, g = sd["encoder.pos_conv.0.weight_v"], sd["encoder.pos_conv.0.weight_g"]
    w = g * v / torch.sqrt((v ** 2).sum(dim=(0, 1), keepdim=True))
    k = v.shape[-1]
    pc = torch.nn.functional.conv1d(x.transpose(1, 2), w, sd["encoder.pos_conv.0.bias"], padding=k // 2, groups=pos_g)
    if k % 2 == 0:
        pc = pc[..., :-1]
    x = x + _gelu(pc).transpose(1, 2)
    if not pre_norm:
        x = _ln(x, sd["encoder.layer_norm.weight"], sd["encoder.layer_norm.bias"])
    out = [x[0]]
    t, c = x.shape[1], x.shape[2]
    hd = c // heads
    for i in range(len([key for key in sd if key.endswith("fc1.weight")])):
        p = f"encoder.layers.{i}."

        def lin(z: torch.Tensor, name: str) -> torch.Tensor:
            return z @ sd[p + name + ".weight"].T + sd[p + name + ".bias"]

        def attn(z: torch.Tensor) -> torch.Tensor:
            q = (lin(z, "self_attn.q_proj") * hd ** -0.5).view(t, heads, hd).transpose(0, 1)
            kk = lin(z, "self_attn.k_proj").view(t, heads, hd).transpose(0, 1)
            vv = lin(z, "self_attn.v_proj").view(t, heads, hd).transpose(0, 1)
            a = torch.softmax(q @ kk.transpose(1, 2), dim=-1) @ vv
            return lin(a.transpose(0, 1).reshape(t, c), "self_attn.out_proj")

        z = x[0]
        if pre_norm:
            z = z + attn(_ln(z, sd[p + "self_attn_layer_norm.weight"], sd[p + "self_attn_layer_norm.bias"]))
            z = z + lin(_gelu(lin(_ln(z, sd[p + "final_layer_norm.weight"], sd[p + "final_layer_norm.bias"]), "fc1")), "fc2")
        else:
            z = _ln(z + attn(z), sd[p + "self_attn_layer_norm.weight"], sd[p + "self_attn_layer_norm.bias"])
            z = _ln(z + lin(_gelu(lin(z, "fc1")), "fc2"), sd[p + "final_layer_norm.weight"], sd[p + "final_layer_norm.bias"])
        x = z[None]
        out.append(z)
    return out


# --------------------------------------------------------------------------- layout

def test_real_size_network_has_fairseq_keys_and_shapes() -> None:
    net = build_hubert()  # meta device: no memory, milliseconds
    ours = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert ours == fairseq_shapes()
    assert sum(math.prod(s) for s in ours.values()) == 94_697_600  # HuBERT base + final_proj + label embs


def test_conv_stack_gives_hubert_frame_count(tiny) -> None:
    model = load_hubert(tiny[0])
    for n in (400, 401, 719, 720, 1040, 4000, 16000, 16719):
        feats = model.features(speechlike(n))
        assert feats.shape == (content_frames(n), TINY["embed"]) == ((n - 400) // 320 + 1, TINY["embed"])
        assert feats.dtype == np.float32 and np.isfinite(feats).all()


# --------------------------------------------------------------------------- outputs

@pytest.mark.parametrize("pre_norm", [False, True], ids=["post-norm (base)", "layer_norm_first"])
def test_matches_reference_layer_by_layer(tmp_path: Path, pre_norm: bool) -> None:
    path = tmp_path / "h.pt"
    state = save_tiny(path, seed=3, layer_norm_first=pre_norm)
    model = load_hubert(path)
    assert model.net.arch.layer_norm_first is pre_norm
    wav = speechlike(6400, seed=1)
    ref = reference_hidden(state, wav, heads=TINY["heads"], pre_norm=pre_norm)
    with torch.inference_mode():
        ours = model.net.hidden_states(torch.from_numpy(wav)[None])
    assert len(ours) == len(ref) == 13
    for i, (a, b) in enumerate(zip(ours, ref)):
        np.testing.assert_allclose(a[0].numpy(), b.numpy(), atol=2e-4, rtol=1e-3, err_msg=f"hidden state {i}")


def test_v1_is_layer9_through_final_proj_and_v2_is_layer12(tiny) -> None:
    path, state = tiny
    model = load_hubert(path)
    wav = speechlike(8000, seed=2)
    ref = reference_hidden(state, wav, heads=TINY["heads"])
    proj_w, proj_b = state["final_proj.weight"].double(), state["final_proj.bias"].double()
    v1 = model.features(wav, "v1")
    v2 = model.features(wav, "v2")
    assert v1.shape == (content_frames(8000), TINY["final"]) and v2.shape == (content_frames(8000), TINY["embed"])
    np.testing.assert_allclose(v2, ref[12].numpy(), atol=2e-4, rtol=1e-3)
    np.testing.assert_allclose(v1, (ref[9] @ proj_w.T + proj_b).numpy(), atol=2e-4, rtol=1e-3)
    wrong_layer = (ref[12] @ proj_w.T + proj_b).numpy()
    assert np.abs(v1 - wrong_layer).mean() > 0.05  # layer choice matters
    # the bound views give the same answers and satisfy the pipeline's protocol
    assert isinstance(model, ContentExtractor) and model.dim == TINY["embed"]
    v1_view = model.for_version("v1")
    assert v1_view.dim == TINY["final"] and np.array_equal(v1_view.features(wav), v1)
    assert "layer 9" in v1_view.describe() and "layer 12" in model.describe()


def test_fp16_checkpoint_and_tensor_input(tmp_path: Path) -> None:
    """RVC's hubert_base.pt stores fp16 tensors; we compute in fp32 either way."""
    path = tmp_path / "h16.pt"
    save_tiny(path, half=True)
    model = load_hubert(path)
    assert all(p.dtype == torch.float32 for p in model.net.parameters())
    wav = speechlike(3200)
    a = model.features(torch.from_numpy(wav)[None])  # RVC's [1, N] tensor
    b = model.features(wav)
    assert np.array_equal(a, b)


def test_input_guards(tiny) -> None:
    model = load_hubert(tiny[0])
    with pytest.raises(AudioError, match="need at least 400 samples"):
        model.features(np.zeros(399, np.float32))
    bad = speechlike(1600)
    bad[10] = np.nan
    with pytest.raises(AudioError, match="NaN"):
        model.features(bad)
    with pytest.raises(ValueError, match="v1' or 'v2"):
        model.features(speechlike(1600), "v3")


# --------------------------------------------------------------------------- loading: configs

def _fake_module(monkeypatch: pytest.MonkeyPatch, dotted: str) -> types.ModuleType:
    """Register ``dotted`` (and its parents) so pickle can save classes that claim to live there."""
    parts = dotted.split(".")
    mod = None
    for i in range(1, len(parts) + 1):
        name = ".".join(parts[:i])
        mod = types.ModuleType(name)
        monkeypatch.setitem(sys.modules, name, mod)
    assert mod is not None
    return mod


def test_old_style_args_namespace_and_task_dictionary_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pre-hydra checkpoints keep the config in an argparse.Namespace; HuBERT's task_state holds
    fairseq Dictionary objects. Both load as inert stand-ins and nothing of theirs runs."""
    mod = _fake_module(monkeypatch, "fairseq.data.dictionary")
    ran: list[str] = []

    class Dictionary:
        def __init__(self) -> None:
            self.symbols = ["<s>", "<pad>", "</s>", "<unk>", "0", "1"]
            self.indices = {s: i for i, s in enumerate(self.symbols)}

        def __setstate__(self, state: Any) -> None:  # would run under a plain pickle.load
            ran.append("setstate")
            self.__dict__.update(state)

    Dictionary.__module__ = "fairseq.data.dictionary"
    Dictionary.__qualname__ = "Dictionary"
    mod.Dictionary = Dictionary  # type: ignore[attr-defined]
    state = random_state(fairseq_shapes(**TINY))
    args = argparse.Namespace(conv_feature_layers=TINY_SPEC, encoder_attention_heads=TINY["heads"],
                              layer_norm_first=False, extractor_mode="default", arch="hubert")
    path = tmp_path / "old.pt"
    torch.save({"args": args, "cfg": None, "model": state, "task_state": {"dictionaries": [Dictionary()]},
                "extra_state": {"best": np.float64(1.25)}}, path)
    monkeypatch.delitem(sys.modules, "fairseq.data.dictionary")  # the loader must not need it
    ckpt = read_fairseq_checkpoint(path)
    assert ckpt.model_cfg["encoder_attention_heads"] == TINY["heads"]
    assert "fairseq.data.dictionary.Dictionary" in ckpt.stand_ins and "argparse.Namespace" in ckpt.stand_ins
    assert ran == []
    before = list(torch.serialization.get_safe_globals())  # kept in a set: compare members, not order
    model = load_hubert(path)
    after = list(torch.serialization.get_safe_globals())
    assert len(after) == len(before) and set(map(id, after)) == set(map(id, before))  # scoped to the load
    assert model.net.arch.heads == TINY["heads"]
    assert model.features(speechlike(1200)).shape == (content_frames(1200), TINY["embed"])


def test_bare_state_dict_with_base_shapes_needs_no_config() -> None:
    """Shapes alone give every size; heads and strides default to HuBERT base's."""
    from rvcqa.features.hubert import arch_from_checkpoint

    shapes = fairseq_shapes()
    fake = {k: torch.empty(s, device="meta") for k, s in shapes.items()}
    assert arch_from_checkpoint(fake, {}) == HubertArch()


def test_conv_layer_spec_is_parsed_not_evaluated() -> None:
    assert _eval_layer_spec("[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2") == tuple(BASE)
    assert _eval_layer_spec("2 * [(8, 3, 2)]") == ((8, 3, 2),) * 2
    for text in ("__import__('os').system('true')", "[(1,2,3)] * (10**9)", "[x for x in ()]", "[(1.5, 2, 3)]"):
        with pytest.raises((ValueError, SyntaxError)):
            _eval_layer_spec(text)


# --------------------------------------------------------------------------- loading: refusals

class _Payload:
    """Unpickling this with plain pickle would run a shell command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_code_in_the_pickle_is_refused_and_never_runs(tmp_path: Path, zip_format: bool) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"cfg": {"model": {}}, "model": random_state(fairseq_shapes(**TINY)), "extra": _Payload(marker)},
               path, _use_new_zipfile_serialization=zip_format)
    with pytest.raises(UnsafeCheckpointError, match="system") as info:
        load_hubert(path)
    assert not marker.exists()
    assert "nothing" in str(info.value) and str(path) in str(info.value)


def test_omegaconf_config_is_refused_with_a_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mod = _fake_module(monkeypatch, "omegaconf.dictconfig")

    class DictConfig:
        def __init__(self, content: dict) -> None:
            self._content = content

    DictConfig.__module__, DictConfig.__qualname__ = "omegaconf.dictconfig", "DictConfig"
    mod.DictConfig = DictConfig  # type: ignore[attr-defined]
    path = tmp_path / "hydra.pt"
    torch.save({"cfg": DictConfig({"model": {}}), "model": random_state(fairseq_shapes(**TINY))}, path)
    with pytest.raises(UnsafeCheckpointError, match="omegaconf.dictconfig.DictConfig") as info:
        load_hubert(path)
    assert "plain-dict 'cfg'" in str(info.value)


def test_missing_key_is_named(tmp_path: Path) -> None:
    state = random_state(fairseq_shapes(**TINY))
    del state["encoder.layers.3.fc2.weight"]
    path = tmp_path / "missing.pt"
    torch.save({"cfg": tiny_cfg(), "model": state}, path)
    with pytest.raises(FeatureModelError, match=r"1 missing key \('encoder\.layers\.3\.fc2\.weight'\)"):
        load_hubert(path)


def test_unexpected_key_and_wrong_shape_are_named(tmp_path: Path) -> None:
    state = random_state(fairseq_shapes(**TINY))
    state["encoder.layers.0.extra.weight"] = torch.zeros(3)
    path = tmp_path / "extra.pt"
    torch.save({"cfg": tiny_cfg(), "model": state}, path)
    with pytest.raises(FeatureModelError, match="unexpected key.*extra.weight"):
        load_hubert(path)
    state = random_state(fairseq_shapes(**TINY))
    state["encoder.layers.2.fc2.bias"] = torch.zeros(TINY["embed"] + 1)
    torch.save({"cfg": tiny_cfg(), "model": state}, path)
    with pytest.raises(FeatureModelError, match=r"wrongly shaped key \('encoder.layers.2.fc2.bias' \(file \[33\]"):
        load_hubert(path)


def test_wrong_kinds_of_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        load_hubert(tmp_path / "nope.pt")
    path = tmp_path / "list.pt"
    torch.save([1, 2, 3], path)
    with pytest.raises(FeatureModelError, match="not a fairseq HuBERT checkpoint"):
        load_hubert(path)
    torch.save({"model": {"enc_p.emb_phone.weight": torch.zeros(2, 2)}, "cfg": {}}, path)
    with pytest.raises(FeatureModelError, match="conv_layers"):
        load_hubert(path)
    torch.save({"feature_projection.projection.weight": torch.zeros(2, 2),
                "feature_extractor.conv_layers.0.conv.weight": torch.zeros(2, 1, 10)}, path)
    with pytest.raises(FeatureModelError, match="Hugging Face"):
        load_hubert(path)
    cut = tmp_path / "cut.pt"
    save_tiny(cut)
    cut.write_bytes(cut.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="truncated"):
        load_hubert(cut)


def test_unsupported_variants_are_named(tmp_path: Path) -> None:
    path = tmp_path / "v.pt"
    save_tiny(path, activation_fn="relu")
    with pytest.raises(FeatureModelError, match="activation_fn"):
        load_hubert(path)
    save_tiny(path, pos_conv_depth=5)
    with pytest.raises(FeatureModelError, match="pos_conv_depth"):
        load_hubert(path)
    save_tiny(path, conv_feature_layers="[(24, 10, 5)] * 7")  # kernels disagree with the weights
    with pytest.raises(FeatureModelError, match="do not match the config"):
        load_hubert(path)


# --------------------------------------------------------------------------- real weights

@pytest.mark.slow
def test_real_size_random_checkpoint_round_trip(tmp_path: Path) -> None:
    """Full HuBERT base size (fp16 like RVC's file, 190 MB): loads strictly, right widths."""
    path = tmp_path / "hubert_base_random.pt"
    state = {k: v.half() for k, v in random_state(fairseq_shapes()).items()}
    torch.save({"args": None, "cfg": {"model": {"_name": "hubert"}}, "model": state}, path)
    del state
    model = load_hubert(path)
    wav = speechlike(16000)
    assert model.features(wav, "v1").shape == (49, 256)
    assert model.features(wav, "v2").shape == (49, 768)


REAL = os.environ.get("RVCQA_HUBERT")


@pytest.mark.skipif(not REAL, reason="real HuBERT weights not given: set RVCQA_HUBERT=/path/to/hubert_base.pt "
                                     "(RVC's assets/hubert/hubert_base.pt) to run")
def test_real_hubert_base() -> None:
    model = load_hubert(REAL)  # type: ignore[arg-type]
    assert model.net.arch == HubertArch(label_embs=model.net.arch.label_embs)
    wav = speechlike(16000 * 2)
    v1, v2 = model.features(wav, "v1"), model.features(wav, "v2")
    assert v1.shape == (99, 256) and v2.shape == (99, 768)
    assert np.isfinite(v1).all() and np.isfinite(v2).all()
    assert np.array_equal(v2, model.features(wav, "v2"))  # deterministic
    assert isinstance(model, HubertContentModel)
