"""Dataset checks on folders built by fixtures/build_data.py: healthy, Applio, and each fault."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fixtures.build_data import build_dataset, write_stub_inference_model
from rvcqa.checks import dataset
from rvcqa.context import ModelContext
from rvcqa.findings import Status
from rvcqa.modeldir import discover

SMALL = dict(n_segments=4, seconds=(1.5, 2.5))
#: thresholds for tiny test folders (the 5-minute default is for real datasets)
TINY = {"dataset.total_duration.min_seconds": 5.0}


def findings(root: Path, thresholds: dict | None = None) -> dict:
    ctx = ModelContext(discover(root), thresholds=thresholds if thresholds is not None else TINY)
    found = {f.check: f for f in dataset.run(ctx)}
    assert tuple(found) == dataset.CHECK_IDS  # exactly one finding per id, in order
    return found


def statuses(found: dict) -> dict[str, Status]:
    return {cid: f.status for cid, f in found.items()}


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_dataset(tmp_path_factory.mktemp("healthy"), name="demo", **SMALL).root


def test_healthy_rvc_folder_passes(healthy: Path) -> None:
    found = findings(healthy)
    for cid, f in found.items():
        assert f.status is Status.PASSED, f.explain()
    assert "paths point to /app/logs/demo" in found["dataset.filelist"].message


def test_healthy_records_and_small_data_warning(healthy: Path) -> None:
    ctx = ModelContext(discover(healthy))
    found = {f.check: f for f in dataset.run(ctx)}
    assert found["dataset.total_duration"].status is Status.WARNING
    assert "below 5 minutes" in found["dataset.total_duration"].message
    assert ctx.measurements["dataset.segment_count"] == 4
    assert 4 < ctx.measurements["dataset.total_seconds"] < 12
    assert 0.3 < ctx.measurements["dataset.voiced_fraction"] < 1


def test_applio_layout_passes(tmp_path: Path) -> None:
    root = build_dataset(tmp_path, layout="applio", name="ap", **SMALL).root
    found = findings(root)
    assert found["dataset.folders"].message.startswith("applio data folders present: sliced_audios 4")
    for cid, f in found.items():
        expected = Status.SKIPPED if cid == "dataset.segment_lengths" else Status.PASSED
        assert f.status is expected, f.explain()


FAULTS = [
    ("int16_gt", "dataset.gt_format", "32768x too loud"),
    ("gt_rate", "dataset.gt_sample_rate", "not at the model's 48000 Hz (config.json)"),
    ("misaligned_16k", "dataset.durations", "differ in length between 0_gt_wavs and 1_16k_wavs"),
    ("missing_features", "dataset.stems", "missing in 3_feature768"),
    ("nan_features", "dataset.features", "contain NaN/Inf"),
    ("feature_width", "dataset.features", "wrong width (256-wide x4; expected 768"),
    ("filelist_unknown", "dataset.filelist", "3 listed slices are not in the data folders"),
    ("swapped_f0", "dataset.f0_values", "swapped"),
]


@pytest.mark.parametrize("fault,check_id,text", FAULTS, ids=[f[0] for f in FAULTS])
def test_each_fault_fails_exactly_its_check(tmp_path: Path, fault: str, check_id: str, text: str) -> None:
    root = build_dataset(tmp_path, name="demo", faults={fault}, **SMALL).root
    found = findings(root)
    failing = {cid for cid, f in found.items() if f.status is Status.FAILED}
    assert failing == {check_id}, {cid: found[cid].message for cid in failing}
    f = found[check_id]
    assert text in f.message, f.message
    assert f.cause, "a failure names its likely cause"


def test_int16_on_applio_only_warns(tmp_path: Path) -> None:
    root = build_dataset(tmp_path, layout="applio", name="ap", faults={"int16_gt"}, **SMALL).root
    f = findings(root)["dataset.gt_format"]
    assert f.status is Status.WARNING and "Applio reads them normalised" in f.message


def test_missing_features_names_the_nan_log(tmp_path: Path) -> None:
    root = build_dataset(tmp_path, name="demo", faults={"missing_features"}, **SMALL).root
    (root / "extract_f0_feature.log").write_text("now-4,all-0,2_0.wav,(101, 768)\n3_0-contains nan\n")
    f = findings(root)["dataset.stems"]
    assert "3_feature768 2" in f.message and "1 file(s) that 'contains nan'" in f.message
    assert "RVC does not save features that contain NaN" in f.cause


def test_no_data_folders_skips_everything(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "train.log").write_text("")
    (tmp_path / "demo" / "2b_f0nsf").mkdir()
    found = findings(tmp_path / "demo")
    assert all(f.status is Status.SKIPPED for f in found.values())
    assert "2b_f0nsf (RVC's name is 2b-f0nsf)" in found["dataset.stems"].message


def test_missing_folder_fails_with_the_step_to_rerun(tmp_path: Path) -> None:
    root = build_dataset(tmp_path, name="demo", **SMALL).root
    shutil.rmtree(root / "2b-f0nsf")
    found = findings(root)
    f = found["dataset.folders"]
    assert f.status is Status.FAILED and "missing 2b-f0nsf" in f.message and "'Feature extraction'" in f.cause


def test_no_f0_model(tmp_path: Path) -> None:
    root = build_dataset(tmp_path, name="demo", f0=False, **SMALL).root
    found = findings(root)
    assert found["dataset.f0_values"].status is Status.SKIPPED
    assert found["dataset.filelist"].status is Status.PASSED
    assert not any(f.failed for f in found.values())


def test_windows_filelist_paths_resolve_by_stem(healthy: Path, tmp_path: Path) -> None:
    root = tmp_path / "demo"
    shutil.copytree(healthy, root)
    text = (root / "filelist.txt").read_text()
    (root / "filelist.txt").write_text(text.replace("/app/", "C:\\\\RVC\\\\").replace("/", "\\\\"))
    f = findings(root)["dataset.filelist"]
    assert f.status is Status.PASSED and "4 slices" in f.message


def test_unlisted_slices_warn(healthy: Path, tmp_path: Path) -> None:
    root = tmp_path / "demo"
    shutil.copytree(healthy, root)
    lines = (root / "filelist.txt").read_text().split("\n")
    (root / "filelist.txt").write_text("\n".join(line for line in lines if "/0_0.wav" not in line))
    f = findings(root)["dataset.filelist"]
    assert f.status is Status.WARNING and "0_0" in f.message and "not trained on" in f.message


def test_inference_model_rate_takes_precedence(healthy: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    root = tmp_path / "demo"
    shutil.copytree(healthy, root)
    write_stub_inference_model(root / "demo.pth", sr=40000, version="v2")
    f = findings(root)["dataset.gt_sample_rate"]
    assert f.status is Status.FAILED
    assert "40000 Hz (config[-1] of demo.pth)" in f.message


def test_rate_from_the_training_log_when_nothing_else(healthy: Path, tmp_path: Path) -> None:
    root = tmp_path / "demo"
    shutil.copytree(healthy, root)
    (root / "config.json").unlink()
    (root / "train.log").write_text("INFO:demo:{'sample_rate': '40k', 'version': 'v2', 'if_f0': 1}\n")
    f = findings(root)["dataset.gt_sample_rate"]
    assert f.status is Status.FAILED and "the training log's sample_rate" in f.message


def test_long_slices_are_dropped_by_rvc_sampler(tmp_path: Path) -> None:
    data = build_dataset(tmp_path, name="demo", n_segments=3, seconds=(7.2, 7.6))
    long = sum(s > 6.75 for s in data.seconds)  # > 6.75 s of float32 at 48 kHz: length > 900
    assert 0 < long < 3  # one LJ clip is shorter than 7.2 s
    f = findings(data.root)["dataset.segment_lengths"]
    assert f.status is Status.WARNING
    assert f"drops {long} of 3 slices" in f.message and "too long" in f.message


def test_gt_levels_peak_and_clipping(healthy: Path, tmp_path: Path) -> None:
    import numpy as np
    from scipy.io import wavfile

    root = tmp_path / "demo"
    shutil.copytree(healthy, root)
    sr, x = wavfile.read(root / "0_gt_wavs" / "1_0.wav")
    wavfile.write(root / "0_gt_wavs" / "1_0.wav", sr, (x * 2.0).astype(np.float32))
    f = findings(root)["dataset.gt_levels"]
    assert f.status is Status.FAILED and "peak above 1" in f.message
    y = x.copy()
    y[1000:1010] = 1.0
    wavfile.write(root / "0_gt_wavs" / "1_0.wav", sr, y)
    f = findings(root)["dataset.gt_levels"]
    assert f.status is Status.WARNING and "clipping runs" in f.message


def test_pitch_out_of_range_is_judged_once(tmp_path: Path) -> None:
    """Hz outside 50-1100 is dataset.f0_range's finding; dataset.f0_values names only the coarse file format
    (this fault also writes coarse values 0 and 300)."""
    from rvcqa.checks import f0files

    root = build_dataset(tmp_path, name="demo", faults={"f0_range"}, **SMALL).root
    write_stub_inference_model(root / "demo.pth")
    ctx = ModelContext(discover(root), thresholds=TINY)
    fmt = findings(root)["dataset.f0_values"]
    assert fmt.status is Status.FAILED and "outside the coarse range 1..255" in fmt.message
    assert "Hz" not in fmt.message.split("values")[0] and "50-1100" not in fmt.message
    pitch = {f.check: f for f in f0files.run(ctx)}
    failing = {cid for cid, f in pitch.items() if f.status is Status.FAILED}
    # its coarse file was written apart from the Hz file, so the mapping check fails too
    assert failing == {"dataset.f0_range", "dataset.f0_coarse"}, {cid: pitch[cid].message for cid in failing}
    assert "outside RVC's 50-1100 Hz" in pitch["dataset.f0_range"].message


def test_defaults_are_documented() -> None:
    src = Path(dataset.limits.__file__).read_text()
    for key in dataset.DEFAULTS:
        assert key.rsplit(".", 1)[0] in dataset.CHECK_IDS
        before = src[: src.index(f'"{key}"')].rstrip().splitlines()[-1]
        assert before.strip().startswith("#"), f"{key} has no comment on where it comes from"


def test_config_json_written_like_rvc(healthy: Path) -> None:
    cfg = json.loads((healthy / "config.json").read_text())
    assert cfg["data"]["sampling_rate"] == 48000 and list(cfg) == ["data", "model", "train"]


def test_segment_length_cause_names_the_common_problem_first() -> None:
    from rvcqa.checks.dataset.audio import _length_cause

    assert _length_cause(["0_1", "0_2"], []).startswith("very short slices")
    assert _length_cause([], ["0_1"]).startswith("slices longer than")
