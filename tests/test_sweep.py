"""rvcqa.sweep and rvcqa.checks.sweep on fixture folders whose "quality" is known by construction.

The model is RVC's v2 48k f0 synthesizer at narrow widths (fixtures.build_models.NARROW). A
reference "good" weight set resynthesises the folder's training inputs (stand-in features and F0
from fixtures.build_data) and THOSE outputs are written as ``0_gt_wavs``: the good weights then
reproduce their targets exactly (distance 0), and a candidate ``good + a * d`` (one fixed random
direction ``d``, relative to each tensor's spread) is worse the larger ``a`` is. That tests the
ranking logic honestly: it says nothing about whether real RVC training curves look like this.
An untrained narrow network's output is a near-constant level with a small varying part (no
zero crossings, no pitch), so only the log-mel ranking is meaningful here, not the flatness, ZCR
or F0 columns.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from model_builders import degraded, resynthesised_dataset, sweep_config

REPO = Path(__file__).resolve().parent.parent
STEPS_PER_EPOCH = 20
#: degradation per saved checkpoint: quality rises, peaks at epoch 15 (step 300), then falls
DEGRADATION = {5: 0.8, 10: 0.4, 15: 0.0, 20: 0.25, 25: 0.6}
NAME = "sw"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --------------------------------------------------------------------------- fixture folders


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """Data folders with the good model's own resynthesis as 0_gt_wavs, plus a train.log."""
    from fixtures.build_data import write_train_log

    base = tmp_path_factory.mktemp("sweep_template")
    root, good = resynthesised_dataset(base / "logs", NAME)
    write_train_log(root / "train.log", "healthy", name=NAME, epochs=max(DEGRADATION),
                    steps_per_epoch=STEPS_PER_EPOCH, log_interval=20, save_every_epoch=5)
    return root, good


def _folder(template, dest: Path, epochs: dict[int, float], released_epoch: int | None,
            drop_from_filelist: int = 0) -> Path:
    """A copy of the template with G_{step}.pth per ``epochs`` and NAME.pth extracted from one."""
    from rvcqa.checkpoint import save_inference_model, save_training_checkpoint

    src, good = template
    root = dest / "logs" / NAME
    shutil.copytree(src, root)
    states = {}
    for epoch, a in epochs.items():
        states[epoch] = degraded(good, a)
        save_training_checkpoint(root / f"G_{epoch * STEPS_PER_EPOCH}.pth", states[epoch], iteration=epoch)
    if released_epoch is not None:
        save_inference_model(root / f"{NAME}.pth", states[released_epoch], sweep_config(), sr="48k", f0=1, version="v2",
                             info=f"{released_epoch}epoch")
    if drop_from_filelist:
        fl = root / "filelist.txt"
        lines = fl.read_text().split("\n")
        real = [ln for ln in lines if "/mute/" not in ln]
        dropped = sorted(real)[:drop_from_filelist]
        fl.write_text("\n".join(ln for ln in lines if ln not in dropped))
    return root


def _ctx(root: Path, results: Path, *, sweep: bool = True, model_file: Path | None = None, **thresholds):
    from rvcqa.context import ModelContext, Options
    from rvcqa.modeldir import discover
    from rvcqa.profile import default_thresholds

    profile = default_thresholds()
    profile.update({"sweep.window_s": 0, "sweep.segments": 2, "sweep.heldout_segments": 1})
    profile.update({k.replace("__", "."): v for k, v in thresholds.items()})
    return ModelContext(discover(root, model_file=model_file), Options(results_dir=results, sweep=sweep), profile)


@pytest.fixture(scope="module")
def rise_fall(template, tmp_path_factory):
    """Five checkpoints, best in the middle, the released model extracted from the last (worse) one."""
    from rvcqa.checks import sweep as checks

    base = tmp_path_factory.mktemp("rise_fall")
    root = _folder(template, base, DEGRADATION, released_epoch=25)
    ctx = _ctx(root, base / "results")
    lines: list[str] = []
    ctx.progress = lines.append
    result = checks.sweep_result(ctx)
    return root, ctx, result, lines


# --------------------------------------------------------------------------- the sweep on fixtures


