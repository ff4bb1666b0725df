"""The fixed sample every candidate is measured on: training segments, a set-aside slice, windows.

What "held out" means here:

- ``not_in_filelist``: segments present in the data folders but not named in ``filelist.txt`` were
  never trained on: a true held-out slice. The ranking then uses it (a release has to generalise),
  and the training sample shows the fit.
- ``selection_only``: every segment was trained on (all are in ``filelist.txt``, or there is no
  filelist). A deterministic ~20 % of the stems is set aside from the ranking sample. These are NOT
  held out from training, only from selection: they show whether the ranking is an artefact of
  which segments were drawn, and say nothing about generalisation. The ranking uses the training
  sample.
- ``none``: too few segments to set any aside.

Each segment is cut to a window of its loudest stretch and run with ``CONTEXT_FRAMES`` (0.2 s) of
input either side, then trimmed: 0.2 s covers the v2-48k decoder's reach (17 frames) but not all of
the flow's and the attention's, so window edges differ slightly from whole-segment resynthesis,
equally for every candidate.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from rvcqa.dataset import parse_filelist
from rvcqa.errors import AudioError
from rvcqa.modeldir import ModelDir
from rvcqa.resynth import Segment, SegmentInputs, choose_segments, load_segment_inputs
from rvcqa.sweep.model import HeldOut

#: frames (10 ms) of model input kept either side of a window so its edges see their real context
CONTEXT_FRAMES = 20
#: the share of stems set aside in "selection_only" mode
HELDOUT_FRACTION = 0.2


def filelist_stems(path: Optional[Path]) -> Optional[set[str]]:
    """Stems ``filelist.txt`` trains on (its ``mute`` lines left out); None without a readable list."""
    if path is None:
        return None
    try:
        return {e.stem for e in parse_filelist(path) if not e.mute}
    except OSError:
        return None


def _plural(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def split_segments(md: ModelDir, segments: Sequence[Segment], *, n_train: int, n_heldout: int, seed: int,
                   fraction: float = HELDOUT_FRACTION) -> tuple[list[Segment], list[Segment], HeldOut]:
    """(training sample, held-out slice, what held-out means) for this folder (see module doc)."""
    listed = filelist_stems(md.filelist)
    all_stems = [s.stem for s in segments]
    not_in = [s for s in segments if listed is not None and s.stem not in listed]
    if listed is not None and 0 < len(not_in) < len(segments):
        train_pool = [s for s in segments if s.stem in listed]
        held = choose_segments(not_in, n_heldout, seed) if n_heldout > 0 else []
        n = len(not_in)
        desc = (f"{n} segment{_plural(n, '', 's')} in the data folders {_plural(n, 'is', 'are')} not in "
                f"filelist.txt, so training never saw {_plural(n, 'it', 'them')}: a true held-out slice "
                f"({len(held)} used: {', '.join(s.stem for s in held)}); the candidates are ranked on it")
        return choose_segments(train_pool, n_train, seed), held, HeldOut("not_in_filelist", [s.stem for s in held], desc)
    k = int(round(fraction * len(segments)))
    k = min(max(k, 1 if len(segments) >= 2 else 0), len(segments) - 1) if n_heldout > 0 else 0
    if k <= 0:
        return (choose_segments(segments, n_train, seed), [],
                HeldOut("none", [], f"only {len(segments)} usable segment(s): none set aside, so there is no "
                                    "held-out slice"))
    order = np.random.default_rng(seed).permutation(len(all_stems))
    aside = {all_stems[int(i)] for i in order[:k]}
    held = choose_segments([s for s in segments if s.stem in aside], n_heldout, seed)
    train_pool = [s for s in segments if s.stem not in aside]
    why = ("every segment is in filelist.txt" if listed is not None and not not_in else
           "there is no filelist.txt, so every segment is assumed trained on" if listed is None else
           "filelist.txt names none of these segments (from another run?), so it cannot tell")
    desc = (f"{why}; {k} of {len(segments)} stems (a deterministic {fraction:.0%}, seed {seed}) are set aside from "
            f"the ranking sample ({len(held)} used: {', '.join(s.stem for s in held)}). They are NOT held out from "
            "training, only from selection: they show whether the ranking depends on which segments were drawn, "
            "not how the model does on unseen audio")
    return choose_segments(train_pool, n_train, seed), held, HeldOut("selection_only", [s.stem for s in held], desc)


@dataclass
class Prepared:
    """One segment ready to run: model inputs (window plus context) and the GT window."""

    stem: str
    inputs: SegmentInputs
    offset: int  # window start inside ``inputs`` (frames)
    frames: int  # window length (frames)
    target: np.ndarray  # GT window
    source: Path  # the GT file (for messages)


def window(inputs: SegmentInputs, hop: int, frames: Optional[int],
           context: int = CONTEXT_FRAMES) -> tuple[SegmentInputs, int, int]:
    """Cut a segment's inputs to its loudest ``frames`` (GT energy) plus ``context`` frames either side.

    Returns ``(inputs for the model, window start inside them, window length)``; the whole segment when
    it is not longer than ``frames``.
    """
    n = int(inputs.frames)
    if frames is None or n <= frames:
        return inputs, 0, n
    energy = (inputs.target[: n * hop].astype(np.float64).reshape(n, hop) ** 2).sum(axis=1)
    csum = np.concatenate([[0.0], np.cumsum(energy)])
    start = int(np.argmax(csum[frames:] - csum[:-frames]))
    lo, hi = max(0, start - context), min(n, start + frames + context)

    def cut(a: Optional[np.ndarray]) -> Optional[np.ndarray]:
        return None if a is None else np.ascontiguousarray(a[lo:hi])

    sub = SegmentInputs(phone=np.ascontiguousarray(inputs.phone[lo:hi]), pitch=cut(inputs.pitch),
                        pitchf=cut(inputs.pitchf), target=np.ascontiguousarray(inputs.target[lo * hop: hi * hop]),
                        frames=hi - lo, feature_frames=inputs.feature_frames, f0_frames=inputs.f0_frames)
    return sub, start - lo, frames


def prepared(stem: str, inputs: SegmentInputs, hop: int, frames: Optional[int], source: Path) -> Prepared:
    """A segment's inputs windowed (see :func:`window`), with its GT window."""
    sub, off, n = window(inputs, hop, frames)
    target = np.ascontiguousarray(sub.target[off * hop:(off + n) * hop])
    return Prepared(stem, sub, off, n, target, source)


def prepare(segments: Sequence[Segment], *, sr: int, hop: int, dim: int, f0: bool, frames: Optional[int],
            skipped: dict[str, str]) -> list[Prepared]:
    """Load and window each segment once; a segment that cannot be read goes to ``skipped``."""
    out = []
    for seg in segments:
        try:
            inputs = load_segment_inputs(seg, sample_rate=sr, hop=hop, phone_dim=dim, f0=f0)
        except AudioError as exc:
            skipped[seg.stem] = str(exc)
            continue
        out.append(prepared(seg.stem, inputs, hop, frames, seg.gt))
    return out
