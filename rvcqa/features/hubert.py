"""fairseq's HuBERT base in plain torch, loaded from RVC's ``assets/hubert/hubert_base.pt``.

RVC converts speech by feeding its synthesizer HuBERT features of the input (RVC_FORMATS 5.3):
fairseq ``extract_features(source, padding_mask, output_layer=9|12)``, then ``final_proj`` for v1
(256-dim) or the raw layer-12 output for v2 (768-dim), 50 frames/s, no input normalisation. This
module rebuilds that network with parameter names equal to fairseq's state-dict keys, so the file's
``"model"`` dict loads strictly, without fairseq, omegaconf or code from the file.

Safe loading: a fairseq checkpoint pickles more than tensors (``task_state`` holds
``fairseq.data.dictionary.Dictionary`` objects, old ones an ``argparse.Namespace`` in ``"args"``),
which ``torch.load(weights_only=True)`` refuses. Instead of allowlisting the real classes, we map a
short list of such names to :class:`InertObject`, a class that only stores the pickled state, for
the duration of one ``torch.load(weights_only=True)``. Everything else in the file still goes
through torch's weights-only unpickler; any other global (omegaconf configs, ``os.system``, ...)
is refused before loading, with every offending name listed. See :func:`read_fairseq_checkpoint`.
"""
from __future__ import annotations

import ast
import contextlib
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import torch

from rvcqa.checkpoint import describe_structure, load_pth
from rvcqa.errors import UnsafeCheckpointError
from rvcqa.features.common import (
    CONTENT_WINDOW,
    TRAINERS,
    FeatureModelError,
    as_wave16k,
    check_trainer,
    content_frames,
    key_problems,
)
from rvcqa.features.hubert_net import BASE_CONV_LAYERS, HubertArch, HubertNet, build_hubert

#: RVC's layer choice per model version (``Pipeline.vc``).
OUTPUT_LAYER = {"v1": 9, "v2": 12}


# --------------------------------------------------------------------------- safe reading

