"""Output failure modes beyond noise: a steady tone, silence, clipping, DC, sound in the pauses,
and a no-reference quality score.

Judged on the model's resynthesis of its own training segments (the same run and cache as
``perceptual.resynth_*``, so nothing is synthesised twice) and on one conversion probe: a
reference clip with one second of digital silence inserted, which a model trained with RVC's mute
lines keeps quiet. DNSMOS (speechmos + onnxruntime, models in the wheel) scores the resynthesis
without a reference; it skips with the install hint when the packages are absent.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np

from rvcqa.context import ModelContext
from rvcqa.errors import ModelDirError, RvcqaError
from rvcqa.findings import Finding, failed, passed, skipped, warning
from rvcqa.metrics.output import OutputSignal, level_in, measure_output

CHECK_IDS: tuple[str, ...] = (
    "perceptual.output_tonal",
    "perceptual.output_silence",
    "perceptual.output_clipping",
    "perceptual.output_dc",
    "perceptual.pause_noise",
    "perceptual.output_dnsmos",
)

DEFAULTS: dict[str, Any] = {
    # rvcqa.metrics.output.tonal_share: LJ Speech 0.46-0.66, the healthy fixture's resynthesis
    # 0.50-0.62; a 440 Hz beep and a 100 Hz ring 0.9999. Tonal collapse also needs a steady pitch:
    # speech spreads its F0 over > 1000 cents (10th-90th percentile), a beep 0.
    "perceptual.output_tonal.max_share": 0.9,
    "perceptual.output_tonal.max_spread_cents": 100.0,
    # A steady buzz rich in overtones is as collapsed as a beep but spreads its power: the trained
    # demo decoder stuck on its 100 Hz frame-rate buzz puts 42 % in the 5 peaks, yet every frame
    # holds one pitch (0 cents). Speech is periodic in 67-80 % of frames (the healthy resynthesis)
    # and glides over > 1000 cents, so a steady pitch through nearly all frames is a tone too.
    "perceptual.output_tonal.max_steady_frames": 0.9,
    # Output RMS (dBFS, offset removed) below which a resynthesised segment is silent: training
    # slices sit at -17 to -20 dBFS and the healthy resynthesis at -22 to -24; the untrained
    # fixtures' drift reads -49 and -50. -45 is perceptual.convert_level's near-silent bound too.
    "perceptual.output_silence.min_rms_dbfs": -45.0,
    # Share of output samples at |x| >= 0.999.
    "perceptual.output_clipping.max_share": 0.001,
    # |mean| of the output; the healthy resynthesis reads 0.001.
    "perceptual.output_dc.max": 0.02,
    # Output in the inserted 1 s of digital silence: fail when it is within this many dB of the
    # output speech level (sound as loud as speech where there is none), warn above the absolute
    # level. The healthy narrow fixture (custom trainer, no mute data) reads -37 dBFS, 14 dB
    # under its speech: a warning, truthfully.
    "perceptual.pause_noise.min_below_speech_db": 10.0,
    "perceptual.pause_noise.max_dbfs": -45.0,
    # DNSMOS OVRL (1-5), median over the resynthesised segments. METRICS.md: speech 3.01, white
    # noise 1.11; 1.5 fails noise and leaves room for a small model's dull but clean output.
    "perceptual.output_dnsmos.min_ovrl": 1.5,
}

PAUSE_S = 1.0
SPEECH_S = 2.0


def _thr(ctx: ModelContext, key: str) -> float:
    return float(ctx.threshold(key, DEFAULTS[key]))


def _synth(ctx: ModelContext) -> Any:
    """The loaded synthesizer (its type lives in rvcqa.synth, imported only when it runs)."""
    load: Any = getattr(ctx, "synthesizer")  # noqa: B009 - an Any view of an unannotated method
    return load()


def _resynthesis(ctx: ModelContext) -> tuple[list[Any], str]:
    rs = ctx.resynthesis()
    if not rs.results:
        raise ModelDirError("no usable training segment to resynthesise")
    return rs.results, f"{len(rs.results)} resynthesised training segments"


def _few(names: Sequence[str], n: int = 4) -> str:
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")


def _steady(m: OutputSignal, max_spread: float) -> bool:
    return m.f0_spread_cents is not None and m.f0_spread_cents < max_spread


def judge_tonal(ctx: ModelContext, ms: dict[str, OutputSignal], scope: str,
                refs: Optional[dict[str, OutputSignal]] = None) -> Finding:
    """A steady tone: a peaky spectrum or a pitch held through nearly every frame, and no glide.

    ``refs`` (the GT segment of each output) keep a held sung note from counting as a collapse:
    an output counts only where its reference is not itself a steady note."""
    cid = "perceptual.output_tonal"
    max_share = _thr(ctx, "perceptual.output_tonal.max_share")
    max_spread = _thr(ctx, "perceptual.output_tonal.max_spread_cents")
    max_frames = _thr(ctx, "perceptual.output_tonal.max_steady_frames")

    def collapsed(n: str, m: OutputSignal) -> bool:
        ref = (refs or {}).get(n)
        if ref is not None and _steady(ref, max_spread):
            return False
        peaky = m.tonal_share > max_share and (m.f0_spread_cents is None or _steady(m, max_spread))
        return peaky or (m.voiced_share > max_frames and _steady(m, max_spread))

    tonal = [n for n, m in ms.items() if collapsed(n, m)]
    held = [n for n in ms if (r := (refs or {}).get(n)) is not None and _steady(r, max_spread)]
    worst = tonal[0] if tonal else max(ms, key=lambda n: ms[n].tonal_share)
    w = ms[worst]
    spread = "n/a" if w.f0_spread_cents is None else f"{w.f0_spread_cents:.0f} cents"
    text = (f"{w.tonal_share:.0%} of the power in the 5 strongest spectral peaks (worst {worst}, strongest at "
            f"{w.dominant_hz:.0f} Hz, pitch spread {spread}, periodic in {w.voiced_share:.0%} of frames; speech "
            f"46-66 % and a gliding pitch, a beep ~100 %)")
    if tonal:
        return failed(cid, f"tonal collapse: {len(tonal)} of {len(ms)} outputs are a steady tone, not speech "
                           f"({_few(tonal)}): {text}", measured=round(w.tonal_share, 4),
                      expected=f"<= {max_share:g}, or a pitch spread >= {max_spread:g} cents",
                      cause="the generator collapsed to one frequency (its frame rate, or a stuck NSF sine): the "
                            "decoder no longer follows its input, e.g. a checkpoint saved after the losses went NaN, "
                            "or weights damaged in export. Use an earlier checkpoint (see provenance.*, training.*)")
    return passed(cid, f"{scope} are not tonal: {text}" + (f"; {_few(held)} hold one note in the GT too (not judged)" if held else ""), measured=round(w.tonal_share, 4),
                  expected=f"<= {max_share:g}")


def judge_silence(ctx: ModelContext, ms: dict[str, OutputSignal], scope: str) -> Finding:
    cid = "perceptual.output_silence"
    floor = _thr(ctx, "perceptual.output_silence.min_rms_dbfs")
    quiet = [n for n, m in ms.items() if m.rms_dbfs < floor]
    levels = [m.rms_dbfs for m in ms.values()]
    text = f"output RMS {min(levels):.1f} to {max(levels):.1f} dBFS over {scope} (limit {floor:g} dBFS)"
    if quiet:
        return failed(cid, f"silent output: {len(quiet)} of {len(ms)} outputs are (near) silence ({_few(quiet)}); {text}",
                      measured=round(min(levels), 1), expected=f">= {floor:g} dBFS",
                      cause="the decoder outputs (almost) nothing: zeroed or underflowed weights (an fp16 export of "
                            "a model with tiny weights), or a model that learned silence (mostly silent slices)")
    return passed(cid, text, measured=round(min(levels), 1), expected=f">= {floor:g} dBFS")


def judge_clipping(ctx: ModelContext, ms: dict[str, OutputSignal], scope: str) -> Finding:
    cid = "perceptual.output_clipping"
    limit = _thr(ctx, "perceptual.output_clipping.max_share")
    worst = max(ms, key=lambda n: ms[n].clipped_share)
    w = ms[worst]
    text = f"{w.clipped_share:.2%} of samples at full scale in {worst} (peak {w.peak:.3f}; limit {limit:.1%}; {scope})"
    if w.clipped_share > limit:
        return failed(cid, f"clipped output: {text}", measured=w.clipped_share, expected=f"<= {limit:g}",
                      cause="the generator's level ran away (training targets louder than full scale: see "
                            "dataset.gt_format / dataset.clipping) and its tanh output saturates")
    return passed(cid, text, measured=w.clipped_share, expected=f"<= {limit:g}")


def judge_dc(ctx: ModelContext, ms: dict[str, OutputSignal], scope: str) -> Finding:
    cid = "perceptual.output_dc"
    limit = _thr(ctx, "perceptual.output_dc.max")
    worst = max(ms, key=lambda n: abs(ms[n].dc))
    dc = ms[worst].dc
    text = f"largest output offset {dc:+.4f} in {worst} (limit {limit:g}; {scope})"
    if abs(dc) > limit:
        return failed(cid, f"DC offset in the output: {text}", measured=round(dc, 4), expected=f"|mean| <= {limit:g}",
                      cause="the training slices carry an offset (see dataset.dc_offset) or the decoder's last layer "
                            "learned a bias; it clicks at every start and stop")
    return passed(cid, text, measured=round(dc, 4), expected=f"|mean| <= {limit:g}")


def _pause_probe(ctx: ModelContext) -> tuple[np.ndarray, int, float]:
    """Convert the first reference clip with 1 s of digital silence after its first 2 s."""
    from rvcqa.convert import Converter, PipelineSettings, expand_inputs, load_input

    synth = _synth(ctx)
    opts = ctx.options
    content, desc = ctx.content_model(synth.version)
    if content is None:
        raise ModelDirError(f"conversion {desc}")
    inputs = expand_inputs(opts.reference_audio)
    if not inputs:
        raise ModelDirError("no reference audio to build the pause probe from")
    y = load_input(inputs[0])
    cut = min(int(SPEECH_S * 16000), y.size // 2)
    probe = np.concatenate([y[:cut], np.zeros(int(PAUSE_S * 16000), np.float32), y[cut:]])
    settings = PipelineSettings(transpose=float(opts.transpose), seed=int(opts.seed), flavour=ctx.pipeline_flavour())
    conv = Converter(synth, content, settings=settings).convert(probe, source=inputs[0])
    return conv.output, conv.sample_rate, cut / 16000


def check_pause(ctx: ModelContext) -> Finding:
    cid = "perceptual.pause_noise"
    try:
        out, sr, start = ctx.cached("output:pause_probe", lambda: _pause_probe(ctx))
    except ModelDirError as error:
        return skipped(cid, f"pause probe not possible: {error}")
    except RvcqaError as error:
        return failed(cid, f"pause probe failed: {error}")
    gap = level_in(out, sr, start, start + PAUSE_S)
    speech = level_in(out, sr, 0.0, start)
    below = speech - gap
    need = _thr(ctx, "perceptual.pause_noise.min_below_speech_db")
    top = _thr(ctx, "perceptual.pause_noise.max_dbfs")
    ctx.record("pause_noise_dbfs", round(gap, 1) if math.isfinite(gap) else gap)
    text = (f"converting speech with {PAUSE_S:g} s of digital silence inserted: {gap:.1f} dBFS in the pause, "
            f"{below:.0f} dB below the output speech ({speech:.1f} dBFS)")
    cause = ("the model never learned silence: filelist.txt had no mute lines (see dataset.mute_lines) or the "
             "training slices hold no pauses; silent input then comes out as breaths, consonants or hiss")
    if below < need:
        return failed(cid, f"noise where the input is silent: {text}; need >= {need:g} dB below",
                      measured=round(gap, 1), expected=f"<= speech - {need:g} dB", cause=cause)
    if gap > top:
        return warning(cid, f"audible output where the input is silent: {text}; quiet models stay under {top:g} dBFS",
                       measured=round(gap, 1), expected=f"<= {top:g} dBFS", cause=cause)
    return passed(cid, f"pauses stay quiet: {text}", measured=round(gap, 1), expected=f"<= {top:g} dBFS")


def check_dnsmos(ctx: ModelContext, results: list[Any], scope: str) -> Finding:
    cid = "perceptual.output_dnsmos"
    from rvcqa.metrics import METRICS, dnsmos

    reason = METRICS["dnsmos"].skip_reason() if "dnsmos" in METRICS else "not available"
    if reason:
        return skipped(cid, f"DNSMOS skipped: {reason}")
    limit = _thr(ctx, "perceptual.output_dnsmos.min_ovrl")
    scores = ctx.cached("output:dnsmos", lambda: {r.segment.stem: dnsmos(r.output, r.sample_rate) for r in results})
    ovrl = float(np.median([s.ovrl for s in scores.values()]))
    sig = float(np.median([s.sig for s in scores.values()]))
    bak = float(np.median([s.bak for s in scores.values()]))
    ctx.record("resynth_dnsmos_ovrl", round(ovrl, 2))
    text = (f"DNSMOS OVRL {ovrl:.2f} (SIG {sig:.2f}, BAK {bak:.2f}; medians over {scope}; speech ~3.0, white "
            f"noise 1.1, limit {limit:g})")
    if ovrl < limit:
        return failed(cid, f"the output does not sound like clean speech: {text}", measured=round(ovrl, 2),
                      expected=f">= {limit:g}", cause="noise, buzz or distortion in the output; see the other "
                                                       "perceptual.* findings for which")
    return passed(cid, text, measured=round(ovrl, 2), expected=f">= {limit:g}")


def run(ctx: ModelContext) -> list[Finding]:
    """One finding per id in :data:`CHECK_IDS`, in that order."""
    resynth: list[Finding]
    try:
        results, scope = _resynthesis(ctx)
    except ModelDirError as error:
        resynth = [skipped(c, f"resynthesis not possible: {error}") for c in CHECK_IDS[:4]]
        results, scope = [], ""
    except RvcqaError as error:
        resynth = [failed(c, f"the model cannot be run: {error}") for c in CHECK_IDS[:4]]
        results, scope = [], ""
    else:
        ms = ctx.cached("output:signals", lambda: {r.segment.stem: measure_output(r.output, r.sample_rate)
                                                   for r in results})
        refs = ctx.cached("output:gt_signals", lambda: {r.segment.stem: measure_output(r.target, r.sample_rate)
                                                        for r in results})
        resynth = [judge_tonal(ctx, ms, scope, refs), judge_silence(ctx, ms, scope), judge_clipping(ctx, ms, scope),
                   judge_dc(ctx, ms, scope)]
    dns = check_dnsmos(ctx, results, scope) if results else skipped(CHECK_IDS[5], "no resynthesis to score")
    return [*resynth, check_pause(ctx), dns]
