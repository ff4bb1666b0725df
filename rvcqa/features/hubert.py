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
from torch import nn
from torch.nn import functional as F

from rvcqa.checkpoint import describe_structure, load_pth
from rvcqa.errors import UnsafeCheckpointError
from rvcqa.features import (
    CONTENT_WINDOW,
    FeatureModelError,
    as_wave16k,
    content_frames,
    key_problems,
)

#: fairseq's default ``conv_feature_layers``: ``[(512,10,5)] + [(512,3,2)]*4 + [(512,2,2)]*2``.
BASE_CONV_LAYERS: tuple[tuple[int, int, int], ...] = (
    ((512, 10, 5),) + ((512, 3, 2),) * 4 + ((512, 2, 2),) * 2
)
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


# --------------------------------------------------------------------------- architecture

@dataclass(frozen=True)
class HubertArch:
    """Everything that shapes the network; defaults are HuBERT base (RVC's hubert_base.pt)."""

    conv_layers: tuple[tuple[int, int, int], ...] = BASE_CONV_LAYERS  # (dim, kernel, stride)
    conv_bias: bool = False
    extractor_mode: str = "default"  # "default": group norm on conv 0; "layer_norm": LN on each
    embed_dim: int = 768
    ffn_dim: int = 3072
    heads: int = 12
    layers: int = 12
    conv_pos: int = 128
    conv_pos_groups: int = 16
    final_dim: int = 256
    layer_norm_first: bool = False
    label_embs: int | None = 504  # rows of label_embs_concat; None when the file has none

    @property
    def conv_dim(self) -> int:
        return self.conv_layers[-1][0]


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
    return tuple(value)  # type: ignore[arg-type]


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
        raise fail("this is a Hugging Face transformers HuBERT; rvcqa reads fairseq's layout "
                   "(RVC's assets/hubert/hubert_base.pt)")

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
    )


def _count(keys: Iterable[str], pattern: str) -> int:
    rx = re.compile(pattern)
    found = [int(m.group(1)) for k in keys if (m := rx.match(k))]
    return max(found) + 1 if found else 0


# --------------------------------------------------------------------------- network

def _normal(t: torch.Tensor) -> torch.Tensor:
    """N(0, 1) init, skipped on the meta device (nothing to fill; torch's meta kernel is slow)."""
    return t if t.is_meta else t.normal_()