def test_rise_then_fall_recommends_the_middle_checkpoint(rise_fall):
    _, _, result, lines = rise_fall
    assert [r.candidate.label for r in result.rows] == [f"G_{e * STEPS_PER_EPOCH}.pth" for e in DEGRADATION]
    assert [r.candidate.epoch for r in result.rows] == list(DEGRADATION)
    scores = [r.score(result.rank_on) for r in result.rows]
    assert scores[2] == pytest.approx(0.0, abs=1e-6)  # the good weights reproduce their own outputs
    # distance follows the degradation: 0.8 > 0.6 > 0.4 > 0.25 > 0
    order = sorted(range(5), key=lambda i: scores[i])
    assert order == sorted(range(5), key=lambda i: list(DEGRADATION.values())[i])
    assert result.recommendation is not None and result.recommendation.label == "G_300.pth"
    assert "lowest log-mel distance" in result.recommendation.reason
    assert all(r.error is None for r in result.rows)
    assert len(lines) == 5 and all(line.startswith(f"sweep {k}/5 G_") for k, line in enumerate(lines, 1))


def test_overtraining_and_released_not_best_are_warned(rise_fall):
    _, _, result, _ = rise_fall
    kinds = [w.kind for w in result.warnings]
    assert "overtraining" in kinds and "plateau" not in kinds  # best at 60 % of the run: not "long before"
    assert "released_not_best" in kinds
    assert result.released_index == 4 and result.rows[4].released
    assert "bit-equal to G_500.pth" in result.released_how
    rel = next(w for w in result.warnings if w.kind == "released_not_best")
    assert "G_300.pth" in rel.message


def test_released_worse_than_best_fails_the_check(rise_fall):
    from rvcqa.checks import sweep as checks
    from rvcqa.findings import Status

    _, ctx, result, _ = rise_fall
    found = ctx.findings(checks)
    assert set(found) == set(checks.CHECK_IDS)
    f = found["sweep.released_vs_best"]
    assert f.status is Status.FAILED, f.explain()
    assert "G_300.pth" in f.explain() and "G_500.pth" in f.message
    rec = found["sweep.recommendation"]
    assert rec.status is Status.WARNING
    assert "G_300.pth" in rec.message and "overtraining" in rec.message
    assert rec.details["rows"][2]["score"] == pytest.approx(0.0, abs=1e-6)
    assert "recommended" in rec.details["table"]
    assert ctx.measurements["sweep_best_mel_distance"] == pytest.approx(0.0, abs=1e-6)


def test_outputs_plot_table_and_json(rise_fall):
    import json

    _, _, result, _ = rise_fall
    assert result.plot_path is not None and result.plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result.loss_mel and result.rows[0].loss_mel is not None  # train.log on the same step axis
    saved = json.loads((result.out_dir / "sweep.json").read_text())
    assert saved["recommendation"]["label"] == "G_300.pth"
    wavs = sorted(p.name for p in (result.out_dir / "G_300").glob("*.wav"))
    assert len(wavs) == 3 and len(list((result.out_dir / "gt").glob("*.wav"))) == 3
    from rvcqa.sweep import format_table

    table = format_table(result)
    row300 = next(line for line in table.splitlines() if "G_300.pth" in line)
    assert row300.startswith("* ")
    row500 = next(line for line in table.splitlines() if "G_500.pth" in line)
    assert row500.startswith(" R")
    assert "NOT held out from training, only from selection" in table


def test_model_dir_is_not_written(rise_fall):
    root, _, result, _ = rise_fall
    assert root.resolve() not in result.out_dir.resolve().parents
    assert not list(root.rglob("*.png"))


def test_not_asked_is_skipped(template, tmp_path):
    from rvcqa.checks import sweep as checks
    from rvcqa.findings import Status

    root = _folder(template, tmp_path, {5: 0.3, 10: 0.0}, released_epoch=10)
    found = _ctx(root, tmp_path / "results", sweep=False).findings(checks)
    assert {f.status for f in found.values()} == {Status.SKIPPED}
    assert all(f.message == "pass --rvcqa-sweep to rank checkpoints" for f in found.values())


