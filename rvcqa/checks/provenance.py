"""Which checkpoint the released inference model came from (RVC_FORMATS 2, 4.3; section 6 rows 3 and 7).

RVC's extractors store ``tensor.half()`` of a ``G_*.pth``'s generator without ``enc_q``, so the
source of an inference file is the checkpoint whose weights are bit-equal to it after rounding
both to fp16. Candidates are compared cheapest first: a fingerprint of a few elements of a few
small tensors (a few pages of each memory-mapped file), then a full comparison only where the
fingerprint matches. Ten real-size ``G_*.pth`` (450 MB each) take seconds.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rvcqa.checkpoint import LATEST_ONLY_STEP
from rvcqa.context import ModelContext
from rvcqa.errors import CheckpointError, RvcqaError
from rvcqa.findings import Finding, failed, passed, skipped, warning

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


# --------------------------------------------------------------------------- candidates

@dataclass
class Candidate:
    """A file the inference weights may have come from."""

    path: Path
    kind: str  # "G" (training checkpoint) or "epoch" (per-epoch inference file)
    epoch: int | None
    step: int | None

    @property
    def label(self) -> str:
        parts = []
        if self.epoch is not None:
            parts.append(f"epoch {self.epoch}")
        if self.step == LATEST_ONLY_STEP:
            parts.append("the 'save only latest' file")
        elif self.step is not None:
            parts.append(f"step {self.step}")
        return f"{self.path.name} ({', '.join(parts)})" if parts else self.path.name

    @property
    def order(self) -> tuple[int, int]:
        """Sort key, newest last: G_2333333 is the newest by definition."""
        return (self.step if self.step is not None else -1, self.epoch if self.epoch is not None else -1)


@dataclass
class CandidateResult:
    candidate: Candidate
    error: str | None = None
    fingerprint_match: bool = False
    fingerprint_distance: float = math.inf
    identical: bool = False
    comparison: Any = None  # rvcqa.weights.Comparison, for the nearest non-matching candidate


@dataclass
class SourceSearch:
    """The outcome of comparing the inference weights with every candidate."""

    results: list[CandidateResult] = field(default_factory=list)
    latest: Candidate | None = None

    @property
    def matches(self) -> list[Candidate]:
        found = [r.candidate for r in self.results if r.identical]
        # G files first (they are what RVC resumes from), then per-epoch files; newest first
        return sorted(found, key=lambda c: (c.kind != "G", tuple(-x for x in c.order)))

    @property
    def source(self) -> Candidate | None:
        return self.matches[0] if self.matches else None

    @property
    def nearest(self) -> CandidateResult | None:
        usable = [r for r in self.results if r.error is None and not r.identical]
        return min(usable, key=lambda r: r.fingerprint_distance, default=None)


def _same_file(a: Path, b: Path | None) -> bool:
    if b is None:
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def candidates(ctx: ModelContext) -> list[Candidate]:
    """Every G_*.pth and per-epoch inference file in the folder except the inference file itself."""
    md = ctx.md
    out: list[Candidate] = []
    for cf in md.g_checkpoints:
        out.append(Candidate(cf.path, "G", None, cf.step))
    for em in md.epoch_models:
        if _same_file(em.path, md.inference_file):
            continue
        out.append(Candidate(em.path, "epoch", em.epoch, em.step))
    return out


def latest_candidate(ctx: ModelContext, cands: list[Candidate]) -> Candidate | None:
    """The newest generator checkpoint (G_2333333 counts as newest); without G files the newest epoch file."""
    gs = [c for c in cands if c.kind == "G"]
    pool = gs or cands
    return max(pool, key=lambda c: c.order, default=None)


def _candidate_weights(ctx: ModelContext, cand: Candidate) -> dict[str, Any]:
    """The candidate's inference-relevant weights (no enc_q), names normalised; fills in its epoch."""
    from rvcqa.weights import inference_part, normalized

    if cand.kind == "G":
        ck = ctx.training_checkpoint(cand.path)
        if cand.epoch is None:
            cand.epoch = ck.iteration
        return normalized(inference_part(ck.model))
    from rvcqa.checkpoint import load_inference_model

    model = ctx.cached(f"epoch_model:{cand.path}", lambda: load_inference_model(cand.path))
    return normalized(model.weight)


