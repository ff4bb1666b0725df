"""Which checkpoint the released inference model came from, judged (RVC_FORMATS 2, 4.3; section 6 rows 3 and 7).

The search itself (candidates, fingerprints, full fp16 comparison, the checkpoint table) is
:mod:`rvcqa.provenance`; this module turns its results into findings.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rvcqa.checkpoint import LATEST_ONLY_STEP
from rvcqa.errors import RvcqaError
from rvcqa.findings import Finding, failed, passed, skipped, warning
from rvcqa.provenance import (
    SourceSearch, candidate_weights, checkpoint_rows, find_source, lazy_facts, load_any_state_dict, local_time,
    pretrained_path,
)

if TYPE_CHECKING:
    from rvcqa.checkpoint import InferenceModel
    from rvcqa.context import ModelContext

#: ``find_source`` and ``lazy_facts`` are re-exported for the sweep, which imports them from here.
__all__ = ["CHECK_IDS", "DEFAULTS", "checkpoint_table", "find_source", "lazy_facts", "run"]


CHECK_IDS: tuple[str, ...] = (
    "provenance.checkpoints",
    "provenance.source_checkpoint",
    "provenance.latest_checkpoint",
    "provenance.not_pretrained",
    "provenance.epoch_info",
)


DEFAULTS: dict[str, Any] = {
    # RVC's ExponentialLR: lr(epoch) = learning_rate * lr_decay^(epoch-1), lr_decay 0.999875 in every
    # RVC config.json (RVC_FORMATS 2). Used for the informational schedule column only.
    "provenance.lr_decay": 0.999875,
    # Relative tolerance for "the checkpoint's lr follows the schedule": the saved lr is the product of
    # (epoch-1) float multiplications, so it agrees to ~1e-12; 1e-4 allows a printed/rounded value.
    "provenance.lr_rel_tol": 1e-4,
}


def thr(ctx: ModelContext, key: str) -> Any:
    """The profile's value for ``key``, this module's default when nothing overrides it."""
    return ctx.threshold(key, DEFAULTS[key])


def run(ctx: ModelContext) -> list[Finding]:
    out = [_checkpoints(ctx)]
    try:
        model = ctx.inference_model()
    except RvcqaError as error:
        reason = f"the inference model did not load: {error}"
        return out + [skipped(cid, f"{cid}: not evaluated: {reason}") for cid in CHECK_IDS[1:]]
    try:
        search = find_source(ctx)
    except RvcqaError as error:
        return out + [failed(cid, str(error)) for cid in CHECK_IDS[1:]]
    source = search.source
    if source is not None:
        ctx.record("source_checkpoint", source.label)
    out.append(_source_checkpoint(ctx, model, search))
    out.append(_latest_checkpoint(ctx, model, search))
    out.append(_not_pretrained(ctx, model))
    out.append(_epoch_info(ctx, model, search))
    return out


def _name(ctx: ModelContext) -> str:
    f = ctx.md.inference_file
    return f.name if f is not None else f"{ctx.name}.pth"


def _fmt_lr(v: float | None) -> str:
    return f"{v:.6g}" if isinstance(v, float) else "-"


def _checkpoints(ctx: ModelContext) -> Finding:
    cid = "provenance.checkpoints"
    md = ctx.md
    if not (md.g_checkpoints or md.d_checkpoints or md.epoch_models):
        return skipped(cid, f"no G_*.pth, D_*.pth or per-epoch models in {md.root} to report")
    table = checkpoint_table(ctx)
    gs = [r for r in table if r["kind"] == "G"]
    unreadable = [r for r in table if r["error"] and r["kind"] != "inference"]
    off_schedule = [r for r in table if r["lr_follows_schedule"] is False]
    parts = []
    if gs:
        first = min(gs, key=lambda r: r["step"])
        last = next((r for r in gs if r["latest"]), max(gs, key=lambda r: r["step"]))

        def describe(r: dict[str, Any], lr: bool) -> str:
            if r["error"]:
                return f"{r['file']} (unreadable, {r['modified']})"
            return (f"{r['file']} (epoch {r['epoch']}" + (f", lr {_fmt_lr(r['lr'])}" if lr else "")
                    + f", {r['modified']})")

        parts.append(
            f"{len(gs)} generator checkpoint{'s' if len(gs) != 1 else ''}: "
            + (f"{describe(first, False)} to " if first is not last else "") + describe(last, True)
        )
    epochs = [r for r in table if r["kind"] == "epoch model"]
    if epochs:
        parts.append(f"{len(epochs)} per-epoch model{'s' if len(epochs) != 1 else ''}")
    inf = next((r for r in table if r["kind"] == "inference"), None)
    if inf:
        parts.append(f"{inf['file']} saved {inf['modified']}")
    if off_schedule:
        parts.append(
            "lr differs from RVC's schedule 1e-4*0.999875^(epoch-1) in "
            + ", ".join(f"{r['file']} ({_fmt_lr(r['lr'])} vs {_fmt_lr(r['lr_expected'])})" for r in off_schedule[:3])
            + " (a custom learning rate, or not RVC's trainer)"
        )
    details = {"table": table}
    if unreadable:
        return warning(
            cid, "; ".join(parts) + "; unreadable: " + "; ".join(r["error"] for r in unreadable[:3]),
            measured=len(table), expected=None,
            cause="a checkpoint was cut off while saving or copying (disk full, training killed); RVC resumes "
                  "from the highest-numbered G_/D_ file and would crash on it",
            details=details,
        )
    return passed(cid, "; ".join(parts), measured=len(table), expected=None, details=details)


def _source_checkpoint(ctx: ModelContext, model: InferenceModel, search: SourceSearch) -> Finding:
    cid = "provenance.source_checkpoint"
    name = _name(ctx)
    if not search.results:
        return skipped(cid, f"no G_*.pth or per-epoch models next to {name} to compare with")
    readable = [r for r in search.results if r.error is None]
    if not readable:
        return failed(cid, f"none of the {len(search.results)} checkpoints can be read: {search.results[0].error}",
                      measured=0, expected=">= 1 readable checkpoint")
    src = search.source
    details = {"compared": [r.candidate.path.name for r in search.results],
               "matches": [c.path.name for c in search.matches],
               "unreadable": {r.candidate.path.name: r.error for r in search.results if r.error}}
    if src is not None:
        others = [c.path.name for c in search.matches[1:]]
        also = f" (and {', '.join(others)})" if others else ""
        return passed(cid, f"{name} matches {src.label}{also} after fp16 rounding",
                      measured=src.path.name, expected="a checkpoint in the folder", details=details)
    nearest = search.nearest
    near_text = ""
    if nearest is not None and nearest.comparison is not None:
        near_text = f"; the nearest, {nearest.candidate.label}, differs: {nearest.comparison.describe()}"
        if nearest.comparison.within_rounding():
            near_text += (f"; every value agrees within {nearest.comparison.max_rel_diff:.1e} (relative), i.e. "
                          "these are the same weights stored at a lower precision (e.g. re-saved as bfloat16 by "
                          "another tool)")
        details["nearest"] = {"file": nearest.candidate.path.name, "rel_l2": nearest.comparison.rel_l2,
                              "tensors_differing": len(nearest.comparison.differing),
                              "tensors_compared": nearest.comparison.compared}
    return failed(
        cid,
        f"{name} matches none of the {len(readable)} checkpoints in {ctx.md.root.name}{near_text}",
        measured=None, expected="identical (after fp16 rounding) to one G_*.pth or per-epoch model",
        cause="the checkpoint it was extracted from has since been overwritten or deleted (G_2333333.pth with "
              "'save only latest', or training continued after extraction), or the model comes from another "
              "experiment with the same name",
        details=details,
    )


def _latest_checkpoint(ctx: ModelContext, model: InferenceModel, search: SourceSearch) -> Finding:
    cid = "provenance.latest_checkpoint"
    name = _name(ctx)
    latest = search.latest
    if latest is None:
        return skipped(cid, f"no G_*.pth or per-epoch models next to {name} to compare with")
    if latest.epoch is None:
        try:
            candidate_weights(ctx, latest)
        except RvcqaError:
            pass
    src = search.source
    if src is None:
        return skipped(cid, f"the checkpoint {name} came from is not in the folder (see provenance.source_checkpoint)")
    matched = {c.path for c in search.matches}
    if latest.path in matched or any(c.order >= latest.order for c in search.matches):
        return passed(cid, f"{name} comes from the latest checkpoint, {latest.label}",
                      measured=src.path.name, expected=latest.path.name)
    times = ""
    try:
        t_src, t_latest = local_time(src.path.stat().st_mtime), local_time(latest.path.stat().st_mtime)
        times = f" ({src.path.name} saved {t_src}, {latest.path.name} saved {t_latest})"
    except OSError:
        pass
    return failed(
        cid,
        f"{name} matches {src.label}; the latest checkpoint is {latest.label}",
        measured=src.path.name, expected=latest.path.name,
        cause=f"the model was extracted from an early checkpoint{times}: RVC's ckpt tab was pointed at the wrong "
              f"G_*.pth, or {name} was saved before training finished; extract again from {latest.path.name} "
              "(ckpt processing -> extract small model)",
        details={"source": src.path.name, "source_epoch": src.epoch, "source_step": src.step,
                 "latest": latest.path.name, "latest_epoch": latest.epoch, "latest_step": latest.step},
    )


def _not_pretrained(ctx: ModelContext, model: InferenceModel) -> Finding:
    cid = "provenance.not_pretrained"
    name = _name(ctx)
    path, how = pretrained_path(ctx)
    if path is None:
        return skipped(cid, f"cannot compare {name} with the pretrained base: {how}")
    from rvcqa.weights import (
        compare_fp16,
        fingerprint,
        fingerprint_match,
        identical_fp16,
        normalized,
    )

    try:
        pre = ctx.cached(f"pretrained:{path}", lambda: load_any_state_dict(path))
    except RvcqaError as error:
        return failed(cid, f"the pretrained base cannot be read: {error}", measured=None, expected=None)
    inf_w = normalized(model.weight)
    fp = fingerprint(inf_w)
    same = fingerprint_match(fp, fingerprint(pre, fp.keys())) and identical_fp16(inf_w, pre)
    if same:
        return failed(
            cid,
            f"{name} is identical to the pretrained base {path.name} (after fp16 rounding): it holds no training",
            measured="identical", expected="fine-tuned weights that differ from the pretrained base",
            cause="the model was extracted from the pretrained G (e.g. assets/pretrained_v2/f0G48k.pth given in "
                  "the ckpt tab) instead of logs/NAME/G_*.pth, or training never updated the weights; it speaks "
                  "with the pretrain's VCTK voices, not yours",
            details={"pretrained": str(path), "from": how},
        )
    cmp = compare_fp16(inf_w, pre)
    if cmp.compared == 0:
        return skipped(cid, f"the pretrained base {path.name} has none of {name}'s tensors (another variant)",
                       details={"pretrained": str(path)})
    return passed(
        cid, f"{name} differs from the pretrained base {path.name} ({how}): relative difference {cmp.rel_l2:.3g}",
        measured=cmp.rel_l2, expected="> 0", details={"pretrained": str(path), "rel_l2": cmp.rel_l2,
                                                     "tensors_differing": len(cmp.differing)},
    )


def _epoch_info(ctx: ModelContext, model: InferenceModel, search: SourceSearch) -> Finding:
    cid = "provenance.epoch_info"
    name = _name(ctx)
    claimed_epoch = model.epoch
    claimed_step = model.extra.get("step") if isinstance(model.extra.get("step"), int) else None
    where = "Applio epoch/step" if isinstance(model.extra.get("epoch"), int) else f"info {model.info!r}"
    if claimed_epoch is None:
        return skipped(cid, f"{name}'s info {model.info!r} names no epoch (RVC's savee writes \"<N>epoch\")")
    src = search.source
    if src is None:
        return skipped(cid, f"{name} claims epoch {claimed_epoch}, but its source checkpoint is not in the folder "
                            "(see provenance.source_checkpoint)")
    if src.epoch is None:
        return skipped(cid, f"{src.path.name} records no epoch (iteration) to compare {where} with")
    problems = []
    if claimed_epoch != src.epoch:
        problems.append(f"{where} says epoch {claimed_epoch} but its weights are {src.label}")
    if (claimed_step is not None and src.step is not None and src.step != LATEST_ONLY_STEP
            and claimed_step != src.step and not problems):
        problems.append(f"{where} says step {claimed_step} but its weights are {src.label}")
    if problems:
        return failed(
            cid, "; ".join(problems),
            measured={"epoch": claimed_epoch, "step": claimed_step}, expected={"epoch": src.epoch, "step": src.step},
            cause="the info text was typed by hand in RVC's ckpt tab, or the file was renamed/re-extracted from "
                  "another checkpoint: the label does not describe the weights",
        )
    return passed(cid, f"{where} agrees with its source {src.label}",
                  measured=claimed_epoch, expected=src.epoch)


def checkpoint_table(ctx: ModelContext) -> list[dict[str, Any]]:
    """:func:`rvcqa.provenance.checkpoint_rows` under this profile's lr_decay and tolerance."""
    decay = float(thr(ctx, "provenance.lr_decay"))
    tol = float(thr(ctx, "provenance.lr_rel_tol"))
    return checkpoint_rows(ctx, decay=decay, tol=tol)
