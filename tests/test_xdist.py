"""CI gating at scale: pytest-xdist gives the serial run's verdicts; JUnit XML; exit status; baselines.

Two small model folders (``fixtures/build_models.py`` + two data slices from ``build_data.py``):
``healthy`` passes the gate, ``early`` was extracted from its first checkpoint and fails it. The
perceptual and speed tests are deselected to keep these runs short on a shared CPU; they go through
the same grouping and merging as every other quality test. The runs take a minute or two on a
shared CPU, so they are marked ``slow`` (the separate CI step: ``pytest tests -m slow``).
"""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from model_builders import model_with_slices

from rvcqa.xdist import scope_of, strip_group


pytest.importorskip("xdist")

SELECT = "not rvcqa_perceptual and not rvcqa_speed and not rvcqa_slow"


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    pytest.importorskip("torch")
    cache = tmp_path_factory.getbasetemp() / "rvcqa_xdist_models"
    return {"healthy": model_with_slices(cache, None, "healthy"), "early": model_with_slices(cache, "early_extract", "early")}


def _args(models: dict[str, Path], out: Path, *extra: str) -> list[str]:
    args = []
    for root in models.values():
        args += ["--model-dir", str(root)]
    return args + ["-m", SELECT, "-p", "no:cacheprovider", "--rvcqa-results", str(out / "results"),
                   "--junitxml", str(out / "junit.xml"), "--rvcqa-json", str(out / "results.json"), *extra]


def junit_outcomes(path: Path) -> dict[str, str]:
    out = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        kinds = {child.tag for child in case}
        outcome = ("failed" if kinds & {"failure", "error"} else "skipped" if "skipped" in kinds else "passed")
        out[strip_group(case.get("name", ""))] = outcome
    return out


@pytest.fixture(scope="module")
def runs(models, tmp_path_factory):
    """The same gate run serially and with ``-p xdist -n 2`` (subprocesses, as ``runpytest_subprocess``
    does; pytester itself is function-scoped and the four tests below share these two runs)."""
    import subprocess
    import sys

    out = {}
    for mode, extra in (("serial", ()), ("xdist", ("-p", "xdist", "-n", "2", "-v"))):
        d = tmp_path_factory.mktemp(mode)
        proc = subprocess.run([sys.executable, "-m", "pytest", *_args(models, d, *extra)], cwd=d,
                              capture_output=True, text=True, timeout=600)
        out[mode] = (proc, d)
    return out


@pytest.mark.slow
def test_xdist_gives_the_serial_verdicts(runs):
    (serial, ds), (par, dx) = runs["serial"], runs["xdist"]
    assert serial.returncode == 1, serial.stdout[-3000:] + serial.stderr[-2000:]
    assert par.returncode == serial.returncode, par.stdout[-3000:] + par.stderr[-2000:]
    s_out, x_out = junit_outcomes(ds / "junit.xml"), junit_outcomes(dx / "junit.xml")
    assert s_out == x_out and len(s_out) > 40
    assert s_out["test_provenance[early-provenance.latest_checkpoint]"] == "failed"
    assert s_out["test_provenance[healthy-provenance.latest_checkpoint]"] == "passed"

    s_json, x_json = (json.loads((d / "results.json").read_text())["models"] for d in (ds, dx))
    assert set(s_json) == set(x_json) == {"healthy", "early"}
    for name in s_json:
        s, x = s_json[name], x_json[name]
        assert (s["verdict"], x["verdict"]) == ({"healthy": "PASS (warnings)", "early": "FAIL"}[name],) * 2
        assert {f["check"]: f["status"] for f in s["findings"]} == {f["check"]: f["status"] for f in x["findings"]}
        nums = lambda m: {k: v for k, v in m.items() if isinstance(v, (int, float))}  # noqa: E731
        assert nums(s["measurements"]) == nums(x["measurements"]) and nums(s["measurements"])
        assert s["outcomes"] == x["outcomes"]


@pytest.mark.slow
def test_xdist_groups_each_model_on_one_worker_and_merges_results(runs):
    par, _ = runs["xdist"]
    text = par.stdout
    assert "each model's tests run on one worker" in text and "scheduling tests via ModelScheduling" in text
    workers: dict[str, set[str]] = {}
    for gw, model in re.findall(r"\[(gw\d+)\]\s+\[\s*\d+%\]\s+(?:PASSED|FAILED|SKIPPED)\s+\S+?\[(\w+)-[\w.]+\]", text):
        workers.setdefault(model, set()).add(gw)
    assert set(workers) == {"healthy", "early"} and all(len(g) == 1 for g in workers.values()), workers
    # the controller's summary shows the measurements the workers took
    table = text[text.index("rvcqa summary"):]
    assert re.search(r"^healthy\s+PASS\s+\d+\s+0\s+\d+\s+457\b", table, re.M), table
    assert re.search(r"^early\s+FAIL\s+\d+\s+1\s+\d+\s+457\b", table, re.M), table


@pytest.mark.slow
def test_junitxml_carries_the_model_and_the_expert_message(runs):
    _, ds = runs["serial"]
    root = ET.parse(ds / "junit.xml").getroot()
    case = next(c for c in root.iter("testcase") if c.get("name") == "test_provenance[early-provenance.latest_checkpoint]")
    failure = case.find("failure")
    assert failure is not None and "G_2376.pth" in (failure.get("message", "") + (failure.text or ""))
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props.get("rvcqa_model") == "early"


