"""The report's pictures explain themselves: a lower-rate input's empty band is labelled, and
unvoiced frames are gaps in F0 plots rather than flat lines at some floor frequency."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("matplotlib")

from rvcqa.report import plots  # noqa: E402


def voice(sr: int, seconds: float, *, silence_s: float = 0.0, f0: float = 150.0) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    y = sum(0.3 / k * np.sin(2 * np.pi * k * f0 * t) for k in range(1, 6))
    y = y * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t))
    return np.concatenate([np.zeros(int(sr * silence_s)), y]).astype(np.float32)


def write(path: Path, y: np.ndarray, sr: int) -> str:
    sf.write(path, y, sr, subtype="FLOAT")
    return str(path)


def test_unvoiced_as_gaps() -> None:
    f0 = np.array([0.0, 100.0, 100.0, 151.0, 152.0, -1.0, np.inf, 220.0])
    voiced = np.array([False, True, True, True, False, True, True, True])
    out = plots.unvoiced_as_gaps(f0, voiced, floor_hz=100.0)
    assert np.isnan(out[[0, 1, 2, 4, 5, 6]]).all()  # 0, at the floor, unvoiced, negative, inf
    assert out[3] == 151.0 and out[7] == 220.0
    assert np.isnan(plots.unvoiced_as_gaps([0.0, 0.0])).all()
    assert f0[0] == 0.0  # the input is left alone


def test_f0_plot_has_gaps_for_unvoiced_frames(tmp_path: Path) -> None:
    a = write(tmp_path / "in.wav", voice(16000, 1.0, silence_s=0.5), 16000)
    b = write(tmp_path / "out.wav", voice(48000, 1.0, silence_s=0.5, f0=160.0), 48000)
    fig = plots.f0_figure(a, b)
    lines = fig.axes[0].get_lines()
    assert len(lines) == 2
    for line in lines:
        t, y = (np.asarray(v, dtype=float) for v in line.get_data())
        silent = t < 0.4
        assert np.isnan(y[silent]).all(), "silence drawn as a pitch"
        voiced = y[(t > 0.7) & (t < 1.3)]
        assert np.isfinite(voiced).mean() > 0.8 and np.nanmedian(voiced) == pytest.approx(155, rel=0.1)
    assert "unvoiced" in fig.axes[0].get_legend().get_title().get_text()
    assert plots.f0_contours(a, b).startswith(b"\x89PNG")


def test_blank_band_of_a_16k_input_is_labelled(tmp_path: Path) -> None:
    a = write(tmp_path / "in.wav", voice(16000, 0.6), 16000)
    b = write(tmp_path / "out.wav", voice(48000, 0.6), 48000)
    fig = plots.spectrogram_figure(a, b)
    texts = [[t.get_text() for t in ax.texts] for ax in fig.axes[:2]]
    assert texts[0] == ["no content above 8 kHz: 16 kHz audio (Nyquist 8 kHz)"]
    assert texts[1] == []  # the 48 kHz output fills the axis
    same = plots.spectrogram_figure(b, b)
    assert all(not ax.texts for ax in same.axes[:2])
    assert plots.spectrograms(a, b).startswith(b"\x89PNG")