def test_single_checkpoint_sweeps_one_and_skips_the_comparison(template, tmp_path):
    from rvcqa.checks import sweep as checks
    from rvcqa.findings import Status

    root = _folder(template, tmp_path, {5: 0.2}, released_epoch=5)
    ctx = _ctx(root, tmp_path / "results")
    lines: list[str] = []
    ctx.progress = lines.append
    result = checks.sweep_result(ctx)
    assert len(result.rows) == 1 and result.rows[0].error is None
    assert result.recommendation is not None and result.recommendation.label == "G_100.pth"
    assert result.released_index == 0 and not result.warnings
    assert len(lines) == 1
    found = ctx.findings(checks)
    assert {f.status for f in found.values()} == {Status.SKIPPED}
    assert "only one candidate" in found["sweep.recommendation"].message


def test_true_heldout_slice_ranks_and_released_best_passes(template, tmp_path):
    """Stems missing from filelist.txt were never trained on: they become the held-out slice and
    rank the candidates; a released model extracted from the best checkpoint passes."""
    from rvcqa.checks import sweep as checks
    from rvcqa.findings import Status

    root = _folder(template, tmp_path, {5: 0.5, 10: 0.0, 15: 0.3}, released_epoch=10, drop_from_filelist=1)
    ctx = _ctx(root, tmp_path / "results")
    result = checks.sweep_result(ctx)
    assert result.heldout.kind == "not_in_filelist" and result.rank_on == "heldout"
    assert len(result.heldout.stems) == 1 and result.heldout.stems[0] not in result.train_stems
    assert "never saw" in result.heldout.description
    assert result.recommendation.label == "G_200.pth"
    found = ctx.findings(checks)
    assert found["sweep.released_vs_best"].status is Status.PASSED, found["sweep.released_vs_best"].explain()
    assert found["sweep.recommendation"].status is Status.WARNING  # the last one is worse: overtraining
    assert [w.kind for w in result.warnings] == ["overtraining"]


def test_windowed_default_sample_still_ranks_right(template, tmp_path):
    """Windows cut from the segments (0.2 s of context either side) differ slightly at their edges
    from whole-segment resynthesis, so the good checkpoint is near 0 rather than exactly 0; the
    ranking holds."""
    from rvcqa.checks import sweep as checks

    root = _folder(template, tmp_path, {5: 0.4, 10: 0.0}, released_epoch=10)
    ctx = _ctx(root, tmp_path / "results", sweep__window_s=0.6, sweep__segments=2)
    result = checks.sweep_result(ctx)
    good, bad = result.rows[1].train, result.rows[0].train
    assert good.mel < 0.5 * bad.mel
    assert all(s["seconds_audio"] == pytest.approx(0.6) for s in good.per_segment)
    assert result.recommendation.label == "G_200.pth"


def test_window_workers_measure_exactly_what_one_worker_measures(template, tmp_path):
    """The windows of a candidate run on parallel workers into one shared network: the numbers are
    the serial run's, in the same order, and the next candidate's weights never leak into them."""
    from rvcqa.sweep import run_sweep

    root = _folder(template, tmp_path, {5: 0.8, 10: 0.0, 15: 0.4}, released_epoch=15)
    keys = ("stem", "mel_distance", "mel_distance_full_band", "flatness", "zcr_ratio", "rms_ratio",
            "f0_median_abs_cents", "voicing_error")

    def numbers(workers: int) -> tuple[list[list[tuple]], dict]:
        ctx = _ctx(root, tmp_path / f"results{workers}", sweep__segments=3, sweep__heldout_segments=2)
        result = run_sweep(ctx, segments=3, heldout_segments=2, window_s=None, plot=False, workers=workers)
        assert all(r.error is None for r in result.rows), [r.error for r in result.rows]
        rows = [[tuple(s[k] for k in keys) for s in (r.train.per_segment if r.train else [])
                 + (r.heldout.per_segment if r.heldout else [])] for r in result.rows]
        return rows, result.settings

    serial, s1 = numbers(1)
    parallel, s3 = numbers(3)
    assert s1["workers"] == 1 and s3["workers"] == 3
    assert len(serial) == 3 and all(len(r) == len(serial[0]) >= 3 for r in serial), serial
    assert parallel == serial
    assert serial[1][0][1] == pytest.approx(0.0, abs=1e-6) and serial[0][0][1] > serial[2][0][1] > 0


