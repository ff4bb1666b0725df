"""Conversion checks (``perceptual.convert_*``): reference speech through RVC's pipeline, against its input."""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Sequence

from rvcqa.checks.perceptual.common import (
    allowed, band_text, dbfs, flat_num, for_all, hz, judge_f0, num3, progress_of, synthesizer_or_failures,
    zcr_reading,
)
from rvcqa.checks.perceptual.defaults import CAUSE_CONVERT, CONVERT_IDS, SPEECH_FLATNESS, thr
from rvcqa.checks.perceptual.speaker import convert_speaker
from rvcqa.errors import RvcqaError
from rvcqa.findings import Finding, failed, passed, skipped
from rvcqa.stats import median_or_none

if TYPE_CHECKING:
    from rvcqa.context import ModelContext


def findings(ctx: ModelContext) -> list[Finding]:
    from rvcqa.convert import Converter, PipelineSettings, convert_files, expand_inputs
    from rvcqa.measure import measure_conversion
    from rvcqa.outputs import safe_output_dir, write_json
    from rvcqa.retrieval import load_index
    from rvcqa.synth.synthesizer import phone_dim

    synth, failures = synthesizer_or_failures(ctx, CONVERT_IDS)
    if failures:
        return failures
    opts = ctx.options
    try:
        content, content_desc = ctx.content_model(synth.version)
    except RvcqaError as error:
        return for_all(CONVERT_IDS, failed, f"conversion: cannot load the content extractor: {error}")
    if content is None:
        return for_all(CONVERT_IDS, skipped, f"conversion {content_desc}")
    f0_model = bool(getattr(synth, "f0", True))
    try:
        rmvpe = None
        rmvpe_path = opts.rmvpe
        if rmvpe_path is not None and f0_model:
            from rvcqa.features.rmvpe import load_rmvpe

            rmvpe = ctx.cached("rmvpe", lambda: load_rmvpe(rmvpe_path, device=opts.device))
        retrieval, index_desc = load_index(ctx.md.index_files, phone_dim(synth.version))
        settings = PipelineSettings(
            transpose=float(opts.transpose), seed=int(opts.seed), f0_method="rmvpe" if rmvpe is not None else "pyin",
            flavour=ctx.pipeline_flavour(),
        )
        converter = Converter(synth, content, settings=settings, rmvpe=rmvpe, retrieval=retrieval)
        inputs = expand_inputs(opts.reference_audio)
        out_dir = safe_output_dir(opts.results_dir, ctx.md, ctx.name, "conversion")
        convs, bad_inputs = ctx.cached(
            "conversions", lambda: convert_files(converter, inputs, out_dir=out_dir, progress=progress_of(ctx))
        )
    except RvcqaError as error:
        return for_all(CONVERT_IDS, failed, f"conversion failed: {error}")
    if not convs:
        reasons = "; ".join(f"{Path(k).name}: {v}" for k, v in list(bad_inputs.items())[:3])
        return for_all(CONVERT_IDS, skipped, f"conversion: no usable reference audio ({reasons})")
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
    per_clip = [m.as_row() for m in ms]
    write_json(out_dir / "metrics.json", {"pipeline": common["pipeline"], "clips": per_clip, "skipped": bad_inputs})
    findings = [
        _convert_flatness(ctx, ms, scope, common),
        _convert_zcr(ctx, ms, scope, common),
        _convert_f0(ctx, ms, scope, common, f0_model, settings.transpose),
        _convert_level(ctx, ms, scope, common),
        _convert_duration(ctx, ms, scope, common),
        convert_speaker(ctx, convs, common),
    ]
    for f in findings:
        f.details.setdefault("per_clip", per_clip)
    return findings


def _convert_unjudgeable(cid: str, ms: Sequence[Any], common: dict[str, Any]) -> Optional[Finding]:
    bad = {m.name: m.errors["output"] for m in ms if "output" in m.errors}
    if bad:
        name, why = next(iter(bad.items()))
        return failed(cid, f"the converted output of {len(bad)} of {len(ms)} clips cannot be judged ({name}: {why})",
                      cause=CAUSE_CONVERT, details=dict(common))
    if all("input" in m.errors for m in ms):
        return skipped(cid, f"conversion: no reference clip could be measured ({ms[0].errors['input']})",
                       details=dict(common))
    return None


