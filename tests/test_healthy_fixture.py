"""The trained healthy fixture model (fixtures/healthy/, fixtures/train_healthy.py) and the experiment
folder fixtures/healthy_dir.py builds around it: structure, strict loading, and a *measured*
resynthesis of a clip the model never saw in training."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from fixtures import healthy_dir as hd
from fixtures.train_healthy import CONFIG, HELD_OUT, HOP, SR, TRAIN, resynth
from rvcqa.checkpoint import load_pth
from rvcqa.metrics.basic import zcr_hz
from rvcqa.metrics.mel import log_mel_l1
from rvcqa.synth import load_synthesizer

pytestmark = [pytest.mark.usefixtures("one_torch_thread"),
              pytest.mark.skipif(not (hd.ARTIFACTS / "healthy.pth").exists(),
                                 reason="fixtures/healthy/healthy.pth not trained yet")]




@pytest.fixture(scope="module")
def exp(request, tmp_path_factory) -> Path:
    cache = getattr(request.config, "cache", None)  # None with -p no:cacheprovider
    dest = Path(cache.mkdir("rvcqa-healthy-fixture")) if cache is not None else tmp_path_factory.mktemp("healthy")
    t0 = time.perf_counter()
    root = hd.build_healthy_model_dir(dest)
    assert time.perf_counter() - t0 < 60, "building the healthy folder must take well under a minute"
    return root


def test_committed_weights_load_strictly():
    ck = load_pth(hd.ARTIFACTS / "healthy.pth", mmap=False)
    assert len(ck["weight"]) == 457
    assert all(v.dtype == torch.float16 for v in ck["weight"].values())
    assert ck["config"] == CONFIG and ck["version"] == "v2" and ck["f0"] == 1 and ck["sr"] == "48k"
    net = load_synthesizer(hd.ARTIFACTS / "healthy.pth")  # strict: raises on any key/shape mismatch
    assert net.sample_rate == SR and net.hop == HOP
    snap = load_pth(hd.ARTIFACTS / "snapshot_early.pth", mmap=False)
    assert snap["weight"].keys() == ck["weight"].keys()
    load_synthesizer(hd.ARTIFACTS / "snapshot_early.pth")
    assert any(not torch.equal(snap["weight"][k], ck["weight"][k]) for k in ck["weight"])


def test_training_record_is_real():
    rec = hd.training_record()
    assert rec["split"]["held_out_clips"] == list(HELD_OUT)
    assert not set(rec["split"]["held_out_clips"]) & set(rec["split"]["train_clips"])
    assert rec["split"]["train_clips"] == list(TRAIN)
    evals = rec["evaluations"]
    assert len(evals) >= 3 and evals[0]["step"] == 0
    assert rec["best_log_mel_l1"] == min(e["log_mel_l1"] for e in evals)
    assert rec["steps_done"] > rec["snapshot_step"] > 0
    assert "SYNTHETIC" in rec["train_log_note"]


def test_folder_layout(exp: Path):
    stems = {p.name[: -len(".wav")] for p in (exp / "0_gt_wavs").glob("*.wav")}
    assert len(stems) == len(hd.training_record()["split"]["train_slices"])
    for folder, suffix in (("1_16k_wavs", ".wav"), ("2a_f0", ".wav.npy"), ("2b-f0nsf", ".wav.npy"),
                           ("3_feature768", ".npy")):
        assert {p.name[: -len(suffix)] for p in (exp / folder).glob(f"*{suffix}")} == stems, folder
    assert json.loads((exp / "rvcqa_content.json").read_text()) == {"extractor": "standin", "dim": 768, "seed": 1234}
    lines = (exp / "filelist.txt").read_text().split("\n")
    assert len(lines) == len(stems) + 2 and sum("/logs/mute/" in ln for ln in lines) == 2
    cfg = json.loads((exp / "config.json").read_text())
    assert cfg["model"]["hidden_channels"] == 64 and cfg["model"]["upsample_initial_channel"] == 128
    assert cfg["model"]["gin_channels"] == 64 and cfg["data"]["sampling_rate"] == 48000
    from scipy.io import wavfile

    sr, gt = wavfile.read(next((exp / "0_gt_wavs").glob("*.wav")))
    assert sr == 48000 and gt.dtype == np.float32
    stem = sorted(stems)[0]
    coarse = np.load(exp / "2a_f0" / f"{stem}.wav.npy")
    hz = np.load(exp / "2b-f0nsf" / f"{stem}.wav.npy")
    assert coarse.dtype == np.int64 and hz.dtype == np.float64 and coarse.min() >= 1 and coarse.max() <= 255
    np.testing.assert_array_equal(hz, hd.load_training_f0()[stem])  # the F0 the model was trained on
    assert (exp / "healthy.pth").read_bytes() == (hd.ARTIFACTS / "healthy.pth").read_bytes()


def test_checkpoints_and_log_agree(exp: Path):
    from rvcqa.trainlog import parse_train_log, steps_per_epoch_from_log

    g_files = sorted(exp.glob("G_*.pth"), key=lambda p: int(p.stem[2:]))
    assert len(g_files) == 2 and len(list(exp.glob("D_*.pth"))) == 2
    log = parse_train_log(exp / "train.log")
    spe = steps_per_epoch_from_log(log)
    assert spe == hd.training_record()["rvc_epoch_grid"]["steps_per_epoch"]
    final = load_pth(hd.ARTIFACTS / "healthy.pth", mmap=False)
    for g in g_files:
        ck = load_pth(g, mmap=False)
        assert len(ck["model"]) == 560 and ck["iteration"] * spe == int(g.stem[2:])
        assert all(v.dtype == torch.float32 for v in ck["model"].values())
    last = load_pth(g_files[-1], mmap=False)
    assert log.last_epoch == last["iteration"]
    assert final["info"] == f"{last['iteration']}epoch"
    for k, v in final["weight"].items():
        assert torch.equal(last["model"][k], v.float()), k
    d = load_pth(next(exp.glob("D_*.pth")), mmap=False)
    assert d["model"] and all(k.startswith("discriminators.") for k in d["model"])


def test_build_is_cached(exp: Path):
    t0 = time.perf_counter()
    again = hd.build_healthy_model_dir(exp.parent)
    assert again == exp and time.perf_counter() - t0 < 5


def test_held_out_resynthesis_is_speech():
    """LJ001-0024 was never trained on: resynthesise it whole and measure it against the GT."""
    net = load_synthesizer(hd.ARTIFACTS / "healthy.pth")
    inp = hd.held_out_inputs("LJ001-0024")
    y = resynth(net, inp)
    ref = inp["target"]
    assert np.isfinite(y).all() and y.size == ref.size
    l1 = float(log_mel_l1(y, ref, SR))
    zcr_ratio = zcr_hz(y, SR) / zcr_hz(ref, SR)
    assert l1 < 1.3, f"held-out log-mel L1 {l1:.3f}"
    assert 0.5 <= zcr_ratio <= 2.0, f"held-out ZCR ratio {zcr_ratio:.2f}"
