"""embedder.fits_training_features: seen failing for a mismatched embedder, passing for the right one.

Folders are built here: 16 kHz slices plus the content features some embedder gave them, then
the check re-extracts with the embedder conversion would use. Embedders: rvcqa's stand-in
(two seeds = two embedders) and the small transformers-layout HuBERT in tests/data/embedders
(Applio's convention vs RVC's layer 9 = one network, two feature spaces).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rvcqa.checks import embedder
from rvcqa.context import ModelContext, Options
from rvcqa.features import load_content_model
from rvcqa.features.embedders import EmbedderChoice
from rvcqa.features.standin import StandInContent
from rvcqa.modeldir import discover

DATA = Path(__file__).parent / "data" / "embedders" / "hf_postnorm_bin"


def speech(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    f0 = 120 + 30 * np.sin(2 * np.pi * 1.5 * t)
    y = 0.3 * np.sin(2 * np.pi * np.cumsum(f0) / 16000) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return (y + 0.02 * rng.standard_normal(n)).astype(np.float32)


def slices_folder(root: Path, extract, *, feature_dir: str = "3_feature768", n: int = 3,
                  declare: dict | None = None) -> Path:
    """A model folder with ``n`` 16 kHz slices and ``extract(wav)`` stored for each."""
    (root / "1_16k_wavs").mkdir(parents=True)
    (root / feature_dir).mkdir()
    for i in range(n):
        y = speech(8000 + 1600 * i, seed=i)
        sf.write(root / "1_16k_wavs" / f"0_{i}.wav", y, 16000, subtype="FLOAT")
        np.save(root / feature_dir / f"0_{i}.npy", extract(y).astype(np.float32), allow_pickle=False)
    if declare is not None:
        (root / "rvcqa_content.json").write_text(json.dumps(declare))
    return root


def finding(root: Path, **options) -> embedder.Finding:
    ctx = ModelContext(discover(root), Options(**{k: v for k, v in options.items() if k != "embedder"}))
    if "embedder" in options:
        ctx.options.embedder = options["embedder"]  # type: ignore[attr-defined]
    return ctx.findings(embedder)[embedder.CHECK_ID]


# --------------------------------------------------------------------------- the statistics

def test_compare_features_statistics() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((50, 16))
    same = embedder.compare_features([(a, a + 1e-3 * rng.standard_normal(a.shape))])
    assert same.cosine_mean > 0.999 and same.correlation > 0.999 and same.frame_mismatch == 0
    other = embedder.compare_features([(a, rng.standard_normal((51, 16)))])
    assert abs(other.cosine_mean) < 0.2 and other.frames == 50 and other.frame_mismatch == 1
    scaled = embedder.compare_features([(a, 3 * a)])
    assert scaled.cosine_mean > 0.999 and scaled.std_stored == pytest.approx(3 * scaled.std_extracted)


# --------------------------------------------------------------------------- stand-in embedders

def test_same_stand_in_passes_other_seed_fails(tmp_path: Path) -> None:
    trained = StandInContent(dim=768, seed=1234)
    ok = slices_folder(tmp_path / "ok", trained.features, declare={"extractor": "standin", "dim": 768, "seed": 1234})
    f = finding(ok)
    assert f.status.value == "passed", f.explain()
    assert f.measured > 0.999 and "reproduces the training features" in f.message
    bad = slices_folder(tmp_path / "bad", trained.features, declare={"extractor": "standin", "dim": 768, "seed": 7})
    f = finding(bad)
    assert f.status.value == "failed", f.explain()
    assert "model trained with one embedder, converting with another" in f.message
    assert f.measured < 0.5 and "3_feature768" in f.message and f.subject == str(bad / "3_feature768")


def test_width_mismatch_fails_and_missing_parts_skip(tmp_path: Path) -> None:
    wide = slices_folder(tmp_path / "wide", StandInContent(dim=20).features)
    f = finding(wide, embedder=EmbedderChoice(DATA, "applio", "contentvec", "test"))
    assert f.status.value == "failed", f.explain()
    assert "holds 20-dim features, the conversion embedder gives 16-dim" in f.message
    (tmp_path / "bare" / "1_16k_wavs").mkdir(parents=True)
    (tmp_path / "bare" / "1_16k_wavs" / "x.wav").write_bytes(b"")
    assert finding(tmp_path / "bare").status.value == "skipped"
    none = slices_folder(tmp_path / "none", StandInContent(dim=768).features)
    f = finding(none, embedder=None)
    assert f.status.value == "skipped"


# --------------------------------------------------------------------------- HuBERT embedders

def test_transformers_embedder_applio_vs_rvc_convention(tmp_path: Path) -> None:
    """Features stored by Applio's convention (last hidden state + final_proj, v1) pass with the
    same convention and fail when converting with RVC's (layer 9 + final_proj)."""
    applio = load_content_model(DATA, "v1", "applio")
    root = slices_folder(tmp_path / "m", applio.features, feature_dir="3_feature256")
    same = finding(root, embedder=EmbedderChoice(DATA, "applio", "contentvec", "test"))
    assert same.status.value == "passed", same.explain()
    assert same.measured > 0.999
    other = finding(root, embedder=EmbedderChoice(DATA, "rvc", "contentvec", "test"))
    assert other.status.value == "failed", other.explain()
    assert "converting with another" in other.message and "layer 9" in other.message
    assert "std ratio" in other.message


# --------------------------------------------------------------------------- through pytest

PLUGIN_ARGS = ("-p", "no:cacheprovider", "--benchmark-disable", "-q", "-k", "embedder")


def test_gate_fails_mismatched_and_passes_matched(pytester: pytest.Pytester, tmp_path: Path) -> None:
    trained = StandInContent(dim=768, seed=1234)
    for name, seed in (("matched", 1234), ("mismatched", 99)):
        slices_folder(tmp_path / name, trained.features, declare={"extractor": "standin", "dim": 768, "seed": seed})
    matched = pytester.runpytest_inprocess("--model-dir", str(tmp_path / "matched"), *PLUGIN_ARGS)
    outcomes = matched.parseoutcomes()
    assert outcomes.get("passed") == 1 and not outcomes.get("failed"), matched.stdout.str()[-2000:]
    mismatched = pytester.runpytest_inprocess("--model-dir", str(tmp_path / "mismatched"), *PLUGIN_ARGS)
    assert mismatched.parseoutcomes().get("failed") == 1, mismatched.stdout.str()[-2000:]
    text = mismatched.stdout.str()
    assert "embedder.fits_training_features" in text
    assert "model trained with one embedder, converting with another" in text
    assert "Traceback" not in text
