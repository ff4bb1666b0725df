"""How the report words statuses, numbers and check ids, the same way in every section.
"""
from __future__ import annotations

import math
from typing import Any

from rvcqa.findings import Finding, Status
from rvcqa.report.collect import HYPOTHESIS_TITLES, PREFIX_TITLES, ModelReport

STATUS_WORD = {
    Status.PASSED: "passed",
    Status.FAILED: "failed",
    Status.WARNING: "warning",
    Status.SKIPPED: "skipped",
}


def check_title(check_id: str) -> str:
    """``provenance.latest_checkpoint`` -> ``Provenance: latest checkpoint``."""
    if check_id in HYPOTHESIS_TITLES:
        return HYPOTHESIS_TITLES[check_id]
    prefix, _, rest = check_id.partition(".")
    words = rest.replace("_", " ").replace(".", " ") or prefix
    return f"{PREFIX_TITLES.get(prefix, prefix.title())}: {words}"


def num(v: Any, digits: int = 4) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e6):
            return f"{v:.{max(digits - 2, 1)}e}"
        return f"{v:.{digits}g}"
    return str(v)


def hz(v: Any) -> str:
    return "n/a" if v is None else f"{float(v):.0f} Hz"


def status_cell(f: Finding | None) -> str:
    return STATUS_WORD.get(f.status, f.status.value) if f is not None else "not run"


def expected_text(f: Finding | None, fallback: str) -> str:
    if f is None or f.expected is None:
        return fallback
    return str(f.expected) if not isinstance(f.expected, float) else num(f.expected)


def missing_note(m: ModelReport, module: str) -> str:
    why = m.modules_missing.get(module)
    return f"The {module} checks are not in this report: {why}." if why else f"No {module} findings for this model."


def evidence_text(v: Any) -> str:
    if isinstance(v, float):
        return num(v)
    if isinstance(v, (list, tuple)) and len(v) > 8:
        return ", ".join(str(x) for x in v[:8]) + f", ... ({len(v)} in all)"
    if isinstance(v, dict):
        return ", ".join(f"{k}={evidence_text(x)}" for k, x in list(v.items())[:8])
    return str(v)


def short_value(v: Any) -> str:
    if v is None:
        return ""
    text = num(v) if isinstance(v, float) else str(v)
    return text if len(text) <= 80 else text[:77] + "..."
