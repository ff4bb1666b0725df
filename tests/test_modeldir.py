"""Discovery of RVC and Applio experiment folders, by name only."""
from __future__ import annotations

from pathlib import Path

import pytest

from rvcqa.errors import ModelDirError
from rvcqa.modeldir import discover, resolve_model_dir_arg, stems


def _touch(root: Path, *names: str) -> None:
    for name in names:
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")


def test_rvc_layout(tmp_path: Path) -> None:
    root = tmp_path / "logs" / "lexi"
    _touch(root, "lexi.pth", "G_396.pth", "G_2376.pth", "D_396.pth", "D_2376.pth", "config.json", "train.log",
           "filelist.txt", "total_fea.npy", "added_IVF256_Flat_nprobe_1_lexi_v2.index",
           "trained_IVF256_Flat_nprobe_1_lexi_v2.index", "lexi_e10_s140.pth",
           "0_gt_wavs/0_0.wav", "1_16k_wavs/0_0.wav", "2a_f0/0_0.wav.npy", "2b-f0nsf/0_0.wav.npy",
           "3_feature768/0_0.npy")
    md = discover(root)
    assert md.layout == "rvc" and md.name == "lexi"
    assert md.inference_file == root / "lexi.pth"
    assert [c.step for c in md.g_checkpoints] == [396, 2376] and md.latest_g.step == 2376
    assert [c.step for c in md.d_checkpoints] == [396, 2376]
    assert [(m.epoch, m.step) for m in md.epoch_models] == [(10, 140)]
    assert md.gt_wavs.name == "0_gt_wavs" and md.f0_hz.name == "2b-f0nsf" and md.feature_dim == 768
    assert [p.name for p in md.index_files] == ["added_IVF256_Flat_nprobe_1_lexi_v2.index"]
    assert md.total_fea and md.train_log and md.config_json and md.filelist


def test_applio_layout(tmp_path: Path) -> None:
    root = tmp_path / "logs" / "amy"
    _touch(root, "amy_100e_1400s.pth", "amy_200e_2800s.pth", "G_2800.pth", "D_2800.pth", "amy.index",
           "model_info.json", "config.json", "sliced_audios/0_0_0.wav", "sliced_audios_16k/0_0_0.wav",
           "f0/0_0_0.wav.npy", "f0_voiced/0_0_0.wav.npy", "extracted/0_0_0.npy")
    md = discover(root)
    assert md.layout == "applio"
    assert md.inference_file.name == "amy_200e_2800s.pth" and "epoch 200" in md.inference_source
    assert md.gt_wavs.name == "sliced_audios" and md.f0_coarse.name == "f0" and md.features.name == "extracted"
    assert md.feature_dim == 768 and md.model_info_json is not None
    assert [p.name for p in md.index_files] == ["amy.index"]


def test_latest_only_and_v1(tmp_path: Path) -> None:
    _touch(tmp_path, "G_2333333.pth", "D_2333333.pth", "3_feature256/1_2.npy")
    md = discover(tmp_path)
    assert md.latest_g.is_latest_only and md.feature_dim == 256


def test_missing_inference_file_is_one_clear_line(tmp_path: Path) -> None:
    root = tmp_path / "logs" / "lexi"
    _touch(root, "G_396.pth", "G_2376.pth", "config.json")
    md = discover(root)
    with pytest.raises(ModelDirError) as info:
        md.require_inference_file()
    message = str(info.value)
    assert "no inference model in" in message and "found G_396.pth, G_2376.pth" in message
    assert "extract one first" in message and "G_2376.pth" in message


def test_inference_file_from_rvc_assets(tmp_path: Path) -> None:
    _touch(tmp_path, "logs/lexi/G_2376.pth", "assets/weights/lexi.pth")
    md = discover(tmp_path / "logs" / "lexi")
    assert md.inference_file == (tmp_path / "assets/weights/lexi.pth").resolve() or md.inference_file.name == "lexi.pth"
    assert "assets/weights" in md.inference_source


def test_model_file_flag(tmp_path: Path) -> None:
    _touch(tmp_path, "logs/lexi/G_1.pth", "elsewhere/lexi.pth")
    md = discover(tmp_path / "logs" / "lexi", model_file=tmp_path / "elsewhere/lexi.pth")
    assert md.inference_source == "--model-file"
    with pytest.raises(ModelDirError, match="does not exist"):
        discover(tmp_path / "logs" / "lexi", model_file=tmp_path / "nope.pth")


def test_bad_dirs(tmp_path: Path) -> None:
    (tmp_path / "logs" / "lexi").mkdir(parents=True)
    with pytest.raises(ModelDirError, match="is empty"):
        discover(tmp_path / "logs" / "lexi")
    with pytest.raises(ModelDirError, match="did you mean .*lexi"):
        discover(tmp_path / "logs" / "lexy")
    _touch(tmp_path, "afile.pth")
    with pytest.raises(ModelDirError, match="is a file"):
        discover(tmp_path / "afile.pth")


