"""rvcqa.metrics.pyin gives librosa.pyin's result exactly (f0, voicing, voiced probability)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

librosa = pytest.importorskip("librosa")

from rvcqa.metrics.pyin import _transitions, _viterbi, pyin  # noqa: E402

SR = 16000
ARGS = dict(fmin=50.0, fmax=1100.0, sr=SR, frame_length=1024, hop_length=160)
T = np.arange(SR) / SR


def _same_as_librosa(x: np.ndarray) -> None:
    want = librosa.pyin(x, center=True, **ARGS)
    got = pyin(x, **ARGS)
    assert np.array_equal(got[0], want[0], equal_nan=True)
    assert np.array_equal(got[1], want[1])
    assert np.array_equal(got[2], want[2])


@pytest.mark.parametrize("name, x", [
    ("vibrato", 0.5 * np.sin(2 * np.pi * (200 * T + 30 * np.sin(2 * np.pi * 3 * T)))),
    # 100 Hz to 800 Hz between two frames: faster than pYIN lets a pitch move, so the decode has
    # to evaluate dense columns for the states that only a zero transition reaches
    ("octave_jump", np.concatenate([0.5 * np.sin(2 * np.pi * 100 * T[:8000]),
                                    0.5 * np.sin(2 * np.pi * 800 * T[:8000])])),
    ("noise", 0.1 * np.random.default_rng(0).standard_normal(SR)),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pyin_equals_librosa(name, x, dtype):
    _same_as_librosa(x.astype(dtype))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(f0=st.floats(60, 900), glide=st.floats(-0.6, 0.6), noise=st.floats(0, 0.3), seconds=st.floats(0.2, 0.8))
def test_pyin_equals_librosa_on_glides_in_noise(f0, glide, noise, seconds):
    n = int(seconds * SR)
    t = T[:n]
    phase = 2 * np.pi * f0 * (t + glide * t**2 / (2 * seconds))
    x = 0.4 * np.sin(phase) + noise * np.random.default_rng(1).standard_normal(n)
    _same_as_librosa(x.astype(np.float32))


def test_banded_viterbi_equals_the_dense_one_where_most_observations_are_zero():
    """Sparse observations (zeros: log(tiny) each) make zero transitions competitive, the case the
    dense fallback is for."""
    n_bins, width = 60, 9
    log_dense, idx, weight = _transitions(n_bins, width, 0.01)
    rng = np.random.default_rng(3)
    for _ in range(5):
        prob = rng.random((2 * n_bins, 40)) * (rng.random((2 * n_bins, 40)) < 0.05)
        prob[:, rng.integers(0, 40, 3)] = 0.0  # frames where nothing is possible at all
        dense = librosa.sequence.transition_local(n_bins, width, window="triangle", wrap=False)
        trans = np.kron(librosa.sequence.transition_loop(2, 0.99), dense)
        p_init = np.ones(2 * n_bins) / (2 * n_bins)
        want = librosa.sequence.viterbi(prob, trans, p_init=p_init)
        eps = librosa.util.tiny(prob)
        got = _viterbi(np.log(prob + eps).T, log_dense, idx, weight, np.log(p_init + eps), float(np.log(eps)))
        assert np.array_equal(got, want)
