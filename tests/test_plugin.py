"""The plugin as users meet it: options, start-up errors, the RVC-root defaults."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures import catalog


def _run(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run([sys.executable, "-m", "pytest", *args], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=timeout)


def test_importing_the_plugin_does_not_import_torch() -> None:
    code = "import rvcqa.plugin, rvcqa, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], text=True, capture_output=True, check=True)
    assert out.stdout.strip() == "False"


def test_help_lists_the_option_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["*rvcqa: quality gate for RVC voice models*", "*--model-dir=DIR*",
                                 "*--rvcqa-threshold=KEY=VALUE*"])


def test_missing_model_dir_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "logs" / "lexi").mkdir(parents=True)
    (tmp_path / "logs" / "lexi" / "G_1.pth").write_bytes(b"x")
    result = _run(["--model-dir", "lexy"], tmp_path)
    assert result.returncode == 4
    assert "rvcqa: model directory" in result.stderr and "did you mean" in result.stderr and "lexi" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_bad_option_values_are_usage_errors(tmp_path: Path) -> None:
    result = _run(["--rvcqa-segments", "-3", "--model-dir", "x"], tmp_path)
    assert result.returncode == 4 and "positive number of segments" in result.stderr
    result = _run(["--rvcqa-threshold", "nonsense", "--model-dir", "x"], tmp_path)
    assert result.returncode == 4 and "KEY=VALUE" in result.stderr


def test_unknown_threshold_names_close_matches(tmp_path: Path) -> None:
    root = catalog.build_fixture("early_extract")
    result = _run(["--model-dir", str(root), "--rvcqa-threshold", "training.mel_finall=30"], tmp_path)
    assert result.returncode == 4 and "unknown rvcqa threshold" in result.stderr and "training.mel_final" in result.stderr


def test_rvc_root_defaults(tmp_path: Path) -> None:
    """`pytest --model-dir NAME` inside an RVC root: logs/NAME, assets/weights/NAME.pth, results under cwd."""
    src = catalog.build_fixture("early_extract")
    rvc = tmp_path / "Retrieval-based-Voice-Conversion-WebUI"
    shutil.copytree(src, rvc / "logs" / "lexi")
    (rvc / "assets" / "weights").mkdir(parents=True)
    (rvc / "logs" / "lexi" / "early_extract.pth").rename(rvc / "assets" / "weights" / "lexi.pth")
    (rvc / "assets" / "hubert").mkdir(parents=True)
    (rvc / "assets" / "hubert" / "hubert_base.pt").write_bytes(b"not used by these checks")
    result = _run(["--model-dir", "lexi", "-m", "rvcqa_structure or rvcqa_provenance", "-p", "no:cacheprovider"], rvc)
    out = result.stdout
    assert "rvcqa: --model-dir lexi -> logs/lexi" in out, out[-3000:]
    assert "assets/weights/lexi.pth (RVC's assets/weights/ folder)" in out
    assert "rvcqa: --hubert defaulted to assets/hubert/hubert_base.pt" in out
    assert f"results: {rvc / 'rvcqa-results'}" in out
    assert "test_structure.py" in out and "passed" in out
    # the latest-checkpoint check still fails: this inference file came from the first checkpoint
    assert "1 failed" in out and "provenance.latest_checkpoint" in out
    assert not any((rvc / "logs" / "lexi").rglob("*.wav.tmp"))


def test_threshold_marker_overrides_one_test(pytester: pytest.Pytester) -> None:
    """A per-test marker tightens a threshold for that test only; the profile default stays elsewhere."""
    root = catalog.build_fixture("int16_gt")
    pytester.makepyfile(test_custom="""
        import pytest
        from rvcqa.checks import dataset
        from rvcqa.testing import assert_finding

        @pytest.mark.rvcqa_threshold({"dataset.total_duration.min_seconds": 1.0})
        def test_lenient(rvc_model):
            f = rvc_model.findings(dataset)["dataset.total_duration"]
            assert f.status.value == "passed", f.message

        def test_default(rvc_model):
            f = rvc_model.findings(dataset)["dataset.total_duration"]
            assert f.status.value == "warning", f.message

        @pytest.mark.rvcqa_threshold(**{"no.such.threshold": 1})
        def test_unknown(rvc_model):
            pass
    """)
    result = pytester.runpytest_inprocess("--model-dir", str(root), "test_custom.py", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*unknown threshold(s) no.such.threshold*"])


def test_every_hook_is_implemented_once(pytester: pytest.Pytester) -> None:
    """One plugin object, each hook one method: no hook of rvcqa's is registered twice."""
    pytester.makepyfile(test_hooks="""
        import collections

        def test_count(request):
            pm = request.config.pluginmanager
            ours = {pm.get_plugin("rvcqa-session"), pm.get_plugin("rvcqa-xdist"), pm.get_plugin("rvcqa")} - {None}
            counts = collections.Counter()
            for name in dir(pm.hook):
                caller = getattr(pm.hook, name)
                if name.startswith("pytest_") and hasattr(caller, "get_hookimpls"):
                    for impl in caller.get_hookimpls():
                        if impl.plugin in ours:
                            counts[name] += 1
            assert counts["pytest_terminal_summary"] == 1
            assert counts["pytest_configure"] == 1 and counts["pytest_addoption"] == 1
            assert max(counts.values()) == 1, counts
    """)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "specname" not in (Path(__file__).resolve().parents[1] / "rvcqa" / "plugin.py").read_text()


def _tree(root: Path) -> dict[str, str]:
    import hashlib

    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()} | {
            str(p.relative_to(root)) + "/": "dir" for p in sorted(root.rglob("*")) if p.is_dir()}


def _ids(out: str) -> list[str]:
    return sorted(line.strip() for line in out.splitlines() if "::" in line and line.strip().startswith("quality"))


def test_model_dir_elsewhere_is_left_untouched_and_ids_are_fixed(tmp_path: Path) -> None:
    """A plain `pytest --model-dir /elsewhere/x` (cache on) writes nothing there; ids do not depend on paths."""
    model = tmp_path / "data" / "models" / "lexi"
    shutil.copytree(catalog.build_fixture("early_extract"), model)
    before = _tree(model)
    project = tmp_path / "project"
    project.mkdir()
    select = ["-m", "rvcqa_structure or rvcqa_dataset", "-k", "file_format or folders", "-q"]
    run = _run(["--model-dir", str(model), *select, "-rA"], project)
    assert "passed" in run.stdout, run.stdout[-3000:] + run.stderr[-2000:]
    assert _tree(model) == before, "the model folder changed"
    assert (project / ".pytest_cache").is_dir(), "pytest's cache belongs in the working folder"
    from_project = _ids(_run(["--model-dir", str(model), *select, "--co"], project).stdout)
    inside = _run(["--model-dir", ".", "--rvcqa-results", str(tmp_path / "results"), *select, "--co"], model)
    from_inside = _ids(inside.stdout)
    assert from_project and from_project == from_inside, (from_project, from_inside)
    assert all(i.startswith("quality_tests/test_") and "[lexi-" in i for i in from_project), from_project
    run = _run(["--model-dir", ".", "--rvcqa-results", str(tmp_path / "results"), *select], model)
    assert "passed" in run.stdout, run.stdout[-3000:]
    assert _tree(model) == before, "a run from inside the model folder changed it"
    assert (tmp_path / "results" / ".pytest_cache").is_dir(), "the cache goes to the results folder then"
