"""The known RVC/Applio model variants: canonical configs, expected keys, and fingerprints.

Canonical configs are RVC_FORMATS.md 1.4 (RVC's ``extract_small_model`` lists, identical to what
``savee`` writes from the default configs). Expected keys are never hard-coded: they come from
building the network on the meta device, so they cannot drift from the code that loads weights.
"""
from __future__ import annotations

import copy
import json
import math
from functools import lru_cache
from typing import Any, Mapping, Optional, Sequence, Union

import torch

from rvcqa.synth.config import SynthConfig, parse_sample_rate
from rvcqa.synth.vocoders import HIFIGAN, REFINEGAN, vocoder_from_keys

# Shared by every variant: elements 1..11 of the 18-element list.
_COMMON = [32, 192, 192, 768, 2, 6, 3, 0, "1", [3, 7, 11], [[1, 3, 5], [1, 3, 5], [1, 3, 5]]]
_UPSAMPLE_INITIAL = 512
_SPK_EMBED_DIM = 109
_GIN = 256

# (version, sr) -> (spec_channels, upsample_rates, upsample_kernel_sizes)
_TABLE: dict[tuple[str, int], tuple[int, list[int], list[int]]] = {
    ("v1", 32000): (513, [10, 4, 2, 2, 2], [16, 16, 4, 4, 4]),
    ("v1", 40000): (1025, [10, 10, 2, 2], [16, 16, 4, 4]),
    ("v1", 48000): (1025, [10, 6, 2, 2, 2], [16, 16, 4, 4, 4]),
    ("v2", 24000): (513, [10, 6, 2, 2], [20, 12, 4, 4]),  # Applio only
    ("v2", 32000): (513, [10, 8, 2, 2], [20, 16, 4, 4]),
    ("v2", 40000): (1025, [10, 10, 2, 2], [16, 16, 4, 4]),  # RVC has no v2 40k config: v1's list
    ("v2", 48000): (1025, [12, 10, 2, 2], [24, 20, 4, 4]),
}

#: Every (version, sample rate) pair with a canonical config.
CANONICAL_VARIANTS: tuple[tuple[str, int], ...] = tuple(_TABLE)


def canonical_config(version: str, sr: Union[int, str]) -> list[Any]:
    """RVC's 18-element config list for ``version`` ('v1'/'v2') at ``sr`` (48000 or '48k')."""
    rate = parse_sample_rate(sr)
    try:
        spec, rates, kernels = _TABLE[(version, rate)]
    except KeyError:
        known = ", ".join(f"{v}-{r // 1000}k" for v, r in _TABLE)
        raise ValueError(f"no canonical RVC config for {version} at {rate} Hz (known: {known})") from None
    return [spec, *copy.deepcopy(_COMMON), list(rates), _UPSAMPLE_INITIAL, list(kernels), _SPK_EMBED_DIM, _GIN, rate]


def narrow_config(
    config: Union[Sequence[Any], SynthConfig],
    *,
    hidden: int = 16,
    filter_channels: int = 32,
    upsample_initial: int = 32,
    gin: int = 16,
    speakers: int = 4,
) -> list[Any]:
    """Same variant at small widths (full depth, so every key exists): for fast tests.

    The defaults are the widths of tests/data/conformance (RVC's classes at inter/hidden 16).
    """
    cfg = SynthConfig.from_list(config).replace(
        inter_channels=hidden,
        hidden_channels=hidden,
        filter_channels=filter_channels,
        upsample_initial_channel=upsample_initial,
        gin_channels=gin,
        spk_embed_dim=speakers,
    )
    return cfg.to_list()


@lru_cache(maxsize=64)
def _key_table(
    config_json: str, version: str, f0: bool, posterior: bool, vocoder: str
) -> tuple[tuple[str, tuple[int, ...]], ...]:
    from rvcqa.synth.synthesizer import Synthesizer  # local: synthesizer imports nothing from here

    with torch.device("meta"):
        net = Synthesizer(json.loads(config_json), version=version, f0=f0, posterior=posterior, vocoder=vocoder)
    return tuple((k, tuple(v.shape)) for k, v in net.state_dict().items())


def expected_inference_keys(
    config: Union[Sequence[Any], SynthConfig],
    version: str,
    f0: Union[bool, int],
    *,
    posterior: bool = False,
    vocoder: Optional[str] = None,
    weight: Optional[Mapping[str, Any]] = None,
    extra: Optional[Mapping[str, Any]] = None,
) -> dict[str, tuple[int, ...]]:
    """State-dict key -> shape that the network for ``config`` has (``enc_q`` excluded unless
    ``posterior``), in legacy weight-norm naming (``weight_g``/``weight_v``). Derived by building
    the network. The decoder is ``vocoder`` if given, else ``extra["vocoder"]`` (an Applio file's
    entry), else the one ``weight``'s key names show, else HiFi-GAN."""
    cfg = SynthConfig.from_list(config)
    name = vocoder_for(weight, extra) if vocoder is None else vocoder
    return dict(_key_table(json.dumps(cfg.to_list()), version, bool(f0), posterior, name))