def test_epoch_models_and_g_files_at_one_step_are_one_candidate(tmp_path):
    from fixtures.build_models import Spec, build
    from rvcqa.context import ModelContext, Options
    from rvcqa.modeldir import discover
    from rvcqa.sweep import find_candidates

    built = build(tmp_path, Spec(epochs=(22, 44, 66), epoch_models=True, with_d=False, pretrained=False))
    cands = find_candidates(ModelContext(discover(built.root), Options()))
    assert [c.kind for c in cands] == ["epoch"] * 3
    assert [c.also[0].name for c in cands] == ["G_396.pth", "G_792.pth", "G_1188.pth"]
    assert [c.epoch for c in cands] == [22, 44, 66]


def test_applio_per_epoch_files_and_the_newest_released(tmp_path):
    """Applio: NAME_{E}e_{S}s.pth per save (with G_ files of the same weights); the newest per-epoch
    file is the released model. Real LJ Speech targets here, so only the plumbing is checked."""
    from fixtures.build_data import build_dataset
    from fixtures.build_models import Spec, build
    from rvcqa.checks import sweep as checks

    built = build(tmp_path, Spec(style="applio", epochs=(5, 10), with_d=False, pretrained=False))
    build_dataset(tmp_path / "logs", layout="applio", name="lexi", n_segments=3, seconds=(0.8, 1.0),
                  write_config=False)
    result = checks.sweep_result(_ctx(built.root, tmp_path / "results"))
    assert [r.candidate.label for r in result.rows] == ["lexi_5e_90s.pth", "lexi_10e_180s.pth"]
    assert [r.candidate.also[0].name for r in result.rows] == ["G_90.pth", "G_180.pth"]
    assert all(r.error is None and r.train.n >= 1 for r in result.rows)
    assert result.released_index == 1 and "per-epoch file lexi_10e_180s.pth itself" in result.released_how


def test_without_training_data_the_sweep_is_skipped(tmp_path):
    from fixtures.build_models import Spec, build
    from rvcqa.checks import sweep as checks
    from rvcqa.findings import Status

    built = build(tmp_path, Spec(epochs=(5, 10), with_d=False, pretrained=False))
    found = _ctx(built.root, tmp_path / "results").findings(checks)
    assert {f.status for f in found.values()} == {Status.SKIPPED}
    assert "training data folders" in found["sweep.recommendation"].message


# --------------------------------------------------------------------------- the judging logic


