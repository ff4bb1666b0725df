"""Tests of rvcqa.audio: loading and the guards every metric relies on."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rvcqa.audio import (
    MIN_DURATION_S,
    SILENCE_DBFS,
    check_signal,
    load_audio,
    resample,
    rms_dbfs,
    sum_squares,
    to_float32,
)
from rvcqa.errors import AudioError, RvcqaError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
LJ = FIXTURES / "ljspeech" / "LJ001-0002.wav"
FLAC = FIXTURES / "speakers" / "librispeech_4340-15220-0000_F_16k.flac"


def test_load_wav_float32_mono_native_rate() -> None:
    y, sr = load_audio(LJ)
    assert sr == 22050
    assert y.dtype == np.float32 and y.ndim == 1
    assert y.size == sf.info(str(LJ)).frames
    assert 0.0 < np.abs(y).max() <= 1.0


def test_load_flac() -> None:
    y, sr = load_audio(FLAC)
    assert sr == 16000 and y.dtype == np.float32 and y.size > sr


def test_load_resamples_and_keeps_duration() -> None:
    y22, _ = load_audio(LJ)
    y48, sr = load_audio(LJ, sr=48000)
    assert sr == 48000 and y48.dtype == np.float32
    assert abs(y48.size / 48000 - y22.size / 22050) < 1e-3


def test_stereo_is_averaged(tmp_path: Path) -> None:
    t = np.arange(4800) / 48000
    left = 0.5 * np.sin(2 * np.pi * 440 * t)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, np.zeros_like(left)], axis=1), 48000, subtype="FLOAT")
    y, sr = load_audio(path)
    assert sr == 48000 and y.ndim == 1
    np.testing.assert_allclose(y, left / 2, atol=1e-6)


def test_missing_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "nothere.wav"
    with pytest.raises(AudioError, match="nothere.wav"):
        load_audio(path)


def test_unreadable_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "garbage.wav"
    path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    with pytest.raises(AudioError, match="garbage.wav"):
        load_audio(path)


def test_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="folder"):
        load_audio(tmp_path)


def test_empty_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(AudioError, match="empty.wav"):
        load_audio(path)


def test_nan_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "nan.wav"
    y = np.zeros(1600, dtype=np.float32)
    y[100] = np.nan
    sf.write(path, y, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"nan\.wav.*NaN"):
        load_audio(path)


def test_audio_error_is_an_rvcqa_error() -> None:
    assert issubclass(AudioError, RvcqaError)


def test_check_signal_accepts_speech() -> None:
    y, sr = load_audio(LJ)
    out = check_signal(y, sr)
    assert out.dtype == np.float32 and out.flags.c_contiguous


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_check_signal_refuses_non_finite(bad: float) -> None:
    y = np.full(16000, 0.1, dtype=np.float32)
    y[5] = bad
    with pytest.raises(AudioError, match="NaN or infinite"):
        check_signal(y, 16000, name="out.wav")


def test_check_signal_refuses_silence() -> None:
    with pytest.raises(AudioError, match="silent"):
        check_signal(np.zeros(16000, dtype=np.float32), 16000)
    quiet = np.full(16000, 10 ** ((SILENCE_DBFS - 1) / 20), dtype=np.float32)
    with pytest.raises(AudioError, match="silent"):
        check_signal(quiet, 16000)


def test_check_signal_silence_allowed_when_asked() -> None:
    check_signal(np.zeros(16000, dtype=np.float32), 16000, silence_dbfs=None)


def test_check_signal_refuses_short_audio() -> None:
    n = int(MIN_DURATION_S * 16000) - 1
    with pytest.raises(AudioError, match="too short"):
        check_signal(np.full(n, 0.1, dtype=np.float32), 16000)
    with pytest.raises(AudioError, match="too short"):
        check_signal(np.full(16000, 0.1, dtype=np.float32), 16000, min_samples=20000)


def test_check_signal_refuses_empty() -> None:
    with pytest.raises(AudioError, match="empty"):
        check_signal(np.zeros(0, dtype=np.float32), 16000)


def test_to_float32_scales_integer_pcm_and_refuses_2d() -> None:
    np.testing.assert_allclose(to_float32(np.array([16384, -32768], dtype=np.int16)), [0.5, -1.0])
    with pytest.raises(ValueError, match="1-D"):
        to_float32(np.zeros((10, 2), dtype=np.float32))


def test_rms_dbfs_and_sum_squares() -> None:
    y = np.full(200_000, 0.1, dtype=np.float32)  # spans several chunks
    assert sum_squares(y) == pytest.approx(200_000 * 0.01, rel=1e-6)
    assert rms_dbfs(y) == pytest.approx(-20.0, abs=1e-4)
    assert rms_dbfs(np.zeros(10)) == -200.0


def test_resample_noop_and_length() -> None:
    y = np.random.default_rng(0).standard_normal(22050).astype(np.float32) * 0.1
    assert resample(y, 22050, 22050) is not None
    np.testing.assert_array_equal(resample(y, 22050, 22050), y)
    assert resample(y, 22050, 48000).size == 48000
