"""rvcqa.baseline: the tolerance grammar, metric directions, comparison and atomic files."""
from __future__ import annotations

import argparse
import json
import math
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rvcqa import baseline as B

# --------------------------------------------------------------------------- grammar


def test_parse_the_documented_example():
    tols = B.parse_compare_fail("flatness:+0.02 mel_distance:5%")
    assert tols == [B.Tolerance("flatness", 0.02, False, "+"), B.Tolerance("mel_distance", 5.0, True, None)]


@pytest.mark.parametrize("text, expected", [
    ("loss_mel:10%", [B.Tolerance("loss_mel", 10.0, True, None)]),
    ("speaker_gain:-0.05", [B.Tolerance("speaker_gain", 0.05, False, "-")]),
    ("*_cents:12.5,zcr_ratio:0.1", [B.Tolerance("*_cents", 12.5, False, None), B.Tolerance("zcr_ratio", 0.1)]),
    ("  dataset.voiced_fraction:1e-2  ", [B.Tolerance("dataset.voiced_fraction", 0.01)]),
    ("x:.5%", [B.Tolerance("x", 0.5, True, None)]),
])
def test_parse_forms(text, expected):
    assert B.parse_compare_fail(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "flatness", "flatness:", ":0.1", "flatness:abc", "flatness:0.1%%",
                                  "flatness:+-1", "flat ness:1 x", "flatness:nan", "flatness:inf", "a:1:2",
                                  "flatness=0.1"])
def test_parse_rejects_with_argparse_error(text):
    with pytest.raises(argparse.ArgumentTypeError):
        B.parse_compare_fail(text)


def test_type_validator_gives_a_usage_error_through_argparse(capsys):
    p = argparse.ArgumentParser(prog="x")
    p.add_argument("--compare-fail", type=B.parse_compare_fail, action="append", default=[])
    with pytest.raises(SystemExit) as exc:
        p.parse_args(["--compare-fail", "flatness"])
    assert exc.value.code == 2
    assert "METRIC:[+|-]NUMBER[%]" in capsys.readouterr().err


_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.]{0,20}", fullmatch=True)
_tolerances = st.builds(
    B.Tolerance,
    pattern=_names,
    amount=st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False),
    percent=st.booleans(),
    sign=st.sampled_from([None, "+", "-"]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_tolerances, min_size=1, max_size=5), st.sampled_from([" ", ",", " , ", "  "]))
def test_text_round_trips(tols, sep):
    """format -> parse gives the same tolerances (the amount to %g's precision)."""
    parsed = B.parse_compare_fail(sep.join(t.text() for t in tols))
    assert len(parsed) == len(tols)
    for a, b in zip(parsed, tols):
        assert (a.pattern, a.percent, a.sign) == (b.pattern, b.percent, b.sign)
        assert a.amount == pytest.approx(float(f"{b.amount:g}"))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_arbitrary_text_parses_or_raises_argparse_error_only(text):
    try:
        tols = B.parse_compare_fail(text)
    except argparse.ArgumentTypeError:
        return
    assert tols and all(t.amount >= 0 and math.isfinite(t.amount) for t in tols)


# --------------------------------------------------------------------------- judging

_vals = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(old=_vals, tol=st.floats(min_value=0, max_value=1e3, allow_nan=False), frac=st.floats(0, 1))
def test_within_tolerance_never_fails(old, tol, frac):
    t = B.Tolerance("m", tol)
    for direction in (B.HIGHER, B.LOWER, B.EITHER):
        new = old + frac * tol if direction != B.LOWER else old - frac * tol
        assert not B.judge(old, new, direction, t)[0]


@settings(max_examples=300, deadline=None)
@given(old=_vals, step=st.floats(min_value=1e-3, max_value=1e3))
def test_improvements_never_fail(old, step):
    zero = B.Tolerance("m", 0.0)
    assert not B.judge(old, old - step, B.HIGHER, zero)[0]
    assert not B.judge(old, old + step, B.LOWER, zero)[0]


@settings(max_examples=300, deadline=None)
@given(old=_vals, tol=st.floats(min_value=0, max_value=1e3), excess=st.floats(min_value=1e-2, max_value=1e3))
def test_beyond_tolerance_in_the_worse_direction_fails(old, tol, excess):
    t = B.Tolerance("m", tol)
    assert B.judge(old, old + tol + excess, B.HIGHER, t)[0]
    assert B.judge(old, old - tol - excess, B.LOWER, t)[0]
    assert B.judge(old, old + tol + excess, B.EITHER, t)[0]


def test_percent_is_of_the_baseline_value():
    t = B.Tolerance("mel_distance", 5.0, percent=True)
    assert not B.judge(2.0, 2.09, B.HIGHER, t)[0]
    assert B.judge(2.0, 2.11, B.HIGHER, t)[0]


def test_target_direction_judges_distance_from_one():
    t = B.Tolerance("zcr_ratio", 0.25)
    assert not B.judge(0.9, 1.1, B.TARGET, t, 1.0)[0]  # same distance, other side
    assert not B.judge(1.5, 1.0, B.TARGET, t, 1.0)[0]  # closer to 1
    assert B.judge(1.0, 9.2, B.TARGET, t, 1.0)[0]  # the lexi report's noise
    assert B.judge(1.0, 0.0, B.TARGET, t, 1.0)[0]  # slow drift


def test_nan_where_the_baseline_was_finite_regresses():
    assert B.judge(0.01, float("nan"), B.HIGHER, B.Tolerance("m", 1.0))[0]


