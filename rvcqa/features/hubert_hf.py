"""Transformers-layout HuBERT (Applio's embedders) read into rvcqa's own fairseq-named network.

Applio keeps each embedder as a Hugging Face folder, ``rvc/models/embedders/<name>/`` with
``config.json`` and ``pytorch_model.bin`` (or ``model.safetensors``), holding a transformers
``HubertModelWithFinalProj``: ``HubertModel`` plus a ``final_proj`` linear layer. The network is
the same as fairseq's; only the names differ. This module renames the keys and translates the
config so :func:`rvcqa.features.hubert.model_from_state` loads them strictly, with no
transformers installed and no code taken from the folder: ``config.json`` is read as JSON,
weights through safetensors when offered, otherwise ``torch.load(weights_only=True)``.

The position convolution is weight-normalised; transformers wrote it as ``weight_g``/``weight_v``
(``nn.utils.weight_norm``) before 4.3x and as ``parametrizations.weight.original0/1`` since;
both names are accepted.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch

from rvcqa.checkpoint import describe_structure, load_pth
from rvcqa.errors import CheckpointError
from rvcqa.features.common import FeatureModelError
from rvcqa.features.common import WEIGHT_FILES, is_transformers_folder
from rvcqa.jsonfile import read_json_object
#: transformers' per-layer names -> fairseq's (``encoder.layers.N.`` + suffix).
_LAYER_RENAMES = (
    ("attention.", "self_attn."),
    ("layer_norm.", "self_attn_layer_norm."),
    ("feed_forward.intermediate_dense.", "fc1."),
    ("feed_forward.output_dense.", "fc2."),
    ("final_layer_norm.", "final_layer_norm."),
)
_POS_CONV = "encoder.pos_conv_embed.conv."
_POS_RENAMES = {
    "weight_g": "weight_g",
    "weight_v": "weight_v",
    "parametrizations.weight.original0": "weight_g",
    "parametrizations.weight.original1": "weight_v",
    "bias": "bias",
}
_LAYER_KEY = re.compile(r"^encoder\.layers\.(\d+)\.(.+)$")
_CONV_KEY = re.compile(r"^feature_extractor\.conv_layers\.(\d+)\.(conv|layer_norm)\.(weight|bias)$")


@dataclass
class TransformersHubert:
    """A transformers HuBERT folder read as data: weights renamed to fairseq's layout."""

    folder: Path
    weights_path: Path
    state: dict[str, torch.Tensor]  # fairseq names
    cfg: dict[str, Any]  # fairseq-style model config for arch_from_checkpoint
    config: dict[str, Any]  # config.json as written
    has_final_proj: bool


def read_transformers_hubert(path: str | os.PathLike[str]) -> TransformersHubert:
    """Read a transformers HuBERT folder (or its weight file) into fairseq-named tensors.

    Raises :class:`~rvcqa.errors.CheckpointError` for missing/damaged files and
    :class:`~rvcqa.features.FeatureModelError` for a config or keys that are not a HuBERT.
    """
    p = Path(path)
    folder = p if p.is_dir() else p.parent
    if p.is_dir():
        found = [folder / w for w in WEIGHT_FILES if (folder / w).is_file()]
        if not found:
            raise CheckpointError(f"{folder}: no {' or '.join(WEIGHT_FILES)} in this embedder folder")
        weights_path = found[0]
    elif p.is_file():
        weights_path = p
    else:
        raise CheckpointError(f"{p}: not found")
    config = _read_config(folder / "config.json")
    cfg = fairseq_cfg(config, where=str(folder / "config.json"))
    raw = _read_weights(weights_path)
    state, has_final_proj = hf_to_fairseq(raw, where=str(weights_path), extractor_mode=cfg["extractor_mode"],
                                          final_dim=cfg["final_dim"])
    return TransformersHubert(folder=folder, weights_path=weights_path, state=state, cfg=cfg,
                              config=config, has_final_proj=has_final_proj)


def _read_config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError(f"{path}: not found; a transformers embedder folder needs its config.json")
    data = read_json_object(path, FeatureModelError, "a JSON object (a transformers HubertConfig)")
    kind = data.get("model_type")
    if kind not in (None, "hubert"):
        raise FeatureModelError(f"{path}: model_type {kind!r}; rvcqa reads HuBERT embedders (model_type 'hubert')")
    return data


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    """safetensors for ``.safetensors`` (no pickle at all), else a weights-only ``torch.load``."""
    if path.suffix == ".safetensors":
        try:
            from safetensors import SafetensorError
            from safetensors.torch import load_file
        except ImportError:  # pragma: no cover - a core dependency
            raise CheckpointError(f"{path}: reading .safetensors needs the 'safetensors' package") from None
        try:
            obj: Any = load_file(str(path), device="cpu")
        except (SafetensorError, OSError, ValueError) as exc:
            size = path.stat().st_size if path.exists() else 0
            raise CheckpointError(f"{path}: not a readable safetensors file ({size} bytes): {exc}") from None
    else:
        obj = load_pth(path)
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not obj or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()
    ):
        raise FeatureModelError(f"{path}: {describe_structure(obj)}; expected a transformers HuBERT state dict")
    return dict(obj)


