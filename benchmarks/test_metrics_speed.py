"""Speed of the reference-free metrics on long audio (pytest-benchmark; no timed asserts).

Target: flatness + ZCR + RMS over 10 minutes of 48 kHz audio in about a second, so the gate
can profile a whole dataset folder or a long conversion without sampling it.
Run: ``python -m pytest benchmarks/test_metrics_speed.py``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rvcqa.audio import load_audio
from rvcqa.metrics import basic_profile, log_mel_l1, rms, spectral_flatness, zcr_hz

SR = 48000
SPEECH = Path(__file__).resolve().parents[1] / "fixtures" / "audio" / "speakers" / "vctk_p301_102_F_48k.wav"


def _tiled_speech(seconds: int) -> np.ndarray:
    """Real 48 kHz speech repeated to ``seconds``: a realistic spectrum and silence share."""
    y, sr = load_audio(SPEECH)
    assert sr == SR
    return np.ascontiguousarray(np.resize(y, seconds * SR), dtype=np.float32)


@pytest.fixture(scope="module")
def ten_minutes() -> np.ndarray:
    return _tiled_speech(600)


def test_flatness_zcr_rms_10_minutes_48k(benchmark, ten_minutes: np.ndarray) -> None:
    def run() -> tuple[float, float, float]:
        return spectral_flatness(ten_minutes, SR).value, zcr_hz(ten_minutes, SR), rms(ten_minutes)

    benchmark.extra_info["audio_seconds"] = ten_minutes.size / SR
    flat, zcr, level = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    assert flat < 0.01 and 500 < zcr < 2500 and level > 0.01


def test_basic_profile_10_minutes_48k(benchmark, ten_minutes: np.ndarray) -> None:
    benchmark.extra_info["audio_seconds"] = ten_minutes.size / SR
    prof = benchmark.pedantic(basic_profile, args=(ten_minutes, SR), rounds=3, iterations=1)
    assert prof["frames_used"] > 0


def test_log_mel_l1_1_minute_48k(benchmark) -> None:
    a = _tiled_speech(60)
    b = np.roll(a, 480)
    benchmark.extra_info["audio_seconds"] = 60
    d = benchmark.pedantic(log_mel_l1, args=(a, b, SR), rounds=3, iterations=1, warmup_rounds=1)
    assert d.value > 0
