"""The single result type of every rvcqa check.

Checks are plain functions that return :class:`Finding` objects; ``quality_tests/`` assert on
them, and ``rvcqa inspect`` and the report render them. One source of truth per check.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any, Iterable


class Status(str, Enum):
    """Outcome of one check."""

    PASSED = "passed"
    FAILED = "failed"
    WARNING = "warning"  # suspicious but not a gate failure
    SKIPPED = "skipped"  # not applicable / not measurable with what is present


@dataclass
class Finding:
    """What one check measured, what it expected, and what a failure most likely means.

    ``check`` is a stable dotted id (``structure.layer_count``) used in test ids, baselines
    and reports. ``message`` is the one line a person reads; ``cause`` the expert's guess at
    why, in RVC's words.
    """

    check: str
    status: Status
    message: str
    measured: Any = None
    expected: Any = None
    cause: str | None = None
    subject: str | None = None  # the file/folder/segment judged, when not the whole model
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status in (Status.PASSED, Status.WARNING)

    @property
    def failed(self) -> bool:
        return self.status is Status.FAILED

    @property
    def skipped(self) -> bool:
        return self.status is Status.SKIPPED

    def explain(self) -> str:
        """The full text shown on failure: message, measured vs expected, likely cause."""
        lines = [self.message]
        if self.measured is not None or self.expected is not None:
            lines.append(f"  measured: {_fmt(self.measured)}   expected: {_fmt(self.expected)}")
        if self.cause:
            lines.append(f"  likely cause: {self.cause}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return jsonable(data)


def passed(check: str, message: str, **kw: Any) -> Finding:
    return Finding(check, Status.PASSED, message, **kw)


def failed(check: str, message: str, **kw: Any) -> Finding:
    return Finding(check, Status.FAILED, message, **kw)


def warning(check: str, message: str, **kw: Any) -> Finding:
    return Finding(check, Status.WARNING, message, **kw)


def skipped(check: str, message: str, **kw: Any) -> Finding:
    return Finding(check, Status.SKIPPED, message, **kw)


def by_check(findings: Iterable[Finding]) -> dict[str, Finding]:
    """Index findings by their check id (later ones win)."""
    return {f.check: f for f in findings}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def jsonable(value: Any) -> Any:
    """``value`` as JSON-able data: numpy scalars and arrays as numbers and lists, NaN/Inf as text."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "item"):
        try:
            return jsonable(value.item())
        except (ValueError, RuntimeError):
            pass
    if hasattr(value, "tolist"):
        return jsonable(value.tolist())
    return str(value)
