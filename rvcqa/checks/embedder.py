"""Does the embedder rvcqa converts with produce the features the model was trained on?

A voice is trained on content features of its own slices (RVC: ``3_feature768`` / ``3_feature256``
from ``1_16k_wavs``; Applio: ``extracted`` from ``sliced_audios_16k``). Converting with another
embedder (contentvec vs a Chinese HuBERT, RVC's layer 12 vs Applio's last hidden state, another
stand-in seed) feeds the synthesizer features from a different space: the output is garbled,
and every conversion check then blames the model. This check re-extracts a few training slices
with the chosen embedder and compares them with the stored files frame by frame.

- ``embedder.fits_training_features``: FAILS when the mean per-frame cosine similarity is below
  ``embedder.min_cosine``, the spread of the values differs by more than
  ``embedder.max_std_ratio``, or the feature widths differ ("model trained with one embedder,
  converting with another"); SKIPPED when there are no slice/feature pairs or no embedder.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from rvcqa.context import ModelContext
from rvcqa.errors import RvcqaError
from rvcqa.findings import Finding, failed, passed, skipped

CHECK_ID = "embedder.fits_training_features"
CHECK_IDS: tuple[str, ...] = (CHECK_ID,)

DEFAULTS: dict[str, Any] = {
    # The same embedder reproduces stored features up to fp16 rounding (cosine > 0.99 per frame;
    # 1.000 on the stand-in and on the small transformers HuBERT of tests/test_embedder_check.py).
    # Unrelated embedders give ~0 (two stand-in seeds: < 0.5). One network read at another layer
    # can stay close in direction (8-dim test model, layer 9 vs last: cosine 0.90) while its scale
    # differs (std ratio 1.9 there), hence the second criterion.
    "embedder.min_cosine": 0.95,
    # Re-extracted / stored standard deviation must lie within [1/x, x].
    "embedder.max_std_ratio": 1.25,
    # Slices re-extracted: a few seconds of audio are enough for a decision this clear-cut.
    "embedder.slices": 4,
}


@dataclass(frozen=True)
class FeatureAgreement:
    """How closely re-extracted features match stored ones, over all compared frames."""

    cosine_mean: float  # mean per-frame cosine similarity
    cosine_min: float
    correlation: float  # Pearson correlation of all values
    mean_stored: float
    mean_extracted: float
    std_stored: float
    std_extracted: float
    frames: int
    frame_mismatch: int  # largest |frames extracted - frames stored| of one slice

    def to_dict(self) -> dict[str, float | int]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def compare_features(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> FeatureAgreement:
    """Compare ``(extracted, stored)`` ``[T, D]`` pairs; each cut to its shorter length.

    Frame counts may differ by one where a tool padded the slice; widths must agree (callers
    check first).
    """
    ext, sto, mismatch = [], [], 0
    for a, b in pairs:
        n = min(len(a), len(b))
        mismatch = max(mismatch, abs(len(a) - len(b)))
        ext.append(np.asarray(a[:n], np.float64))
        sto.append(np.asarray(b[:n], np.float64))
    x, y = np.concatenate(ext), np.concatenate(sto)
    if x.size == 0:
        raise ValueError("no frames to compare")
    norms = np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1)
    cos = np.where(norms > 0, (x * y).sum(axis=1) / np.maximum(norms, 1e-12), 0.0)
    xc, yc = x.ravel() - x.mean(), y.ravel() - y.mean()
    denom = float(np.sqrt((xc ** 2).sum() * (yc ** 2).sum()))
    return FeatureAgreement(
        cosine_mean=float(cos.mean()), cosine_min=float(cos.min()),
        correlation=float((xc * yc).sum() / denom) if denom > 0 else 0.0,
        mean_stored=float(y.mean()), mean_extracted=float(x.mean()),
        std_stored=float(y.std()), std_extracted=float(x.std()),
        frames=int(x.shape[0]), frame_mismatch=int(mismatch),
    )


def training_pairs(wavs16k: Path, features: Path, limit: int) -> list[tuple[str, Path, Path]]:
    """``(stem, wav, npy)`` for slices present in both folders, in stem order, at most ``limit``."""
    from rvcqa.modeldir import stems

    wavs, feats = stems(wavs16k, ".wav"), stems(features, ".npy")
    common = [s for s in wavs if s in feats]
    return [(s, wavs[s], feats[s]) for s in common[: max(1, limit)]]


def content_model(ctx: ModelContext, width: int) -> tuple[Any, str] | None:
    """The embedder conversion uses for this model, ``(model, how it was chosen)``; None when
    none is known (no declaration, no ``--hubert``, no embedder in an Applio root)."""
    from rvcqa.content import read_content_declaration

    declared = read_content_declaration(ctx.md.root)
    if declared is not None:
        version = "v1" if width == 256 else "v2"
        model, how = ctx.content_model(version)
        return (model, how) if model is not None else None
    from rvcqa.features.embedders import EmbedderChoice, embedder_model_of, load_choice, resolve_embedder

    choice = ctx.options.embedder
    if not isinstance(choice, EmbedderChoice):
        try:
            meta = getattr(ctx.inference_model(), "extra", {}) or {}
        except RvcqaError as exc:
            raise _ModelUnreadable(str(exc)) from None
        choice = resolve_embedder(embedder_model=embedder_model_of(meta),
                                  applio_root=ctx.options.applio_root,
                                  rvc_root=ctx.options.rvc_root, hubert=ctx.options.hubert)
    if choice is None:
        return None
    model = load_choice(choice, "v2", device=ctx.options.device)
    version = "v1" if width == model.width("v1") and width != model.width("v2") else "v2"
    model = model.for_version(version)
    return model, f"{model.describe()} ({choice.source})"


class _ModelUnreadable(Exception):
    """The inference file (which names the embedder) does not load; structure checks say why."""


def run(ctx: ModelContext) -> list[Finding]:
    md = ctx.md
    if md.wavs16k is None or md.features is None:
        return [skipped(CHECK_ID, "no 16 kHz slices and content features to compare (1_16k_wavs + 3_feature768, "
                                  "or Applio's sliced_audios_16k + extracted)")]
    limit = int(ctx.threshold("embedder.slices", DEFAULTS["embedder.slices"]))
    pairs = training_pairs(md.wavs16k, md.features, limit)
    if not pairs:
        return [skipped(CHECK_ID, f"no slice in {md.wavs16k.name} has a feature file in {md.features.name}")]
    try:
        stored = [(stem, np.load(npy, allow_pickle=False)) for stem, _w, npy in pairs]
    except (OSError, ValueError) as exc:
        return [skipped(CHECK_ID, f"content features in {md.features} cannot be read ({exc}); see dataset checks")]
    shapes = {a.shape[1] if a.ndim == 2 else -1 for _s, a in stored}
    if len(shapes) != 1 or -1 in shapes:
        return [skipped(CHECK_ID, f"feature files in {md.features} are not all [frames, dim]; see dataset checks")]
    width = shapes.pop()
    try:
        found = content_model(ctx, width)
    except _ModelUnreadable:
        return [skipped(CHECK_ID, "not evaluated: the inference model could not be loaded (see structure.file_format); "
                                  "it names the embedder")]
    except RvcqaError as exc:
        return [failed(CHECK_ID, f"the conversion embedder cannot be loaded: {exc}", subject=str(md.features))]
    if found is None:
        return [skipped(CHECK_ID, "no embedder to compare: pass --hubert PATH (RVC's hubert_base.pt or the "
                                  "Applio embedder folder the model was trained with)")]
    model, how = found
    return [judge(ctx, model, how, pairs, [a for _s, a in stored], width)]


def judge(ctx: ModelContext, model: Any, how: str, pairs: Sequence[tuple[str, Path, Path]],
          stored: Sequence[np.ndarray], width: int) -> Finding:
    """Extract ``pairs``' slices with ``model`` and compare with ``stored``."""
    from rvcqa.audio import load_audio

    folder = pairs[0][2].parent
    if int(model.dim) != width:
        return failed(CHECK_ID, f"model trained with one embedder, converting with another: {folder.name} holds "
                                f"{width}-dim features, the conversion embedder gives {model.dim}-dim ({how})",
                      measured=int(model.dim), expected=width, subject=str(folder),
                      cause="the embedder or the model version (v1 256-dim, v2 768-dim) differs from training")
    extracted = []
    for _stem, wav, _npy in pairs:
        y, _sr = load_audio(wav, sr=16000)
        extracted.append(model.features(y))
    agreement = compare_features(list(zip(extracted, stored)))
    floor = float(ctx.threshold("embedder.min_cosine", DEFAULTS["embedder.min_cosine"]))
    max_ratio = float(ctx.threshold("embedder.max_std_ratio", DEFAULTS["embedder.max_std_ratio"]))
    ctx.record("embedder_feature_cosine", agreement.cosine_mean)
    a = agreement
    ratio = a.std_extracted / a.std_stored if a.std_stored > 0 else float("inf")
    scale_off = not (1 / max_ratio <= ratio <= max_ratio)
    stats = (f"mean per-frame cosine {a.cosine_mean:.3f} (min {a.cosine_min:.3f}), correlation {a.correlation:.3f}, "
             f"mean/std stored {a.mean_stored:.3f}/{a.std_stored:.3f} vs re-extracted "
             f"{a.mean_extracted:.3f}/{a.std_extracted:.3f} (std ratio {ratio:.2f}, allowed {1 / max_ratio:.2f}-"
             f"{max_ratio:.2f}), over {len(pairs)} slices ({a.frames} frames)")
    details = {"embedder": how, **agreement.to_dict()}
    if a.cosine_mean < floor or scale_off:
        return failed(CHECK_ID, f"model trained with one embedder, converting with another: re-extracting "
                                f"{len(pairs)} training slices with {how} does not reproduce {folder.name}: {stats}",
                      measured=round(a.cosine_mean, 4), expected=f">= {floor:g}", subject=str(folder), details=details,
                      cause="conversion uses another content model (or layer) than training did: give the "
                            "embedder the model was trained with (Applio: its embedder_model; RVC: hubert_base.pt)")
    return passed(CHECK_ID, f"the conversion embedder reproduces the training features: {stats}",
                  measured=round(a.cosine_mean, 4), expected=f">= {floor:g}", subject=str(folder), details=details)
