"""The neutral blocks a report is made of; :mod:`markdown` and :mod:`html` render them.

Inline markup inside block text: ``**bold**`` and ```code```, nothing else; renderers escape the rest.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Heading:
    level: int
    text: str


@dataclass
class Para:
    text: str
    kind: str = ""  # "", "note", "fail", "pass", "warn"


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    status_col: int | None = None  # a column holding passed/failed/... (coloured in HTML)


@dataclass
class Code:
    text: str


@dataclass
class Bullets:
    items: list[str]
    ordered: bool = False


@dataclass
class Figure:
    """A picture drawn by :mod:`rvcqa.report.plots` (``kind`` is a function name there)."""

    key: str  # unique file-name-safe id
    kind: str
    title: str
    args: dict[str, Any] = field(default_factory=dict)
    caption: str = ""


Block = Any  # Heading | Para | Table | Code | Bullets | Figure
