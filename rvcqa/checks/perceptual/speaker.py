"""``perceptual.convert_speaker``: does a conversion land on the voice the model was trained on?

Two questions, both with resemblyzer GE2E embeddings (unit vectors, compared by dot product):

1. *Is the model's voice the training voice?* The model's own voice is the centroid of its
   resynthesised training segments (what it makes of inputs it learnt from, so its ceiling);
   the training voice the centroid of ``0_gt_wavs`` segments. The model's voice must be nearer
   the training voice than the nearest other speaker among the reference inputs by a margin
   (artefacts and noise lower every cosine alike; who the voice is shows in the difference), and
   not far from it in absolute terms (a buzz is near nobody). A model whose folder holds another
   voice's data (a reused experiment, a wrong ``.pth``) fails here.
2. *Does the output sound like that voice rather than like the input speaker?* Per converted
   clip, similarity to the model's voice minus similarity to the clip's own input. Inputs that
   already are the training voice (cosine to it at or above ``same_voice``) say nothing about
   conversion and are left out.

Comparing the output with the training voice directly would punish a small model's vocoder: it
lowers every cosine (the demo model's resynthesis reads ~0.7 to its own training audio), so an
output can be less similar to the training voice than a different speaker's input and still be
the best this model can say in that voice.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Sequence

import numpy as np

from rvcqa.checks.perceptual.defaults import CAUSE_CONVERT, CAUSE_RESYNTH, CAUSE_SPEAKER_LEAK, CAUSE_SPEAKER_VOICE, thr
from rvcqa.errors import ModelDirError, RvcqaError
from rvcqa.findings import Finding, failed, passed, skipped
from rvcqa.stats import median_or_none

if TYPE_CHECKING:
    from rvcqa.context import ModelContext

CID = "perceptual.convert_speaker"


@dataclass(frozen=True)
class ClipSpeaker:
    """One converted clip's cosines (output to model voice and to input; input to training voice)."""

    clip: str
    input_to_training: float
    input_to_model: float
    output_to_model: float
    output_to_input: float
    output_to_training: float

    @property
    def margin(self) -> float:
        return self.output_to_model - self.output_to_input


def convert_speaker(ctx: ModelContext, convs: Sequence[Any], common: dict[str, Any]) -> Finding:
    """The finding for ``perceptual.convert_speaker`` on the conversions ``convs``."""
    from rvcqa.metrics import METRICS, speaker_embedding

    reason = METRICS["speaker_similarity"].skip_reason() if "speaker_similarity" in METRICS else "not available"
    if reason:
        return skipped(CID, f"speaker similarity skipped: {reason}", details=dict(common))
    try:
        training = _training_voice(ctx)
    except RvcqaError as error:
        return skipped(CID, f"speaker similarity needs the training voice: {error}", details=dict(common))
    if training is None:
        return skipped(CID, "speaker similarity needs training audio (0_gt_wavs / sliced_audios) for the target voice",
                       details=dict(common))
    try:
        model = _model_voice(ctx)
    except ModelDirError as error:
        return skipped(CID, f"speaker similarity needs the resynthesis of training segments: {error}",
                       details=dict(common))
    except RvcqaError as error:
        return failed(CID, f"the model's own voice cannot be measured: {error}", cause=CAUSE_RESYNTH,
                      details=dict(common, fault="model"))
    if model is None:
        return skipped(CID, "speaker similarity needs the resynthesis of at least one training segment",
                       details=dict(common))
    t_voice, n_train = training
    m_voice, n_model = model
    try:
        rows = [_clip_row(c, t_voice, m_voice, speaker_embedding) for c in convs]
    except RvcqaError as error:
        return failed(CID, f"speaker similarity cannot be measured on the converted output: {error}",
                      cause=CAUSE_CONVERT, details=dict(common))
    return judge(ctx, rows, float(m_voice @ t_voice), n_train, n_model, common)


