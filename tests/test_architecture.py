"""The layering of docs/architecture.md, checked on the source: imports flow one way, no cycles, small modules.

Every module of ``rvcqa`` (and the shipped ``quality_tests``, as ``rvcqa.quality_tests``) is parsed
with :mod:`ast`; module-level and function-local imports count, imports under ``if TYPE_CHECKING:``
do not (they never run). Known exceptions are listed in the allowlists below, each naming its file:
they shrink as those modules are moved into place, and the test fails when an entry is no longer
needed so the lists cannot go stale.
"""
from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAX_LINES = 600

#: layer of each module prefix (longest prefix wins); a module may import its own layer or lower ones
LAYERS: dict[str, int] = {
    # 0 base: errors, options, the result type, small helpers
    "rvcqa": 0, "rvcqa.errors": 0, "rvcqa.options": 0, "rvcqa.progress": 0, "rvcqa.findings": 0, "rvcqa.stats": 0,
    # 1 discovery, facts and loaders (read files, judge nothing)
    "rvcqa.modeldir": 1, "rvcqa.checkpoint": 1, "rvcqa.audio": 1, "rvcqa.weights": 1, "rvcqa.trainlog": 1,
    "rvcqa.facts": 1, "rvcqa.dataset": 1, "rvcqa.lazyload": 1, "rvcqa.tblog": 1, "rvcqa.history": 1,
    "rvcqa.jsonfile": 1,
    # 2 engines
    "rvcqa.synth": 2, "rvcqa.features": 2, "rvcqa.metrics": 2, "rvcqa.convert": 2, "rvcqa.resynth": 2,
    "rvcqa.sweep": 2, "rvcqa.architecture": 2, "rvcqa.content": 2, "rvcqa.losscurve": 2, "rvcqa.measure": 2,
    "rvcqa.outputs": 2, "rvcqa.provenance": 2, "rvcqa.retrieval": 2, "rvcqa.watch": 2, "rvcqa.precision": 2,
    # 3 the per-model context: lazy, cached access to loaders and engines
    "rvcqa.context": 3,
    # 4 checks
    "rvcqa.checks": 4,
    # 5 renderers and front ends (pytest plugin, CLI, report) and what only they use
    "rvcqa.plugin": 5, "rvcqa.xdist": 5, "rvcqa.summary": 5, "rvcqa.testing": 5, "rvcqa.quality_tests": 5,
    "rvcqa.cli": 5, "rvcqa.inspect": 5, "rvcqa.demo": 5, "rvcqa.session": 5, "rvcqa.profile": 5, "rvcqa.rootdir": 5,
    "rvcqa.baseline": 5, "rvcqa.report": 5, "rvcqa.sweep.command": 5, "rvcqa.watch.command": 5,
}
LAYER_NAMES = ("base", "loaders", "engines", "context", "checks", "renderers")

#: (importer, imported) edges against the layering in modules still being moved into place
ALLOWED_UPWARD: set[tuple[str, str]] = set()
#: check modules that import another check module (checks are leaves: only renderers import them)
ALLOWED_CHECK_TO_CHECK: set[tuple[str, str]] = set()
#: modules over MAX_LINES lines today
ALLOWED_LONG: set[str] = set()
#: import cycles today (each as the sorted tuple of its modules)
ALLOWED_CYCLES: set[tuple[str, ...]] = set()


