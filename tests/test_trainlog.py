"""The training-log parser: RVC's file and console formats, custom and Applio output, junk."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rvcqa.errors import TrainLogError
from rvcqa.trainlog import (
    KL_CAP,
    MEL_CAP,
    decode_log_bytes,
    format_rvc_loss_line,
    parse_train_log,
    parse_train_log_text,
    pretrained_kind,
    rvc_bucket_steps,
    steps_per_epoch_from_log,
)

HPARAMS = (
    "{'data': {'sampling_rate': 48000, 'hop_length': 480}, 'train': {'batch_size': 6, 'learning_rate': 0.0001, "
    "'log_interval': 200}, 'pretrainG': 'assets/pretrained_v2/f0G48k.pth', 'pretrainD': "
    "'assets/pretrained_v2/f0D48k.pth', 'version': 'v2', 'sample_rate': '48k', 'if_f0': 1, 'total_epoch': 20}"
)


def file_line(msg: str, name: str = "lexi") -> str:
    return f"2026-01-20 04:17:01,123\t{name}\tINFO\t{msg}"


RVC_BLOCK = [
    "Train Epoch: 478 [82%]",
    "[110200, 9.421142503636453e-05]",
    "loss_disc=3.598, loss_gen=3.174, loss_fm=8.765,loss_mel=19.367, loss_kl=1.520",
]


def test_file_format_block_hparams_and_events() -> None:
    lines = [
        file_line(HPARAMS),
        file_line("loaded pretrained assets/pretrained_v2/f0G48k.pth"),
        file_line("<All keys matched successfully>"),
        file_line("loaded pretrained assets/pretrained_v2/f0D48k.pth"),
        file_line("<All keys matched successfully>"),
        *(file_line(m) for m in RVC_BLOCK),
        file_line("====> Epoch: 478 [2023-06-01 10:00:00] | (0:00:21.123456)"),
        file_line("Training is done. The program is closed."),
    ]
    log = parse_train_log_text("\n".join(lines))
    assert log.format == "file"
    assert log.hparams is not None and log.hparam("train", "batch_size") == 6
    assert log.pretrain_g == "assets/pretrained_v2/f0G48k.pth"
    assert [p.matched for p in log.pretrained_loaded] == [True, True]
    (e,) = log.entries
    assert (e.epoch, e.progress_pct, e.step, e.lr) == (478, 82.0, 110200, 9.421142503636453e-05)
    assert (e.loss_disc, e.loss_gen, e.loss_fm, e.loss_mel, e.loss_kl) == (3.598, 3.174, 8.765, 19.367, 1.520)
    assert not e.mel_capped and not e.kl_capped
    assert log.epochs_ended[0] == (478, "2023-06-01 10:00:00")
    assert log.finished and log.warnings == []
    assert log.logger_names == ["lexi"]


def test_console_format_caps_nan_saves_and_root_lines() -> None:
    text = "\n".join([
        "INFO:Conker:Train Epoch: 5 [0%]",
        "INFO:Conker:[200, 9.995000937e-05]",
        "INFO:Conker:loss_disc=nan, loss_gen=nan, loss_fm=nan,loss_mel=75.000, loss_kl=9.000",
        "INFO:root:Saving model and optimizer state at epoch 5 to ./logs/Conker/G_200.pth",
        "INFO:root:Loaded checkpoint './logs/Conker/D_200.pth' (epoch 5)",
        "WARNING:Conker:some warning we do not know",
    ])
    log = parse_train_log_text(text)
    assert log.format == "console"
    (e,) = log.entries
    assert e.mel_capped and e.kl_capped and e.loss_mel == MEL_CAP and e.loss_kl == KL_CAP
    assert math.isnan(e.loss_disc) and e.has_nan and log.has_nan
    assert log.saves == [(5, "./logs/Conker/G_200.pth")]
    assert log.resumes == [("./logs/Conker/D_200.pth", 5)]
    assert len(log.warnings) == 1 and "line 6" in log.warnings[0]


def test_user_format_from_the_report() -> None:
    text = "Step 1: loss_mel=333.991, loss_kl=72.584\nfoo bar\nStep 2465: loss_mel=207.552, loss_kl=0.751\n"
    log = parse_train_log_text(text)
    assert log.format == "user"
    assert [(e.step, e.loss_mel, e.loss_kl) for e in log.entries] == [(1, 333.991, 72.584), (2465, 207.552, 0.751)]
    assert not any(e.mel_capped for e in log.entries)  # a custom script does not cap
    assert log.entries[0].loss_disc is None


def test_user_lines_with_epoch_lr_labels_and_epoch_ends_fill_epochs() -> None:
    text = "\n".join([
        "Epoch 1 | Step 1 | lr=0.0001 | loss_disc=4.1, loss_gen=2.2, loss_fm=1.3, loss_mel=333.991, loss_kl=72.584",
        "====> Epoch: 1 [2026-01-20 04:00:09] | (0:00:09)",
        "loss_mel=200.0, loss_kl=3.0",
    ])
    log = parse_train_log_text(text)
    assert [(e.epoch, e.lr) for e in log.entries] == [(1, 0.0001), (2, None)]


def test_applio_epoch_lines() -> None:
    text = (
        "lexi | epoch=1 | step=18 | time=04:00:11 | training_speed=0:00:11 | lowest_value=40.123 (epoch 1 and step 18)\n"
        "lexi | epoch=2 | step=36 | time=04:00:22 | training_speed=0:00:11 | lowest_value=39.5 (epoch 2 and step 36)\n"
    )
    log = parse_train_log_text(text)
    assert log.format == "applio"
    assert [(a.epoch, a.step, a.lowest_value) for a in log.applio_epochs] == [(1, 18, 40.123), (2, 36, 39.5)]
    assert log.last_step == 36 and log.last_epoch == 2 and log.entries == []
    assert steps_per_epoch_from_log(log) == 18


def test_pretrained_missing_and_empty_pretrain() -> None:
    text = "\n".join([
        "INFO:infer-web:assets/pretrained_v2/f0G48k.pth not exist, will not use pretrained model",
        "INFO:lexi:" + HPARAMS.replace("assets/pretrained_v2/f0G48k.pth", ""),
    ])
    log = parse_train_log_text(text)
    assert len(log.pretrained_missing) == 1
    assert log.pretrain_g == ""


def test_hparams_are_never_evaluated(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = f"{{'x': __import__('os').system('touch {marker}')}}"
    log = parse_train_log_text(file_line(evil) + "\n" + file_line(HPARAMS))
    assert not marker.exists()
    assert log.hparams is not None and log.hparam("version") == "v2"


@pytest.mark.parametrize("content", ["", "   \n\n\t\n"])
def test_empty_log(tmp_path: Path, content: str) -> None:
    p = tmp_path / "train.log"
    p.write_text(content)
    log = parse_train_log(p)
    assert log.format == "empty" and log.is_empty and log.entries == [] and log.path == p


def test_unknown_text() -> None:
    log = parse_train_log_text("hello\nworld\n")
    assert log.format == "unknown" and len(log.warnings) == 2


def test_utf16_and_legacy_code_page(tmp_path: Path) -> None:
    text = "INFO:lexi:" + RVC_BLOCK[2] + "\r\n"
    p = tmp_path / "ps.log"
    p.write_bytes(text.encode("utf-16"))  # PowerShell's '>' redirect
    assert parse_train_log(p).entries[0].loss_mel == 19.367
    q = tmp_path / "gbk.log"
    q.write_bytes(("INFO:lexi:loaded pretrained D:\\模型\\f0G48k.pth\n" + text).encode("gbk"))
    log = parse_train_log(q)
    assert log.entries[0].loss_mel == 19.367 and log.pretrained_loaded


def test_unreadable_logs_raise_train_log_error(tmp_path: Path) -> None:
    binary = tmp_path / "G_100.pth"
    binary.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 8)
    with pytest.raises(TrainLogError, match="not a text log"):
        parse_train_log(binary)
    with pytest.raises(TrainLogError, match="directory"):
        parse_train_log(tmp_path)
    with pytest.raises(TrainLogError, match="does not exist"):
        parse_train_log(tmp_path / "nope.log")


def test_format_rvc_loss_line_is_exact() -> None:
    assert format_rvc_loss_line(3.598, 3.174, 8.765, 19.367, 1.52) == RVC_BLOCK[2]
    assert format_rvc_loss_line(1, 2, 3, 333.991, 72.584).endswith("loss_mel=75.000, loss_kl=9.000")


def test_steps_per_epoch_from_rvc_blocks() -> None:
    spe = 18
    lines = []
    for step in range(0, 2400, 200):
        epoch, idx = step // spe + 1, step % spe
        lines += [f"INFO:x:Train Epoch: {epoch} [{100.0 * idx / spe:.0f}%]", f"INFO:x:[{step}, 0.0001]",
                  "INFO:x:" + format_rvc_loss_line(3, 3, 9, 20, 1.5)]
    assert steps_per_epoch_from_log(parse_train_log_text("\n".join(lines))) == spe


def test_rvc_bucket_steps() -> None:
    # bucket (100,200]: 7 slices + 2 mutes -> 2 batches of 6; (200,300]: 5 -> 1; 2 dropped
    lengths = [150] * 7 + [200, 200] + [250] * 5 + [950, 50]
    assert rvc_bucket_steps(lengths, 6) == (3, 2)
    # plain division would say 86/6 = 14.3; spread over 5 buckets the sampler pads each one
    report_like = [350] * 17 + [450] * 17 + [550] * 17 + [650] * 17 + [750] * 16 + [200, 200]
    assert rvc_bucket_steps(report_like, 6) == (16, 0)
    assert rvc_bucket_steps([150] * 16, 4, n_gpus=2) == (1, 0)  # per-rank batches of bs*g over g*g replicas


@pytest.mark.parametrize("name,kind", [("f0G48k.pth", "G"), ("f0D40k.pth", "D"), ("G32k.pth", "G"), ("KLM49_D48k.pth", "D"), ("model.pth", None)])
def test_pretrained_kind(name: str, kind: str | None) -> None:
    assert pretrained_kind(f"/app/assets/pretrained_v2/{name}") == kind


# --------------------------------------------------------------------------- property tests

FRAGMENTS = st.sampled_from([
    "Train Epoch: 3 [50%]", "Train Epoch: x [", "[200, 9.9e-05]", "[12, nan]", "[", "]",
    "loss_disc=3.1, loss_gen=2.9, loss_fm=8.1,loss_mel=20.5, loss_kl=1.6", "loss_mel=", "loss_mel=nan",
    "loss_kl=inf, loss_mel=-inf", "loss_mel=1e400", "====> Epoch: 7", "====> Epoch: 7 [", "{", "{'a': (1,", "{'a': 1}",
    "{}" * 50, "loaded pretrained ", "<All keys matched successfully>", "not exist, will not use pretrained model",
    "Saving model and optimizer state at epoch 3 to G_3.pth", "Training is done.", "x | epoch=1 | step=2",
    "x | epoch=1 | step=2 | lowest_value=nan (epoch 1 and step 2)", "Loaded checkpoint 'D_1.pth' (epoch 1)",
    "step 99999999999999999999999 loss_mel=1", "\x00", "\r", "\t", "\u2028",
])
PREFIXES = st.sampled_from(["", "INFO:lexi:", "INFO:root:", "2026-01-20 04:17:01,123\tlexi\tINFO\t", "ERROR::", "INFO:"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.text(max_size=80), st.tuples(PREFIXES, FRAGMENTS).map("".join)), max_size=30))
def test_arbitrary_text_never_crashes(chunks: list[str]) -> None:
    log = parse_train_log_text("\n".join(chunks))
    assert log.format in ("file", "console", "user", "applio", "empty", "unknown")
    steps_per_epoch_from_log(log)
    for e in log.entries:
        assert e.loss_mel is None or isinstance(e.loss_mel, float)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_decode_or_raise_train_log_error(data: bytes) -> None:
    try:
        text = decode_log_bytes(data)
    except TrainLogError:
        return
    parse_train_log_text(text)


LOSS = st.floats(min_value=-5, max_value=500, allow_nan=False, allow_infinity=False)
ENTRY = st.tuples(LOSS, LOSS, LOSS, st.one_of(LOSS, st.just(math.nan)), st.one_of(LOSS, st.just(math.nan)))


@settings(max_examples=100, deadline=None)
@given(st.lists(ENTRY, min_size=1, max_size=20), st.sampled_from(["file", "console"]), st.integers(1, 60))
def test_round_trip_rvc_format(values: list[tuple[float, ...]], fmt: str, spe: int) -> None:
    lines = []
    steps = []
    for i, vals in enumerate(values):
        step = i * 200
        epoch, idx = step // spe + 1, step % spe
        lr = 1e-4 * 0.999875 ** (epoch - 1)
        for msg in (f"Train Epoch: {epoch} [{100.0 * idx / spe:.0f}%]", f"[{step}, {lr}]", format_rvc_loss_line(*vals)):
            lines.append(file_line(msg) if fmt == "file" else f"INFO:lexi:{msg}")
        steps.append((step, epoch, lr))
    log = parse_train_log_text("\n".join(lines))
    assert log.format == fmt and len(log.entries) == len(values) and not log.warnings
    for e, vals, (step, epoch, lr) in zip(log.entries, values, steps):
        assert (e.step, e.epoch, e.lr) == (step, epoch, lr)
        for got, want in zip((e.loss_disc, e.loss_gen, e.loss_fm), vals[:3]):
            assert got == pytest.approx(want, abs=5e-4 + 1e-9)
        for got, want, cap, capped in ((e.loss_mel, vals[3], MEL_CAP, e.mel_capped), (e.loss_kl, vals[4], KL_CAP, e.kl_capped)):
            if math.isnan(want):
                assert math.isnan(got) and not capped
            elif want > cap:
                assert got == cap and capped  # printed at the cap: "at least"
            else:
                assert got == pytest.approx(want, abs=5e-4 + 1e-9)
                assert capped == (f"{want:.3f}" == f"{cap:.3f}")
    if len(values) > 2:
        derived = steps_per_epoch_from_log(log)
        assert derived == spe