class InertObject:
    """Stands in for a non-tensor object in a checkpoint's metadata; runs nothing.

    The weights-only unpickler either calls the class (``REDUCE``: arguments kept in ``args``) or
    creates it without ``__init__`` (``NEWOBJ``) and hands it its state (``BUILD``: kept in
    ``state``). Nothing here touches the outside world.
    """

    pickled_name = "?"
    args: tuple[Any, ...] = ()
    state: Any = None

    def __init__(self, *args: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<inert {self.pickled_name}>"


#: Globals a fairseq checkpoint may hold outside its tensors, all metadata we never use:
#: task dictionaries, pre-hydra ``args``, numpy scalars in ``extra_state`` (e.g. best loss).
INERT_GLOBALS: tuple[str, ...] = (
    "fairseq.data.dictionary.Dictionary",
    "argparse.Namespace",
    "numpy.core.multiarray.scalar",
    "numpy._core.multiarray.scalar",
    "numpy.dtype",
)
_INERT_CLASSES: dict[str, type[InertObject]] = {
    name: type(f"Inert[{name}]", (InertObject,), {"pickled_name": name}) for name in INERT_GLOBALS
}


def _inert_entries() -> list[tuple[type[InertObject], str]]:
    return [(cls, name) for name, cls in _INERT_CLASSES.items()]


def _globals_in(path: Path) -> list[str] | None:
    """Every non-default global a zip checkpoint's pickle names, read without unpickling.

    None for legacy (non-zip) files or unreadable ones: ``load_pth`` then explains or refuses.
    """
    try:
        return sorted(torch.serialization.get_unsafe_globals_in_checkpoint(str(path)))
    except Exception:  # noqa: BLE001 - any failure here is reported by load_pth below
        return None


def _refusal(path: Path, names: Sequence[str]) -> UnsafeCheckpointError:
    shown = ", ".join(repr(n) for n in names)
    hint = ""
    if any(n.startswith("omegaconf") for n in names):
        hint = (
            " Its config is stored as omegaconf objects; rvcqa only reads the tensors and does not "
            "rebuild those. Re-save the checkpoint with a plain-dict 'cfg' (fairseq's "
            "OmegaConf.to_container), as RVC's hubert_base.pt has."
        )
    return UnsafeCheckpointError(
        f"{path}: refused to load: its pickle asks for {shown}, beyond the metadata rvcqa stands in "
        f"for ({', '.join(INERT_GLOBALS)}). A model file that builds arbitrary objects may run "
        f"code; nothing from it was run.{hint}"
    )


@dataclass
class FairseqCheckpoint:
    """The parts of a fairseq checkpoint rvcqa uses: the tensors and the model config."""

    path: Path
    model: dict[str, torch.Tensor]
    model_cfg: dict[str, Any]
    stand_ins: list[str] = field(default_factory=list)  # globals replaced by InertObject


def read_fairseq_checkpoint(path: str | os.PathLike[str]) -> FairseqCheckpoint:
    """Load a fairseq checkpoint without running code from it.

    1. Zip files: list the pickle's globals statically; anything outside :data:`INERT_GLOBALS`
       is refused with every name (:class:`~rvcqa.errors.UnsafeCheckpointError`).
    2. ``torch.load(weights_only=True)`` (via :func:`rvcqa.checkpoint.load_pth`, which also
       explains missing/empty/truncated files) with those names mapped to inert stand-ins by
       ``torch.serialization.safe_globals`` for this call only. Legacy files skip step 1; the
       weights-only unpickler refuses their first unknown global itself.
    3. Take ``"model"`` (a dict of tensors) and the model config from ``cfg["model"]`` or
       ``args`` when they are plain data.
    """
    p = Path(path)
    names = _globals_in(p) if p.is_file() else None
    if names:
        outside = [n for n in names if n not in _INERT_CLASSES]
        if outside:
            raise _refusal(p, outside)
    scoped = getattr(torch.serialization, "safe_globals", None)  # torch >= 2.5
    with scoped(_inert_entries()) if scoped else contextlib.nullcontext():
        obj = load_pth(p)
    if isinstance(obj, Mapping) and "model" in obj:
        model = obj["model"]
        cfg = _model_cfg(obj)
    elif isinstance(obj, Mapping) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        model, cfg = obj, {}  # a bare state dict saved from the model
    else:
        raise FeatureModelError(
            f"{p}: not a fairseq HuBERT checkpoint: {describe_structure(obj)}; expected a dict "
            "with 'model' (the weights) and 'cfg'/'args', like RVC's assets/hubert/hubert_base.pt"
        )
    if not isinstance(model, Mapping) or not model or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in model.items()
    ):
        raise FeatureModelError(f"{p}: 'model' is {describe_structure(model)}, expected a dict of tensors")
    return FairseqCheckpoint(path=p, model=dict(model), model_cfg=cfg, stand_ins=list(names or []))


def _plain_mapping(obj: Any) -> dict[str, Any] | None:
    if isinstance(obj, Mapping):
        return dict(obj)
    if isinstance(obj, InertObject) and isinstance(obj.state, Mapping):  # argparse.Namespace
        return dict(obj.state)
    return None


def _model_cfg(ckpt: Mapping[str, Any]) -> dict[str, Any]:
    """``cfg["model"]`` (hydra-era checkpoints, a plain dict after to_container), else ``args``."""
    cfg = _plain_mapping(ckpt.get("cfg"))
    if cfg is not None:
        model_cfg = _plain_mapping(cfg.get("model"))
        if model_cfg:
            return model_cfg
    return _plain_mapping(ckpt.get("args")) or {}



