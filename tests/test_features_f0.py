"""F0 trackers at RVC's frame rate, RVC's coarse pitch mapping, transposition."""
from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rvcqa.errors import AudioError, RvcqaError
from rvcqa.features import OptionalDependencyMissing, f0_frames
from rvcqa.features.f0 import coarse_pitch, extract_f0, pyworld_available, transpose, yin

SR = 16000


def harmonic(f0: float | np.ndarray, n: int = SR, *, amp: float = 0.3) -> np.ndarray:
    """A sawtooth-like tone (6 harmonics); ``f0`` may be a per-sample contour."""
    f = np.broadcast_to(np.asarray(f0, dtype=np.float64), (n,))
    phase = 2 * np.pi * np.cumsum(f) / SR
    y = sum(np.sin(k * phase) / k for k in range(1, 7))
    return (amp * y / np.max(np.abs(y))).astype(np.float32)


def cents(a: np.ndarray, b: float | np.ndarray) -> np.ndarray:
    return 1200 * np.log2(np.asarray(a) / b)


# --------------------------------------------------------------------------- coarse pitch

@pytest.mark.parametrize("hz, coarse", [
    (0.0, 1), (30.0, 1), (50.0, 1), (100.0, 20), (200.0, 54), (440.0, 122), (800.0, 202),
    (1100.0, 255), (1500.0, 255), (8000.0, 255),
])
def test_coarse_pitch_rvc_examples(hz: float, coarse: int) -> None:
    assert coarse_pitch(np.array([hz]))[0] == coarse


def rvc_coarse(f0: np.ndarray) -> np.ndarray:
    """Pipeline.get_f0's mapping, transcribed statement by statement."""
    f0_mel_min = 1127 * np.log(1 + 50 / 700)
    f0_mel_max = 1127 * np.log(1 + 1100 / 700)
    f0_mel = 1127 * np.log(1 + f0 / 700)
    f0_mel[f0_mel > 0] = (f0_mel[f0_mel > 0] - f0_mel_min) * 254 / (f0_mel_max - f0_mel_min) + 1
    f0_mel[f0_mel <= 1] = 1
    f0_mel[f0_mel > 255] = 255
    return np.rint(f0_mel).astype(np.int32)


def test_coarse_pitch_equals_rvc_on_a_dense_grid() -> None:
    f0 = np.concatenate([[0.0], np.linspace(1, 2000, 200_001)])
    ours = coarse_pitch(f0)
    assert ours.dtype == np.int32 and ours.shape == f0.shape
    assert np.array_equal(ours, rvc_coarse(f0.copy()))
    assert coarse_pitch(np.array([np.nan, -3.0])).tolist() == [1, 1]  # NaN / negative: unvoiced


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 5000, allow_nan=False), min_size=1, max_size=50))
def test_coarse_pitch_is_monotonic_and_in_range(values: list[float]) -> None:
    f0 = np.sort(np.array(values))
    c = coarse_pitch(f0)
    assert c.min() >= 1 and c.max() <= 255
    assert (np.diff(c) >= 0).all()


def test_transpose() -> None:
    f0 = np.array([0.0, 100.0, 220.0, 0.0])
    assert np.allclose(transpose(f0, 12), [0, 200, 440, 0])
    assert np.allclose(transpose(f0, -12), [0, 50, 110, 0])
    assert np.array_equal(transpose(f0, 0), f0)
    assert np.allclose(cents(transpose(f0, 3)[1:3], f0[1:3]), 300)
    # transposing by +12 moves coarse pitch by about 1/4 of its range near 200 Hz
    assert coarse_pitch(transpose(np.array([200.0]), 12))[0] > coarse_pitch(np.array([200.0]))[0]


# --------------------------------------------------------------------------- frame counts

