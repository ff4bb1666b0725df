"""The watch's always-current outputs: ``watch.txt`` (table), ``watch.json``, ``watch.png`` and a
``watch.html`` that reloads itself, all in the results folder (never in the model folder)."""
from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any, Optional

from rvcqa.sweep.render import fmt
from rvcqa.sweep.run import Sample, write_json
from rvcqa.watch.heldout import Recordings
from rvcqa.watch.judge import Judge

REFRESH_S = 15


def table(judge: Judge, sample: Sample, recordings: Recordings) -> str:
    """Fixed-width table: one row per judged checkpoint, best marked with ``*``."""
    slice_name = "held-out slice" if sample.heldout.kind == "not_in_filelist" else "set-aside"
    head = ["", "epoch", "step", "checkpoint", "train", slice_name]
    if recordings.refs:
        head.append("held-out")
    head += ["trend", "time"]
    best = judge.best()
    rows: list[list[str]] = []
    for i, p in enumerate(judge.points):
        r = p.row
        sub = Judge(judge.metric, judge.tol, judge.points[: i + 1])
        cells = ["*" if p is best else " ", "" if p.epoch is None else str(p.epoch),
                 "" if r.candidate.step is None else str(r.candidate.step), p.label,
                 fmt(r.train.mel if r.train else None), fmt(r.heldout.mel if r.heldout else None)]
        if recordings.refs:
            cells.append(fmt(p.recordings))
        cells += [r.error and "error" or sub.trend(p), f"{r.seconds:.1f} s"]
        rows.append(cells)
    widths = [max(len(row[j]) for row in [head] + rows) for j in range(len(head))]

    def line(row: list[str]) -> str:
        return "  ".join(x.ljust(w) if j in (0, 3, len(head) - 2) else x.rjust(w)
                         for j, (x, w) in enumerate(zip(row, widths)))

    out = [line(head), line(["-" * w for w in widths])] + [line(r) for r in rows]
    out.append(f"* best so far   {judge.describe()}")
    for call in judge.calls():
        out.append(f"call: {call.message}")
    return "\n".join(out)


def _plot(judge: Judge, recordings: Recordings, path: Path) -> Optional[Path]:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    fig = Figure(figsize=(9, 4.5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    series: list[tuple[str, Any]] = [("training sample", lambda p: p.row.score("train")),
                                     ("set-aside / held-out slice", lambda p: p.row.score("heldout"))]
    if recordings.refs:
        series.append(("held-out recordings", lambda p: p.recordings))
    for label, get in series:
        raw = [(p.row.candidate.plot_step, get(p)) for p in judge.points]
        pts = [(int(x), float(y)) for x, y in raw if x is not None and y is not None]
        if pts:
            ax.plot([x for x, _ in pts], [y for _, y in pts], marker="o", label=label)
    best = judge.best()
    best_value = best.value(judge.metric) if best is not None else None
    if best is not None and best.row.candidate.plot_step is not None and best_value is not None:
        ax.plot([best.row.candidate.plot_step], [best_value], marker="*", markersize=16, color="green",
                ls="none", fillstyle="none", mew=2, label="best so far")
    ax.set_xlabel("step")
    ax.set_ylabel("log-mel L1 (in-band), lower is better")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.savefig(path, format="png", dpi=100)
    return path


def _replace(path: Path, text: str) -> None:
    """Write beside, then rename: a browser reloading the page never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_page(out_dir: Path, name: str, judge: Judge, sample: Sample, recordings: Recordings, *,
               status: str = "") -> Path:
    """Refresh every output; returns the HTML page's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    text = table(judge, sample, recordings)
    _replace(out_dir / "watch.txt", text + "\n")
    write_json(out_dir / "watch.json", {
        "name": name, "metric": judge.metric, "metric_name": judge.metric_name,
        "tolerances": judge.tol.describe(), "status": status or "watching",
        "points": [{"label": p.label, "epoch": p.epoch, "step": p.row.candidate.step,
                    "recordings": p.recordings, **p.row.to_dict(judge.metric if judge.metric != "recordings"
                                                                else "train")} for p in judge.points],
        "calls": [{"kind": c.kind, "epoch": c.epoch, "release": c.release, "message": c.message}
                  for c in judge.calls()],
        "recommendation": judge.recommendation(), "heldout_recordings": recordings.reason or recordings.source,
    })
    png = _plot(judge, recordings, out_dir / "watch.png")
    refresh = "" if status else f'<meta http-equiv="refresh" content="{REFRESH_S}">'
    img = f'<img src="watch.png?n={len(judge.points)}" alt="distance per checkpoint">' if png else ""
    page = (f"<!doctype html><html><head><meta charset='utf-8'>{refresh}<title>rvcqa watch: {html.escape(name)}"
            f"</title></head><body><h1>rvcqa watch: {html.escape(name)}</h1>"
            f"<p>{html.escape(status or 'watching (this page reloads itself)')}</p>{img}"
            f"<pre>{html.escape(text)}</pre><p>{html.escape(judge.recommendation())}</p></body></html>")
    _replace(out_dir / "watch.html", page)
    return out_dir / "watch.html"
