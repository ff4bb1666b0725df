"""Metrics behind optional packages: speaker similarity (resemblyzer) and DNSMOS (speechmos).

Neither package is a dependency of rvcqa. Calling a metric without its package raises
:class:`OptionalDependencyMissing`, which tests turn into a skip and reports into a
"not installed" line. Both packages ship their weights in the wheel, so they work offline.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from rvcqa.audio import check_signal, resample
from rvcqa.errors import AudioError
from rvcqa.metrics.registry import register, require

_RESEMBLYZER_HINT = (
    'pip install "setuptools>=77,<81", then pip install --no-build-isolation webrtcvad, then pip install '
    '"rvcqa[speaker]" "setuptools<81" (GE2E weights are in the wheel; webrtcvad builds with gcc and imports '
    "pkg_resources, gone from setuptools 81)"
)
_DNSMOS_HINT = "pip install speechmos onnxruntime (DNSMOS ONNX models are in the wheel)"
_DNSMOS_SR = 16000


def _resemblyzer() -> Any:
    """The resemblyzer module, imported without the two warnings its dependencies raise on import.

    webrtcvad imports ``pkg_resources`` (setuptools' deprecation notice) and resemblyzer imports
    ``scipy.ndimage.morphology`` (scipy's); neither is something a user of rvcqa can act on.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*pkg_resources.*")
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*scipy.ndimage.*")
        import resemblyzer

    return resemblyzer


@lru_cache(maxsize=1)
def _voice_encoder() -> Any:
    """GE2E weights from the wheel (``resemblyzer/pretrained.pt``): nothing is downloaded."""
    return _resemblyzer().VoiceEncoder(device="cpu", verbose=False)


def _speaker_embedding(y: np.ndarray, sr: int) -> np.ndarray:
    wav = _resemblyzer().preprocess_wav(y, source_sr=sr)  # -> 16 kHz, volume-normalised, long silences trimmed
    if wav.size == 0:
        raise AudioError("no speech left after resemblyzer's voice-activity trimming")
    embed = np.asarray(_voice_encoder().embed_utterance(wav), dtype=np.float64)
    return embed


def speaker_embedding(y: np.ndarray, sr: int, *, name: str = "audio") -> np.ndarray:
    """Unit-length resemblyzer GE2E embedding of one clip (compare with a dot product).

    For checks that compare many clips with one voice: each clip is embedded once. Raises
    :class:`OptionalDependencyMissing` without resemblyzer and ``AudioError`` naming ``name``
    for a clip with no speech in it.
    """
    require("speaker similarity", ("resemblyzer",), _RESEMBLYZER_HINT)
    x = check_signal(y, sr, name=name)
    try:
        e = _speaker_embedding(x, sr)
    except AudioError as error:
        raise AudioError(f"{name}: {error}") from None
    norm = float(np.linalg.norm(e))
    if not np.isfinite(norm) or norm == 0.0:
        raise AudioError(f"{name}: resemblyzer gives a zero embedding (no voice in it)")
    return e / norm


@register(
    "speaker_similarity",
    "Cosine similarity of resemblyzer GE2E speaker embeddings (1 = same voice).",
    needs_reference=True,
    optional_dependencies=("resemblyzer",),
    install_hint=_RESEMBLYZER_HINT,
    better="higher",
)
def speaker_similarity(a: np.ndarray, sr_a: int, b: np.ndarray, sr_b: int) -> float:
    """Cosine similarity of the GE2E embeddings of two clips (resemblyzer 0.1.x).

    Each clip goes through ``resemblyzer.preprocess_wav(wav, source_sr=sr)`` and
    ``VoiceEncoder.embed_utterance``. METRICS.md measured: same voice, other text 0.94; other
    voice 0.68; +300 cents 0.77; noise 0.46. Compare a conversion with the *target* voice.
    """
    require("speaker similarity", ("resemblyzer",), _RESEMBLYZER_HINT)
    ya = check_signal(a, sr_a, name="a")
    yb = check_signal(b, sr_b, name="b")
    ea = _speaker_embedding(ya, sr_a)
    eb = _speaker_embedding(yb, sr_b)
    denom = float(np.linalg.norm(ea) * np.linalg.norm(eb))
    if denom == 0.0:
        return 0.0
    return float(np.dot(ea, eb) / denom)


@dataclass(frozen=True)
class DnsmosScores:
    """DNSMOS P.835 (SIG speech, BAK background, OVRL overall) and P.808 MOS, 1-5."""

    ovrl: float
    sig: float
    bak: float
    p808: float


@register(
    "dnsmos",
    "No-reference DNSMOS (OVRL/SIG/BAK, P.808) via speechmos + onnxruntime.",
    optional_dependencies=("speechmos", "onnxruntime"),
    install_hint=_DNSMOS_HINT,
    unit="MOS",
    better="higher",
)
def dnsmos(y: np.ndarray, sr: int) -> DnsmosScores:
    """DNSMOS of one clip with ``speechmos.dnsmos.run(audio_16k, 16000)``.

    The clip is resampled to 16 kHz and, only if its peak exceeds 1, scaled to peak 1
    (speechmos refuses samples outside [-1, 1]). METRICS.md measured speech vs noise: OVRL
    3.01 vs 1.11, SIG 3.29 vs 1.13, P808 3.79 vs 2.13. speechmos's PLCMOS is deliberately not
    used (it rates noise higher and is unseeded).
    """
    require("DNSMOS", ("speechmos", "onnxruntime"), _DNSMOS_HINT)
    from speechmos import dnsmos as _dnsmos

    x = resample(check_signal(y, sr, name="audio"), sr, _DNSMOS_SR).astype(np.float64)
    top = float(np.max(np.abs(x)))
    if top > 1.0:
        x = x / top
    r = _dnsmos.run(x, _DNSMOS_SR)
    return DnsmosScores(
        ovrl=float(r["ovrl_mos"]), sig=float(r["sig_mos"]), bak=float(r["bak_mos"]), p808=float(r["p808_mos"])
    )