def _result(scores, *, steps=None, released=None, heldout=None, rank_on="train"):
    from rvcqa.sweep import HeldOut, SetScores, SweepCandidate, SweepResult, SweepRow

    steps = steps or [100 * (i + 1) for i in range(len(scores))]
    rows = []
    for i, (s, st) in enumerate(zip(scores, steps)):
        c = SweepCandidate(Path(f"G_{st}.pth"), "G", st, st // 20, plot_step=st)
        row = SweepRow(c, train=SetScores(n=4, mel=s), released=(i == released))
        if heldout is not None:
            row.heldout = SetScores(n=2, mel=heldout[i])
        rows.append(row)
    kind = "not_in_filelist" if rank_on == "heldout" else "selection_only"
    return SweepResult("m", rows, rank_on, HeldOut(kind, [], ""), [], released_index=released)


def test_plateau_long_before_the_end_is_warned():
    from rvcqa.sweep import Tolerances, analyse

    r = _result([0.9, 0.5, 0.49, 0.5, 0.495, 0.5])
    analyse(r, Tolerances())
    assert r.recommendation.label == "G_300.pth"
    assert [w.kind for w in r.warnings] == ["plateau"]
    assert "G_200.pth" in r.warnings[0].message and "33%" in r.warnings[0].message
    assert "More epochs would not help" in r.warnings[0].message


def test_steady_improvement_has_no_warning():
    from rvcqa.sweep import Tolerances, analyse

    r = _result([0.9, 0.7, 0.6, 0.55, 0.52, 0.5], released=5)
    analyse(r, Tolerances())
    assert r.recommendation.index == 5 and not r.warnings


def test_released_within_tolerance_is_not_flagged():
    from rvcqa.sweep import Tolerances, analyse

    r = _result([0.9, 0.5, 0.51], released=2)  # +2 %: inside 5 %
    analyse(r, Tolerances())
    assert r.recommendation.index == 1
    assert "released_not_best" not in [w.kind for w in r.warnings]
    r = _result([0.9, 0.5, 0.6], released=2)
    analyse(r, Tolerances())
    assert [w.kind for w in r.warnings] == ["overtraining", "released_not_best"]


def test_heldout_overfitting_while_fit_improves():
    from rvcqa.sweep import Tolerances, analyse

    r = _result([0.9, 0.7, 0.6, 0.5, 0.45], heldout=[0.95, 0.8, 0.7, 0.75, 0.85], rank_on="heldout")
    analyse(r, Tolerances())
    assert r.recommendation.label == "G_300.pth"
    assert [w.kind for w in r.warnings] == ["overfitting"]
    assert "never trained on" in r.warnings[0].message


def test_silent_candidate_ranks_last_and_errors_are_reported():
    import math

    from rvcqa.sweep import Tolerances, analyse

    r = _result([0.9, math.inf, 0.5])
    r.rows[1].train.mel = math.inf
    r.rows.append(type(r.rows[0])(r.rows[0].candidate, error="weights do not fit"))
    analyse(r, Tolerances())
    assert r.recommendation.index == 2
    assert [w.kind for w in r.warnings] == ["candidate_error"]


def test_window_cuts_the_loudest_stretch():
    from rvcqa.resynth import SegmentInputs
    from rvcqa.sweep import window

    n, hop = 300, 480
    target = np.zeros(n * hop, dtype=np.float32)
    target[200 * hop:260 * hop] = 0.5  # loud from frame 200 to 260
    inputs = SegmentInputs(np.zeros((n, 768), np.float32), np.ones(n, np.int64), np.zeros(n, np.float32), target,
                           n, n // 2, n)
    sub, off, frames = window(inputs, hop, 100, context=20)
    assert frames == 100 and off == 20 and sub.frames == 140  # 20 frames of context either side
    assert sub.phone.shape[0] == sub.pitch.shape[0] == sub.pitchf.shape[0] == sub.frames
    assert sub.target.size == sub.frames * hop
    cut = sub.target[off * hop:(off + frames) * hop]
    assert np.count_nonzero(cut) == 60 * hop  # the whole loud stretch lies inside the window
    same, off0, n0 = window(inputs, hop, None)
    assert same is inputs and (off0, n0) == (0, n)


# --------------------------------------------------------------------------- front ends


def test_cli_sweep_prints_table_and_progress(template, tmp_path, capsys):
    from rvcqa.cli import main

    root = _folder(template, tmp_path, {5: 0.3, 10: 0.0, 15: 0.5}, released_epoch=15)
    out = tmp_path / "results"
    code = main(["sweep", str(root), "--results", str(out), "--window", "all", "--segments", "2", "--heldout", "0",
                 "--json", str(tmp_path / "sweep.json")])
    captured = capsys.readouterr()
    assert code == 1  # the released model (epoch 15) is worse than epoch 10
    assert "recommended: G_200.pth" in captured.out
    progress = [ln for ln in captured.err.splitlines() if ln.startswith("sweep ")]
    assert len(progress) == 3
    assert (tmp_path / "sweep.json").is_file() and (out / "sweep" / "sweep.png").is_file()


def test_cli_bad_input_is_one_line(tmp_path, capsys):
    from rvcqa.cli import main

    assert main(["sweep", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.startswith("rvcqa: model directory")


def test_pytest_option_runs_the_sweep_and_prints_the_table(template, tmp_path):
    root = _folder(template, tmp_path, {5: 0.3, 10: 0.0, 15: 0.5}, released_epoch=15)
    cmd = [sys.executable, "-m", "pytest", "--model-dir", str(root), "--rvcqa-sweep", "-k", "test_sweep",
           "--rvcqa-results", str(tmp_path / "results"), "-p", "no:cacheprovider", "-q",
           "--rvcqa-threshold", "sweep.window_s=0", "--rvcqa-threshold", "sweep.segments=2",
           "--rvcqa-threshold", "sweep.heldout_segments=0"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "1 failed, 1 passed" in out or ("1 failed" in out and "warning" in out), out
    assert "rvcqa checkpoint sweep: sw" in out and "recommended: G_200.pth" in out
    assert proc.stderr.count("rvcqa: sweep ") == 3, proc.stderr
