"""Epoch sweep: rank every saved checkpoint by measured quality ("which epoch is best?").

- :mod:`~rvcqa.sweep.candidates`: which files are measured, and which one was released;
- :mod:`~rvcqa.sweep.segments`: the fixed sample (training segments, held-out slice, windows);
- :mod:`~rvcqa.sweep.loading`: one network, weights assigned into it, read ahead on a thread;
- :mod:`~rvcqa.sweep.measure`: scores against GT windows analysed once;
- :mod:`~rvcqa.sweep.analysis`: the recommendation and the trend warnings;
- :mod:`~rvcqa.sweep.render` / :mod:`~rvcqa.sweep.plot`: table, progress lines, picture;
- :mod:`~rvcqa.sweep.run`: :func:`run_sweep`, tying them together.

The engine never imports a check: :mod:`rvcqa.checks.sweep` turns a :class:`SweepResult` into
findings, and :mod:`rvcqa.sweep.command` is the ``rvcqa sweep`` front end.
"""
from __future__ import annotations

from rvcqa.sweep.analysis import analyse
from rvcqa.sweep.candidates import find_candidates
from rvcqa.sweep.model import (
    HeldOut,
    Recommendation,
    SetScores,
    SweepCandidate,
    SweepResult,
    SweepRow,
    SweepWarning,
)
from rvcqa.sweep.plot import plot_sweep
from rvcqa.sweep.render import format_table
from rvcqa.sweep.run import run_sweep
from rvcqa.sweep.segments import split_segments, window
from rvcqa.sweep.tolerances import DEFAULTS, Tolerances

__all__ = [
    "DEFAULTS", "HeldOut", "Recommendation", "SetScores", "SweepCandidate", "SweepResult", "SweepRow",
    "SweepWarning", "Tolerances", "analyse", "find_candidates", "format_table", "plot_sweep", "run_sweep",
    "split_segments", "window",
]
