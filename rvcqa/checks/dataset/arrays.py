"""Dataset checks on the arrays and lists: features, frame counts, pitch file format, filelist.txt."""
from __future__ import annotations

import re

from rvcqa.checks.dataset.limits import DEFAULTS, few
from rvcqa.context import ModelContext
from rvcqa.dataset import (
    Scan,
    f0_stats,
    feature_stats,
    natural_key,
    normalise_path,
)
from rvcqa.errors import ModelDirError
from rvcqa.facts import model_facts
from rvcqa.findings import Finding, failed, passed, skipped, warning


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
        problems.append(f"{len(bad_read)} unreadable ({few(sorted(bad_read, key=natural_key))})")
        causes.append("truncated .npy files from an interrupted extraction")
    if not2d:
        problems.append(f"{len(not2d)} not 2-D [frames, width] ({few(not2d)})")
    if nonfinite:
        problems.append(f"{len(nonfinite)} contain NaN/Inf ({few(nonfinite)})")
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
                        f"({few(bad_co)}; values {lo}..{hi})")
    nonfinite = sorted((s for s, a in hz.items() if a.n_nonfinite), key=natural_key)
    if nonfinite:
        problems.append(f"{len(nonfinite)} {hname} files with NaN/Inf pitch ({few(nonfinite)})")
    voiced = sum(a.n_voiced for a in hz.values())
    frames = sum(a.shape[0] for a in hz.values() if a.shape)
    voiced_frac = voiced / frames if frames else 0.0
    ctx.record("dataset.voiced_fraction", round(voiced_frac, 3))
    details = {"voiced_fraction": voiced_frac, "voiced_frames": voiced}
    if problems:
        return failed(
            cid, "pitch files: " + "; ".join(problems), measured=details, expected="coarse integers 1..255, finite Hz",
            cause="pitch written by a custom extractor (float or unclipped coarse values) or a crashed extraction; "
                  "RVC's embedding then indexes outside its 256 rows and the NSF source gets NaN",
            details=details,
        )
    if voiced_frac < min_voiced:
        return warning(
            cid, f"only {voiced_frac:.0%} of frames are voiced in {hname} (speech is usually 50-80%)",
            measured=round(voiced_frac, 3), expected=f">= {min_voiced}", details=details,
            cause="noisy or reverberant data, music, or an f0 method that failed on it (try rmvpe)",
        )
    return passed(cid, f"pitch files readable: coarse integers 1..255, finite Hz, voiced frames {voiced_frac:.0%} "
                       "(range and mapping: dataset.f0_range, dataset.f0_coarse)", measured=round(voiced_frac, 3),
                  details=details)


def check_filelist(ctx: ModelContext, sc: Scan) -> Finding:
    cid = "dataset.filelist"
    try:
        entries = ctx.filelist()
    except ModelDirError as exc:
        return failed(cid, str(exc))
    if entries is None:
        return skipped(cid, "no filelist.txt (RVC writes it when training starts)")
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
        problems.append(f"{len(unknown)} listed slices are not in the data folders here ({few(unknown)})")
        causes.append("the data folders changed after training started (slices deleted or re-cut): what is here is "
                      "not what was trained")
    if problems:
        return failed(cid, f"filelist.txt ({len(data)} slices + {len(mutes)} mute lines): " + "; ".join(problems),
                      measured=len(data), expected=f"{len(on_disk)} slices on disk", cause="; ".join(causes), details=details)
    where = f"; paths point to {few(foreign, 2)} (another machine or folder), matched by name" if foreign else ""
    if unlisted:
        return warning(
            cid, f"{len(unlisted)} slices on disk are not in filelist.txt ({few(unlisted)}): they were not trained on{where}",
            measured=len(data), expected=len(on_disk), details=details,
            cause="slices added after training started; RVC rewrites filelist.txt each time training is started",
        )
    mute_note = f" + {len(mutes)} mute lines" if mutes else " (no mute lines: RVC adds 2)"
    return passed(cid, f"filelist.txt lists the {len(data)} slices on disk{mute_note}{where}",
                  measured=len(data), expected=len(on_disk), details=details)
