"""Command-line option parsers shared by the pytest plugin and the ``rvcqa`` CLI.

Each raises ``argparse.ArgumentTypeError`` so both front ends print one clean usage error.
"""
from __future__ import annotations

import argparse
from typing import Any


def segments_type(text: str) -> int | None:
    """``8`` -> 8 segments; ``all`` -> None (every segment)."""
    if text.strip().lower() == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number of segments or 'all', got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of segments or 'all', got {text!r}")
    return value


def transpose_type(text: str) -> int:
    """Semitones, -24..24 as in RVC's UI."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"transpose is a whole number of semitones, got {text!r}") from None
    if not -24 <= value <= 24:
        raise argparse.ArgumentTypeError(f"transpose {value} is outside RVC's range -24..24 semitones")
    return value


def device_type(text: str) -> str:
    value = text.strip().lower()
    if value not in ("cpu", "cuda", "auto") and not value.startswith("cuda:"):
        raise argparse.ArgumentTypeError(f"device must be cpu, cuda, cuda:N or auto, got {text!r}")
    return value


def threshold_type(text: str) -> tuple[str, Any]:
    """``perceptual.flatness_max=0.1`` -> ("perceptual.flatness_max", 0.1)."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (e.g. perceptual.flatness_max=0.1), got {text!r}")
    key, raw = (part.strip() for part in text.split("=", 1))
    if not key:
        raise argparse.ArgumentTypeError(f"missing threshold name in {text!r}")
    return key, parse_scalar(raw)


def parse_scalar(raw: str) -> Any:
    """Numbers become numbers, true/false booleans, anything else stays text."""
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            continue
    return raw
