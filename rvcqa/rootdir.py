"""Keep pytest's rootdir and cache out of the model folder, and the quality suite's ids fixed.

pytest decides its rootdir before any plugin is loaded, so it reads ``--model-dir /data/lexi`` as
an unknown option followed by the test path ``/data/lexi``: the rootdir becomes the model folder,
``.pytest_cache/`` is written into it, and the test ids change with where the model sits. This
module corrects that as early as a plugin can (``pytest_load_initial_conftests``):

- the shipped quality suite is anchored at its own parent folder, so its ids read
  ``quality_tests/test_dataset.py::test_x[lexi]`` wherever the model and the working folder are;
- with explicit test paths, the rootdir is what pytest would have chosen without the model folders;
- the cache lives in the working folder (``cache_dir`` resolved there), or in the results folder
  when the working folder is inside a model folder (so is pytest-benchmark's storage).

pytest offers no public setter for the rootdir or the cache folder; the private attributes used
here are confined to this module.
"""
from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

import pytest

CACHE_PLUGIN = "cacheprovider"
DEFAULT_BENCHMARK_STORAGE = "file://./.benchmarks"


def model_dir_candidates(args: list[str], cwd: Path) -> list[Path]:
    """Every folder a ``--model-dir`` value may name (as given, and ``logs/NAME`` in an RVC root)."""
    out: list[Path] = []
    for arg in args:
        p = Path(arg).expanduser()
        p = p if p.is_absolute() else cwd / p
        out.append(p.resolve())
        if len(Path(arg).parts) == 1:
            out.append((cwd / "logs" / arg).resolve())
    return out


def inside_any(path: Path, folders: list[Path]) -> bool:
    path = path.resolve()
    return any(path == f or f in path.parents for f in folders)


def _rootpath_without_model_dirs(config: pytest.Config, paths: list[str]) -> Path:
    """The rootdir pytest chooses for ``paths`` alone (its own algorithm, asked again)."""
    from _pytest.config.findpaths import determine_setup

    ns = config.known_args_namespace
    given: dict[str, Any] = {
        "inifile": getattr(ns, "inifilename", None),
        "override_ini": getattr(ns, "override_ini", None),
        "args": paths,
        "rootdir_cmd_arg": getattr(ns, "rootdir", None) or None,
        "invocation_dir": Path(config.invocation_params.dir),
    }
    accepted = inspect.signature(determine_setup).parameters
    result = determine_setup(**{k: v for k, v in given.items() if k in accepted})
    return Path(result[0])


def anchor(config: pytest.Config, suite: Path) -> list[str]:
    """Correct the rootdir and the cache folder of a ``--model-dir`` run; lines for the header."""
    ns = config.known_args_namespace
    model_args = list(getattr(ns, "rvcqa_model_dirs", None) or [])
    if not model_args:
        return []
    cwd = Path(config.invocation_params.dir)
    models = model_dir_candidates(model_args, cwd)
    paths = [str(p) for p in (getattr(ns, "file_or_dir", None) or [])]
    old_root = config.rootpath
    if getattr(ns, "rootdir", None):
        root = old_root
    elif not paths and not getattr(ns, "pyargs", False):
        root = suite.resolve().parent
    else:
        root = _rootpath_without_model_dirs(config, paths)
    if root != old_root:
        config._rootpath = root  # noqa: SLF001 - no public setter, see the module docstring
        config._parser.extra_info["rootdir"] = str(root)  # noqa: SLF001
        if ns.confcutdir is not None and Path(ns.confcutdir) == old_root:
            ns.confcutdir = str(cwd)
    results = getattr(ns, "rvcqa_results", None) or str(config.getini("rvcqa_results") or "") or None
    return _place_cache(config, cwd, models, results)


def results_root(cwd: Path, results: str | None) -> Path:
    return (cwd / (results or "rvcqa-results")).resolve()


def _place_cache(config: pytest.Config, cwd: Path, models: list[Path], results: str | None) -> list[str]:
    if not config.pluginmanager.has_plugin(CACHE_PLUGIN):
        return []
    value = os.path.expandvars(str(config.getini("cache_dir")))
    cache = Path(value).expanduser()
    cache = cache if cache.is_absolute() else cwd / cache
    note = []
    if inside_any(cache, models):
        cache = results_root(cwd, results) / ".pytest_cache"
        note.append(f"pytest's cache: {cache} (the working folder is inside the model folder)")
    config._inicache["cache_dir"] = str(cache)  # noqa: SLF001 - resolve it against the working folder
    return note


def place_benchmarks(config: pytest.Config, results: str | None) -> list[str]:
    """pytest-benchmark creates ``./.benchmarks`` at start-up: never inside a model folder."""
    model_args = list(config.getoption("rvcqa_model_dirs", None) or [])
    if not model_args or getattr(config.option, "benchmark_storage", None) != DEFAULT_BENCHMARK_STORAGE:
        return []
    cwd = Path(config.invocation_params.dir)
    if not inside_any(cwd / ".benchmarks", model_dir_candidates(model_args, cwd)):
        return []
    target = results_root(cwd, results) / ".benchmarks"
    config.option.benchmark_storage = f"file://{target}"
    return [f"benchmark storage: {target} (the working folder is inside the model folder)"]
