"""Index retrieval as RVC's pipeline does it: a faiss index of training features, blended into each frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np


@dataclass
class Retrieval:
    """A loaded faiss index and its stored vectors (``big_npy``)."""

    index: Any
    vectors: np.ndarray
    path: Optional[Path] = None


def load_index(index_files: Sequence[Path], dim: int) -> tuple[Optional[Retrieval], str]:
    """The first usable ``added_*`` (else any) index, or None with the reason (no faiss, none, width)."""
    if not index_files:
        return None, "no .index file in the model folder: retrieval off"
    try:
        import faiss
    except ImportError:
        return None, "faiss is not installed (pip install faiss-cpu): retrieval off"
    ordered = sorted(index_files, key=lambda p: (not p.name.startswith("added_"), p.name))
    notes = []
    for path in ordered:
        try:
            index = faiss.read_index(str(path))
        except Exception as exc:  # faiss raises RuntimeError with C++ text
            notes.append(f"{path.name}: unreadable ({str(exc).splitlines()[0] if str(exc) else exc})")
            continue
        if int(index.d) != dim:
            notes.append(f"{path.name}: {index.d}-dim vectors, the model takes {dim}")
            continue
        if int(index.ntotal) == 0:
            notes.append(f"{path.name}: empty (a trained_ index without add())")
            continue
        vectors = index.reconstruct_n(0, index.ntotal)
        return Retrieval(index, np.asarray(vectors, dtype=np.float32), path), f"index {path.name}"
    return None, "; ".join(notes) + ": retrieval off"


def retrieve(feats: np.ndarray, retrieval: Retrieval, index_rate: float, k: int = 8) -> np.ndarray:
    """RVC 5.3 step 3: blend each frame with the (1/d)^2-weighted mean of its k nearest vectors.

    Squared-L2 scores of 0 (an exact match) are floored at 1e-12 so the weight is finite; RVC
    divides by zero there.
    """
    score, ix = retrieval.index.search(np.ascontiguousarray(feats, dtype=np.float32), k=k)
    score = np.asarray(score, dtype=np.float64)
    weight = np.square(1.0 / np.maximum(score, 1e-12))
    weight /= weight.sum(axis=1, keepdims=True)
    found = np.sum(retrieval.vectors[np.asarray(ix)] * weight[:, :, None], axis=1)
    blended: np.ndarray = (found * index_rate + feats * (1.0 - index_rate)).astype(np.float32)
    return blended
