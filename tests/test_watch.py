"""``rvcqa watch`` on a folder that fills up while it watches, and the watch's parts on their own.

The folder is built like tests/test_sweep.py's: a narrow v2-48k model's own resynthesis is the
``0_gt_wavs``, so a checkpoint ``good + a * d`` is worse the larger ``a`` is, and the best one is
known by construction (epoch 15, ``G_300.pth``).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from model_builders import degraded, resynthesised_dataset, sweep_config

REPO = Path(__file__).resolve().parent.parent
NAME = "sw"
STEPS_PER_EPOCH = 20
#: saved in this order; the best is epoch 15
SAVES = {5: 0.8, 10: 0.4, 15: 0.0, 20: 0.3, 25: 0.6}
SLOW_EPOCH = 15


@pytest.fixture(scope="module")
def training(tmp_path_factory):
    """``logs/sw`` at the start of a training: data folders, config.json, a train.log, no checkpoint;
    plus the checkpoints the training will save (written elsewhere, copied in by the test)."""
    import torch

    from fixtures.build_models import Spec, config_json
    from rvcqa.checkpoint import save_training_checkpoint

    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp("watch")
    root, good = resynthesised_dataset(base / "logs", NAME)
    (root / "config.json").write_text(json.dumps(config_json(Spec(), sweep_config()), indent=2, sort_keys=True))
    (root / "train.log").write_text("2026-01-20 04:00:00,000\tsw\tINFO\tTrain Epoch: 1 [0%]\n")
    saved = base / "saved"
    saved.mkdir()
    files = {}
    for epoch, a in SAVES.items():
        files[epoch] = save_training_checkpoint(saved / f"G_{epoch * STEPS_PER_EPOCH}.pth", degraded(good, a),
                                                iteration=epoch)
    return root, files


def _listing(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def test_watch_follows_a_training_until_it_is_done(training, tmp_path):
    root, files = training
    results = tmp_path / "results"
    page = results / "watch" / "watch.html"
    log: list[str] = []
    ours: set[str] = set()

    def train() -> None:
        """Saves checkpoints over time as RVC does (in place), one of them in slow pieces."""
        deadline = time.monotonic() + 120
        for i, (epoch, src) in enumerate(files.items()):
            dst = root / src.name
            ours.add(dst.name)
            if epoch == SLOW_EPOCH:
                data = src.read_bytes()
                with dst.open("wb") as out:
                    for k in range(0, len(data), len(data) // 6 + 1):
                        out.write(data[k:k + len(data) // 6 + 1])
                        out.flush()
                        log.append(f"piece of {dst.name}")
                        time.sleep(0.5)
            else:
                shutil.copyfile(src, dst)
            if i == 0:  # let the watch start up and judge the first one before going on
                while not page.is_file() and time.monotonic() < deadline:
                    time.sleep(0.2)
            time.sleep(0.4)
        with (root / "train.log").open("a") as f:
            f.write("2026-01-20 05:00:00,000\tsw\tINFO\tTraining is done. The program is closed.\n")

    before = _listing(root)
    writer = threading.Thread(target=train, daemon=True)
    writer.start()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "rvcqa.cli", "watch", str(root), "--results", str(results), "--window", "all",
         "--segments", "2", "--poll", "0.2", "--settle", "0.3", "--max-wait", "240"],
        cwd=tmp_path, capture_output=True, text=True, timeout=400, env=env)
    writer.join(timeout=60)
    out = proc.stdout
    print(out)
    assert proc.returncode == 0, out + proc.stderr
    lines = [ln for ln in out.splitlines() if ln.startswith("watch ")]
    assert [ln.split()[1] for ln in lines] == [f"G_{e * STEPS_PER_EPOCH}.pth" for e in SAVES], out
    assert all("not measured" not in ln and "cannot be read" not in ln for ln in lines), out
    assert "damaged" not in out and "truncated" not in out, out
    assert sum(1 for x in log if x.startswith("piece")) > 3  # the slow file really was written in pieces
    slow = next(ln for ln in lines if ln.split()[1] == f"G_{SLOW_EPOCH * STEPS_PER_EPOCH}.pth")
    assert f"epoch {SLOW_EPOCH}" in slow and "best so far" in slow, slow
    assert "metric: median in-band log-mel L1" in out and "sweep.plateau_tolerance=0.03" in out
    assert "stopped: training is done (train.log says: " in out
    rec = next(ln for ln in out.splitlines() if "recommendation: release" in ln)
    assert "G_300.pth" in rec, out
    assert "getting worse since epoch 15" in out  # the last saves are worse: the call is made
    assert "needs content features" not in out  # no --heldout given: nothing to say about it
    assert page.is_file() and (results / "watch" / "watch.png").is_file()
    data = json.loads((results / "watch" / "watch.json").read_text())
    assert [p["label"] for p in data["points"]] == [f"G_{e * STEPS_PER_EPOCH}.pth" for e in SAVES]
    after = _listing(root)
    new = set(after) - set(before)
    assert new == ours, new - ours  # nothing of the watch's own in the model folder
    assert all(after[k] == v for k, v in before.items() if k != "train.log")


def test_readiness_waits_for_a_whole_unchanged_zip(tmp_path, training):
    from rvcqa.watch.follow import Readiness

    _, files = training
    data = files[5].read_bytes()
    path = tmp_path / "G_100.pth"
    ready = Readiness(settle_s=0.0)
    path.write_bytes(data[: len(data) // 2])
    assert ready.version(path) is None  # half a zip: not yet, and not an error
    path.write_bytes(data)
    assert ready.version(path) is not None
    assert zipfile.is_zipfile(path)
    settling = Readiness(settle_s=0.3)
    assert settling.version(path) is None  # first sight: wait to see it unchanged
    time.sleep(0.35)
    assert settling.version(path) is not None


def test_done_signals_rvc_log_and_applio(tmp_path):
    from rvcqa.watch.follow import DoneSignal

    log = tmp_path / "train.log"
    log.write_text("epoch 1\n")
    sig = DoneSignal(log, None)
    assert not sig.check()
    with log.open("a") as f:
        f.write("Training has been successfully completed with 20 epoch, 400 steps and 31.2 loss gen.\n")
    assert sig.check() and "successfully completed" in sig.message
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"data": {}, "process_pids": [123]}))
    sig = DoneSignal(None, cfg)
    assert not sig.check()
    cfg.write_text(json.dumps({"data": {}}))  # Applio drops its pids as the run closes
    assert sig.check() and "process ids" in sig.message


def _judge(train, held=None, metric="train", patience=3):
    from rvcqa.sweep.model import SetScores, SweepCandidate, SweepRow
    from rvcqa.sweep.tolerances import Tolerances
    from rvcqa.watch.judge import Judge, Point

    j = Judge(metric, Tolerances(patience=patience))
    for i, t in enumerate(train):
        row = SweepRow(SweepCandidate(Path(f"G_{100 * (i + 1)}.pth"), "G", 100 * (i + 1), 5 * (i + 1)),
                       train=SetScores(n=2, mel=t))
        p = Point(row)
        if held is not None:
            p.recordings = held[i]
        j.points.append(p)
    return j


def test_stop_call_after_patience_checkpoints_without_gain():
    j = _judge([0.9, 0.6, 0.5, 0.505, 0.51, 0.498])
    calls = j.calls()
    assert [c.kind for c in calls] == ["stop"]
    assert "quality stopped improving at epoch 15" in calls[0].message
    assert "within 3% of the best over the last 3 checkpoints" in calls[0].message
    assert calls[0].release == "G_600.pth" and "release G_600.pth" in j.recommendation()
    assert not _judge([0.9, 0.6, 0.5, 0.505]).calls()  # one checkpoint since: not yet earned


def test_overtraining_call_when_heldout_worsens_while_training_improves():
    j = _judge([0.9, 0.7, 0.6, 0.5, 0.45], held=[0.95, 0.8, 0.7, 0.78, 0.86], metric="recordings")
    kinds = {c.kind: c for c in j.calls()}
    assert "overtraining" in kinds
    assert "held-out getting worse while training gets better: overtraining since epoch 15" in kinds[
        "overtraining"].message
    assert kinds["overtraining"].release == "G_300.pth"
    assert j.trend(j.points[-1]).startswith("worse")


def test_heldout_recordings_without_hubert_say_why(tmp_path):
    import numpy as np
    import soundfile as sf

    from rvcqa.watch.heldout import load_recordings

    sf.write(str(tmp_path / "a.wav"), np.zeros(16000, np.float32), 16000)
    rec = load_recordings(tmp_path, None, version="v2", sr=48000, hop=480, f0=True, frames=None)
    assert not rec.refs and "need content features: pass --hubert" in rec.reason
    rec = load_recordings(tmp_path, tmp_path / "missing.pt", version="v2", sr=48000, hop=480, f0=True, frames=None)
    assert not rec.refs and "cannot be used" in rec.reason
