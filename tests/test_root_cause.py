"""One bad inference file, one failure: the whole gate (perceptual and speed tests included) on it.

The folder is a copy of the ``truncated`` catalogue fixture with its inference ``.pth`` replaced;
everything else in it (training data, log, checkpoints) is healthy enough to be checked. Expected:
exactly one failing check naming the file and the cause, every test that needs the model skipped
with that one reason, no traceback and no pytest-benchmark warning.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures import catalog

REASON = "not evaluated: lexi.pth could not be loaded (see structure.file_format)"


def _folder(tmp_path: Path, kind: str) -> Path:
    root = tmp_path / "logs" / "lexi"
    shutil.copytree(catalog.build_fixture("truncated"), root)
    (root / "truncated.pth").unlink()
    target = root / "lexi.pth"
    if kind == "empty":
        target.write_bytes(b"")
    else:
        shutil.copyfile(catalog.build_fixture("malicious") / "malicious.pth", target)
    return root


def _gate(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run([sys.executable, "-m", "pytest", *args], cwd=cwd, env={**env, "OMP_NUM_THREADS": "1"},
                          text=True, capture_output=True, timeout=600)


@pytest.mark.parametrize("kind, cause", [("empty", "the file is empty (0 bytes)"),
                                         ("malicious", "refused to load")])
def test_unloadable_model_is_one_failure(tmp_path: Path, kind: str, cause: str) -> None:
    root = _folder(tmp_path, kind)
    proc = _gate(["--model-dir", str(root), "--rvcqa-results", str(tmp_path / "results"), "-rs", "-q",
                  "-p", "no:cacheprovider"], tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-4000:]
    assert "1 failed" in out, out[-4000:]
    failed = [ln for ln in out.splitlines() if ln.strip().startswith("failed: ")]
    assert failed == ["    failed: test_structure[lexi-structure.file_format]"], failed
    assert cause in out and "lexi.pth" in out
    for forbidden in ("Traceback", "CheckpointError:", "PytestBenchmarkWarning", "fails on its own training"):
        assert forbidden not in out, forbidden
    skips = [ln for ln in out.splitlines() if ln.startswith("SKIPPED")]
    for module in ("test_perceptual.py", "test_speed.py"):
        mine = [ln for ln in skips if module in ln and "CUDA" not in ln]
        assert mine and all(REASON in ln for ln in mine), (module, mine)


def test_report_names_the_one_cause(tmp_path: Path) -> None:
    from rvcqa.cli import main

    root = _folder(tmp_path, "empty")
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        import contextlib
        import io

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            code = main(["report", str(root), "--out", str(tmp_path / "out" / "report"), "--no-plots", "-q",
                         "--checks", "structure,perceptual"])
    finally:
        os.chdir(cwd)
    text = buf.getvalue()
    assert code == 1
    assert "lexi: FAIL; failed: structure.file_format (" in text and "empty (0 bytes)" in text, text
    report = (tmp_path / "out" / "report.md").read_text()
    assert "fails on its own training" not in report
