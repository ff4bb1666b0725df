"""The output failure-mode judgements (rvcqa.checks.output) on signals whose answer is known:
a beep, a frame-rate ring and an overtone-rich buzz collapse, speech does not; silence, clipping and DC fail."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from rvcqa.checks import output
from rvcqa.findings import Status
from rvcqa.metrics.output import level_in, measure_output

SR = 48000


def _ctx() -> Any:
    return SimpleNamespace(threshold=lambda key, default: default, record=lambda *a: None)


def _speech() -> np.ndarray:
    from fixtures.build_data import _clip, resample

    return resample(_clip(0)[:66000], 22050, SR)


def _judge(fn: Any, name: str, x: np.ndarray) -> Any:
    return fn(_ctx(), {name: measure_output(x, SR)}, "1 clip")


def test_tonal_collapse_fails_a_beep_and_a_ring_not_speech() -> None:
    t = np.arange(2 * SR) / SR
    beep = 0.3 * np.sin(2 * np.pi * 440 * t)
    ring = np.tile(np.hanning(480), 200) * 0.3 - 0.15
    for name, x in (("beep", beep), ("ring", ring)):
        f = _judge(output.judge_tonal, name, x)
        assert f.status is Status.FAILED and "tonal collapse" in f.message, f.message
    f = _judge(output.judge_tonal, "speech", _speech())
    assert f.status is Status.PASSED, f.message


def test_a_steady_buzz_rich_in_overtones_is_tonal() -> None:
    """A decoder stuck on its frame rate buzzes at 100 Hz with its power spread over many
    overtones (under speech's 5-peak share), but holds one pitch in every frame."""
    pulse = np.zeros(480)
    pulse[:6] = (1.0, -0.6, 0.4, -0.3, 0.2, -0.1)
    buzz = np.tile(pulse, 200) * 0.2
    m = measure_output(buzz, SR)
    assert m.tonal_share < 0.9 and m.voiced_share > 0.9
    f = _judge(output.judge_tonal, "buzz", buzz)
    assert f.status is Status.FAILED and "tonal collapse" in f.message and "pitch spread 0 cents" in f.message, f.message


def test_a_held_sung_note_is_a_collapse_only_where_its_reference_glides() -> None:
    """A singer holding one note for a whole slice (vibrato +-30 cents, rich in overtones) is steady
    in every frame; it is a collapse only when the GT segment it should follow moves its pitch."""
    t = np.arange(2 * SR) / SR
    f0 = 220.0 * 2 ** (0.3 / 12 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    note = 0.2 * sum(np.sin(k * phase) / k for k in range(1, 8))
    held = measure_output(note, SR)
    assert held.voiced_share > 0.9 and held.f0_spread_cents is not None and held.f0_spread_cents < 100
    same = output.judge_tonal(_ctx(), {"note": held}, "1 clip", {"note": held})
    assert same.status is Status.PASSED and "note hold one note in the GT too (not judged)" in same.message, same.message
    gliding = output.judge_tonal(_ctx(), {"note": held}, "1 clip", {"note": measure_output(_speech(), SR)})
    assert gliding.status is Status.FAILED and "tonal collapse" in gliding.message, gliding.message


def test_silence_clipping_and_dc_fail() -> None:
    speech = _speech()
    assert _judge(output.judge_silence, "speech", speech).status is Status.PASSED
    quiet = _judge(output.judge_silence, "quiet", speech * 1e-3)
    assert quiet.status is Status.FAILED and "silent output" in quiet.message
    assert _judge(output.judge_clipping, "speech", speech).status is Status.PASSED
    hot = _judge(output.judge_clipping, "hot", np.clip(speech * 20, -1, 1))
    assert hot.status is Status.FAILED and "clipped output" in hot.message
    assert _judge(output.judge_dc, "speech", speech).status is Status.PASSED
    dc = _judge(output.judge_dc, "dc", speech + 0.05)
    assert dc.status is Status.FAILED and "DC offset" in dc.message


def test_level_in_a_pause() -> None:
    x = np.concatenate([np.full(SR, 0.1), np.zeros(SR), np.full(SR, 0.1)])
    assert level_in(x, SR, 1.0, 2.0) == -np.inf
    assert level_in(x, SR, 0.0, 1.0) == pytest.approx(-20.0, abs=0.01)
