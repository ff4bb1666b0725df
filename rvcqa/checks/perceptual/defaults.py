"""Check ids, thresholds and the likely causes the perceptual checks name.

Each default carries the measurement it comes from; :mod:`rvcqa.profile` merges them into the profile.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rvcqa.context import ModelContext

RESYNTH_IDS: tuple[str, ...] = (
    "perceptual.resynth_flatness",
    "perceptual.resynth_zcr",
    "perceptual.resynth_mel_distance",
    "perceptual.resynth_f0",
    "perceptual.resynth_level",
)


CONVERT_IDS: tuple[str, ...] = (
    "perceptual.convert_flatness",
    "perceptual.convert_zcr",
    "perceptual.convert_f0",
    "perceptual.convert_level",
    "perceptual.convert_duration",
    "perceptual.convert_speaker",
)

DEFAULTS: dict[str, Any] = {
    # Spectral flatness (power spectrum, median over non-silent frames) of speech is ~0.002 and of
    # white noise 0.56 (METRICS.md, measured); the lexi report's noise output read 0.41 and its own
    # "healthy range" is < 0.1 for speech. 0.1 sits 50x above speech and 4x below that noise.
    "perceptual.resynth_flatness.max": 0.1,
    "perceptual.convert_flatness.max": 0.1,
    # ZCR output/reference. The healthy narrow fixture resynthesises at 0.93-0.97x its GT; white
    # noise at 48 kHz reads ~12,000 Hz vs speech ~1,000-2,000 (ratio 6-12, the report's 9.2); an
    # untrained generator's slow drift reads ~0. A factor of 2 each way separates all of these.
    "perceptual.resynth_zcr.ratio_min": 0.5,
    "perceptual.resynth_zcr.ratio_max": 2.0,
    "perceptual.convert_zcr.ratio_min": 0.5,
    "perceptual.convert_zcr.ratio_max": 2.0,
    # Log-mel L1 to the GT with RVC's mel (the same numbers as loss_mel / 45), over the mel bands
    # inside the GT's content band (rvcqa.measure.mel_distances says why). Healthy fine-tuned RVC
    # models log loss_mel 15-25 (0.33-0.56), teacher-forced; resynthesis runs the inference path
    # (prior mean through the flow), which adds the prior/posterior gap. Measured here on LJ Speech
    # (in-band): a 0.7x level alone 0.35, a 10 ms shift 0.46, +100 cents 0.76, white noise added at
    # 20 dB SNR 0.93 and at 10 dB 1.58, white noise alone 2.6, random-init RVC 4.7. HEALTHY_FIXTURE's
    # trained narrow model scores 0.96 full band. 1.5 passes all of those healthy-ish cases and
    # fails an output as noisy as speech at 10 dB SNR; flatness/ZCR/F0 catch buzz and drift.
    "perceptual.resynth_mel_distance.max": 1.5,
    # F0 agreement on frames voiced in both (pYIN on both). 50 cents is a quarter tone, the usual
    # "in tune" bound; the healthy fixture reaches a median of ~10 cents and 84-87 % of frames
    # within 50 cents, a model whose sine source is silent 0 %. Require the median within 50 cents
    # and at least half of the frames within 50 cents.
    "perceptual.resynth_f0.max_cents": 50.0,
    "perceptual.resynth_f0.min_within_50": 0.5,
    "perceptual.convert_f0.max_cents": 50.0,
    "perceptual.convert_f0.min_within_50": 0.5,
    # Voicing decision error (frames voiced in one signal only / all frames). Speech is voiced in
    # ~50-70 % of frames; noise or silence output is unvoiced throughout (error = the input's voiced
    # share), buzz voiced throughout. The healthy fixture over-voices ~9 %. 0.35 fails both extremes.
    "perceptual.convert_f0.max_voicing_error": 0.35,
    # The output must be voiced on at least this share of the reference's voiced frames for the
    # cents figures to mean anything (noise output: pYIN finds almost no voice).
    "perceptual.resynth_f0.min_voiced_overlap": 0.2,
    "perceptual.convert_f0.min_voiced_overlap": 0.2,
    # Output RMS / GT RMS. RVC preprocessing scales every slice to a peak of ~0.9, so a trained
    # model reproduces the GT level closely (healthy fixture 0.7x; the lexi output 1.65x its input).
    # Outside 0.25-4 (+-12 dB) the output is near-silent or blown up.
    "perceptual.resynth_level.ratio_min": 0.25,
    "perceptual.resynth_level.ratio_max": 4.0,
    # Conversion output level in dBFS (RMS over all samples). Training slices peak at ~0.9, which
    # puts speech at about -15 to -30 dBFS; -45 is near-silent, -6 is louder than any speech.
    "perceptual.convert_level.min_rms_dbfs": -45.0,
    "perceptual.convert_level.max_rms_dbfs": -6.0,
    # Share of output samples at full scale or on flat tops (rvcqa.metrics.clipping_fraction).
    # RVC's writer would rescale rather than clip, but an output this hot means a runaway level.
    "perceptual.convert_level.max_clipping": 0.01,
    # |output duration / input duration - 1|. RVC keeps timing; frame rounding loses < 20 ms per
    # chunk. A hop/sample-rate mismatch (RVC_FORMATS 6 row 8) gives 0.83 or 1.2.
    "perceptual.convert_duration.tolerance": 0.05,
    # ... but never less than 50 ms: RVC itself loses 10-20 ms per chunk (HuBERT yields
    # (N - 400) // 320 + 1 frames, two 10 ms frames short of N // 160), which on a 0.3 s clip is 7 %.
    "perceptual.convert_duration.min_seconds": 0.05,
    # Speaker similarity (resemblyzer GE2E cosine; rvcqa.checks.perceptual.speaker says what is
    # compared). Measured with resemblyzer 0.1.4 on CPU, 2 bundled reference clips (VCTK p301 F,
    # CMU ARCTIC aew M) plus LJ001-0023/24, LibriSpeech 4340 F / 6880 M and vocadito 10 (singing):
    # - LJ Speech against the demo model's LJ training voice (centroid of its segments): held-out
    #   LJ clips 0.96, a training segment left out 0.92 (median; shortest 0.69); the other
    #   speakers 0.55-0.65. 0.8 separates "already the training voice" from another speaker.
    "perceptual.convert_speaker.same_voice": 0.8,
    # - The model's voice (centroid of its resynthesised segments, 2 of them as in the catalogue
    #   runs) to its training voice (centroid of 8 GT segments), and minus its cosine to the nearest
    #   other-speaker input (the bundled two): healthy demo 0.667, gap +0.178 (0.708 from 8
    #   segments); the demo model with doubled NSF noise (catalogue pause_noise) 0.613, +0.117; the
    #   same weights in a folder preprocessed again for a singer (other_voice_data) 0.599, +0.067;
    #   decoder collapsed to a buzz (tonal_collapse) 0.423, -0.022; the fixture weights of
    #   tests/test_perceptual_checks.py made to speak the input's male voice 0.595, about -0.4.
    #   Noise lowers the absolute cosine as much as a wrong voice does, but not the gap: 0.09
    #   splits the gaps; 0.5 (below every pair of real speakers measured, 0.55-0.65) fails what is
    #   near no voice at all.
    "perceptual.convert_speaker.min_voice_gap": 0.09,
    "perceptual.convert_speaker.min_voice_similarity": 0.5,
    # - Output to the model's voice minus output to its own input, per clip: healthy demo
    #   0.21-0.35 over the 5 other-speaker clips (0.21 and 0.30 on the bundled two; the LJ clips
    #   0.28), the other_voice_data model 0.27-0.33; an output that is its input (no conversion)
    #   -0.46 to -0.54 (1 minus the inputs' 0.46-0.54 to the model's voice). 0.1 keeps half the
    #   healthy minimum as headroom and fails a conversion that leaves the input voice in place.
    "perceptual.convert_speaker.min_margin": 0.1,
    # Training segments pooled into the "training voice" centroid.
    "perceptual.convert_speaker.target_segments": 8,
}

SPEECH_FLATNESS = "speech < 0.1"

CAUSE_RESYNTH = (
    "the model fails on the very segments it was trained on, so HuBERT and the conversion settings "
    "play no part: the released weights are not a trained generator (an early or wrong checkpoint, "
    "see provenance.*) or training did not converge (see training.*: loss_mel should fall to ~15-25)"
)


CAUSE_RESYNTH_F0 = (
    "the NSF sine source does not reach the output (an undertrained or untrained decoder), or "
    "2a_f0/2b-f0nsf do not belong to these 0_gt_wavs (sliced or extracted separately)"
)


CAUSE_CONVERT = (
    "if resynthesis passes, the model is fine and the conversion inputs differ from training: "
    "content features from another extractor or layer (v1: layer 9 + final_proj, 256-dim; v2: layer "
    "12, 768-dim), F0 from a failing tracker or a wrong transpose, or index/protect settings"
)


CAUSE_SPEAKER_VOICE = (
    "the weights do not belong to this folder's training data: the experiment was reused for a new "
    "dataset (RVC preprocesses into logs/<name> in place) without retraining, or the .pth is another "
    "model's; retrain on this data or point --model-file at the model trained on it"
)


CAUSE_SPEAKER_LEAK = (
    "the content features carry the input speaker's timbre into the output (HuBERT from another layer "
    "or extractor than training used, see embedder.*), or the model learnt too little of its voice to "
    "override them (undertrained, or too little training audio)"
)


def thr(ctx: ModelContext, key: str) -> Any:
    return ctx.threshold(key, DEFAULTS[key])

