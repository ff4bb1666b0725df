"""The diagnosis report: data model, Markdown/HTML rendering, pictures, ``rvcqa report``, Chromium.

Model folders come from ``fixtures/build_models.py`` (narrow RVC v2 48k models with G_/D_
checkpoints, train.log, pretrained base) plus two data slices from ``fixtures/build_data.py``.
The perceptual checks are left out where audio is not the point (they take ~30 s on a shared CPU);
the pictures are drawn from wavs placed in the results folder, exactly where those checks write.
"""
from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from model_builders import model_with_slices

from rvcqa.profile import check_suites
from rvcqa.findings import Finding, Status, failed, passed, skipped, warning
from rvcqa.report import document, report_paths, write_report
from rvcqa.report.collect import ModelReport, finding_from_dict

REPO = Path(__file__).resolve().parent.parent
FAST_CHECKS = ["structure", "provenance", "dataset", "trainlog"]
CHROMIUM = Path("/usr/bin/chromium")


# --------------------------------------------------------------------------- model folders

@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.getbasetemp() / "rvcqa_report_models"


@pytest.fixture(scope="module")
def early(model_cache) -> Path:
    pytest.importorskip("torch")
    return model_with_slices(model_cache, "early_extract", "lexi")


def context(root: Path, results: Path):
    from rvcqa.context import ModelContext, Options
    from rvcqa.modeldir import discover
    from rvcqa.profile import build_profile

    md = discover(root, rvc_root=root.parent.parent)
    return ModelContext(md, Options(results_dir=results, segments=2), build_profile(), suites=check_suites())


def fake_outputs(root: Path, results: Path) -> None:
    """What the perceptual checks leave behind: resynthesis/{stem}.wav (here: noise) and conversion/."""
    rng = np.random.default_rng(0)
    res = results / "resynthesis"
    res.mkdir(parents=True, exist_ok=True)
    for gt in sorted((root / "0_gt_wavs").glob("*.wav")):
        n = sf.info(str(gt)).frames
        sf.write(str(res / gt.name), (0.1 * rng.standard_normal(n)).astype(np.float32), 48000, subtype="FLOAT")
    conv = results / "conversion"
    conv.mkdir(parents=True, exist_ok=True)
    # named after the bundled reference clip it converted (the default --reference-audio)
    y, sr = sf.read(str(REPO / "rvcqa" / "data" / "reference_audio" / "vctk_p301_102_F_16k.flac"), dtype="float32")
    sf.write(str(conv / "vctk_p301_102_F_16k.wav"), y[: sr * 2], sr, subtype="FLOAT")


# --------------------------------------------------------------------------- the data model

def _hand_made() -> ModelReport:
    fs = [
        passed("structure.finite", "all 457 weight tensors are finite", measured=0, expected=0),
        failed("provenance.latest_checkpoint", "lexi.pth matches G_396.pth; the latest is G_2376.pth",
               measured="G_396.pth", expected="G_2376.pth", cause="extracted from an early checkpoint",
               details={"latest": "G_2376.pth"}),
        warning("dataset.total_duration", "only 4.0 minutes of training audio"),
        skipped("perceptual.convert_flatness", "conversion needs --hubert PATH"),
        Finding("hypothesis.insufficient_training", Status.PASSED, "insufficient training: ruled out — converged",
                details={"verdict": "ruled out", "evidence": {"late_median": 20.1}}),
        Finding("hypothesis.batch_size", Status.WARNING, "batch size: supported — batch 1",
                cause="batch size 1 gives noisy gradients", details={"verdict": "supported", "evidence": {"batch_size": 1}}),
        Finding("hypothesis.learning_rate", Status.SKIPPED, "learning rate: not testable — no log",
                details={"verdict": "not testable", "evidence": {}}),
    ]
    return ModelReport(name="lexi", root="/x/logs/lexi", findings={f.check: f for f in fs},
                       measurements={"inference_layers": 457, "loss_mel_last": 207.5, "source_checkpoint": "G_396.pth"},
                       modules_run=["structure", "provenance", "dataset", "perceptual", "hypotheses"],
                       modules_missing={"trainlog": "not run in this session (deselected, or no test of it ran)"})