@pytest.mark.parametrize("name, worse", [
    ("resynth_flatness", B.HIGHER), ("convert_flatness", B.HIGHER), ("resynth_mel_distance", B.HIGHER),
    ("loss_mel_last", B.HIGHER), ("training.final_loss_mel", B.HIGHER), ("convert_f0_cents", B.HIGHER),
    ("convert_zcr_ratio", B.TARGET), ("resynth_rms_ratio", B.TARGET), ("convert_speaker_gain", B.LOWER),
    ("inference_layers", B.EITHER),
])
def test_every_gate_metric_declares_a_direction(name, worse):
    spec = B.metric_spec(name)
    assert spec is not None and spec.worse == worse and spec.default is not None


def test_metric_name_matching():
    assert B.metric_matches("flatness", "resynth_flatness")
    assert B.metric_matches("flatness", "flatness")
    assert B.metric_matches("final_loss_mel", "training.final_loss_mel")
    assert not B.metric_matches("flatness", "flatnessx")
    assert not B.metric_matches("mel", "resynth_mel_distance")
    assert B.metric_matches("resynth_*", "resynth_zcr_ratio")


# --------------------------------------------------------------------------- comparing snapshots

def _snap(**m):
    return B.snapshot(m, verdict="PASS")


def test_compare_flags_regressions_with_old_and_new():
    base = B.document({"lexi": _snap(resynth_flatness=0.002, resynth_mel_distance=1.0, loss_mel_last=20.0)})
    now = {"lexi": _snap(resynth_flatness=0.41, resynth_mel_distance=1.02, loss_mel_last=18.0)}
    res = B.compare(base, now, baseline_path="b.json")
    assert res.failed
    (reg,) = res.regressions
    assert (reg.metric, reg.old, reg.new) == ("resynth_flatness", 0.002, 0.41)
    text = "\n".join(B.format_lines(res))
    assert "resynth_flatness" in text and "0.002" in text and "0.41" in text and "REGRESSION" in text


def test_compare_fail_overrides_the_default_and_the_sign_sets_the_direction():
    base = B.document({"m": _snap(resynth_mel_distance=1.0, dataset_minutes=10.0)})
    now = {"m": _snap(resynth_mel_distance=1.04, dataset_minutes=8.0)}
    assert not B.compare(base, now).failed  # default 10 %; dataset_minutes informational
    res = B.compare(base, now, B.parse_compare_fail("mel_distance:3% dataset_minutes:-1"))
    assert sorted(c.metric for c in res.regressions) == ["dataset_minutes", "resynth_mel_distance"]


def test_single_models_pair_up_whatever_their_names_and_unknown_rules_are_noted():
    base = B.document({"lexi": _snap(convert_flatness=0.01)})
    res = B.compare(base, {"lexi_e200": _snap(convert_flatness=0.02)}, B.parse_compare_fail("nope:1"))
    assert not res.failed
    assert any("lexi_e200" in n and "lexi" in n for n in res.notes)
    assert any("nope:1" in n for n in res.notes)


def test_many_models_pair_by_name():
    base = B.document({"a": _snap(convert_flatness=0.01), "b": _snap(convert_flatness=0.01)})
    res = B.compare(base, {"a": _snap(convert_flatness=0.5), "c": _snap(convert_flatness=0.5)})
    assert [c.model for c in res.regressions] == ["a"]
    assert any("model c is not in the baseline" in n for n in res.notes)


def test_snapshot_keeps_numbers_only():
    snap = B.snapshot({"a": 1, "b": 0.5, "c": True, "d": "G_396.pth", "e": [1, 2], "f": None, "g": float("nan")})
    assert snap["measurements"] == {"a": 1.0, "b": 0.5, "g": "nan"}


# --------------------------------------------------------------------------- files

def test_save_is_atomic_and_round_trips(tmp_path, monkeypatch):
    path = tmp_path / "sub" / "baseline.json"
    doc = B.document({"lexi": _snap(resynth_flatness=0.002, x=float("inf"))})
    B.save(path, doc)
    loaded = B.load(path)
    assert loaded["models"]["lexi"]["measurements"] == {"resynth_flatness": 0.002, "x": "inf"}
    assert [p.name for p in path.parent.iterdir()] == ["baseline.json"]  # no temp file left

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(B.BaselineError, match="disk full"):
        B.save(path, B.document({}))
    assert json.loads(path.read_text())["models"]["lexi"]  # the old file is intact
    assert [p.name for p in path.parent.iterdir()] == ["baseline.json"]


@pytest.mark.parametrize("content, match", [
    ("{", "invalid JSON"), ('{"models": {}}', "not an rvcqa baseline"), ("[]", "not an rvcqa baseline"),
    ('{"format": "rvcqa-baseline", "version": 99, "models": {}}', "newer rvcqa"),
])
def test_load_refuses_what_is_not_a_baseline(tmp_path, content, match):
    p = tmp_path / "b.json"
    p.write_text(content)
    with pytest.raises(B.BaselineError, match=match):
        B.load(p)


def test_path_types(tmp_path):
    with pytest.raises(argparse.ArgumentTypeError, match="does not exist"):
        B.baseline_path_type(str(tmp_path / "missing.json"))
    with pytest.raises(argparse.ArgumentTypeError, match="folder"):
        B.save_path_type(str(tmp_path))
    assert B.save_path_type(str(tmp_path / "new.json")) == tmp_path / "new.json"