def _convert_flatness(ctx: ModelContext, ms: Sequence[Any], scope: str, common: dict[str, Any]) -> Finding:
    cid = "perceptual.convert_flatness"
    early = _convert_unjudgeable(cid, ms, common)
    if early:
        return early
    limit = float(thr(ctx, "perceptual.convert_flatness.max"))
    lo, hi = float(thr(ctx, "perceptual.convert_zcr.ratio_min")), float(thr(ctx, "perceptual.convert_zcr.ratio_max"))
    ok = [m for m in ms if m.flatness is not None]
    flat = median_or_none([m.flatness for m in ok])
    inp = median_or_none([m.flatness_input for m in ok])
    band = band_text([m.band_hz for m in ok if m.band_hz])
    zo, zi, ratio = median_or_none([m.zcr_hz for m in ok]), median_or_none([m.zcr_input_hz for m in ok]), median_or_none([m.zcr_ratio for m in ok])
    ctx.record("convert_flatness", flat)
    worst = max(ok, key=lambda m: m.flatness)
    tail = f"; medians over {scope}" + (f", worst {worst.name} ({flat_num(worst.flatness)})" if len(ok) > 1 else "")
    details = dict(common, band=band, flatness_input=inp)
    if flat is not None and flat < limit:
        return passed(cid, f"output is not noise-like: spectral flatness {flat_num(flat)} (input {flat_num(inp)}, {SPEECH_FLATNESS}) "
                      f"over {band}, both at 16 kHz{tail}", measured=flat, expected=f"< {limit:g}", details=details)
    return failed(
        cid,
        f"output is noise-like: spectral flatness {flat_num(flat)} (input {flat_num(inp)}, {SPEECH_FLATNESS}) over {band}; "
        f"zero-crossing rate {hz(zo)} vs input {hz(zi)} (ratio {num3(ratio)}, {allowed(lo, hi)}); both at 16 kHz{tail}",
        measured=flat, expected=f"< {limit:g}", cause=CAUSE_CONVERT, details=details,
    )


def _convert_zcr(ctx: ModelContext, ms: Sequence[Any], scope: str, common: dict[str, Any]) -> Finding:
    cid = "perceptual.convert_zcr"
    early = _convert_unjudgeable(cid, ms, common)
    if early:
        return early
    lo, hi = float(thr(ctx, "perceptual.convert_zcr.ratio_min")), float(thr(ctx, "perceptual.convert_zcr.ratio_max"))
    ok = [m for m in ms if m.zcr_ratio is not None]
    ratio = median_or_none([m.zcr_ratio for m in ok])
    zo, zi = median_or_none([m.zcr_hz for m in ok]), median_or_none([m.zcr_input_hz for m in ok])
    zfull = median_or_none([m.zcr_full_rate_hz for m in ok])
    ctx.record("convert_zcr_ratio", ratio)
    assert ratio is not None
    text = (f"zero-crossing rate {hz(zo)} vs input {hz(zi)} (ratio {num3(ratio)}, {allowed(lo, hi)}; both at "
            f"16 kHz, the output at its own rate reads {hz(zfull)}; medians over {scope})")
    details = dict(common, zcr_full_rate_hz=zfull)
    if lo <= ratio <= hi:
        return passed(cid, f"output {text}", measured=ratio, expected=f"{lo:g}–{hi:g}", details=details)
    return failed(cid, f"output {text}: {zcr_reading(ratio, lo, hi)}", measured=ratio, expected=f"{lo:g}–{hi:g}",
                  cause=CAUSE_CONVERT, details=details)


def _convert_f0(ctx: ModelContext, ms: Sequence[Any], scope: str, common: dict[str, Any], f0_model: bool,
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
    return judge_f0(ctx, cid, "perceptual.convert_f0", comps, "input", scope, common, CAUSE_CONVERT,
                     record="convert_f0_cents", voicing=True, transpose=transpose)


def _convert_level(ctx: ModelContext, ms: Sequence[Any], scope: str, common: dict[str, Any]) -> Finding:
    cid = "perceptual.convert_level"
    lo, hi = float(thr(ctx, "perceptual.convert_level.min_rms_dbfs")), float(thr(ctx, "perceptual.convert_level.max_rms_dbfs"))
    max_clip = float(thr(ctx, "perceptual.convert_level.max_clipping"))
    ok = [m for m in ms if m.rms is not None]
    if not ok:
        why = next((f"{m.name}: {v}" for m in ms for v in m.errors.values()), "no clip measured")
        return failed(cid, f"output level cannot be measured: {why}", cause=CAUSE_CONVERT, details=dict(common))
    r = median_or_none([m.rms for m in ok])
    ri = median_or_none([m.rms_input for m in ok])
    pk = max(m.peak for m in ok if m.peak is not None)
    clip = max(m.clipping for m in ok if m.clipping is not None)
    assert r is not None
    db = 20 * math.log10(r) if r > 0 else -math.inf
    ctx.record("convert_rms_dbfs", db)
    text = (f"output RMS {dbfs(r)} (input {dbfs(ri)}; allowed {lo:g} to {hi:g} dBFS), peak {pk:.3f}, "
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


def _convert_duration(ctx: ModelContext, ms: Sequence[Any], scope: str, common: dict[str, Any]) -> Finding:
    cid = "perceptual.convert_duration"
    tol = float(thr(ctx, "perceptual.convert_duration.tolerance"))
    min_s = float(thr(ctx, "perceptual.convert_duration.min_seconds"))
    ok = [m for m in ms if m.duration_ratio is not None]
    if not ok:
        return skipped(cid, "conversion: no clip to time", details=dict(common))

    def off(m: Any) -> float:  # how far outside the allowance, in seconds (<= 0: within)
        return float(abs(m.duration_s - m.input_duration_s) - max(tol * m.input_duration_s, min_s))

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