def test_verdict_counts_and_round_trip():
    rep = _hand_made()
    assert rep.verdict == "FAIL"
    assert rep.counts() == {"passed": 1, "failed": 1, "warning": 1, "skipped": 1}  # hypotheses not counted
    back = ModelReport.from_dict(json.loads(json.dumps(rep.to_dict())))
    assert back.to_dict() == rep.to_dict()
    assert back.findings["provenance.latest_checkpoint"].status is Status.FAILED
    assert finding_from_dict(rep.findings["structure.finite"].to_dict()) == rep.findings["structure.finite"]


def test_merge_of_two_workers_results():
    a, b = _hand_made(), ModelReport(name="lexi", findings={"training.kl": passed("training.kl", "ok")},
                                     modules_run=["trainlog"], measurements={"training.final_loss_kl": 1.3},
                                     outcomes={"passed": 3})
    a.merge(b)
    assert "training.kl" in a.findings and "trainlog" in a.modules_run and "trainlog" not in a.modules_missing
    assert a.measurements["training.final_loss_kl"] == 1.3 and a.outcomes == {"passed": 3}


def test_document_has_the_report_shape():
    rep = _hand_made()
    md = _render_md(rep)
    for heading in ("# lexi RVC Model Diagnosis Report", "## Problem Summary", "## Key Diagnostic Findings",
                    "### 1. Model provenance", "### 2. Output analysis", "### 3. Training configuration",
                    "### 4. Loss progression", "### 5. Pretrained model used", "### 6. Preprocessing verification",
                    "### 7. Model weights analysis", "### 8. Comparison with a reference model",
                    "## Hypotheses for Broken Output", "## Next Steps", "## Files for Analysis", "## All Checks"):
        assert heading in md, heading
    assert "**Verdict: FAIL**" in md
    assert "**Provenance: latest checkpoint** - lexi.pth matches G\\_396.pth" in md  # plain words, escaped
    assert "Hypothesis 1: Insufficient training - ruled out" in md
    assert "Batch size too small - supported" in md and "Learning rate / optimizer issues - not testable" in md
    assert "Re-extract the inference model from G\\_2376.pth" in md  # next step from the failure
    assert "(supported): batch size 1 gives noisy gradients" in md
    assert "trainlog checks (not run in this session" in md  # what is missing says why


def _render_md(rep: ModelReport) -> str:
    from rvcqa.report import markdown

    return markdown.render(document.build([rep], plots_available=False, plots_reason="test"))


def test_sections_that_cannot_be_produced_say_why(monkeypatch):
    rep = _hand_made()

    def broken(m):
        raise RuntimeError("synthetic failure")

    monkeypatch.setattr(document, "dataset_section", broken)
    md = _render_md(rep)
    assert "This section could not be produced: RuntimeError: synthetic failure" in md
    assert "## Next Steps" in md


def test_markdown_escapes_and_html_is_self_contained(tmp_path):
    rep = _hand_made()
    rep.findings["structure.finite"].message = "a | b <script>alert(1)</script> G_*.pth"
    paths = write_report([rep], tmp_path / "r.html", plots=False)
    md, page = paths.markdown.read_text(), paths.html.read_text()
    assert "a \\| b \\<script\\>" in md
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page)
    assert "This report has no pictures: pictures were turned off" in page


def test_without_matplotlib_the_report_says_so(tmp_path, monkeypatch):
    from rvcqa.report import plots

    monkeypatch.setattr(plots, "available", lambda: (False, "matplotlib is not installed (matplotlib)"))
    paths = write_report([_hand_made()], tmp_path / "out" / "report")
    assert paths.pictures == 0 and "matplotlib is not installed" in paths.plots_note
    assert "This report has no pictures: matplotlib is not installed" in paths.markdown.read_text()
    assert not paths.images_dir.exists()


@pytest.mark.parametrize("given, md", [("r.html", "r.md"), ("r.md", "r.md"), ("r", "r.md"), ("dir/", "dir/report.md")])
def test_report_paths(tmp_path, given, md):
    m, h, img = report_paths(str(tmp_path / given) + ("/" if given.endswith("/") else ""))
    assert m == tmp_path / md and h == m.with_suffix(".html") and img == m.parent / f"{m.stem}_files"


# --------------------------------------------------------------------------- on a real model folder

@pytest.fixture(scope="module")
def early_report(early, tmp_path_factory):
    from rvcqa.report.collect import collect

    results = tmp_path_factory.mktemp("results") / "lexi"
    fake_outputs(early, results)
    ctx = context(early, results)
    rep = collect(ctx, run_missing=True, only=FAST_CHECKS)
    return ctx, rep