class _TransposeLast(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(-2, -1)


def _conv_block(n_in: int, n_out: int, k: int, stride: int, *, norm: str | None, bias: bool) -> nn.Sequential:
    """fairseq's block: conv (index 0), dropout (1: identity at inference), norm (2), GELU."""
    conv = nn.Conv1d(n_in, n_out, k, stride=stride, bias=bias)
    if norm == "group":  # one group per channel: normalises each channel over time
        return nn.Sequential(conv, nn.Identity(), nn.GroupNorm(n_out, n_out, affine=True), nn.GELU())
    if norm == "layer":
        return nn.Sequential(conv, nn.Identity(),
                             nn.Sequential(_TransposeLast(), nn.LayerNorm(n_out), _TransposeLast()), nn.GELU())
    return nn.Sequential(conv, nn.Identity(), nn.GELU())


class ConvFeatureExtractor(nn.Module):
    """Waveform ``[B, N]`` -> ``[B, C, T]``; receptive field 400, stride 320 for base."""

    def __init__(self, arch: HubertArch) -> None:
        super().__init__()
        self.conv_layers = nn.ModuleList()
        n_in = 1
        for i, (dim, k, stride) in enumerate(arch.conv_layers):
            norm = None
            if arch.extractor_mode == "layer_norm":
                norm = "layer"
            elif i == 0:
                norm = "group"
            self.conv_layers.append(_conv_block(n_in, dim, k, stride, norm=norm, bias=arch.conv_bias))
            n_in = dim

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        x = wav.unsqueeze(1)
        for block in self.conv_layers:
            x = block(x)
        return x


class PosConv(nn.Module):
    """Convolutional position embedding: grouped conv with legacy weight norm over dim 2
    (``weight_g`` is ``[1, 1, K]``), 'same' padding with the extra frame of an even kernel
    dropped (fairseq's SamePad), then GELU."""

    def __init__(self, dim: int, kernel: int, groups: int) -> None:
        super().__init__()
        self.kernel, self.groups = kernel, groups
        self.weight_g = nn.Parameter(torch.ones(1, 1, kernel))
        self.weight_v = nn.Parameter(_normal(torch.empty(dim, dim // groups, kernel)))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = torch._weight_norm(self.weight_v, self.weight_g, 2)
        y = F.conv1d(x, weight, self.bias, padding=self.kernel // 2, groups=self.groups)
        if self.kernel % 2 == 0:
            y = y[:, :, :-1]
        return F.gelu(y)


class SelfAttention(nn.Module):
    """fairseq's MultiheadAttention for self-attention without masks (one utterance, no padding)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.q_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, C]
        b, t, c = x.shape

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, self.heads, c // self.heads).transpose(1, 2)

        out = F.scaled_dot_product_attention(split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x)))
        return self.out_proj(out.transpose(1, 2).reshape(b, t, c))


class EncoderLayer(nn.Module):
    """BERT-style layer; post-norm (HuBERT base) or pre-norm (``layer_norm_first``)."""

    def __init__(self, arch: HubertArch) -> None:
        super().__init__()
        self.layer_norm_first = arch.layer_norm_first
        self.self_attn = SelfAttention(arch.embed_dim, arch.heads)
        self.self_attn_layer_norm = nn.LayerNorm(arch.embed_dim)
        self.fc1 = nn.Linear(arch.embed_dim, arch.ffn_dim)
        self.fc2 = nn.Linear(arch.ffn_dim, arch.embed_dim)
        self.final_layer_norm = nn.LayerNorm(arch.embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.layer_norm_first:
            x = x + self.self_attn(self.self_attn_layer_norm(x))
            return x + self.fc2(F.gelu(self.fc1(self.final_layer_norm(x))))
        x = self.self_attn_layer_norm(x + self.self_attn(x))
        return self.final_layer_norm(x + self.fc2(F.gelu(self.fc1(x))))


class TransformerEncoder(nn.Module):
    def __init__(self, arch: HubertArch) -> None:
        super().__init__()
        self.layer_norm_first = arch.layer_norm_first
        self.pos_conv = nn.Sequential(PosConv(arch.embed_dim, arch.conv_pos, arch.conv_pos_groups))
        self.layers = nn.ModuleList(EncoderLayer(arch) for _ in range(arch.layers))
        self.layer_norm = nn.LayerNorm(arch.embed_dim)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Add the conv position embedding; post-norm models normalise here, before layer 1."""
        x = x + self.pos_conv(x.transpose(1, 2)).transpose(1, 2)
        return x if self.layer_norm_first else self.layer_norm(x)

    def forward(self, x: torch.Tensor, output_layer: int | None = None) -> torch.Tensor:
        """Run layers 1..``output_layer`` (1-based; None: all). Like fairseq, the final layer norm
        of a pre-norm model applies only when every layer ran without ``output_layer``."""
        x = self.embed(x)
        n = len(self.layers) if output_layer is None else output_layer
        for layer in self.layers[:n]:
            x = layer(x)
        if self.layer_norm_first and output_layer is None:
            x = self.layer_norm(x)
        return x


class HubertNet(nn.Module):
    """fairseq ``HubertModel`` for inference: parameter names equal the checkpoint's keys."""

    def __init__(self, arch: HubertArch) -> None:
        super().__init__()
        self.arch = arch
        self.feature_extractor = ConvFeatureExtractor(arch)
        self.layer_norm = nn.LayerNorm(arch.conv_dim)
        self.post_extract_proj = (
            nn.Linear(arch.conv_dim, arch.embed_dim) if arch.conv_dim != arch.embed_dim else None
        )
        self.encoder = TransformerEncoder(arch)
        self.final_proj = nn.Linear(arch.embed_dim, arch.final_dim)
        # training-only parameters, kept so the checkpoint loads strictly
        self.mask_emb = nn.Parameter(torch.zeros(arch.embed_dim))
        if arch.label_embs is not None:
            self.label_embs_concat = nn.Parameter(torch.zeros(arch.label_embs, arch.final_dim))

    def frontend(self, source: torch.Tensor) -> torch.Tensor:
        """``[B, N]`` waveform -> ``[B, T, embed]`` encoder input (conv, layer norm, projection)."""
        feats = self.layer_norm(self.feature_extractor(source).transpose(1, 2))
        return self.post_extract_proj(feats) if self.post_extract_proj is not None else feats

    def extract_features(self, source: torch.Tensor, output_layer: int | None = None) -> torch.Tensor:
        """fairseq ``extract_features(source, padding_mask=all False, mask=False, output_layer)``."""
        return self.encoder(self.frontend(source), output_layer)

    def hidden_states(self, source: torch.Tensor) -> list[torch.Tensor]:
        """Encoder input after the position embedding, then the output of every layer (for tests)."""
        x = self.encoder.embed(self.frontend(source))
        out = [x]
        for layer in self.encoder.layers:
            x = layer(x)
            out.append(x)
        return out


def build_hubert(arch: HubertArch | None = None, *, device: str | torch.device = "meta") -> HubertNet:
    """Build the network; on ``"meta"`` (the default) it allocates nothing, so even the full
    95M-parameter base builds in milliseconds before a checkpoint is assigned into it."""
    with torch.device(device):
        return HubertNet(arch or HubertArch()).eval()


# --------------------------------------------------------------------------- public model

@dataclass
class HubertContentModel:
    """HuBERT content features exactly as RVC's pipeline takes them.

    Satisfies :class:`rvcqa.features.ContentExtractor` for ``default_version``; pass ``version``
    to :meth:`features` or use :meth:`for_version` for the other width.
    """

    net: HubertNet
    path: Path | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    default_version: str = "v2"

    @property
    def dim(self) -> int:
        return self.width(self.default_version)

    def width(self, version: str) -> int:
        return self.net.arch.final_dim if _check_version(version) == "v1" else self.net.arch.embed_dim

    def for_version(self, version: str) -> "HubertContentModel":
        """The same weights, answering ``features(wav)`` for ``version``."""
        return replace(self, default_version=_check_version(version))

    def features(self, wav16k: np.ndarray | torch.Tensor, version: str | None = None) -> np.ndarray:
        """16 kHz mono audio -> ``[(N - 400) // 320 + 1, 256 | 768]`` float32 (50 frames/s).

        v1: output of layer 9 through ``final_proj``; v2: output of layer 12. No normalisation of
        the input, as at RVC inference.
        """
        version = _check_version(version or self.default_version)
        layer = OUTPUT_LAYER[version]
        if layer > self.net.arch.layers:
            raise FeatureModelError(
                f"{self.describe()}: has {self.net.arch.layers} layers; RVC {version} reads layer {layer}"
            )
        y = as_wave16k(wav16k, name="HuBERT input", min_samples=CONTENT_WINDOW)
        with torch.inference_mode():
            x = torch.from_numpy(y).to(self.device)[None]
            out = self.net.extract_features(x, output_layer=layer)
            if version == "v1":
                out = self.net.final_proj(out)
        feats = out[0].float().cpu().numpy()
        assert feats.shape[0] == content_frames(y.size), (feats.shape, y.size)
        return feats

    def describe(self) -> str:
        a = self.net.arch
        where = str(self.path) if self.path else "in-memory weights"
        return (f"fairseq HuBERT ({a.layers} layers, {a.embed_dim}-dim) from {where}; RVC "
                f"{self.default_version}: " + ("layer 9 + final_proj (256-dim)" if self.default_version == "v1"
                                               else "layer 12 (768-dim)"))


def _check_version(version: str) -> str:
    if version not in OUTPUT_LAYER:
        raise ValueError(f"RVC model version must be 'v1' or 'v2', got {version!r}")
    return version


def load_hubert(path: str | os.PathLike[str], device: str | torch.device = "cpu", *,
                version: str = "v2") -> HubertContentModel:
    """Load RVC's ``hubert_base.pt`` (any fairseq HuBERT checkpoint of this shape) safely and strictly.

    Raises :class:`~rvcqa.errors.CheckpointError` for missing/damaged files,
    :class:`~rvcqa.errors.UnsafeCheckpointError` for pickles beyond :data:`INERT_GLOBALS`, and
    :class:`~rvcqa.features.FeatureModelError` when the weights do not fit (names every missing
    and unexpected key).
    """
    ckpt = read_fairseq_checkpoint(path)
    return model_from_state(ckpt.model, ckpt.model_cfg, path=ckpt.path, device=device, version=version)


def model_from_state(state: Mapping[str, torch.Tensor], cfg: Mapping[str, Any] | None = None, *,
                     path: Path | None = None, device: str | torch.device = "cpu",
                     version: str = "v2") -> HubertContentModel:
    """Build from a fairseq-layout state dict (strict) and wrap it for RVC-style extraction."""
    where = str(path) if path else "HuBERT weights"
    arch = arch_from_checkpoint(state, cfg or {}, where=where)
    net = build_hubert(arch)
    problems = key_problems(state, net.state_dict())
    if problems:
        raise FeatureModelError(f"{where}: does not fit fairseq HuBERT ({arch.layers} layers, {arch.embed_dim}-dim): "
                                f"{problems}. Use RVC's assets/hubert/hubert_base.pt (fairseq HuBERT base).")
    dev = torch.device(device)
    weights = {k: v.detach().to(device=dev, dtype=torch.float32) for k, v in state.items()}
    net.load_state_dict(weights, strict=True, assign=True)
    return HubertContentModel(net=net.eval(), path=path, device=dev, default_version=_check_version(version))


__all__ = [
    "BASE_CONV_LAYERS",
    "FairseqCheckpoint",
    "HubertArch",
    "HubertContentModel",
    "HubertNet",
    "INERT_GLOBALS",
    "InertObject",
    "OUTPUT_LAYER",
    "arch_from_checkpoint",
    "build_hubert",
    "load_hubert",
    "model_from_state",
    "read_fairseq_checkpoint",
]
