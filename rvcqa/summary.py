"""The end-of-run table: verdict per model, failed checks, and key measurements.

Printed by the plugin's terminal summary on every run (serial or the xdist controller, where the
workers' measurements have been merged into the controller's contexts first). Grouping uses the
``("rvcqa_model", NAME)`` user property the plugin puts on every test report.
"""
from __future__ import annotations

from typing import Any, Iterable

from rvcqa.context import ModelContext

#: measurements of the first table (the model and its training), with format and column title
KEY_MEASUREMENTS = (
    ("inference_layers", "{}", "layers"),
    ("source_checkpoint", "{}", "source"),
    ("loss_mel_last", "{:.1f}", "loss_mel"),
    ("dataset_minutes", "{:.1f}", "data (min)"),
)
#: measurements of the second table (what the model's audio measured)
AUDIO_MEASUREMENTS = (
    ("resynth_flatness", "{:.4f}", "resynth flatness"),
    ("resynth_zcr_ratio", "{:.2f}", "resynth ZCR ratio"),
    ("resynth_mel_distance", "{:.2f}", "resynth mel dist"),
    ("convert_flatness", "{:.4f}", "convert flatness"),
    ("convert_zcr_ratio", "{:.2f}", "convert ZCR ratio"),
)
#: the terminal width the tables are laid out for
WIDTH = 120


def model_of(report: Any) -> str | None:
    for key, value in getattr(report, "user_properties", []) or []:
        if key == "rvcqa_model":
            return str(value)
    return None


def verdicts(stats: dict[str, list[Any]]) -> dict[str, dict[str, list[str]]]:
    """model -> outcome -> test ids, from the terminal reporter's stats."""
    out: dict[str, dict[str, list[str]]] = {}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in stats.get(outcome, []):
            if getattr(report, "when", "call") not in ("call", "setup") and outcome != "error":
                continue
            if outcome == "passed" and getattr(report, "when", "call") != "call":
                continue
            model = model_of(report)
            if model is None:
                continue
            out.setdefault(model, {}).setdefault(outcome, []).append(report.nodeid)
    return out


def _fmt(value: Any, fmt: str) -> str:
    if value is None:
        return "-"
    try:
        return fmt.format(value)
    except (ValueError, TypeError):
        return str(value)


def _aligned(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]


def _fit(value: str, room: int) -> str:
    return value if len(value) <= room else value[: max(room - 3, 1)] + "..."


#: the order failures are listed in: what others depend on first (a model that does not load, then
#: where it came from, its data, its training), what is judged on top of them last
ROOT_CAUSE_ORDER = ("structure.", "provenance.", "dataset.", "training.", "hypothesis.", "perceptual.", "sweep.")


def root_causes_first(nodeids: Iterable[str]) -> list[str]:
    """Failed test ids with the structural ones first; speed and other tests after the checks."""
    def rank(nodeid: str) -> int:
        head = nodeid.rsplit("::", 1)[-1]
        for i, prefix in enumerate(ROOT_CAUSE_ORDER):
            if f"-{prefix}" in head or f"[{prefix}" in head:
                return i
        return len(ROOT_CAUSE_ORDER)

    return sorted(nodeids, key=rank)


def _verdict(counts: dict[str, list[str]]) -> str:
    if counts.get("failed") or counts.get("error"):
        return "FAIL"
    return "PASS" if counts.get("passed") else "NOT RUN"


def summary_table(models: Iterable[ModelContext], stats: dict[str, list[Any]]) -> list[str]:
    """One aligned row per model: verdict, outcome counts, then the model's key measurements.

    A second table follows with the audio measurements when any were taken, so that neither is wider
    than :data:`WIDTH` columns; only the ``source`` column gives way when a table would be.
    """
    models = list(models)
    by_model = verdicts(stats)
    cols = [c for c in KEY_MEASUREMENTS if any(ctx.measurements.get(c[0]) is not None for ctx in models)]
    rows = [["model", "verdict", "passed", "failed", "skipped"] + [title for _, _, title in cols]]
    for ctx in models:
        counts = by_model.get(ctx.name, {})
        failed = counts.get("failed", []) + counts.get("error", [])
        rows.append([ctx.name, _verdict(counts), str(len(counts.get("passed", []))), str(len(failed)),
                     str(len(counts.get("skipped", [])))] + [_fmt(ctx.measurements.get(k), f) for k, f, _ in cols])
    keys = [k for k, _, _ in cols]
    if "source_checkpoint" in keys:
        i = 5 + keys.index("source_checkpoint")
        others = sum(max(len(r[j]) for r in rows) + 2 for j in range(len(rows[0])) if j != i)
        room = max(WIDTH - others, len("source"))
        for r in rows[1:]:
            r[i] = _fit(r[i], room)
    lines = _aligned(rows)
    audio = [c for c in AUDIO_MEASUREMENTS if any(ctx.measurements.get(c[0]) is not None for ctx in models)]
    if audio:
        rows = [["model"] + [title for _, _, title in audio]]
        rows += [[ctx.name] + [_fmt(ctx.measurements.get(k), f) for k, f, _ in audio] for ctx in models]
        lines += _aligned(rows)
    return lines


def summary_lines(models: Iterable[ModelContext], stats: dict[str, list[Any]]) -> list[str]:
    """The table, then each model's failed tests and its results folder."""
    models = list(models)
    if not models:
        return []
    by_model = verdicts(stats)
    lines = summary_table(models, stats)
    for ctx in models:
        counts = by_model.get(ctx.name, {})
        failed = root_causes_first(counts.get("failed", []) + counts.get("error", []))
        details = [f"    failed: {nodeid.split('::')[-1]}" for nodeid in failed[:12]]
        if len(failed) > 12:
            details.append(f"    ... and {len(failed) - 12} more")
        if ctx.options.results_dir is not None and ctx.options.results_dir.exists():
            details.append(f"    results: {ctx.options.results_dir}")
        if details:
            lines.append(f"{ctx.name}:")
            lines += details
    failing = [ctx.name for ctx in models if _verdict(by_model.get(ctx.name, {})) == "FAIL"]
    ran = any(_verdict(by_model.get(ctx.name, {})) != "NOT RUN" for ctx in models)
    verdict = f"FAIL ({', '.join(failing)})" if failing else ("PASS" if ran else "NOT RUN")
    lines.append(f"checks: {verdict} - {len(models)} model{'s' if len(models) != 1 else ''}")
    return lines
