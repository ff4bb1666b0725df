"""Command-line option parsers shared by the pytest plugin and the ``rvcqa`` CLI.

Each raises ``argparse.ArgumentTypeError`` so both front ends print one clean usage error.
"""
from __future__ import annotations

import argparse
from typing import Any, Callable, Optional, TypeVar


_N = TypeVar("_N", int, float)


def _number(text: str, cast: Callable[[str], _N], ok: Callable[[_N], bool], not_a_number: str,
            out_of_range: str) -> _N:
    """Parse ``text`` with ``cast``; ``{text}``/``{value}`` in the messages name what was given."""
    try:
        value = cast(text)
    except ValueError:
        raise argparse.ArgumentTypeError(not_a_number.format(text=repr(text))) from None
    if not ok(value):
        raise argparse.ArgumentTypeError(out_of_range.format(text=repr(text), value=value))
    return value


def segments_type(text: str) -> int | None:
    """``8`` -> 8 segments; ``all`` -> None (every segment)."""
    if text.strip().lower() == "all":
        return None
    message = "expected a positive number of segments or 'all', got {text}"
    return _number(text, int, lambda v: v > 0, message, message)


def transpose_type(text: str) -> int:
    """Semitones, -24..24 as in RVC's UI."""
    return _number(text, int, lambda v: -24 <= v <= 24, "transpose is a whole number of semitones, got {text}",
                   "transpose {value} is outside RVC's range -24..24 semitones")


def positive_int(text: str) -> int:
    message = "expected a positive whole number, got {text}"
    return _number(text, int, lambda v: v > 0, message, message)


def non_negative_int(text: str) -> int:
    message = "expected a whole number >= 0, got {text}"
    return _number(text, int, lambda v: v >= 0, message, message)


def window_type(text: str) -> float:
    """Seconds kept per segment; ``all`` -> 0.0 (whole segments)."""
    if text.strip().lower() == "all":
        return 0.0
    return _number(text, float, lambda v: v >= 0.5, "expected seconds (e.g. 1.0) or 'all', got {text}",
                   "window must be at least 0.5 s (pYIN and the 48k log-mel need frames), got {text}")


def seconds_or_forever(text: str) -> Optional[float]:
    """A time limit in seconds; ``none``/``0``/``forever`` -> None (no limit)."""
    if text.strip().lower() in ("none", "0", "forever"):
        return None
    return _number(text, float, lambda v: v > 0, "expected seconds (e.g. 3600) or 'none', got {text}",
                   "expected a positive number of seconds, got {text}")


def non_negative_seconds(text: str) -> float:
    return _number(text, float, lambda v: v >= 0, "expected a number of seconds, got {text}",
                   "expected seconds >= 0, got {text}")


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
