"""Training-data health: what preprocessing and feature extraction left in ``logs/NAME``.

Layout facts: RVC_FORMATS.md sections 3.1 (RVC) and 3.2 (Applio); coarse pitch 5.4; failure modes
6 (rows 2, 8, 10). Headers are read with ``soundfile.info`` and arrays with ``np.load(mmap_mode="r")``
so a folder of thousands of slices is judged in seconds; only the GT level check reads samples.
Nothing here writes into the model directory.
"""
from __future__ import annotations

import math
import re
from typing import Any, Callable

import numpy as np

from rvcqa.context import ModelContext
from rvcqa.dataset import (
    F0_MAX,
    F0_MIN,
    Scan,
    coarse_pitch,
    f0_stats,
    feature_stats,
    natural_key,
    normalise_path,
    parse_filelist,
    scan,
)
from rvcqa.errors import RvcqaError
from rvcqa.facts import model_facts
from rvcqa.findings import Finding, failed, passed, skipped, warning

CHECK_IDS: tuple[str, ...] = (
    "dataset.folders",
    "dataset.stems",
    "dataset.gt_sample_rate",
    "dataset.wav16k_sample_rate",
    "dataset.durations",
    "dataset.gt_format",
    "dataset.gt_levels",
    "dataset.segment_lengths",
    "dataset.features",
    "dataset.frames",
    "dataset.f0_values",
    "dataset.filelist",
    "dataset.total_duration",
    "dataset.index",
)

DEFAULTS: dict[str, Any] = {
    # Largest |GT duration - 16k duration| per slice. RVC resamples each slice to 16 kHz with
    # librosa, so the two agree to within a sample; 0.02 s (one HuBERT frame, and the tolerance the
    # lexi report used) flags slices that were cut separately.
    "dataset.durations.max_diff_s": 0.02,
    # Allowed |f0 frames - 2 x feature frames| and |f0 frames - (N16 // 160 + 1)|. By arithmetic,
    # f0 frames - 2 x HuBERT frames is 1..3 for harvest/dio/rmvpe (N//160+1 vs 2*((N-400)//320+1))
    # and 0..2 for pm (padded to N//160); 4 frames (40 ms) leaves one frame of slack.
    "dataset.frames.tolerance": 4,
    # Peak of a GT slice: the generator ends in tanh, so targets above 1.0 cannot be reached; RVC's
    # preprocess scales every slice to a peak of about 0.9.
    "dataset.gt_levels.max_peak": 1.0,
    # A slice whose peak is below this (-40 dBFS) is near-silent: RVC's preprocess normalises every
    # slice to ~0.9, so such a slice was not written by it, or is silence the slicer kept.
    "dataset.gt_levels.silent_peak": 0.01,
    # Consecutive samples at >= 0.999 full scale that count as one clipping run.
    "dataset.gt_levels.clip_run": 3,
    # Fraction of voiced 2b-f0nsf frames allowed outside RVC's f0 range 50..1100 Hz (rmvpe can
    # decode 32..2000 Hz, so a few are normal; the coarse mapping clips them to 1/255).
    "dataset.f0_values.max_out_of_range": 0.01,
    # Below this voiced fraction the f0 extractor found almost no pitch (speech is ~50-80% voiced).
    "dataset.f0_values.min_voiced": 0.2,
    # Less data than this is warned about: RVC's README calls 10 minutes of clean speech enough
    # for a good model; half of that (5 minutes) is where users report thin, unstable voices.
    # The lexi report had ~10 minutes in 84 segments, which passes.
    "dataset.total_duration.min_seconds": 300.0,
    # Largest relative difference between an index's ntotal and the feature frames on disk
    # (RVC's index holds every row of 3_feature*/ unless > 200000 rows, then 10000 k-means centers).
    "dataset.index.max_ntotal_diff": 0.01,
}

#: RVC's DistributedBucketSampler boundaries (train.py) and the mute files' length estimate
BUCKETS = (100, 200, 300, 400, 500, 600, 700, 800, 900)
_FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")


# --------------------------------------------------------------------------- helpers

def _few(items: list[str] | tuple[str, ...], n: int = 5) -> str:
    items = list(items)
    if len(items) <= n:
        return ", ".join(items)
    return f"{', '.join(items[:n])} and {len(items) - n} more"


def _hz(sr: int | None) -> str:
    return f"{sr} Hz" if sr else "unknown rate"


def _skip_no_data(ctx: ModelContext, cid: str) -> Finding:
    misspelt = ctx.md.misspelt_folders
    extra = ""
    if misspelt:
        extra = "; found " + ", ".join(f"{w} (RVC's name is {r})" for w, r in misspelt.items())
    return skipped(
        cid,
        f"no training data folders in {ctx.md.root} (0_gt_wavs, 1_16k_wavs, 2a_f0, 2b-f0nsf, "
        f"3_feature768 or Applio's sliced_audios, f0, extracted){extra}: dataset checks need the "
        "experiment folder logs/NAME that preprocessing wrote",
    )


# --------------------------------------------------------------------------- checks