def hf_to_fairseq(raw: Mapping[str, torch.Tensor], *, where: str = "weights", extractor_mode: str = "default",
                  final_dim: int = 256) -> tuple[dict[str, torch.Tensor], bool]:
    """Rename transformers HuBERT keys to fairseq's; ``(state, has_final_proj)``.

    ``masked_spec_embed`` (training-only; absent when masking was off) becomes ``mask_emb``,
    zero-filled when missing. A missing ``final_proj`` (a plain ``HubertModel``) is zero-filled
    and reported, so v2 features still load while v1 refuses. Unknown keys are kept under their
    own names so the strict load names them.
    """
    src = {k[len("hubert."):] if k.startswith("hubert.") else k: v for k, v in raw.items()}
    if not any(k.startswith("feature_projection.") or k.startswith(_POS_CONV) for k in src):
        raise FeatureModelError(
            f"{where}: no 'feature_projection.*' or 'encoder.pos_conv_embed.*' keys: not a transformers HuBERT "
            "(RVC's fairseq hubert_base.pt loads with trainer='rvc' from its .pt file)"
        )
    out: dict[str, torch.Tensor] = {}
    for key, value in src.items():
        out[_rename(key)] = value
    width = _embed_width(out)
    if "mask_emb" not in out and width:
        out["mask_emb"] = torch.zeros(width)
    has_final_proj = "final_proj.weight" in out
    if not has_final_proj and width:
        out["final_proj.weight"] = torch.zeros(final_dim, width)
        out["final_proj.bias"] = torch.zeros(final_dim)
    return layer_norm_convs(out, extractor_mode), has_final_proj


def _rename(key: str) -> str:
    if key == "masked_spec_embed":
        return "mask_emb"
    if key.startswith("feature_projection.layer_norm."):
        return "layer_norm." + key.rsplit(".", 1)[1]
    if key.startswith("feature_projection.projection."):
        return "post_extract_proj." + key.rsplit(".", 1)[1]
    if key.startswith(_POS_CONV):
        tail = key[len(_POS_CONV):]
        if tail in _POS_RENAMES:
            return "encoder.pos_conv.0." + _POS_RENAMES[tail]
        return key
    m = _CONV_KEY.match(key)
    if m:
        i, part, leaf = m.groups()
        if part == "conv":
            return f"feature_extractor.conv_layers.{i}.0.{leaf}"
        return f"feature_extractor.conv_layers.{i}.2.{leaf}"  # see layer_norm_convs
    m = _LAYER_KEY.match(key)
    if m:
        i, tail = m.groups()
        for old, new in _LAYER_RENAMES:
            if tail.startswith(old):
                return f"encoder.layers.{i}.{new}{tail[len(old):]}"
    return key


def _embed_width(state: Mapping[str, torch.Tensor]) -> int:
    t = state.get("encoder.layer_norm.weight")
    return int(t.shape[0]) if t is not None else 0


def layer_norm_convs(state: dict[str, torch.Tensor], mode: str) -> dict[str, torch.Tensor]:
    """fairseq nests each conv's layer norm one level deeper (``2.1``) than a group norm (``2``)."""
    if mode != "layer_norm":
        return state
    rx = re.compile(r"^(feature_extractor\.conv_layers\.\d+)\.2\.(weight|bias)$")
    return {(f"{m.group(1)}.2.1.{m.group(2)}" if (m := rx.match(k)) else k): v for k, v in state.items()}


def fairseq_cfg(config: Mapping[str, Any], *, where: str = "config.json") -> dict[str, Any]:
    """A transformers ``HubertConfig`` as the fairseq model config ``arch_from_checkpoint`` reads.

    Variants our network does not build (another activation, batch-norm position conv, layer
    norm epsilon other than 1e-5) are refused by name rather than computed wrongly.
    """

    def fail(msg: str) -> FeatureModelError:
        return FeatureModelError(f"{where}: {msg}")

    for key in ("hidden_act", "feat_extract_activation"):
        if str(config.get(key, "gelu")) != "gelu":
            raise fail(f"unsupported {key} {config.get(key)!r}; HuBERT uses 'gelu'")
    if config.get("conv_pos_batch_norm"):
        raise fail("unsupported conv_pos_batch_norm=true (HuBERT base uses a weight-normalised position conv)")
    eps = float(config.get("layer_norm_eps", 1e-5))
    if abs(eps - 1e-5) > 1e-12:
        raise fail(f"unsupported layer_norm_eps {eps} (rvcqa's network uses 1e-5, as HuBERT base)")
    dims = list(config.get("conv_dim", [512] * 7))
    strides = list(config.get("conv_stride", [5, 2, 2, 2, 2, 2, 2]))
    kernels = list(config.get("conv_kernel", [10, 3, 3, 3, 3, 2, 2]))
    if not (len(dims) == len(strides) == len(kernels)) or not all(
        isinstance(v, int) for v in dims + strides + kernels
    ):
        raise fail(f"conv_dim {dims}, conv_kernel {kernels} and conv_stride {strides} must be int lists of one length")
    norm = str(config.get("feat_extract_norm", "group"))
    if norm not in ("group", "layer"):
        raise fail(f"unsupported feat_extract_norm {norm!r} (expected 'group' or 'layer')")
    spec = "[" + ", ".join(f"({d}, {k}, {s})" for d, k, s in zip(dims, kernels, strides)) + "]"
    return {
        "conv_feature_layers": spec,
        "extractor_mode": "layer_norm" if norm == "layer" else "default",
        "encoder_attention_heads": int(config.get("num_attention_heads", 12)),
        "encoder_layers": int(config.get("num_hidden_layers", 12)),
        "layer_norm_first": bool(config.get("do_stable_layer_norm", False)),
        "conv_pos_groups": int(config.get("num_conv_pos_embedding_groups", 16)),
        "conv_pos": int(config.get("num_conv_pos_embeddings", 128)),
        "final_dim": int(config.get("classifier_proj_size", 256)),
        "feature_norm": bool(config.get("feat_proj_layer_norm", True)),
        "activation_fn": "gelu",
    }


__all__ = [
    "TransformersHubert",
    "WEIGHT_FILES",
    "fairseq_cfg",
    "hf_to_fairseq",
    "is_transformers_folder",
    "layer_norm_convs",
    "read_transformers_hubert",
]
