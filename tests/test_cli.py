"""`rvcqa inspect` on good and broken folders: a summary, or the specific problem, never a traceback."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fixtures import catalog
from rvcqa.cli import main


def test_inspect_fixture(capsys: pytest.CaptureFixture[str]) -> None:
    root = catalog.build_fixture("lexi")
    assert main(["inspect", str(root)]) == 0
    out = capsys.readouterr().out
    for phrase in ("version v2", "sr '48k'", "weight layers 457", "upsample_rates", "G_66.pth", "G_396.pth",
                   "0_gt_wavs", "loss_mel first 333.991"):
        assert phrase in out, phrase


def test_inspect_json(capsys: pytest.CaptureFixture[str]) -> None:
    root = catalog.build_fixture("early_extract")
    assert main(["inspect", str(root), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["inference_model"]["layers"] == 457 and data["inference_model"]["config_length"] == 18
    assert [c["step"] for c in data["checkpoints"] if c["kind"] == "G"] == sorted(
        c["step"] for c in data["checkpoints"] if c["kind"] == "G")
    assert data["checkpoints"][0]["epoch"] == 22


def test_inspect_empty_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(tmp_path)]) == 2
    assert "is empty" in capsys.readouterr().err


def test_inspect_only_checkpoints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = catalog.build_fixture("early_extract")
    dst = tmp_path / "lexi"
    dst.mkdir()
    for g in src.glob("G_*.pth"):
        shutil.copy2(g, dst / g.name)
    assert main(["inspect", str(dst)]) == 1
    out = capsys.readouterr().out
    assert "no inference model in" in out and "extract one first" in out and "G_396.pth" in out


@pytest.mark.parametrize("name,phrase", [("truncated", "truncated or damaged"),
                                         ("malicious", "refused to load")])
def test_inspect_bad_files(name: str, phrase: str, capsys: pytest.CaptureFixture[str]) -> None:
    root = catalog.build_fixture(name)
    marker_dir = root.parent.parent
    before = {p.name for p in marker_dir.rglob("*")}
    assert main(["inspect", str(root)]) == 1
    out = capsys.readouterr()
    assert phrase in out.out and "Traceback" not in out.out + out.err
    assert {p.name for p in marker_dir.rglob("*")} == before, "the malicious payload created a file"


def test_version_and_help_name_the_gate(capsys) -> None:
    from rvcqa import __version__
    from rvcqa.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"rvcqa {__version__}"
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "pytest --model-dir" in " ".join(capsys.readouterr().out.split())


def test_every_option_has_help() -> None:
    import argparse

    from rvcqa.cli import build_parser

    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [f"{name} {'/'.join(a.option_strings) or a.dest}" for name, p in subs.choices.items()
               for a in p._actions if not a.help and not isinstance(a, argparse._HelpAction)]
    # the sweep command's options are defined with the sweep engine until they move into rvcqa.cli
    assert not set(missing) - {"sweep --device"}, missing


def test_thresholds_lists_every_key_with_its_source(capsys) -> None:
    from rvcqa.cli import main
    from rvcqa.profile import default_thresholds

    assert main(["thresholds", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {d["key"] for d in listed} == set(default_thresholds())
    assert all(d["reason"] for d in listed), [d["key"] for d in listed if not d["reason"]]
    assert main(["thresholds", "dataset.frames.tolerence"]) == 2
    assert "did you mean dataset.frames.tolerance" in capsys.readouterr().err


def test_training_suite_has_one_name() -> None:
    from rvcqa.report.command import checks_type, module_names

    assert checks_type("training") == checks_type("trainlog") == ["training"]
    assert module_names(checks_type("structure,trainlog")) == ["structure", "trainlog"]
