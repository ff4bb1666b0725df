"""The synthesizer's 18-element constructor list, parsed into named fields.

RVC stores the network's constructor arguments positionally in ``.pth["config"]``; naming them
once here keeps every other module free of magic indices like ``config[-3]``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

# RVC accepts these strings for the last element (``sr2sr`` in its models.py).
_SR_STRINGS = {"24k": 24000, "32k": 32000, "40k": 40000, "48k": 48000}


def parse_sample_rate(sr: int | str) -> int:
    """``48000``, ``"48000"``, ``"48k"`` -> 48000; raise ValueError for anything else."""
    if isinstance(sr, bool):
        raise ValueError(f"sample rate must be an int or '48k'-style string, got {sr!r}")
    if isinstance(sr, int):
        return sr
    if isinstance(sr, float) and sr.is_integer():
        return int(sr)
    if isinstance(sr, str):
        s = sr.strip().lower()
        if s in _SR_STRINGS:
            return _SR_STRINGS[s]
        if s.isdigit():
            return int(s)
    raise ValueError(f"sample rate must be an int or '48k'-style string, got {sr!r}")


@dataclass(frozen=True)
class SynthConfig:
    """Named view of RVC's 18 positional synthesizer arguments (see RVC_FORMATS.md 1.3)."""

    spec_channels: int
    segment_size: int
    inter_channels: int
    hidden_channels: int
    filter_channels: int
    n_heads: int
    n_layers: int
    kernel_size: int
    p_dropout: float
    resblock: str
    resblock_kernel_sizes: tuple[int, ...]
    resblock_dilation_sizes: tuple[tuple[int, ...], ...]
    upsample_rates: tuple[int, ...]
    upsample_initial_channel: int
    upsample_kernel_sizes: tuple[int, ...]
    spk_embed_dim: int
    gin_channels: int
    sr: int

    @classmethod
    def from_list(cls, config: "Sequence[Any] | SynthConfig") -> "SynthConfig":
        """Parse the list stored in ``.pth["config"]``; ValueError says what is malformed."""
        if isinstance(config, SynthConfig):
            return config
        if not isinstance(config, (list, tuple)) or len(config) != 18:
            n = len(config) if isinstance(config, (list, tuple)) else type(config).__name__
            raise ValueError(f"config must be RVC's 18-element list, got {n}")
        c = list(config)
        try:
            return cls(
                spec_channels=int(c[0]),
                segment_size=int(c[1]),
                inter_channels=int(c[2]),
                hidden_channels=int(c[3]),
                filter_channels=int(c[4]),
                n_heads=int(c[5]),
                n_layers=int(c[6]),
                kernel_size=int(c[7]),
                p_dropout=float(c[8]),
                resblock=str(c[9]),
                resblock_kernel_sizes=tuple(int(k) for k in c[10]),
                resblock_dilation_sizes=tuple(tuple(int(d) for d in ds) for ds in c[11]),
                upsample_rates=tuple(int(u) for u in c[12]),
                upsample_initial_channel=int(c[13]),
                upsample_kernel_sizes=tuple(int(k) for k in c[14]),
                spk_embed_dim=int(c[15]),
                gin_channels=int(c[16]),
                sr=parse_sample_rate(c[17]),
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"malformed synthesizer config {config!r}: {exc}") from exc

    def to_list(self) -> list[Any]:
        """Back to RVC's positional list (JSON-friendly: lists, not tuples)."""
        return [
            self.spec_channels,
            self.segment_size,
            self.inter_channels,
            self.hidden_channels,
            self.filter_channels,
            self.n_heads,
            self.n_layers,
            self.kernel_size,
            self.p_dropout,
            self.resblock,
            list(self.resblock_kernel_sizes),
            [list(d) for d in self.resblock_dilation_sizes],
            list(self.upsample_rates),
            self.upsample_initial_channel,
            list(self.upsample_kernel_sizes),
            self.spk_embed_dim,
            self.gin_channels,
            self.sr,
        ]

    def replace(self, **changes: Any) -> "SynthConfig":
        """Copy with some fields changed (e.g. ``spk_embed_dim`` from ``emb_g`` rows)."""
        fields = {**self.__dict__, **changes}
        return SynthConfig(**fields)

    @property
    def hop(self) -> int:
        """Output samples per 10 ms input frame: the product of the upsample rates."""
        return math.prod(self.upsample_rates)