def check_folders(ctx: ModelContext, sc: Scan) -> Finding:
    cid = "dataset.folders"
    missing = [r for r in sc.required if sc.folders.get(r) is None]
    counts = {sc.folder_name(r): len(sc.stems.get(r, {})) for r in sc.required if sc.folders.get(r) is not None}
    empty = [name for name, n in counts.items() if n == 0]
    misspelt = ctx.md.misspelt_folders
    details = {"layout": sc.layout, "counts": counts, "missing": [sc.folder_name(r) for r in missing]}
    if missing or empty:
        names = [sc.folder_name(r) for r in missing]
        hint = ""
        if misspelt:
            hint = " Found " + ", ".join(f"{w} where RVC expects {r}" for w, r in misspelt.items()) + "."
        steps = []
        if any(r in missing for r in ("gt_wavs", "wavs16k")):
            steps.append("'Process data' (step 1) writes 0_gt_wavs and 1_16k_wavs")
        if any(r in missing for r in ("f0_coarse", "f0_hz", "features")):
            steps.append("'Feature extraction' (step 2) writes 2a_f0, 2b-f0nsf and 3_feature768/256")
        what = []
        if names:
            what.append(f"missing {', '.join(names)}")
        if empty:
            what.append(f"empty {', '.join(empty)}")
        return failed(
            cid,
            f"training data folders incomplete in {sc.layout} layout: {'; '.join(what)}.{hint}",
            measured=counts, expected=[sc.folder_name(r) for r in sc.required],
            cause=("a preprocessing step was not run or its folder was deleted/renamed: "
                   + "; ".join(steps) if steps else "folders deleted or renamed after preprocessing"),
            details=details,
        )
    note = ""
    if misspelt:
        note = " (also found " + ", ".join(misspelt) + ", which RVC does not read)"
    return passed(cid, f"{sc.layout} data folders present: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + note,
                  measured=counts, details=details)


def check_stems(ctx: ModelContext, sc: Scan) -> Finding:
    cid = "dataset.stems"
    roles = [r for r in sc.required if sc.folders.get(r) is not None]
    union: set[str] = set()
    for r in roles:
        union |= set(sc.stems[r])
    counts = {sc.folder_name(r): len(sc.stems[r]) for r in roles}
    missing = {sc.folder_name(r): sorted(union - set(sc.stems[r]), key=natural_key) for r in roles}
    missing = {k: v for k, v in missing.items() if v}
    ctx.record("dataset.segments", len(sc.complete))
    table = ", ".join(f"{k} {v}" for k, v in counts.items())
    if not missing:
        return passed(cid, f"the same {len(sc.complete)} slices in every folder ({table})", measured=counts,
                      details={"counts": counts})
    lines = "; ".join(f"missing in {k}: {_few(v)}" for k, v in missing.items())
    nan_hint = ""
    log = ctx.md.extract_log
    if log is not None:
        try:
            n_nan = sum("contains nan" in line for line in log.read_text(encoding="utf-8", errors="replace").splitlines())
        except OSError:
            n_nan = 0
        if n_nan:
            nan_hint = f" extract_f0_feature.log reports {n_nan} file(s) that 'contains nan'."
    feature_missing = sc.folder_name("features") in missing
    cause = (
        "feature extraction failed for these slices: RVC does not save features that contain NaN "
        "(look for '-contains nan' in extract_f0_feature.log), or the extraction was interrupted"
        if feature_missing else
        "the folders come from different preprocessing runs, or files were deleted by hand; re-run "
        "'Process data' and 'Feature extraction' for this experiment name"
    )
    return failed(
        cid,
        f"slices differ between folders ({table}); {lines}. RVC trains only on slices present in all "
        f"folders, so {len(union) - len(sc.complete)} slice(s) are silently left out.{nan_hint}",
        measured=counts, expected=f"{len(union)} in each", cause=cause,
        details={"counts": counts, "missing": missing},
    )


def check_gt_sample_rate(ctx: ModelContext, sc: Scan) -> Finding:
    cid = "dataset.gt_sample_rate"
    gt_name = sc.folder_name("gt_wavs")
    if not sc.gt:
        return skipped(cid, f"no readable wavs in {gt_name}")
    facts = model_facts(ctx)
    rates: dict[int, list[str]] = {}
    for stem, info in sc.gt.items():
        rates.setdefault(info.samplerate, []).append(stem)
    summary = ", ".join(f"{len(v)} at {k} Hz" for k, v in sorted(rates.items(), key=lambda kv: -len(kv[1])))
    if facts.sr is None:
        if len(rates) == 1:
            return warning(cid, f"{gt_name}: all {len(sc.gt)} wavs at {next(iter(rates))} Hz; the model's rate is unknown "
                                "(no loadable inference model, config.json or training log) so it cannot be compared",
                           measured=summary)
        return failed(cid, f"{gt_name} mixes sample rates ({summary})", measured=summary,
                      cause="slices from two preprocessing runs with different target rates share the folder")
    wrong = {r: v for r, v in rates.items() if r != facts.sr}
    multi = [s for s, i in sc.gt.items() if i.channels != 1]
    if not wrong and not multi:
        return passed(cid, f"all {len(sc.gt)} wavs in {gt_name} at {facts.sr} Hz ({facts.sr_source})",
                      measured=facts.sr, expected=facts.sr)
    if wrong:
        n_wrong = sum(len(v) for v in wrong.values())
        stems_wrong = sorted((s for v in wrong.values() for s in v), key=natural_key)
        return failed(
            cid,
            f"{n_wrong} of {len(sc.gt)} wavs in {gt_name} are not at the model's {facts.sr} Hz "
            f"({facts.sr_source}): {summary}; e.g. {_few(stems_wrong)}",
            measured=summary, expected=f"{facts.sr} Hz",
            cause=("the data was preprocessed for another target sample rate: the experiment name was reused "
                   "with a different sr (RVC never clears logs/NAME or rewrites config.json), or the slices come "
                   "from another tool. RVC's loader stops with \"SR doesn't match target SR\"; a custom loader "
                   "that resamples silently trains on wrongly pitched targets. Re-run 'Process data' at the model's rate"),
            details={"rates": {k: len(v) for k, v in rates.items()}},
        )
    return failed(cid, f"{len(multi)} wavs in {gt_name} are not mono (e.g. {_few(multi)})",
                  measured=f"{len(multi)} multi-channel", expected="mono",
                  cause="slices written by a tool other than RVC's preprocess (it writes mono)")