@pytest.mark.slow
def test_baseline_regression_fails_an_xdist_session(models, tmp_path):
    import subprocess
    import sys

    healthy = {"healthy": models["healthy"]}
    base = tmp_path / "baseline.json"
    first = subprocess.run([sys.executable, "-m", "pytest", *_args(healthy, tmp_path, "-m", "rvcqa_training",
                                                                   "--rvcqa-save-baseline", str(base))],
                           cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stdout[-3000:]
    doc = json.loads(base.read_text())
    measured = doc["models"]["healthy"]["measurements"]["loss_mel_last"]
    doc["models"]["healthy"]["measurements"]["loss_mel_last"] = measured / 2  # the release was much better
    base.write_text(json.dumps(doc))
    again = subprocess.run([sys.executable, "-m", "pytest", *_args(healthy, tmp_path, "-m", "rvcqa_training",
                                                                   "--rvcqa-baseline", str(base), "-p", "xdist",
                                                                   "-n", "2")],
                           cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert again.returncode == 1, again.stdout[-3000:]
    out = again.stdout
    assert re.search(rf"healthy: loss_mel_last\s+{measured / 2:.4g}\s+{measured:.4g}\s+.*REGRESSION", out), out[-3000:]
    assert "the gate FAILS" in out
    assert re.search(r"passed", out.splitlines()[-1]) and "failed" not in out.splitlines()[-1]


@pytest.mark.slow
def test_benchmarks_are_disabled_under_xdist(pytester):
    pytester.makepyfile(test_speed="""
        def test_speed(benchmark):
            benchmark(sum, range(10))
    """)
    result = pytester.runpytest_subprocess("-p", "xdist", "-n", "2", "-p", "no:cacheprovider")
    assert result.ret == 0
    text = "\n".join(result.outlines + result.errlines)
    # pytest-benchmark < 5.3 also warns "Benchmarks are automatically disabled because xdist plugin is
    # active"; every version runs the test body once and prints no timing table under xdist
    assert "benchmark: 1 tests" not in text and "Name (time in" not in text


@pytest.mark.parametrize("nodeid, expected", [
    ("q/test_s.py::test_s[lexi-structure.finite]@lexi", "q/test_s.py::test_s[lexi-structure.finite]"),
    ("q/test_s.py::test_s[lexi-structure.finite]", "q/test_s.py::test_s[lexi-structure.finite]"),
    ("q/test_s.py::test_s[a@b]", "q/test_s.py::test_s[a@b]"),
])
def test_strip_group(nodeid, expected):
    assert strip_group(nodeid) == expected


@pytest.mark.parametrize("nodeid, scope", [
    ("quality_tests/test_structure.py::test_structure[lexi-structure.finite]", "rvcqa-model:lexi"),
    ("quality_tests/test_speed.py::test_synthesizer_speed[lexi-cpu-5s]", "rvcqa-model:lexi"),
    ("quality_tests/test_structure.py::test_structure[lexi-v2-structure.finite]", "rvcqa-model:lexi-v2"),
    ("quality_tests/test_x.py::test_x[cpu-lexi]", "rvcqa-model:lexi"),
    ("quality_tests/test_structure.py::test_structure[lexi-structure.finite]@mygroup", "mygroup"),
    ("tests/test_other.py::test_other[lexicon-1]", "tests/test_other.py::test_other[lexicon-1]"),
    ("tests/test_other.py::test_plain", "tests/test_other.py::test_plain"),
])
def test_scope_of(nodeid, scope):
    assert scope_of(nodeid, ["lexi", "lexi-v2"]) == scope


def test_controller_prints_the_sweep_tables_the_workers_sent(pytester):
    """Workers send their sweep tables with their findings; the controller's one summary prints them."""
    from types import SimpleNamespace as NS

    from rvcqa.report import gate
    from rvcqa.xdist import WORKEROUTPUT_KEY

    config = pytester.parseconfig()
    st = gate.GateState()
    config.stash[gate._STATE_KEY] = st
    payload = {"models": [], "sweep": {"lexi": "recommended: G_200.pth"}}
    node = NS(config=config, workeroutput={WORKEROUTPUT_KEY: json.dumps(payload)}, gateway=NS(id="gw0"))
    gate.testnodedown(config, node, None)
    models = [NS(name="other", options=NS(sweep=False)), NS(name="lexi", options=NS(sweep=False))]
    assert gate.sweep_tables(config, NS(models=models)) == {"lexi": "recommended: G_200.pth"}
    assert st.workers == ["gw0"]


def test_xdist_hooks_are_registered_only_with_xdist(pytester):
    """The session object is registered once; the xdist part only when pytest-xdist is loaded."""
    pytester.makepyfile(test_x="""
        def test_names(request):
            pm = request.config.pluginmanager
            assert pm.get_plugin("rvcqa-session") is not None
            print("XDIST-PART", pm.get_plugin("rvcqa-xdist") is not None)
    """)
    with_xdist = pytester.runpytest_subprocess("-p", "xdist", "-s", "-p", "no:cacheprovider")
    with_xdist.stdout.fnmatch_lines(["*XDIST-PART True*"])
    without = pytester.runpytest_subprocess("-p", "no:xdist", "-s", "-p", "no:cacheprovider")
    without.stdout.fnmatch_lines(["*XDIST-PART False*"])