def _eval_layer_spec(text: str) -> tuple[tuple[int, int, int], ...]:
    """fairseq ``eval()``s ``conv_feature_layers``; we accept only lists/tuples of ints with
    ``+`` and ``*`` (e.g. ``"[(512,10,5)] + [(512,3,2)] * 4"``), never running the text."""

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [ev(e) for e in node.elts]
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
            left, right = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Mult) and isinstance(left, int) and isinstance(right, list):
                left, right = right, left
            if isinstance(node.op, ast.Mult) and not (isinstance(left, list) and isinstance(right, int)):
                raise ValueError("'*' must repeat a list")
            if isinstance(node.op, ast.Add) and not (isinstance(left, list) and isinstance(right, list)):
                raise ValueError("'+' must join lists")
            return left + right if isinstance(node.op, ast.Add) else left * right
        raise ValueError(f"unsupported syntax {type(node).__name__}")

    value = ev(ast.parse(text.strip(), mode="eval"))
    if not isinstance(value, list) or not all(
        isinstance(t, tuple) and len(t) == 3 and all(isinstance(i, int) for i in t) for t in value
    ):
        raise ValueError("expected a list of (dim, kernel, stride) tuples")
    return tuple(value)


def arch_from_checkpoint(state: Mapping[str, torch.Tensor], cfg: Mapping[str, Any], *,
                         where: str = "checkpoint") -> HubertArch:
    """Read the architecture from the tensor shapes, with the config for what shapes cannot say
    (attention heads, conv strides, pre/post layer norm); config and shapes must agree."""

    def fail(msg: str) -> FeatureModelError:
        return FeatureModelError(f"{where}: {msg}")

    for key, what in (("pos_conv_depth", 1), ("conv_pos_batch_norm", False)):
        if cfg.get(key, what) not in (what, None):
            raise fail(f"unsupported HuBERT variant: {key}={cfg.get(key)!r} (HuBERT base has {what!r})")
    if str(cfg.get("activation_fn", "gelu")) != "gelu":
        raise fail(f"unsupported activation_fn {cfg.get('activation_fn')!r}; HuBERT uses 'gelu'")
    if str(cfg.get("layer_type", "transformer")) != "transformer":
        raise fail(f"unsupported layer_type {cfg.get('layer_type')!r}; HuBERT uses 'transformer'")
    if any(k.startswith(("feature_projection.", "encoder.pos_conv_embed.")) for k in state):
        raise fail("this is a Hugging Face transformers HuBERT (Applio's embedder layout); load it "
                   "with rvcqa.features.load_content_model, which renames its keys")

    n_conv = _count(state, r"feature_extractor\.conv_layers\.(\d+)\.0\.weight")
    if n_conv == 0:
        raise fail("no 'feature_extractor.conv_layers.*' weights: not a fairseq HuBERT/wav2vec 2.0 model")
    shapes = [tuple(state[f"feature_extractor.conv_layers.{i}.0.weight"].shape) for i in range(n_conv)
              if f"feature_extractor.conv_layers.{i}.0.weight" in state]
    if "conv_feature_layers" in cfg and cfg["conv_feature_layers"] is not None:
        try:
            conv_layers = _eval_layer_spec(str(cfg["conv_feature_layers"]))
        except (ValueError, SyntaxError) as exc:
            raise fail(f"cannot read conv_feature_layers {cfg['conv_feature_layers']!r}: {exc}") from None
    elif len(shapes) == len(BASE_CONV_LAYERS):
        conv_layers = BASE_CONV_LAYERS
    else:
        raise fail(f"{n_conv} conv layers and no conv_feature_layers in the config to give their strides")
    if len(conv_layers) != n_conv or any(
        s[0] != c[0] or s[2] != c[1] for s, c in zip(shapes, conv_layers)
    ):
        raise fail(f"conv layers in the weights ({[(s[0], s[2]) for s in shapes]} as (dim, kernel)) do "
                   f"not match the config {list(conv_layers)}")
    if "feature_extractor.conv_layers.0.2.weight" in state:
        mode = "default"
    elif "feature_extractor.conv_layers.0.2.1.weight" in state:
        mode = "layer_norm"
    else:
        mode = str(cfg.get("extractor_mode", "default"))

    def shape(key: str, fallback: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(state[key].shape) if key in state else fallback

    embed = shape("encoder.layer_norm.weight", (int(cfg.get("encoder_embed_dim") or 768),))[0]
    ffn = shape("encoder.layers.0.fc1.weight", (int(cfg.get("encoder_ffn_embed_dim") or 3072),))[0]
    groups = int(cfg.get("conv_pos_groups") or 16)
    v_shape = shape("encoder.pos_conv.0.weight_v", (embed, embed // groups, int(cfg.get("conv_pos") or 128)))
    if v_shape[1] and embed % v_shape[1] == 0:
        groups = embed // v_shape[1]
    final_dim = shape("final_proj.weight", (int(cfg.get("final_dim") or 256),))[0]
    heads = int(cfg.get("encoder_attention_heads") or 12)
    if embed % heads:
        raise fail(f"embedding width {embed} is not divisible by {heads} attention heads")
    has_proj = "post_extract_proj.weight" in state
    return HubertArch(
        conv_layers=conv_layers,
        conv_bias="feature_extractor.conv_layers.0.0.bias" in state,
        extractor_mode=mode,
        embed_dim=int(embed),
        ffn_dim=int(ffn),
        heads=heads,
        layers=_count(state, r"encoder\.layers\.(\d+)\.") or int(cfg.get("encoder_layers") or 12),
        conv_pos=int(v_shape[2]),
        conv_pos_groups=int(groups),
        final_dim=int(final_dim),
        layer_norm_first=bool(cfg.get("layer_norm_first", False)),
        label_embs=int(state["label_embs_concat"].shape[0]) if "label_embs_concat" in state else None,
        post_extract_proj=None if has_proj == (conv_layers[-1][0] != embed) else has_proj,
        feature_norm="layer_norm.weight" in state or bool(cfg.get("feature_norm", True)),
    )


def _count(keys: Iterable[str], pattern: str) -> int:
    rx = re.compile(pattern)
    found = [int(m.group(1)) for k in keys if (m := rx.match(k))]
    return max(found) + 1 if found else 0



# --------------------------------------------------------------------------- public model

@dataclass
class HubertContentModel:
    """HuBERT content features exactly as the tool that trained the voice takes them.

    ``trainer="rvc"`` (RVC WebUI): v1 = layer 9 through ``final_proj`` (256-dim), v2 = layer 12
    (768-dim). ``trainer="applio"``: v1 = ``final_proj`` of the last hidden state, v2 = the last
    hidden state. The two agree only for v2 of a 12-layer post-norm model. Satisfies
    :class:`rvcqa.features.ContentExtractor` for ``default_version``; pass ``version`` to
    :meth:`features` or use :meth:`for_version` for the other width.
    """

    net: HubertNet
    path: Path | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    default_version: str = "v2"
    trainer: str = "rvc"
    layout: str = "fairseq"  # "fairseq" or "transformers": where the weights came from
    has_final_proj: bool = True  # a plain transformers HubertModel has none (v2 only)

    @property
    def dim(self) -> int:
        return self.width(self.default_version)

    def width(self, version: str) -> int:
        return self.net.arch.final_dim if _check_version(version) == "v1" else self.net.arch.embed_dim

    def for_version(self, version: str) -> "HubertContentModel":
        """The same weights, answering ``features(wav)`` for ``version``."""
        return replace(self, default_version=_check_version(version))

    def output_layer(self, version: str) -> int | None:
        """The encoder layer read (1-based), None for the last hidden state (Applio)."""
        return OUTPUT_LAYER[_check_version(version)] if self.trainer == "rvc" else None

    def features(self, wav16k: np.ndarray | torch.Tensor, version: str | None = None) -> np.ndarray:
        """16 kHz mono audio -> ``[(N - 400) // 320 + 1, 256 | 768]`` float32 (50 frames/s).

        The layer and projection follow :attr:`trainer` (see the class). No normalisation of the
        input, as at RVC and Applio inference.
        """
        version = _check_version(version or self.default_version)
        layer = self.output_layer(version)
        if layer is not None and layer > self.net.arch.layers:
            raise FeatureModelError(
                f"{self.describe()}: has {self.net.arch.layers} layers; RVC {version} reads layer {layer}"
            )
        if version == "v1" and not self.has_final_proj:
            raise FeatureModelError(f"{self.describe()}: has no final_proj, which v1 (256-dim) features need")
        y = as_wave16k(wav16k, name="HuBERT input", min_samples=CONTENT_WINDOW)
        with torch.inference_mode():
            x = torch.from_numpy(y).to(self.device)[None]
            out = self.net.extract_features(x, output_layer=layer)
            if version == "v1":
                out = self.net.final_proj(out)
        feats = out[0].float().cpu().numpy()
        assert feats.shape[0] == content_frames(y.size), (feats.shape, y.size)
        return feats

    def convention(self, version: str | None = None) -> str:
        """What :meth:`features` returns for ``version``, in words."""
        version = _check_version(version or self.default_version)
        if self.trainer == "rvc":
            what = "layer 9 + final_proj" if version == "v1" else "layer 12"
        else:
            what = "last hidden state + final_proj" if version == "v1" else "last hidden state"
        return f"{self.trainer} {version}: {what} ({self.width(version)}-dim)"

    def describe(self) -> str:
        a = self.net.arch
        where = str(self.path) if self.path else "in-memory weights"
        kind = "fairseq HuBERT" if self.layout == "fairseq" else "transformers HuBERT"
        return f"{kind} ({a.layers} layers, {a.embed_dim}-dim) from {where}; {self.convention()}"


def _check_version(version: str) -> str:
    if version not in OUTPUT_LAYER:
        raise ValueError(f"RVC model version must be 'v1' or 'v2', got {version!r}")
    return version


def load_hubert(path: str | os.PathLike[str], device: str | torch.device = "cpu", *,
                version: str = "v2", trainer: str = "rvc") -> HubertContentModel:
    """Load RVC's ``hubert_base.pt`` (any fairseq HuBERT checkpoint of this shape) safely and strictly.

    Raises :class:`~rvcqa.errors.CheckpointError` for missing/damaged files,
    :class:`~rvcqa.errors.UnsafeCheckpointError` for pickles beyond :data:`INERT_GLOBALS`, and
    :class:`~rvcqa.features.FeatureModelError` when the weights do not fit (names every missing
    and unexpected key).
    """
    ckpt = read_fairseq_checkpoint(path)
    return model_from_state(ckpt.model, ckpt.model_cfg, path=ckpt.path, device=device, version=version,
                            trainer=trainer)


def model_from_state(state: Mapping[str, torch.Tensor], cfg: Mapping[str, Any] | None = None, *,
                     path: Path | None = None, device: str | torch.device = "cpu",
                     version: str = "v2", trainer: str = "rvc", layout: str = "fairseq",
                     has_final_proj: bool = True) -> HubertContentModel:
    """Build from a fairseq-layout state dict (strict) and wrap it for ``trainer``'s extraction."""
    where = str(path) if path else "HuBERT weights"
    check_trainer(trainer)
    arch = arch_from_checkpoint(state, cfg or {}, where=where)
    net = build_hubert(arch)
    problems = key_problems(state, net.state_dict())
    if problems:
        raise FeatureModelError(f"{where}: does not fit {layout} HuBERT ({arch.layers} layers, {arch.embed_dim}-dim): "
                                f"{problems}. Use RVC's assets/hubert/hubert_base.pt (fairseq HuBERT base) or an "
                                "Applio embedder folder (config.json + pytorch_model.bin / model.safetensors).")
    dev = torch.device(device)
    weights = {k: v.detach().to(device=dev, dtype=torch.float32) for k, v in state.items()}
    net.load_state_dict(weights, strict=True, assign=True)
    return HubertContentModel(net=net.eval(), path=path, device=dev, default_version=_check_version(version),
                              trainer=trainer, layout=layout, has_final_proj=has_final_proj)


__all__ = [
    "BASE_CONV_LAYERS",
    "FairseqCheckpoint",
    "HubertArch",
    "HubertContentModel",
    "HubertNet",
    "INERT_GLOBALS",
    "InertObject",
    "OUTPUT_LAYER",
    "TRAINERS",
    "arch_from_checkpoint",
    "build_hubert",
    "check_trainer",
    "load_hubert",
    "model_from_state",
    "read_fairseq_checkpoint",
]