def check_wav16k_rate(ctx: ModelContext, sc: Scan) -> Finding:
    cid = "dataset.wav16k_sample_rate"
    name = sc.folder_name("wavs16k")
    if not sc.w16:
        return skipped(cid, f"no readable wavs in {name}")
    wrong = sorted((s for s, i in sc.w16.items() if i.samplerate != 16000), key=natural_key)
    if not wrong:
        return passed(cid, f"all {len(sc.w16)} wavs in {name} at 16000 Hz", measured=16000, expected=16000)
    rates = sorted({sc.w16[s].samplerate for s in wrong})
    return failed(
        cid, f"{len(wrong)} of {len(sc.w16)} wavs in {name} are not 16 kHz ({', '.join(map(str, rates))} Hz; e.g. {_few(wrong)})",
        measured=rates, expected=16000,
        cause="HuBERT and the f0 extractors assume 16 kHz input: features and pitch were computed at the wrong "
              "time scale. The 16 kHz copies were not written by RVC's 'Process data'",
    )


def check_durations(ctx: ModelContext, sc: Scan) -> Finding:
    cid = "dataset.durations"
    limit = float(ctx.threshold("dataset.durations.max_diff_s", DEFAULTS["dataset.durations.max_diff_s"]))
    both = [s for s in sc.gt if s in sc.w16]
    if not both:
        return skipped(cid, f"no slice is in both {sc.folder_name('gt_wavs')} and {sc.folder_name('wavs16k')}")
    diffs = {s: sc.gt[s].duration - sc.w16[s].duration for s in both}
    worst = max(diffs.values(), key=abs)
    bad = sorted((s for s, d in diffs.items() if abs(d) > limit), key=lambda s: -abs(diffs[s]))
    ctx.record("dataset.max_duration_diff_s", round(abs(worst), 4))
    if not bad:
        return passed(cid, f"GT and 16 kHz durations agree for all {len(both)} slices (largest difference "
                           f"{abs(worst) * 1000:.1f} ms, limit {limit * 1000:.0f} ms)",
                      measured=round(abs(worst), 4), expected=f"<= {limit}")
    examples = ", ".join(f"{s} ({sc.gt[s].duration:.2f} s vs {sc.w16[s].duration:.2f} s)" for s in bad[:4])
    return failed(
        cid,
        f"{len(bad)} of {len(both)} slices differ in length between {sc.folder_name('gt_wavs')} and "
        f"{sc.folder_name('wavs16k')} by more than {limit:.2f} s: {examples}",
        measured=round(abs(worst), 4), expected=f"<= {limit} s",
        cause="the 16 kHz copies were cut separately from the GT slices (a custom slicer, or folders from "
              "different runs): HuBERT features and pitch then describe other audio than the target, and the "
              "model learns a misaligned mapping. RVC's 'Process data' writes both from the same slice",
        details={"worst": {s: round(diffs[s], 4) for s in bad[:10]}},
    )


