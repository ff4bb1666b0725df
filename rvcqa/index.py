"""Read an RVC/Applio retrieval index (``added_*.index``) with faiss, and what RVC would have built.

RVC's "Train index" concatenates every ``3_feature*/`` file (sorted by name), replaces the rows by
10 000 k-means centres when there are more than 200 000, and builds ``faiss.index_factory(d,
"IVF{n},Flat")`` with ``n = min(int(16 * sqrt(N)), N // 39)``, ``nprobe = 1``, then ``add()``s the
same rows (RVC_FORMATS 3.1). The facts here let a check compare a file on disk with that recipe.
faiss is an optional dependency (``rvcqa[index]``); without it :class:`IndexUnavailable` is raised.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rvcqa.errors import RvcqaError

#: above this many feature rows RVC indexes k-means centres instead of the rows
KMEANS_ROWS = 200_000
KMEANS_CENTRES = 10_000


class IndexUnavailable(RvcqaError):
    """faiss is not installed."""


@dataclass
class IndexInfo:
    """What one index file holds; ``error`` set when faiss cannot read it."""

    path: Path
    d: int = 0
    ntotal: int = 0
    kind: str = ""
    nlist: int | None = None
    nprobe: int | None = None
    is_trained: bool = False
    name_nlist: int | None = None
    name_nprobe: int | None = None
    error: str | None = None
    sample: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))

    @property
    def readable(self) -> bool:
        return self.error is None


def rvc_nlist(rows: int) -> int:
    """The IVF list count RVC's train_index picks for ``rows`` training vectors."""
    return max(1, min(int(16 * math.sqrt(rows)), rows // 39))


def rvc_training_rows(feature_rows: int) -> int:
    """Rows RVC trains the index on: the features, or the k-means centres of a large set."""
    return KMEANS_CENTRES if feature_rows > KMEANS_ROWS else feature_rows


_NAME = re.compile(r"IVF(\d+)_Flat_nprobe_(\d+)")


def _faiss() -> Any:
    try:
        import faiss  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise IndexUnavailable("faiss is not installed: pip install rvcqa[index] (faiss-cpu)") from None
    return faiss


def read_index(path: Path, *, sample: int = 256, seed: int = 0) -> IndexInfo:
    """Header facts of ``path`` and up to ``sample`` stored vectors (evenly drawn ids)."""
    faiss = _faiss()
    info = IndexInfo(path)
    m = _NAME.search(path.name)
    if m:
        info.name_nlist, info.name_nprobe = int(m.group(1)), int(m.group(2))
    try:
        index = faiss.read_index(str(path))
    except RuntimeError as exc:  # faiss raises RuntimeError carrying C++ text
        text = " ".join(str(exc).split())
        info.error = (text.rsplit("Error: ", 1)[-1] if text else type(exc).__name__)[:160]
        return info
    info.d, info.ntotal, info.is_trained = int(index.d), int(index.ntotal), bool(index.is_trained)
    info.kind = type(index).__name__
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        info.nlist, info.nprobe = int(ivf.nlist), int(ivf.nprobe)
    if info.ntotal and sample:
        ids = np.unique(np.linspace(0, info.ntotal - 1, min(sample, info.ntotal)).astype(np.int64))
        rows = [np.asarray(index.reconstruct(int(i)), dtype=np.float32) for i in _reconstructable(index, ivf, ids)]
        if rows:
            info.sample = np.stack(rows)
    return info


def _reconstructable(index: Any, ivf: Any, ids: np.ndarray) -> Iterable[int]:
    """IVF indexes reconstruct by id only with a direct map; RVC's files have none, so make one."""
    if ivf is not None:
        try:
            ivf.make_direct_map()
        except RuntimeError:  # an index whose lists cannot be mapped: no sample, facts still hold
            return []
    return [int(i) for i in ids]


def row_keys(rows: np.ndarray, seed: int = 0) -> np.ndarray:
    """Two seeded projections per row: equal rows give equal keys; used to find index rows in features."""
    rows = np.asarray(rows, dtype=np.float64)
    proj = np.random.default_rng(seed).standard_normal((rows.shape[1], 2))
    return rows @ proj


def find_rows(sample: np.ndarray, feature_files: Iterable[Path], *, tol: float = 1e-3) -> int:
    """How many of ``sample``'s rows occur in the feature files (float32 [T, d] .npy)."""
    if sample.size == 0:
        return 0
    want = row_keys(sample)
    found = np.zeros(len(want), dtype=bool)
    scale = np.maximum(np.abs(want), 1.0)
    for path in feature_files:
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError):
            continue
        if arr.ndim != 2 or arr.shape[1] != sample.shape[1]:
            continue
        keys = row_keys(np.asarray(arr))
        for j in np.flatnonzero(~found):
            close = np.all(np.abs(keys - want[j]) <= tol * scale[j], axis=1)
            found[j] = bool(close.any())
        if found.all():
            break
    return int(found.sum())


def build_rvc_index(rows: np.ndarray, path: Path) -> Path:
    """Write an index from ``rows`` exactly as RVC's train_index does (used by fixtures and tests)."""
    faiss = _faiss()
    big = np.asarray(rows, dtype=np.float32)
    n = rvc_nlist(big.shape[0])
    index = faiss.index_factory(big.shape[1], f"IVF{n},Flat")
    ivf = faiss.extract_index_ivf(index)
    ivf.nprobe = 1
    index.train(big)
    for i in range(0, big.shape[0], 8192):
        index.add(big[i:i + 8192])
    faiss.write_index(index, str(path))
    return path
