"""Resynthesis: run the model on its own training inputs and compare with its training targets.

A model that cannot reproduce the segments it was trained on is broken whatever the conversion
pipeline does, and this needs no HuBERT: the experiment folder already holds the model's exact
training inputs (RVC_FORMATS 3.1). For each chosen segment ``{i}_{j}``:

- content: ``3_feature768/{i}_{j}.npy`` (or ``3_feature256``; Applio ``extracted``), 50 frames/s,
  repeated x2 to 100 frames/s as RVC's training loader does;
- pitch: ``2a_f0/{i}_{j}.wav.npy`` (coarse 1..255; Applio ``f0``) and ``2b-f0nsf/{i}_{j}.wav.npy``
  (Hz; Applio ``f0_voiced``), f0 models only;
- everything truncated to ``min(2 * T_feat, f0 frames, len(gt) // hop)`` frames (the loader's rule,
  without its 9 s cap: the synthesizer chunks long inputs itself), speaker 0;
- inference deterministic: prior mean (``noise_scale=0``) and no NSF source noise, so the same
  model gives the same audio on every run;
- target: ``0_gt_wavs/{i}_{j}.wav`` (Applio ``sliced_audios``) cut to ``frames * hop`` samples.

Outputs are written as float WAVs under ``<results>/resynthesis/`` (never into the model folder).
:func:`rvcqa.measure.measure_segment` computes the comparison metrics; the perceptual checks judge
them. ``measure_segment``, ``mel_distances``, ``SegmentMetrics``, ``safe_output_dir`` and
``write_wav`` are re-exported here for the sweep, which imports them from this module.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from rvcqa.dataset import natural_key
from rvcqa.errors import AudioError, ModelDirError, RvcqaError
from rvcqa.measure import SegmentMetrics, measure_segment, mel_distances
from rvcqa.modeldir import ModelDir, stems
from rvcqa.outputs import safe_output_dir, write_wav
from rvcqa.progress import Progress, run_each

log = logging.getLogger("rvcqa.resynth")

__all__ = [
    "MIN_SEGMENT_S", "Resynthesis", "Segment", "SegmentInputs", "SegmentMetrics", "SegmentResult", "choose_segments",
    "find_segments", "load_segment_inputs", "measure_segment", "mel_distances", "resynthesize",
    "run_model", "safe_output_dir", "write_wav",
]


#: Segments shorter than this are not worth judging (pYIN and the 48k log-mel need a few frames).
MIN_SEGMENT_S = 0.5


@dataclass(frozen=True)
class Segment:
    """One training item as RVC's filelist pairs it: the same stem in every data folder."""

    stem: str
    gt: Path
    features: Path
    coarse: Optional[Path]
    f0: Optional[Path]
    sample_rate: int
    duration_s: float


@dataclass
class SegmentInputs:
    """The synthesizer's inputs for one segment and the matching target audio."""

    phone: np.ndarray  # [frames, C] float32, 100 frames/s
    pitch: Optional[np.ndarray]  # [frames] int64 coarse 1..255
    pitchf: Optional[np.ndarray]  # [frames] float32 Hz
    target: np.ndarray  # [frames * hop] float32 at the model rate
    frames: int
    feature_frames: int
    f0_frames: Optional[int]


@dataclass
class SegmentResult:
    segment: Segment
    output: np.ndarray
    target: np.ndarray
    sample_rate: int
    frames: int
    output_path: Optional[Path]
    seconds: float


@dataclass
class Resynthesis:
    """All resynthesised segments, plus the segments that could not be used and why."""

    results: list[SegmentResult]
    skipped: dict[str, str] = field(default_factory=dict)  # stem -> reason
    available: int = 0
    out_dir: Optional[Path] = None
    settings: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- discovery


