"""Training-log checks and hypothesis verdicts, on logs and folders from fixtures/build_data.py.

Includes the lexi acceptance test: the lexi report rebuilt (int16 GT wavs + stagnating
log) fails exactly the relevant checks with the report's explanations; a healthy folder passes.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.build_data import build_healthy, build_lexi, touch_checkpoints, write_train_log
from rvcqa.profile import check_suites
from rvcqa.checks import dataset, trainlog
from rvcqa.context import ModelContext
from rvcqa.findings import Status
from rvcqa.modeldir import discover

TINY = {"dataset.total_duration.min_seconds": 5.0}
LEXI_FAILS = {"dataset.gt_format", "training.mel_start", "training.mel_final", "training.mel_progress"}


def log_dir(tmp_path: Path, kind: str = "healthy", fmt: str = "file", **kw) -> Path:
    root = tmp_path / "demo"
    root.mkdir(parents=True, exist_ok=True)
    defaults = dict(epochs=137, steps_per_epoch=18, batch_size=6) if kind == "lexi" else dict(epochs=200, steps_per_epoch=10)
    write_train_log(root / "train.log", kind, fmt=fmt, name="demo", **{**defaults, **kw})
    return root


def run_checks(root: Path, thresholds: dict | None = None) -> tuple[dict, dict, ModelContext]:
    ctx = ModelContext(discover(root), thresholds=thresholds or {}, suites=check_suites())
    found = {f.check: f for f in trainlog.run(ctx)}
    assert tuple(found) == trainlog.CHECK_IDS
    hyp = ctx.findings(trainlog.HYPOTHESES)
    assert tuple(hyp) == trainlog.HYPOTHESIS_IDS
    return found, hyp, ctx


def failing(found: dict) -> set[str]:
    return {cid for cid, f in found.items() if f.status is Status.FAILED}


# --------------------------------------------------------------------------- acceptance: lexi vs healthy

@pytest.fixture(scope="module")
def lexi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_lexi(tmp_path_factory.mktemp("lexi"), n_segments=12, seconds=(3.0, 5.0)).root


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_healthy(tmp_path_factory.mktemp("healthy"), n_segments=6).root


def test_lexi_rebuild_fails_exactly_the_relevant_checks(lexi: Path) -> None:
    ctx = ModelContext(discover(lexi), thresholds=TINY, suites=check_suites())
    found = {**ctx.findings(dataset), **ctx.findings(trainlog)}
    assert failing(found) == LEXI_FAILS, {c: found[c].message for c in failing(found)}

    gt = found["dataset.gt_format"]
    assert "12 of 12 wavs in 0_gt_wavs are integer PCM (PCM_16)" in gt.message
    assert "32768x too loud" in gt.message and "custom slicing script" in gt.cause

    start = found["training.mel_start"]
    assert "first loss_mel 333.991" in start.message and "f0G48k.pth loaded" in start.message
    assert "integer PCM" in start.cause

    final = found["training.mel_final"]
    assert "healthy RVC runs end at 15-25" in final.message and final.measured > 170
    assert "dataset.gt_format" in final.cause

    prog = found["training.mel_progress"]
    assert "stagnates" in prog.message and "more epochs will not help" in prog.message
    assert prog.details["verdict"] == "flat" and abs(prog.details["relative_change"]) < 0.05

    # what the report checked by hand passes, with the numbers it cares about
    assert found["training.pretrained"].status is Status.PASSED
    assert found["training.pretrained_match"].status is Status.PASSED
    assert found["training.kl"].status is Status.PASSED
    spe = found["training.steps_per_epoch"]
    assert spe.status is Status.PASSED and "2 mute lines at batch 6" in spe.message
    assert found["training.checkpoints"].status is Status.PASSED
    assert "end of epoch 132" in found["training.checkpoints"].message
    assert ctx.measurements["training.first_loss_mel"] == 333.991
    assert ctx.measurements["training.last_loss_mel"] == 207.552


def test_lexi_hypotheses_verdicts(lexi: Path) -> None:
    ctx = ModelContext(discover(lexi), thresholds=TINY, suites=check_suites())
    hyp = ctx.findings(trainlog.HYPOTHESES)
    verdicts = {h: f.details["verdict"] for h, f in hyp.items()}
    assert verdicts == dict.fromkeys(trainlog.HYPOTHESIS_IDS, "ruled out")
    assert all(f.status is Status.PASSED for f in hyp.values())
    ins = hyp["hypothesis.insufficient_training"]
    assert "plateaued by epoch" in ins.message and "would not help" in ins.message
    pre = hyp["hypothesis.pretrained_mismatch"]
    assert "contradicts the log" in pre.message and "333.991" in pre.message and "integer PCM" in pre.cause
    assert "flat level" in hyp["hypothesis.learning_rate"].message
    assert "batch size 6" in hyp["hypothesis.batch_size"].message
    assert "agree within 20 ms" in hyp["hypothesis.feature_misalignment"].message


def test_healthy_folder_passes_everything(healthy: Path) -> None:
    ctx = ModelContext(discover(healthy), thresholds=TINY, suites=check_suites())
    found = {**ctx.findings(dataset), **ctx.findings(trainlog)}
    for cid, f in found.items():
        assert f.status is Status.PASSED, f.explain()
    assert ctx.findings(trainlog)["training.mel_progress"].details["verdict"] == "improving"
    hyp = ctx.findings(trainlog.HYPOTHESES)
    assert {f.details["verdict"] for f in hyp.values()} == {"ruled out"}


# --------------------------------------------------------------------------- kinds of logs

KINDS = [
    ("healthy", set()),
    ("lexi", {"training.mel_start", "training.mel_final", "training.mel_progress"}),
    ("no_pretrained", {"training.pretrained", "training.mel_start"}),
    ("pretrained_missing", {"training.pretrained", "training.mel_start"}),
    ("nan", {"training.nan", "training.mel_final", "training.mel_progress"}),
    ("kl_capped", {"training.kl"}),
    ("rising", {"training.mel_progress", "training.mel_final"}),
]


@pytest.mark.parametrize("fmt", ["file", "console", "user"])
@pytest.mark.parametrize("kind,expected", KINDS, ids=[k for k, _ in KINDS])
def test_log_kinds(tmp_path: Path, kind: str, expected: set[str], fmt: str) -> None:
    found, _, _ = run_checks(log_dir(tmp_path, kind, fmt))
    assert failing(found) == expected, {c: found[c].message for c in failing(found)}
    for cid in failing(found):
        assert found[cid].cause, f"{cid} names no cause"
    assert found["training.log"].status is Status.PASSED
    assert found["training.steps_per_epoch"].status is Status.SKIPPED  # no data folders here


def test_capped_lexi_in_rvc_format_says_at_least(tmp_path: Path) -> None:
    found, _, _ = run_checks(log_dir(tmp_path, "lexi", "console"))
    assert "first loss_mel >= 75.000" in found["training.mel_start"].message
    assert "pinned at RVC's display cap 75.000" in found["training.mel_final"].message
    assert "pinned at RVC's 75.000 display cap" in found["training.mel_progress"].message


def test_rising_is_blamed_on_divergence(tmp_path: Path) -> None:
    found, hyp, _ = run_checks(log_dir(tmp_path, "rising", "console"))
    assert "loss_mel is rising" in found["training.mel_progress"].message
    assert "H100/H800/H200" in found["training.mel_progress"].cause
    assert "diverged" in found["training.mel_final"].cause
    assert hyp["hypothesis.insufficient_training"].details["verdict"] == "ruled out"


def test_nan_names_first_step(tmp_path: Path) -> None:
    found, _, _ = run_checks(log_dir(tmp_path, "nan", "console"))
    assert "first at epoch" in found["training.nan"].message and "#2406" in found["training.nan"].cause


def test_kl_pinned_and_exploding(tmp_path: Path) -> None:
    found, _, _ = run_checks(log_dir(tmp_path, "kl_capped", "file"))
    assert "pinned at RVC's 9.000 display cap" in found["training.kl"].message
    found, _, _ = run_checks(log_dir(tmp_path / "u", "kl_capped", "user"))
    assert "explodes" in found["training.kl"].message


def test_no_pretrained_verdicts(tmp_path: Path) -> None:
    found, hyp, _ = run_checks(log_dir(tmp_path, "pretrained_missing", "console"))
    assert "not exist, will not use pretrained model" in found["training.pretrained"].message
    assert "random weights" in found["training.mel_start"].cause
    assert hyp["hypothesis.pretrained_mismatch"].details["verdict"] == "supported"
    assert hyp["hypothesis.pretrained_mismatch"].status is Status.WARNING
    found, _, _ = run_checks(log_dir(tmp_path / "f", "no_pretrained", "file"))
    assert "pretrainG is ''" in found["training.pretrained"].message


# --------------------------------------------------------------------------- skips and edge cases

def test_empty_train_log_is_skipped_with_the_console_hint(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "train.log").write_text("")
    found, hyp, _ = run_checks(tmp_path / "demo")
    for f in found.values():
        assert f.status is Status.SKIPPED
        assert f.message == ("train.log is empty: RVC >= 2.2.231006 logs to the console; capture it and pass "
                             "--train-log PATH")
    assert hyp["hypothesis.learning_rate"].details["verdict"] == "not testable"
    assert hyp["hypothesis.learning_rate"].status is Status.SKIPPED


def test_missing_train_log_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "config.json").write_text("{}")
    found, _, _ = run_checks(tmp_path / "demo")
    assert all(f.status is Status.SKIPPED for f in found.values())
    assert "--train-log PATH" in found["training.log"].message


def test_console_capture_passed_with_train_log_option(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    root.mkdir()
    (root / "train.log").write_text("")
    capture = tmp_path / "console.txt"
    write_train_log(capture, "healthy", fmt="console", name="demo", epochs=200, steps_per_epoch=10)
    ctx = ModelContext(discover(root, train_log=capture), suites=check_suites())
    found = {f.check: f for f in trainlog.run(ctx)}
    assert found["training.log"].status is Status.PASSED and "console format" in found["training.log"].message


def test_binary_log_fails_training_log_only(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "train.log").write_bytes(b"\x80\x02}q\x00" + bytes(range(256)))
    found, _, _ = run_checks(tmp_path / "demo")
    assert found["training.log"].status is Status.FAILED and "not a text log" in found["training.log"].message
    assert all(f.status is Status.SKIPPED for c, f in found.items() if c != "training.log")


def test_applio_output_has_no_losses(tmp_path: Path) -> None:
    found, _, _ = run_checks(log_dir(tmp_path, "healthy", "applio"))
    assert found["training.log"].status is Status.PASSED
    assert found["training.mel_final"].status is Status.SKIPPED and "TensorBoard" in found["training.mel_final"].message
    assert found["training.completed"].status is Status.PASSED


def test_pretrain_rate_and_f0_mismatch(tmp_path: Path) -> None:
    root = log_dir(tmp_path)
    text = (root / "train.log").read_text()
    (root / "train.log").write_text(text.replace("f0G48k.pth", "f0G40k.pth").replace("f0D48k.pth", "D48k.pth"))
    found, hyp, _ = run_checks(root)
    f = found["training.pretrained_match"]
    assert f.status is Status.FAILED
    assert "f0G40k.pth is a 40k pretrain but the model is 48k" in f.message
    assert "D48k.pth is a no-f0 pretrain" in f.message
    assert hyp["hypothesis.pretrained_mismatch"].details["verdict"] == "supported"


def test_checkpoints_from_another_run_warn(tmp_path: Path) -> None:
    root = log_dir(tmp_path)  # 200 epochs x 10 steps
    touch_checkpoints(root, [1000, 2000, 99999, 1005])
    f = run_checks(root)[0]["training.checkpoints"]
    assert f.status is Status.WARNING
    assert "G_99999 is beyond the log's last step 2000" in f.message
    assert "G_1005 is not an epoch boundary at 10 steps/epoch" in f.message


def test_steps_per_epoch_mismatch_warns(healthy: Path, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "healthy"
    shutil.copytree(healthy, root)
    write_train_log(root / "train.log", "healthy", fmt="file", name="healthy", epochs=300, steps_per_epoch=11, batch_size=4)
    f = run_checks(root)[0]["training.steps_per_epoch"]
    assert f.status is Status.WARNING and "11 steps/epoch but the data here gives" in f.message


def test_unfinished_run_warns(tmp_path: Path) -> None:
    root = log_dir(tmp_path, finished=False)
    text = (root / "train.log").read_text().replace("'total_epoch': 200", "'total_epoch': 500")
    (root / "train.log").write_text(text)
    f = run_checks(root)[0]["training.completed"]
    assert f.status is Status.WARNING and "epoch 200 of total_epoch 500" in f.message


def test_resumed_log_does_not_judge_the_start(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    root.mkdir()
    lines = ["INFO:demo:loaded D", "INFO:root:Loaded checkpoint './logs/demo/D_4000.pth' (epoch 200)"]
    for i, step in enumerate(range(4000, 6000, 200)):
        lines += [f"INFO:demo:Train Epoch: {step // 20 + 1} [0%]", f"INFO:demo:[{step}, 9.7e-05]",
                  f"INFO:demo:loss_disc=3.5, loss_gen=3.3, loss_fm=9.1,loss_mel={20 - i * 0.3:.3f}, loss_kl=1.600"]
    (root / "train.log").write_text("\n".join(lines))
    found, _, _ = run_checks(root)
    assert found["training.mel_start"].status is Status.SKIPPED and "resumed" in found["training.mel_start"].message
    assert found["training.pretrained"].status is Status.SKIPPED
    assert not failing(found)


def test_learning_rate_and_batch_size_supported(tmp_path: Path) -> None:
    root = log_dir(tmp_path, learning_rate=1e-3, batch_size=1)
    _, hyp, _ = run_checks(root)
    assert hyp["hypothesis.learning_rate"].details["verdict"] == "supported"
    assert "10x RVC's default" in hyp["hypothesis.learning_rate"].message
    assert hyp["hypothesis.batch_size"].details["verdict"] == "supported"


def test_misaligned_data_supports_the_misalignment_hypothesis(tmp_path: Path) -> None:
    from fixtures.build_data import build_dataset

    data = build_dataset(tmp_path, name="demo", n_segments=3, seconds=(1.5, 2.0), faults={"misaligned_16k"})
    _, hyp, _ = run_checks(data.root)
    h = hyp["hypothesis.feature_misalignment"]
    assert h.details["verdict"] == "supported" and "dataset.durations" in h.message


def test_stagnation_at_a_healthy_level_is_convergence(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    root.mkdir()
    import numpy as np

    rng = np.random.default_rng(3)
    lines = []
    for i, step in enumerate(range(0, 8000, 200)):
        mel = 30.0 if i == 0 else 18.0 + rng.normal(0, 1.0)
        lines += [f"INFO:demo:Train Epoch: {step // 20 + 1} [0%]", f"INFO:demo:[{step}, 0.0001]",
                  f"INFO:demo:loss_disc=3.5, loss_gen=3.3, loss_fm=9.1,loss_mel={mel:.3f}, loss_kl=1.600"]
    (root / "train.log").write_text("\n".join(lines))
    found, hyp, _ = run_checks(root)
    assert found["training.mel_progress"].status is Status.PASSED
    assert "converged at a healthy level" in found["training.mel_progress"].message
    assert hyp["hypothesis.insufficient_training"].details["verdict"] == "ruled out"


def test_defaults_are_documented() -> None:
    src = Path(trainlog.defaults.__file__).read_text()
    for key in trainlog.DEFAULTS:
        before = src[: src.index(f'"{key}"')].rstrip().splitlines()[-1]
        assert before.strip().startswith("#"), f"{key} has no comment on where it comes from"
