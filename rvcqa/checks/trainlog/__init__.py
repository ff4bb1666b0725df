"""Training-log health, and verdicts on the lexi report's hypotheses.

Reads ``logs/NAME/train.log`` or a captured console (``--train-log PATH``) through
:func:`rvcqa.trainlog.parse_train_log`. Facts: RVC_FORMATS.md 3.3 (log format, 75/9 display caps),
5.6 (loss_mel = 45 x mean |log-mel error|), 5.7 (what healthy runs print), 6 (failure modes).

``run(ctx)`` returns the ``training.*`` findings. ``hypotheses(ctx)`` returns one informational
finding per ``hypothesis.*`` id (status PASSED = ruled out, WARNING = supported, SKIPPED = not
testable; the verdict is also in ``details["verdict"]``); :data:`HYPOTHESES` wraps it so
``ctx.findings(trainlog.HYPOTHESES)`` caches it like a checks module.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Callable

from rvcqa.checks.trainlog.checkpoints import check_checkpoints, check_completed, check_steps_per_epoch
from rvcqa.checks.trainlog.common import load_log
from rvcqa.checks.trainlog.defaults import CHECK_IDS, DEFAULTS, HYPOTHESIS_IDS
from rvcqa.checks.trainlog.losses import (
    check_kl, check_log, check_mel_final, check_mel_progress, check_mel_start, check_nan,
)
from rvcqa.checks.trainlog.pretrained import check_pretrained, check_pretrained_match
from rvcqa.checks.trainlog.verdicts import hypotheses
from rvcqa.errors import RvcqaError
from rvcqa.findings import Finding, failed, skipped
from rvcqa.trainlog import TrainLog

if TYPE_CHECKING:
    from rvcqa.context import ModelContext


_CHECKS: tuple[tuple[str, Callable[[ModelContext, TrainLog], Finding]], ...] = (
    ("training.log", check_log),
    ("training.nan", check_nan),
    ("training.mel_start", check_mel_start),
    ("training.mel_final", check_mel_final),
    ("training.mel_progress", check_mel_progress),
    ("training.kl", check_kl),
    ("training.pretrained", check_pretrained),
    ("training.pretrained_match", check_pretrained_match),
    ("training.checkpoints", check_checkpoints),
    ("training.steps_per_epoch", check_steps_per_epoch),
    ("training.completed", check_completed),
)


assert tuple(cid for cid, _ in _CHECKS) == CHECK_IDS


def run(ctx: ModelContext) -> list[Finding]:
    """One finding per id in :data:`CHECK_IDS`."""
    loaded = load_log(ctx)
    if loaded.log is None or loaded.skip is not None:
        out = []
        for cid in CHECK_IDS:
            if cid == "training.log" and loaded.error:
                out.append(failed(cid, loaded.error, cause="not a text log: pass RVC's train.log or the captured console"))
            else:
                out.append(skipped(cid, loaded.skip or "no training log"))
        return out
    out = []
    for cid, fn in _CHECKS:
        try:
            out.append(fn(ctx, loaded.log))
        except RvcqaError as exc:
            out.append(failed(cid, str(exc)))
    return out


#: ``ctx.findings(trainlog.HYPOTHESES)`` runs and caches the verdicts like a checks module.
HYPOTHESES = SimpleNamespace(__name__="rvcqa.checks.trainlog.hypotheses", CHECK_IDS=HYPOTHESIS_IDS, run=hypotheses)


__all__ = ["CHECK_IDS", "DEFAULTS", "HYPOTHESES", "HYPOTHESIS_IDS", "hypotheses", "run"]
