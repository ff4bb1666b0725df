"""The sweep's and the watch's profile keys: how candidates are sampled and how trends are judged.

Every default lives here, with where it comes from; :mod:`rvcqa.checks.sweep` exposes them to the
profile (``rvcqa --list-thresholds``) and :class:`Tolerances` carries them into the engine.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable, Mapping

DEFAULTS: dict[str, Any] = {
    # The released model may score this much (relative) worse than the best candidate before the
    # gate fails. The sweep is deterministic (same segments, prior mean, no source noise), so a
    # difference is the weights', not chance; 5 % of a healthy in-band distance (~0.5-0.7) is
    # ~0.03, a tenth of what a 0.7x level change alone costs (0.35, perceptual.resynth_mel_distance).
    "sweep.released_vs_best_mel": 0.05,
    # Differences of in-band log-mel L1 below this never count (0.01 nepers ~ 0.09 dB on average:
    # inaudible), so near-zero distances (a model scored on its own outputs) are not split by noise.
    "sweep.min_mel_difference": 0.01,
    # "Stopped improving": the first checkpoint within 3 % of the best came at or before half of the
    # run's steps. 3 % is below the step-to-step spread of healthy runs' resynthesis distance.
    "sweep.plateau_tolerance": 0.03,
    "sweep.plateau_fraction": 0.5,
    # "Got worse at the end" (overtraining): the last checkpoint more than 5 % worse than the best
    # (the same margin as the release tolerance).
    "sweep.overtraining_tolerance": 0.05,
    # Sample per candidate: 4 training segments + 2 held-out, each cut to its loudest 1.0 s (run with
    # 0.2 s of context either side): 6 s of audio, 8 s of model input. benchmarks/test_sweep_speed.py
    # times ten 452 MB v2-48k candidates with it beside the hand method. 0 = whole segments.
    "sweep.segments": 4,
    "sweep.heldout_segments": 2,
    "sweep.window_s": 1.0,
    # Watch: "quality stopped improving" once the last K checkpoints all lie within X of the best
    # so far (the plateau tolerance above, so sweep and watch call the same thing a plateau), and
    # the best is at least K checkpoints old. K = 3: fewer is one noisy save; RVC users commonly
    # save every 5-10 epochs, so 3 saves is 15-30 epochs without a gain.
    "watch.patience": 3,
}


@dataclass(frozen=True)
class Tolerances:
    """How the trend is judged. Defaults: :data:`DEFAULTS` (the profile keys in ``KEYS``)."""

    released_vs_best: float = DEFAULTS["sweep.released_vs_best_mel"]  # relative
    min_difference: float = DEFAULTS["sweep.min_mel_difference"]  # absolute floor for any difference
    plateau: float = DEFAULTS["sweep.plateau_tolerance"]  # "no better than the best within 3 %"
    plateau_fraction: float = DEFAULTS["sweep.plateau_fraction"]  # "long before": at or before half the steps
    overtraining: float = DEFAULTS["sweep.overtraining_tolerance"]  # last worse than the best by > 5 %
    patience: int = DEFAULTS["watch.patience"]  # watch: checkpoints without a gain before "stop"

    @classmethod
    def from_profile(cls, get: Callable[[str, Any], Any]) -> "Tolerances":
        """Read every field through ``get(key, default)`` (``ModelContext.threshold``, a dict's get)."""
        return cls(**{f: type(getattr(cls, f))(get(key, DEFAULTS[key])) for f, key in KEYS.items()})

    def describe(self) -> dict[str, Any]:
        """Profile key -> value, for printing what a verdict was based on."""
        values = asdict(self)
        return {key: values[f] for f, key in KEYS.items()}


#: field -> profile key
KEYS: Mapping[str, str] = {
    "released_vs_best": "sweep.released_vs_best_mel",
    "min_difference": "sweep.min_mel_difference",
    "plateau": "sweep.plateau_tolerance",
    "plateau_fraction": "sweep.plateau_fraction",
    "overtraining": "sweep.overtraining_tolerance",
    "patience": "watch.patience",
}


def is_worse(a: float, b: float, rel: float, abs_tol: float) -> bool:
    """``a`` is worse (higher) than ``b`` beyond both the relative and the absolute tolerance."""
    return a - b > abs_tol and a > b * (1 + rel)


def released_is_worse(released: float, best: float, tol: Tolerances) -> bool:
    """The release rule: the released model measurably worse than the best candidate."""
    return is_worse(released, best, tol.released_vs_best, tol.min_difference)
