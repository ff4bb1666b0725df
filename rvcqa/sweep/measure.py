"""Scoring one candidate's output on the fixed sample against its GT windows.

Everything about a GT window (content band, flatness, ZCR, RMS, log-mel, F0 track) depends on the
sample only, so :class:`Reference` analyses it once per sweep (or watch) and every candidate is
compared with that: per candidate only its own output is analysed. The numbers are those of
:func:`rvcqa.resynth.measure_segment` on the same pair: log-mel L1 in the GT's content band (and
over all bands: RVC's ``loss_mel`` / 45), spectral flatness, ZCR ratio, RMS ratio, F0 error and
voicing decision error (pYIN on both).
"""
from __future__ import annotations

import math
import time
from concurrent.futures import Executor, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from rvcqa.errors import AudioError
from rvcqa.resynth import run_model, write_wav
from rvcqa.sweep.model import SetScores
from rvcqa.sweep.segments import Prepared


def median(values: Sequence[Optional[float]]) -> Optional[float]:
    """Median of the finite values; None when there are none."""
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return float(np.median(vals)) if vals else None


@dataclass
class Reference:
    """One GT window analysed once. ``*_error`` fields hold why a part could not be computed."""

    prepared: Prepared
    sr: int
    band: Any = None  # rvcqa.metrics.Band
    flatness: Optional[float] = None
    zcr_hz: Optional[float] = None
    rms: Optional[float] = None
    gt_error: Optional[str] = None  # the GT window cannot be measured at all
    log_mel: Optional[np.ndarray] = None
    in_band: Optional[np.ndarray] = None  # mel bands inside the content band
    mel_error: Optional[AudioError] = None
    f0_check_error: Optional[AudioError] = None  # the GT fails the signal check
    f0_track: Any = None  # rvcqa.metrics.F0Track
    f0_track_error: Optional[AudioError] = None

    @classmethod
    def analyse(cls, p: Prepared, sr: int, *, f0: bool) -> "Reference":
        import librosa

        from rvcqa import metrics as M
        from rvcqa.audio import check_signal

        ref = cls(p, sr)
        gt = p.target
        try:
            ref.band = M.content_band(gt, sr, name=f"GT {p.source.name}")
            ref.flatness = float(M.spectral_flatness(gt, sr, ref.band, name="GT"))
            ref.zcr_hz = M.zcr_hz(gt, sr, name="GT")
            ref.rms = M.rms(gt)
        except AudioError as exc:
            ref.gt_error = str(exc)
            return ref
        s = M.rvc_mel_settings(sr)
        try:
            ref.log_mel = M.log_mel(gt, sr, s, name="GT")
        except AudioError as exc:
            ref.mel_error = exc
        centres = librosa.mel_frequencies(n_mels=s.n_mels + 2, fmin=s.fmin, fmax=s.fmax)[1:-1]
        lo, hi = ref.band.as_tuple()
        inside = (centres >= lo) & (centres <= hi)
        if not inside.any():
            inside[:] = True
        ref.in_band = inside
        if f0:
            try:
                check_signal(gt, sr, name="reference")
            except AudioError as exc:
                ref.f0_check_error = exc
            else:
                try:
                    ref.f0_track = M.track_f0(gt, sr, name="reference")
                except AudioError as exc:
                    ref.f0_track_error = exc
        return ref

    def compare(self, out: np.ndarray, *, f0: bool) -> dict[str, Any]:
        """This window's metrics for one output: the fields of a sweep's per-segment entry."""
        from rvcqa import metrics as M
        from rvcqa.audio import check_signal

        m: dict[str, Any] = {"mel_distance": None, "mel_distance_full_band": None, "flatness": None,
                             "zcr_ratio": None, "rms_ratio": None, "f0": None}
        errors: dict[str, str] = {}
        m["errors"] = errors
        sr = self.sr
        if self.gt_error is not None:
            errors["gt"] = self.gt_error
            return m
        try:
            rms = M.rms(out)
            m["rms_ratio"] = rms / self.rms if self.rms else None
            m["flatness"] = float(M.spectral_flatness(out, sr, self.band, name="output"))
            zcr = M.zcr_hz(out, sr, name="output")
            m["zcr_ratio"] = zcr / self.zcr_hz if self.zcr_hz else None
        except AudioError as exc:
            errors["output"] = str(exc)
            return m
        try:
            a = M.log_mel(out, sr, M.rvc_mel_settings(sr), name="output")
            if self.mel_error is not None:
                raise self.mel_error
            assert self.log_mel is not None and self.in_band is not None
            n = min(a.shape[1], self.log_mel.shape[1])
            diff = np.abs(a[:, :n] - self.log_mel[:, :n])
            m["mel_distance"] = float(diff[self.in_band].mean(dtype=np.float64))
            m["mel_distance_full_band"] = float(diff.mean(dtype=np.float64))
        except AudioError as exc:
            errors["mel"] = str(exc)
        if f0:
            try:
                if self.f0_check_error is not None:
                    raise self.f0_check_error
                check_signal(out, sr, name="output")
                if self.f0_track_error is not None:
                    raise self.f0_track_error
                m["f0"] = M.compare_f0(self.f0_track, M.track_f0(out, sr, name="output"))
            except AudioError as exc:
                errors["f0"] = str(exc)
        return m


