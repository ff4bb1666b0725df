"""Progress lines for long work (conversions, resynthesis): logged, and passed to a callback.

:func:`run_each` is the loop both share: one item at a time, an unusable item recorded with its
reason and skipped (one bad clip never stops the rest), one line per item either way.
"""
from __future__ import annotations

import logging
from typing import Callable, Optional, Sequence, TypeVar

from rvcqa.errors import AudioError

Progress = Callable[[str], None]

Item = TypeVar("Item")
Prepared = TypeVar("Prepared")
Result = TypeVar("Result")


def say(log: logging.Logger, progress: Optional[Progress], line: str) -> None:
    """Log ``line`` and hand it to ``progress`` when one is given (e.g. the plugin's printer)."""
    log.info(line)
    if progress is not None:
        progress(line)


def run_each(
    items: Sequence[Item],
    what: str,
    *,
    key: Callable[[Item], str],
    name: Callable[[Item], str],
    prepare: Callable[[Item], Prepared],
    finish: Callable[[Item, Prepared], tuple[Result, str]],
    log: logging.Logger,
    progress: Optional[Progress] = None,
) -> tuple[list[Result], dict[str, str]]:
    """``finish(item, prepare(item))`` for every item, in order; returns the results and, for items
    whose ``prepare`` raised :class:`AudioError`, ``{key(item): reason}``.

    Every item gets a line ``"{what} k/n {name}: ..."``: the ``finish`` summary or ``skipped (reason)``.
    """
    done: list[Result] = []
    failed: dict[str, str] = {}
    total = len(items)
    for k, item in enumerate(items, 1):
        try:
            prepared = prepare(item)
        except AudioError as exc:
            failed[key(item)] = str(exc)
            say(log, progress, f"{what} {k}/{total} {name(item)}: skipped ({exc})")
            continue
        result, line = finish(item, prepared)
        done.append(result)
        say(log, progress, f"{what} {k}/{total} {name(item)}: {line}")
    return done, failed