@dataclass
class LazyFacts:
    """What the fast path reads from a checkpoint without loading its tensors."""

    iteration: int | None
    learning_rate: float | None
    current_lr: float | None
    optimizer_steps: int | None
    fingerprint: Any  # rvcqa.weights.Fingerprint of the generator / inference weights


def lazy_facts(ctx: ModelContext, path: Path, entry: str) -> LazyFacts:
    """Epoch, learning rates, step count and weight fingerprint of ``path`` via the fast reader.

    ``entry`` is "model" (G_/D_ files) or "weight" (inference files). Raises
    :class:`rvcqa.weights.LazyReadError` when the file needs the full safe loader.
    """
    return ctx.cached(f"lazy:{entry}:{path}", lambda: _lazy_facts(path, entry))


def _lazy_facts(path: Path, entry: str) -> LazyFacts:
    from rvcqa.weights import LazyReadError

    try:
        return _read_lazy_facts(path, entry)
    except LazyReadError:
        raise
    except Exception as exc:  # anything odd in the pickle: the full safe loader will word it
        raise LazyReadError(f"{type(exc).__name__}: {exc}") from None


def _read_lazy_facts(path: Path, entry: str) -> LazyFacts:
    from rvcqa.weights import LazyCheckpoint, LazyReadError, LazyTensor, lazy_fingerprint, lazy_state_dict, normalized

    with LazyCheckpoint(path) as ck:
        obj = ck.obj
        state = lazy_state_dict(obj, entry)
        fp = lazy_fingerprint(ck, normalized(state))
        iteration = obj.get("iteration")
        lr = obj.get("learning_rate")
        current_lr = steps = None
        opt = obj.get("optimizer")
        if isinstance(opt, dict):
            groups = opt.get("param_groups")
            if isinstance(groups, list) and groups and isinstance(groups[0], dict):
                value = groups[0].get("lr")
                current_lr = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
            st = opt.get("state")
            if isinstance(st, dict) and st:
                first = next(iter(st.values()))
                step = first.get("step") if isinstance(first, dict) else None
                if isinstance(step, LazyTensor):
                    if step.numel() != 1:
                        raise LazyReadError("optimizer step is not a scalar")
                    step = ck.read(step).item()
                if isinstance(step, (int, float)) and not isinstance(step, bool):
                    steps = int(step)
    return LazyFacts(
        iteration=int(iteration) if isinstance(iteration, (int, float)) and not isinstance(iteration, bool) else None,
        learning_rate=float(lr) if isinstance(lr, (int, float)) and not isinstance(lr, bool) else None,
        current_lr=current_lr, optimizer_steps=steps, fingerprint=fp,
    )


def find_source(ctx: ModelContext) -> SourceSearch:
    """Compare the inference model with every candidate (cached on the context)."""
    return ctx.cached("provenance:source", lambda: _find_source(ctx))


def _find_source(ctx: ModelContext) -> SourceSearch:
    from rvcqa.weights import compare_fp16, fingerprint, fingerprint_distance, fingerprint_match, identical_fp16, normalized

    model = ctx.inference_model()
    inf_w = normalized(model.weight)
    inf_fp = fingerprint(inf_w)
    cands = candidates(ctx)
    search = SourceSearch(latest=latest_candidate(ctx, cands))
    from rvcqa.weights import LazyReadError

    # newest first: the healthy case (source = latest) is settled by the first full comparison
    for cand in sorted(cands, key=lambda c: c.order, reverse=True):
        res = CandidateResult(cand)
        search.results.append(res)
        try:  # fast path: fingerprint from a few small tensors, epoch from the pickle
            facts = lazy_facts(ctx, cand.path, "model" if cand.kind == "G" else "weight")
            if cand.kind == "G" and cand.epoch is None:
                cand.epoch = facts.iteration
            cfp = facts.fingerprint
        except LazyReadError:  # unusual file: the full safe loader reads it (or words its error)
            try:
                cfp = fingerprint(_candidate_weights(ctx, cand), inf_fp.keys())
            except RvcqaError as error:
                res.error = str(error)
                continue
        res.fingerprint_match = fingerprint_match(inf_fp, cfp)
        res.fingerprint_distance = 0.0 if res.fingerprint_match else fingerprint_distance(inf_fp, cfp)
        if res.fingerprint_match:  # only now read the whole file (memory-mapped)
            try:
                res.identical = identical_fp16(inf_w, _candidate_weights(ctx, cand))
            except RvcqaError as error:
                res.error = str(error)
    nearest = search.nearest
    if not search.matches and nearest is not None:
        try:
            nearest.comparison = compare_fp16(inf_w, _candidate_weights(ctx, nearest.candidate))
        except RvcqaError as error:
            nearest.error = str(error)
    return search


