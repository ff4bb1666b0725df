"""A plain install (a wheel, no checkout) gives a working ``rvcqa demo`` with an HTML report.

The wheel is built from a copy of the source tree, installed into a fresh virtual environment
whose dependencies come from the running interpreter's site-packages (chained with a ``.pth``
file: torch is not on PyPI's CPU index here, and nothing is downloaded), and the demo runs from
an unrelated folder, with a cache folder of its own so nothing built by a checkout is reused.
"""
from __future__ import annotations

import os
import re
import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SKIP_DIRS = {".git", ".venv", "build", "dist", "__pycache__", ".tox", "rvcqa-results", ".hypothesis", ".benchmarks"}


def _copy_source(dest: Path) -> Path:
    def ignore(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n in SKIP_DIRS or n.endswith(".egg-info")}

    shutil.copytree(REPO, dest, ignore=ignore)
    return dest


def _dependency_dirs() -> list[str]:
    """site-packages of the running interpreter and the ones it chains to, without any checkout."""
    dirs = [*site.getsitepackages(), *[p for p in sys.path if p.endswith("site-packages")]]
    out = []
    for d in dirs:
        if d not in out and Path(d).is_dir():
            out.append(d)
    return out


@pytest.mark.slow
def test_wheel_install_runs_the_demo_and_writes_a_report(tmp_path: Path) -> None:
    src = _copy_source(tmp_path / "src")
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(src), "-w", str(wheels)],
                   check=True, cwd=tmp_path)
    wheel = next(wheels.glob("rvcqa-*.whl"))
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    (Path(purelib) / "_rvcqa_test_deps.pth").write_text("\n".join(_dependency_dirs()) + "\n")
    subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)], check=True)

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(RVCQA_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    where = subprocess.run([str(py), "-c", "import rvcqa; print(rvcqa.__file__)"], cwd=work, env=env,
                           check=True, capture_output=True, text=True).stdout.strip()
    assert where.startswith(purelib), f"rvcqa imported from {where}, not the installed wheel"
    run = subprocess.run([str(env_dir / "bin" / "rvcqa"), "demo", "--results", "out"], cwd=work, env=env,
                         capture_output=True, text=True, timeout=3600)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-4000:]
    assert "only available from a checkout" not in out
    lines = [line for line in run.stdout.strip().splitlines() if line.strip()]
    print("\n".join(lines[-4:]))
    html = work / "out" / "report.html"
    assert lines[-1].endswith(str(html)), lines[-3:]
    assert (work / "out" / "report.md").is_file()
    text = html.read_text(encoding="utf-8")
    assert len(re.findall(r"<img[^>]+src=\"data:image/png;base64,", text)) >= 2, "the report has no plots"
    for name in ("report.html", "report.md"):
        assert (work / "out" / name).stat().st_mode & 0o777 == 0o644


def test_every_package_is_listed_for_the_wheel() -> None:
    """A package missing from pyproject's list is missing from a plain install (imports fail there)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "rvcqa").rglob("__init__.py")}
    assert found - listed == set(), f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    data = {"rvcqa.demo.data", "rvcqa.demo.data.ljspeech", "rvcqa.data.reference_audio"}
    assert data <= listed
