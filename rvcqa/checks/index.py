"""The retrieval index (``added_*.index``) against the model and the features of this folder.

At inference RVC blends each frame with its 8 nearest index rows (``index_rate`` 0.75 by
default), so an index from an earlier run, or from another folder, pulls the timbre towards
other data without any error. Judged: faiss can read it, its width is the model version's
(v1 256, v2 768), its rows are this folder's ``3_feature*`` rows, and it is built the way RVC
builds it (``IVF{n},Flat``, n = min(int(16 sqrt N), N // 39), nprobe 1; :mod:`rvcqa.index`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from rvcqa.context import ModelContext
from rvcqa.dataset import feature_stats, scan
from rvcqa.facts import model_facts
from rvcqa.findings import Finding, failed, passed, skipped, warning
from rvcqa.index import (
    IndexInfo,
    IndexUnavailable,
    find_rows,
    read_index,
    rvc_nlist,
    rvc_training_rows,
)

CHECK_IDS: tuple[str, ...] = (
    "dataset.index_readable",
    "dataset.index_width",
    "dataset.index_rows",
    "dataset.index_ivf",
)

DEFAULTS: dict[str, Any] = {
    # Largest |ntotal - feature rows| / rows: RVC adds every row, so an index of this folder
    # holds exactly as many vectors as 3_feature* has rows; 0.5 % leaves room for a slice or two
    # deleted after indexing without calling a re-cut folder's index fresh.
    "dataset.index_rows.max_diff": 0.005,
    # Share of sampled index vectors that must be rows of this folder's features. RVC's index
    # stores the rows themselves (IVF,Flat), so a fresh index finds all of them.
    "dataset.index_rows.min_found": 0.9,
}

FIX = "re-run 'Train index' (RVC: step 2b, Applio: 'Generate index') for this experiment"


def _infos(ctx: ModelContext) -> list[IndexInfo]:
    return ctx.cached("index:infos", lambda: [read_index(p) for p in ctx.md.index_files])


def _feature_rows(ctx: ModelContext) -> tuple[int, list[Path], str]:
    sc = scan(ctx)
    if sc.folders.get("features") is None:
        return 0, [], sc.folder_name("features")
    stats = feature_stats(ctx)
    rows = sum(st.shape[0] for st in stats.values() if not st.error and len(st.shape) == 2)
    return rows, list(sc.stems.get("features", {}).values()), sc.folder_name("features")


def run(ctx: ModelContext) -> list[Finding]:
    """One finding per id; all skip when there is no index or no faiss."""
    if not ctx.md.index_files:
        why = "no .index file in the experiment folder (optional: it only sharpens timbre at inference)"
        return [skipped(cid, why) for cid in CHECK_IDS]
    try:
        infos = _infos(ctx)
    except IndexUnavailable as exc:
        return [skipped(cid, f"{exc}; {ctx.md.index_files[0].name} not judged") for cid in CHECK_IDS]
    readable = check_readable(infos)
    good = [i for i in infos if i.readable and i.ntotal]
    if not good:
        why = f"no readable, filled index ({readable.message})"
        return [readable] + [skipped(cid, why) for cid in CHECK_IDS[1:]]
    return [readable, check_width(ctx, good), check_rows(ctx, good), check_ivf(ctx, good)]


def check_readable(infos: list[IndexInfo]) -> Finding:
    cid = "dataset.index_readable"
    bad = [f"{i.path.name} cannot be read by faiss ({i.error})" for i in infos if not i.readable]
    empty = [f"{i.path.name} holds no vectors (trained but never filled: the run stopped before add())"
             for i in infos if i.readable and not i.ntotal]
    if bad or empty:
        return failed(cid, "; ".join(bad + empty), measured=len(bad) + len(empty), expected=0,
                      cause="the index was cut off while being written or copied (a crashed 'Train index', an "
                            f"interrupted download), or it is not a faiss file; RVC then converts without retrieval. {FIX}")
    return passed(cid, "; ".join(f"{i.path.name}: {i.kind}, {i.d}-dim, {i.ntotal} vectors" for i in infos))


def check_width(ctx: ModelContext, infos: list[IndexInfo]) -> Finding:
    cid = "dataset.index_width"
    facts = model_facts(ctx)
    width = facts.feature_width
    if width is None:
        return skipped(cid, "the model version (v1 256 / v2 768) is unknown, so the index width cannot be judged")
    wrong = [i for i in infos if i.d != width]
    if wrong:
        other = {256: "v1", 768: "v2"}.get(wrong[0].d, "no RVC version")
        return failed(cid, f"{wrong[0].path.name} is {wrong[0].d}-dimensional ({other}) but the model is "
                           f"{facts.version} ({facts.version_source}), whose features are {width}-wide: RVC "
                           "refuses the search or retrieves another model's features",
                      measured=wrong[0].d, expected=width,
                      cause=f"the index was built for the other version (or copied from another model). {FIX}")
    return passed(cid, f"index width {width} matches the {facts.version} model ({facts.version_source})",
                  measured=width, expected=width)


def check_rows(ctx: ModelContext, infos: list[IndexInfo]) -> Finding:
    cid = "dataset.index_rows"
    rows, files, folder = _feature_rows(ctx)
    if not rows:
        return skipped(cid, f"no feature rows in {folder} to compare the index with")
    max_diff = float(ctx.threshold("dataset.index_rows.max_diff", DEFAULTS["dataset.index_rows.max_diff"]))
    min_found = float(ctx.threshold("dataset.index_rows.min_found", DEFAULTS["dataset.index_rows.min_found"]))
    kmeans = rvc_training_rows(rows) != rows
    problems, notes = [], []
    for info in infos:
        expect = rvc_training_rows(rows)
        if abs(info.ntotal - expect) > max_diff * expect:
            problems.append(f"{info.path.name} holds {info.ntotal} vectors but {folder} has {rows} rows"
                            + (f" (RVC would index {expect} k-means centres)" if kmeans else ""))
            continue
        if kmeans or info.sample.size == 0 or info.sample.shape[1] != _width(files):
            notes.append(f"{info.path.name}: {info.ntotal} vectors for {rows} rows"
                         + (" (k-means centres: rows not compared)" if kmeans else ""))
            continue
        found = find_rows(info.sample, files)
        share = found / len(info.sample)
        if share < min_found:
            problems.append(f"{info.path.name} has the right count ({info.ntotal}) but only {found} of "
                            f"{len(info.sample)} sampled vectors ({share:.0%}) are rows of {folder}")
        else:
            notes.append(f"{info.path.name}: {info.ntotal} vectors = the {rows} rows of {folder} "
                         f"({found}/{len(info.sample)} sampled vectors found)")
    ctx.record("dataset.index_vectors", infos[0].ntotal)
    if problems:
        return failed(cid, "stale index: " + "; ".join(problems), measured=infos[0].ntotal, expected=rows,
                      cause="the index was built from other features: an earlier run of this experiment (slices "
                            "added, removed or re-extracted since) or another experiment's folder; conversion "
                            f"then blends in features of data the model no longer matches. {FIX}")
    return passed(cid, "; ".join(notes), measured=infos[0].ntotal, expected=rows)


def _width(files: list[Path]) -> int:
    import numpy as np

    for path in files[:1]:
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
            return int(arr.shape[1]) if arr.ndim == 2 else 0
        except (OSError, ValueError):
            return 0
    return 0


def check_ivf(ctx: ModelContext, infos: list[IndexInfo]) -> Finding:
    cid = "dataset.index_ivf"
    problems = []
    for info in infos:
        if info.nlist is None:
            problems.append(f"{info.path.name} is a {info.kind}, not an IVF index (RVC builds IVF{{n}},Flat)")
            continue
        want = rvc_nlist(rvc_training_rows(info.ntotal))
        if info.nlist != want:
            problems.append(f"{info.path.name} has {info.nlist} IVF lists; RVC builds {want} for {info.ntotal} "
                            "vectors (min(int(16 sqrt N), N // 39))")
        if info.name_nlist is not None and info.name_nlist != info.nlist:
            problems.append(f"{info.path.name} is named IVF{info.name_nlist} but holds {info.nlist} lists")
        if info.nprobe is not None and info.nprobe != 1:
            problems.append(f"{info.path.name} searches {info.nprobe} lists (nprobe); RVC uses 1")
    if problems:
        return warning(cid, "index not built the way RVC builds it: " + "; ".join(problems),
                       cause="built by another tool or script: retrieval then differs from what RVC users hear "
                             f"(speed and neighbours). {FIX} if conversions sound off")
    i = infos[0]
    return passed(cid, f"{i.path.name}: IVF{i.nlist},Flat with nprobe {i.nprobe}, as RVC builds it for {i.ntotal} vectors",
                  measured=i.nlist, expected=rvc_nlist(rvc_training_rows(i.ntotal)))
