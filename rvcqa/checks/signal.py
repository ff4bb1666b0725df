"""Training data as signal: what the samples of ``0_gt_wavs`` (Applio: ``sliced_audios``) hold.

Headers and names are judged in :mod:`rvcqa.checks.dataset`; here every slice is read once
(:mod:`rvcqa.metrics.slices`) for its content band, clipping, DC, loudness and digital silence,
and the slice lengths are set against the training segment and RVC's bucket sampler. The mute
lines of ``filelist.txt`` are judged here too: they are what teaches the model silence.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from rvcqa.context import ModelContext
from rvcqa.dataset import Scan, scan
from rvcqa.dataset import natural_key as _natural
from rvcqa.errors import ModelDirError, RvcqaError
from rvcqa.facts import model_facts
from rvcqa.findings import Finding, failed, passed, skipped, warning
from rvcqa.metrics.slices import SliceSignal, measure_slice

CHECK_IDS: tuple[str, ...] = (
    "dataset.content_band",
    "dataset.clipping",
    "dataset.short_slices",
    "dataset.mute_lines",
    "dataset.loudness_spread",
    "dataset.dc_offset",
    "dataset.digital_silence",
)

DEFAULTS: dict[str, Any] = {
    # Content edge (rvcqa.metrics.band, 50 dB below the in-band level) as a share of the model's
    # Nyquist. Full-band 48 kHz speech reaches ~1.0; 22.05 kHz sources upsampled reach 0.44-0.51 of
    # 24 kHz, 16 kHz sources 0.32. 0.7 flags both and leaves 44.1 kHz sources (0.92) alone.
    "dataset.content_band.min_fraction": 0.7,
    # Share of slices that must be band-limited before the folder is called band-limited.
    "dataset.content_band.min_slices": 0.5,
    # rvcqa.metrics.slices.pile_up: clean LJ Speech at most 0.0003, sources clipped on >= 1 % of
    # their samples 0.002-0.017 after RVC's rescaling and resampling.
    "dataset.clipping.pile_up": 0.0015,
    # Share of slices with source clipping above which the folder fails rather than warns.
    "dataset.clipping.fail_share": 0.25,
    # Share of the training audio lost to dropped or padded slices above which the check fails.
    "dataset.short_slices.fail_share": 0.5,
    # Spread of slice RMS (dBFS), 90th minus 10th percentile. RVC rescales every slice to a peak of
    # ~0.9, which leaves speech within ~6 dB (LJ Speech fixtures: 3 dB); 15 dB means the slices were
    # not normalised and the model learns a loudness that depends on the clip.
    "dataset.loudness_spread.max_db": 15.0,
    # |mean| of a slice. RVC's preprocess high-passes at 48 Hz, leaving |mean| < 1e-4 (fixtures
    # 5e-5); 0.01 (-40 dBFS) is an offset no RVC-preprocessed slice has.
    "dataset.dc_offset.max": 0.01,
    # Longest run of digital silence (|x| <= 1 LSB of 16 bit) inside a slice. RVC's slicer keeps at
    # most 500 ms of silence (max_sil_kept) and real pauses carry room noise; 0.5 s of exact zeros
    # is a gap edited in, a dropout, or padding.
    "dataset.digital_silence.max_s": 0.5,
}


#: the first and last boundary of RVC's DistributedBucketSampler (train.py): it keeps a slice when
#: first < file size // (3 x hop) <= last
BUCKETS = (100, 900)


@dataclass
class Slices:
    """Measured slices by stem, and those that could not be read."""

    by_stem: dict[str, SliceSignal]
    unreadable: list[str]
    folder: str


def slices(ctx: ModelContext) -> Slices:
    return ctx.cached("signal:slices", lambda: _measure(ctx, scan(ctx)))


def _measure(ctx: ModelContext, sc: Scan) -> Slices:
    import soundfile as sf

    out: dict[str, SliceSignal] = {}
    bad: list[str] = []
    for stem, path in sc.stems.get("gt_wavs", {}).items():
        try:
            x, sr = sf.read(str(path), dtype="float32", always_2d=True)
        except (RuntimeError, OSError, ValueError):
            bad.append(stem)
            continue
        y = np.nan_to_num(x[:, 0], nan=0.0, posinf=0.0, neginf=0.0)
        out[stem] = measure_slice(y, int(sr))
    return Slices(out, bad, sc.folder_name("gt_wavs"))


def _few(items: list[str], n: int = 5) -> str:
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.1f} s"


# --------------------------------------------------------------------------- checks

def check_content_band(ctx: ModelContext, sl: Slices) -> Finding:
    cid = "dataset.content_band"
    facts = model_facts(ctx)
    sr = facts.sr or next((s.sr for s in sl.by_stem.values()), None)
    if not sr:
        return skipped(cid, "the model's sample rate is unknown")
    nyq = sr / 2
    frac = float(ctx.threshold("dataset.content_band.min_fraction", DEFAULTS["dataset.content_band.min_fraction"]))
    need = float(ctx.threshold("dataset.content_band.min_slices", DEFAULTS["dataset.content_band.min_slices"]))
    edges = {s: v.edge_hz for s, v in sl.by_stem.items() if v.edge_hz is not None}
    if not edges:
        return skipped(cid, f"no slice in {sl.folder} has content to measure")
    low = sorted((s for s, e in edges.items() if e < frac * nyq), key=_natural)
    median = float(np.median(list(edges.values())))
    ctx.record("dataset.content_edge_hz", round(median))
    details = {"median_edge_hz": median, "nyquist_hz": nyq, "band_limited": low[:20]}
    text = (f"content band of {sl.folder} ends at {median / 1000:.1f} kHz (median of {len(edges)} slices) for a "
            f"{sr // 1000} kHz model (Nyquist {nyq / 1000:.0f} kHz)")
    if len(low) >= need * len(edges):
        source = 2 * median / 1000
        return warning(
            cid, f"band-limited training audio: {text}; {len(low)} of {len(edges)} slices stop below "
                 f"{frac * nyq / 1000:.1f} kHz ({_few(low)}). The model learns no highs: the voice will sound dull "
                 "(and users call such 48k models robotic or muffled)",
            measured=round(median), expected=f">= {frac * nyq:.0f} Hz", details=details,
            cause=f"the sources were recorded or stored at about {source:.0f} kHz (or as low-bitrate MP3) and "
                  "resampled up by 'Process data'. Use full-band sources, or train a model at a rate the sources "
                  f"carry (a 32k model for {source:.0f} kHz sources)",
        )
    return passed(cid, text, measured=round(median), expected=f">= {frac * nyq:.0f} Hz", details=details)


def check_clipping(ctx: ModelContext, sl: Slices) -> Finding:
    cid = "dataset.clipping"
    limit = float(ctx.threshold("dataset.clipping.pile_up", DEFAULTS["dataset.clipping.pile_up"]))
    fail_share = float(ctx.threshold("dataset.clipping.fail_share", DEFAULTS["dataset.clipping.fail_share"]))
    over = sorted((s for s, v in sl.by_stem.items() if v.over_full_scale), key=_natural)
    plateau = sorted((s for s, v in sl.by_stem.items() if v.pile_up > limit), key=lambda s: -sl.by_stem[s].pile_up)
    n = len(sl.by_stem)
    details = {"over_full_scale": {s: sl.by_stem[s].over_full_scale for s in over[:20]},
               "pile_up": {s: round(sl.by_stem[s].pile_up, 5) for s in plateau[:20]}}
    if over:
        total = sum(sl.by_stem[s].over_full_scale for s in over)
        top = max(sl.by_stem[s].peak for s in over)
        return failed(
            cid, f"{len(over)} of {n} slices in {sl.folder} hold {total} float samples beyond +-1 (peak {top:.2f}; "
                 f"{_few(over)}): the generator's tanh output cannot reach them",
            measured=len(over), expected=0, details=details,
            cause="float slices written from un-normalised audio; RVC's author names out-of-range training audio "
                  "as a cause of NaN losses. Normalise the sources (or re-run 'Process data')",
        )
    if not plateau:
        worst = max((v.pile_up for v in sl.by_stem.values()), default=0.0)
        return passed(cid, f"no clipping in {n} slices (largest pile-up at the peak {worst:.5f}, limit {limit:g})",
                      measured=worst, expected=f"<= {limit:g}", details=details)
    make = failed if len(plateau) > fail_share * n else warning
    return make(
        cid, f"{len(plateau)} of {n} slices in {sl.folder} were clipped before preprocessing: their samples pile "
             f"up at a plateau below the peak ({_few(plateau)}; worst {sl.by_stem[plateau[0]].pile_up:.2%} of "
             "samples). The model learns the distortion",
        measured=len(plateau), expected=0, details=details,
        cause="source recordings clipped at full scale (too much gain, a limiter); RVC rescales each slice, so the "
              "flat tops end up at ~0.9, not at 1.0. Re-record or de-clip the sources",
    )


def _segment_samples(ctx: ModelContext) -> tuple[int | None, str]:
    try:
        cfg = ctx.config_json()
    except RvcqaError:  # a broken config.json is structure.*'s finding
        cfg = None
    train = cfg.get("train") if isinstance(cfg, dict) else None
    seg = train.get("segment_size") if isinstance(train, dict) else None
    if isinstance(seg, int) and seg > 0:
        return seg, "config.json train.segment_size"
    return None, ""


def check_short_slices(ctx: ModelContext, sl: Slices, sc: Scan) -> Finding:
    cid = "dataset.short_slices"
    seg, source = _segment_samples(ctx)
    facts = model_facts(ctx)
    hop = facts.hop
    fail_share = float(ctx.threshold("dataset.short_slices.fail_share", DEFAULTS["dataset.short_slices.fail_share"]))
    if seg is None and not (hop and sc.layout == "rvc"):
        return skipped(cid, "neither config.json's segment_size nor the hop length is known")
    total = sum(v.seconds for v in sl.by_stem.values())
    padded = sorted((s for s, v in sl.by_stem.items() if seg and v.samples < seg), key=_natural)
    dropped: list[str] = []
    if hop and sc.layout == "rvc":
        size = {s: i.size for s, i in sc.gt.items()}
        dropped = sorted((s for s in sl.by_stem if s in size and not BUCKETS[0] < size[s] // (3 * hop) <= BUCKETS[-1]),
                         key=_natural)
    padded = [s for s in padded if s not in dropped]
    lost = sum(sl.by_stem[s].seconds for s in set(dropped) | set(padded))
    details = {"segment_samples": seg, "hop": hop, "dropped": dropped[:20], "padded": padded[:20],
               "lost_seconds": lost, "total_seconds": total}
    seg_text = f"the training segment of {seg} samples ({seg / (facts.sr or sl_sr(sl)):.2f} s, {source})" if seg else ""
    if not dropped and not padded:
        ok = [f"every slice is longer than {seg_text}"] if seg else []
        if hop and sc.layout == "rvc":
            ok.append("every slice fits RVC's bucket sampler (100 < file size // (3 x hop) <= 900)")
        return passed(cid, "; ".join(ok), measured=0, expected=0, details=details)
    parts = []
    if dropped:
        parts.append(f"RVC's bucket sampler drops {len(dropped)} slices outside 100 < file size // (3 x hop {hop}) <= 900 "
                     f"({_minutes(sum(sl.by_stem[s].seconds for s in dropped))}: {_few(dropped)})")
    if padded:
        parts.append(f"{len(padded)} slices are shorter than {seg_text} and are padded with silence "
                     f"({_minutes(sum(sl.by_stem[s].seconds for s in padded))}: {_few(padded)})")
    share = lost / total if total else 0.0
    make = failed if share > fail_share else warning
    return make(
        cid, "; ".join(parts) + f": {_minutes(lost)} of {_minutes(total)} ({share:.0%}) of the training audio is "
                                 "not trained as cut",
        measured=round(lost, 2), expected=0, details=details,
        cause="a custom slicer (or Applio's 'Skip' cut mode) left very short or very long slices; RVC's preprocess "
              "cuts 3.7 s chunks and drops nothing. Re-slice into 1-4 s pieces",
    )


def sl_sr(sl: Slices) -> int:
    return next((v.sr for v in sl.by_stem.values()), 1) or 1


def check_mute_lines(ctx: ModelContext, sc: Scan) -> Finding:
    cid = "dataset.mute_lines"
    try:
        entries = ctx.filelist()
    except ModelDirError as exc:
        return skipped(cid, f"{exc} (see dataset.filelist)")
    if entries is None:
        return skipped(cid, "no filelist.txt (RVC writes it when training starts)")
    facts = model_facts(ctx)
    mutes = [e for e in entries if e.mute]
    sr_tag = f"{facts.sr // 1000}k" if facts.sr else "48k"
    feat = "3_feature256" if facts.version == "v1" else "3_feature768"
    fix = (f"append RVC's two lines '<RVC root>/logs/mute/0_gt_wavs/mute{sr_tag}.wav|<RVC root>/logs/mute/{feat}/mute.npy"
           + ("|<RVC root>/logs/mute/2a_f0/mute.wav.npy|<RVC root>/logs/mute/2b-f0nsf/mute.wav.npy" if sc.f0_expected else "")
           + "|0' to filelist.txt (what click_train writes; Applio: logs/mute/sliced_audios/...) and train again")
    if not mutes:
        return warning(
            cid, f"filelist.txt has no mute lines (RVC's click_train adds 2): the model never saw silence, so silent "
                 f"or quiet input comes out as random consonants, breaths or noise. Fix: {fix}",
            measured=0, expected=2,
            cause="the filelist was written by a custom script or edited by hand (RVC's changelog: the mute lines "
                  "were added to stop noise in silent passages)",
        )
    wrong = [e for e in mutes if facts.sr and f"mute{sr_tag}" not in e.fields[0] and "mute" + str(facts.sr) not in e.fields[0]]
    if wrong:
        name = wrong[0].fields[0].replace("\\", "/").rsplit("/", 1)[-1]
        return warning(cid, f"{len(wrong)} mute lines point to {name}, not the {sr_tag} mute file of this model",
                       measured=name, expected=f"mute{sr_tag}.wav",
                       cause="the filelist was copied from an experiment at another rate; RVC's loader stops with "
                             f"'SR doesn't match target SR'. Fix: {fix}")
    return passed(cid, f"filelist.txt has {len(mutes)} mute lines", measured=len(mutes), expected=">= 2")


def check_loudness(ctx: ModelContext, sl: Slices) -> Finding:
    cid = "dataset.loudness_spread"
    limit = float(ctx.threshold("dataset.loudness_spread.max_db", DEFAULTS["dataset.loudness_spread.max_db"]))
    levels = {s: v.rms_dbfs for s, v in sl.by_stem.items() if math.isfinite(v.rms_dbfs)}
    if len(levels) < 2:
        return skipped(cid, f"fewer than two slices with signal in {sl.folder}")
    p10, p50, p90 = (float(np.percentile(list(levels.values()), q)) for q in (10, 50, 90))
    spread = p90 - p10
    ctx.record("dataset.loudness_spread_db", round(spread, 1))
    quiet = sorted(levels, key=lambda s: levels[s])[:3]
    text = (f"slice RMS {p10:.1f} to {p90:.1f} dBFS (10th-90th percentile, median {p50:.1f}): spread {spread:.1f} dB, "
            f"limit {limit:g}")
    if spread > limit:
        return warning(cid, f"loudness varies widely across {len(levels)} slices: {text}; quietest "
                            + ", ".join(f"{s} ({levels[s]:.1f} dBFS)" for s in quiet),
                       measured=round(spread, 1), expected=f"<= {limit:g} dB",
                       cause="slices were not level-normalised (Applio with normalisation off, or slices from "
                             "recordings at very different gains); the output level then jumps with the input. "
                             "Normalise the sources")
    return passed(cid, text, measured=round(spread, 1), expected=f"<= {limit:g} dB")


def check_dc(ctx: ModelContext, sl: Slices) -> Finding:
    cid = "dataset.dc_offset"
    limit = float(ctx.threshold("dataset.dc_offset.max", DEFAULTS["dataset.dc_offset.max"]))
    bad = sorted((s for s, v in sl.by_stem.items() if abs(v.dc) > limit), key=lambda s: -abs(sl.by_stem[s].dc))
    worst = max((abs(v.dc) for v in sl.by_stem.values()), default=0.0)
    if bad:
        return warning(cid, f"{len(bad)} of {len(sl.by_stem)} slices in {sl.folder} carry a DC offset (worst "
                            f"{sl.by_stem[bad[0]].dc:+.3f} in {bad[0]}; {_few(bad)})",
                       measured=round(worst, 4), expected=f"|mean| <= {limit:g}",
                       cause="slices not written by RVC's preprocess (it high-passes at 48 Hz) from a recording "
                             "chain with an offset; the model learns a constant offset. High-pass the sources")
    return passed(cid, f"no DC offset (largest |mean| {worst:.1e}, limit {limit:g})", measured=worst,
                  expected=f"<= {limit:g}")


def check_digital_silence(ctx: ModelContext, sl: Slices) -> Finding:
    cid = "dataset.digital_silence"
    limit = float(ctx.threshold("dataset.digital_silence.max_s", DEFAULTS["dataset.digital_silence.max_s"]))
    runs = {s: v.longest_zero_s for s, v in sl.by_stem.items()}
    bad = sorted((s for s, r in runs.items() if r > limit), key=lambda s: -runs[s])
    worst = max(runs.values(), default=0.0)
    if bad:
        return warning(cid, f"{len(bad)} of {len(runs)} slices in {sl.folder} hold more than {limit:g} s of digital "
                            f"silence (longest {worst:.2f} s in {bad[0]}; {_few(bad)})",
                       measured=round(worst, 2), expected=f"<= {limit:g} s",
                       cause="gaps muted in an editor, dropouts, or zero padding by a custom slicer; RVC's slicer "
                             "keeps at most 0.5 s of (real) silence. Cut the gaps out of the sources")
    return passed(cid, f"no long digital silence inside slices (longest {worst:.2f} s, limit {limit:g} s)",
                  measured=round(worst, 2), expected=f"<= {limit:g} s")


_SIGNAL: tuple[tuple[str, Callable[[ModelContext, Slices], Finding]], ...] = (
    ("dataset.content_band", check_content_band),
    ("dataset.clipping", check_clipping),
    ("dataset.loudness_spread", check_loudness),
    ("dataset.dc_offset", check_dc),
    ("dataset.digital_silence", check_digital_silence),
)


def run(ctx: ModelContext) -> list[Finding]:
    """One finding per id in :data:`CHECK_IDS`, in that order."""
    sc = scan(ctx)
    out: dict[str, Finding] = {"dataset.mute_lines": check_mute_lines(ctx, sc)}
    if sc.folders.get("gt_wavs") is None:
        why = "no training slices (0_gt_wavs / sliced_audios) to read"
        out.update({cid: skipped(cid, why) for cid in CHECK_IDS if cid != "dataset.mute_lines"})
    else:
        sl = slices(ctx)
        if not sl.by_stem:
            why = f"no readable slice in {sl.folder}"
            out.update({cid: skipped(cid, why) for cid in CHECK_IDS if cid != "dataset.mute_lines"})
        else:
            for cid, fn in _SIGNAL:
                out[cid] = fn(ctx, sl)
            out["dataset.short_slices"] = check_short_slices(ctx, sl, sc)
    return [out[cid] for cid in CHECK_IDS]
