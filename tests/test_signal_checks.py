"""Engines and checks for training data as signal, pitch files and the index, on small inputs.

The catalogue fixtures (fixtures/faults_signal.py) run these checks through pytester in
tests/test_gate_on_fixtures.py; here each measure is pinned on signals whose answer is known.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rvcqa.checks.f0files import octave_jumps
from rvcqa.metrics.band import content_edge_hz
from rvcqa.metrics.slices import longest_run, measure_slice, pile_up

SR = 48000


def _noise(seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def _lowpass(x: np.ndarray, cutoff: float) -> np.ndarray:
    spec = np.fft.rfft(x)
    spec[np.fft.rfftfreq(len(x), 1 / SR) > cutoff] = 0
    return np.fft.irfft(spec, len(x)).astype(np.float32)


def test_content_edge_full_band_and_band_limited() -> None:
    assert content_edge_hz(_noise(), SR) == pytest.approx(SR / 2, rel=0.02)
    edge = content_edge_hz(_lowpass(_noise(), 8000), SR)
    assert edge is not None and 7500 < edge <= 8100
    assert content_edge_hz(np.zeros(SR, np.float32), SR) is None


def test_content_edge_of_resampled_speech() -> None:
    librosa = pytest.importorskip("librosa")
    from fixtures.build_data import _clip

    x = _clip(0)[:66000]
    up = librosa.resample(x, orig_sr=22050, target_sr=SR, res_type="soxr_hq")
    edge = content_edge_hz(up, SR)
    assert edge is not None and 9000 < edge < 11100  # the 22.05 kHz source's Nyquist


def test_pile_up_separates_clipped_from_clean_speech() -> None:
    from fixtures.build_data import _clip, resample, rvc_slice_scale

    x = _clip(1)[:66000]
    clean = resample(rvc_slice_scale(x), 22050, SR)
    lim = 0.5 * float(np.abs(x).max())
    clipped = resample(rvc_slice_scale(np.clip(x, -lim, lim)), 22050, SR)
    assert pile_up(clean) < 0.0015 < pile_up(clipped)


def test_measure_slice_facts() -> None:
    x = _noise(1.0)
    x[1000:1000 + SR // 2] = 0.0
    x[5] = 1.5
    s = measure_slice(x + 0.02, SR)
    assert s.over_full_scale >= 1 and s.dc == pytest.approx(0.02, abs=2e-3)
    assert s.longest_zero_s < 0.001  # the offset fills the gap: not digital silence
    s = measure_slice(x, SR)
    assert s.longest_zero_s == pytest.approx(0.5, abs=1e-3)
    assert longest_run(np.array([True, True, False, True])) == 2


def test_octave_jumps_counts_2x_steps_between_voiced_neighbours() -> None:
    f0 = np.array([200.0, 201, 100, 101, 0, 50, 200, 400, 0])
    jumps, pairs = octave_jumps(f0)
    assert pairs == 5 and jumps == 2  # 201->100 and 200->400; 50->200 is two octaves


def test_rvc_nlist_matches_train_index() -> None:
    from rvcqa.index import rvc_nlist, rvc_training_rows

    assert rvc_nlist(465) == 11  # min(int(16 * sqrt(465)) = 345, 465 // 39 = 11)
    assert rvc_nlist(100_000) == min(int(16 * 100_000 ** 0.5), 100_000 // 39)
    assert rvc_training_rows(250_000) == 10_000 and rvc_training_rows(1000) == 1000


def test_index_reader_on_rvc_built_index(tmp_path: Path) -> None:
    pytest.importorskip("faiss")
    from rvcqa.index import build_rvc_index, find_rows, read_index

    rows = np.random.default_rng(0).standard_normal((800, 768)).astype(np.float32)
    path = build_rvc_index(rows, tmp_path / "added_IVF20_Flat_nprobe_1_x_v2.index")
    info = read_index(path)
    assert (info.d, info.ntotal, info.nlist, info.nprobe, info.name_nlist) == (768, 800, 20, 1, 20)
    np.save(tmp_path / "a.npy", rows)
    np.save(tmp_path / "b.npy", rows[:10] + 1.0)
    assert find_rows(info.sample, [tmp_path / "a.npy"]) == len(info.sample)
    assert find_rows(info.sample, [tmp_path / "b.npy"]) == 0
    path.write_bytes(path.read_bytes()[:1000])
    assert "read error" in (read_index(path).error or "")
