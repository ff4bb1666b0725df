"""The decoders ("vocoders") an RVC/Applio synthesizer can have, and how to tell them apart.

Applio's inference files name theirs in a ``vocoder`` entry; RVC files and Applio's ``G_*.pth``
checkpoints do not, so the decoder is then recognised from its key names, which differ per
decoder (``dec.ups`` / ``dec.upsamples`` + ``dec.mrfs`` / ``dec.upsample_conv_blocks``).
"""
from __future__ import annotations

from typing import Any, Iterable, Optional

HIFIGAN = "HiFi-GAN"
MRF_HIFIGAN = "MRF HiFi-GAN"
REFINEGAN = "RefineGAN"
VOCODERS: tuple[str, ...] = (HIFIGAN, MRF_HIFIGAN, REFINEGAN)


def check_vocoder(vocoder: Any, f0: bool) -> str:
    """The vocoder name, validated; ValueError for unknown names or pitchless Applio decoders."""
    name = str(vocoder)
    if name not in VOCODERS:
        raise ValueError(f"unknown vocoder {vocoder!r}: expected one of {', '.join(map(repr, VOCODERS))}")
    if name != HIFIGAN and not f0:
        raise ValueError(f"the {name} decoder exists only for pitch (f0) models: Applio builds none without f0")
    return name


def vocoder_from_keys(keys: Iterable[str]) -> Optional[str]:
    """The vocoder whose decoder key names appear in ``keys``; None when there is no decoder."""
    seen_dec = False
    for k in keys:
        if k.startswith("dec.mrfs.") or k.startswith("dec.upsamples."):
            return MRF_HIFIGAN
        if k.startswith("dec.upsample_conv_blocks.") or k.startswith("dec.downsample_blocks."):
            return REFINEGAN
        seen_dec = seen_dec or k.startswith("dec.")
    return HIFIGAN if seen_dec else None
