"""The ``dataset.index`` check on real faiss indexes, built the way RVC's "Train index" builds them.

RVC (``infer-web.py`` ``train_index``): ``index_factory(dim, "IVF{n},Flat")``, ``nprobe = 1``,
trained on the stacked ``3_feature*`` frames and written as ``trained_IVF…index`` (empty), then
the frames added and written as ``added_IVF{n}_Flat_nprobe_1_{name}_{version}.index``.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from fixtures.build_data import build_dataset
from rvcqa.checks import dataset
from rvcqa.context import ModelContext
from rvcqa.findings import Status
from rvcqa.modeldir import discover

faiss = pytest.importorskip("faiss", reason="the index extra (pip install 'rvcqa[index]') is not installed")

SMALL = dict(n_segments=4, seconds=(1.5, 2.5))
TINY = {"dataset.total_duration.min_seconds": 5.0}


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_dataset(tmp_path_factory.mktemp("healthy"), name="demo", **SMALL).root


def _frames(root: Path) -> np.ndarray:
    return np.concatenate([np.load(p) for p in sorted((root / "3_feature768").glob("*.npy"))]).astype(np.float32)


def _train_index(root: Path, vectors: np.ndarray, *, add: bool = True, name: str = "demo", version: str = "v2") -> Path:
    n_ivf = max(1, min(int(16 * np.sqrt(vectors.shape[0])), vectors.shape[0] // 39))
    index = faiss.index_factory(vectors.shape[1], f"IVF{n_ivf},Flat")
    faiss.extract_index_ivf(index).nprobe = 1
    index.train(vectors)
    prefix = "trained"
    if add:
        index.add(vectors)
        prefix = "added"
    path = root / f"{prefix}_IVF{n_ivf}_Flat_nprobe_1_{name}_{version}.index"
    faiss.write_index(index, str(path))
    return path


def _index_finding(root: Path):
    return {f.check: f for f in dataset.run(ModelContext(discover(root), thresholds=TINY))}["dataset.index"]


@pytest.fixture
def folder(healthy: Path, tmp_path: Path) -> Path:
    root = tmp_path / "demo"
    shutil.copytree(healthy, root)
    return root


def test_index_built_from_the_features_passes(folder: Path) -> None:
    frames = _frames(folder)
    path = _train_index(folder, frames)
    f = _index_finding(folder)
    assert f.status is Status.PASSED, f.explain()
    assert f.message == f"{path.name}: 768-dim, {frames.shape[0]} vectors"


def test_index_of_the_wrong_width_fails(folder: Path) -> None:
    frames = _frames(folder)
    path = _train_index(folder, np.ascontiguousarray(frames[:, :256]), version="v1")
    f = _index_finding(folder)
    assert f.status is Status.FAILED
    assert f"{path.name} is 256-dimensional but the features are 768-wide" in f.message


def test_trained_index_alone_is_not_an_index_to_check(folder: Path) -> None:
    _train_index(folder, _frames(folder), add=False)
    f = _index_finding(folder)
    assert f.status is Status.SKIPPED and "no .index file" in f.message


def test_trained_index_under_an_added_name_fails(folder: Path) -> None:
    trained = _train_index(folder, _frames(folder), add=False)
    path = trained.rename(folder / trained.name.replace("trained_", "added_"))
    f = _index_finding(folder)
    assert f.status is Status.FAILED and f"{path.name} is empty (ntotal 0" in f.message


def test_index_from_other_data_warns(folder: Path) -> None:
    frames = _frames(folder)
    path = _train_index(folder, np.concatenate([frames, frames, frames]))
    f = _index_finding(folder)
    assert f.status is Status.WARNING
    assert f"{path.name} holds {3 * frames.shape[0]} vectors but the features on disk have {frames.shape[0]} frames" in f.message


def test_unreadable_index_fails(folder: Path) -> None:
    (folder / "added_IVF8_Flat_nprobe_1_demo_v2.index").write_bytes(b"\0" * 16)
    f = _index_finding(folder)
    assert f.status is Status.FAILED and "cannot be read" in f.message