# --------------------------------------------------------------------------- checkpoint table

def _local(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def expected_lr(epoch: int | None, initial: float | None, decay: float = 0.999875) -> float | None:
    """RVC's ExponentialLR value while training epoch ``epoch``: initial * decay^(epoch-1)."""
    if epoch is None:
        return None
    return (initial if initial is not None else 1e-4) * decay ** max(epoch - 1, 0)


def checkpoint_table(ctx: ModelContext) -> list[dict[str, Any]]:
    """One row per G_/D_ checkpoint, per-epoch model and the inference file, oldest first.

    Row keys: ``file``, ``kind`` (G, D, epoch model, inference), ``epoch`` (RVC's ``iteration``),
    ``step`` (from the name; 2333333 = "save only latest"), ``lr`` (optimizer param_groups[0].lr),
    ``lr_expected`` (RVC's schedule), ``lr_follows_schedule``, ``optimizer_steps``, ``modified``
    (local time), ``modified_ts``, ``size_mb``, ``latest`` (the newest G), ``source`` (the inference
    weights equal it after fp16 rounding; None when unknown) and ``error`` for unreadable files.
    """
    from rvcqa.weights import LazyReadError

    md = ctx.md
    decay = float(ctx.threshold("provenance.lr_decay", DEFAULTS["provenance.lr_decay"]))
    tol = float(ctx.threshold("provenance.lr_rel_tol", DEFAULTS["provenance.lr_rel_tol"]))
    try:
        search = find_source(ctx) if md.inference_file is not None else None
    except RvcqaError:
        search = None
    sources = {c.path for c in search.matches} if search else set()
    latest = md.latest_g.path if md.latest_g else None
    rows: list[dict[str, Any]] = []

    def base(path: Path, kind: str) -> dict[str, Any]:
        st = path.stat()
        return {"file": path.name, "kind": kind, "epoch": None, "step": None, "lr": None, "lr_expected": None,
                "lr_follows_schedule": None, "optimizer_steps": None, "modified": _local(st.st_mtime),
                "modified_ts": st.st_mtime, "size_mb": round(st.st_size / 1e6, 1),
                "latest": False, "source": (path in sources) if search else None, "error": None}

    for cf in md.g_checkpoints + md.d_checkpoints:
        row = base(cf.path, cf.kind)
        row["step"] = cf.step
        row["latest"] = cf.kind == "G" and latest is not None and _same_file(cf.path, latest)
        try:
            ck: Any = lazy_facts(ctx, cf.path, "model")
        except LazyReadError:
            try:
                ck = ctx.training_checkpoint(cf.path)
            except RvcqaError as error:
                row["error"] = str(error)
                rows.append(row)
                continue
        row.update(epoch=ck.iteration, lr=ck.current_lr, optimizer_steps=ck.optimizer_steps)
        exp = expected_lr(ck.iteration, ck.learning_rate, decay)
        row["lr_expected"] = exp
        if exp is not None and ck.current_lr is not None:
            row["lr_follows_schedule"] = math.isclose(ck.current_lr, exp, rel_tol=tol)
        rows.append(row)
    for em in md.epoch_models:
        if _same_file(em.path, md.inference_file):
            continue
        row = base(em.path, "epoch model")
        row.update(epoch=em.epoch, step=em.step)
        rows.append(row)
    if md.inference_file is not None and md.inference_file.exists():
        row = base(md.inference_file, "inference")
        row["source"] = None
        try:
            model = ctx.inference_model()
            row["epoch"] = model.epoch
            step = model.extra.get("step")
            row["step"] = step if isinstance(step, int) else None
        except RvcqaError as error:
            row["error"] = str(error)
        rows.append(row)
    rows.sort(key=lambda r: (r["modified_ts"], r["kind"] == "inference"))
    return rows


# --------------------------------------------------------------------------- run

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


def _source_checkpoint(ctx: ModelContext, model, search: SourceSearch) -> Finding:
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


def _latest_checkpoint(ctx: ModelContext, model, search: SourceSearch) -> Finding:
    cid = "provenance.latest_checkpoint"
    name = _name(ctx)
    latest = search.latest
    if latest is None:
        return skipped(cid, f"no G_*.pth or per-epoch models next to {name} to compare with")
    if latest.epoch is None:
        try:
            _candidate_weights(ctx, latest)
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
        t_src, t_latest = _local(src.path.stat().st_mtime), _local(latest.path.stat().st_mtime)
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


def _pretrained_path(ctx: ModelContext) -> tuple[Path | None, str]:
    """The pretrained base G: --pretrained, else train.log's pretrainG. Returns (path or None, text)."""
    if ctx.options.pretrained is not None:
        p = Path(ctx.options.pretrained).expanduser()
        return (p if p.is_file() else None), f"--pretrained {p}"
    try:
        log = ctx.train_log()
    except (ImportError, RvcqaError) as error:
        return None, f"the training log cannot be read ({error}); pass --pretrained PATH"
    hparams = getattr(log, "hparams", None) if log is not None else None
    if not hparams:
        return None, "no training log with an hparams line names the pretrained base; pass --pretrained PATH"
    raw = hparams.get("pretrainG")
    if not raw:
        return None, "the training log says no pretrained G was used (pretrainG is empty)"
    raw_path = Path(str(raw)).expanduser()
    tries = [raw_path] if raw_path.is_absolute() else []
    root = ctx.md.root.resolve()
    rvc_roots = [root.parent.parent] if root.parent.name == "logs" else []
    if not raw_path.is_absolute():
        tries += [Path.cwd() / raw_path] + [r / raw_path for r in rvc_roots] + [root / raw_path]
    else:  # e.g. /app/assets/pretrained_v2/f0G48k.pth from another machine: try RVC's assets here
        parts = raw_path.parts
        if "assets" in parts:
            rel = Path(*parts[parts.index("assets"):])
            tries += [r / rel for r in rvc_roots] + [Path.cwd() / rel]
    for t in tries:
        if t.is_file():
            return t, f"train.log pretrainG {raw}"
    return None, f"the pretrained base {raw} (train.log pretrainG) is not on this machine; pass --pretrained PATH"


def _load_any_state_dict(path: Path) -> dict[str, Any]:
    from rvcqa.checkpoint import load_pth
    from rvcqa.weights import inference_part, normalized

    obj = load_pth(path)
    if isinstance(obj, dict):
        for key in ("model", "weight"):
            if isinstance(obj.get(key), dict):
                return normalized(inference_part(obj[key]))
        import torch

        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return normalized(inference_part(obj))
    raise CheckpointError(f"{path}: not a generator checkpoint (no 'model' or 'weight' state dict)")


def _not_pretrained(ctx: ModelContext, model) -> Finding:
    cid = "provenance.not_pretrained"
    name = _name(ctx)
    path, how = _pretrained_path(ctx)
    if path is None:
        return skipped(cid, f"cannot compare {name} with the pretrained base: {how}")
    from rvcqa.weights import compare_fp16, fingerprint, fingerprint_match, identical_fp16, normalized

    try:
        pre = ctx.cached(f"pretrained:{path}", lambda: _load_any_state_dict(path))
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


def _epoch_info(ctx: ModelContext, model, search: SourceSearch) -> Finding:
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
