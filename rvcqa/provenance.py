"""Finding which checkpoint the released inference model came from (RVC_FORMATS 2, 4.3; section 6 rows 3 and 7).

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
from typing import TYPE_CHECKING, Any

from rvcqa.checkpoint import LATEST_ONLY_STEP
from rvcqa.errors import CheckpointError, RvcqaError

if TYPE_CHECKING:
    from rvcqa.context import ModelContext


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


def candidate_weights(ctx: ModelContext, cand: Candidate) -> dict[str, Any]:
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
    :class:`rvcqa.lazyload.LazyReadError` when the file needs the full safe loader.
    """
    return ctx.cached(f"lazy:{entry}:{path}", lambda: _lazy_facts(path, entry))


def _lazy_facts(path: Path, entry: str) -> LazyFacts:
    from rvcqa.lazyload import LazyReadError

    try:
        return _read_lazy_facts(path, entry)
    except LazyReadError:
        raise
    except Exception as exc:  # anything odd in the pickle: the full safe loader will word it
        raise LazyReadError(f"{type(exc).__name__}: {exc}") from None


def _read_lazy_facts(path: Path, entry: str) -> LazyFacts:
    from rvcqa.lazyload import LazyCheckpoint, LazyReadError, LazyTensor, lazy_fingerprint, lazy_state_dict
    from rvcqa.weights import normalized

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
    from rvcqa.weights import (
        compare_fp16,
        fingerprint,
        fingerprint_distance,
        fingerprint_match,
        identical_fp16,
        normalized,
    )

    model = ctx.inference_model()
    inf_w = normalized(model.weight)
    inf_fp = fingerprint(inf_w)
    cands = candidates(ctx)
    search = SourceSearch(latest=latest_candidate(ctx, cands))
    from rvcqa.lazyload import LazyReadError

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
                cfp = fingerprint(candidate_weights(ctx, cand), inf_fp.keys())
            except RvcqaError as error:
                res.error = str(error)
                continue
        res.fingerprint_match = fingerprint_match(inf_fp, cfp)
        res.fingerprint_distance = 0.0 if res.fingerprint_match else fingerprint_distance(inf_fp, cfp)
        if res.fingerprint_match:  # only now read the whole file (memory-mapped)
            try:
                res.identical = identical_fp16(inf_w, candidate_weights(ctx, cand))
            except RvcqaError as error:
                res.error = str(error)
    nearest = search.nearest
    if not search.matches and nearest is not None:
        try:
            nearest.comparison = compare_fp16(inf_w, candidate_weights(ctx, nearest.candidate))
        except RvcqaError as error:
            nearest.error = str(error)
    return search


def local_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def expected_lr(epoch: int | None, initial: float | None, decay: float = 0.999875) -> float | None:
    """RVC's ExponentialLR value while training epoch ``epoch``: initial * decay^(epoch-1)."""
    if epoch is None:
        return None
    return (initial if initial is not None else 1e-4) * decay ** max(epoch - 1, 0)


def checkpoint_rows(ctx: ModelContext, *, decay: float, tol: float) -> list[dict[str, Any]]:
    """One row per G_/D_ checkpoint, per-epoch model and the inference file, oldest first.

    Row keys: ``file``, ``kind`` (G, D, epoch model, inference), ``epoch`` (RVC's ``iteration``),
    ``step`` (from the name; 2333333 = "save only latest"), ``lr`` (optimizer param_groups[0].lr),
    ``lr_expected`` (RVC's schedule), ``lr_follows_schedule``, ``optimizer_steps``, ``modified``
    (local time), ``modified_ts``, ``size_mb``, ``latest`` (the newest G), ``source`` (the inference
    weights equal it after fp16 rounding; None when unknown) and ``error`` for unreadable files.
    ``decay`` is RVC's lr_decay, ``tol`` the relative tolerance of "follows the schedule".
    """
    from rvcqa.lazyload import LazyReadError

    md = ctx.md
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
                "lr_follows_schedule": None, "optimizer_steps": None, "modified": local_time(st.st_mtime),
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


def pretrained_path(ctx: ModelContext) -> tuple[Path | None, str]:
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


def load_any_state_dict(path: Path) -> dict[str, Any]:
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