def check_gt_format(ctx: ModelContext, sc: Scan) -> Finding:
    cid = "dataset.gt_format"
    name = sc.folder_name("gt_wavs")
    if not sc.gt:
        return skipped(cid, f"no readable wavs in {name}")
    subtypes: dict[str, int] = {}
    for info in sc.gt.values():
        subtypes[info.subtype] = subtypes.get(info.subtype, 0) + 1
    ints = {k: v for k, v in subtypes.items() if k not in _FLOAT_SUBTYPES}
    summary = ", ".join(f"{v} {k}" for k, v in sorted(subtypes.items(), key=lambda kv: -kv[1]))
    if not ints:
        return passed(cid, f"all {len(sc.gt)} wavs in {name} are float ({summary}), as RVC's preprocess writes them",
                      measured=summary, expected="FLOAT")
    n_int = sum(ints.values())
    kinds = ", ".join(sorted(ints))
    if sc.layout == "applio":
        return warning(
            cid,
            f"{n_int} of {len(sc.gt)} wavs in {name} are integer PCM ({kinds}); Applio reads them normalised "
            "(soundfile, float32), so training is unaffected, but its own preprocess writes float32",
            measured=summary, expected="FLOAT",
            cause="slices written by another tool; harmless for Applio, fatal if the folder is trained with RVC",
        )
    bits = {"PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "PCM_U8": 8}
    factor = max((2 ** (bits.get(k, 16) - 1) for k in ints), default=32768)
    db = 20 * math.log10(factor)
    return failed(
        cid,
        f"{n_int} of {len(sc.gt)} wavs in {name} are integer PCM ({kinds}), not float. RVC's training loader "
        f"reads them with scipy and does not divide by 32768, so the targets are {factor}x too loud "
        f"(+{db:.0f} dB); the generator (tanh output, at most 1.0) can never reach them and loss_mel stays in the "
        "hundreds instead of falling to 15-25",
        measured=summary, expected="FLOAT (IEEE float32) in [-1, 1]",
        cause=("0_gt_wavs was written by a custom slicing script (e.g. soundfile/scipy with int16) instead of "
               "RVC's 'Process data', which writes float32. Convert the slices to float32 in [-1, 1] (or re-run "
               "'Process data'), delete the cached *.spec.pt files next to them, and retrain from the pretrained base"),
        details={"subtypes": subtypes, "scale": factor},
    )


def check_gt_levels(ctx: ModelContext, sc: Scan) -> Finding:
    import soundfile as sf

    cid = "dataset.gt_levels"
    name = sc.folder_name("gt_wavs")
    if not sc.gt:
        return skipped(cid, f"no readable wavs in {name}")
    max_peak = float(ctx.threshold("dataset.gt_levels.max_peak", DEFAULTS["dataset.gt_levels.max_peak"]))
    silent = float(ctx.threshold("dataset.gt_levels.silent_peak", DEFAULTS["dataset.gt_levels.silent_peak"]))
    run_len = int(ctx.threshold("dataset.gt_levels.clip_run", DEFAULTS["dataset.gt_levels.clip_run"]))
    peaks: dict[str, float] = {}
    clipped: dict[str, int] = {}
    nonfinite: list[str] = []
    for stem, path in sc.stems["gt_wavs"].items():
        if stem not in sc.gt:
            continue
        try:
            x, _ = sf.read(str(path), dtype="float32", always_2d=True)
        except (RuntimeError, OSError, ValueError):
            continue
        x = x[:, 0]
        if not np.all(np.isfinite(x)):
            nonfinite.append(stem)
            x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
        peaks[stem] = float(np.max(np.abs(x))) if x.size else 0.0
        runs = _clip_runs(np.abs(x) >= 0.999, run_len)
        if runs:
            clipped[stem] = runs
    if not peaks:
        return skipped(cid, f"no wav in {name} could be read")
    top = max(peaks.values())
    ctx.record("dataset.gt_peak_max", round(top, 4))
    over = sorted((s for s, p in peaks.items() if p > max_peak), key=lambda s: -peaks[s])
    quiet = sorted((s for s, p in peaks.items() if p < silent), key=natural_key)
    details = {"peak_max": top, "over": over[:20], "quiet": quiet[:20], "clipped": dict(list(clipped.items())[:20])}
    if nonfinite:
        return failed(cid, f"{len(nonfinite)} wavs in {name} contain NaN/Inf samples (e.g. {_few(nonfinite)})",
                      measured=len(nonfinite), expected=0, details=details,
                      cause="corrupt slices: NaN targets make every loss NaN (RVC_FORMATS 6, row 2)")
    if over:
        return failed(
            cid,
            f"{len(over)} of {len(peaks)} wavs in {name} peak above {max_peak:g} (highest {peaks[over[0]]:.2f} in "
            f"{over[0]}); the generator's tanh output cannot exceed 1.0",
            measured=round(top, 3), expected=f"<= {max_peak:g}", details=details,
            cause="slices not normalised by RVC's preprocess (it scales each slice to a peak of ~0.9 and skips "
                  "slices above 2.5); float files written from un-normalised audio",
        )
    notes = []
    if quiet:
        notes.append(f"{len(quiet)} near-silent (peak < {silent:g}: {_few(quiet)})")
    if clipped:
        notes.append(f"{len(clipped)} with clipping runs of >= {run_len} samples at full scale ({_few(sorted(clipped, key=natural_key))})")
    if notes:
        return warning(
            cid, f"GT levels in {name}: " + "; ".join(notes) + f". Highest peak {top:.3f}.",
            measured=round(top, 3), expected=f"peaks {silent:g}..{max_peak:g}, no clipping", details=details,
            cause="near-silent slices teach the model silence/noise; clipped source audio teaches distortion. "
                  "Clean the source recordings and re-run 'Process data'",
        )
    return passed(cid, f"GT levels fine: peaks {min(peaks.values()):.3f}..{top:.3f}, no clipping, no silent slices",
                  measured=round(top, 3), expected=f"<= {max_peak:g}", details=details)


def _clip_runs(mask: np.ndarray, run_len: int) -> int:
    """Number of runs of at least ``run_len`` consecutive True values."""
    if not mask.any():
        return 0
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.diff(padded)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return int(np.count_nonzero(ends - starts >= run_len))


def check_segment_lengths(ctx: ModelContext, sc: Scan) -> Finding:
    """Slices RVC's DistributedBucketSampler drops: length = file size // (3 * hop) outside (100, 900]."""
    cid = "dataset.segment_lengths"
    if sc.layout != "rvc":
        return skipped(cid, "bucket limits are judged for RVC's trainer only (Applio's sampler differs)")
    if not sc.gt:
        return skipped(cid, f"no readable wavs in {sc.folder_name('gt_wavs')}")
    facts = model_facts(ctx)
    hop = facts.hop
    if not hop:
        return skipped(cid, "hop length unknown (no config.json and the model's sample rate is not 32k/40k/48k)")
    lengths = {s: i.size // (3 * hop) for s, i in sc.gt.items()}
    short = sorted((s for s, n in lengths.items() if n <= BUCKETS[0]), key=natural_key)
    long = sorted((s for s, n in lengths.items() if n > BUCKETS[-1]), key=natural_key)
    dropped = short + long
    bytes_per = {"FLOAT": 4, "DOUBLE": 8, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4}
    sub = max(sc.gt.values(), key=lambda i: i.size).subtype
    bps = bytes_per.get(sub, 4)
    sr = next(iter(sc.gt.values())).samplerate or 1
    lo_s, hi_s = BUCKETS[0] * 3 * hop / bps / sr, BUCKETS[-1] * 3 * hop / bps / sr
    details = {"hop": hop, "short": short[:20], "long": long[:20], "range_s": (round(lo_s, 2), round(hi_s, 2))}
    if not dropped:
        return passed(cid, f"all {len(lengths)} slices fall inside RVC's length buckets "
                           f"(about {lo_s:.2f}-{hi_s:.2f} s for {sub} at {sr} Hz)", details=details)
    parts = []
    if short:
        parts.append(f"{len(short)} too short ({_few(short)})")
    if long:
        parts.append(f"{len(long)} too long ({_few(long)})")
    make = failed if len(dropped) == len(lengths) else warning
    return make(
        cid,
        f"RVC's bucket sampler silently drops {len(dropped)} of {len(lengths)} slices: {'; '.join(parts)}. It "
        f"estimates a length as file size // (3 x hop {hop}) and keeps only 100 < length <= 900, i.e. about "
        f"{lo_s:.2f}-{hi_s:.2f} s for {sub} wavs at {sr} Hz",
        measured=len(dropped), expected=0, details=details,
        cause="slices longer than RVC's preprocess makes (<= 3.7 s) from a custom slicer, or very short slices",
    )


def check_features(ctx: ModelContext, sc: Scan) -> Finding:
    cid = "dataset.features"
    name = sc.folder_name("features")
    if sc.folders.get("features") is None:
        return skipped(cid, "no feature folder (3_feature768 / 3_feature256 / extracted)")
    stats = feature_stats(ctx)
    if not stats:
        return skipped(cid, f"{name} is empty")
    facts = model_facts(ctx)
    expected = facts.feature_width
    source = facts.version_source
    if expected is None:
        expected = ctx.md.feature_dim
        source = f"the {name} folder name"
    bad_read = {s: st.error for s, st in stats.items() if st.error}
    not2d = sorted((s for s, st in stats.items() if not st.error and len(st.shape) != 2), key=natural_key)
    widths: dict[int, int] = {}
    for st in stats.values():
        if not st.error and len(st.shape) == 2:
            widths[st.shape[1]] = widths.get(st.shape[1], 0) + 1
    wrong_w = sorted((s for s, st in stats.items() if not st.error and len(st.shape) == 2 and expected and st.shape[1] != expected), key=natural_key)
    nonfinite = sorted((s for s, st in stats.items() if st.n_nonfinite), key=natural_key)
    frames = sum(st.shape[0] for st in stats.values() if not st.error and len(st.shape) == 2)
    ctx.record("dataset.feature_frames", frames)
    details = {"widths": widths, "nonfinite": nonfinite[:20], "unreadable": bad_read, "expected_width": expected}
    problems = []
    causes = []
    if bad_read:
        problems.append(f"{len(bad_read)} unreadable ({_few(sorted(bad_read, key=natural_key))})")
        causes.append("truncated .npy files from an interrupted extraction")
    if not2d:
        problems.append(f"{len(not2d)} not 2-D [frames, width] ({_few(not2d)})")
    if nonfinite:
        problems.append(f"{len(nonfinite)} contain NaN/Inf ({_few(nonfinite)})")
        causes.append("HuBERT produced NaN (fp16 on a GPU without usable half precision, or broken input audio); "
                      "RVC itself skips saving such files, so these came from another extractor")
    if wrong_w:
        got = ", ".join(f"{w}-wide x{n}" for w, n in sorted(widths.items()))
        problems.append(f"{len(wrong_w)} have the wrong width ({got}; expected {expected} from {source})")
        causes.append(f"features extracted for the other RVC version (v1 = 256, v2 = 768): re-run 'Feature "
                      f"extraction' with version {'v2' if expected == 768 else 'v1'}")
    if problems:
        return failed(cid, f"features in {name}: " + "; ".join(problems), measured=widths,
                      expected=f"finite float32 [frames, {expected}]", cause="; ".join(causes) or None, details=details)
    return passed(cid, f"{len(stats)} feature files in {name}: finite, {expected}-wide, {frames} frames in all",
                  measured=widths, expected=expected, details=details)


def check_frames(ctx: ModelContext, sc: Scan) -> Finding:
    cid = "dataset.frames"
    tol = int(ctx.threshold("dataset.frames.tolerance", DEFAULTS["dataset.frames.tolerance"]))
    feats = feature_stats(ctx) if sc.folders.get("features") is not None else {}
    f0 = f0_stats(ctx) if sc.folders.get("f0_hz") is not None or sc.folders.get("f0_coarse") is not None else {"coarse": {}, "hz": {}}
    bad: dict[str, str] = {}
    judged = 0
    for stem in sc.complete or sorted(set(feats) | set(f0["hz"]), key=natural_key):
        fe = feats.get(stem)
        t_feat = fe.shape[0] if fe is not None and not fe.error and len(fe.shape) == 2 else None
        hz, co = f0["hz"].get(stem), f0["coarse"].get(stem)
        t_hz = hz.shape[0] if hz is not None and not hz.error and len(hz.shape) == 1 else None
        t_co = co.shape[0] if co is not None and not co.error and len(co.shape) == 1 else None
        w16 = sc.w16.get(stem)
        n16 = w16.frames if w16 is not None and w16.samplerate == 16000 else None
        problems = []
        if t_hz is not None and t_co is not None and t_hz != t_co:
            problems.append(f"2a has {t_co} frames but 2b {t_hz}")
        t_f0 = t_hz if t_hz is not None else t_co
        if t_f0 is not None and t_feat is not None and abs(t_f0 - 2 * t_feat) > tol:
            problems.append(f"f0 {t_f0} frames vs 2 x {t_feat} feature frames")
        if n16 is not None and t_f0 is not None and abs(t_f0 - (n16 // 160 + 1)) > tol // 2:
            problems.append(f"f0 {t_f0} frames vs {n16 // 160 + 1} for {n16 / 16000:.2f} s at 100 frames/s")
        if n16 is not None and t_feat is not None and n16 >= 400 and abs(t_feat - ((n16 - 400) // 320 + 1)) > tol // 2:
            problems.append(f"{t_feat} feature frames vs {(n16 - 400) // 320 + 1} for {n16 / 16000:.2f} s at 50 frames/s")
        if t_feat is not None or t_f0 is not None:
            judged += 1
        if problems:
            bad[stem] = "; ".join(problems)
    if not judged:
        return skipped(cid, "no feature or f0 files to compare")
    if not bad:
        return passed(cid, f"frame counts agree for {judged} slices: f0 = 100/s and about 2x the 50/s features "
                           f"(tolerance {tol} frames)", measured=0, expected=0)
    examples = "; ".join(f"{s}: {m}" for s, m in list(bad.items())[:4])
    return failed(
        cid, f"frame counts disagree for {len(bad)} of {judged} slices: {examples}",
        measured=len(bad), expected=0, details={"bad": dict(list(bad.items())[:20])},
        cause="pitch or features were extracted from other audio than what is in 1_16k_wavs now (slices re-cut "
              "after extraction, or extraction at a different hop); RVC truncates to the shorter, so the pitch "
              "and content drift against the target. Re-run 'Feature extraction'",
    )


def check_f0_values(ctx: ModelContext, sc: Scan) -> Finding:
    cid = "dataset.f0_values"
    if sc.folders.get("f0_coarse") is None and sc.folders.get("f0_hz") is None:
        facts = model_facts(ctx)
        if facts.f0 is False:
            return skipped(cid, f"the model has no pitch guidance (f0=0, from {facts.f0_source}): no f0 files")
        return skipped(cid, "no f0 folders (2a_f0 / 2b-f0nsf or Applio's f0 / f0_voiced)")
    max_oor = float(ctx.threshold("dataset.f0_values.max_out_of_range", DEFAULTS["dataset.f0_values.max_out_of_range"]))
    min_voiced = float(ctx.threshold("dataset.f0_values.min_voiced", DEFAULTS["dataset.f0_values.min_voiced"]))
    st = f0_stats(ctx)
    co, hz = st["coarse"], st["hz"]
    cname, hname = sc.folder_name("f0_coarse"), sc.folder_name("f0_hz")
    # swapped folders: 2a holds Hz floats and 2b small integers
    co_float = [s for s, a in co.items() if not a.error and (not a.integral or (a.vmax or 0) > 255)]
    hz_int = [s for s, a in hz.items() if not a.error and a.integral and a.vmax is not None and 1 <= (a.vmin or 0) and a.vmax <= 255]
    if co and hz and len(co_float) > 0.5 * len(co) and len(hz_int) > 0.5 * len(hz):
        return failed(
            cid, f"{cname} holds Hz values (floats up to {max(co[s].vmax or 0 for s in co_float):.0f}) and {hname} holds "
                 "integers 1..255: the two pitch folders are swapped",
            measured="swapped", expected=f"{cname}: coarse 1..255; {hname}: Hz",
            cause="a custom extractor followed RVC's docs/en/training_tips_en.md, which describe 2a/2b the wrong way "
                  "round; RVC's code writes coarse pitch to 2a_f0 and Hz to 2b-f0nsf",
        )
    problems: list[str] = []
    bad_co = sorted((s for s, a in co.items() if a.error or not a.integral or a.vmin is None or a.vmin < 1 or (a.vmax or 0) > 255), key=natural_key)
    if bad_co:
        lo = min((v for s in bad_co if (v := co[s].vmin) is not None), default=None)
        hi = max((v for s in bad_co if (v := co[s].vmax) is not None), default=None)
        problems.append(f"{len(bad_co)} {cname} files outside the coarse range 1..255 or not integers "
                        f"({_few(bad_co)}; values {lo}..{hi})")
    nonfinite = sorted((s for s, a in hz.items() if a.n_nonfinite or (a.vmin is not None and a.vmin < 0)), key=natural_key)
    if nonfinite:
        problems.append(f"{len(nonfinite)} {hname} files with NaN/Inf or negative Hz ({_few(nonfinite)})")
    voiced = sum(a.n_voiced for a in hz.values())
    frames = sum(a.shape[0] for a in hz.values() if a.shape)
    oor = sum(a.n_out_of_range for a in hz.values())
    frac_oor = oor / voiced if voiced else 0.0
    if frac_oor > max_oor:
        worst = sorted((s for s, a in hz.items() if a.n_out_of_range), key=lambda s: -hz[s].n_out_of_range)
        problems.append(f"{oor} of {voiced} voiced frames ({frac_oor:.1%}) outside {F0_MIN:.0f}-{F0_MAX:.0f} Hz "
                        f"({_few(worst)})")
    # coarse must be RVC's mapping of Hz
    disagree = []
    for s in sorted(set(co) & set(hz), key=natural_key):
        a, b = co[s].values, hz[s].values
        if a is None or b is None or len(a) != len(b) or not len(a):
            continue
        b = np.nan_to_num(np.asarray(b, dtype=np.float64), nan=0.0)
        match = np.mean(np.abs(np.asarray(a, dtype=np.float64) - coarse_pitch(np.clip(b, 0, None))) <= 1)
        if match < 0.95:
            disagree.append(s)
    if disagree:
        problems.append(f"{len(disagree)} slices where {cname} is not RVC's coarse mapping of {hname} ({_few(disagree)})")
    voiced_frac = voiced / frames if frames else 0.0
    ctx.record("dataset.voiced_fraction", round(voiced_frac, 3))
    details = {"voiced_fraction": voiced_frac, "out_of_range": oor, "voiced_frames": voiced}
    if problems:
        return failed(
            cid, "pitch files: " + "; ".join(problems), measured=details, expected="coarse 1..255, Hz 0 or 50..1100",
            cause="pitch written by a custom extractor (wrong mapping, no clipping to RVC's 50-1100 Hz) or folders "
                  "from different extraction runs; the NSF source then gets impossible frequencies",
            details=details,
        )
    if voiced_frac < min_voiced:
        return warning(
            cid, f"only {voiced_frac:.0%} of frames are voiced in {hname} (speech is usually 50-80%)",
            measured=round(voiced_frac, 3), expected=f">= {min_voiced}", details=details,
            cause="noisy or reverberant data, music, or an f0 method that failed on it (try rmvpe)",
        )
    return passed(cid, f"pitch files fine: coarse 1..255 matching the Hz values, voiced frames {voiced_frac:.0%}, "
                       f"{frac_oor:.2%} outside 50-1100 Hz", measured=round(voiced_frac, 3), details=details)


def check_filelist(ctx: ModelContext, sc: Scan) -> Finding:
    cid = "dataset.filelist"
    path = ctx.md.filelist
    if path is None:
        return skipped(cid, "no filelist.txt (RVC writes it when training starts)")
    try:
        entries = parse_filelist(path)
    except OSError as exc:
        return failed(cid, f"cannot read {path}: {exc}")
    facts = model_facts(ctx)
    data = [e for e in entries if not e.mute]
    mutes = [e for e in entries if e.mute]
    want_fields = 5 if sc.f0_expected else 3
    wrong_fields = [e for e in data if len(e.fields) != want_fields]
    on_disk = set(sc.complete)
    listed = {e.stem for e in data}
    unknown = sorted(listed - on_disk, key=natural_key)
    unlisted = sorted(on_disk - listed, key=natural_key)
    feat_dirs = {(normalise_path(e.fields[1]).split("/")[-2] if len(e.fields) > 1 and "/" in normalise_path(e.fields[1]) else "") for e in data}
    expect_feat = {"v1": "3_feature256", "v2": "3_feature768"}.get(facts.version or "")
    wrong_feat = sorted(d for d in feat_dirs if d.startswith("3_feature") and expect_feat and d != expect_feat)
    roots = sorted({normalise_path(e.fields[0]).rsplit("/", 2)[0] for e in data if "/" in normalise_path(e.fields[0])})
    local = normalise_path(str(ctx.md.root.resolve()))
    # RVC writes absolute paths (often from another machine: matched by stem); Applio relative ones
    foreign = [r for r in roots if (r.startswith("/") or re.match(r"^[A-Za-z]:/", r)) and r != local]
    details = {"entries": len(data), "mute_lines": len(mutes), "unknown": unknown[:20], "unlisted": unlisted[:20], "roots": roots[:5]}
    ctx.record("dataset.filelist_entries", len(data))
    problems, causes = [], []
    if wrong_fields:
        got = sorted({len(e.fields) for e in wrong_fields})
        problems.append(f"{len(wrong_fields)} lines have {'/'.join(map(str, got))} fields, expected {want_fields} for a "
                        f"{'pitch-guided (f0)' if want_fields == 5 else 'no-f0'} model")
        causes.append("the filelist was written for the other f0 setting (f0 models: wav|feature|2a|2b|sid; "
                      "no-f0 models: wav|feature|sid)")
    if wrong_feat:
        problems.append(f"the filelist points to {', '.join(wrong_feat)} but the model is {facts.version} ({facts.version_source})")
        causes.append("the model was trained on the other version's features")
    if unknown:
        problems.append(f"{len(unknown)} listed slices are not in the data folders here ({_few(unknown)})")
        causes.append("the data folders changed after training started (slices deleted or re-cut): what is here is "
                      "not what was trained")
    if problems:
        return failed(cid, f"filelist.txt ({len(data)} slices + {len(mutes)} mute lines): " + "; ".join(problems),
                      measured=len(data), expected=f"{len(on_disk)} slices on disk", cause="; ".join(causes), details=details)
    where = f"; paths point to {_few(foreign, 2)} (another machine or folder), matched by name" if foreign else ""
    if unlisted:
        return warning(
            cid, f"{len(unlisted)} slices on disk are not in filelist.txt ({_few(unlisted)}): they were not trained on{where}",
            measured=len(data), expected=len(on_disk), details=details,
            cause="slices added after training started; RVC rewrites filelist.txt each time training is started",
        )
    mute_note = f" + {len(mutes)} mute lines" if mutes else " (no mute lines: RVC adds 2)"
    return passed(cid, f"filelist.txt lists the {len(data)} slices on disk{mute_note}{where}",
                  measured=len(data), expected=len(on_disk), details=details)


def check_total_duration(ctx: ModelContext, sc: Scan) -> Finding:
    cid = "dataset.total_duration"
    min_s = float(ctx.threshold("dataset.total_duration.min_seconds", DEFAULTS["dataset.total_duration.min_seconds"]))
    infos = [sc.gt[s] for s in (sc.complete or sc.gt) if s in sc.gt]
    if not infos:
        return skipped(cid, f"no readable wavs in {sc.folder_name('gt_wavs')}")
    total = float(sum(i.duration for i in infos))
    n = len(infos)
    ctx.record("dataset.total_seconds", round(total, 1))
    ctx.record("dataset.segment_count", n)
    ctx.record("dataset_minutes", total / 60)  # the summary table's key
    mean = total / n
    text = f"{total / 60:.1f} minutes of training audio in {n} slices (mean {mean:.1f} s)"
    if total < min_s:
        return warning(cid, f"only {text}; below {min_s / 60:.0f} minutes voices come out thin and unstable",
                       measured=round(total, 1), expected=f">= {min_s:.0f} s",
                       cause="too little data: RVC's README calls about 10 minutes of clean speech enough; add recordings")
    return passed(cid, text, measured=round(total, 1), expected=f">= {min_s:.0f} s")


def check_index(ctx: ModelContext, sc: Scan) -> Finding:
    cid = "dataset.index"
    files = ctx.md.index_files
    if not files:
        return skipped(cid, "no .index file in the experiment folder (optional: it only sharpens timbre at inference)")
    try:
        import faiss
    except ImportError:
        return skipped(cid, f"faiss is not installed, so {files[0].name} cannot be read: install rvcqa[index]")
    facts = model_facts(ctx)
    width = facts.feature_width or ctx.md.feature_dim
    max_diff = float(ctx.threshold("dataset.index.max_ntotal_diff", DEFAULTS["dataset.index.max_ntotal_diff"]))
    feats = feature_stats(ctx) if sc.folders.get("features") is not None else {}
    frames = sum(st.shape[0] for st in feats.values() if not st.error and len(st.shape) == 2)
    problems, notes = [], []
    for path in files:
        try:
            index = faiss.read_index(str(path))
        except Exception as exc:  # faiss raises RuntimeError with C++ text
            problems.append(f"{path.name} cannot be read ({str(exc).splitlines()[0][:80]})")
            continue
        d, n = int(index.d), int(index.ntotal)
        if width and d != width:
            problems.append(f"{path.name} is {d}-dimensional but the features are {width}-wide")
        if n == 0:
            problems.append(f"{path.name} is empty (ntotal 0: the 'trained_' file, before add())")
        elif frames and n != 10000 and abs(n - frames) > max_diff * frames:
            notes.append(f"{path.name} holds {n} vectors but the features on disk have {frames} frames")
        else:
            notes.append(f"{path.name}: {d}-dim, {n} vectors")
    if problems:
        return failed(cid, "; ".join(problems), cause="index built for another model/version or not finished; re-run 'Train index'")
    mismatch = [x for x in notes if "but the features" in x]
    if mismatch:
        return warning(cid, "; ".join(mismatch) + ": the index was built from other data",
                       cause="features changed after 'Train index'; rebuild the index")
    return passed(cid, "; ".join(notes))


_CHECKS: tuple[tuple[str, Callable[[ModelContext, Scan], Finding]], ...] = (
    ("dataset.folders", check_folders),
    ("dataset.stems", check_stems),
    ("dataset.gt_sample_rate", check_gt_sample_rate),
    ("dataset.wav16k_sample_rate", check_wav16k_rate),
    ("dataset.durations", check_durations),
    ("dataset.gt_format", check_gt_format),
    ("dataset.gt_levels", check_gt_levels),
    ("dataset.segment_lengths", check_segment_lengths),
    ("dataset.features", check_features),
    ("dataset.frames", check_frames),
    ("dataset.f0_values", check_f0_values),
    ("dataset.filelist", check_filelist),
    ("dataset.total_duration", check_total_duration),
    ("dataset.index", check_index),
)
assert tuple(cid for cid, _ in _CHECKS) == CHECK_IDS


def run(ctx: ModelContext) -> list[Finding]:
    """One finding per id in :data:`CHECK_IDS`."""
    sc = scan(ctx)
    if sc.empty:
        return [(check_index(ctx, sc) if cid == "dataset.index" and ctx.md.index_files else _skip_no_data(ctx, cid))
                for cid in CHECK_IDS]
    out = []
    for cid, fn in _CHECKS:
        try:
            finding = fn(ctx, sc)
        except RvcqaError as exc:
            finding = failed(cid, str(exc))
        out.append(finding)
    return out
