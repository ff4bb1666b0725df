"""Exceptions rvcqa raises for bad input.

Every error carries a message written for the person who trained the model: it names the file
and says what is wrong and what to do. The plugin and the CLI print ``str(error)`` and never a
traceback for these.
"""
from __future__ import annotations


class RvcqaError(Exception):
    """Base class: a problem with the user's input that rvcqa explains in one message."""


class ModelDirError(RvcqaError):
    """The model directory is missing, empty, or lacks a file that a check needs."""


class CheckpointError(RvcqaError):
    """A ``.pth`` file cannot be read (missing, empty, truncated, not a zip, wrong structure)."""


class UnsafeCheckpointError(CheckpointError):
    """A ``.pth`` whose pickle would run code or build objects that are not plain data."""


class TrainingCheckpointGivenError(CheckpointError):
    """A ``G_*.pth``/``D_*.pth`` training checkpoint was given where an inference model is expected."""


class SynthesizerLoadError(RvcqaError):
    """The weights do not fit the network built from the model's config (strict load failed)."""


class AudioError(RvcqaError):
    """Audio that cannot be judged: unreadable, NaN/Inf, silent, or too short for a metric."""


class TrainLogError(RvcqaError):
    """A training log that cannot be parsed at all."""
