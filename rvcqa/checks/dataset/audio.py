"""Dataset checks on the audio slices: folders, names, rates, durations, format, levels, lengths, total."""
from __future__ import annotations

import math

import numpy as np

from rvcqa.checks.dataset.limits import FLOAT_SUBTYPES, BUCKETS, DEFAULTS, few
from rvcqa.context import ModelContext
from rvcqa.dataset import (
    Scan,
    natural_key,
)
from rvcqa.facts import model_facts
from rvcqa.findings import Finding, failed, passed, skipped, warning


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
    lines = "; ".join(f"missing in {k}: {few(v)}" for k, v in missing.items())
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
            f"({facts.sr_source}): {summary}; e.g. {few(stems_wrong)}",
            measured=summary, expected=f"{facts.sr} Hz",
            cause=("the data was preprocessed for another target sample rate: the experiment name was reused "
                   "with a different sr (RVC never clears logs/NAME or rewrites config.json), or the slices come "
                   "from another tool. RVC's loader stops with \"SR doesn't match target SR\"; a custom loader "
                   "that resamples silently trains on wrongly pitched targets. Re-run 'Process data' at the model's rate"),
            details={"rates": {k: len(v) for k, v in rates.items()}},
        )
    return failed(cid, f"{len(multi)} wavs in {gt_name} are not mono (e.g. {few(multi)})",
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
        cid, f"{len(wrong)} of {len(sc.w16)} wavs in {name} are not 16 kHz ({', '.join(map(str, rates))} Hz; e.g. {few(wrong)})",
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
    ints = {k: v for k, v in subtypes.items() if k not in FLOAT_SUBTYPES}
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
        return failed(cid, f"{len(nonfinite)} wavs in {name} contain NaN/Inf samples (e.g. {few(nonfinite)})",
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
        notes.append(f"{len(quiet)} near-silent (peak < {silent:g}: {few(quiet)})")
    if clipped:
        notes.append(f"{len(clipped)} with clipping runs of >= {run_len} samples at full scale ({few(sorted(clipped, key=natural_key))})")
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
        parts.append(f"{len(short)} too short ({few(short)})")
    if long:
        parts.append(f"{len(long)} too long ({few(long)})")
    make = failed if len(dropped) == len(lengths) else warning
    return make(
        cid,
        f"RVC's bucket sampler silently drops {len(dropped)} of {len(lengths)} slices: {'; '.join(parts)}. It "
        f"estimates a length as file size // (3 x hop {hop}) and keeps only 100 < length <= 900, i.e. about "
        f"{lo_s:.2f}-{hi_s:.2f} s for {sub} wavs at {sr} Hz",
        measured=len(dropped), expected=0, details=details,
        cause=_length_cause(short, long),
    )


def _length_cause(short: list[str], long: list[str]) -> str:
    """The likely cause of the more common problem first."""
    too_long = "slices longer than RVC's preprocess makes (<= 3.7 s) from a custom slicer"
    too_short = ("very short slices (RVC's slicer keeps pieces down to a few hundred ms; silence trimming or a "
                 "custom slicer makes shorter ones)")
    return f"{too_long}, or {too_short}" if len(long) >= len(short) else f"{too_short}, or {too_long}"



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


