"""Thresholds: one profile, with each default documented where its check lives.

Precedence (lowest to highest): the check modules' ``DEFAULTS`` (each with a comment on where the
number comes from), ``[tool.rvcqa.thresholds]`` in the ``pyproject.toml`` of the directory pytest
runs from, the ini key ``rvcqa_thresholds`` (``KEY=VALUE`` lines), then ``--rvcqa-threshold
KEY=VALUE`` on the command line.
"""
from __future__ import annotations

import importlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from rvcqa.errors import RvcqaError
from rvcqa.options import parse_scalar

#: check modules, in the order the suite runs them
CHECK_MODULES = ("structure", "provenance", "dataset", "signal", "f0files", "index", "trainlog", "history",
                 "perceptual", "embedder", "output", "precision", "sweep")


def check_modules() -> list[Any]:
    """The importable ``rvcqa.checks.*`` modules (each has CHECK_IDS, DEFAULTS, run)."""
    mods = []
    for name in CHECK_MODULES:
        try:
            mods.append(importlib.import_module(f"rvcqa.checks.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"rvcqa.checks.{name}":
                raise
    return mods


def check_suites() -> dict[str, Any]:
    """The check modules by suite name (``"dataset"`` -> ``rvcqa.checks.dataset``), for ``ModelContext(suites=)``."""
    return {mod.__name__.rsplit(".", 1)[-1]: mod for mod in check_modules()}


def default_thresholds() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for mod in check_modules():
        merged.update(getattr(mod, "DEFAULTS", {}))
    return merged


def pyproject_thresholds(directory: Path) -> dict[str, Any]:
    """``[tool.rvcqa.thresholds]`` from ``directory/pyproject.toml``, if any."""
    path = directory / "pyproject.toml"
    if not path.is_file():
        return {}
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RvcqaError(f"{path}: cannot read [tool.rvcqa.thresholds] ({exc})") from None
    table = data.get("tool", {}).get("rvcqa", {}).get("thresholds", {})
    return dict(table) if isinstance(table, Mapping) else {}


def ini_thresholds(lines: Iterable[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise RvcqaError(f"rvcqa_thresholds: expected KEY=VALUE, got {line!r}")
        key, raw = (p.strip() for p in line.split("=", 1))
        out[key] = parse_scalar(raw)
    return out


def build_profile(
    *,
    directory: Path | None = None,
    ini_lines: Iterable[str] = (),
    cli: Iterable[tuple[str, Any]] = (),
) -> dict[str, Any]:
    """Merge all sources; an unknown key is an error naming the close known keys."""
    defaults = default_thresholds()
    profile = dict(defaults)
    layers = [pyproject_thresholds(directory) if directory else {}, ini_thresholds(ini_lines), dict(cli)]
    for layer in layers:
        for key, value in layer.items():
            if key not in defaults:
                close = close_keys(key, defaults)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise RvcqaError(f"unknown rvcqa threshold {key!r}{hint}")
            profile[key] = value
    return profile


@dataclass
class ThresholdDoc:
    """One threshold: its key, default, the check module that owns it and where the default comes from."""

    key: str
    default: Any
    module: str
    reason: str


def _source_files(module: Any) -> list[Path]:
    path = Path(getattr(module, "__file__", "") or "")
    if path.name == "__init__.py":
        return sorted(path.parent.glob("*.py"))
    return [path] if path.is_file() else []


def _comment_above(lines: list[str], index: int) -> str:
    """The comment block above line ``index``, skipping the entries that share it."""
    i = index - 1
    while i >= 0 and _KEY_LINE.match(lines[i]):
        i -= 1
    block: list[str] = []
    while i >= 0 and lines[i].strip().startswith("#"):
        block.insert(0, lines[i].strip().lstrip("#").strip())
        i -= 1
    return " ".join(block)


_KEY_LINE = re.compile(r'^\s*"(?P<key>[\w.]+)"\s*:')


def _documented(path: Path, defaults: Mapping[str, Any], known: Mapping[str, str]) -> dict[str, str]:
    """The comments above the ``"key": value`` lines of ``path`` for keys not in ``known`` yet."""
    found: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        m = _KEY_LINE.match(line)
        if m and m.group("key") in defaults and m.group("key") not in known and m.group("key") not in found:
            comment = _comment_above(lines, i)
            if comment:
                found[m.group("key")] = comment
    return found


def threshold_docs() -> list[ThresholdDoc]:
    """Every threshold key with its default and the comment that documents it, in suite order."""
    out: list[ThresholdDoc] = []
    for mod in check_modules():
        defaults: Mapping[str, Any] = getattr(mod, "DEFAULTS", {})
        reasons: dict[str, str] = {}
        for path in _source_files(mod):
            reasons.update(_documented(path, defaults, reasons))
        if any(key not in reasons for key in defaults):
            # a check module may re-export an engine's defaults (the sweep's live in rvcqa.sweep)
            for path in sorted(Path(__file__).resolve().parent.rglob("*.py")):
                reasons.update(_documented(path, defaults, reasons))
        for key, value in defaults.items():
            out.append(ThresholdDoc(key, value, mod.__name__, reasons.get(key, "")))
    return out


def close_keys(key: str, known: Iterable[str]) -> list[str]:
    """Known threshold keys that look like ``key`` (for "did you mean" hints)."""
    import difflib

    return difflib.get_close_matches(key, list(known), n=3)