def test_resolve_name_inside_rvc_root(tmp_path: Path) -> None:
    _touch(tmp_path, "logs/lexi/G_1.pth")
    path, note = resolve_model_dir_arg("lexi", tmp_path)
    assert path == tmp_path / "logs" / "lexi" and "logs/lexi" in note
    with pytest.raises(ModelDirError, match="did you mean"):
        resolve_model_dir_arg("lexii", tmp_path)


def test_misspelt_folder_and_stems(tmp_path: Path) -> None:
    _touch(tmp_path, "2b_f0nsf/0_0.wav.npy", "0_gt_wavs/0_1.wav", "0_gt_wavs/0_0.wav", "0_gt_wavs/0_0.spec.pt")
    md = discover(tmp_path)
    assert md.misspelt_folders == {"2b_f0nsf": "2b-f0nsf"}
    assert list(stems(md.gt_wavs, ".wav")) == ["0_0", "0_1"]


# --------------------------------------------------------------------------- roots and their assets

def _applio_root(tmp_path: Path) -> Path:
    root = tmp_path / "Applio"
    _touch(root, "core.py", "rvc/models/predictors/rmvpe.pt", "rvc/models/embedders/spin/pytorch_model.bin",
           "rvc/models/embedders/spin/config.json", "rvc/models/pretraineds/hifi-gan/f0G40k.pth",
           "rvc/models/pretraineds/hifi-gan/f0D40k.pth", "logs/amy/amy_10e_70s.pth")
    (root / "logs/amy/model_info.json").write_text('{"embedder_model": "spin"}')
    (root / "logs/amy/config.json").write_text('{"data": {"sample_rate": 40000}, "train": {}, "model": {}}')
    return root


def test_root_kind(tmp_path: Path) -> None:
    from rvcqa.modeldir import root_kind

    applio = _applio_root(tmp_path)
    _touch(tmp_path / "rvc-webui", "assets/hubert/hubert_base.pt")
    assert root_kind(applio) == "applio"
    assert root_kind(tmp_path / "rvc-webui") == "rvc"
    assert root_kind(tmp_path) is None


def test_applio_default_assets(tmp_path: Path) -> None:
    from rvcqa.modeldir import default_assets

    root = _applio_root(tmp_path)
    md = discover(root / "logs" / "amy")
    found = default_assets(root, "applio", md)
    assert found["rmvpe"].path == root / "rvc/models/predictors/rmvpe.pt"
    assert found["hubert"].path == root / "rvc/models/embedders/spin"
    assert "embedder_model 'spin' in model_info.json" in found["hubert"].source
    assert found["pretrained_g"].path == root / "rvc/models/pretraineds/hifi-gan/f0G40k.pth"
    assert found["pretrained_d"].path.name == "f0D40k.pth"
    assert "refinegan" not in found["pretrained_g"].source
    assert "pretrained_g" not in default_assets(root, "applio", md, vocoder="RefineGAN")


def test_rvc_default_assets(tmp_path: Path) -> None:
    from rvcqa.modeldir import default_assets

    _touch(tmp_path, "assets/rmvpe/rmvpe.pt")
    found = default_assets(tmp_path, "rvc")
    assert list(found) == ["rmvpe"] and found["rmvpe"].source == "assets/rmvpe/rmvpe.pt"


def test_gate_from_an_applio_root(tmp_path: Path) -> None:
    """`pytest --model-dir NAME` in an Applio root: logs/NAME, each default in the header, and the
    training checks run on the TensorBoard history (no train.log)."""
    import os
    import shutil
    import subprocess
    import sys

    from fixtures import catalog

    src = catalog.build_fixture("applio_tensorboard")
    root = tmp_path / "Applio"
    shutil.copytree(src, root / "logs" / "amy")
    _touch(root, "rvc/models/predictors/rmvpe.pt", "rvc/models/embedders/contentvec/config.json",
           "rvc/models/pretraineds/hifi-gan/f0G48k.pth")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    result = subprocess.run([sys.executable, "-m", "pytest", "--model-dir", "amy", "-m", "rvcqa_training",
                             "-p", "no:cacheprovider", "-rA"], cwd=root, env=env, text=True, capture_output=True,
                            timeout=300)
    out = result.stdout
    assert "rvcqa: --model-dir amy -> logs/amy" in out, out[-3000:]
    assert "rvcqa: --rmvpe defaulted to rvc/models/predictors/rmvpe.pt" in out
    assert "rvcqa: --hubert defaulted to rvc/models/embedders/contentvec" in out
    assert "rvcqa: --pretrained defaulted to rvc/models/pretraineds/hifi-gan/f0G48k.pth" in out
    assert "[applio layout]" in out and "applio_tensorboard_132e_396s.pth" in out
    assert result.returncode == 0, out[-3000:]
    assert "training.mel_final" in out and "TensorBoard" in out
