"""The built-in demo model directory: the honestly trained healthy fixture, built on first use.

It is assembled from the small committed weights and real speech in the repository's
``fixtures/`` (see fixtures/healthy_dir.py), into a cache folder (``RVCQA_CACHE`` or
``~/.cache/rvcqa``); so the demo needs a checkout of rvcqa, not just the installed package.
"""
from __future__ import annotations

import sys
from pathlib import Path

from rvcqa.errors import RvcqaError

REPO_ROOT = Path(__file__).resolve().parent.parent


def _import_fixtures():
    if not (REPO_ROOT / "fixtures" / "healthy_dir.py").is_file():
        raise RvcqaError(
            "no --model-dir given, and the built-in demo model is only available from a checkout of "
            "rvcqa (its fixtures/ folder); pass --model-dir logs/NAME"
        )
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from fixtures import catalog

    return catalog


def demo_model_dir(progress: bool = False) -> Path:
    """Path of the demo experiment folder (``.../logs/healthy``), building it if needed."""
    catalog = _import_fixtures()
    if progress:
        print("rvcqa demo: preparing the demo model directory (first run: about a minute)...", flush=True)
    return catalog.build_fixture("healthy")
