"""The dataset checks' thresholds (each default with where it comes from) and message helpers."""
from __future__ import annotations

from typing import Any

from rvcqa.context import ModelContext
from rvcqa.dataset import DURATION_TOLERANCE_S
from rvcqa.findings import Finding, skipped

DEFAULTS: dict[str, Any] = {
    # Largest |GT duration - 16k duration| per slice. RVC resamples each slice to 16 kHz with
    # librosa, so the two agree to within a sample; 0.02 s (one HuBERT frame, and the tolerance the
    # lexi report used) flags slices that were cut separately.
    "dataset.durations.max_diff_s": DURATION_TOLERANCE_S,
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
    # Below this voiced fraction the f0 extractor found almost no pitch (speech is ~50-80% voiced).
    "dataset.f0_values.min_voiced": 0.2,
    # Less data than this is warned about: RVC's README calls 10 minutes of clean speech enough
    # for a good model; half of that (5 minutes) is where users report thin, unstable voices.
    # The lexi report had ~10 minutes in 84 segments, which passes.
    "dataset.total_duration.min_seconds": 300.0,
}

#: RVC's DistributedBucketSampler boundaries (train.py) and the mute files' length estimate
BUCKETS = (100, 200, 300, 400, 500, 600, 700, 800, 900)
FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")



def few(items: list[str] | tuple[str, ...], n: int = 5) -> str:
    items = list(items)
    if len(items) <= n:
        return ", ".join(items)
    return f"{', '.join(items[:n])} and {len(items) - n} more"


def hz(sr: int | None) -> str:
    return f"{sr} Hz" if sr else "unknown rate"


def skip_no_data(ctx: ModelContext, cid: str) -> Finding:
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

