"""Metric metadata, VERSA style: every metric declares what it needs so a report can list
which metrics ran, which were skipped, and why.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from rvcqa.errors import RvcqaError

F = TypeVar("F", bound=Callable[..., Any])


class OptionalDependencyMissing(RvcqaError):
    """A metric needs a package that is not installed; ``str()`` says what to install.

    Tests and reports treat it as "skipped", never as a failure of the model.
    """

    def __init__(self, metric: str, packages: tuple[str, ...], hint: str = "") -> None:
        self.metric = metric
        self.packages = packages
        self.hint = hint
        msg = f"{metric} needs {' + '.join(packages)}, which is not installed"
        super().__init__(msg + (f": {hint}" if hint else "."))


@dataclass(frozen=True)
class MetricInfo:
    """What one metric is and needs.

    ``needs_reference``: compares the output against a reference clip (the input or ground
    truth) rather than judging the output alone. ``optional_dependencies``: importable module
    names that must all be present. ``better``: "lower", "higher", "closer" (to the
    reference's own value) or "" when the value is only descriptive.
    """

    name: str
    func: Callable[..., Any] = field(repr=False, compare=False)
    summary: str
    needs_reference: bool = False
    optional_dependencies: tuple[str, ...] = ()
    install_hint: str = ""
    unit: str = ""
    better: str = ""

    def missing_dependencies(self) -> tuple[str, ...]:
        """The optional modules that cannot be imported here (empty when runnable)."""
        return tuple(m for m in self.optional_dependencies if not _importable(m))

    @property
    def available(self) -> bool:
        return not self.missing_dependencies()

    def skip_reason(self) -> str | None:
        """None when the metric can run; otherwise a sentence for the report."""
        missing = self.missing_dependencies()
        if not missing:
            return None
        return str(OptionalDependencyMissing(self.name, missing, self.install_hint))


#: Every registered metric by name. Filled by :func:`register` as the metric modules import.
METRICS: dict[str, MetricInfo] = {}


def register(
    name: str,
    summary: str,
    *,
    needs_reference: bool = False,
    optional_dependencies: tuple[str, ...] = (),
    install_hint: str = "",
    unit: str = "",
    better: str = "",
) -> Callable[[F], F]:
    """Decorator: record a metric function in :data:`METRICS` under ``name``."""

    def deco(func: F) -> F:
        if name in METRICS and METRICS[name].func is not func:
            raise ValueError(f"metric {name!r} registered twice")
        METRICS[name] = MetricInfo(
            name=name,
            func=func,
            summary=summary,
            needs_reference=needs_reference,
            optional_dependencies=optional_dependencies,
            install_hint=install_hint,
            unit=unit,
            better=better,
        )
        return func

    return deco


def require(metric: str, modules: tuple[str, ...], hint: str = "") -> None:
    """Raise OptionalDependencyMissing unless every module in ``modules`` is importable."""
    missing = tuple(m for m in modules if not _importable(m))
    if missing:
        raise OptionalDependencyMissing(metric, missing, hint)


def available_metrics() -> dict[str, str | None]:
    """Metric name -> None if it can run here, else the reason it will be skipped."""
    return {name: info.skip_reason() for name, info in METRICS.items()}


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
