"""The sweep itself: build the fixed sample once, then measure every candidate on it, oldest first.

Every candidate in the experiment folder (``G_{step}.pth`` training checkpoints, RVC's per-epoch
``NAME_e{E}_s{S}.pth`` and Applio's ``NAME_{E}e_{S}s.pth`` inference files) is run on the *same*
fixed sample of training segments (resynthesis as :mod:`rvcqa.resynth` does it: the folder's own
features and F0, ``noise_scale=0``, no NSF source noise) and compared with the matching
``0_gt_wavs`` windows (:mod:`rvcqa.sweep.measure`). The GT windows are analysed once per sweep;
the network is built once and the next candidate is read while the current one runs
(:mod:`rvcqa.sweep.loading`); a candidate's windows run on one worker per core that torch leaves
free (:func:`rvcqa.sweep.measure.default_workers`), which changes the time, never the numbers. Windows are written to ``<results>/sweep/<candidate>/`` (GT windows
to ``sweep/gt/``) for listening.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import time
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

import numpy as np

from rvcqa.errors import ModelDirError, RvcqaError
from rvcqa.resynth import find_segments, safe_output_dir, write_wav
from rvcqa.sweep.analysis import analyse
from rvcqa.sweep.candidates import assign_plot_steps, find_candidates, identify_released
from rvcqa.facts import NetworkConfig, network_config
from rvcqa.sweep.loading import Loaded, NetworkCache, prefetched, read_candidate
from rvcqa.sweep.measure import Reference, default_workers, references, score_windows, summarise, window_pool
from rvcqa.sweep.model import HeldOut, SetScores, SweepCandidate, SweepResult, SweepRow
from rvcqa.sweep.render import progress_line
from rvcqa.sweep.segments import CONTEXT_FRAMES, Prepared, prepare, split_segments
from rvcqa.sweep.tolerances import Tolerances

if TYPE_CHECKING:
    from rvcqa.context import ModelContext

Progress = Callable[[str], None]


@dataclass
class Sample:
    """The fixed sample, analysed once: what every candidate is run on and compared with."""

    facts: NetworkConfig
    sr: int
    hop: int
    f0: bool
    dim: int
    heldout: HeldOut
    train: list[Reference]
    held: list[Reference]
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def rank_on(self) -> str:
        return "heldout" if self.heldout.kind == "not_in_filelist" and self.held else "train"

    @property
    def prepared(self) -> list[Prepared]:
        return [r.prepared for r in self.train + self.held]


def _facts(ctx: ModelContext, cands: Sequence[SweepCandidate]) -> NetworkConfig:
    from rvcqa.checkpoint import load_inference_model

    facts = network_config(ctx)
    if facts.config is not None:
        return facts
    others = [c for c in cands if c.kind != "G"]
    if not others:
        raise ModelDirError(f"{ctx.md.root}: no inference model, per-epoch file or config.json to build the network "
                            "for the G_*.pth checkpoints from")
    m = load_inference_model(others[0].path)  # only per-epoch files: the first one's facts (or its error)
    return NetworkConfig(list(m.config), m.version, bool(m.f0), others[0].label)


def build_sample(ctx: ModelContext, cands: Sequence[SweepCandidate], *, segments: int, heldout_segments: int,
                 window_s: Optional[float], seed: int, pool: Optional[Executor] = None) -> Sample:
    """Choose, load, window and analyse the sample (the GT windows on ``pool`` when given);
    :class:`ModelDirError` when there is none."""
    from rvcqa.synth.config import SynthConfig
    from rvcqa.synth.synthesizer import phone_dim

    facts = _facts(ctx, cands)
    assert facts.config is not None
    cfg = SynthConfig.from_list(facts.config)
    sr, hop = int(cfg.sr), int(cfg.hop)
    f0 = True if facts.f0 is None else bool(facts.f0)
    md = ctx.md
    dim = phone_dim(facts.version) if facts.version else (md.feature_dim or 768)
    found, skipped = find_segments(md, need_f0=f0)
    usable = [s for s in found if s.sample_rate == sr]
    if not usable:
        raise ModelDirError(f"no training segment in {md.gt_wavs} is at the model's rate {sr} Hz: the data folders "
                            "belong to another run")
    train_segs, held_segs, heldout = split_segments(md, usable, n_train=segments, n_heldout=heldout_segments,
                                                    seed=seed)
    frames = max(int(round(window_s * 100)), 50) if window_s else None  # None / 0: whole segments
    train_p = prepare(train_segs, sr=sr, hop=hop, dim=dim, f0=f0, frames=frames, skipped=skipped)
    held_p = prepare(held_segs, sr=sr, hop=hop, dim=dim, f0=f0, frames=frames, skipped=skipped)
    if not train_p and not held_p:
        reasons = "; ".join(f"{k}: {v}" for k, v in list(skipped.items())[:3])
        raise ModelDirError(f"no training segment of {md.root} can be resynthesised ({reasons})")
    refs = references([*train_p, *held_p], sr, f0=f0, pool=pool)
    return Sample(facts, sr, hop, f0, dim, heldout, refs[:len(train_p)], refs[len(train_p):], dict(skipped))


def slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(label).stem)


def measure_candidate(sample: Sample, net: NetworkCache, loaded: Loaded, out_dir: Optional[Path],
                      pool: Optional[Executor] = None, extra: Sequence[Reference] = ()) -> tuple[SweepRow, SetScores]:
    """One candidate on the sample (its windows under ``out_dir/<candidate>/``), plus its scores on
    ``extra`` windows (the watch's held-out recordings). All windows go to ``pool`` at once, so
    every worker stays busy until the candidate is done; the network is not touched before then."""
    row = SweepRow(loaded.candidate)
    synth = net.synthesizer(loaded)
    cand_dir = None
    if out_dir is not None:
        cand_dir = out_dir / slug(loaded.candidate.label)
        cand_dir.mkdir(exist_ok=True)
    refs = [*sample.train, *sample.held]
    scored = score_windows(synth, refs, f0=sample.f0, out_dir=cand_dir, pool=pool)
    n = len(sample.train)
    if sample.train:
        row.train = summarise(scored[:n])
    if sample.held:
        row.heldout = summarise(scored[n:])
    more = score_windows(synth, list(extra), f0=sample.f0, out_dir=None, pool=pool) if extra else []
    return row, summarise(more)


def _measured(sample: Sample, net: NetworkCache, cand: SweepCandidate, get: Callable[[], Loaded],
              out_dir: Optional[Path], pool: Optional[Executor]) -> SweepRow:
    """The candidate's row, or a row carrying why it could not be read or run."""
    try:
        return measure_candidate(sample, net, get(), out_dir, pool)[0]
    except RvcqaError as error:
        return SweepRow(cand, error=str(error))


def loss_mel_series(ctx: ModelContext) -> list[tuple[int, float]]:
    """(step, loss_mel) from the training log; Applio prints none (TensorBoard only): empty."""
    try:
        log = ctx.train_log()
    except RvcqaError:
        return []
    if log is None:
        return []
    return sorted((int(e.step), float(e.loss_mel)) for e in log.entries
                  if e.step is not None and e.loss_mel is not None and math.isfinite(e.loss_mel))


def loss_near(series: Sequence[tuple[int, float]], prev: Optional[int], step: Optional[int]) -> Optional[float]:
    """Median loss_mel logged in (previous candidate's step, this step]; else the last one before it."""
    if step is None or not series:
        return None
    lo = prev if prev is not None else -1
    inside = [v for s, v in series if lo < s <= step]
    if inside:
        return float(np.median(inside))
    before = [v for s, v in series if s <= step]
    return before[-1] if before else None


def write_json(path: Path, data: Any) -> Path:
    """JSON with non-finite floats as strings ("inf") and numpy scalars as numbers."""
    from rvcqa.findings import jsonable

    path.write_text(json.dumps(jsonable(data), indent=2), encoding="utf-8")
    return path


def say(progress: Optional[Progress], line: str) -> None:
    logging.getLogger("rvcqa.sweep").info(line)
    if progress is not None:
        progress(line)


def run_sweep(
    ctx: ModelContext,
    *,
    segments: int = 4,
    heldout_segments: int = 2,
    window_s: Optional[float] = 1.0,
    seed: Optional[int] = None,
    out_dir: Optional[Path] = None,
    progress: Optional[Progress] = None,
    tolerances: Optional[Tolerances] = None,
    plot: bool = True,
    device: Optional[str] = None,
    workers: Optional[int] = None,
) -> SweepResult:
    """Measure every candidate of ``ctx.md``; see the module doc.

    ``segments``/``heldout_segments``: training sample and held-out slice sizes; ``window_s``: seconds
    kept per segment (None: whole segments); ``out_dir``: where windows, ``sweep.json`` and
    ``sweep.png`` go (default ``<results>/sweep``); ``progress`` gets one line per candidate;
    ``workers``: windows run at once (default :func:`rvcqa.sweep.measure.default_workers`).
    Raises :class:`ModelDirError` when there is nothing to sweep (no candidates, no data folders).
    """
    from rvcqa.sweep.plot import plot_sweep

    t_start = time.perf_counter()
    tol = tolerances or Tolerances()
    seed = ctx.options.seed if seed is None else seed
    device = device or ctx.options.device
    workers = max(1, workers if workers is not None else (default_workers() if device == "cpu" else 1))
    md = ctx.md
    cands = find_candidates(ctx)
    if not cands and md.inference_file is None:
        raise ModelDirError(f"nothing to sweep in {md.root}: no G_*.pth, per-epoch model or inference model")
    released_index, released_how, warnings = identify_released(ctx, cands)
    assign_plot_steps(ctx, cands)
    with window_pool(workers) or contextlib.nullcontext() as pool:
        sample = build_sample(ctx, cands, segments=segments, heldout_segments=heldout_segments, window_s=window_s,
                              seed=seed, pool=pool)
        if out_dir is None:
            out_dir = safe_output_dir(ctx.options.results_dir, md, ctx.name, "sweep")
        else:
            out_dir = Path(out_dir)
            out_dir.mkdir(parents=True, exist_ok=True)
        gt_dir = out_dir / "gt"
        gt_dir.mkdir(exist_ok=True)
        for p in sample.prepared:
            write_wav(gt_dir / f"{p.stem}.wav", p.target, sample.sr)

        series = loss_mel_series(ctx)
        rows: list[SweepRow] = []
        net = NetworkCache(device)
        prev_step: Optional[int] = None
        t0 = time.perf_counter()
        for k, (cand, get) in enumerate(prefetched(lambda c: read_candidate(ctx, c, sample.facts), cands), 1):
            row = _measured(sample, net, cand, get, out_dir, pool)
            row.released = k - 1 == released_index
            if cand.kind != "released":
                row.loss_mel = loss_near(series, prev_step, cand.plot_step)
                prev_step = cand.plot_step if cand.plot_step is not None else prev_step
            now = time.perf_counter()
            row.seconds, t0 = now - t0, now
            rows.append(row)
            say(progress, progress_line(k, len(cands), row))

    result = SweepResult(
        name=ctx.name, rows=rows, rank_on=sample.rank_on, heldout=sample.heldout,
        train_stems=[r.prepared.stem for r in sample.train], released_index=released_index,
        released_how=released_how, released_file=md.inference_file, out_dir=out_dir, loss_mel=series,
        warnings=warnings, settings=settings(sample, tol, seed=seed, segments=segments,
                                             heldout_segments=heldout_segments, window_s=window_s, device=device),
    )
    result.settings["workers"] = workers
    result.settings["network_reused"] = net.reused
    analyse(result, tol)
    if plot:
        try:
            result.plot_path = plot_sweep(result, out_dir / "sweep.png")
        except ImportError as exc:
            result.plot_note = f"no plot: matplotlib is not installed ({exc.name or exc})"
        except Exception as exc:  # noqa: BLE001 - a picture must never sink the sweep
            result.plot_note = f"no plot: {type(exc).__name__}: {exc}"
    result.seconds = time.perf_counter() - t_start
    write_json(out_dir / "sweep.json", result.to_dict())
    return result


def settings(sample: Sample, tol: Tolerances, *, seed: int, segments: int, heldout_segments: int,
             window_s: Optional[float], device: str) -> dict[str, Any]:
    """What the measurement and the verdicts were based on (printed, and kept in sweep.json)."""
    return {
        "noise_scale": 0.0, "source_noise": False, "speaker_id": 0, "seed": seed,
        "segments": segments, "heldout_segments": heldout_segments, "window_s": window_s,
        "context_frames": CONTEXT_FRAMES, "skipped_segments": dict(sample.skipped), "device": device,
        "ranking_metric": "median in-band log-mel L1 distance to 0_gt_wavs (rvcqa.resynth.mel_distances) on the "
                          + ("held-out slice" if sample.rank_on == "heldout" else "training sample"),
        "network_config_from": sample.facts.source,
        "tolerances": asdict(tol),
    }
