"""Strict loading of an RVC inference model into :class:`Synthesizer`.

RVC itself loads with ``strict=False``, so a file whose keys do not fit its config "loads" and
then produces noise from random layers. We rebuild the network from the file's own config and
require every key and shape to match; when they do not, the error names the counts, the first
few offending keys, and the most likely cause in RVC's terms.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Union

import torch

from rvcqa.errors import SynthesizerLoadError
from rvcqa.synth.config import SynthConfig
from rvcqa.synth.synthesizer import PHONE_DIMS, Synthesizer
from rvcqa.synth.vocoders import HIFIGAN, VOCODERS, vocoder_from_keys
from rvcqa.synth.variants import (
    CANONICAL_VARIANTS,
    canonical_config,
    describe_variant,
    noise_conv_kernels,
    upsample_kernels,
    variant_of,
)

_PARAM_G = ".parametrizations.weight.original0"
_PARAM_V = ".parametrizations.weight.original1"
_SHOW = 5  # offending names quoted per kind


@dataclass
class _Model:
    """What loading needs from a file, a checkpoint record, or a plain dict."""

    label: str
    weight: dict[str, Any]
    config: Any
    version: str
    f0: bool
    extra: dict[str, Any] = field(default_factory=dict)


# -- reading the input -------------------------------------------------------------------------


def _torch_load(path: str) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise SynthesizerLoadError(f"{path}: file not found") from None
    except Exception as exc:  # noqa: BLE001 - any unreadable file is one user-facing error
        raise SynthesizerLoadError(f"{path}: cannot read as a torch .pth file ({exc})") from exc


def _load_path(path: str) -> Any:
    """Use the project's checkpoint reader when present; fall back to a safe ``torch.load``."""
    try:
        from rvcqa.checkpoint import load_inference_model
    except ImportError:
        return _torch_load(path)
    return load_inference_model(path)