def references(prepared: Sequence[Prepared], sr: int, *, f0: bool,
               pool: Optional[Executor] = None) -> list[Reference]:
    """Every GT window analysed (on ``pool``'s workers when given), in order."""
    if pool is None:
        return [Reference.analyse(p, sr, f0=f0) for p in prepared]
    return list(pool.map(lambda p: Reference.analyse(p, sr, f0=f0), prepared))


def default_workers() -> int:
    """Window workers that fill the cores torch leaves idle: cores // torch threads (1 to 4).

    With torch on one thread per call (the benchmark, ``rvcqa watch``), that is one worker per
    core; with torch already on every core, one.
    """
    import os

    import torch

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores // max(1, torch.get_num_threads())))


def window_pool(workers: int) -> Optional[ThreadPoolExecutor]:
    """A pool of ``workers`` threads for :func:`score_windows`; None for one (run inline)."""
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rvcqa-window") if workers > 1 else None


def score_window(synth: Any, ref: Reference, *, f0: bool, out_dir: Optional[Path]) -> tuple[dict[str, Any], Any]:
    """Run ``synth`` on one window and score it: (per-segment entry, its F0 comparison or None)."""
    p = ref.prepared
    hop = int(synth.hop)
    t0 = time.perf_counter()
    out = run_model(synth, p.inputs)[p.offset * hop:(p.offset + p.frames) * hop]
    seconds = time.perf_counter() - t0
    path = write_wav(out_dir / f"{p.stem}.wav", out, int(synth.sample_rate)) if out_dir is not None else None
    m = ref.compare(out, f0=f0)
    f0c = m.pop("f0")
    entry = {
        "stem": p.stem, "seconds_audio": p.frames / 100.0, "seconds_model": round(seconds, 3),
        "seconds_model_input": p.inputs.frames / 100.0, "mel_distance": m["mel_distance"],
        "mel_distance_full_band": m["mel_distance_full_band"], "flatness": m["flatness"],
        "zcr_ratio": m["zcr_ratio"], "f0_median_abs_cents": getattr(f0c, "median_abs_cents_error", None),
        "voicing_error": getattr(f0c, "voicing_decision_error_rate", None), "rms_ratio": m["rms_ratio"],
        "errors": dict(m["errors"]), "output": str(path) if path else None,
    }
    return entry, f0c


def score_windows(synth: Any, refs: Sequence[Reference], *, f0: bool, out_dir: Optional[Path],
                  pool: Optional[Executor] = None) -> list[tuple[dict[str, Any], Any]]:
    """:func:`score_window` on every window, in order; on ``pool``'s workers when given.

    The windows are independent and torch releases the GIL while it computes, so workers with one
    torch thread each use as many cores. ``synth`` is only read, never changed, while they run.
    """
    if pool is None:
        return [score_window(synth, ref, f0=f0, out_dir=out_dir) for ref in refs]
    # longest first, so the last window to finish is a short one
    order = sorted(range(len(refs)), key=lambda i: -refs[i].prepared.inputs.frames)
    futures = {i: pool.submit(score_window, synth, refs[i], f0=f0, out_dir=out_dir) for i in order}
    wait(futures.values())  # all done before anything is raised: the caller may change the network next
    return [futures[i].result() for i in range(len(refs))]


def summarise(scored: Sequence[tuple[dict[str, Any], Any]]) -> SetScores:
    """Medians over the windows of one set (see :class:`SetScores`)."""
    scores = SetScores()
    rows = [entry for entry, _ in scored]
    comps = [f0c for _, f0c in scored if f0c is not None]
    for entry in rows:
        for key, why in entry["errors"].items():
            if key != "f0":  # "no voiced frames in the GT" is not the candidate's fault
                scores.errors[entry["stem"]] = f"{key}: {why}"
    scores.per_segment = rows
    ok = [r for r in rows if r["mel_distance"] is not None]
    scores.n = len(ok)
    scores.mel = median([r["mel_distance"] for r in ok])
    if scores.mel is None and any("output" in r["errors"] or "mel" in r["errors"] for r in rows):
        scores.mel = math.inf  # silent / NaN output on every segment: ranks last, never disappears
    scores.mel_full = median([r["mel_distance_full_band"] for r in ok])
    scores.flatness = median([r["flatness"] for r in rows])
    scores.zcr_ratio = median([r["zcr_ratio"] for r in rows])
    scores.rms_ratio = median([r["rms_ratio"] for r in rows])
    scores.f0_cents = median([c.median_abs_cents_error for c in comps])
    scores.vde = median([c.voicing_decision_error_rate for c in comps])
    return scores


def measure_set(synth: Any, refs: Sequence[Reference], *, f0: bool, out_dir: Optional[Path],
                pool: Optional[Executor] = None) -> SetScores:
    """Run ``synth`` on every window of a set and score it (medians over the windows)."""
    return summarise(score_windows(synth, refs, f0=f0, out_dir=out_dir, pool=pool))