def vocoder_for(weight: Optional[Mapping[str, Any]] = None, extra: Optional[Mapping[str, Any]] = None) -> str:
    """The decoder a model has: its ``vocoder`` entry, else the one its keys show, else HiFi-GAN."""
    if extra is not None and extra.get("vocoder") is not None:
        return str(extra["vocoder"])
    if weight is not None:
        return vocoder_from_keys(weight) or HIFIGAN
    return HIFIGAN


def _get(weight: Mapping[str, Any], stem: str, *suffixes: str) -> Optional[Any]:
    for suffix in suffixes:
        if stem + suffix in weight:
            return weight[stem + suffix]
    return None


def upsample_kernels(weight: Mapping[str, Any]) -> tuple[int, ...]:
    """Kernel sizes of ``dec.ups.*`` (``dec.upsamples.*`` in Applio's MRF HiFi-GAN) read from
    the weights (either weight-norm naming)."""
    kernels: list[int] = []
    stem = "dec.upsamples" if any(k.startswith("dec.upsamples.") for k in weight) else "dec.ups"
    i = 0
    while True:
        v = _get(weight, f"{stem}.{i}", ".weight_v", ".parametrizations.weight.original1", ".weight")
        if v is None:
            return tuple(kernels)
        kernels.append(int(v.shape[-1]))
        i += 1


def decoder_facts(weight: Mapping[str, Any]) -> dict[str, Any]:
    """What the weights say about the decoder's upsampling, for any of the three vocoders.

    ``vocoder`` (from the key names), ``stages`` (upsampling stages), ``ups_kernels`` (the
    transposed convs' kernel sizes; None for RefineGAN, which upsamples by interpolation and
    ignores ``upsample_kernel_sizes``) and ``noise_kernels`` (source-injection conv kernels).
    """
    vocoder = vocoder_from_keys(weight) or HIFIGAN
    if vocoder == REFINEGAN:
        stages = len({k.split(".")[2] for k in weight if k.startswith("dec.upsample_conv_blocks.")})
        return {"vocoder": vocoder, "stages": stages, "ups_kernels": None, "noise_kernels": []}
    kernels = list(upsample_kernels(weight))
    return {"vocoder": vocoder, "stages": len(kernels), "ups_kernels": kernels,
            "noise_kernels": list(noise_conv_kernels(weight))}


def noise_conv_kernels(weight: Mapping[str, Any]) -> tuple[int, ...]:
    """Kernel sizes of ``dec.noise_convs.*`` (empty for no-f0 models)."""
    kernels = []
    i = 0
    while f"dec.noise_convs.{i}.weight" in weight:
        kernels.append(int(weight[f"dec.noise_convs.{i}.weight"].shape[-1]))
        i += 1
    return tuple(kernels)


def variant_of(weight: Mapping[str, Any]) -> tuple[Optional[str], bool, Optional[int]]:
    """Fingerprint ``(version, f0, sr_guess)`` from an inference state dict alone.

    version: 'v2' for ``emb_phone`` width 768, 'v1' for 256, else None. f0: ``emb_pitch``
    present. sr_guess: the canonical sample rate whose upsample (and, for f0 models, noise-conv)
    kernels match, or None when none or several do (v1 32k and 48k no-f0 decoders are identical).
    """
    phone = weight.get("enc_p.emb_phone.weight")
    width = int(phone.shape[-1]) if phone is not None and len(phone.shape) == 2 else None
    version = {768: "v2", 256: "v1"}.get(width) if width is not None else None
    f0 = "enc_p.emb_pitch.weight" in weight
    ups = upsample_kernels(weight)
    noise = noise_conv_kernels(weight)
    candidates = set()
    for (ver, rate), (_, rates, kernels) in _TABLE.items():
        if version is not None and ver != version:
            continue
        if tuple(kernels) != ups:
            continue
        if noise and noise[0] != 2 * math.prod(rates[1:]):
            continue
        candidates.add(rate)
    sr_guess = candidates.pop() if len(candidates) == 1 else None
    return version, f0, sr_guess


def describe_variant(version: Optional[str], sr: Optional[int], f0: Optional[bool] = None) -> str:
    """Human label such as 'v2-48k f0' for messages."""
    v = version or "v?"
    s = f"{sr // 1000}k" if sr else "?k"
    tail = "" if f0 is None else (" f0" if f0 else " no-f0")
    return f"{v}-{s}{tail}"