def _as_bool_f0(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip() not in ("0", "", "false", "False")
    return bool(int(value)) if value is not None else True


def _coerce(source: Any) -> _Model:
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        loaded = _load_path(path)
        model = _coerce(loaded)
        model.label = path
        return model
    if isinstance(source, Mapping):
        if "weight" not in source:
            if "model" in source:
                raise SynthesizerLoadError(
                    "this is a training checkpoint (G_*.pth: 'model' entry, no 'weight'/'config'); "
                    "extract an inference model first, or pass {'weight': ckpt['model'], 'config': ...}"
                )
            raise SynthesizerLoadError(f"not an RVC inference model: no 'weight' entry (keys: {sorted(source)[:8]})")
        if "config" not in source:
            raise SynthesizerLoadError("not an RVC inference model: no 'config' entry")
        extra = {k: v for k, v in source.items() if k not in ("weight", "config")}
        return _Model(
            label=str(source.get("path", "in-memory model")),
            weight=dict(source["weight"]),
            config=source["config"],
            version=str(source.get("version", "v1")),  # RVC's default for files without the key
            f0=_as_bool_f0(source.get("f0", 1)),
            extra=extra,
        )
    if hasattr(source, "weight") and hasattr(source, "config"):
        extra = dict(getattr(source, "extra", None) or {})
        version = getattr(source, "version", None) or "v1"
        return _Model(
            label=str(getattr(source, "path", None) or "in-memory model"),
            weight=dict(source.weight),
            config=source.config,
            version=str(version),
            f0=_as_bool_f0(getattr(source, "f0", 1)),
            extra=extra,
        )
    raise TypeError(f"load_synthesizer takes a path, a checkpoint record or a dict, not {type(source).__name__}")


# -- key normalisation -------------------------------------------------------------------------


def _rename_parametrized(weight: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Map ``…parametrizations.weight.original0/1`` to ``…weight_g/_v``; returns (dict, count)."""
    out: dict[str, Any] = {}
    n = 0
    for k, v in weight.items():
        if k.endswith(_PARAM_G):
            k, n = k[: -len(_PARAM_G)] + ".weight_g", n + 1
        elif k.endswith(_PARAM_V):
            k, n = k[: -len(_PARAM_V)] + ".weight_v", n + 1
        out[k] = v
    return out, n


def _vocoder(m: _Model, weight: Mapping[str, Any]) -> str:
    """The file's ``vocoder`` entry (Applio inference files), else the one its keys show."""
    declared = m.extra.get("vocoder")
    if declared is None:
        return vocoder_from_keys(weight) or HIFIGAN
    if str(declared) not in VOCODERS:
        raise SynthesizerLoadError(
            f"{m.label}: unknown vocoder {declared!r} (rvcqa builds {', '.join(map(repr, VOCODERS))})"
        )
    return str(declared)


# -- diagnosis ---------------------------------------------------------------------------------


def _config_label(cfg: SynthConfig) -> str:
    """'48k' when the config's decoder is a canonical variant's, else its stated sample rate."""
    for ver, rate in CANONICAL_VARIANTS:
        canon = SynthConfig.from_list(canonical_config(ver, rate))
        if (canon.upsample_rates, canon.upsample_kernel_sizes) == (cfg.upsample_rates, cfg.upsample_kernel_sizes):
            return f"{rate // 1000}k"
    return f"{cfg.sr // 1000}k" if cfg.sr % 1000 == 0 else f"{cfg.sr} Hz"


def _shape(weight: Mapping[str, Any], key: str) -> Optional[tuple[int, ...]]:
    v = weight.get(key)
    return tuple(v.shape) if v is not None and hasattr(v, "shape") else None


def _likely_causes(
    m: _Model,
    cfg: SynthConfig,
    weight: dict[str, Any],
    missing: list[str],
    unexpected: list[str],
    misshaped: list[str],
    n_parametrized: int,
    vocoder: str,
) -> list[str]:
    causes: list[str] = []
    # version (feature width)
    phone = _shape(weight, "enc_p.emb_phone.weight")
    if phone is not None and len(phone) == 2:
        width = phone[1]
        wver = {768: "v2", 256: "v1"}.get(width)
        if wver is None:
            causes.append(f"emb_phone width {width} is neither v1 (256) nor v2 (768)")
        elif wver != m.version:
            causes.append(f"weights are {wver} (emb_phone {width}) but version says {m.version}")
    # pitch / no-pitch
    w_f0 = "enc_p.emb_pitch.weight" in weight or any(k.startswith("dec.m_source.") for k in weight)
    if w_f0 != m.f0:
        if m.f0:
            causes.append("weights are a no-f0 ('nono') model (no emb_pitch, no m_source) but f0=1 says pitch model")
        else:
            causes.append("weights are a pitch (f0) model (emb_pitch, m_source present) but f0=0 says no-pitch model")
    # sample-rate variant of the decoder
    ups_w = upsample_kernels(weight)
    if ups_w and ups_w != cfg.upsample_kernel_sizes:
        _, _, w_sr = variant_of(weight)
        w_label = f"{w_sr // 1000}k" if w_sr else "an unknown variant"
        causes.append(
            f"upsample kernel mismatch: config says {_config_label(cfg)} "
            f"({list(cfg.upsample_kernel_sizes)}), weights are {w_label} ({list(ups_w)})"
        )
    elif ups_w and m.f0:
        noise_w = noise_conv_kernels(weight)
        rates = cfg.upsample_rates
        noise_cfg = tuple(2 * math.prod(rates[i + 1 :]) if i + 1 < len(rates) else 1 for i in range(len(rates)))
        if noise_w and noise_w != noise_cfg:
            causes.append(
                f"upsample rate mismatch: noise_convs kernels {list(noise_w)} imply other rates than "
                f"config's {list(rates)} (expects {list(noise_cfg)})"
            )
    # weight-norm naming
    if n_parametrized:
        causes.append(
            f"parametrization-style names ({n_parametrized} keys '…parametrizations.weight.original0/1'): "
            "expected weight_g/weight_v (RVC's legacy weight norm); RVC's strict=False load would leave "
            "those layers random"
        )
    stems_missing = {k[: -len(".weight_g")] for k in missing if k.endswith(".weight_g")}
    folded = [k for k in unexpected if k.endswith(".weight") and k[: -len(".weight")] in stems_missing]
    if folded:
        causes.append(
            f"weight norm already removed: {len(folded)} layers store a plain '.weight' where RVC stores "
            "weight_g/weight_v"
        )
    if any(k.startswith("module.") for k in unexpected):
        causes.append("keys carry a DDP 'module.' prefix (state dict saved from the wrapped model)")
    # widths and depths
    widths = []
    for key, axis, name, want in (
        ("enc_p.emb_phone.weight", 0, "hidden_channels", cfg.hidden_channels),
        ("enc_p.proj.weight", 0, "2*inter_channels", 2 * cfg.inter_channels),
        ("enc_p.encoder.ffn_layers.0.conv_1.weight", 0, "filter_channels", cfg.filter_channels),
        ("dec.conv_pre.weight", 0, "upsample_initial_channel", cfg.upsample_initial_channel),
        ("emb_g.weight", 1, "gin_channels", cfg.gin_channels),
    ):
        s = _shape(weight, key)
        if s is not None and len(s) > axis and s[axis] != want:
            widths.append(f"{name} {want} vs {s[axis]}")
    if widths:
        causes.append("config widths differ from the weights (config vs weights): " + ", ".join(widths))
    n_attn = len({k.split(".")[3] for k in weight if k.startswith("enc_p.encoder.attn_layers.")})
    if n_attn and n_attn != cfg.n_layers:
        causes.append(f"text encoder depth: weights have {n_attn} attention layers, config says {cfg.n_layers}")
    has_rb1 = any(".convs1." in k for k in weight if k.startswith("dec.resblocks."))
    has_rb2 = any(".convs." in k for k in weight if k.startswith("dec.resblocks."))
    if cfg.resblock == "1" and has_rb2 and not has_rb1:
        causes.append("resblock type mismatch: config says '1', weights hold ResBlock2 ('convs')")
    if cfg.resblock == "2" and has_rb1:
        causes.append("resblock type mismatch: config says '2', weights hold ResBlock1 ('convs1'/'convs2')")
    declared = m.extra.get("vocoder")
    in_keys = vocoder_from_keys(weight)
    if declared is not None and in_keys is not None and str(declared) != in_keys:
        causes.append(f"the file names vocoder {declared!r} but its decoder keys are those of {in_keys!r}")
    if not causes:
        bad = missing + unexpected + misshaped
        if bad and all(k.startswith("dec.") for k in bad):
            causes.append(f"decoder keys differ from the {vocoder} decoder's: another vocoder or decoder config?")
        else:
            causes.append("weights do not come from the network this config describes")
    return causes


def _names(keys: list[str]) -> str:
    shown = ", ".join(keys[:_SHOW])
    return shown + (", …" if len(keys) > _SHOW else "")


def _raise_mismatch(
    m: _Model,
    cfg: SynthConfig,
    weight: dict[str, Any],
    expected: dict[str, tuple[int, ...]],
    missing: list[str],
    unexpected: list[str],
    misshaped: list[str],
    n_parametrized: int,
    vocoder: str,
) -> None:
    causes = _likely_causes(m, cfg, weight, missing, unexpected, misshaped, n_parametrized, vocoder)
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing ({_names(missing)})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected ({_names(unexpected)})")
    if misshaped:
        detail = [f"{k}: file {list(weight[k].shape)} vs network {list(expected[k])}" for k in misshaped]
        parts.append(f"{len(misshaped)} mis-shaped ({_names(detail)})")
    what = describe_variant(m.version, cfg.sr, m.f0) + ("" if vocoder == HIFIGAN else f" {vocoder}")
    msg = (
        f"{m.label}: weights do not fit the {what} network built from its config "
        f"({len(expected)} keys expected, {len(weight)} in file): {'; '.join(parts)}. "
        f"Likely cause: {'; '.join(causes)}."
    )
    err = SynthesizerLoadError(msg)
    err.missing, err.unexpected, err.misshaped, err.causes = missing, unexpected, misshaped, causes  # type: ignore[attr-defined]
    raise err


# -- public ------------------------------------------------------------------------------------


def load_synthesizer(
    path_or_record: Union[str, os.PathLike, Mapping[str, Any], Any],
    device: Union[str, torch.device] = "cpu",
    dtype: torch.dtype = torch.float32,
    *,
    accept_parametrized: bool = True,
) -> Synthesizer:
    """Strictly load an RVC inference model and return an eval-mode :class:`Synthesizer`.

    ``path_or_record``: a ``.pth`` path, an ``InferenceModel`` record (``weight``, ``config``,
    ``version``, ``f0``, ``extra``), or a dict shaped like the file. Weights must match the
    network built from the file's config key for key and shape (``enc_q`` keys, if present,
    must be complete and are then loaded too); otherwise :class:`SynthesizerLoadError` explains.
    Applio's parametrization names are renamed to RVC's unless ``accept_parametrized=False``.
    The decoder is the file's ``vocoder`` entry (Applio: "HiFi-GAN", "MRF HiFi-GAN", "RefineGAN")
    or, without one (RVC files, records from Applio's ``G_*.pth``), the one its key names show.
    ``config[-3]`` (speakers) is taken from ``emb_g`` rows as RVC does. Weight norm is folded
    once; fp16 files are computed in ``dtype`` (fp32 by default) on ``device``.
    """
    m = _coerce(path_or_record)
    if m.version not in PHONE_DIMS:
        raise SynthesizerLoadError(f"{m.label}: unknown model version {m.version!r}: expected 'v1' or 'v2'")
    bad = [k for k, v in m.weight.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise SynthesizerLoadError(f"{m.label}: weight entries that are not tensors: {_names(sorted(bad))}")
    try:
        cfg = SynthConfig.from_list(m.config)
    except ValueError as exc:
        raise SynthesizerLoadError(f"{m.label}: {exc}") from None
    weight, n_param = _rename_parametrized(m.weight)
    if accept_parametrized:
        n_param_unaccepted = 0
    else:
        weight, n_param_unaccepted = m.weight, n_param
    notes: list[str] = []
    if n_param and accept_parametrized:
        notes.append(f"renamed {n_param} parametrization-style weight-norm keys to weight_g/weight_v")
    emb_g = weight.get("emb_g.weight")
    if emb_g is not None and emb_g.dim() == 2 and emb_g.shape[0] != cfg.spk_embed_dim:
        notes.append(f"spk_embed_dim {cfg.spk_embed_dim} in config replaced by emb_g rows {emb_g.shape[0]}")
        cfg = cfg.replace(spk_embed_dim=int(emb_g.shape[0]))
    if cfg.sr != 100 * cfg.hop:
        notes.append(f"config sample rate {cfg.sr} != 100 x hop {cfg.hop}: NSF pitch and duration will be off")
    vocoder = _vocoder(m, weight)
    posterior = any(k.startswith("enc_q.") for k in weight)
    try:  # one shape-only build gives both the expected key table and the module to fill
        with torch.device("meta"):
            net = Synthesizer(cfg, version=m.version, f0=m.f0, posterior=posterior, vocoder=vocoder)
    except (ValueError, RuntimeError, ZeroDivisionError, KeyError, IndexError) as exc:
        raise SynthesizerLoadError(f"{m.label}: its config cannot build an RVC synthesizer: {exc}") from None
    expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    missing = [k for k in expected if k not in weight]
    unexpected = [k for k in weight if k not in expected]
    misshaped = [k for k in expected if k in weight and tuple(weight[k].shape) != expected[k]]
    if missing or unexpected or misshaped:
        _raise_mismatch(m, cfg, weight, expected, missing, unexpected, misshaped, n_param_unaccepted, vocoder)

    work = torch.float64 if dtype == torch.float64 else torch.float32  # fold in >= fp32
    state = {k: v.detach().to(work) for k, v in weight.items()}
    net.load_state_dict(state, strict=True, assign=True)
    net.fold_weight_norm()
    net.requires_grad_(False)
    net.eval()
    net.to(device=device, dtype=dtype)
    net.source_label = m.label
    net.load_notes = notes
    net.extra = m.extra
    return net


__all__ = ["load_synthesizer"]
