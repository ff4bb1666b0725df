"""Ids and thresholds of the training-log checks and hypotheses, each with where its default comes from.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rvcqa.context import ModelContext

CHECK_IDS: tuple[str, ...] = (
    "training.log",
    "training.nan",
    "training.mel_start",
    "training.mel_final",
    "training.mel_progress",
    "training.kl",
    "training.pretrained",
    "training.pretrained_match",
    "training.checkpoints",
    "training.steps_per_epoch",
    "training.completed",
)


HYPOTHESIS_IDS: tuple[str, ...] = (
    "hypothesis.insufficient_training",
    "hypothesis.feature_misalignment",
    "hypothesis.pretrained_mismatch",
    "hypothesis.learning_rate",
    "hypothesis.batch_size",
)


DEFAULTS: dict[str, Any] = {
    # Final loss_mel (median of the last 10% of loss lines) above this fails. loss_mel is
    # 45 x mean |log-mel error| (c_mel = 45), so 40 is 0.89 nepers per mel bin; posted healthy RVC
    # runs end at 15-25 and the worst still-usable posted run sat at 25-32 (RVC_FORMATS 5.7).
    "training.mel_final.max": 40.0,
    # Above this (the top of the healthy 15-25 range) the final level is a warning.
    "training.mel_final.warn": 25.0,
    # First loss_mel above this fails: from RVC's pretrained base runs start around 30 (posted logs
    # 5.7: 31, 30, 21 at step 200); random init prints the 75.000 cap. 50 leaves room for one bad batch.
    "training.mel_start.max": 50.0,
    # A log starting later than this many steps is a resumed run: its start says nothing.
    "training.mel_start.max_first_step": 400,
    # Relative drop of the median loss_mel from the early window (10-33% of the run) to the last
    # third that counts as "still improving". Healthy curves drop 15-40% over that span.
    "training.mel_progress.min_improvement": 0.05,
    # Relative rise early -> late that fails: the Hopper-GPU failure (RVC #2406) goes 30 -> 50-60.
    "training.mel_progress.max_rise": 0.15,
    # The medians must also differ by this many standard errors (noise from line-to-line MAD).
    "training.mel_progress.noise_z": 2.0,
    # Fewer loss lines cannot separate a trend from noise (RVC prints one per 200 steps).
    "training.mel_progress.min_points": 6,
    # loss_kl (late median) above this fails: RVC's display cap; healthy runs sit at 1.5-2.
    "training.kl.max": 9.0,
    # loss_kl (late median) below this is a warning: the posterior has collapsed onto the prior.
    "training.kl.min": 0.05,
    # Allowed difference between the log's steps/epoch and RVC's bucket-sampler arithmetic on the
    # data here (exact by construction when the data is what was trained).
    "training.steps_per_epoch.tolerance": 0,
    # Learning rates above this support the learning-rate hypothesis: RVC's default is 1e-4
    # (config.json train.learning_rate), which every posted healthy run used.
    "hypothesis.learning_rate.max": 5e-4,
    # Batch sizes below this support the batch-size hypothesis: RVC's UI offers 1-40 and posted
    # healthy runs use 4-12; below 2 the GAN statistics are very noisy.
    "hypothesis.batch_size.min": 2,
}


C_MEL = 45.0


HEALTHY_MEL = (15.0, 25.0)


def thr(ctx: ModelContext, key: str) -> Any:
    """The profile's value for ``key``, this module's default when nothing overrides it."""
    return ctx.threshold(key, DEFAULTS[key])
