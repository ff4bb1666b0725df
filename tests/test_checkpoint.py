"""Safe loading: every way a .pth can be bad gets its own message; malicious pickles never run."""
from __future__ import annotations

import os
import pickle
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from rvcqa.checkpoint import (
    load_inference_model,
    load_pth,
    load_training_checkpoint,
    parse_epoch_info,
    parse_sample_rate,
    save_inference_model,
    save_training_checkpoint,
    step_from_name,
)
from rvcqa.errors import CheckpointError, TrainingCheckpointGivenError, UnsafeCheckpointError

CONFIG_V2_48K = [1025, 32, 192, 192, 768, 2, 6, 3, 0, "1", [3, 7, 11], [[1, 3, 5]] * 3,
                 [12, 10, 2, 2], 512, [24, 20, 4, 4], 109, 256, 48000]


def _state() -> "OrderedDict[str, torch.Tensor]":
    g = torch.Generator().manual_seed(0)
    return OrderedDict([
        ("enc_p.emb_phone.weight", torch.randn(8, 768, generator=g)),
        ("enc_p.emb_pitch.weight", torch.randn(256, 8, generator=g)),
        ("enc_q.pre.weight", torch.randn(8, 4, 1, generator=g)),
        ("emb_g.weight", torch.randn(109, 8, generator=g)),
    ])


class _Payload:
    """Unpickling this would run a shell command that creates a marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_inference_round_trip_savee(tmp_path: Path) -> None:
    path = save_inference_model(tmp_path / "m.pth", _state(), CONFIG_V2_48K, sr="48k", f0=1,
                                version="v2", info="132epoch")
    raw = torch.load(path, weights_only=True)
    assert list(raw.keys()) == ["weight", "config", "info", "sr", "f0", "version"]
    assert all(v.dtype == torch.float16 for v in raw["weight"].values())
    assert not any("enc_q" in k for k in raw["weight"])
    model = load_inference_model(path)
    assert model.sr == "48k" and model.sr_hz == 48000 and model.config_sr == 48000
    assert model.f0 == 1 and model.version == "v2" and model.epoch == 132
    assert len(model.weight) == 3


def test_extract_and_applio_styles(tmp_path: Path) -> None:
    ext = save_inference_model(tmp_path / "e.pth", _state(), CONFIG_V2_48K, sr="48k", f0=1, version="v2",
                               style="extract")
    assert list(torch.load(ext, weights_only=True).keys()) == ["weight", "config", "info", "version", "sr", "f0"]
    app = save_inference_model(tmp_path / "lexi_10e_140s.pth", _state(), CONFIG_V2_48K, sr=48000, f0=True,
                               version="v2", style="applio", epoch=10, step=140)
    model = load_inference_model(app)
    assert model.info is None and model.sr_hz == 48000 and model.epoch == 10
    assert model.extra["vocoder"] == "HiFi-GAN" and model.extra["step"] == 140


def test_training_checkpoint_round_trip(tmp_path: Path) -> None:
    path = save_training_checkpoint(tmp_path / "G_396.pth", _state(), iteration=22)
    ck = load_training_checkpoint(path)
    assert ck.kind == "G" and ck.step == 396 and ck.epoch == 22 and ck.learning_rate == 1e-4
    assert ck.current_lr == pytest.approx(1e-4 * 0.999875 ** 21)
    assert len(ck.model) == 4


def test_training_checkpoint_given_as_inference_model(tmp_path: Path) -> None:
    path = save_training_checkpoint(tmp_path / "G_2376.pth", _state(), iteration=132)
    with pytest.raises(TrainingCheckpointGivenError, match=r"training checkpoint \(epoch 132, step 2376\); extract"):
        load_inference_model(path)


def test_missing_empty_truncated_and_not_torch(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="file not found"):
        load_pth(tmp_path / "nope.pth")
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        load_pth(tmp_path / "empty.pth")
    good = save_inference_model(tmp_path / "good.pth", _state(), CONFIG_V2_48K, sr="48k", f0=1, version="v2")
    data = good.read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_pth(tmp_path / "cut.pth")
    (tmp_path / "text.pth").write_text("version https://git-lfs.github.com/spec/v1\n")
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        load_pth(tmp_path / "text.pth")


def test_wrong_structure(tmp_path: Path) -> None:
    torch.save({"foo": 1}, tmp_path / "odd.pth")
    with pytest.raises(CheckpointError, match="missing 'weight'"):
        load_inference_model(tmp_path / "odd.pth")
    torch.save(_state(), tmp_path / "bare.pth")
    with pytest.raises(CheckpointError, match="bare state dict"):
        load_inference_model(tmp_path / "bare.pth")
    torch.save([1, 2, 3], tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match="wrong structure"):
        load_inference_model(tmp_path / "list.pth")


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy-pickle"])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path: Path, legacy: bool) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    payload = {"weight": _Payload(marker), "config": [], "sr": "48k", "f0": 1, "version": "v2"}
    if legacy:
        with path.open("wb") as handle:
            pickle.dump(payload, handle, protocol=2)
    else:
        torch.save(payload, path)
    assert not marker.exists()
    with pytest.raises(UnsafeCheckpointError) as info:
        load_inference_model(path)
    assert "evil.pth" in str(info.value) and "system" in str(info.value)
    assert "ran nothing" in str(info.value)
    assert not marker.exists(), "the payload ran"


@pytest.mark.parametrize("text,expected", [("48k", 48000), ("40k", 40000), (32000, 32000), ("48000", 48000),
                                           ("x", None), (True, None)])
def test_parse_sample_rate(text, expected) -> None:
    assert parse_sample_rate(text) == expected


def test_small_parsers() -> None:
    assert parse_epoch_info("132epoch") == 132
    assert parse_epoch_info("Extracted model.") is None
    assert step_from_name("G_2333333.pth") == 2333333
    assert step_from_name("lexi.pth") is None
