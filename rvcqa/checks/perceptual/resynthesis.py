"""Resynthesis checks (``perceptual.resynth_*``): the model on its own training inputs, against ``0_gt_wavs``.

No HuBERT is involved, so a failure here is the model's own (weights, training), never the conversion
pipeline's.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Sequence

from rvcqa.checks.perceptual.common import (
    allowed, band_text, flat_num, for_all, hz, judge_f0, num3, synthesizer_or_failures,
    zcr_reading,
)
from rvcqa.checks.perceptual.defaults import CAUSE_RESYNTH, CAUSE_RESYNTH_F0, RESYNTH_IDS, SPEECH_FLATNESS, thr
from rvcqa.errors import ModelDirError, RvcqaError
from rvcqa.findings import Finding, failed, passed, skipped
from rvcqa.stats import median_or_none

if TYPE_CHECKING:
    from rvcqa.context import ModelContext


def findings(ctx: ModelContext) -> list[Finding]:
    from rvcqa.measure import measure_segment
    from rvcqa.outputs import write_json

    synth, failures = synthesizer_or_failures(ctx, RESYNTH_IDS)
    if failures:
        return failures
    try:
        rs = ctx.resynthesis()
    except ModelDirError as error:
        return for_all(RESYNTH_IDS, skipped, f"resynthesis not possible: {error}")
    except RvcqaError as error:
        return for_all(RESYNTH_IDS, failed, f"resynthesis failed: {error}")
    if not rs.results:
        reasons = "; ".join(f"{k}: {v}" for k, v in list(rs.skipped.items())[:3])
        return for_all(RESYNTH_IDS, skipped, f"resynthesis: no usable training segment ({reasons})")
    out_dir = rs.out_dir
    assert out_dir is not None  # ctx.resynthesis() always writes to the results folder
    f0_model = bool(getattr(synth, "f0", True))
    ms = ctx.cached("resynthesis_metrics", lambda: [measure_segment(r, f0=f0_model) for r in rs.results])
    paths = [str(r.output_path) for r in rs.results if r.output_path]
    ctx.record("resynth_output_dir", str(out_dir))
    ctx.record("resynth_outputs", paths)
    n = len(ms)
    scope = f"{n} training segment{'s' if n != 1 else ''}" + (
        f" of {rs.available}" if rs.available > n else ""
    )
    common = {
        "segments": [r.segment.stem for r in rs.results],
        "skipped_segments": dict(rs.skipped),
        "output_dir": str(out_dir),
        "settings": rs.settings,
    }
    per_segment = [m.as_row() for m in ms]
    write_json(out_dir / "metrics.json", {"settings": rs.settings, "segments": per_segment, "skipped": rs.skipped})
    findings = [
        _resynth_flatness(ctx, ms, scope, common),
        _resynth_zcr(ctx, ms, scope, common),
        _resynth_mel(ctx, ms, scope, common),
        _resynth_f0(ctx, ms, scope, common, f0_model),
        _resynth_level(ctx, ms, scope, common),
    ]
    for f in findings:
        f.details.setdefault("per_segment", per_segment)
    return findings


def _unjudgeable(ms: Sequence[Any], key: str) -> dict[str, str]:
    return {m.stem: m.errors[key] for m in ms if key in m.errors}


def _output_unjudgeable(cid: str, ms: Sequence[Any], common: dict[str, Any]) -> Finding | None:
    """A failure naming the first segment whose output could not be measured, if any."""
    bad = _unjudgeable(ms, "output")
    if not bad:
        return None
    stem, why = next(iter(bad.items()))
    return failed(cid, f"the model's output on {len(bad)} of {len(ms)} training segments cannot be judged "
                  f"({stem}: {why})", cause=CAUSE_RESYNTH, details=dict(common))


def _measured(cid: str, ms: Sequence[Any], common: dict[str, Any], attr: str) -> list[Any] | Finding:
    """The segments that have ``attr``, or the finding that says why none can be judged."""
    early = _output_unjudgeable(cid, ms, common)
    if early is not None:
        return early
    ok = [m for m in ms if getattr(m, attr) is not None]
    return ok or skipped(cid, f"resynthesis: no segment could be measured ({_first_error(ms)})", details=dict(common))


def _resynth_flatness(ctx: ModelContext, ms: Sequence[Any], scope: str, common: dict[str, Any]) -> Finding:
    cid = "perceptual.resynth_flatness"
    limit = float(thr(ctx, "perceptual.resynth_flatness.max"))
    ok = _measured(cid, ms, common, "flatness")
    if isinstance(ok, Finding):
        return ok
    flat = median_or_none([m.flatness for m in ok])
    gt = median_or_none([m.flatness_gt for m in ok])
    worst = max(ok, key=lambda m: m.flatness)
    band = band_text([m.band_hz for m in ok if m.band_hz])
    ctx.record("resynth_flatness", flat)
    lo, hi = float(thr(ctx, "perceptual.resynth_zcr.ratio_min")), float(thr(ctx, "perceptual.resynth_zcr.ratio_max"))
    zo, zg = median_or_none([m.zcr_hz for m in ok]), median_or_none([m.zcr_gt_hz for m in ok])
    ratio = median_or_none([m.zcr_ratio for m in ok])
    tail = f"; medians over {scope}" + (f", worst {worst.stem} ({flat_num(worst.flatness)})" if len(ok) > 1 else "")
    details = dict(common, band=band, flatness_gt=gt, worst=worst.stem)
    if flat is not None and flat < limit:
        return passed(cid, f"resynthesis is not noise-like: spectral flatness {flat_num(flat)} (GT {flat_num(gt)}, "
                      f"{SPEECH_FLATNESS}) over {band}{tail}", measured=flat, expected=f"< {limit:g}", details=details)
    return failed(
        cid,
        f"resynthesis of its own training data is noise-like: spectral flatness {flat_num(flat)} (GT {flat_num(gt)}, "
        f"{SPEECH_FLATNESS}) over {band}; zero-crossing rate {hz(zo)} vs GT {hz(zg)} (ratio {num3(ratio)}, "
        f"{allowed(lo, hi)}){tail}",
        measured=flat, expected=f"< {limit:g}", cause=CAUSE_RESYNTH, details=details,
    )


def _resynth_zcr(ctx: ModelContext, ms: Sequence[Any], scope: str, common: dict[str, Any]) -> Finding:
    cid = "perceptual.resynth_zcr"
    lo, hi = float(thr(ctx, "perceptual.resynth_zcr.ratio_min")), float(thr(ctx, "perceptual.resynth_zcr.ratio_max"))
    ok = _measured(cid, ms, common, "zcr_ratio")
    if isinstance(ok, Finding):
        return ok
    ratio = median_or_none([m.zcr_ratio for m in ok])
    zo, zg = median_or_none([m.zcr_hz for m in ok]), median_or_none([m.zcr_gt_hz for m in ok])
    ctx.record("resynth_zcr_ratio", ratio)
    assert ratio is not None
    text = (f"zero-crossing rate {hz(zo)} vs GT {hz(zg)} (ratio {num3(ratio)}, {allowed(lo, hi)}; "
            f"medians over {scope})")
    if lo <= ratio <= hi:
        return passed(cid, f"resynthesis {text}", measured=ratio, expected=f"{lo:g}–{hi:g}", details=dict(common))
    return failed(cid, f"resynthesis {text}: {zcr_reading(ratio, lo, hi)}", measured=ratio,
                  expected=f"{lo:g}–{hi:g}", cause=CAUSE_RESYNTH, details=dict(common))


def _resynth_mel(ctx: ModelContext, ms: Sequence[Any], scope: str, common: dict[str, Any]) -> Finding:
    from rvcqa.metrics.mel import C_MEL

    cid = "perceptual.resynth_mel_distance"
    limit = float(thr(ctx, "perceptual.resynth_mel_distance.max"))
    bad = _unjudgeable(ms, "output")
    ok = [m for m in ms if m.mel_distance is not None]
    if bad or not ok:
        why = next(iter(bad.values())) if bad else _first_error(ms)
        return failed(cid, f"log-mel distance cannot be measured: {why}", cause=CAUSE_RESYNTH, details=dict(common))
    d = median_or_none([m.mel_distance for m in ok])
    full = median_or_none([m.mel_distance_full for m in ok])
    worst = max(ok, key=lambda m: m.mel_distance)
    band = band_text([m.band_hz for m in ok if m.band_hz])
    assert d is not None and full is not None
    ctx.record("resynth_mel_distance", d)
    ctx.record("resynth_loss_mel_equivalent", full * C_MEL)
    text = (f"log-mel L1 distance to the GT {d:.3f} over {band} (limit {limit:g}); all bands {full:.3f} = loss_mel "
            f"{full * C_MEL:.0f} on RVC's x45 scale (median over {scope}"
            + (f", worst {worst.stem} {worst.mel_distance:.3f}" if len(ok) > 1 else "") + ")")
    details = dict(common, mel_distance_full_band=full, loss_mel_equivalent=full * C_MEL, band=band,
                   reference_points="in-band on LJ Speech: 0.7x level 0.35, white noise at 20 dB SNR 0.93, at 10 dB "
                                    "1.58, white noise 2.6, random-init RVC 4.7; healthy RVC loss_mel 15-25 "
                                    "teacher-forced (0.33-0.56)")
    if d <= limit:
        return passed(cid, f"resynthesis matches its training targets: {text}", measured=d, expected=f"<= {limit:g}",
                      details=details)
    return failed(
        cid,
        f"resynthesis is far from its training targets: {text}; random-init RVC scores ~4.5 (loss_mel ~200), "
        "healthy fine-tuned RVC logs loss_mel 15–25",
        measured=d, expected=f"<= {limit:g}", cause=CAUSE_RESYNTH, details=details,
    )


def _resynth_f0(ctx: ModelContext, ms: Sequence[Any], scope: str, common: dict[str, Any], f0_model: bool) -> Finding:
    cid = "perceptual.resynth_f0"
    if not f0_model:
        return skipped(cid, "the model has no pitch guidance (f0=0): RVC nof0 models do not follow a melody",
                       details=dict(common))
    bad = _unjudgeable(ms, "output")
    if bad:
        stem, why = next(iter(bad.items()))
        return failed(cid, f"output F0 cannot be tracked on {len(bad)} of {len(ms)} segments ({stem}: {why})",
                      cause=CAUSE_RESYNTH, details=dict(common))
    comps = [m.f0 for m in ms if m.f0 is not None]
    if not comps:
        return skipped(cid, f"resynthesis F0: no segment with voiced GT ({_first_error(ms, 'f0')})", details=dict(common))
    return judge_f0(ctx, cid, "perceptual.resynth_f0", comps, "GT", scope, common, CAUSE_RESYNTH_F0,
                     record="resynth_f0_cents")


def _resynth_level(ctx: ModelContext, ms: Sequence[Any], scope: str, common: dict[str, Any]) -> Finding:
    cid = "perceptual.resynth_level"
    lo, hi = float(thr(ctx, "perceptual.resynth_level.ratio_min")), float(thr(ctx, "perceptual.resynth_level.ratio_max"))
    ok = [m for m in ms if m.rms is not None and m.rms_gt]
    if not ok:
        why = _first_error(ms)
        return failed(cid, f"output level cannot be measured: {why}", cause=CAUSE_RESYNTH, details=dict(common))
    ratio = median_or_none([m.rms_ratio for m in ok])
    ro, rg = median_or_none([m.rms for m in ok]), median_or_none([m.rms_gt for m in ok])
    assert ratio is not None
    ctx.record("resynth_rms_ratio", ratio)
    text = f"output RMS {num3(ro)} vs GT {num3(rg)} (ratio {num3(ratio)}, {allowed(lo, hi)}; medians over {scope})"
    if lo <= ratio <= hi:
        return passed(cid, f"resynthesis level is sane: {text}", measured=ratio, expected=f"{lo:g}–{hi:g}",
                      details=dict(common))
    what = "near-silent" if ratio < lo else "far too loud"
    return failed(cid, f"resynthesis is {what}: {text}", measured=ratio, expected=f"{lo:g}–{hi:g}",
                  cause=CAUSE_RESYNTH, details=dict(common))


def _first_error(ms: Sequence[Any], key: Optional[str] = None) -> str:
    for m in ms:
        for k, v in m.errors.items():
            if key is None or k == key:
                return f"{m.stem}: {v}"
    return "no measurable segment"

