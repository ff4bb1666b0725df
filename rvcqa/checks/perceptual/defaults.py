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
    # Speaker similarity gain (resemblyzer cosine to the training voice, output minus input). A
    # conversion should move the voice towards the training speaker: any gain > 0.
    "perceptual.convert_speaker.min_gain": 0.0,
    # Training segments concatenated as the "training voice" for speaker similarity.
    "perceptual.convert_speaker.target_segments": 5,
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


def thr(ctx: ModelContext, key: str) -> Any:
    return ctx.threshold(key, DEFAULTS[key])