def test_collect_uses_the_findings_the_tests_assert_on(early_report):
    from rvcqa.checks import provenance

    ctx, rep = early_report
    assert rep.findings["provenance.latest_checkpoint"] is ctx.findings(provenance)["provenance.latest_checkpoint"]
    assert rep.verdict == "FAIL"
    assert [f.check for f in rep.failed()] == ["provenance.latest_checkpoint"]
    assert rep.modules_run == ["structure", "provenance", "dataset", "trainlog", "hypotheses", "history"]
    assert "perceptual" in rep.modules_missing
    w = rep.facts["weights"]
    assert w["inference_layers"] == 457 and w["training_layers"] == 457 + w["training_enc_q_layers"]
    assert rep.facts["log"]["series"]["loss_mel"] and rep.facts["model"]["latest_g"] == "G_2376.pth"
    assert len(rep.facts["audio"]["resynthesis"]) == 2 and rep.facts["audio"]["conversion"][0]["input"]


def test_report_with_pictures_on_a_real_folder(early_report, tmp_path):
    pytest.importorskip("matplotlib")
    ctx, rep = early_report
    paths = write_report([rep], tmp_path / "lexi.html")
    assert not paths.picture_errors, paths.picture_errors
    # loss curves + (spectrograms, F0, waveforms) for conversion and for resynthesis
    assert paths.pictures == 7
    page = paths.html.read_text()
    pngs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(pngs) == 7 and all(base64.b64decode(p)[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    md = paths.markdown.read_text()
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        assert (paths.markdown.parent / link).is_file()
    assert f"{rep.facts['weights']['training_layers']} (training) -> 457 (inference" in md
    assert "**Conversion** of vctk\\_p301\\_102" in md and "**Resynthesis** of 0\\_0" in md


# --------------------------------------------------------------------------- rvcqa report (CLI)

def test_cli_report_exit_status_files_and_baseline(early, tmp_path, capsys):
    from rvcqa.cli import main

    out = tmp_path / "rep" / "lexi"
    args = ["report", str(early), "--out", str(out), "--results", str(tmp_path / "res"), "--checks",
            "structure,provenance,trainlog", "--no-plots", "-q", "--json", str(tmp_path / "r.json"),
            "--save-baseline", str(tmp_path / "b.json")]
    assert main(args) == 1  # provenance.latest_checkpoint fails
    text = capsys.readouterr().out
    assert "lexi: FAIL; failed: provenance.latest_checkpoint" in text
    assert out.with_suffix(".md").is_file() and out.with_suffix(".html").is_file()
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["models"]["lexi"]["verdict"] == "FAIL"
    assert "dataset" not in data["models"]["lexi"]["modules_run"]

    doc = json.loads((tmp_path / "b.json").read_text())
    doc["models"]["lexi"]["measurements"]["loss_mel_last"] = 10.0  # the "released" model was better
    (tmp_path / "b2.json").write_text(json.dumps(doc))
    assert main(["report", str(early), "--out", str(out), "--results", str(tmp_path / "res"), "--checks", "trainlog",
                 "--no-plots", "-q", "--baseline", str(tmp_path / "b2.json"), "--compare-fail", "loss_mel_last:5%"]) == 1
    text = capsys.readouterr().out
    assert re.search(r"lexi: loss_mel_last\s+10\s+20\.02\s+\+10\.02\s+\*loss_mel\*:10%", text) is None  # rule overridden
    assert re.search(r"lexi: loss_mel_last\s+10\s+20\.02\s+\+10\.02\s+loss_mel_last:5% \(higher\) REGRESSION", text), text


def test_cli_report_bad_input_is_one_line(tmp_path, capsys):
    from rvcqa.cli import main

    assert main(["report", str(tmp_path / "nope"), "--no-plots", "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rvcqa: ") and err.count("\n") == 1
    with pytest.raises(SystemExit) as exc:
        main(["report", str(tmp_path), "--compare-fail", "flatness"])
    assert exc.value.code == 2


# --------------------------------------------------------------------------- headless Chromium

@pytest.mark.skipif(not CHROMIUM.exists(), reason="apt-get install chromium")
def test_html_renders_in_headless_chromium(early_report, tmp_path):
    pytest.importorskip("matplotlib")
    _, rep = early_report
    paths = write_report([rep], tmp_path / "lexi.html")
    shot = tmp_path / "lexi.png"
    proc = subprocess.run(["bash", str(REPO / "scripts" / "screenshot_report.sh"), str(paths.html), str(shot)],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1200, 3000)
    from PIL import Image  # matplotlib depends on pillow

    im = np.asarray(Image.open(shot).convert("RGB"))
    assert im.std() > 20  # text, tables and pictures, not a blank page
    assert (np.abs(im.astype(int) - [198, 40, 40]).sum(axis=2) < 30).any()  # a red "failed" cell rendered


def test_screenshot_script_documents_its_use():
    script = (REPO / "scripts" / "screenshot_report.sh").read_text()
    assert "--headless" in script and "--screenshot" in script and "apt-get install chromium" in script
    if shutil.which("bash"):
        proc = subprocess.run(["bash", str(REPO / "scripts" / "screenshot_report.sh")], capture_output=True, text=True)
        assert proc.returncode == 2 and "usage" in proc.stderr.lower()


def test_ci_docs_name_real_options():
    """Every --rvcqa-* option the CI docs and the example workflow use exists."""
    from rvcqa.report.gate import add_options

    class Group:
        names: list[str] = []

        def addoption(self, *names, **kw):
            self.names += list(names)

    group = Group()
    add_options(group)
    plugin = (REPO / "rvcqa" / "plugin.py").read_text()
    known = set(group.names) | set(re.findall(r'"(--rvcqa-[a-z-]+)"', plugin))
    for doc in ("docs/ci-gate.md", "docs/github-actions-gate.yml"):
        used = set(re.findall(r"--rvcqa-[a-z-]+[a-z]", (REPO / doc).read_text()))
        assert used and used <= known, (doc, used - known)


def test_example_workflow_is_valid_yaml():
    yaml = pytest.importorskip("yaml")
    flow = yaml.safe_load((REPO / "docs" / "github-actions-gate.yml").read_text())
    assert flow["jobs"]["release"]["needs"] == "gate"


def test_summary_table_per_model():
    from types import SimpleNamespace as NS

    from rvcqa.summary import summary_lines

    def rep(nodeid, model, when="call"):
        return NS(nodeid=nodeid, when=when, user_properties=[("rvcqa_model", model)])

    stats = {"passed": [rep("t.py::a[x-1]", "x"), rep("t.py::a[y-1]", "y")], "failed": [rep("t.py::b[y-2]", "y")],
             "skipped": [rep("t.py::c[x-3]", "x", "setup")]}
    models = [NS(name="x", measurements={"inference_layers": 457, "resynth_flatness": 0.0021},
                 options=NS(results_dir=None)),
              NS(name="y", measurements={"inference_layers": 457}, options=NS(results_dir=None))]
    lines = summary_lines(models, stats)
    assert lines[0].split() == ["model", "verdict", "passed", "failed", "skipped", "layers"]
    assert lines[1].split() == ["x", "PASS", "1", "0", "1", "457"]
    assert lines[2].split() == ["y", "FAIL", "1", "1", "0", "457"]
    assert lines[3].split() == ["model", "resynth", "flatness"]
    assert lines[4].split() == ["x", "0.0021"] and lines[5].split() == ["y", "-"]
    assert all(len(line) <= 120 for line in lines)
    assert "    failed: b[y-2]" in lines and lines[-1] == "checks: FAIL (y) - 2 models"


def test_sweep_section_shows_table_warnings_and_plot(tmp_path) -> None:
    """The epoch sweep's result (from the same finding the sweep test asserts on) is rendered."""
    from rvcqa.findings import warning
    from rvcqa.report.collect import ModelReport
    from rvcqa.report.document import Code, Figure, Para, sweep_section

    plot = tmp_path / "sweep.png"
    plot.write_bytes(b"\x89PNG\r\n")
    f = warning("sweep.recommendation", "recommended of 3 candidates: G_200.pth", details={
        "rows": [{"label": "G_100.pth"}, {"label": "G_200.pth"}, {"label": "G_300.pth"}],
        "table": "epoch step candidate\n 2 200 G_200.pth", "plot_path": str(plot),
        "warnings": [{"kind": "overtraining", "message": "quality got worse after G_200.pth"}]})
    blocks = sweep_section(ModelReport(name="m", findings={"sweep.recommendation": f}))
    assert any(isinstance(b, Code) and "G_200.pth" in b.text for b in blocks)
    assert any(isinstance(b, Para) and "got worse" in b.text for b in blocks)
    assert any(isinstance(b, Figure) and b.kind == "png_file" for b in blocks)
    empty = sweep_section(ModelReport(name="m"))
    assert "No epoch sweep" in empty[0].text
