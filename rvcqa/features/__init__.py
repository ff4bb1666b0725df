"""Content features and F0 for conversion tests, the inputs RVC's synthesizer is driven with.

* :mod:`rvcqa.features.hubert`: fairseq's HuBERT base in plain torch (network in
  :mod:`~rvcqa.features.hubert_net`), loaded safely from RVC's ``assets/hubert/hubert_base.pt``;
  :mod:`~rvcqa.features.hubert_hf` reads Applio's transformers-layout embedders into it, and
  :mod:`~rvcqa.features.embedders` picks the one a model was trained with. Features follow the
  trainer: RVC v1 = layer 9 + ``final_proj`` (256-dim), v2 = layer 12 (768-dim); Applio v1 =
  ``final_proj`` of the last hidden state, v2 = the last hidden state.
* :mod:`rvcqa.features.standin`: a documented, deterministic stand-in with HuBERT's frame rate for
  when those weights are not on the machine (fixtures, the demo).
* :mod:`rvcqa.features.rmvpe`: RVC's RMVPE pitch network, loaded from the user's ``rmvpe.pt``.
* :mod:`rvcqa.features.f0`: F0 trackers at RVC's 100 frames/s, coarse pitch, transposition.

Heavy modules (torch, librosa) load only when a submodule is imported.
"""
from __future__ import annotations

from rvcqa.features import common
from rvcqa.features.common import *  # noqa: F403  (the package re-exports common's names)
from rvcqa.features.embedders import load_content_model

__all__ = ["load_content_model"]
__all__ += common.__all__