def judge(ctx: ModelContext, rows: Sequence[ClipSpeaker], model_to_training: float, n_train: int, n_model: int,
          common: dict[str, Any]) -> Finding:
    """Pass when the model's voice is the training voice and the outputs are nearer it than their inputs."""
    voice_min = float(thr(ctx, "perceptual.convert_speaker.min_voice_similarity"))
    gap_min = float(thr(ctx, "perceptual.convert_speaker.min_voice_gap"))
    margin_min = float(thr(ctx, "perceptual.convert_speaker.min_margin"))
    same = float(thr(ctx, "perceptual.convert_speaker.same_voice"))
    judged = [r for r in rows if r.input_to_training < same]
    margin = median_or_none([r.margin for r in judged])
    nearest = max(judged, key=lambda r: r.input_to_model) if judged else None
    gap = model_to_training - nearest.input_to_model if nearest else None
    details = dict(common, model_to_training=model_to_training, voice_gap=gap, training_segments=n_train,
                   resynthesised_segments=n_model, same_voice=same,
                   similarities=[vars(r) | {"margin": r.margin, "judged": r in judged} for r in rows])
    ctx.record("convert_speaker_voice", model_to_training)
    if margin is not None:
        ctx.record("convert_speaker_gain", margin)
    voice = (f"the model's voice (its resynthesis of {n_model} training segment{'s' if n_model != 1 else ''}) "
             f"reads {model_to_training:.3f} to the training voice ({n_train} segments of 0_gt_wavs; need ≥ {voice_min:g})")
    if nearest is not None and gap is not None:
        voice += (f" and {nearest.input_to_model:.3f} to the nearest other speaker, {nearest.clip} "
                  f"({gap:+.3f}; need ≥ {gap_min:g})")
    left_out = [r.clip for r in rows if r not in judged]
    same_note = (f"; {len(left_out)} input{'s are' if len(left_out) != 1 else ' is'} already the training voice "
                 f"(cosine ≥ {same:g}), not judged: {', '.join(left_out)}") if left_out else ""
    if model_to_training < voice_min or (gap is not None and gap < gap_min):
        return failed(CID, f"the model does not speak in its training voice: {voice} (resemblyzer cosines){same_note}",
                      measured=model_to_training if gap is None else gap,
                      expected=f">= {voice_min:g}" if gap is None else f">= {gap_min:g}", cause=CAUSE_SPEAKER_VOICE,
                      details=dict(details, fault="model"))
    if margin is None:
        return passed(CID, f"{voice}; every reference input is the training voice itself, so whether a "
                           f"conversion changes the voice is not judged{same_note}",
                      measured=model_to_training, expected=f">= {voice_min:g}", details=details)
    worst = min(judged, key=lambda r: r.margin)
    text = (f"outputs are {margin:+.3f} nearer the model's voice than their inputs' voices (need > {margin_min:g}; "
            f"median over {len(judged)} clip{'s' if len(judged) != 1 else ''}, worst {worst.clip}: to the model's "
            f"voice {worst.output_to_model:.3f}, to its input {worst.output_to_input:.3f}); {voice}{same_note}")
    if margin > margin_min:
        return passed(CID, f"the conversion lands on the model's voice: {text}", measured=margin,
                      expected=f"> {margin_min:g}", details=details)
    return failed(CID, f"the output keeps the input speaker's voice: {text}", measured=margin,
                  expected=f"> {margin_min:g}", cause=CAUSE_SPEAKER_LEAK, details=details)


def _clip_row(c: Any, t_voice: np.ndarray, m_voice: np.ndarray, embed: Any) -> ClipSpeaker:
    name = c.source.name if c.source else "input"
    e_in = embed(c.input16k, 16000, name=f"{name} (input)")
    e_out = embed(c.output, c.sample_rate, name=f"{name} (output)")
    return ClipSpeaker(clip=name, input_to_training=float(e_in @ t_voice), input_to_model=float(e_in @ m_voice),
                       output_to_model=float(e_out @ m_voice),
                       output_to_input=float(e_out @ e_in), output_to_training=float(e_out @ t_voice))


def centroid(embeddings: Sequence[np.ndarray]) -> np.ndarray:
    """The unit-length mean of unit embeddings (resemblyzer's own way of pooling utterances)."""
    c = np.mean(np.stack(embeddings), axis=0)
    return np.asarray(c / np.linalg.norm(c), dtype=np.float64)


def _training_voice(ctx: ModelContext) -> Optional[tuple[np.ndarray, int]]:
    """Centroid of up to ``target_segments`` GT segments, chosen by the run's seed."""
    from rvcqa.audio import load_audio
    from rvcqa.metrics import speaker_embedding
    from rvcqa.modeldir import stems

    files = [f for _, f in sorted(stems(ctx.md.gt_wavs, ".wav").items())]
    if not files:
        return None
    n = int(thr(ctx, "perceptual.convert_speaker.target_segments"))
    rng = np.random.default_rng(ctx.options.seed)
    chosen = [files[int(i)] for i in sorted(rng.choice(len(files), size=min(n, len(files)), replace=False))]
    embeds = []
    for f in chosen:
        y, sr = load_audio(f)
        embeds.append(speaker_embedding(y, sr, name=f"0_gt_wavs/{f.name}"))
    return centroid(embeds), len(embeds)


def _model_voice(ctx: ModelContext) -> Optional[tuple[np.ndarray, int]]:
    """Centroid of the resynthesised training segments (the resynthesis checks' own run, reused)."""
    from rvcqa.metrics import speaker_embedding

    rs = ctx.resynthesis()
    if not rs.results:
        return None
    embeds = [speaker_embedding(r.output, r.sample_rate, name=f"resynthesis of {r.segment.stem}") for r in rs.results]
    return centroid(embeds), len(embeds)