def find_segments(md: ModelDir, *, need_f0: bool = True) -> tuple[list[Segment], dict[str, str]]:
    """Stems present in every folder the model needs (RVC's filelist rule), with their GT length.

    Returns ``(segments, excluded)``; ``excluded`` maps stems whose GT cannot be read to the reason.
    Raises :class:`ModelDirError` naming the missing folders when there is nothing to resynthesise.
    """
    folders = {"gt_wavs": md.gt_wavs, "features": md.features}
    if need_f0:
        folders.update(f0_coarse=md.f0_coarse, f0_hz=md.f0_hz)
    missing = [role for role, path in folders.items() if path is None]
    if missing:
        names = {
            "gt_wavs": "0_gt_wavs (Applio: sliced_audios)",
            "features": "3_feature768 / 3_feature256 (Applio: extracted)",
            "f0_coarse": "2a_f0 (Applio: f0)",
            "f0_hz": "2b-f0nsf (Applio: f0_voiced)",
        }
        raise ModelDirError(
            f"resynthesis needs the training data folders; {md.root} lacks "
            f"{', '.join(names[m] for m in missing)}: pass the experiment folder logs/{md.name}, "
            "not a copy holding only the .pth"
        )
    gt = stems(md.gt_wavs, ".wav")
    feats = stems(md.features, ".npy")
    coarse = stems(md.f0_coarse, ".npy") if need_f0 else {}
    f0 = stems(md.f0_hz, ".npy") if need_f0 else {}
    common = set(gt) & set(feats)
    if need_f0:
        common &= set(coarse) & set(f0)
    import soundfile as sf

    segments: list[Segment] = []
    excluded: dict[str, str] = {}
    for stem in sorted(common, key=natural_key):
        try:
            info = sf.info(str(gt[stem]))
        except Exception as exc:  # soundfile raises several types
            excluded[stem] = f"{gt[stem].name}: unreadable ({exc})"
            continue
        segments.append(
            Segment(
                stem,
                gt[stem],
                feats[stem],
                coarse.get(stem),
                f0.get(stem),
                int(info.samplerate),
                float(info.frames) / float(info.samplerate) if info.samplerate else 0.0,
            )
        )
    if not segments and not excluded:
        raise ModelDirError(
            f"no training segment of {md.root} is present in all of "
            f"{', '.join(p.name for p in folders.values() if p is not None)} (matched by stem as RVC's "
            "filelist does): re-run feature and F0 extraction"
        )
    return segments, excluded


def choose_segments(segments: Sequence[Segment], n: Optional[int], seed: int) -> list[Segment]:
    """``n`` segments (all when ``n`` is None), deterministic for a seed, preferring longer ones.

    Rule: rank by duration (longest first, stem breaks ties), keep the longest ``2n`` as the pool,
    draw ``n`` of them with ``numpy.random.default_rng(seed)``. Longer segments give steadier
    medians; the draw keeps the choice from always being the same few takes of one source file.
    Returned in the folder's natural order.
    """
    usable = [s for s in segments if s.duration_s >= MIN_SEGMENT_S] or list(segments)
    if n is None or n >= len(usable):
        chosen = list(usable)
    else:
        ranked = sorted(usable, key=lambda s: (-s.duration_s, natural_key(s.stem)))
        pool = ranked[: min(len(ranked), 2 * n)]
        rng = np.random.default_rng(seed)
        picks = rng.choice(len(pool), size=n, replace=False)
        chosen = [pool[int(i)] for i in picks]
    return sorted(chosen, key=lambda s: natural_key(s.stem))


# --------------------------------------------------------------------------- inputs


