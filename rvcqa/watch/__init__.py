"""Watching a training run from outside: judge each checkpoint as it lands, say when to stop.

- :mod:`~rvcqa.watch.follow`: listing checkpoint files, telling a finished file from one being
  written, noticing that the training is done (read-only);
- :mod:`~rvcqa.watch.heldout`: the speaker's held-out recordings as model inputs;
- :mod:`~rvcqa.watch.judge`: trend per checkpoint and the stop / overtraining calls;
- :mod:`~rvcqa.watch.page`: the always-current table, JSON, plot and HTML page;
- :mod:`~rvcqa.watch.run`: the :class:`Watcher` loop (measuring with the sweep's engine);
- :mod:`~rvcqa.watch.command`: ``rvcqa watch logs/NAME``.
"""
from __future__ import annotations

from rvcqa.watch.judge import Call, Judge, Point
from rvcqa.watch.run import WatchConfig, Watcher

__all__ = ["Call", "Judge", "Point", "WatchConfig", "Watcher"]
