"""Shared set-up for rvcqa's own tests."""
from __future__ import annotations

from collections.abc import Iterator

import pytest


def _preload() -> None:
    """Import everything the inner runs use, before them.

    pytester's in-process runs drop modules first imported inside the run from ``sys.modules``
    afterwards; torch/numba extension modules imported twice crash the interpreter at garbage
    collection. Importing them here keeps one copy for every run.
    """
    import importlib
    import pkgutil

    import librosa  # noqa: F401
    import scipy.signal  # noqa: F401
    import torch  # noqa: F401

    import rvcqa

    for info in pkgutil.walk_packages(rvcqa.__path__, "rvcqa."):
        if info.name.startswith("rvcqa.quality_tests"):
            continue
        try:
            importlib.import_module(info.name)
        except ImportError:
            pass


_preload()


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread; on a shared small machine more threads only contend.

    Modules opt in with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