def _load_npy(path: Path, what: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise AudioError(f"{path}: cannot read {what} ({exc})") from None


def load_segment_inputs(seg: Segment, *, sample_rate: int, hop: int, phone_dim: int, f0: bool) -> SegmentInputs:
    """Read and align one segment's inputs as RVC's training loader does (see module doc).

    Raises :class:`AudioError` (segment unusable: NaN features, wrong rate, too short) or
    :class:`RvcqaError` for a mismatch that concerns every segment (feature width).
    """
    import soundfile as sf

    if seg.sample_rate != sample_rate:
        raise AudioError(
            f"{seg.gt.name} is {seg.sample_rate} Hz but the model is {sample_rate} Hz "
            "(RVC's loader refuses it: 'SR doesn't match target SR')"
        )
    feats = _load_npy(seg.features, "content features")
    if feats.ndim != 2:
        raise AudioError(f"{seg.features}: features must be [frames, dim], got shape {feats.shape}")
    if feats.shape[1] != phone_dim:
        raise RvcqaError(
            f"{seg.features.parent.name}/{seg.features.name} holds {feats.shape[1]}-dim features but the "
            f"model takes {phone_dim}-dim ({'v2' if phone_dim == 768 else 'v1'}): the model and the "
            "training data are of different RVC versions"
        )
    if not np.isfinite(feats).all():
        raise AudioError(f"{seg.features.name}: features contain NaN/Inf (RVC would not have saved them)")
    gt, _ = sf.read(str(seg.gt), dtype="float32", always_2d=True)
    gt = gt.mean(axis=1) if gt.shape[1] > 1 else gt[:, 0]
    n = 2 * feats.shape[0]
    pitch = pitchf = None
    f0_frames = None
    if f0:
        assert seg.coarse is not None and seg.f0 is not None
        coarse = _load_npy(seg.coarse, "coarse pitch").reshape(-1)
        hz = _load_npy(seg.f0, "F0").reshape(-1)
        f0_frames = int(min(coarse.size, hz.size))
        if not np.isfinite(hz).all():
            raise AudioError(f"{seg.f0.name}: F0 contains NaN/Inf")
        n = min(n, f0_frames)
        pitch = np.clip(np.rint(coarse[:n]).astype(np.int64), 1, 255)
        pitchf = hz[:n].astype(np.float32)
    n = min(n, gt.size // hop)
    if n * hop < MIN_SEGMENT_S * sample_rate / 2:
        raise AudioError(f"{seg.stem}: only {n} aligned frames ({n / 100:.2f} s): too short to judge")
    phone = np.repeat(feats.astype(np.float32), 2, axis=0)[:n]
    if pitch is not None and pitchf is not None:
        pitch, pitchf = pitch[:n], pitchf[:n]
    return SegmentInputs(
        phone=phone,
        pitch=pitch,
        pitchf=pitchf,
        target=np.ascontiguousarray(gt[: n * hop], dtype=np.float32),
        frames=n,
        feature_frames=int(feats.shape[0]),
        f0_frames=f0_frames,
    )


def run_model(synth: Any, inputs: SegmentInputs, *, sid: int = 0) -> np.ndarray:
    """Deterministic inference on one segment's inputs: float32 audio at the model rate."""
    import torch

    phone = torch.from_numpy(inputs.phone)[None]
    lengths = torch.tensor([inputs.frames], dtype=torch.long)
    pitch = torch.from_numpy(inputs.pitch)[None] if inputs.pitch is not None else None
    pitchf = torch.from_numpy(inputs.pitchf)[None] if inputs.pitchf is not None else None
    audio = synth.infer(
        phone, lengths, pitch, pitchf, torch.tensor([sid], dtype=torch.long), noise_scale=0.0, source_noise=False
    )
    out = audio.detach().float().cpu().numpy().reshape(-1)
    return np.ascontiguousarray(out[: inputs.frames * int(synth.hop)], dtype=np.float32)


def resynthesize(
    synth: Any,
    md: ModelDir,
    *,
    segments: Optional[int] = 8,
    seed: int = 1234,
    out_dir: Optional[Path] = None,
    sid: int = 0,
    progress: Optional[Progress] = None,
) -> Resynthesis:
    """Resynthesise ``segments`` chosen training segments (None = all) with ``synth``.

    ``synth`` is a loaded :class:`rvcqa.synth.Synthesizer` (``ctx.synthesizer()``). Outputs go to
    ``out_dir/{stem}.wav`` when ``out_dir`` is given. ``progress`` receives one line per segment.
    """
    f0 = bool(getattr(synth, "f0", True))
    sr, hop = int(synth.sample_rate), int(synth.hop)
    from rvcqa.synth.synthesizer import phone_dim

    dim = phone_dim(synth.version)
    found, skipped = find_segments(md, need_f0=f0)
    matching = [s for s in found if s.sample_rate == sr]
    for s in found:
        if s.sample_rate != sr:
            skipped[s.stem] = f"{s.gt.name} is {s.sample_rate} Hz, the model {sr} Hz"
    if not matching:
        rates = sorted({s.sample_rate for s in found})
        raise ModelDirError(
            f"no training segment in {md.gt_wavs} is at the model's rate {sr} Hz (found "
            f"{', '.join(map(str, rates)) or 'none readable'}): the data folders belong to another "
            "run or another sample rate"
        )
    chosen = choose_segments(matching, segments, seed)
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)

    def prepare(seg: Segment) -> SegmentInputs:
        return load_segment_inputs(seg, sample_rate=sr, hop=hop, phone_dim=dim, f0=f0)

    def finish(seg: Segment, inputs: SegmentInputs) -> tuple[SegmentResult, str]:
        t0 = time.perf_counter()
        out = run_model(synth, inputs, sid=sid)
        seconds = time.perf_counter() - t0
        path = write_wav(out_dir / f"{seg.stem}.wav", out, sr) if out_dir is not None else None
        line = f"{inputs.frames / 100:.2f} s in {seconds:.2f} s" + (f" -> {path}" if path else "")
        return SegmentResult(seg, out, inputs.target, sr, inputs.frames, path, seconds), line

    results, unusable = run_each(chosen, "resynthesis", key=lambda s: s.stem, name=lambda s: s.stem,
                                 prepare=prepare, finish=finish, log=log, progress=progress)
    skipped.update(unusable)
    return Resynthesis(
        results,
        skipped,
        available=len(matching),
        out_dir=out_dir,
        settings={
            "noise_scale": 0.0,
            "source_noise": False,
            "speaker_id": sid,
            "segments_requested": "all" if segments is None else segments,
            "seed": seed,
            "selection": "longest 2n segments, n drawn with numpy default_rng(seed)",
            "alignment": "min(2*T_feat, f0 frames, len(gt)//hop) frames, features repeated x2",
        },
    )