@pytest.mark.parametrize("method", ["yin", "pyin"])
@pytest.mark.parametrize("n", [1, 159, 160, 161, 1000, 16000, 16159])
def test_frame_count_is_rvcs(method: str, n: int) -> None:
    f0 = extract_f0(harmonic(200.0, n), method)
    assert f0.shape == (f0_frames(n),) == (n // 160 + 1,)
    assert f0.dtype == np.float64 and (f0 >= 0).all() and np.isfinite(f0).all()


# --------------------------------------------------------------------------- accuracy

@pytest.mark.parametrize("hz", [60.0, 110.0, 220.0, 440.0, 900.0])
def test_yin_finds_the_pitch_of_a_tone(hz: float) -> None:
    f0 = extract_f0(harmonic(hz), "yin")[5:-5]
    assert (f0 > 0).all()
    assert np.max(np.abs(cents(f0, hz))) < 5


def test_yin_follows_a_glide_and_is_time_aligned() -> None:
    """Frame i describes the audio around sample 160 * i (RVC's and pyworld's convention)."""
    n = 2 * SR
    contour = np.where(np.arange(n) < SR, 150.0, 300.0)  # an octave jump at 1.0 s = frame 100
    f0 = extract_f0(harmonic(contour, n), "yin")
    assert np.all(np.abs(cents(f0[20:95], 150)) < 10)
    assert np.all(np.abs(cents(f0[106:-20], 300)) < 10)
    jump = np.flatnonzero(f0[90:110] > 225)[0] + 90
    assert abs(jump - 100) <= 3


def test_yin_silence_and_noise_are_unvoiced() -> None:
    assert not extract_f0(np.zeros(SR, np.float32), "yin").any()
    noise = 0.1 * np.random.default_rng(0).standard_normal(SR).astype(np.float32)
    assert (extract_f0(noise, "yin") > 0).mean() < 0.05
    quiet = harmonic(200.0, amp=1e-4)  # -86 dBFS: below the silence gate
    assert not yin(quiet).any()


def test_pyin_finds_the_pitch_and_unvoices_silence() -> None:
    y = np.concatenate([harmonic(150.0, 8000), np.zeros(8000, np.float32)])
    f0 = extract_f0(y, "pyin")
    assert np.median(np.abs(cents(f0[5:45], 150))) < 20
    assert not f0[60:].any()


@pytest.mark.skipif(not pyworld_available(), reason="pyworld not installed (optional: pip install 'rvcqa[pyworld]')")
@pytest.mark.parametrize("method", ["harvest", "dio"])
def test_pyworld_trackers(method: str) -> None:
    f0 = extract_f0(harmonic(180.0, 8000), method)
    assert f0.shape == (51,)
    assert np.median(np.abs(cents(f0[5:-5][f0[5:-5] > 0], 180))) < 20


# --------------------------------------------------------------------------- errors

@pytest.mark.parametrize("method", ["harvest", "dio"])
def test_missing_pyworld_is_explained(method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyworld", None)  # makes `import pyworld` fail
    with pytest.raises(OptionalDependencyMissing, match="pyworld") as info:
        extract_f0(harmonic(200.0, 3200), method)
    assert isinstance(info.value, RvcqaError) and "rvcqa[pyworld]" in str(info.value)


def test_rmvpe_without_weights_is_explained() -> None:
    with pytest.raises(OptionalDependencyMissing, match="rmvpe.pt"):
        extract_f0(harmonic(200.0, 3200), "rmvpe")


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown F0 method"):
        extract_f0(harmonic(200.0, 1600), "crepe")
    with pytest.raises(ValueError, match="f0_min"):
        extract_f0(harmonic(200.0, 1600), "yin", f0_min=500, f0_max=100)
    bad = harmonic(200.0, 1600)
    bad[3] = np.inf
    with pytest.raises(AudioError, match="NaN or infinite"):
        extract_f0(bad, "yin")
    with pytest.raises(ValueError, match="1-D"):
        extract_f0(np.zeros((2, 1600), np.float32), "yin")
