"""The pitch files of an f0 model (``2a_f0`` coarse, ``2b-f0nsf`` Hz; Applio ``f0``/``f0_voiced``).

The NSF source is driven by ``2b-f0nsf`` and the pitch embedding by ``2a_f0``: whatever the
extractor got wrong, the model learns. Judged per slice: an extraction that found no pitch at all
(a failed or broken GPU extractor writes zeros), octave errors (a ~2x jump between neighbouring
voiced frames, what harvest/crepe do on creaky or breathy voice), frequencies outside RVC's
50-1100 Hz, and ``2a_f0`` that is not RVC's coarse mapping of ``2b-f0nsf``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from rvcqa.context import ModelContext
from rvcqa.dataset import ArrayStats, Scan, coarse_pitch, f0_stats, scan
from rvcqa.dataset import natural_key as _natural
from rvcqa.facts import model_facts
from rvcqa.findings import Finding, failed, passed, skipped, warning

CHECK_IDS: tuple[str, ...] = (
    "dataset.f0_unvoiced",
    "dataset.f0_octave_jumps",
    "dataset.f0_range",
    "dataset.f0_coarse",
)

F0_MIN, F0_MAX = 50.0, 1100.0

DEFAULTS: dict[str, Any] = {
    # Share of slices with no voiced frame at all. Speech slices of 1-4 s are voiced 50-80 %, so
    # an all-zero slice is an extraction failure; a quarter of them is a broken extractor.
    "dataset.f0_unvoiced.fail_share": 0.25,
    # A jump of 1 octave +- 0.2 between neighbouring voiced 10 ms frames. Real pitch moves at most
    # a few semitones in 10 ms. Measured: pYIN F0 of the healthy fixture 0 in 9841 pairs; the
    # fixtures' autocorrelation stand-in tracker 0.8-1.3 % (its own octave errors); every other
    # 8-frame run halved 12.6 %. Above 2 % the model learns cracks (warning), above 5 % fails.
    "dataset.f0_octave_jumps.warn_rate": 0.02,
    "dataset.f0_octave_jumps.fail_rate": 0.05,
    # Share of voiced frames outside 50-1100 Hz in one slice (RVC clips the coarse pitch there
    # but feeds 2b-f0nsf to the NSF source unclipped).
    "dataset.f0_range.max_share": 0.05,
    # Share of frames where 2a_f0 must equal RVC's coarse mapping of 2b-f0nsf (+-1 for rounding).
    "dataset.f0_coarse.min_match": 0.95,
}


def _few(items: list[str], n: int = 5) -> str:
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")


def _hz_arrays(stats: dict[str, ArrayStats]) -> dict[str, np.ndarray]:
    out = {}
    for stem, st in stats.items():
        if st.error or st.values is None:
            continue
        v = np.nan_to_num(np.asarray(st.values, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        out[stem] = v
    return out


def octave_jumps(f0: np.ndarray) -> tuple[int, int]:
    """(octave jumps, voiced neighbour pairs): |log2(f[i+1] / f[i])| within 1 +- 0.2."""
    a, b = f0[:-1], f0[1:]
    both = (a > 0) & (b > 0)
    if not both.any():
        return 0, 0
    ratio = np.abs(np.log2(b[both] / a[both]))
    return int(np.count_nonzero(np.abs(ratio - 1.0) <= 0.2)), int(both.sum())


def check_unvoiced(ctx: ModelContext, hz: dict[str, np.ndarray], name: str) -> Finding:
    cid = "dataset.f0_unvoiced"
    fail_share = float(ctx.threshold("dataset.f0_unvoiced.fail_share", DEFAULTS["dataset.f0_unvoiced.fail_share"]))
    empty = sorted((s for s, v in hz.items() if not np.any(v > 0)), key=_natural)
    n = len(hz)
    voiced = sum(int(np.count_nonzero(v > 0)) for v in hz.values())
    frames = sum(v.size for v in hz.values())
    details = {"unvoiced_slices": empty[:20], "voiced_fraction": voiced / frames if frames else 0.0}
    if empty and (len(empty) > fail_share * n or not voiced):
        return failed(
            cid, f"{len(empty)} of {n} slices in {name} have no voiced frame at all ({_few(empty)}); overall "
                 f"{voiced} of {frames} frames voiced: the pitch extraction failed, and an f0 model trained on this "
                 "learns to ignore pitch (monotone or random-pitched output)",
            measured=len(empty), expected=0, details=details,
            cause="the f0 extractor returned zeros (a broken GPU extractor such as rmvpe/crepe on an unsupported "
                  "device or in fp16, or a crash that left defaults). Re-run 'Feature extraction' with rmvpe",
        )
    if empty:
        return warning(cid, f"{len(empty)} of {n} slices in {name} have no voiced frame ({_few(empty)})",
                       measured=len(empty), expected=0, details=details,
                       cause="breaths, noise or silence kept as slices, or the extractor failed on them")
    return passed(cid, f"every one of {n} slices has voiced frames ({voiced / frames:.0%} of frames voiced)",
                  measured=0, expected=0, details=details)


def check_octaves(ctx: ModelContext, hz: dict[str, np.ndarray], name: str) -> Finding:
    cid = "dataset.f0_octave_jumps"
    warn_rate = float(ctx.threshold("dataset.f0_octave_jumps.warn_rate", DEFAULTS["dataset.f0_octave_jumps.warn_rate"]))
    fail_rate = float(ctx.threshold("dataset.f0_octave_jumps.fail_rate", DEFAULTS["dataset.f0_octave_jumps.fail_rate"]))
    per = {s: octave_jumps(v) for s, v in hz.items()}
    jumps = sum(j for j, _ in per.values())
    pairs = sum(p for _, p in per.values())
    if not pairs:
        return skipped(cid, f"no voiced neighbouring frames in {name}")
    rate = jumps / pairs
    ctx.record("dataset.f0_octave_jump_rate", round(rate, 5))
    worst = sorted((s for s, (j, _) in per.items() if j), key=lambda s: -per[s][0])
    details = {"jumps": jumps, "pairs": pairs, "slices": {s: per[s][0] for s in worst[:20]}}
    text = (f"{jumps} octave jumps in {pairs} voiced neighbouring frame pairs of {name} ({rate:.2%}), in "
            f"{len(worst)} slices" + (f" ({', '.join(f'{s}: {per[s][0]}' for s in worst[:5])})" if worst else ""))
    if rate > warn_rate:
        make = failed if rate > fail_rate else warning
        return make(cid, f"octave errors in the pitch files: {text}; the model learns the cracks and reproduces "
                         "them as sudden octave breaks", measured=round(rate, 5), expected=f"<= {warn_rate:g}",
                    details=details,
                    cause="an f0 method that halves or doubles on creaky or breathy voice (harvest, crepe-tiny, pm); "
                          "re-run 'Feature extraction' with rmvpe, or drop the slices named")
    return passed(cid, text, measured=round(rate, 5), expected=f"<= {warn_rate:g}", details=details)


def check_range(ctx: ModelContext, hz: dict[str, np.ndarray], name: str) -> Finding:
    cid = "dataset.f0_range"
    max_share = float(ctx.threshold("dataset.f0_range.max_share", DEFAULTS["dataset.f0_range.max_share"]))
    bad: dict[str, float] = {}
    negative: list[str] = []
    lo_hz, hi_hz = np.inf, -np.inf
    for s, v in hz.items():
        if np.any(v < 0):
            negative.append(s)
        voiced = v[v != 0]
        if not voiced.size:
            continue
        lo_hz, hi_hz = min(lo_hz, float(voiced.min())), max(hi_hz, float(voiced.max()))
        out = np.count_nonzero((voiced < F0_MIN - 0.5) | (voiced > F0_MAX + 0.5)) / voiced.size
        if out > max_share:
            bad[s] = out
    rng = f"{lo_hz:.0f}-{hi_hz:.0f} Hz" if np.isfinite(lo_hz) else "no voiced frames"
    if bad or negative:
        names = sorted(set(bad) | set(negative), key=_natural)
        worst = max(bad, key=lambda s: bad[s]) if bad else negative[0]
        return failed(cid, f"{len(names)} slices in {name} hold pitch outside RVC's {F0_MIN:.0f}-{F0_MAX:.0f} Hz "
                           f"(values {rng}; worst {worst}" + (f" {bad[worst]:.0%} of its voiced frames" if worst in bad else
                                                              " negative") + f"; {_few(names)})",
                      measured=rng, expected=f"0 or {F0_MIN:.0f}-{F0_MAX:.0f} Hz",
                      details={"slices": {s: round(bad.get(s, 1.0), 3) for s in names[:20]}},
                      cause="pitch written by a custom extractor without RVC's clipping, or octave-doubled "
                            "tracking of a high voice; the NSF source then gets frequencies no voice has")
    return passed(cid, f"voiced pitch within {F0_MIN:.0f}-{F0_MAX:.0f} Hz in every slice ({rng})", measured=rng)


def check_coarse(ctx: ModelContext, co: dict[str, ArrayStats], hz: dict[str, np.ndarray], cname: str,
                 hname: str) -> Finding:
    cid = "dataset.f0_coarse"
    min_match = float(ctx.threshold("dataset.f0_coarse.min_match", DEFAULTS["dataset.f0_coarse.min_match"]))
    mismatched: dict[str, str] = {}
    judged = 0
    for s in sorted(set(co) & set(hz), key=_natural):
        st = co[s]
        if st.error or st.values is None:
            continue
        a, b = np.asarray(st.values, dtype=np.float64), hz[s]
        judged += 1
        if a.size != b.size:
            mismatched[s] = f"{a.size} coarse vs {b.size} Hz frames"
            continue
        match = float(np.mean(np.abs(a - coarse_pitch(np.clip(b, 0, None))) <= 1)) if a.size else 1.0
        if match < min_match:
            mismatched[s] = f"{match:.0%} of frames match"
    if not judged:
        return skipped(cid, f"no slice with both {cname} and {hname} to compare")
    if mismatched:
        names = sorted(mismatched, key=_natural)
        return failed(cid, f"{cname} is not RVC's coarse mapping of {hname} in {len(names)} of {judged} slices ("
                           + "; ".join(f"{s}: {mismatched[s]}" for s in names[:4]) + ")",
                      measured=len(names), expected=0, details={"slices": dict(list(mismatched.items())[:20])},
                      cause="the two pitch folders come from different extraction runs (one was re-extracted with "
                            "another f0 method, or copied from another experiment): the pitch embedding and the NSF "
                            "source are told different melodies. Delete both and re-run 'Feature extraction'")
    return passed(cid, f"{cname} is RVC's coarse mapping of {hname} in all {judged} slices", measured=0, expected=0)


def run(ctx: ModelContext) -> list[Finding]:
    """One finding per id; all skip for no-f0 models and folders without pitch files."""
    sc: Scan = scan(ctx)
    facts = model_facts(ctx)
    if facts.f0 is False:
        why = f"the model has no pitch guidance (f0=0, from {facts.f0_source}): no pitch files to judge"
        return [skipped(cid, why) for cid in CHECK_IDS]
    if sc.folders.get("f0_hz") is None:
        why = f"no {sc.folder_name('f0_hz')} folder (pitch in Hz) to judge"
        return [skipped(cid, why) for cid in CHECK_IDS]
    st = f0_stats(ctx)
    hz = _hz_arrays(st["hz"])
    hname, cname = sc.folder_name("f0_hz"), sc.folder_name("f0_coarse")
    if not hz:
        why = f"no readable 1-D pitch file in {hname}"
        return [skipped(cid, why) for cid in CHECK_IDS]
    return [
        check_unvoiced(ctx, hz, hname),
        check_octaves(ctx, hz, hname),
        check_range(ctx, hz, hname),
        check_coarse(ctx, st["coarse"], hz, cname, hname),
    ]
