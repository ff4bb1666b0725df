"""The built-in demo model: a small, honestly trained voice, shipped with the package.

Its weights (fp16, 4.5 MB), the F0 it was trained on and the LJ Speech clips it was trained on
are package data (``rvcqa/demo/data/``); :mod:`rvcqa.demo.build` assembles its RVC experiment
folder on first use into a cache folder (``RVCQA_CACHE`` or ``~/.cache/rvcqa``), so the demo
works wherever rvcqa is installed, no checkout needed.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from rvcqa.demo.build import cache_root, demo_model_dir


def run_demo(results: Path, pytest_args: Sequence[str] = ()) -> int:
    """Run the gate on the demo model, then write ``report.html`` + ``report.md`` into ``results``.

    The report's path is the last line printed. Exit status: the gate's (pytest's).
    """
    import argparse
    import subprocess
    import sys

    from rvcqa.report.command import add_arguments, run_report

    demo = demo_model_dir(progress=True)
    results = Path(results).resolve()
    print(f"rvcqa demo: gating {demo}", flush=True)
    args = ["--model-dir", str(demo), "--rvcqa-results", str(results), "-p", "no:cacheprovider", "-q",
            *pytest_args]
    # a fresh interpreter: pytest then rewrites rvcqa's asserts itself instead of warning that this
    # process imported rvcqa first (PytestAssertRewriteWarning)
    code = subprocess.call([sys.executable, "-m", "pytest", *args])
    verdict = "PASSED" if code == 0 else "FAILED"
    print(f"\nrvcqa demo: the gate {verdict} (pytest exit status {code}); results in {results}", flush=True)
    print("rvcqa demo: writing the report (rvcqa report: the same checks, run once more without pytest)...",
          flush=True)
    parser = argparse.ArgumentParser(prog="rvcqa report")
    add_arguments(parser)
    report = results / "report"
    run_report(parser.parse_args([str(demo), "--out", str(report), "--results", str(results), "--quiet"]))
    for suffix in (".html", ".md"):
        path = report.with_suffix(suffix)
        if path.is_file():
            path.chmod(0o644)
    print(f"rvcqa demo: report {report.with_suffix('.html')}", flush=True)
    return code


__all__ = ["cache_root", "demo_model_dir", "run_demo"]
