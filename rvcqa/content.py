"""Which content extractor a model is converted with: the one it declares, HuBERT, or none (and why).

A model trained on rvcqa's stand-in features says so in ``rvcqa_content.json``; any other model needs
RVC's ``hubert_base.pt``. Getting this wrong feeds the model inputs it never saw in training.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Protocol

import numpy as np

from rvcqa.errors import RvcqaError
from rvcqa.jsonfile import read_json_object

#: file in a model directory declaring the content extractor the model was trained with
CONTENT_DECLARATION = "rvcqa_content.json"


NEEDS_HUBERT = (
    "needs --hubert PATH (RVC's assets/hubert/hubert_base.pt); resynthesis ran without it"
)


class ContentModel(Protocol):
    def features(self, wav16k: np.ndarray) -> np.ndarray: ...  # [T50, C] float32

    def describe(self) -> str: ...


def read_content_declaration(model_root: Path) -> Optional[dict[str, Any]]:
    """``rvcqa_content.json`` in the model folder, e.g. ``{"extractor": "standin", "dim": 768, "seed": 0}``."""
    path = Path(model_root) / CONTENT_DECLARATION
    if not path.is_file():
        return None
    return read_json_object(path, RvcqaError, 'an object like {"extractor": "standin", "dim": 768, "seed": 0}')


def content_model_for(
    model_root: Path, version: str, *, hubert: Optional[Path] = None, device: str = "cpu",
    flavour: str = "rvc",
) -> tuple[Optional[ContentModel], str]:
    """The content extractor to convert with, and a line saying which (or why none).

    A model folder that declares its extractor (``rvcqa_content.json``, written for models trained
    on rvcqa's stand-in features) gets that extractor, even when ``--hubert`` is given: the model
    was trained on it and would be judged on inputs it never saw otherwise. Any other model needs
    ``--hubert``; without it the answer is ``(None, reason)``. ``flavour="applio"`` reads the
    HuBERT the way Applio does (``HubertContentModel(trainer="applio")``).
    """
    from rvcqa.synth.synthesizer import phone_dim

    dim = phone_dim(version)
    declared = read_content_declaration(model_root)
    if declared is None:
        if hubert is None:
            return None, NEEDS_HUBERT
        from rvcqa.features.embedders import load_content_model

        # a fairseq hubert_base.pt or an Applio/transformers embedder folder, read by the
        # convention of the tool the model came from
        hubert_model = load_content_model(hubert, version=version, trainer=flavour, device=device)
        return hubert_model, describe_model(hubert_model)
    kind = str(declared.get("extractor", "")).lower()
    if kind != "standin":
        raise RvcqaError(
            f"{Path(model_root) / CONTENT_DECLARATION}: extractor {declared.get('extractor')!r} is not one rvcqa "
            "can build; the only declared extractor is \"standin\" (delete the file and pass --hubert PATH for HuBERT)"
        )
    d = int(declared.get("dim", dim))
    if d != dim:
        raise RvcqaError(
            f"{Path(model_root) / CONTENT_DECLARATION}: declares {d}-dim stand-in features but the "
            f"model ({version}) takes {dim}-dim"
        )
    from rvcqa.features.standin import DEFAULT_SEED, StandInContent

    model = StandInContent(dim=d, seed=int(declared.get("seed", DEFAULT_SEED)))
    note = f"; --hubert {hubert} not used: the model was trained on the stand-in" if hubert is not None else ""
    return model, f"{describe_model(model)} (declared in {CONTENT_DECLARATION}{note})"


def describe_model(model: Any) -> str:
    describe = getattr(model, "describe", None)
    return describe() if callable(describe) else type(model).__name__