def _module_files() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in sorted((REPO / "rvcqa").rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    for path in sorted((REPO / "quality_tests").glob("*.py")):
        stem = [] if path.stem == "__init__" else [path.stem]
        out[".".join(["rvcqa", "quality_tests", *stem])] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """Modules of rvcqa that ``module`` imports at run time (anywhere in the file)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("rvcqa"):
                    found.add(resolve(alias.name) or alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    pkg = pkg.rpartition(".")[0]
                base = f"{pkg}.{base}" if base else pkg
            if base.startswith("rvcqa"):
                for alias in node.names:
                    target = resolve(f"{base}.{alias.name}") or resolve(base)
                    if target:
                        found.add(target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(module)
    return found


@lru_cache(maxsize=1)
def _graph() -> dict[str, set[str]]:
    files = _module_files()
    known = set(files)
    return {mod: _imports(mod, path, known) for mod, path in files.items()}


def layer_of(module: str) -> int:
    best, rank = "", LAYERS["rvcqa"]
    for prefix, value in LAYERS.items():
        if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
            best, rank = prefix, value
    return rank


def _cycles(graph: dict[str, set[str]]) -> set[tuple[str, ...]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: set[tuple[str, ...]] = set()

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.add(tuple(sorted(comp)))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def _package_parent(importer: str, imported: str) -> bool:
    """A package's ``__init__`` may re-export its own submodules (and a submodule its package)."""
    return imported.startswith(importer + ".") or importer.startswith(imported + ".")


def _same_check_module(a: str, b: str) -> bool:
    """Parts of one check package (``rvcqa.checks.dataset.audio`` and ``.limits``) may import each other."""
    return a.split(".")[:3] == b.split(".")[:3]


def upward_imports(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    return {(a, b) for a, targets in graph.items() for b in targets
            if layer_of(b) > layer_of(a) and not _package_parent(a, b)}


def test_parser_sees_function_local_imports() -> None:
    graph = _graph()
    # rvcqa.plugin imports the report gate inside its functions only
    assert "rvcqa.report.gate" in graph["rvcqa.plugin"]
    assert "rvcqa.checks.dataset" in graph["rvcqa.quality_tests.test_dataset"]


def test_no_lower_layer_imports_a_higher_one() -> None:
    found = upward_imports(_graph())
    new = sorted(found - ALLOWED_UPWARD)
    assert not new, "imports against the layering (" + " < ".join(LAYER_NAMES) + "):\n" + "\n".join(
        f"  {a} ({LAYER_NAMES[layer_of(a)]}) imports {b} ({LAYER_NAMES[layer_of(b)]})" for a, b in new)
    stale = sorted(ALLOWED_UPWARD - found)
    assert not stale, f"allowlisted imports that are gone (remove them from ALLOWED_UPWARD): {stale}"


def test_checks_are_imported_only_by_renderers() -> None:
    graph = _graph()
    found = {(a, b) for a, targets in graph.items() for b in targets
             if b.startswith("rvcqa.checks.") and layer_of(a) < LAYERS["rvcqa.plugin"] and a != "rvcqa.checks"
             and not _same_check_module(a, b)}
    new = sorted(found - ALLOWED_UPWARD - ALLOWED_CHECK_TO_CHECK)
    assert not new, f"check modules imported by something other than a renderer: {new}"
    stale = sorted(ALLOWED_CHECK_TO_CHECK - found)
    assert not stale, f"allowlisted check-to-check imports that are gone: {stale}"


def test_no_import_cycles() -> None:
    found = _cycles(_graph())
    new = sorted(found - ALLOWED_CYCLES)
    assert not new, f"import cycles (function-local imports count): {new}"
    stale = sorted(ALLOWED_CYCLES - found)
    assert not stale, f"allowlisted cycles that are gone (remove them from ALLOWED_CYCLES): {stale}"


def test_no_module_over_600_lines() -> None:
    long = {str(p.relative_to(REPO)): sum(1 for _ in p.open(encoding="utf-8")) for p in _module_files().values()}
    over = {p: n for p, n in long.items() if n > MAX_LINES}
    new = {p: n for p, n in over.items() if p not in ALLOWED_LONG}
    assert not new, f"modules over {MAX_LINES} lines: {new}"
    stale = sorted(ALLOWED_LONG - set(over))
    assert not stale, f"allowlisted long modules that are short now (remove them from ALLOWED_LONG): {stale}"


@pytest.mark.parametrize("module", ["rvcqa.facts", "rvcqa.dataset", "rvcqa.stats", "rvcqa.session"])
def test_every_module_has_a_layer(module: str) -> None:
    assert module in _graph()
    assert layer_of(module) != layer_of("rvcqa") or module in LAYERS
