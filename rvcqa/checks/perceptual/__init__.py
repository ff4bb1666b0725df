"""Does the model sound like speech? It is run twice, and the two runs answer different questions.

1. **Resynthesis** (``perceptual.resynth_*``): the model on its own training inputs (the features,
   coarse pitch and F0 in the experiment folder), compared with the matching ``0_gt_wavs``. No
   HuBERT is involved, so a failure here is the model's own (weights, training), never the
   conversion pipeline's. Deterministic: prior mean, no source noise.
2. **Conversion** (``perceptual.convert_*``): reference speech the model never saw, through RVC's
   pipeline (:mod:`rvcqa.convert`), compared with the input it was given.

``perceptual.verdict`` puts the two together: model fine but pipeline not, or the reverse. This
answers the lexi report's question "is it the model or the inference code?" directly.

Definitions behind every number (flatness: power spectrum, n_fft 2048, hop 512, median over
frames within 40 dB of the loudest, within the reference's content band; ZCR: sign changes per
second / 2; log-mel L1: RVC's mel settings per rate, judged over the mel bands inside the GT's
content band, the full-band value reported as RVC's loss_mel equivalent; F0: librosa pYIN on both
signals at 16 kHz) are in :mod:`rvcqa.metrics`; findings carry them in ``details``. Resynthesis
compares at the model rate; conversion compares flatness and ZCR with both signals at 16 kHz, the
rate the model's input has. Per-segment / per-clip values are aggregated by the median, and the
worst one is named in the message. Every output WAV and a ``metrics.json`` go to
``<results>/resynthesis/`` and ``<results>/conversion/``, never into the model folder.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from rvcqa.checks.perceptual import conversion, resynthesis
from rvcqa.checks.perceptual.defaults import CONVERT_IDS, DEFAULTS, RESYNTH_IDS
from rvcqa.checks.perceptual.verdict import verdict
from rvcqa.findings import Finding

if TYPE_CHECKING:
    from rvcqa.context import ModelContext

__all__ = ["CHECK_IDS", "CONVERT_IDS", "DEFAULTS", "RESYNTH_IDS", "run"]

CHECK_IDS: tuple[str, ...] = RESYNTH_IDS + CONVERT_IDS + ("perceptual.verdict",)


def run(ctx: ModelContext) -> list[Finding]:
    """Resynthesis, then conversion, then the verdict on both."""
    resynth = resynthesis.findings(ctx)
    convert = conversion.findings(ctx)
    return resynth + convert + [verdict(resynth, convert)]
