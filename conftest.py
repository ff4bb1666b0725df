"""Repository-level conftest: the plugin is loaded through its pytest11 entry point once
``pip install -e .`` has run; this makes a bare checkout without the install still work."""
import importlib.metadata as _md

try:
    _installed = any(ep.value == "rvcqa.plugin" for ep in _md.entry_points(group="pytest11"))
except Exception:  # pragma: no cover - unusual metadata
    _installed = False
if not _installed:
    pytest_plugins = ["rvcqa.plugin"]
