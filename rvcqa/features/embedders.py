"""Which content model (embedder) a voice was trained with, and loading it from either layout.

RVC WebUI always uses fairseq's ``assets/hubert/hubert_base.pt``. Applio records its choice in
the inference file's ``embedder_model`` entry and keeps each embedder as a transformers folder
under ``rvc/models/embedders/`` (names from Applio's ``load_embedding``). A voice converted with
another embedder than it was trained on gets features from a different space, so the choice is
read from the model, not guessed; ``--hubert PATH`` overrides it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from typing import TYPE_CHECKING

from rvcqa.errors import CheckpointError
from rvcqa.features.common import WEIGHT_FILES, check_trainer, is_transformers_folder

if TYPE_CHECKING:
    from rvcqa.features.hubert import HubertContentModel

#: Applio's ``embedder_model`` values -> folder names below :data:`EMBEDDER_ROOT`.
APPLIO_EMBEDDERS: dict[str, str] = {
    "contentvec": "contentvec",
    "spin": "spin",
    "spin-v2": "spin-v2",
    "chinese-hubert-base": "chinese_hubert_base",
    "japanese-hubert-base": "japanese_hubert_base",
    "korean-hubert-base": "korean_hubert_base",
}
#: ``embedder_model`` of a model trained with a user's own embedder folder.
CUSTOM = "custom"
#: Where an Applio root keeps its embedders.
EMBEDDER_ROOT = Path("rvc") / "models" / "embedders"
#: RVC WebUI's only content model, relative to its root.
RVC_HUBERT = Path("assets") / "hubert" / "hubert_base.pt"
#: Weight files a transformers folder may hold, the safe format first.


class EmbedderNotFound(CheckpointError):
    """The embedder a model names is not on this machine, or the name is unknown."""


@dataclass(frozen=True)
class EmbedderChoice:
    """The content model to convert with, whose convention to follow, and why."""

    path: Path
    trainer: str  # "rvc" or "applio": the feature convention (see HubertContentModel)
    name: str  # Applio's embedder_model value, or "hubert_base" for RVC
    source: str  # one phrase for the run header: how it was chosen

    def describe(self) -> str:
        return f"{self.name} ({self.trainer} convention) at {self.path}: {self.source}"


def embedder_model_of(metadata: Mapping[str, Any]) -> str | None:
    """Applio's ``embedder_model`` entry of an inference file's top-level dict (None for RVC files)."""
    value = metadata.get("embedder_model")
    return str(value).strip() or None if value is not None else None


def resolve_embedder(*, embedder_model: str | None, applio_root: Path | None = None,
                     rvc_root: Path | None = None, hubert: Path | None = None,
                     trainer: str | None = None) -> EmbedderChoice | None:
    """Pick the content model for a voice.

    ``embedder_model`` is the model's own record (``embedder_model_of``): present means an
    Applio model (Applio's convention), absent an RVC one. ``hubert`` (``--hubert``) wins when
    given; otherwise an Applio model takes ``applio_root/rvc/models/embedders/<folder>`` and an
    RVC model ``rvc_root/assets/hubert/hubert_base.pt``. None when nothing is known to look in;
    :class:`EmbedderNotFound` when the named embedder is unknown or absent (the message says
    where it was looked for and how to give it).
    """
    convention = check_trainer(trainer) if trainer else ("applio" if embedder_model else "rvc")
    name = embedder_model or "hubert_base"
    if hubert is not None:
        return EmbedderChoice(Path(hubert), convention, name, "given with --hubert")
    if embedder_model is None:
        if rvc_root is not None and (Path(rvc_root) / RVC_HUBERT).is_file():
            return EmbedderChoice(Path(rvc_root) / RVC_HUBERT, convention, name, f"RVC's default under {rvc_root}")
        return None
    if embedder_model == CUSTOM:
        raise EmbedderNotFound(
            "the model was trained with a custom embedder (embedder_model 'custom'); its folder is not recorded "
            "in the model: pass --hubert PATH to that folder (config.json + pytorch_model.bin)"
        )
    folder = APPLIO_EMBEDDERS.get(embedder_model)
    if folder is None:
        known = ", ".join(sorted(APPLIO_EMBEDDERS) + [CUSTOM])
        raise EmbedderNotFound(f"embedder_model {embedder_model!r} is not one Applio names ({known}); "
                               "pass --hubert PATH to the embedder folder it was trained with")
    if applio_root is None:
        raise EmbedderNotFound(f"the model was trained with Applio's {embedder_model!r} embedder; run from the "
                               f"Applio root (it holds {EMBEDDER_ROOT / folder}) or pass --hubert PATH")
    path = Path(applio_root) / EMBEDDER_ROOT / folder
    if not is_transformers_folder(path):
        raise EmbedderNotFound(f"{path}: the model's embedder {embedder_model!r} is not there (config.json + "
                               "pytorch_model.bin; Applio downloads it on first use): run Applio once or pass "
                               "--hubert PATH")
    return EmbedderChoice(path, convention, name, f"the model's embedder_model under {applio_root}")


def load_content_model(path: str | os.PathLike[str], version: str = "v2", trainer: str = "rvc", *,
                       device: str = "cpu") -> "HubertContentModel":
    """Load a HuBERT content model from RVC's fairseq ``.pt`` or a transformers/Applio folder.

    ``path``: a fairseq checkpoint (``hubert_base.pt``), an embedder folder (``config.json`` +
    ``model.safetensors`` or ``pytorch_model.bin``) or one of those weight files. ``trainer``
    picks the feature convention (see :class:`~rvcqa.features.hubert.HubertContentModel`).
    Nothing from the files runs: JSON, safetensors or a weights-only ``torch.load``.
    """
    from rvcqa.features.hubert import load_hubert, model_from_state
    from rvcqa.features.hubert_hf import read_transformers_hubert

    check_trainer(trainer)
    p = Path(path)
    if p.is_dir() or is_transformers_folder(p):
        hf = read_transformers_hubert(p)
        return model_from_state(hf.state, hf.cfg, path=hf.weights_path, device=device, version=version,
                                trainer=trainer, layout="transformers", has_final_proj=hf.has_final_proj)
    if p.suffix in (".bin", ".safetensors") and p.is_file():
        raise CheckpointError(f"{p}: a transformers weight file needs its config.json beside it "
                              "(Applio keeps both in rvc/models/embedders/<name>/)")
    return load_hubert(p, device=device, version=version, trainer=trainer)


def load_choice(choice: EmbedderChoice, version: str = "v2", *, device: str = "cpu") -> "HubertContentModel":
    """:func:`load_content_model` for a resolved :class:`EmbedderChoice`."""
    return load_content_model(choice.path, version, choice.trainer, device=device)


__all__ = [
    "APPLIO_EMBEDDERS",
    "CUSTOM",
    "EMBEDDER_ROOT",
    "EmbedderChoice",
    "EmbedderNotFound",
    "RVC_HUBERT",
    "WEIGHT_FILES",
    "embedder_model_of",
    "is_transformers_folder",
    "load_choice",
    "load_content_model",
    "resolve_embedder",
]
