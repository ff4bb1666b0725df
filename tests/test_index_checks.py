"""The ``dataset.index_*`` checks on real faiss indexes, built the way RVC's "Train index" builds them.

RVC (``infer-web.py`` ``train_index``): ``index_factory(dim, "IVF{n},Flat")``, ``nprobe = 1``,
trained on the stacked ``3_feature*`` frames and written as ``trained_IVF…index`` (empty), then
the frames added and written as ``added_IVF{n}_Flat_nprobe_1_{name}_{version}.index``. Each test
changes one thing and asserts which of the four checks fails (or warns) and what it says.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from fixtures.build_data import build_dataset, write_stub_inference_model
from rvcqa.checks import index as index_checks
from rvcqa.context import ModelContext
from rvcqa.findings import Finding, Status
from rvcqa.modeldir import discover

faiss = pytest.importorskip("faiss", reason="the index extra (pip install 'rvcqa[index]') is not installed")

SMALL = dict(n_segments=4, seconds=(1.5, 2.5))


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = build_dataset(tmp_path_factory.mktemp("healthy"), name="demo", **SMALL).root
    write_stub_inference_model(root / "demo.pth")
    return root


def _frames(root: Path) -> np.ndarray:
    return np.concatenate([np.load(p) for p in sorted((root / "3_feature768").glob("*.npy"))]).astype(np.float32)


def _train_index(root: Path, vectors: np.ndarray, *, add: bool = True, name: str = "demo", version: str = "v2",
                 n_ivf: int | None = None, nprobe: int = 1) -> Path:
    n_ivf = n_ivf or max(1, min(int(16 * np.sqrt(vectors.shape[0])), vectors.shape[0] // 39))
    index = faiss.index_factory(vectors.shape[1], f"IVF{n_ivf},Flat")
    faiss.extract_index_ivf(index).nprobe = nprobe
    index.train(vectors)
    prefix = "trained"
    if add:
        index.add(vectors)
        prefix = "added"
    path = root / f"{prefix}_IVF{n_ivf}_Flat_nprobe_{nprobe}_{name}_{version}.index"
    faiss.write_index(index, str(path))
    return path


def _findings(root: Path) -> dict[str, Finding]:
    found = {f.check: f for f in index_checks.run(ModelContext(discover(root)))}
    assert tuple(found) == index_checks.CHECK_IDS
    return found


def _not_passing(found: dict[str, Finding]) -> dict[str, Status]:
    return {cid: f.status for cid, f in found.items() if f.status is not Status.PASSED}


@pytest.fixture
def folder(healthy: Path, tmp_path: Path) -> Path:
    root = tmp_path / "demo"
    shutil.copytree(healthy, root)
    return root


def test_index_built_from_the_features_passes(folder: Path) -> None:
    frames = _frames(folder)
    path = _train_index(folder, frames)
    found = _findings(folder)
    assert not _not_passing(found), {c: f.message for c, f in found.items()}
    assert f"{path.name}: " in found["dataset.index_readable"].message
    assert f"{frames.shape[1]}-dim, {frames.shape[0]} vectors" in found["dataset.index_readable"].message
    assert f"= the {frames.shape[0]} rows of 3_feature768" in found["dataset.index_rows"].message


def test_index_of_the_wrong_width_fails_only_the_width(folder: Path) -> None:
    path = _train_index(folder, np.ascontiguousarray(_frames(folder)[:, :256]), version="v1")
    found = _findings(folder)
    assert _not_passing(found) == {"dataset.index_width": Status.FAILED}, {c: f.message for c, f in found.items()}
    assert f"{path.name} is 256-dimensional (v1) but the model is v2" in found["dataset.index_width"].message


def test_trained_index_alone_is_not_an_index_to_check(folder: Path) -> None:
    _train_index(folder, _frames(folder), add=False)
    found = _findings(folder)
    assert all(f.status is Status.SKIPPED and "no .index file" in f.message for f in found.values())


def test_trained_index_under_an_added_name_fails_readable(folder: Path) -> None:
    trained = _train_index(folder, _frames(folder), add=False)
    path = trained.rename(folder / trained.name.replace("trained_", "added_"))
    found = _findings(folder)
    f = found["dataset.index_readable"]
    assert f.status is Status.FAILED and f"{path.name} holds no vectors" in f.message
    assert all(found[c].status is Status.SKIPPED for c in index_checks.CHECK_IDS[1:])


def test_index_of_other_data_is_stale(folder: Path) -> None:
    frames = _frames(folder)
    path = _train_index(folder, np.concatenate([frames, frames[::-1] + 0.5, frames * 2]))
    found = _findings(folder)
    assert _not_passing(found) == {"dataset.index_rows": Status.FAILED}, {c: f.message for c, f in found.items()}
    assert (f"stale index: {path.name} holds {3 * frames.shape[0]} vectors but 3_feature768 has "
            f"{frames.shape[0]} rows") in found["dataset.index_rows"].message


def test_index_not_built_like_rvc_warns(folder: Path) -> None:
    frames = _frames(folder)
    path = _train_index(folder, frames, n_ivf=4, nprobe=3)
    found = _findings(folder)
    assert _not_passing(found) == {"dataset.index_ivf": Status.WARNING}, {c: f.message for c, f in found.items()}
    msg = found["dataset.index_ivf"].message
    assert f"{path.name} has 4 IVF lists; RVC builds" in msg and "searches 3 lists (nprobe); RVC uses 1" in msg


def test_unreadable_index_fails_readable(folder: Path) -> None:
    (folder / "added_IVF8_Flat_nprobe_1_demo_v2.index").write_bytes(b"\0" * 16)
    found = _findings(folder)
    f = found["dataset.index_readable"]
    assert f.status is Status.FAILED and "cannot be read by faiss" in f.message
    assert all(found[c].status is Status.SKIPPED for c in index_checks.CHECK_IDS[1:])


def test_index_without_faiss_is_skipped(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "faiss", None)  # import faiss -> ImportError
    (folder / "added_IVF8_Flat_nprobe_1_demo_v2.index").write_bytes(b"\0" * 16)
    found = _findings(folder)
    assert all(f.status is Status.SKIPPED and "pip install rvcqa[index]" in f.message for f in found.values())
