"""Does the model sound like speech? It is run twice, and the two runs answer different questions.

1. **Resynthesis** (``perceptual.resynth_*``): the model on its own training inputs (the features,
   coarse pitch and F0 in the experiment folder), compared with the matching ``0_gt_wavs``. No
   HuBERT is involved, so a failure here is the model's own (weights, training), never the
   conversion pipeline's. Deterministic: prior mean, no source noise.
2. **Conversion** (``perceptual.convert_*``): reference speech the model never saw, through RVC's
   pipeline (:mod:`rvcqa.convert`), compared with the input it was given.

``perceptual.verdict`` puts the two together: model fine but pipeline not, or the reverse. This
answers the lexi report's question "is it the model or the inference code?" directly.

Definitions behind every number (flatness: power spectrum, n_fft 2048, hop 512, median over
frames within 40 dB of the loudest, within the reference's content band; ZCR: sign changes per
second / 2; log-mel L1: RVC's mel settings per rate, judged over the mel bands inside the GT's
content band, the full-band value reported as RVC's loss_mel equivalent; F0: librosa pYIN on both
signals at 16 kHz) are in :mod:`rvcqa.metrics`; findings carry them in ``details``. Resynthesis
compares at the model rate; conversion compares flatness and ZCR with both signals at 16 kHz, the
rate the model's input has. Per-segment / per-clip values are aggregated by the median, and the
worst one is named in the message. Every output WAV and a ``metrics.json`` go to
``<results>/resynthesis/`` and ``<results>/conversion/``, never into the model folder.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from rvcqa.context import ModelContext
from rvcqa.errors import ModelDirError, RvcqaError
from rvcqa.findings import Finding, failed, passed, skipped

RESYNTH_IDS: tuple[str, ...] = (
    "perceptual.resynth_flatness",
    "perceptual.resynth_zcr",
    "perceptual.resynth_mel_distance",
    "perceptual.resynth_f0",
    "perceptual.resynth_level",
)
CONVERT_IDS: tuple[str, ...] = (
    "perceptual.convert_flatness",
    "perceptual.convert_zcr",
    "perceptual.convert_f0",
    "perceptual.convert_level",
    "perceptual.convert_duration",
    "perceptual.convert_speaker",
)
CHECK_IDS: tuple[str, ...] = RESYNTH_IDS + CONVERT_IDS + ("perceptual.verdict",)

DEFAULTS: dict[str, Any] = {
    # Spectral flatness (power spectrum, median over non-silent frames) of speech is ~0.002 and of
    # white noise 0.56 (METRICS.md, measured); the lexi report's noise output read 0.41 and its own
    # "healthy range" is < 0.1 for speech. 0.1 sits 50x above speech and 4x below that noise.
    "perceptual.resynth_flatness.max": 0.1,
    "perceptual.convert_flatness.max": 0.1,
    # ZCR output/reference. The healthy narrow fixture resynthesises at 0.93-0.97x its GT; white
    # noise at 48 kHz reads ~12,000 Hz vs speech ~1,000-2,000 (ratio 6-12, the report's 9.2); an
    # untrained generator's slow drift reads ~0. A factor of 2 each way separates all of these.
    "perceptual.resynth_zcr.ratio_min": 0.5,
    "perceptual.resynth_zcr.ratio_max": 2.0,
    "perceptual.convert_zcr.ratio_min": 0.5,
    "perceptual.convert_zcr.ratio_max": 2.0,
    # Log-mel L1 to the GT with RVC's mel (the same numbers as loss_mel / 45), over the mel bands
    # inside the GT's content band (rvcqa.resynth.mel_distances says why). Healthy fine-tuned RVC
    # models log loss_mel 15-25 (0.33-0.56), teacher-forced; resynthesis runs the inference path
    # (prior mean through the flow), which adds the prior/posterior gap. Measured here on LJ Speech
    # (in-band): a 0.7x level alone 0.35, a 10 ms shift 0.46, +100 cents 0.76, white noise added at
    # 20 dB SNR 0.93 and at 10 dB 1.58, white noise alone 2.6, random-init RVC 4.7. HEALTHY_FIXTURE's
    # trained narrow model scores 0.96 full band. 1.5 passes all of those healthy-ish cases and
    # fails an output as noisy as speech at 10 dB SNR; flatness/ZCR/F0 catch buzz and drift.
    "perceptual.resynth_mel_distance.max": 1.5,
    # F0 agreement on frames voiced in both (pYIN on both). 50 cents is a quarter tone, the usual
    # "in tune" bound; the healthy fixture reaches a median of ~10 cents and 84-87 % of frames
    # within 50 cents, a model whose sine source is silent 0 %. Require the median within 50 cents
    # and at least half of the frames within 50 cents.
    "perceptual.resynth_f0.max_cents": 50.0,
    "perceptual.resynth_f0.min_within_50": 0.5,
    "perceptual.convert_f0.max_cents": 50.0,
    "perceptual.convert_f0.min_within_50": 0.5,
    # Voicing decision error (frames voiced in one signal only / all frames). Speech is voiced in
    # ~50-70 % of frames; noise or silence output is unvoiced throughout (error = the input's voiced
    # share), buzz voiced throughout. The healthy fixture over-voices ~9 %. 0.35 fails both extremes.
    "perceptual.convert_f0.max_voicing_error": 0.35,
    # The output must be voiced on at least this share of the reference's voiced frames for the
    # cents figures to mean anything (noise output: pYIN finds almost no voice).
    "perceptual.resynth_f0.min_voiced_overlap": 0.2,
    "perceptual.convert_f0.min_voiced_overlap": 0.2,
    # Output RMS / GT RMS. RVC preprocessing scales every slice to a peak of ~0.9, so a trained
    # model reproduces the GT level closely (healthy fixture 0.7x; the lexi output 1.65x its input).
    # Outside 0.25-4 (+-12 dB) the output is near-silent or blown up.
    "perceptual.resynth_level.ratio_min": 0.25,
    "perceptual.resynth_level.ratio_max": 4.0,
    # Conversion output level in dBFS (RMS over all samples). Training slices peak at ~0.9, which
    # puts speech at about -15 to -30 dBFS; -45 is near-silent, -6 is louder than any speech.
    "perceptual.convert_level.min_rms_dbfs": -45.0,
    "perceptual.convert_level.max_rms_dbfs": -6.0,
    # Share of output samples at full scale or on flat tops (rvcqa.metrics.clipping_fraction).
    # RVC's writer would rescale rather than clip, but an output this hot means a runaway level.
    "perceptual.convert_level.max_clipping": 0.01,
    # |output duration / input duration - 1|. RVC keeps timing; frame rounding loses < 20 ms per
    # chunk. A hop/sample-rate mismatch (RVC_FORMATS 6 row 8) gives 0.83 or 1.2.
    "perceptual.convert_duration.tolerance": 0.05,
    # ... but never less than 50 ms: RVC itself loses 10-20 ms per chunk (HuBERT yields
    # (N - 400) // 320 + 1 frames, two 10 ms frames short of N // 160), which on a 0.3 s clip is 7 %.
    "perceptual.convert_duration.min_seconds": 0.05,
    # Speaker similarity gain (resemblyzer cosine to the training voice, output minus input). A
    # conversion should move the voice towards the training speaker: any gain > 0.
    "perceptual.convert_speaker.min_gain": 0.0,
    # Training segments concatenated as the "training voice" for speaker similarity.
    "perceptual.convert_speaker.target_segments": 5,
}

SPEECH_FLATNESS = "speech < 0.1"

CAUSE_RESYNTH = (
    "the model fails on the very segments it was trained on, so HuBERT and the conversion settings "
    "play no part: the released weights are not a trained generator (an early or wrong checkpoint, "
    "see provenance.*) or training did not converge (see training.*: loss_mel should fall to ~15-25)"
)
CAUSE_RESYNTH_F0 = (
    "the NSF sine source does not reach the output (an undertrained or untrained decoder), or "
    "2a_f0/2b-f0nsf do not belong to these 0_gt_wavs (sliced or extracted separately)"
)
CAUSE_CONVERT = (
    "if resynthesis passes, the model is fine and the conversion inputs differ from training: "
    "content features from another extractor or layer (v1: layer 9 + final_proj, 256-dim; v2: layer "
    "12, 768-dim), F0 from a failing tracker or a wrong transpose, or index/protect settings"
)


# --------------------------------------------------------------------------- formatting


def _f(x: Optional[float]) -> str:
    """Flatness-style number: 4 decimals, scientific below 0.0005."""
    if x is None:
        return "n/a"
    return f"{x:.4f}" if abs(x) >= 0.0005 or x == 0 else f"{x:.1e}"


def _g(x: Optional[float]) -> str:
    return "n/a" if x is None else f"{x:.3g}"


def _pct(x: Optional[float]) -> str:
    return "n/a" if x is None else f"{100 * x:.0f}%"


def _hz(x: Optional[float]) -> str:
    return "n/a" if x is None else f"{x:.0f} Hz"


def _band(bands: Sequence[tuple[float, float]]) -> str:
    uniq = sorted({(round(lo), round(hi)) for lo, hi in bands})
    if not uniq:
        return "n/a"
    if len(uniq) == 1:
        return f"{uniq[0][0]}–{uniq[0][1]} Hz"
    los = min(u[0] for u in uniq)
    return f"{los}–{min(u[1] for u in uniq)}..{max(u[1] for u in uniq)} Hz (per-clip content bands)"


def _median(values: Sequence[Optional[float]]) -> Optional[float]:
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return float(np.median(vals)) if vals else None


def _allowed(lo: float, hi: float) -> str:
    return f"allowed {lo:g}–{hi:g}"


def _dbfs(x: Optional[float]) -> str:
    if x is None:
        return "n/a"
    return f"{20 * math.log10(x):.1f} dBFS" if x > 0 else "-inf dBFS"


def _thr(ctx: ModelContext, key: str) -> Any:
    return ctx.threshold(key, DEFAULTS[key])


# --------------------------------------------------------------------------- run


def run(ctx: ModelContext) -> list[Finding]:
    resynth = _resynthesis_findings(ctx)
    convert = _conversion_findings(ctx)
    return resynth + convert + [_verdict(resynth, convert)]


def _all(ids: Sequence[str], make: Any, message: str, **kw: Any) -> list[Finding]:
    return [make(cid, message, **kw) for cid in ids]


def _progress(ctx: ModelContext) -> Any:
    return getattr(ctx, "progress", None)


def _write_json(path: Path, data: Any) -> None:
    def plain(o: Any) -> Any:  # numpy scalars and arrays, paths
        if hasattr(o, "tolist"):
            return o.tolist()
        return str(o)

    path.write_text(json.dumps(data, indent=2, default=plain), encoding="utf-8")


# --------------------------------------------------------------------------- resynthesis


def _resynthesis_findings(ctx: ModelContext) -> list[Finding]:
    from rvcqa.resynth import measure_segment, resynthesize, safe_output_dir

    try:
        synth = ctx.synthesizer()
    except RvcqaError as error:
        return _all(RESYNTH_IDS, failed, f"the model cannot be run: {error}")
    try:
        out_dir = safe_output_dir(ctx.options.results_dir, ctx.md, ctx.name, "resynthesis")
        rs = ctx.cached(
            "resynthesis",
            lambda: resynthesize(
                synth,
                ctx.md,
                segments=ctx.options.segments,
                seed=ctx.options.seed,
                out_dir=out_dir,
                progress=_progress(ctx),
            ),
        )
    except ModelDirError as error:
        return _all(RESYNTH_IDS, skipped, f"resynthesis not possible: {error}")
    except RvcqaError as error:
        return _all(RESYNTH_IDS, failed, f"resynthesis failed: {error}")
    if not rs.results:
        reasons = "; ".join(f"{k}: {v}" for k, v in list(rs.skipped.items())[:3])
        return _all(RESYNTH_IDS, skipped, f"resynthesis: no usable training segment ({reasons})")
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
    per_segment = [_seg_dict(m) for m in ms]
    _write_json(out_dir / "metrics.json", {"settings": rs.settings, "segments": per_segment, "skipped": rs.skipped})
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


def _seg_dict(m: Any) -> dict[str, Any]:
    f0 = m.f0
    return {
        "stem": m.stem,
        "band_hz": m.band_hz,
        "flatness": m.flatness,
        "flatness_gt": m.flatness_gt,
        "zcr_hz": m.zcr_hz,
        "zcr_gt_hz": m.zcr_gt_hz,
        "zcr_ratio": m.zcr_ratio,
        "mel_distance": m.mel_distance,
        "mel_distance_full_band": m.mel_distance_full,
        "rms": m.rms,
        "rms_gt": m.rms_gt,
        "rms_ratio": m.rms_ratio,
        "f0_median_abs_cents": getattr(f0, "median_abs_cents_error", None),
        "f0_within_50": getattr(f0, "fraction_within_50_cents", None),
        "f0_both_voiced": getattr(f0, "n_both_voiced", None),
        "errors": m.errors,
    }


def _unjudgeable(ms: Sequence[Any], key: str) -> dict[str, str]:
    return {m.stem: m.errors[key] for m in ms if key in m.errors}


def _resynth_flatness(ctx: ModelContext, ms: Sequence[Any], scope: str, common: dict) -> Finding:
    cid = "perceptual.resynth_flatness"
    limit = float(_thr(ctx, "perceptual.resynth_flatness.max"))
    bad = _unjudgeable(ms, "output")
    if bad:
        stem, why = next(iter(bad.items()))
        return failed(cid, f"the model's output on {len(bad)} of {len(ms)} training segments cannot be judged "
                      f"({stem}: {why})", cause=CAUSE_RESYNTH, details=dict(common))
    ok = [m for m in ms if m.flatness is not None]
    if not ok:
        return skipped(cid, f"resynthesis: no segment could be measured ({_first_error(ms)})", details=dict(common))
    flat = _median([m.flatness for m in ok])
    gt = _median([m.flatness_gt for m in ok])
    worst = max(ok, key=lambda m: m.flatness)
    band = _band([m.band_hz for m in ok if m.band_hz])
    ctx.record("resynth_flatness", flat)
    lo, hi = float(_thr(ctx, "perceptual.resynth_zcr.ratio_min")), float(_thr(ctx, "perceptual.resynth_zcr.ratio_max"))
    zo, zg = _median([m.zcr_hz for m in ok]), _median([m.zcr_gt_hz for m in ok])
    ratio = _median([m.zcr_ratio for m in ok])
    tail = f"; medians over {scope}" + (f", worst {worst.stem} ({_f(worst.flatness)})" if len(ok) > 1 else "")
    details = dict(common, band=band, flatness_gt=gt, worst=worst.stem)
    if flat is not None and flat < limit:
        return passed(cid, f"resynthesis is not noise-like: spectral flatness {_f(flat)} (GT {_f(gt)}, "
                      f"{SPEECH_FLATNESS}) over {band}{tail}", measured=flat, expected=f"< {limit:g}", details=details)
    return failed(
        cid,
        f"resynthesis of its own training data is noise-like: spectral flatness {_f(flat)} (GT {_f(gt)}, "
        f"{SPEECH_FLATNESS}) over {band}; zero-crossing rate {_hz(zo)} vs GT {_hz(zg)} (ratio {_g(ratio)}, "
        f"{_allowed(lo, hi)}){tail}",
        measured=flat, expected=f"< {limit:g}", cause=CAUSE_RESYNTH, details=details,
    )


def _zcr_reading(ratio: float, lo: float, hi: float) -> str:
    if ratio > hi:
        return "the output is dominated by high-frequency noise"
    if ratio < lo:
        return "the output is a slow drift or hum rather than speech (what an untrained generator outputs)"
    return "speech-like"


def _resynth_zcr(ctx: ModelContext, ms: Sequence[Any], scope: str, common: dict) -> Finding:
    cid = "perceptual.resynth_zcr"
    lo, hi = float(_thr(ctx, "perceptual.resynth_zcr.ratio_min")), float(_thr(ctx, "perceptual.resynth_zcr.ratio_max"))
    bad = _unjudgeable(ms, "output")
    if bad:
        stem, why = next(iter(bad.items()))
        return failed(cid, f"the model's output on {len(bad)} of {len(ms)} training segments cannot be judged "
                      f"({stem}: {why})", cause=CAUSE_RESYNTH, details=dict(common))
    ok = [m for m in ms if m.zcr_ratio is not None]
    if not ok:
        return skipped(cid, f"resynthesis: no segment could be measured ({_first_error(ms)})", details=dict(common))
    ratio = _median([m.zcr_ratio for m in ok])
    zo, zg = _median([m.zcr_hz for m in ok]), _median([m.zcr_gt_hz for m in ok])
    ctx.record("resynth_zcr_ratio", ratio)
    assert ratio is not None
    text = (f"zero-crossing rate {_hz(zo)} vs GT {_hz(zg)} (ratio {_g(ratio)}, {_allowed(lo, hi)}; "
            f"medians over {scope})")
    if lo <= ratio <= hi:
        return passed(cid, f"resynthesis {text}", measured=ratio, expected=f"{lo:g}–{hi:g}", details=dict(common))
    return failed(cid, f"resynthesis {text}: {_zcr_reading(ratio, lo, hi)}", measured=ratio,
                  expected=f"{lo:g}–{hi:g}", cause=CAUSE_RESYNTH, details=dict(common))


def _resynth_mel(ctx: ModelContext, ms: Sequence[Any], scope: str, common: dict) -> Finding:
    from rvcqa.metrics.mel import C_MEL

    cid = "perceptual.resynth_mel_distance"
    limit = float(_thr(ctx, "perceptual.resynth_mel_distance.max"))
    bad = _unjudgeable(ms, "output")
    ok = [m for m in ms if m.mel_distance is not None]
    if bad or not ok:
        why = next(iter(bad.values())) if bad else _first_error(ms)
        return failed(cid, f"log-mel distance cannot be measured: {why}", cause=CAUSE_RESYNTH, details=dict(common))
    d = _median([m.mel_distance for m in ok])
    full = _median([m.mel_distance_full for m in ok])
    worst = max(ok, key=lambda m: m.mel_distance)
    band = _band([m.band_hz for m in ok if m.band_hz])
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


def _f0_summary(comps: Sequence[Any]) -> tuple[Optional[float], Optional[float], int, int, Optional[float]]:
    """(median of per-clip median |cents|, pooled share within 50 cents, both-voiced frames,
    reference-voiced frames, median voicing decision error)."""
    both = sum(c.n_both_voiced for c in comps)
    ref = sum(c.n_reference_voiced for c in comps)
    cents = _median([c.median_abs_cents_error for c in comps if c.n_both_voiced])
    within = (
        sum((c.fraction_within_50_cents or 0.0) * c.n_both_voiced for c in comps) / both if both else None
    )
    vde = _median([c.voicing_decision_error_rate for c in comps])
    return cents, within, both, ref, vde


def _resynth_f0(ctx: ModelContext, ms: Sequence[Any], scope: str, common: dict, f0_model: bool) -> Finding:
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
    return _judge_f0(ctx, cid, "perceptual.resynth_f0", comps, "GT", scope, common, CAUSE_RESYNTH_F0,
                     record="resynth_f0_cents")


def _judge_f0(ctx: ModelContext, cid: str, key: str, comps: Sequence[Any], ref: str, scope: str, common: dict,
              cause: str, *, record: str, voicing: bool = False, transpose: float = 0.0) -> Finding:
    max_cents = float(_thr(ctx, f"{key}.max_cents"))
    min_within = float(_thr(ctx, f"{key}.min_within_50"))
    min_overlap = float(_thr(ctx, f"{key}.min_voiced_overlap"))
    cents, within, both, ref_voiced, vde = _f0_summary(comps)
    shift = f" shifted {transpose:+g} semitones" if transpose else ""
    details = dict(common, both_voiced_frames=both, reference_voiced_frames=ref_voiced, median_abs_cents=cents,
                   within_50=within, voicing_error=vde, tracker="librosa pYIN 50-1100 Hz at 16 kHz on both")
    ctx.record(record, cents)
    overlap = both / ref_voiced if ref_voiced else 0.0
    if overlap < min_overlap or cents is None:
        return failed(
            cid,
            f"the output is unvoiced where the {ref} is voiced: pYIN finds voice in {both} of {ref_voiced} "
            f"{ref}-voiced frames ({_pct(overlap)}, need ≥ {_pct(min_overlap)}; {scope})",
            measured=overlap, expected=f">= {min_overlap:g}", cause=cause, details=details,
        )
    bad_cents = cents > max_cents
    bad_within = within is not None and within < min_within
    parts = [
        f"median error {cents:.0f} cents" + (f" (limit {max_cents:g})" if bad_cents else ""),
        f"{_pct(within)} of {both} frames voiced in both within 50 cents"
        + (f" (need ≥ {_pct(min_within)})" if bad_within else ""),
    ]
    bad_vde = False
    if voicing and vde is not None:
        max_vde = float(_thr(ctx, f"{key}.max_voicing_error"))
        bad_vde = vde > max_vde
        parts.append(f"voicing decisions differ on {_pct(vde)} of frames" + (f" (limit {_pct(max_vde)})" if bad_vde else ""))
    text = f"{', '.join(parts)} (pYIN on both; {scope})"
    if not (bad_cents or bad_within or bad_vde):
        return passed(cid, f"output F0 follows the {ref}{shift}: {text}", measured=cents,
                      expected=f"<= {max_cents:g} cents", details=details)
    return failed(cid, f"output F0 does not follow the {ref}{shift}: {text}", measured=cents,
                  expected=f"<= {max_cents:g} cents", cause=cause, details=details)


def _resynth_level(ctx: ModelContext, ms: Sequence[Any], scope: str, common: dict) -> Finding:
    cid = "perceptual.resynth_level"
    lo, hi = float(_thr(ctx, "perceptual.resynth_level.ratio_min")), float(_thr(ctx, "perceptual.resynth_level.ratio_max"))
    ok = [m for m in ms if m.rms is not None and m.rms_gt]
    if not ok:
        why = _first_error(ms)
        return failed(cid, f"output level cannot be measured: {why}", cause=CAUSE_RESYNTH, details=dict(common))
    ratio = _median([m.rms_ratio for m in ok])
    ro, rg = _median([m.rms for m in ok]), _median([m.rms_gt for m in ok])
    assert ratio is not None
    ctx.record("resynth_rms_ratio", ratio)
    text = f"output RMS {_g(ro)} vs GT {_g(rg)} (ratio {_g(ratio)}, {_allowed(lo, hi)}; medians over {scope})"
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


# --------------------------------------------------------------------------- conversion


def _conversion_findings(ctx: ModelContext) -> list[Finding]:
    from rvcqa.convert import (
        Converter,
        PipelineSettings,
        content_model_for,
        convert_files,
        expand_inputs,
        load_index,
        measure_conversion,
    )
    from rvcqa.resynth import safe_output_dir
    from rvcqa.synth.synthesizer import phone_dim

    try:
        synth = ctx.synthesizer()
    except RvcqaError as error:
        return _all(CONVERT_IDS, failed, f"the model cannot be run: {error}")
    opts = ctx.options
    try:
        content, content_desc = ctx.cached(
            "content_model", lambda: content_model_for(ctx.md.root, synth.version, hubert=opts.hubert, device=opts.device)
        )
    except RvcqaError as error:
        return _all(CONVERT_IDS, failed, f"conversion: cannot load the content extractor: {error}")
    if content is None:
        return _all(CONVERT_IDS, skipped, f"conversion {content_desc}")
    f0_model = bool(getattr(synth, "f0", True))
    try:
        rmvpe = None
        if opts.rmvpe is not None and f0_model:
            from rvcqa.features.rmvpe import load_rmvpe

            rmvpe = ctx.cached("rmvpe", lambda: load_rmvpe(opts.rmvpe, device=opts.device))
        retrieval, index_desc = load_index(ctx.md.index_files, phone_dim(synth.version))
        settings = PipelineSettings(
            transpose=float(opts.transpose), seed=int(opts.seed), f0_method="rmvpe" if rmvpe is not None else "pyin"
        )
        converter = Converter(synth, content, settings=settings, rmvpe=rmvpe, retrieval=retrieval)
        inputs = expand_inputs(opts.reference_audio)
        out_dir = safe_output_dir(opts.results_dir, ctx.md, ctx.name, "conversion")
        convs, bad_inputs = ctx.cached(
            "conversions", lambda: convert_files(converter, inputs, out_dir=out_dir, progress=_progress(ctx))
        )
    except RvcqaError as error:
        return _all(CONVERT_IDS, failed, f"conversion failed: {error}")
    if not convs:
        reasons = "; ".join(f"{Path(k).name}: {v}" for k, v in list(bad_inputs.items())[:3])
        return _all(CONVERT_IDS, skipped, f"conversion: no usable reference audio ({reasons})")
    ms = ctx.cached(
        "conversion_metrics",
        lambda: [measure_conversion(c, transpose=settings.transpose, f0=f0_model) for c in convs],
    )
    ctx.record("convert_output_dir", str(out_dir))
    ctx.record("convert_outputs", [str(c.output_path) for c in convs if c.output_path])
    n = len(ms)
    scope = f"{n} reference clip{'s' if n != 1 else ''}"
    common = {
        "inputs": [str(c.source) for c in convs],
        "skipped_inputs": bad_inputs,
        "output_dir": str(out_dir),
        "pipeline": dict(converter.describe(), content_description=content_desc, index_description=index_desc),
    }
    per_clip = [_clip_dict(m) for m in ms]
    _write_json(out_dir / "metrics.json", {"pipeline": common["pipeline"], "clips": per_clip, "skipped": bad_inputs})
    findings = [
        _convert_flatness(ctx, ms, scope, common),
        _convert_zcr(ctx, ms, scope, common),
        _convert_f0(ctx, ms, scope, common, f0_model, settings.transpose),
        _convert_level(ctx, ms, scope, common),
        _convert_duration(ctx, ms, scope, common),
        _convert_speaker(ctx, convs, common),
    ]
    for f in findings:
        f.details.setdefault("per_clip", per_clip)
    return findings


def _clip_dict(m: Any) -> dict[str, Any]:
    f0 = m.f0
    return {
        "name": m.name,
        "band_hz": m.band_hz,
        "flatness": m.flatness,
        "flatness_input": m.flatness_input,
        "zcr_hz_at_16k": m.zcr_hz,
        "zcr_hz_full_rate": m.zcr_full_rate_hz,
        "zcr_input_hz": m.zcr_input_hz,
        "zcr_ratio": m.zcr_ratio,
        "rms": m.rms,
        "rms_input": m.rms_input,
        "peak": m.peak,
        "clipping": m.clipping,
        "duration_ratio": m.duration_ratio,
        "f0_median_abs_cents": getattr(f0, "median_abs_cents_error", None),
        "f0_within_50": getattr(f0, "fraction_within_50_cents", None),
        "f0_voicing_error": getattr(f0, "voicing_decision_error_rate", None),
        "errors": m.errors,
    }


def _convert_unjudgeable(cid: str, ms: Sequence[Any], common: dict) -> Optional[Finding]:
    bad = {m.name: m.errors["output"] for m in ms if "output" in m.errors}
    if bad:
        name, why = next(iter(bad.items()))
        return failed(cid, f"the converted output of {len(bad)} of {len(ms)} clips cannot be judged ({name}: {why})",
                      cause=CAUSE_CONVERT, details=dict(common))
    if all("input" in m.errors for m in ms):
        return skipped(cid, f"conversion: no reference clip could be measured ({ms[0].errors['input']})",
                       details=dict(common))
    return None


def _convert_flatness(ctx: ModelContext, ms: Sequence[Any], scope: str, common: dict) -> Finding:
    cid = "perceptual.convert_flatness"
    early = _convert_unjudgeable(cid, ms, common)
    if early:
        return early
    limit = float(_thr(ctx, "perceptual.convert_flatness.max"))
    lo, hi = float(_thr(ctx, "perceptual.convert_zcr.ratio_min")), float(_thr(ctx, "perceptual.convert_zcr.ratio_max"))
    ok = [m for m in ms if m.flatness is not None]
    flat = _median([m.flatness for m in ok])
    inp = _median([m.flatness_input for m in ok])
    band = _band([m.band_hz for m in ok if m.band_hz])
    zo, zi, ratio = _median([m.zcr_hz for m in ok]), _median([m.zcr_input_hz for m in ok]), _median([m.zcr_ratio for m in ok])
    ctx.record("convert_flatness", flat)
    worst = max(ok, key=lambda m: m.flatness)
    tail = f"; medians over {scope}" + (f", worst {worst.name} ({_f(worst.flatness)})" if len(ok) > 1 else "")
    details = dict(common, band=band, flatness_input=inp)
    if flat is not None and flat < limit:
        return passed(cid, f"output is not noise-like: spectral flatness {_f(flat)} (input {_f(inp)}, {SPEECH_FLATNESS}) "
                      f"over {band}, both at 16 kHz{tail}", measured=flat, expected=f"< {limit:g}", details=details)
    return failed(
        cid,
        f"output is noise-like: spectral flatness {_f(flat)} (input {_f(inp)}, {SPEECH_FLATNESS}) over {band}; "
        f"zero-crossing rate {_hz(zo)} vs input {_hz(zi)} (ratio {_g(ratio)}, {_allowed(lo, hi)}); both at 16 kHz{tail}",
        measured=flat, expected=f"< {limit:g}", cause=CAUSE_CONVERT, details=details,
    )


def _convert_zcr(ctx: ModelContext, ms: Sequence[Any], scope: str, common: dict) -> Finding:
    cid = "perceptual.convert_zcr"
    early = _convert_unjudgeable(cid, ms, common)
    if early:
        return early
    lo, hi = float(_thr(ctx, "perceptual.convert_zcr.ratio_min")), float(_thr(ctx, "perceptual.convert_zcr.ratio_max"))
    ok = [m for m in ms if m.zcr_ratio is not None]
    ratio = _median([m.zcr_ratio for m in ok])
    zo, zi = _median([m.zcr_hz for m in ok]), _median([m.zcr_input_hz for m in ok])
    zfull = _median([m.zcr_full_rate_hz for m in ok])
    ctx.record("convert_zcr_ratio", ratio)
    assert ratio is not None
    text = (f"zero-crossing rate {_hz(zo)} vs input {_hz(zi)} (ratio {_g(ratio)}, {_allowed(lo, hi)}; both at "
            f"16 kHz, the output at its own rate reads {_hz(zfull)}; medians over {scope})")
    details = dict(common, zcr_full_rate_hz=zfull)
    if lo <= ratio <= hi:
        return passed(cid, f"output {text}", measured=ratio, expected=f"{lo:g}–{hi:g}", details=details)
    return failed(cid, f"output {text}: {_zcr_reading(ratio, lo, hi)}", measured=ratio, expected=f"{lo:g}–{hi:g}",
                  cause=CAUSE_CONVERT, details=details)


def _convert_f0(ctx: ModelContext, ms: Sequence[Any], scope: str, common: dict, f0_model: bool,
                transpose: float) -> Finding:
    cid = "perceptual.convert_f0"
    if not f0_model:
        return skipped(cid, "the model has no pitch guidance (f0=0): RVC nof0 models do not follow a melody",
                       details=dict(common))
    early = _convert_unjudgeable(cid, ms, common)
    if early:
        return early
    comps = [m.f0 for m in ms if m.f0 is not None]
    if not comps:
        errs = "; ".join(f"{m.name}: {m.errors.get('f0')}" for m in ms if "f0" in m.errors)
        return skipped(cid, f"conversion F0: no reference clip with voiced input ({errs})", details=dict(common))
    return _judge_f0(ctx, cid, "perceptual.convert_f0", comps, "input", scope, common, CAUSE_CONVERT,
                     record="convert_f0_cents", voicing=True, transpose=transpose)


def _convert_level(ctx: ModelContext, ms: Sequence[Any], scope: str, common: dict) -> Finding:
    cid = "perceptual.convert_level"
    lo, hi = float(_thr(ctx, "perceptual.convert_level.min_rms_dbfs")), float(_thr(ctx, "perceptual.convert_level.max_rms_dbfs"))
    max_clip = float(_thr(ctx, "perceptual.convert_level.max_clipping"))
    ok = [m for m in ms if m.rms is not None]
    if not ok:
        why = next((f"{m.name}: {v}" for m in ms for v in m.errors.values()), "no clip measured")
        return failed(cid, f"output level cannot be measured: {why}", cause=CAUSE_CONVERT, details=dict(common))
    r = _median([m.rms for m in ok])
    ri = _median([m.rms_input for m in ok])
    pk = max(m.peak for m in ok if m.peak is not None)
    clip = max(m.clipping for m in ok if m.clipping is not None)
    assert r is not None
    db = 20 * math.log10(r) if r > 0 else -math.inf
    ctx.record("convert_rms_dbfs", db)
    text = (f"output RMS {_dbfs(r)} (input {_dbfs(ri)}; allowed {lo:g} to {hi:g} dBFS), peak {pk:.3f}, "
            f"clipped samples {100 * clip:.2f}% (limit {100 * max_clip:g}%; medians over {scope}, peak and "
            "clipping the worst clip)")
    problems = []
    if db < lo:
        problems.append("near-silent")
    if db > hi:
        problems.append("far too loud")
    if clip > max_clip:
        problems.append("clipping")
    if not problems:
        return passed(cid, f"output level is sane: {text}", measured=db, expected=f"{lo:g}..{hi:g} dBFS",
                      details=dict(common, peak=pk, clipping=clip))
    return failed(cid, f"output is {' and '.join(problems)}: {text}", measured=db, expected=f"{lo:g}..{hi:g} dBFS",
                  cause=CAUSE_CONVERT, details=dict(common, peak=pk, clipping=clip))


def _convert_duration(ctx: ModelContext, ms: Sequence[Any], scope: str, common: dict) -> Finding:
    cid = "perceptual.convert_duration"
    tol = float(_thr(ctx, "perceptual.convert_duration.tolerance"))
    min_s = float(_thr(ctx, "perceptual.convert_duration.min_seconds"))
    ok = [m for m in ms if m.duration_ratio is not None]
    if not ok:
        return skipped(cid, "conversion: no clip to time", details=dict(common))

    def off(m: Any) -> float:  # how far outside the allowance, in seconds (<= 0: within)
        return abs(m.duration_s - m.input_duration_s) - max(tol * m.input_duration_s, min_s)

    worst = max(ok, key=off)
    ratio = worst.duration_ratio
    ctx.record("convert_duration_ratio", ratio)
    text = (f"output {worst.duration_s:.3f} s for {worst.input_duration_s:.3f} s of input (ratio {ratio:.3f}; "
            f"allowed 1 ± {tol:g}, at least ± {1000 * min_s:.0f} ms; worst of {scope}: {worst.name})")
    if off(worst) <= 0:
        return passed(cid, f"conversion keeps timing: {text}", measured=ratio, expected=f"1 ± {tol:g}",
                      details=dict(common))
    return failed(cid, f"conversion changes the duration: {text}", measured=ratio, expected=f"1 ± {tol:g}",
                  cause="the model's hop (product of upsample_rates) does not match its sample rate: config[-1] "
                        "must equal 100 x prod(config[12]) (RVC_FORMATS 6 row 8)",
                  details=dict(common))


def _convert_speaker(ctx: ModelContext, convs: Sequence[Any], common: dict) -> Finding:
    cid = "perceptual.convert_speaker"
    from rvcqa.metrics import METRICS, speaker_similarity

    reason = METRICS["speaker_similarity"].skip_reason() if "speaker_similarity" in METRICS else "not available"
    if reason:
        return skipped(cid, f"speaker similarity skipped: {reason}", details=dict(common))
    target = _training_voice(ctx)
    if target is None:
        return skipped(cid, "speaker similarity needs training audio (0_gt_wavs / sliced_audios) for the target voice",
                       details=dict(common))
    voice, sr = target
    min_gain = float(_thr(ctx, "perceptual.convert_speaker.min_gain"))
    rows = []
    try:
        for c in convs:
            s_out = speaker_similarity(c.output, c.sample_rate, voice, sr)
            s_in = speaker_similarity(c.input16k, 16000, voice, sr)
            rows.append((c.source.name if c.source else "input", s_in, s_out))
    except RvcqaError as error:
        return skipped(cid, f"speaker similarity could not be computed: {error}", details=dict(common))
    gain = _median([o - i for _, i, o in rows])
    s_in_m, s_out_m = _median([i for _, i, _ in rows]), _median([o for _, _, o in rows])
    assert gain is not None
    ctx.record("convert_speaker_gain", gain)
    text = (f"resemblyzer cosine to the training voice: output {_g(s_out_m)}, input {_g(s_in_m)} "
            f"(gain {gain:+.3f}, need > {min_gain:g}; medians over {len(rows)} clips)")
    details = dict(common, similarities=[{"clip": n, "input": i, "output": o} for n, i, o in rows])
    if gain > min_gain:
        return passed(cid, f"the output moves towards the training voice: {text}", measured=gain,
                      expected=f"> {min_gain:g}", details=details)
    return failed(cid, f"the output does not sound more like the training voice than the input did: {text}",
                  measured=gain, expected=f"> {min_gain:g}", cause=CAUSE_CONVERT, details=details)


def _training_voice(ctx: ModelContext) -> Optional[tuple[np.ndarray, int]]:
    """A few GT segments concatenated (resemblyzer then averages its partial embeddings)."""
    from rvcqa.audio import load_audio
    from rvcqa.modeldir import stems

    files = list(stems(ctx.md.gt_wavs, ".wav").values())
    if not files:
        return None
    n = int(_thr(ctx, "perceptual.convert_speaker.target_segments"))
    rng = np.random.default_rng(ctx.options.seed)
    chosen = [files[int(i)] for i in sorted(rng.choice(len(files), size=min(n, len(files)), replace=False))]
    parts, sr = [], None
    for f in chosen:
        y, file_sr = load_audio(f)
        if sr is None:
            sr = file_sr
        if file_sr == sr:
            parts.append(y)
    assert sr is not None
    return np.concatenate(parts), sr


# --------------------------------------------------------------------------- verdict


def _state(findings: Sequence[Finding]) -> str:
    """"failed" if any failed, "passed" if any ran and none failed, else "skipped"."""
    if any(f.failed for f in findings):
        return "failed"
    if any(f.passed for f in findings):
        return "passed"
    return "skipped"


def _names(findings: Sequence[Finding]) -> str:
    return ", ".join(f.check.split(".", 1)[1] for f in findings if f.failed)


def _verdict(resynth: Sequence[Finding], convert: Sequence[Finding]) -> Finding:
    finding = _verdict_core(resynth, convert)
    dirs = sorted({f.details["output_dir"] for f in (*resynth, *convert) if f.details.get("output_dir")})
    if dirs:
        finding.message += f"; listen: {', '.join(dirs)}"
        finding.details["output_dirs"] = dirs
    return finding


def _verdict_core(resynth: Sequence[Finding], convert: Sequence[Finding]) -> Finding:
    cid = "perceptual.verdict"
    r, c = _state(resynth), _state(convert)
    details = {"resynthesis": r, "conversion": c}
    first_r = next((f.message for f in resynth if f.failed), "")
    first_c = next((f.message for f in convert if f.failed), "")
    if r == "passed" and c == "failed":
        return failed(
            cid,
            "the model is fine; the conversion pipeline is not (content features / F0 / settings): it reproduces "
            f"its own training segments, but conversion fails {_names(convert)} ({first_c})",
            cause="the conversion feeds the model other inputs than training did: check that the content "
                  "extractor is the one used for training (hubert_base.pt; v1 layer 9 + final_proj, v2 layer 12), "
                  "that F0 tracking works on the input, the transpose, and the index/protect settings",
            details=details,
        )
    if r == "failed" and c == "passed":
        return failed(
            cid,
            "conversion sounds fine but the model fails on its own training data: resynthesis fails "
            f"{_names(resynth)} ({first_r})",
            cause="the training data folders do not match what the model was trained on (features, F0 or "
                  "0_gt_wavs from another run or another extractor), or the model generalises but never fit "
                  "its targets; see dataset.* findings",
            details=details,
        )
    if r == "failed" and c == "failed":
        return failed(
            cid,
            "the model itself is broken: it fails on its own training segments (no HuBERT involved) and on "
            f"new speech; resynthesis fails {_names(resynth)} ({first_r})",
            cause=CAUSE_RESYNTH, details=details,
        )
    if r == "failed":  # conversion skipped
        return failed(
            cid,
            "the model itself is broken: it fails on its own training segments, where HuBERT and the conversion "
            f"pipeline play no part, so fixing the inference code will not help; resynthesis fails "
            f"{_names(resynth)} ({first_r})",
            cause=CAUSE_RESYNTH, details=details,
        )
    if r == "passed" and c == "passed":
        return passed(cid, "the model reproduces its training data and converts new speech cleanly", details=details)
    if r == "passed":
        why = next((f.message for f in convert if f.skipped), "conversion did not run")
        return skipped(
            cid,
            "resynthesis passes, so the model itself is sound; if your conversions sound like noise, the "
            f"conversion pipeline is the suspect ({why})",
            details=details,
        )
    if c == "failed":
        why = next((f.message for f in resynth if f.skipped), "resynthesis did not run")
        return failed(cid, f"conversion fails {_names(convert)} ({first_c}); resynthesis could not tell whether the "
                      f"model or the pipeline is at fault ({why})", cause=CAUSE_CONVERT, details=details)
    if c == "passed":
        return passed(cid, "conversion is clean (resynthesis did not run: "
                      f"{next((f.message for f in resynth if f.skipped), 'no training data')})", details=details)
    return skipped(cid, "neither resynthesis nor conversion could run: "
                   f"{next((f.message for f in resynth), '')}; {next((f.message for f in convert), '')}",
                   details=details)
