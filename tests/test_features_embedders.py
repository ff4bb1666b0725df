"""Applio/transformers embedders: key renaming, both feature conventions, choosing the embedder.

``tests/data/embedders/*`` were written offline by transformers' own ``HubertModel`` (plus
Applio's ``final_proj``) with a small random config (16-dim, 12 layers): ``config.json``, the
weights (fp16) and ``expected.npz`` = the input wav and transformers' outputs for RVC's
convention (layer 9 + final_proj, layer 12) and Applio's (last hidden state, + final_proj).
``hf_postnorm_bin``: HuBERT base's post-norm/group-norm variant, ``pytorch_model.bin`` with the
old ``weight_g``/``weight_v`` names; ``hf_stable_safetensors``: the pre-norm ("stable layer
norm") variant with layer-normed convs and conv bias, ``model.safetensors`` with
``parametrizations.weight.original0/1``. transformers itself is not needed here.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rvcqa.errors import CheckpointError
from rvcqa.features import FeatureModelError, load_content_model
from rvcqa.features.embedders import (
    APPLIO_EMBEDDERS,
    EMBEDDER_ROOT,
    EmbedderNotFound,
    embedder_model_of,
    load_choice,
    resolve_embedder,
)

DATA = Path(__file__).parent / "data" / "embedders"
CASES = ["hf_postnorm_bin", "hf_stable_safetensors"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def expected(case: str) -> dict[str, np.ndarray]:
    with np.load(DATA / case / "expected.npz") as z:
        return {k: z[k] for k in z.files}


def copy_case(case: str, dest: Path) -> Path:
    shutil.copytree(DATA / case, dest)
    (dest / "expected.npz").unlink()
    return dest


# --------------------------------------------------------------------------- conventions

@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("trainer", ["rvc", "applio"])
@pytest.mark.parametrize("case", CASES)
def test_matches_transformers_for_both_conventions(case: str, trainer: str, version: str) -> None:
    ref = expected(case)
    model = load_content_model(DATA / case, version=version, trainer=trainer)
    feats = model.features(ref["wav"])
    np.testing.assert_allclose(feats, ref[f"{trainer}_{version}"], atol=1e-5, rtol=1e-5)
    assert model.dim == feats.shape[1] == (8 if version == "v1" else 16)
    assert model.layout == "transformers" and model.trainer == trainer
    assert "transformers" not in sys.modules  # loaded without it


@pytest.mark.parametrize("case", CASES)
def test_conventions_differ_where_they_should(case: str) -> None:
    """Layer 9 vs the last layer always differ for v1; v2 agrees only for the post-norm model
    (the pre-norm one applies a final layer norm Applio reads and RVC's layer 12 does not)."""
    ref = expected(case)
    assert np.abs(ref["rvc_v1"] - ref["applio_v1"]).mean() > 0.1
    same_v2 = np.allclose(ref["rvc_v2"], ref["applio_v2"], atol=1e-5)
    assert same_v2 is (case == "hf_postnorm_bin")


def test_pos_conv_names_old_and_parametrized_load_alike(tmp_path: Path) -> None:
    """transformers renamed weight-norm tensors; a file with either name gives the same model."""
    folder = copy_case("hf_postnorm_bin", tmp_path / "renamed")
    state = torch.load(folder / "pytorch_model.bin", weights_only=True)
    assert "encoder.pos_conv_embed.conv.weight_g" in state
    renamed = {k.replace("conv.weight_g", "conv.parametrizations.weight.original0")
               .replace("conv.weight_v", "conv.parametrizations.weight.original1"): v for k, v in state.items()}
    torch.save(renamed, folder / "pytorch_model.bin")
    ref = expected("hf_postnorm_bin")
    feats = load_content_model(folder, "v2", "applio").features(ref["wav"])
    np.testing.assert_allclose(feats, ref["applio_v2"], atol=1e-5, rtol=1e-5)


def test_weight_file_path_and_safetensors_preferred(tmp_path: Path) -> None:
    ref = expected("hf_postnorm_bin")
    by_file = load_content_model(DATA / "hf_postnorm_bin" / "pytorch_model.bin", "v1", "applio")
    np.testing.assert_allclose(by_file.features(ref["wav"]), ref["applio_v1"], atol=1e-5, rtol=1e-5)
    # a folder holding both: the safetensors file is read (here it is the other model's weights,
    # which cannot load under this config, so any mix-up shows)
    both = copy_case("hf_stable_safetensors", tmp_path / "both")
    shutil.copy(DATA / "hf_postnorm_bin" / "pytorch_model.bin", both / "pytorch_model.bin")
    model = load_content_model(both, "v2", "applio")
    assert model.path is not None and model.path.name == "model.safetensors"


# --------------------------------------------------------------------------- the fairseq path

FAIRSEQ_NAMES = [  # transformers -> fairseq, written out independently of rvcqa's table
    ("masked_spec_embed", "mask_emb"),
    ("feature_projection.layer_norm.", "layer_norm."),
    ("feature_projection.projection.", "post_extract_proj."),
    ("encoder.pos_conv_embed.conv.", "encoder.pos_conv.0."),
    (".attention.", ".self_attn."),
    (".feed_forward.intermediate_dense.", ".fc1."),
    (".feed_forward.output_dense.", ".fc2."),
]


def as_fairseq(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in state.items():
        for old, new in FAIRSEQ_NAMES:
            key = key.replace(old, new)
        if key.startswith("encoder.layers.") and ".layer_norm." in key:
            key = key.replace(".layer_norm.", ".self_attn_layer_norm.")
        key = key.replace(".conv.weight", ".0.weight").replace(".layer_norm.weight", ".2.weight") \
            .replace(".layer_norm.bias", ".2.bias") if key.startswith("feature_extractor.") else key
        out[key] = value
    return out


def test_fairseq_checkpoint_with_the_same_weights_gives_rvc_features(tmp_path: Path) -> None:
    """RVC's hubert_base.pt path still loads, through the same public entry point."""
    state = as_fairseq(torch.load(DATA / "hf_postnorm_bin" / "pytorch_model.bin", weights_only=True))
    cfg = json.loads((DATA / "hf_postnorm_bin" / "config.json").read_text())
    spec = "[(16, 10, 5)] + [(16, 3, 2)] * 4 + [(16, 2, 2)] * 2"
    path = tmp_path / "hubert_small.pt"
    torch.save({"cfg": {"model": {"conv_feature_layers": spec, "encoder_attention_heads": cfg["num_attention_heads"],
                                  "final_dim": cfg["classifier_proj_size"]}}, "model": state}, path)
    ref = expected("hf_postnorm_bin")
    for version in ("v1", "v2"):
        model = load_content_model(path, version)  # trainer defaults to RVC's convention
        assert model.layout == "fairseq"
        np.testing.assert_allclose(model.features(ref["wav"]), ref[f"rvc_{version}"], atol=1e-5, rtol=1e-5)


# --------------------------------------------------------------------------- refusals

def test_code_in_a_bin_never_runs(tmp_path: Path) -> None:
    folder = copy_case("hf_postnorm_bin", tmp_path / "evil")
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    state = torch.load(folder / "pytorch_model.bin", weights_only=True)
    state["extra"] = Payload()  # type: ignore[assignment]
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="pytorch_model.bin"):
        load_content_model(folder)
    assert not marker.exists()


def test_missing_key_and_bad_config_are_named(tmp_path: Path) -> None:
    folder = copy_case("hf_postnorm_bin", tmp_path / "missing")
    state = torch.load(folder / "pytorch_model.bin", weights_only=True)
    del state["encoder.layers.4.feed_forward.output_dense.weight"]
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.raises(FeatureModelError, match=r"1 missing key \('encoder\.layers\.4\.fc2\.weight'\)"):
        load_content_model(folder)
    folder = copy_case("hf_postnorm_bin", tmp_path / "relu")
    cfg = json.loads((folder / "config.json").read_text())
    cfg["hidden_act"] = "relu"
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(FeatureModelError, match="config.json: unsupported hidden_act 'relu'"):
        load_content_model(folder)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(FeatureModelError, match="not valid JSON"):
        load_content_model(folder)


def test_file_and_folder_mistakes(tmp_path: Path) -> None:
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(DATA / "hf_postnorm_bin" / "pytorch_model.bin", lone / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="needs its config.json"):
        load_content_model(lone / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="no model.safetensors or pytorch_model.bin"):
        load_content_model(tmp_path)
    cut = copy_case("hf_stable_safetensors", tmp_path / "cut")
    (cut / "model.safetensors").write_bytes((DATA / "hf_stable_safetensors" / "model.safetensors").read_bytes()[:2000])
    with pytest.raises(CheckpointError, match="model.safetensors: not a readable safetensors file"):
        load_content_model(cut)
    with pytest.raises(ValueError, match="trainer must be one of"):
        load_content_model(DATA / "hf_postnorm_bin", trainer="webui")


def test_plain_hubert_without_final_proj_serves_v2_only(tmp_path: Path) -> None:
    folder = copy_case("hf_postnorm_bin", tmp_path / "plain")
    state = torch.load(folder / "pytorch_model.bin", weights_only=True)
    torch.save({k: v for k, v in state.items() if not k.startswith("final_proj.")}, folder / "pytorch_model.bin")
    ref = expected("hf_postnorm_bin")
    model = load_content_model(folder, "v2", "applio")
    np.testing.assert_allclose(model.features(ref["wav"]), ref["applio_v2"], atol=1e-5, rtol=1e-5)
    with pytest.raises(FeatureModelError, match="no final_proj"):
        model.features(ref["wav"], "v1")


# --------------------------------------------------------------------------- which embedder

def applio_root(tmp_path: Path, name: str = "contentvec") -> Path:
    root = tmp_path / "Applio"
    copy_case("hf_postnorm_bin", root / EMBEDDER_ROOT / APPLIO_EMBEDDERS[name])
    return root


def test_applio_model_takes_its_embedder_from_the_root(tmp_path: Path) -> None:
    root = applio_root(tmp_path, "japanese-hubert-base")
    meta = {"version": "v1", "embedder_model": "japanese-hubert-base", "vocoder": "HiFi-GAN"}
    choice = resolve_embedder(embedder_model=embedder_model_of(meta), applio_root=root)
    assert choice is not None
    assert choice.path == root / "rvc/models/embedders/japanese_hubert_base" and choice.trainer == "applio"
    assert "embedder_model" in choice.describe()
    ref = expected("hf_postnorm_bin")
    np.testing.assert_allclose(load_choice(choice, "v1").features(ref["wav"]), ref["applio_v1"], atol=1e-5)


def test_hubert_option_wins_and_rvc_default(tmp_path: Path) -> None:
    given = tmp_path / "mine"
    copy_case("hf_postnorm_bin", given)
    choice = resolve_embedder(embedder_model="contentvec", applio_root=tmp_path / "nowhere", hubert=given)
    assert choice is not None and choice.path == given and choice.trainer == "applio"
    assert "--hubert" in choice.source
    assert resolve_embedder(embedder_model=None) is None
    rvc = tmp_path / "RVC"
    (rvc / "assets/hubert").mkdir(parents=True)
    (rvc / "assets/hubert/hubert_base.pt").write_bytes(b"x")
    choice = resolve_embedder(embedder_model=None, rvc_root=rvc)
    assert choice is not None and choice.trainer == "rvc" and choice.path.name == "hubert_base.pt"
    assert embedder_model_of({"version": "v2", "f0": 1}) is None


def test_embedder_choice_failures_say_what_to_do(tmp_path: Path) -> None:
    root = applio_root(tmp_path)
    with pytest.raises(EmbedderNotFound, match=r"spin-v2.*Applio downloads it on first use"):
        resolve_embedder(embedder_model="spin-v2", applio_root=root)
    with pytest.raises(EmbedderNotFound, match="custom embedder.*--hubert PATH"):
        resolve_embedder(embedder_model="custom", applio_root=root)
    with pytest.raises(EmbedderNotFound, match="'wavlm' is not one Applio names.*contentvec"):
        resolve_embedder(embedder_model="wavlm", applio_root=root)
    with pytest.raises(EmbedderNotFound, match="run from the Applio root"):
        resolve_embedder(embedder_model="contentvec")
