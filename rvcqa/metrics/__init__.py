"""Audio quality metrics for judging RVC conversions.

Every metric states its exact definition (spectrum power, frame size, hop, aggregate, silence
gate) in its docstring, refuses audio it cannot judge with :class:`rvcqa.errors.AudioError`,
and is listed with its needs in :data:`METRICS` so a report can say which ran.

Modules: ``basic`` (flatness, ZCR, level, clipping, content band), ``mel`` (RVC log-mel L1,
MCD), ``pitch`` (F0 tracking and comparison), ``optional`` (speaker similarity, DNSMOS),
``registry`` (metadata).
"""
from __future__ import annotations

from rvcqa.metrics.registry import (
    METRICS,
    MetricInfo,
    OptionalDependencyMissing,
    available_metrics,
)
from rvcqa.metrics.basic import (
    Band,
    SpectralFlatness,
    basic_profile,
    clipping_fraction,
    content_band,
    duration_ratio,
    peak,
    rms,
    spectral_flatness,
    zcr_hz,
)
from rvcqa.metrics.mel import (
    MelCepstralDistortion,
    MelDistance,
    MelSettings,
    log_mel,
    log_mel_l1,
    mel_cepstral_distortion,
    rvc_mel_settings,
)
from rvcqa.metrics.pitch import F0Comparison, F0Track, compare_f0, f0_metrics, f0_metrics_world, track_f0
from rvcqa.metrics.optional import DnsmosScores, dnsmos, speaker_embedding, speaker_similarity

__all__ = [
    "METRICS",
    "Band",
    "DnsmosScores",
    "F0Comparison",
    "F0Track",
    "MelCepstralDistortion",
    "MelDistance",
    "MelSettings",
    "MetricInfo",
    "OptionalDependencyMissing",
    "SpectralFlatness",
    "available_metrics",
    "basic_profile",
    "clipping_fraction",
    "compare_f0",
    "content_band",
    "dnsmos",
    "duration_ratio",
    "f0_metrics",
    "f0_metrics_world",
    "log_mel",
    "log_mel_l1",
    "mel_cepstral_distortion",
    "peak",
    "rms",
    "rvc_mel_settings",
    "spectral_flatness",
    "speaker_embedding",
    "speaker_similarity",
    "track_f0",
    "zcr_hz",
]
