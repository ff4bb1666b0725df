"""The end-of-run table: verdict per model, failed checks, and key measurements.

Printed by the plugin's terminal summary on every run (serial or the xdist controller, where the
workers' measurements have been merged into the controller's contexts first). Grouping uses the
``("rvcqa_model", NAME)`` user property the plugin puts on every test report.
"""
from __future__ import annotations

from typing import Any, Iterable

from rvcqa.context import ModelContext

#: measurements shown in the summary table, in order, with their format and column title
KEY_MEASUREMENTS = (
    ("inference_layers", "{}", "layers"),
    ("source_checkpoint", "{}", "source"),
    ("loss_mel_last", "{:.1f}", "loss_mel"),
    ("dataset_minutes", "{:.1f}", "data min"),
    ("resynth_flatness", "{:.4f}", "resyn flat"),
    ("resynth_zcr_ratio", "{:.2f}", "resyn zcr"),
    ("resynth_mel_distance", "{:.2f}", "resyn mel"),
    ("convert_flatness", "{:.4f}", "conv flat"),
    ("convert_zcr_ratio", "{:.2f}", "conv zcr"),
)


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
        text = fmt.format(value)
    except (ValueError, TypeError):
        text = str(value)
    return text if len(text) <= 28 else text[:25] + "..."


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
    """One aligned row per model: verdict, outcome counts and the key measurements present."""
    models = list(models)
    by_model = verdicts(stats)
    cols = [(key, fmt, title) for key, fmt, title in KEY_MEASUREMENTS
            if any(ctx.measurements.get(key) is not None for ctx in models)]
    header = ["model", "verdict", "passed", "failed", "skipped"] + [title for _, _, title in cols]
    rows = [header]
    for ctx in models:
        counts = by_model.get(ctx.name, {})
        failed = counts.get("failed", []) + counts.get("error", [])
        rows.append([ctx.name, _verdict(counts), str(len(counts.get("passed", []))), str(len(failed)),
                     str(len(counts.get("skipped", [])))] + [_fmt(ctx.measurements.get(k), f) for k, f, _ in cols])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]


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
