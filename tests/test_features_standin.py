"""The stand-in content extractor: HuBERT's framing, fixed definition, determinism."""
from __future__ import annotations

import numpy as np
import pytest

from rvcqa.errors import AudioError
from rvcqa.features import ContentExtractor, content_frames
from rvcqa.features.standin import DEFAULT_SEED, StandInContent, log_mel, projection


def chirp(n: int = 8000) -> np.ndarray:
    t = np.arange(n) / 16000
    return (0.2 * np.sin(2 * np.pi * (100 * t + 200 * t * t)) + 0.05 * np.sin(2 * np.pi * 1500 * t)).astype(np.float32)


@pytest.mark.parametrize("n", [400, 401, 719, 720, 1040, 16000, 16719, 48000])
@pytest.mark.parametrize("dim", [256, 768])
def test_frames_equal_hubert_frames(n: int, dim: int) -> None:
    y = np.random.default_rng(n).standard_normal(n).astype(np.float32) * 0.1
    feats = StandInContent(dim).features(y)
    assert feats.shape == (content_frames(n), dim) == ((n - 400) // 320 + 1, dim)
    assert feats.dtype == np.float32 and np.isfinite(feats).all()


def test_frame_t_sees_exactly_hubert_receptive_field() -> None:
    """Frame t depends on samples [320 t, 320 t + 400) only."""
    y = chirp(16000)
    base = StandInContent(768).features(y)
    poked = y.copy()
    poked[320 * 10 + 399] += 0.5  # the last sample of frame 10 (and the first 80 of frame 11)
    diff = np.abs(StandInContent(768).features(poked) - base).max(axis=1)
    assert set(np.flatnonzero(diff > 0)) == {10, 11}


def test_definition_is_pinned() -> None:
    """Golden values: if these change, fixtures trained on the stand-in no longer fit it
    (bump standin.VERSION and retrain them). A numpy that changed default_rng's normal stream
    would show up here too."""
    np.testing.assert_allclose(projection(768, DEFAULT_SEED)[0, :3], [-0.17931441, 0.00716659, 0.08283417], atol=1e-8)
    f = StandInContent(768).features(chirp())
    assert f.shape == (24, 768)
    np.testing.assert_allclose(f[0, :4], [-3.0447378, 3.2990549, -0.987087, -0.247199], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(f[10, 100:103], [-0.70948267, 3.2587879, 0.18835156], rtol=1e-5, atol=1e-6)
    assert abs(float(f.astype(np.float64).sum()) - -1107.3001702914771) < 0.05
    g = StandInContent(256).features(chirp())
    np.testing.assert_allclose(g[3, :4], [-0.83433485, 3.6712246, -2.8063564, -0.4642388], rtol=1e-5, atol=1e-6)


def test_deterministic_and_seed_dependent() -> None:
    y = chirp()
    a, b = StandInContent(768).features(y), StandInContent(768).features(y)
    assert np.array_equal(a, b)
    assert not np.allclose(a, StandInContent(768, seed=DEFAULT_SEED + 1).features(y))
    assert np.array_equal(StandInContent(768).features(y.astype(np.float64)), a)  # dtype of input does not matter


def test_content_dependent_and_roughly_unit_scale() -> None:
    """Speech-level input gives features of order 1; different sounds give different features."""
    rng = np.random.default_rng(0)
    noise = (0.05 * rng.standard_normal(16000)).astype(np.float32)
    tone = (0.2 * np.sin(2 * np.pi * 200 * np.arange(16000) / 16000)).astype(np.float32)
    extractor = StandInContent(768)
    fn, ft = extractor.features(noise), extractor.features(tone)
    assert 0.2 < fn.std() < 5 and 0.2 < ft.std() < 5
    assert np.abs(fn.mean(axis=0) - ft.mean(axis=0)).mean() > 0.3
    assert log_mel(noise).shape == (49, 80)


def test_protocol_and_description() -> None:
    extractor = StandInContent(256, seed=7)
    assert isinstance(extractor, ContentExtractor)
    assert extractor.dim == 256
    text = extractor.describe()
    assert "not HuBERT" in text and "256" in text and "seed 7" in text and "50 frames/s" in text
    assert repr(extractor) == "StandInContent(dim=256, seed=7)"


def test_input_guards() -> None:
    with pytest.raises(AudioError, match="need at least 400 samples"):
        StandInContent(768).features(np.zeros(399, np.float32))
    bad = chirp()
    bad[5] = np.nan
    with pytest.raises(AudioError, match="NaN"):
        StandInContent(768).features(bad)
    with pytest.raises(ValueError, match="dim"):
        StandInContent(0)
    # silence is allowed: a converter must be able to run on pauses
    assert np.isfinite(StandInContent(768).features(np.zeros(1600, np.float32))).all()
