"""Which weights a sweep measures: every ``G_*.pth`` and per-epoch file, and which one was released.

Only names and a few small tensors are read here (the fast pickle reader of :mod:`rvcqa.weights`),
never a whole checkpoint, except to confirm that two files hold bit-equal weights.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Sequence

from rvcqa.checkpoint import LATEST_ONLY_STEP
from rvcqa.errors import RvcqaError
from rvcqa.sweep.model import SweepCandidate, SweepWarning

if TYPE_CHECKING:
    from rvcqa.context import ModelContext


@dataclass(frozen=True)
class LazyRead:
    """What the fast reader gives for one file: the epoch and a weight fingerprint."""

    iteration: Optional[int]
    fingerprint: Any  # rvcqa.weights.Fingerprint


def lazy_read(ctx: ModelContext, path: Path, entry: str) -> Optional[LazyRead]:
    """``entry`` is "model" (G_ files) or "weight" (inference files); None when the file is unusual
    (the safe loader then reads it, or words its error)."""

    def read() -> Optional[LazyRead]:
        from rvcqa.lazyload import LazyCheckpoint, lazy_fingerprint, lazy_state_dict
        from rvcqa.weights import normalized

        try:
            with LazyCheckpoint(path) as ck:
                state = lazy_state_dict(ck.obj, entry)
                fp = lazy_fingerprint(ck, normalized(state))
                it = ck.obj.get("iteration")
        except Exception:  # noqa: BLE001 - anything odd in the pickle: not readable the fast way
            return None
        ok = isinstance(it, (int, float)) and not isinstance(it, bool)
        return LazyRead(int(it) if ok else None, fp)

    return ctx.cached(f"sweep:lazy:{entry}:{path}", read)


def _entry(path: Path, g_files: set[Path]) -> str:
    return "model" if path in g_files else "weight"


def _same_weights(ctx: ModelContext, a: Path, a_entry: str, b: Path, b_entry: str) -> bool:
    """Cheap check that two files hold the same weights (fingerprint of a few small tensors, fp16)."""
    from rvcqa.weights import fingerprint_match

    ra, rb = lazy_read(ctx, a, a_entry), lazy_read(ctx, b, b_entry)
    return ra is not None and rb is not None and fingerprint_match(ra.fingerprint, rb.fingerprint)


def find_candidates(ctx: ModelContext) -> list[SweepCandidate]:
    """Every G_*.pth and per-epoch inference file, ordered by step (G_2333333 last).

    A per-epoch file and a ``G_`` file at the same step holding the same weights (fingerprint) are
    one candidate, run from the per-epoch file (fp16, what would be released, a fraction of the
    size); the G file is listed in ``also``.
    """
    md = ctx.md
    by_step: dict[int, SweepCandidate] = {}
    out: list[SweepCandidate] = []
    for em in md.epoch_models:
        c = SweepCandidate(em.path, "epoch", em.step, em.epoch)
        out.append(c)
        by_step.setdefault(em.step, c)
    for cf in md.g_checkpoints:
        twin = by_step.get(cf.step)
        if twin is not None and not twin.also and _same_weights(ctx, twin.path, "weight", cf.path, "model"):
            twin.also.append(cf.path)
            continue
        read = lazy_read(ctx, cf.path, "model")
        out.append(SweepCandidate(cf.path, "G", cf.step, read.iteration if read else None))
    out.sort(key=lambda c: (c.step if c.step is not None else -1, c.epoch if c.epoch is not None else -1,
                            c.kind != "epoch"))
    return out


def _steps_per_epoch(ctx: ModelContext) -> Optional[int]:
    from rvcqa.trainlog import steps_per_epoch_from_log

    try:
        log = ctx.train_log()
    except RvcqaError:
        return None
    if log is None:
        return None
    try:
        spe = steps_per_epoch_from_log(log)
    except Exception:  # noqa: BLE001 - an odd log just means no estimate
        return None
    return int(spe) if spe else None


def assign_plot_steps(ctx: ModelContext, cands: Sequence[SweepCandidate]) -> None:
    """The step each candidate is drawn at; ``G_2333333`` ("save only latest") gets epoch x steps/epoch."""
    spe: Optional[int] = None
    for c in cands:
        if c.step is not None and c.step != LATEST_ONLY_STEP:
            c.plot_step = c.step
            continue
        if spe is None:
            spe = _steps_per_epoch(ctx) or 0
        if c.epoch is not None and spe:
            c.plot_step = c.epoch * spe


def _source_of_released(ctx: ModelContext, cands: Sequence[SweepCandidate]) -> Optional[tuple[int, Path]]:
    """The candidate file whose weights the released file holds bit-equal after fp16 rounding.

    The provenance engine settles it (:func:`rvcqa.provenance.find_source`, cached on the context
    and shared with the provenance checks): G files first (what RVC resumes from), then per-epoch
    files, newest first. Raises :class:`RvcqaError` when the released file itself does not load.
    """
    from rvcqa.provenance import find_source

    for match in find_source(ctx).matches:
        source = match.path.resolve()
        for i, c in enumerate(cands):
            for path in [c.path, *c.also]:
                if path.resolve() == source:
                    return i, path
    return None


def identify_released(ctx: ModelContext, cands: list[SweepCandidate]) -> tuple[Optional[int], str, list[SweepWarning]]:
    """Index of the candidate the released file is (or came from) and how that was established.

    A released file that is none of the candidates is appended to ``cands`` as an extra one.
    """
    inf = ctx.md.inference_file
    if inf is None:
        return None, "no released inference model found in the folder (pass --model-file)", []
    resolved = inf.resolve()
    for i, c in enumerate(cands):
        if any(p.resolve() == resolved for p in [c.path, *c.also]):
            return i, f"it is the per-epoch file {c.label} itself", []
    try:
        found = _source_of_released(ctx, cands)
    except RvcqaError as error:
        cands.append(SweepCandidate(inf, "released", None, None))
        return len(cands) - 1, f"it could not be compared with the checkpoints ({error})", [
            SweepWarning("released_unknown", f"which checkpoint {inf.name} came from is unknown: {error}")]
    if found is not None:
        return found[0], f"bit-equal to {found[1].name} after fp16 rounding, as RVC's extraction writes it", []
    model = ctx.inference_model()
    step = model.extra.get("step") if isinstance(model.extra.get("step"), int) else None
    cands.append(SweepCandidate(inf, "released", step, model.epoch, plot_step=step or None))
    return len(cands) - 1, ("not bit-equal (after fp16 rounding) to any checkpoint here, so it was measured as an "
                            "extra candidate"), []
