"""The end-of-run table: verdict per model, failed checks, and key measurements."""
from __future__ import annotations

from typing import Any, Iterable

from rvcqa.context import ModelContext

#: measurements shown in the summary table, in order, with their format
KEY_MEASUREMENTS = (
    ("inference_layers", "{}"),
    ("source_checkpoint", "{}"),
    ("loss_mel_last", "{:.1f}"),
    ("dataset_minutes", "{:.1f}"),
    ("resynth_flatness", "{:.4f}"),
    ("resynth_zcr_ratio", "{:.2f}"),
    ("resynth_mel_distance", "{:.2f}"),
    ("convert_flatness", "{:.4f}"),
    ("convert_zcr_ratio", "{:.2f}"),
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


def summary_lines(models: Iterable[ModelContext], stats: dict[str, list[Any]]) -> list[str]:
    by_model = verdicts(stats)
    lines: list[str] = []
    for ctx in models:
        counts = by_model.get(ctx.name, {})
        failed = counts.get("failed", []) + counts.get("error", [])
        verdict = "FAIL" if failed else ("PASS" if counts.get("passed") else "NOT RUN")
        lines.append(
            f"{ctx.name}: {verdict}  ({len(counts.get('passed', []))} passed, {len(failed)} failed, "
            f"{len(counts.get('skipped', []))} skipped)"
        )
        for nodeid in failed[:12]:
            lines.append(f"    failed: {nodeid.split('::')[-1]}")
        shown = []
        for key, fmt in KEY_MEASUREMENTS:
            if key in ctx.measurements and ctx.measurements[key] is not None:
                try:
                    shown.append(f"{key}={fmt.format(ctx.measurements[key])}")
                except (ValueError, TypeError):
                    shown.append(f"{key}={ctx.measurements[key]}")
        if shown:
            lines.append("    " + "  ".join(shown))
        if ctx.options.results_dir is not None and ctx.options.results_dir.exists():
            lines.append(f"    results: {ctx.options.results_dir}")
    return lines
