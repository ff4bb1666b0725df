"""TensorBoard reading (rvcqa.tblog), source merging and sessions (rvcqa.history) on files written
by torch's SummaryWriter and in RVC's/Applio's console formats."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from fixtures.faults_history import write_applio_events, write_rvc_events, write_rvc_sessions
from rvcqa.profile import check_suites
from rvcqa.history import release_run, training_history
from rvcqa.modeldir import discover
from rvcqa.tblog import find_event_files, read_event_files, tensorboard_history
from rvcqa.trainlog import parse_train_log_text


def _flat(mel: float) -> object:
    return lambda step: (3.5, 3.0, 8.0, mel, 1.5)


def test_applio_eval_events_become_one_epoch_per_point(tmp_path: Path) -> None:
    write_applio_events(tmp_path / "eval", lambda s: (3.5, 3.0, 8.0, 30.0 - s / 100, 1.5), epochs=20, spe=7)
    files = read_event_files(tmp_path)
    assert [f.path.parent.name for f in files] == ["eval"]
    log = tensorboard_history(files)
    assert log is not None and log.format == "tensorboard"
    assert [(e.epoch, e.step) for e in log.entries[:3]] == [(1, 7), (2, 14), (3, 21)]
    assert log.entries[-1].loss_mel == pytest.approx(30.0 - 140 / 100)
    assert log.entries[0].loss_gen == pytest.approx(3.0) and not log.entries[0].mel_capped


def test_rvc_events_recover_the_real_mel_above_the_display_clamp(tmp_path: Path) -> None:
    write_rvc_events(tmp_path, lambda s: (3.5, 3.0, 8.0, 120.0, 2.0), epochs=5, spe=10)
    log = tensorboard_history(read_event_files(tmp_path))
    assert log is not None
    assert all(e.loss_mel == pytest.approx(120.0, abs=1e-3) and not e.mel_capped for e in log.entries)


def test_rvc_events_with_both_clamps_stay_bounds(tmp_path: Path) -> None:
    write_rvc_events(tmp_path, lambda s: (3.5, 3.0, 8.0, 120.0, 30.0), epochs=3, spe=10)
    log = tensorboard_history(read_event_files(tmp_path))
    assert log is not None and all(e.mel_capped and e.kl_capped for e in log.entries)


def test_nan_values_survive_the_reader(tmp_path: Path) -> None:
    write_rvc_events(tmp_path, lambda s: (3.5, 3.0, 8.0, math.nan if s >= 20 else 30.0, 1.0), epochs=4, spe=10)
    log = tensorboard_history(read_event_files(tmp_path))
    assert log is not None and [e.step for e in log.entries if e.has_nan] == [20, 30]


def test_damaged_event_file_keeps_what_was_read(tmp_path: Path) -> None:
    write_rvc_events(tmp_path, _flat(30.0), epochs=4, spe=10)  # type: ignore[arg-type]
    (path,) = find_event_files(tmp_path)
    path.write_bytes(path.read_bytes()[:-7])
    log = tensorboard_history(read_event_files(tmp_path))
    assert log is not None and len(log.entries) >= 2


def test_each_event_file_is_a_session(tmp_path: Path) -> None:
    write_applio_events(tmp_path / "eval", _flat(25.0), epochs=10, spe=5)  # type: ignore[arg-type]
    write_applio_events(tmp_path / "eval", _flat(20.0), epochs=15, spe=5, first_epoch=11)  # type: ignore[arg-type]
    (tmp_path / "model_info.json").write_text("{}")
    hist = training_history(discover(tmp_path))
    assert len(hist.runs) == 2 and hist.runs[1].first_epoch == 11 and hist.source == "TensorBoard"


def test_applio_console_with_losses() -> None:
    text = "\n".join(
        f"amy | epoch={e} | step={e * 12} | time=10:0{e}:00 | training_speed=0:00:12 | loss_disc=3.{e}00 | "
        f"loss_gen=2.500 | loss_fm=9.000 | loss_mel={30 - e}.000 | loss_kl=1.500" for e in range(1, 6))
    log = parse_train_log_text("Loaded pretrained (G) 'rvc/models/pretraineds/hifi-gan/f0G40k.pth'\n" + text)
    assert [(e.epoch, e.step, e.loss_mel) for e in log.entries[:2]] == [(1, 12, 29.0), (2, 24, 28.0)]
    assert log.pretrained_loaded[0].path == "rvc/models/pretraineds/hifi-gan/f0G40k.pth"


def test_appended_sessions_and_the_release_run(tmp_path: Path) -> None:
    curve = lambda s: (3.5, 3.0, 8.0, 25.0, 1.5)  # noqa: E731
    write_rvc_sessions(tmp_path / "train.log", [(curve, 1, 30, False), (curve, 1, 12, True)], name="x", spe=10,
                       sr=48000, version="v2", f0=True, total_epoch=30, save_every=10, rvc_root="/app")
    (tmp_path / "config.json").write_text("{}")
    hist = training_history(discover(tmp_path), release=lambda: (12, None))
    assert [r.start for r in hist.runs] == ["pretrained", "pretrained"]
    assert [(r.first_epoch, r.last_epoch) for r in hist.runs] == [(1, 30), (1, 12)]
    assert hist.judged_run is hist.runs[1] and hist.judged is not None
    assert max(e.epoch or 0 for e in hist.judged.entries) == 12
    assert release_run(hist.runs, (25, None)) is hist.runs[0]


def test_text_and_tensorboard_merge(tmp_path: Path) -> None:
    curve = lambda s: (3.5, 3.0, 8.0, 90.0, 1.5)  # noqa: E731
    write_rvc_sessions(tmp_path / "train.log", [(curve, 1, 5, True)], name="x", spe=10, sr=48000, version="v2",
                       f0=True, total_epoch=5, save_every=5, rvc_root="/app")
    write_rvc_events(tmp_path, curve, epochs=5, spe=10)
    (tmp_path / "config.json").write_text("{}")
    hist = training_history(discover(tmp_path))
    assert hist.source == "train.log + TensorBoard" and hist.judged is not None
    assert hist.judged.hparams is not None and hist.judged.finished
    assert all(e.loss_mel == pytest.approx(90.0, abs=1e-3) for e in hist.judged.entries)
    assert all(e.epoch is not None for e in hist.judged.entries)


def _ctx(root: Path):  # type: ignore[no-untyped-def]
    from rvcqa.context import ModelContext

    return ModelContext(discover(root), suites=check_suites())


def _statuses(root: Path) -> dict[str, str]:
    from rvcqa.checks import history

    return {cid: f.status.value for cid, f in _ctx(root).findings(history).items()}


def test_agreeing_sources_pass_every_history_check(tmp_path: Path) -> None:
    curve = lambda s: (3.5, 3.0, 8.0, 30.0 - s / 20, 1.5)  # noqa: E731
    write_rvc_sessions(tmp_path / "train.log", [(curve, 1, 20, True)], name="x", spe=10, sr=48000, version="v2",
                       f0=True, total_epoch=20, save_every=10, rvc_root="/app")
    write_rvc_events(tmp_path, curve, epochs=20, spe=10)
    (tmp_path / "config.json").write_text("{}")
    from rvcqa.checks import history

    found = _ctx(tmp_path).findings(history)
    assert found["training.sources"].status.value == "passed", found["training.sources"].message
    assert "agree at 20 shared steps" in found["training.sources"].message
    assert {cid: f.status.value for cid, f in found.items() if cid != "training.checkpoint_runs"} == {
        "training.sources": "passed", "training.nan_onset": "passed", "training.display_cap": "passed",
        "training.runs": "passed"}
    assert found["training.checkpoint_runs"].status.value == "skipped"  # no G_ files here


def test_tensorboard_gives_the_real_loss_behind_the_display_cap(tmp_path: Path) -> None:
    from rvcqa.checks import history, trainlog

    curve = lambda s: (3.5, 3.0, 8.0, 110.0, 1.5)  # noqa: E731
    write_rvc_sessions(tmp_path / "train.log", [(curve, 1, 20, True)], name="x", spe=10, sr=48000, version="v2",
                       f0=True, total_epoch=20, save_every=10, rvc_root="/app")
    (tmp_path / "config.json").write_text("{}")
    capped = _ctx(tmp_path).findings(history)["training.display_cap"]
    assert capped.status.value == "failed" and "real loss_mel is unknown" in capped.message
    write_rvc_events(tmp_path, curve, epochs=20, spe=10)
    ctx = _ctx(tmp_path)
    cap = ctx.findings(history)["training.display_cap"]
    assert cap.status.value == "passed" and "taken from TensorBoard" in cap.message
    final = ctx.findings(trainlog)["training.mel_final"]
    assert final.status.value == "failed" and "110.0" in final.message


def test_healthy_applio_tensorboard_folder_passes_the_history_checks() -> None:
    from fixtures import catalog

    assert _statuses(catalog.build_fixture("applio_tensorboard")) == {
        "training.sources": "skipped", "training.nan_onset": "passed", "training.display_cap": "passed",
        "training.runs": "passed", "training.checkpoint_runs": "passed"}


def test_no_history_skips_with_one_reason(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    from rvcqa.checks import history

    found = _ctx(tmp_path).findings(history)
    assert {f.status.value for f in found.values()} == {"skipped"}
    assert all("no train.log and no TensorBoard event files" in f.message for f in found.values())


def _applio_console(name: str, epochs: range, spe: int) -> str:
    lines = ["Starting training...", "Loaded pretrained (G) 'rvc/models/pretraineds/hifi-gan/f0G48k.pth'",
             "Loaded pretrained (D) 'rvc/models/pretraineds/hifi-gan/f0D48k.pth'"]
    for e in epochs:
        lines.append(f"{name} | epoch={e} | step={e * spe} | time=10:00:00 | training_speed=0:00:11"
                     + (f" | lowest_value=30.1 (epoch 1 and step {spe})" if e > 1 else ""))
    return "\n".join(lines) + "\n"


def test_applio_console_sessions_and_agreement_with_tensorboard(tmp_path: Path) -> None:
    from rvcqa.checks import history, trainlog

    root = tmp_path / "amy"
    root.mkdir()
    (root / "model_info.json").write_text("{}")
    write_applio_events(root / "eval", _flat(22.0), epochs=12, spe=5)  # type: ignore[arg-type]
    (tmp_path / "console.txt").write_text(_applio_console("amy", range(1, 13), 5))
    md = discover(root, train_log=tmp_path / "console.txt")
    from rvcqa.context import ModelContext

    ctx = ModelContext(md, suites=check_suites())
    found = ctx.findings(history)
    assert found["training.sources"].status.value == "passed", found["training.sources"].message
    assert ctx.findings(trainlog)["training.pretrained"].status.value == "passed"
    (tmp_path / "console.txt").write_text(_applio_console("amy", range(1, 9), 5) + _applio_console("amy", range(1, 5), 5))
    hist = training_history(discover(root, train_log=tmp_path / "console.txt"))
    assert [(r.first_epoch, r.last_epoch) for r in hist.runs] == [(1, 8), (1, 4)]
    disagree_ctx = ModelContext(discover(root, train_log=tmp_path / "console.txt"), suites=check_suites())
    disagree = disagree_ctx.findings(history)["training.sources"]
    assert disagree.status.value == "failed" and "Applio's console ends at epoch 4, step 20" in disagree.message


def test_a_resumed_session_is_judged_with_the_sessions_it_continues(tmp_path: Path) -> None:
    curve = lambda s: (3.5, 3.0, 8.0, 40.0 - s / 20, 1.5)  # noqa: E731
    write_rvc_sessions(tmp_path / "train.log", [(curve, 1, 20, False)], name="x", spe=10, sr=48000, version="v2",
                       f0=True, total_epoch=40, save_every=10, rvc_root="/app")
    first = (tmp_path / "train.log").read_text()
    write_rvc_sessions(tmp_path / "train.log", [(curve, 19, 40, True)], name="x", spe=10, sr=48000, version="v2",
                       f0=True, total_epoch=40, save_every=10, rvc_root="/app")
    second = (tmp_path / "train.log").read_text().replace(
        "\tloaded pretrained /app/assets/pretrained_v2/f0G48k.pth", "\tloaded D").replace(
        "\tloaded pretrained /app/assets/pretrained_v2/f0D48k.pth", "\tLoaded checkpoint './logs/x/G_180.pth' (epoch 18)")
    (tmp_path / "train.log").write_text(first + second)
    (tmp_path / "config.json").write_text("{}")
    hist = training_history(discover(tmp_path), release=lambda: (40, None))
    assert [r.start for r in hist.runs] == ["pretrained", "resumed"]
    assert hist.judged_run is hist.runs[1] and hist.judged is not None
    steps = [e.step for e in hist.judged.entries]
    assert steps[0] == 0 and steps == sorted(steps) and steps[-1] >= 390
