"""The sweep's picture: metrics per checkpoint against the step, with the log's loss_mel."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

from rvcqa.sweep.model import SweepResult, SweepRow


def plot_sweep(result: SweepResult, path: Path) -> Path:
    """PNG: mel distance (train / held-out) with the log's loss_mel on the same step axis; flatness
    and ZCR ratio; F0 error and voicing error. matplotlib Agg canvas, no pyplot state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    pts = [(r.candidate.plot_step, r) for r in result.rows if r.candidate.plot_step is not None and not r.error]
    pts.sort(key=lambda t: t[0])
    fig = Figure(figsize=(10, 9), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2, ax3 = fig.subplots(3, 1, sharex=True)
    xs = [p for p, _ in pts]

    def series(get: Callable[[SweepRow], Optional[float]]) -> tuple[list[int], list[float]]:
        """(steps, values) where the value is known."""
        got = [(x, get(r)) for x, r in pts]
        kept = [(x, float(v)) for x, v in got if x is not None and v is not None]
        return [x for x, _ in kept], [v for _, v in kept]

    ax1.set_title(f"{result.name}: quality per checkpoint (lower is better)")
    for label, get, color in (("mel distance, training sample", lambda r: r.train.mel if r.train else None, "#1f77b4"),
                              ("mel distance, " + ("held-out" if result.heldout.kind == "not_in_filelist" else
                                                   "set-aside") + " segments",
                               lambda r: r.heldout.mel if r.heldout else None, "#ff7f0e")):
        x, y = series(get)
        if x:
            ax1.plot(x, y, marker="o", color=color, label=label)
    ax1.set_ylabel("log-mel L1 (in-band)")
    if result.loss_mel:
        tw = ax1.twinx()
        tw.plot([s for s, _ in result.loss_mel], [v for _, v in result.loss_mel], color="0.6", lw=0.8,
                label="train.log loss_mel")
        tw.set_ylabel("loss_mel (train.log)", color="0.4")
        _legend(tw, loc="upper center")
    rec = result.best_row
    for r, marker, color, label in ((rec, "*", "green", "recommended"), (result.released_row, "s", "red", "released")):
        if r is not None and r.candidate.plot_step is not None and r.score("train" if r.train else "heldout") is not None:
            scores = r.scores
            ax1.plot([r.candidate.plot_step], [scores.mel if scores else None], marker=marker, markersize=16, color=color, ls="none",
                     fillstyle="none", mew=2, label=label)
    _legend(ax1, loc="best")
    ax1.grid(alpha=0.3)
    for ax, items, ylabel in (
        (ax2, (("flatness", _of("flatness"), "#2ca02c"),), "spectral flatness"),
        (ax3, (("F0 median |cents|", _of("f0_cents"), "#9467bd"),), "F0 error (cents)"),
    ):
        for label, get, color in items:
            x, y = series(get)
            if x:
                ax.plot(x, y, marker="o", color=color, label=label)
            else:
                ax.text(0.5, 0.5, f"no {label} measured", transform=ax.transAxes, ha="center", color="gray")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    tw2 = ax2.twinx()
    x, y = series(_of("zcr_ratio"))
    if x:
        tw2.plot(x, y, marker="^", color="#8c564b", label="ZCR ratio (output / GT)")
        tw2.axhline(1.0, color="#8c564b", lw=0.6, ls=":")
    tw2.set_ylabel("ZCR ratio")
    _legend(tw2, loc="upper right")
    tw3 = ax3.twinx()
    x, y = series(_of("vde"))
    if x:
        tw3.plot(x, y, marker="^", color="#e377c2", label="voicing error")
    tw3.set_ylabel("voicing error")
    _legend(tw3, loc="upper right")
    _legend(ax2, loc="upper left")
    _legend(ax3, loc="upper left")
    ax3.set_xlabel("step")
    if not xs:
        ax1.text(0.5, 0.5, "no candidate with a known step", transform=ax1.transAxes, ha="center")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100)
    return path


def _of(name: str) -> Callable[[SweepRow], Optional[float]]:
    """A getter for one metric of the row's shown set."""
    def get(row: SweepRow) -> Optional[float]:
        scores = row.scores
        value = getattr(scores, name) if scores is not None else None
        return None if value is None else float(value)

    return get


def _legend(ax: Any, **kw: Any) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, **kw)
