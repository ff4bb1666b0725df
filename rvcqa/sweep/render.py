"""The sweep as text: the fixed-width table (terminal, report) and one progress line per candidate."""
from __future__ import annotations

from typing import Optional

from rvcqa.checkpoint import LATEST_ONLY_STEP
from rvcqa.sweep.model import C_MEL, SweepResult, SweepRow


def fmt(x: Optional[float], spec: str = ".3f") -> str:
    return "n/a" if x is None else format(x, spec)


def flat(x: Optional[float]) -> str:
    """Flatness: 4 decimals, scientific below 0.0005 (speech ~0.002, white noise 0.56)."""
    if x is None:
        return "n/a"
    return f"{x:.4f}" if abs(x) >= 0.0005 or x == 0 else f"{x:.1e}"


def progress_line(k: int, total: int, row: SweepRow) -> str:
    """``sweep 3/10 G_300.pth (epoch 15, step 300): mel 0.512 train / 0.601 held-out ... [2.1 s]``."""
    head = f"sweep {k}/{total} {row.candidate.short}"
    if row.error:
        return f"{head}: not measured ({row.error}) [{row.seconds:.1f} s]"
    parts = []
    if row.train is not None:
        parts.append(f"mel {fmt(row.train.mel)} train")
    if row.heldout is not None:
        parts.append(f"{fmt(row.heldout.mel)} held-out")
    s = row.scores
    extra = f", flatness {flat(s.flatness)}" if s is not None else ""
    return f"{head}: {' / '.join(parts)}{extra} [{row.seconds:.1f} s]"


def format_table(result: SweepResult) -> str:
    """The sweep as a fixed-width text table (terminal, report) with a legend and the verdict."""
    held = any(r.heldout is not None for r in result.rows)
    head = ["", "epoch", "step", "candidate", "mel train"]
    if held:
        head.append("mel held-out")
    head += ["loss_mel eq.", "log loss_mel", "flatness", "ZCR x", "F0 cents", "VDE", "time"]
    lines = []
    rec = result.recommendation
    for i, r in enumerate(result.rows):
        c = r.candidate
        mark = ("*" if rec is not None and rec.index == i else " ") + ("R" if r.released else " ")
        s = r.scores
        step = "latest" if c.step == LATEST_ONLY_STEP else ("" if c.step is None else str(c.step))
        cells = [mark, "" if c.epoch is None else str(c.epoch), step, c.label + (" (+G)" if c.also else "")]
        if r.error:
            cells += ["error"] + ([""] if held else []) + [""] * 6 + [f"{r.seconds:.0f} s"]
            lines.append(cells)
            continue
        cells.append(fmt(r.train.mel if r.train else None))
        if held:
            cells.append(fmt(r.heldout.mel if r.heldout else None))
        full = s.mel_full if s is not None else None
        cells += [
            fmt(None if full is None else full * C_MEL, ".1f"), fmt(r.loss_mel, ".1f"),
            flat(s.flatness if s else None), fmt(s.zcr_ratio if s else None, ".2f"),
            fmt(s.f0_cents if s else None, ".0f"), fmt(s.vde if s else None, ".2f"), f"{r.seconds:.0f} s",
        ]
        lines.append(cells)
    widths = [max(len(str(row[j])) for row in [head] + lines) for j in range(len(head))]

    def fmt_row(row: list[str]) -> str:
        return "  ".join(x.ljust(w) if j in (0, 3) else x.rjust(w) for j, (x, w) in enumerate(zip(row, widths)))

    out = [fmt_row(head), fmt_row(["-" * w for w in widths])] + [fmt_row(row) for row in lines]
    out.append("* recommended   R released   (+G) the G_ file at that step holds the same weights   "
               "mel: in-band log-mel L1 to 0_gt_wavs (lower is better)   loss_mel eq.: all-band x45")
    out.append(f"ranked on: {result.settings.get('ranking_metric', result.rank_on)}")
    out.append(f"held-out: {result.heldout.description}")
    if rec is not None:
        out.append(f"recommended: {result.rows[rec.index].candidate.short}: {rec.reason}")
    out.append(f"released: {result.released_name}" if result.released_file else f"released: {result.released_how}")
    for w in result.warnings:
        out.append(f"warning: {w.message}")
    if result.plot_path:
        out.append(f"plot: {result.plot_path}")
    elif result.plot_note:
        out.append(result.plot_note)
    if result.out_dir:
        out.append(f"audio: {result.out_dir}/<candidate>/<segment>.wav (GT windows in {result.out_dir / 'gt'})")
    return "\n".join(out)
