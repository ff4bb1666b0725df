"""Epoch sweep: rank every saved checkpoint by measured quality ("which epoch is best?").

Every candidate in the experiment folder (``G_{step}.pth`` training checkpoints, RVC's per-epoch
``NAME_e{E}_s{S}.pth`` and Applio's ``NAME_{E}e_{S}s.pth`` inference files; RVC_FORMATS 2 and 3) is
run, oldest first, on the *same* fixed sample of training segments (resynthesis, as
:mod:`rvcqa.resynth` does it: the folder's own features and F0, deterministic inference with
``noise_scale=0`` and no NSF source noise) and compared with the matching ``0_gt_wavs`` by the
metrics :func:`rvcqa.resynth.measure_segment` computes: log-mel L1 distance (in the GT's content
band; the all-band value is RVC's ``loss_mel`` / 45), spectral flatness, ZCR ratio, F0 error and
voicing decision error.

Held-out slice, and what "held out" means here:

- ``not_in_filelist``: segments present in the data folders but not named in ``filelist.txt`` were
  never trained on: a true held-out slice. The ranking then uses it (a release has to generalise),
  and the training sample shows the fit.
- ``selection_only``: every segment was trained on (all are in ``filelist.txt``, or there is no
  filelist). A deterministic ~20 % of the stems is set aside from the ranking sample. These are NOT
  held out from training, only from selection: they show whether the ranking is an artefact of
  which segments were drawn, and say nothing about generalisation. The ranking uses the training
  sample.
- ``none``: too few segments to set any aside.

Cost: loading stays memory-mapped (a 450 MB ``G_*.pth`` is mapped, only the generator's tensors
are touched, never the optimizer state), and each segment is cut to a window of ``window_s``
seconds (its loudest stretch), run with ``CONTEXT_FRAMES`` (0.2 s) of input either side and trimmed.
0.2 s covers the v2-48k decoder's reach (17 frames) but not all of the flow's and the attention's,
so window edges differ slightly from whole-segment resynthesis, equally for every candidate. Ten
real-size candidates took 332 s (one torch thread on a shared 2-core machine under load; ~25 s
model, ~6 s metrics, ~1-2 s loading each; ``benchmarks/test_sweep_speed.py``). Windows are
written to ``<results>/sweep/<candidate>/`` (and the GT windows to ``sweep/gt/``) for listening.

The result (:class:`SweepResult`) holds one row per candidate, the recommendation with its reason,
warnings (quality stopped improving long before the last checkpoint; got worse at the end; the
released model is not the best-measured one), and a plot of the metrics against the step with the
training log's ``loss_mel`` on the same axis. :mod:`rvcqa.checks.sweep` turns it into findings.
"""
from __future__ import annotations

import argparse
import math
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from rvcqa.errors import ModelDirError, RvcqaError
from rvcqa.facts import network_config

Progress = Callable[[str], None]

#: frames (10 ms) of model input kept either side of a window so its edges see their real context
CONTEXT_FRAMES = 20
#: the share of stems set aside in "selection_only" mode
HELDOUT_FRACTION = 0.2
#: RVC's loss weight on the mel L1 (loss_mel = 45 x mean |log-mel difference|)
C_MEL = 45.0


# --------------------------------------------------------------------------- data


@dataclass
class SweepCandidate:
    """One set of weights to measure. ``also`` lists other files holding the same weights (RVC
    writes ``G_{S}.pth`` and ``NAME_e{E}_s{S}.pth`` from one state)."""

    path: Path
    kind: str  # "G", "epoch" or "released" (the released file, not among the checkpoints)
    step: Optional[int]
    epoch: Optional[int]
    also: list[Path] = field(default_factory=list)
    plot_step: Optional[int] = None  # step on the plot's axis (G_2333333 -> estimated)

    @property
    def label(self) -> str:
        return self.path.name

    @property
    def short(self) -> str:
        """``e132 s2376`` (what the table's first columns say)."""
        parts = []
        if self.epoch is not None:
            parts.append(f"epoch {self.epoch}")
        if self.step is not None and self.step != _latest_only():
            parts.append(f"step {self.step}")
        elif self.step == _latest_only():
            parts.append("'save only latest'")
        return f"{self.label} ({', '.join(parts)})" if parts else self.label

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "kind": self.kind, "step": self.step, "epoch": self.epoch,
                "also": [str(p) for p in self.also], "plot_step": self.plot_step}


def _latest_only() -> int:
    from rvcqa.checkpoint import LATEST_ONLY_STEP

    return LATEST_ONLY_STEP


@dataclass
class SetScores:
    """One candidate on one set of segments: medians over the segments that could be measured."""

    n: int = 0
    mel: Optional[float] = None  # in-band log-mel L1 (ranking metric)
    mel_full: Optional[float] = None  # all bands: RVC's loss_mel / 45
    flatness: Optional[float] = None
    zcr_ratio: Optional[float] = None
    f0_cents: Optional[float] = None  # median over segments of the median |cents| error
    vde: Optional[float] = None  # voicing decision error (share of frames)
    rms_ratio: Optional[float] = None
    per_segment: list[dict[str, Any]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # stem -> why a segment has no score

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "mel_distance": self.mel, "mel_distance_full_band": self.mel_full,
                "loss_mel_equivalent": None if self.mel_full is None else self.mel_full * C_MEL,
                "flatness": self.flatness, "zcr_ratio": self.zcr_ratio, "f0_median_abs_cents": self.f0_cents,
                "voicing_error": self.vde, "rms_ratio": self.rms_ratio, "per_segment": self.per_segment,
                "errors": dict(self.errors)}


@dataclass
class SweepRow:
    candidate: SweepCandidate
    train: Optional[SetScores] = None
    heldout: Optional[SetScores] = None
    seconds: float = 0.0
    error: Optional[str] = None
    released: bool = False
    loss_mel: Optional[float] = None  # the training log's loss_mel near this step

    def score(self, rank_on: str) -> Optional[float]:
        s = self.heldout if rank_on == "heldout" else self.train
        return s.mel if s is not None else None

    def to_dict(self, rank_on: str = "train") -> dict[str, Any]:
        return {"candidate": self.candidate.to_dict(), "label": self.candidate.label, "step": self.candidate.step,
                "epoch": self.candidate.epoch, "score": self.score(rank_on), "released": self.released,
                "train": self.train.to_dict() if self.train else None,
                "heldout": self.heldout.to_dict() if self.heldout else None,
                "seconds": round(self.seconds, 2), "error": self.error, "log_loss_mel": self.loss_mel}


@dataclass
class HeldOut:
    kind: str  # "not_in_filelist", "selection_only" or "none"
    stems: list[str]
    description: str


@dataclass
class Recommendation:
    index: int  # into SweepResult.rows
    label: str
    score: float
    reason: str


@dataclass
class SweepWarning:
    kind: str  # plateau, overtraining, overfitting, released_not_best, candidate_error, released_unknown,
    # no_usable_output
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass
class Tolerances:
    """How the trend is judged (defaults: ``rvcqa.checks.sweep.DEFAULTS``)."""

    released_vs_best: float = 0.05  # relative
    min_difference: float = 0.01  # differences of in-band log-mel L1 below this never count
    plateau: float = 0.03  # "no better than the best within 3 %"
    plateau_fraction: float = 0.5  # "long before": at or before half of the run's steps
    overtraining: float = 0.05  # last checkpoint worse than the best by more than 5 %


@dataclass
class SweepResult:
    name: str
    rows: list[SweepRow]
    rank_on: str  # "train" or "heldout": which set's mel distance ranks the candidates
    heldout: HeldOut
    train_stems: list[str]
    recommendation: Optional[Recommendation] = None
    warnings: list[SweepWarning] = field(default_factory=list)
    released_index: Optional[int] = None
    released_how: str = ""
    released_file: Optional[Path] = None
    plot_path: Optional[Path] = None
    plot_note: str = ""
    out_dir: Optional[Path] = None
    loss_mel: list[tuple[int, float]] = field(default_factory=list)  # (step, loss_mel) from the log
    settings: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def measured(self) -> list[SweepRow]:
        return [r for r in self.rows if r.score(self.rank_on) is not None]

    @property
    def released_row(self) -> Optional[SweepRow]:
        return self.rows[self.released_index] if self.released_index is not None else None

    @property
    def best_row(self) -> Optional[SweepRow]:
        return self.rows[self.recommendation.index] if self.recommendation else None

    def warnings_of(self, *kinds: str) -> list[SweepWarning]:
        return [w for w in self.warnings if w.kind in kinds]

    def table(self) -> str:
        return format_table(self)

    def to_dict(self) -> dict[str, Any]:
        rec = self.recommendation
        return {
            "name": self.name, "rank_on": self.rank_on,
            "rows": [r.to_dict(self.rank_on) for r in self.rows],
            "heldout": {"kind": self.heldout.kind, "stems": self.heldout.stems,
                        "description": self.heldout.description},
            "train_stems": self.train_stems,
            "recommendation": None if rec is None else {"index": rec.index, "label": rec.label, "score": rec.score,
                                                        "reason": rec.reason},
            "warnings": [{"kind": w.kind, "message": w.message} for w in self.warnings],
            "released_index": self.released_index, "released_how": self.released_how,
            "released_file": str(self.released_file) if self.released_file else None,
            "plot_path": str(self.plot_path) if self.plot_path else None, "plot_note": self.plot_note,
            "out_dir": str(self.out_dir) if self.out_dir else None, "settings": self.settings,
            "seconds": round(self.seconds, 1),
        }


# --------------------------------------------------------------------------- candidates


def _lazy_epoch(ctx: Any, path: Path) -> Optional[int]:
    """A G file's epoch (``iteration``) from its pickle only (milliseconds, no tensor read)."""
    try:
        from rvcqa.checks.provenance import lazy_facts

        return lazy_facts(ctx, path, "model").iteration
    except Exception:  # noqa: BLE001 - unusual file: the epoch is filled in when it is loaded
        return None


def _same_weights(ctx: Any, a: Path, a_entry: str, b: Path, b_entry: str) -> bool:
    """Cheap check that two files hold the same weights (fingerprint of a few small tensors, fp16)."""
    try:
        from rvcqa.checks.provenance import lazy_facts
        from rvcqa.weights import fingerprint_match

        return fingerprint_match(lazy_facts(ctx, a, a_entry).fingerprint, lazy_facts(ctx, b, b_entry).fingerprint)
    except Exception:  # noqa: BLE001 - cannot tell cheaply: keep both
        return False


def find_candidates(ctx: Any) -> list[SweepCandidate]:
    """Every G_*.pth and per-epoch inference file, ordered by step (G_2333333 last).

    A per-epoch file and a ``G_`` file at the same step holding the same weights (fingerprint) are
    one candidate, run from the per-epoch file (fp16, what would be released, a fraction of the
    size); the G file is listed in ``also``.
    """
    md = ctx.md
    by_step: dict[int, SweepCandidate] = {}
    out: list[SweepCandidate] = []
    for em in md.epoch_models:
        c = SweepCandidate(em.path, "epoch", em.step, em.epoch)
        out.append(c)
        by_step.setdefault(em.step, c)
    for cf in md.g_checkpoints:
        twin = by_step.get(cf.step)
        if twin is not None and not twin.also and _same_weights(ctx, twin.path, "weight", cf.path, "model"):
            twin.also.append(cf.path)
            continue
        out.append(SweepCandidate(cf.path, "G", cf.step, _lazy_epoch(ctx, cf.path)))
    out.sort(key=lambda c: (c.step if c.step is not None else -1, c.epoch if c.epoch is not None else -1,
                            c.kind != "epoch"))
    return out


def _steps_per_epoch(ctx: Any) -> Optional[int]:
    try:
        log = ctx.train_log()
    except RvcqaError:
        return None
    if log is None:
        return None
    from rvcqa.trainlog import steps_per_epoch_from_log

    try:
        return steps_per_epoch_from_log(log)
    except Exception:  # noqa: BLE001 - an odd log just means no estimate
        return None


def _assign_plot_steps(ctx: Any, cands: Sequence[SweepCandidate]) -> None:
    spe = None
    for c in cands:
        if c.step is not None and c.step != _latest_only():
            c.plot_step = c.step
            continue
        if spe is None:
            spe = _steps_per_epoch(ctx) or 0
        if c.epoch is not None and spe:
            c.plot_step = c.epoch * spe


# --------------------------------------------------------------------------- loading


def config_from_config_json(cfg: dict[str, Any]) -> list[Any]:
    """RVC's 18-element synthesizer list from ``logs/NAME/config.json`` (RVC_FORMATS 1.4, 2.1)."""
    d, m, t = cfg["data"], cfg["model"], cfg.get("train", {})
    hop = int(d["hop_length"])
    sr = d.get("sampling_rate", d.get("sample_rate"))
    return [int(d["filter_length"]) // 2 + 1, int(t.get("segment_size", 36 * hop)) // hop, m["inter_channels"],
            m["hidden_channels"], m["filter_channels"], m["n_heads"], m["n_layers"], m["kernel_size"],
            m["p_dropout"], str(m["resblock"]), m["resblock_kernel_sizes"], m["resblock_dilation_sizes"],
            m["upsample_rates"], m["upsample_initial_channel"], m["upsample_kernel_sizes"], m["spk_embed_dim"],
            m["gin_channels"], int(sr)]


def _model_facts(ctx: Any) -> tuple[Optional[list[Any]], Optional[str], Optional[bool], str]:
    """(config list, version, f0, where from) for turning G checkpoints into loadable records."""
    try:
        inf = ctx.inference_model()
        return list(inf.config), inf.version, bool(inf.f0), f"the inference model {inf.path.name if inf.path else ''}"
    except RvcqaError:
        pass
    for em in ctx.md.epoch_models:
        try:
            from rvcqa.checkpoint import load_inference_model

            m = load_inference_model(em.path)
            return list(m.config), m.version, bool(m.f0), em.path.name
        except RvcqaError:
            continue
    try:
        cj = ctx.config_json()
    except RvcqaError:
        cj = None
    if cj:
        try:
            return config_from_config_json(cj), None, None, "config.json"
        except (KeyError, TypeError, ValueError):
            pass
    return None, None, None, ""


def load_candidate(ctx: Any, cand: SweepCandidate, facts: tuple, device: str = "cpu") -> Any:
    """A strictly loaded, deterministic-ready synthesizer for one candidate (memory-mapped read)."""
    from rvcqa.synth import load_synthesizer

    if cand.kind == "released":
        return load_synthesizer(ctx.inference_model(), device=device)
    if cand.kind == "epoch":
        from rvcqa.checkpoint import load_inference_model

        return load_synthesizer(load_inference_model(cand.path), device=device)
    from rvcqa.checkpoint import load_training_checkpoint
    from rvcqa.weights import inference_part

    config, version, f0, source = facts
    if config is None:
        raise ModelDirError(
            f"{cand.label}: no config to build the network from (no inference model, per-epoch file or "
            "config.json in the folder)"
        )
    ck = load_training_checkpoint(cand.path)  # memory-mapped
    if cand.epoch is None:
        cand.epoch = ck.iteration
    weight = inference_part(ck.model)
    if version is None:  # config.json only: read version and pitch guidance off the weights
        phone = weight.get("enc_p.emb_phone.weight")
        version = "v1" if phone is not None and phone.shape[-1] == 256 else "v2"
        f0 = "enc_p.emb_pitch.weight" in weight
    record = {"weight": weight, "config": config, "version": version, "f0": int(bool(f0)), "path": str(cand.path)}
    return load_synthesizer(record, device=device)


# --------------------------------------------------------------------------- segments


def _filelist_stems(md: Any) -> Optional[set[str]]:
    if md.filelist is None:
        return None
    from rvcqa.dataset import parse_filelist

    try:
        return {e.stem for e in parse_filelist(md.filelist) if not e.mute}
    except OSError:
        return None


def split_segments(md: Any, segments: Sequence[Any], *, n_train: int, n_heldout: int, seed: int,
                   fraction: float = HELDOUT_FRACTION) -> tuple[list[Any], list[Any], HeldOut]:
    """(training sample, held-out slice, what held-out means) for this folder (see module doc)."""
    from rvcqa.dataset import natural_key as _natural
    from rvcqa.resynth import choose_segments

    listed = _filelist_stems(md)
    all_stems = [s.stem for s in segments]
    not_in = [s for s in segments if listed is not None and s.stem not in listed]
    if listed is not None and 0 < len(not_in) < len(segments):
        held_pool = not_in
        train_pool = [s for s in segments if s.stem in listed]
        held = choose_segments(held_pool, n_heldout, seed) if n_heldout > 0 else []
        desc = (f"{len(held_pool)} segment{'s' if len(held_pool) != 1 else ''} in the data folders "
                f"{'are' if len(held_pool) != 1 else 'is'} not in filelist.txt, so training never saw "
                f"{'them' if len(held_pool) != 1 else 'it'}: a true held-out slice ({len(held)} used: "
                f"{', '.join(s.stem for s in held)}); the candidates are ranked on it")
        return choose_segments(train_pool, n_train, seed), held, HeldOut("not_in_filelist", [s.stem for s in held], desc)
    k = int(round(fraction * len(segments)))
    k = min(max(k, 1 if len(segments) >= 2 else 0), len(segments) - 1) if n_heldout > 0 else 0
    if k <= 0:
        return (choose_segments(segments, n_train, seed), [],
                HeldOut("none", [], f"only {len(segments)} usable segment(s): none set aside, so there is no "
                                    "held-out slice"))
    order = np.random.default_rng(seed).permutation(len(all_stems))
    aside = {all_stems[int(i)] for i in order[:k]}
    held_pool = sorted((s for s in segments if s.stem in aside), key=lambda s: _natural(s.stem))
    train_pool = [s for s in segments if s.stem not in aside]
    held = choose_segments(held_pool, n_heldout, seed)
    why = ("every segment is in filelist.txt" if listed is not None and not not_in else
           "there is no filelist.txt, so every segment is assumed trained on" if listed is None else
           "filelist.txt names none of these segments (from another run?), so it cannot tell")
    desc = (f"{why}; {k} of {len(segments)} stems (a deterministic {fraction:.0%}, seed {seed}) are set aside from "
            f"the ranking sample ({len(held)} used: {', '.join(s.stem for s in held)}). They are NOT held out from "
            "training, only from selection: they show whether the ranking depends on which segments were drawn, "
            "not how the model does on unseen audio")
    return choose_segments(train_pool, n_train, seed), held, HeldOut("selection_only", [s.stem for s in held], desc)


@dataclass
class _Prepared:
    segment: Any
    inputs: Any  # SegmentInputs for the window plus context
    offset: int  # window start inside ``inputs`` (frames)
    frames: int  # window length (frames)
    target: np.ndarray  # GT window


def window(inputs: Any, hop: int, frames: Optional[int], context: int = CONTEXT_FRAMES) -> tuple[Any, int, int]:
    """Cut a segment's inputs to its loudest ``frames`` (GT energy) plus ``context`` frames either side.

    Returns ``(inputs for the model, window start inside them, window length)``; the whole segment when
    it is not longer than ``frames``.
    """
    from rvcqa.resynth import SegmentInputs

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


def _prepare(segments: Sequence[Any], *, sr: int, hop: int, dim: int, f0: bool, frames: Optional[int],
             skipped: dict[str, str]) -> list[_Prepared]:
    from rvcqa.errors import AudioError
    from rvcqa.resynth import load_segment_inputs

    out = []
    for seg in segments:
        try:
            inputs = load_segment_inputs(seg, sample_rate=sr, hop=hop, phone_dim=dim, f0=f0)
        except AudioError as exc:
            skipped[seg.stem] = str(exc)
            continue
        sub, off, n = window(inputs, hop, frames)
        target = np.ascontiguousarray(sub.target[off * hop:(off + n) * hop])
        out.append(_Prepared(seg, sub, off, n, target))
    return out


# --------------------------------------------------------------------------- measuring


def _median(values: Sequence[Optional[float]]) -> Optional[float]:
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return float(np.median(vals)) if vals else None


def _measure_set(synth: Any, prepared: Sequence[_Prepared], *, f0: bool, out_dir: Optional[Path]) -> SetScores:
    from rvcqa.resynth import SegmentResult, measure_segment, run_model, write_wav

    sr, hop = int(synth.sample_rate), int(synth.hop)
    scores = SetScores()
    ms = []
    for p in prepared:
        t0 = time.perf_counter()
        out = run_model(synth, p.inputs)[p.offset * hop:(p.offset + p.frames) * hop]
        seconds = time.perf_counter() - t0
        path = write_wav(out_dir / f"{p.segment.stem}.wav", out, sr) if out_dir is not None else None
        m = measure_segment(SegmentResult(p.segment, out, p.target, sr, p.frames, path, seconds), f0=f0)
        ms.append(m)
        f0c = m.f0
        scores.per_segment.append({
            "stem": m.stem, "seconds_audio": p.frames / 100.0, "seconds_model": round(seconds, 3),
            "seconds_model_input": p.inputs.frames / 100.0, "mel_distance": m.mel_distance,
            "mel_distance_full_band": m.mel_distance_full, "flatness": m.flatness, "zcr_ratio": m.zcr_ratio,
            "f0_median_abs_cents": getattr(f0c, "median_abs_cents_error", None),
            "voicing_error": getattr(f0c, "voicing_decision_error_rate", None), "rms_ratio": m.rms_ratio,
            "errors": dict(m.errors), "output": str(path) if path else None,
        })
        for key, why in m.errors.items():
            if key != "f0":  # "no voiced frames in the GT" is not the candidate's fault
                scores.errors[m.stem] = f"{key}: {why}"
    ok = [m for m in ms if m.mel_distance is not None]
    scores.n = len(ok)
    scores.mel = _median([m.mel_distance for m in ok])
    if scores.mel is None and any("output" in m.errors or "mel" in m.errors for m in ms):
        scores.mel = math.inf  # silent / NaN output on every segment: ranks last, never disappears
    scores.mel_full = _median([m.mel_distance_full for m in ok])
    scores.flatness = _median([m.flatness for m in ms])
    scores.zcr_ratio = _median([m.zcr_ratio for m in ms])
    scores.rms_ratio = _median([m.rms_ratio for m in ms])
    comps = [m.f0 for m in ms if m.f0 is not None]
    scores.f0_cents = _median([c.median_abs_cents_error for c in comps])
    scores.vde = _median([c.voicing_decision_error_rate for c in comps])
    return scores


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(label).stem)


def _loss_mel_series(ctx: Any) -> list[tuple[int, float]]:
    try:
        log = ctx.train_log()
    except RvcqaError:
        return []
    if log is None:
        return []
    out = [(int(e.step), float(e.loss_mel)) for e in log.entries
           if e.step is not None and e.loss_mel is not None and math.isfinite(e.loss_mel)]
    return sorted(out)  # Applio prints no loss_mel (TensorBoard only): empty


def _loss_near(series: Sequence[tuple[int, float]], prev: Optional[int], step: Optional[int]) -> Optional[float]:
    """Median loss_mel logged in (previous candidate's step, this step]; else the last one before it."""
    if step is None or not series:
        return None
    lo = prev if prev is not None else -1
    inside = [v for s, v in series if lo < s <= step]
    if inside:
        return float(np.median(inside))
    before = [v for s, v in series if s <= step]
    return before[-1] if before else None


# --------------------------------------------------------------------------- released model


def _identify_released(ctx: Any, cands: list[SweepCandidate]) -> tuple[Optional[int], str, list[SweepWarning]]:
    """Index of the candidate the released file is (or came from), how that was established."""
    md = ctx.md
    inf = md.inference_file
    if inf is None:
        return None, "no released inference model found in the folder (pass --model-file)", []
    resolved = inf.resolve()
    for i, c in enumerate(cands):
        if any(p.resolve() == resolved for p in [c.path, *c.also]):
            return i, f"it is the per-epoch file {c.label} itself", []
    try:
        from rvcqa.checks.provenance import find_source

        search = find_source(ctx)
    except RvcqaError as error:
        cands.append(SweepCandidate(inf, "released", None, None))
        return len(cands) - 1, f"it could not be compared with the checkpoints ({error})", [
            SweepWarning("released_unknown", f"which checkpoint {inf.name} came from is unknown: {error}")]
    for match in search.matches:
        for i, c in enumerate(cands):
            if any(p.resolve() == match.path.resolve() for p in [c.path, *c.also]):
                return i, f"bit-equal to {match.path.name} after fp16 rounding, as RVC's extraction writes it", []
    model = ctx.inference_model()
    step = model.extra.get("step") if isinstance(model.extra.get("step"), int) else None
    cands.append(SweepCandidate(inf, "released", step, model.epoch, plot_step=step or None))
    return len(cands) - 1, ("not bit-equal (after fp16 rounding) to any checkpoint here, so it was measured as an "
                            "extra candidate"), []


# --------------------------------------------------------------------------- the sweep


def run_sweep(
    ctx: Any,
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
) -> SweepResult:
    """Measure every candidate of ``ctx.md`` (a :class:`~rvcqa.context.ModelContext`); see module doc.

    ``segments``/``heldout_segments``: training sample and held-out slice sizes; ``window_s``: seconds
    kept per segment (None: whole segments); ``out_dir``: where windows, ``sweep.json`` and
    ``sweep.png`` go (default ``<results>/sweep``); ``progress`` gets one line per candidate.
    Raises :class:`ModelDirError` when there is nothing to sweep (no candidates, no data folders).
    """
    from rvcqa.resynth import find_segments, safe_output_dir
    from rvcqa.synth.synthesizer import phone_dim

    t_start = time.perf_counter()
    tol = tolerances or Tolerances()
    seed = ctx.options.seed if seed is None else seed
    device = device or ctx.options.device
    md = ctx.md
    cands = find_candidates(ctx)
    if not cands and md.inference_file is None:
        raise ModelDirError(f"nothing to sweep in {md.root}: no G_*.pth, per-epoch model or inference model")
    released_index, released_how, warnings = _identify_released(ctx, cands)
    _assign_plot_steps(ctx, cands)
    facts = network_config(ctx)
    config, version, f0_flag, _ = facts
    if config is None and not any(c.kind != "G" for c in cands):
        raise ModelDirError(f"{md.root}: no inference model, per-epoch file or config.json to build the network "
                            "for the G_*.pth checkpoints from")
    if config is None:  # only per-epoch files: take the facts from the first that loads
        from rvcqa.checkpoint import load_inference_model

        first = next(c for c in cands if c.kind != "G")
        m = load_inference_model(first.path)
        config, version, f0_flag = list(m.config), m.version, bool(m.f0)
        facts = (config, version, f0_flag, first.label)
    from rvcqa.synth.config import SynthConfig

    cfg = SynthConfig.from_list(config)
    sr, hop = int(cfg.sr), int(cfg.hop)
    f0 = True if f0_flag is None else bool(f0_flag)
    dim = phone_dim(version) if version else (md.feature_dim or 768)

    found, skipped = find_segments(md, need_f0=f0)
    usable = [s for s in found if s.sample_rate == sr]
    if not usable:
        raise ModelDirError(f"no training segment in {md.gt_wavs} is at the model's rate {sr} Hz: the data folders "
                            "belong to another run")
    train_segs, held_segs, heldout = split_segments(md, usable, n_train=segments, n_heldout=heldout_segments,
                                                    seed=seed)
    frames = max(int(round(window_s * 100)), 50) if window_s else None  # None / 0: whole segments
    train_p = _prepare(train_segs, sr=sr, hop=hop, dim=dim, f0=f0, frames=frames, skipped=skipped)
    held_p = _prepare(held_segs, sr=sr, hop=hop, dim=dim, f0=f0, frames=frames, skipped=skipped)
    if not train_p and not held_p:
        reasons = "; ".join(f"{k}: {v}" for k, v in list(skipped.items())[:3])
        raise ModelDirError(f"no training segment of {md.root} can be resynthesised ({reasons})")
    rank_on = "heldout" if heldout.kind == "not_in_filelist" and held_p else "train"

    if out_dir is None:
        out_dir = safe_output_dir(ctx.options.results_dir, md, ctx.name, "sweep")
    else:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
    gt_dir = out_dir / "gt"
    gt_dir.mkdir(exist_ok=True)
    from rvcqa.resynth import write_wav

    for p in train_p + held_p:
        write_wav(gt_dir / f"{p.segment.stem}.wav", p.target, sr)

    series = _loss_mel_series(ctx)
    rows: list[SweepRow] = []
    total = len(cands)
    prev_step = None
    for k, cand in enumerate(cands, 1):
        row = SweepRow(cand, released=(k - 1 == released_index))
        if cand.kind != "released":
            row.loss_mel = _loss_near(series, prev_step, cand.plot_step)
            prev_step = cand.plot_step if cand.plot_step is not None else prev_step
        t0 = time.perf_counter()
        try:
            synth = load_candidate(ctx, cand, facts, device=device)
            cand_dir = out_dir / _slug(cand.label)
            cand_dir.mkdir(exist_ok=True)
            if train_p:
                row.train = _measure_set(synth, train_p, f0=f0, out_dir=cand_dir)
            if held_p:
                row.heldout = _measure_set(synth, held_p, f0=f0, out_dir=cand_dir)
            del synth
        except RvcqaError as error:
            row.error = str(error)
        row.seconds = time.perf_counter() - t0
        rows.append(row)
        _say(progress, _progress_line(k, total, row, rank_on))

    result = SweepResult(
        name=ctx.name, rows=rows, rank_on=rank_on, heldout=heldout, train_stems=[p.segment.stem for p in train_p],
        released_index=released_index, released_how=released_how, released_file=md.inference_file,
        out_dir=out_dir, loss_mel=series,
        warnings=warnings,
        settings={
            "noise_scale": 0.0, "source_noise": False, "speaker_id": 0, "seed": seed,
            "segments": segments, "heldout_segments": heldout_segments, "window_s": window_s,
            "context_frames": CONTEXT_FRAMES, "skipped_segments": dict(skipped), "device": device,
            "ranking_metric": "median in-band log-mel L1 distance to 0_gt_wavs (rvcqa.resynth.mel_distances) on the "
                              + ("held-out slice" if rank_on == "heldout" else "training sample"),
            "network_config_from": facts[3],
            "tolerances": vars(tol),
        },
    )
    analyse(result, tol)
    if plot:
        try:
            result.plot_path = plot_sweep(result, out_dir / "sweep.png")
        except ImportError as exc:
            result.plot_note = f"no plot: matplotlib is not installed ({exc.name or exc})"
        except Exception as exc:  # noqa: BLE001 - a picture must never sink the sweep
            result.plot_note = f"no plot: {type(exc).__name__}: {exc}"
    result.seconds = time.perf_counter() - t_start
    _write_json(out_dir / "sweep.json", result.to_dict())
    return result


def _say(progress: Optional[Progress], line: str) -> None:
    import logging

    logging.getLogger("rvcqa.sweep").info(line)
    if progress is not None:
        progress(line)


def _fmt(x: Optional[float], spec: str = ".3f") -> str:
    return "n/a" if x is None else format(x, spec)


def _flat(x: Optional[float]) -> str:
    """Flatness: 4 decimals, scientific below 0.0005 (speech ~0.002, white noise 0.56)."""
    if x is None:
        return "n/a"
    return f"{x:.4f}" if abs(x) >= 0.0005 or x == 0 else f"{x:.1e}"


def _progress_line(k: int, total: int, row: SweepRow, rank_on: str) -> str:
    head = f"sweep {k}/{total} {row.candidate.short}"
    if row.error:
        return f"{head}: not measured ({row.error}) [{row.seconds:.1f} s]"
    parts = []
    if row.train is not None:
        parts.append(f"mel {_fmt(row.train.mel)} train")
    if row.heldout is not None:
        parts.append(f"{_fmt(row.heldout.mel)} held-out")
    s = row.train or row.heldout
    extra = f", flatness {_flat(s.flatness)}" if s is not None else ""
    return f"{head}: {' / '.join(parts)}{extra} [{row.seconds:.1f} s]"


def _write_json(path: Path, data: Any) -> None:
    import json

    from rvcqa.findings import jsonable as _jsonable

    path.write_text(json.dumps(_jsonable(data), indent=2), encoding="utf-8")


# --------------------------------------------------------------------------- judging


def _pct(a: float, b: float) -> str:
    """How much worse ``a`` is than ``b``: percent, or the plain difference when ``b`` is ~0."""
    if math.isinf(a):
        return "no usable output"
    if b > 1e-6:
        pct = 100 * (a - b) / b
        return f"{pct:+.1f}%" if abs(pct) < 10 else f"{pct:+.0f}%"
    return f"{a - b:+.3f}"


def _worse(a: float, b: float, rel: float, abs_tol: float) -> bool:
    """``a`` is worse than ``b`` beyond both the relative and the absolute tolerance."""
    return a - b > abs_tol and a > b * (1 + rel)


def analyse(result: SweepResult, tol: Tolerances) -> None:
    """Fill in the recommendation and the trend / release warnings (pure logic on measured rows)."""
    rank_on = result.rank_on
    rows = result.rows
    for r in rows:
        if r.error:
            result.warnings.append(SweepWarning("candidate_error", f"{r.candidate.label} could not be measured: {r.error}"))
    measured = [(i, r) for i, r in enumerate(rows) if r.score(rank_on) is not None]
    if not measured:
        return
    best_i, best = min(measured, key=lambda ir: (ir[1].score(rank_on), ir[0]))
    best_score = float(best.score(rank_on))
    if not math.isfinite(best_score):
        result.warnings.append(SweepWarning(
            "no_usable_output", f"none of the {len(measured)} candidates produced audio that can be measured "
                                "(silent or NaN output on every segment)"))
        return
    where = "the held-out slice (never trained on)" if rank_on == "heldout" else "the training sample"
    n = (best.heldout if rank_on == "heldout" else best.train).n  # type: ignore[union-attr]
    reason = f"lowest log-mel distance to the targets on {where}: {best_score:.3f} (median over {n} segments)"
    others = sorted(((r.score(rank_on), i) for i, r in measured if i != best_i))  # type: ignore[type-var]
    if others:
        s2, i2 = others[0]
        r2 = rows[i2]
        reason += f"; next best {r2.candidate.label} {s2:.3f} ({_pct(s2, best_score)})"
    reason += _second_opinion(result, best_i, best, tol)
    result.recommendation = Recommendation(best_i, best.candidate.label, best_score, reason)

    trend = [(i, r) for i, r in measured if r.candidate.kind != "released"]
    if len(trend) >= 3:
        _trend_warnings(result, trend, tol)
    rel = result.released_row
    if rel is not None and rel.score(rank_on) is not None and result.released_index != best_i:
        rs = float(rel.score(rank_on))  # type: ignore[arg-type]
        if _worse(rs, best_score, tol.released_vs_best, tol.min_difference):
            result.warnings.append(SweepWarning(
                "released_not_best",
                f"the released model {_released_name(result)} is not the best-measured "
                f"candidate: it scores {rs:.3f} against {best_score:.3f} for {best.candidate.short} "
                f"({_pct(rs, best_score)}; tolerance {tol.released_vs_best:.0%}); release {best.candidate.label} "
                "instead (RVC: ckpt processing -> extract small model, or use the per-epoch file)"))


def _released_name(result: SweepResult) -> str:
    """``sw.pth (bit-equal to G_500.pth ...)``: the released file and how it was matched."""
    name = result.released_file.name if result.released_file else "?"
    return f"{name} ({result.released_how})"


def _second_opinion(result: SweepResult, best_i: int, best: SweepRow, tol: Tolerances) -> str:
    """What the other set says about the choice."""
    other = "train" if result.rank_on == "heldout" else "heldout"
    scored = [(i, r.score(other)) for i, r in enumerate(result.rows) if r.score(other) is not None]
    if len(scored) < 2 or best.score(other) is None:
        return ""
    oi, os_ = min(scored, key=lambda t: (t[1], t[0]))
    name = "training sample" if other == "train" else (
        "held-out slice" if result.heldout.kind == "not_in_filelist" else "set-aside slice")
    mine = float(best.score(other))  # type: ignore[arg-type]
    if oi == best_i:
        return f"; the {name} agrees ({mine:.3f}, its best)"
    if not _worse(mine, float(os_), tol.plateau, tol.min_difference):
        return (f"; on the {name} it is within {tol.plateau:.0%} of the best there "
                f"({mine:.3f} vs {os_:.3f} for {result.rows[oi].candidate.label})")
    return (f"; the {name} prefers {result.rows[oi].candidate.label} ({os_:.3f} vs {mine:.3f}): the ranking is "
            "uncertain, listen to both")


def _trend_warnings(result: SweepResult, trend: list[tuple[int, SweepRow]], tol: Tolerances) -> None:
    rank_on = result.rank_on
    scores = [float(r.score(rank_on)) for _, r in trend]  # type: ignore[arg-type]
    best = min(scores)
    b = scores.index(best)
    last_i, last = trend[-1]
    steps = [r.candidate.plot_step for _, r in trend]
    # plateau: the first checkpoint already as good as the best came long before the last one
    k = next(j for j, s in enumerate(scores) if not _worse(s, best, tol.plateau, tol.min_difference))
    if k < len(trend) - 1:
        if steps[k] is not None and steps[-1]:
            frac = steps[k] / steps[-1]
        else:
            frac = k / (len(trend) - 1)
        if frac <= tol.plateau_fraction:
            rk = trend[k][1]
            later = len(trend) - 1 - k
            result.warnings.append(SweepWarning(
                "plateau",
                f"quality stopped improving at {rk.candidate.short}, {frac:.0%} of the run: none of the {later} later "
                f"checkpoint{'s' if later != 1 else ''} up to {last.candidate.label} is more than {tol.plateau:.0%} "
                f"better (best {best:.3f}, this one {scores[k]:.3f}). More epochs would not help: train about this "
                "long, and look elsewhere (data, pretrained base) for more quality"))
    # the end is worse than the best
    if b < len(trend) - 1 and _worse(scores[-1], best, tol.overtraining, tol.min_difference):
        rb = trend[b][1]
        if rank_on == "heldout":
            fit = [r.score("train") for _, r in trend]
            kept = fit[-1] is not None and all(f is not None for f in fit) and not _worse(
                float(fit[-1]), min(float(f) for f in fit), tol.overtraining, tol.min_difference)  # type: ignore[arg-type]
            tail = (" while the fit to the training segments did not get worse: overfitting (overtraining), the model "
                    "memorises its training data" if kept else
                    "; the training segments got worse too, so training itself degraded (not only overfitting)")
            text = (f"quality on segments never trained on got worse after {rb.candidate.short}: the last checkpoint "
                    f"{last.candidate.label} scores {scores[-1]:.3f} vs {best:.3f} ({_pct(scores[-1], best)})" + tail)
            kind = "overfitting" if kept else "overtraining"
        else:
            text = (f"quality got worse at the end (overtraining): the last checkpoint {last.candidate.label} scores "
                    f"{scores[-1]:.3f} vs {best:.3f} at {rb.candidate.short} ({_pct(scores[-1], best)}). Measured on "
                    "segments it was trained on, so this is training drifting away from its targets (too many epochs "
                    "at this learning rate, adversarial instability), not only the overfitting unseen audio would "
                    f"show; release {rb.candidate.label} or earlier")
            kind = "overtraining"
        result.warnings.append(SweepWarning(kind, text))


# --------------------------------------------------------------------------- output


def format_table(result: SweepResult) -> str:
    """The sweep as a fixed-width text table (terminal, report) with a legend and the verdict."""
    held = any(r.heldout is not None for r in result.rows)
    head = ["", "epoch", "step", "candidate", "mel train"]
    if held:
        head.append("mel held-out")
    head += ["loss_mel eq.", "log loss_mel", "flatness", "ZCR x", "F0 cents", "VDE", "time"]
    lines = []
    rec = result.recommendation
    for i, r in enumerate(result.rows):
        c = r.candidate
        mark = ("*" if rec is not None and rec.index == i else " ") + ("R" if r.released else " ")
        s = r.train or r.heldout
        step = "latest" if c.step == _latest_only() else ("" if c.step is None else str(c.step))
        cells = [mark, "" if c.epoch is None else str(c.epoch), step, c.label + (" (+G)" if c.also else "")]
        if r.error:
            cells += ["error"] + ([""] if held else []) + [""] * 6 + [f"{r.seconds:.0f} s"]
            lines.append(cells)
            continue
        cells.append(_fmt(r.train.mel if r.train else None))
        if held:
            cells.append(_fmt(r.heldout.mel if r.heldout else None))
        full = s.mel_full if s is not None else None
        cells += [
            _fmt(None if full is None else full * C_MEL, ".1f"), _fmt(r.loss_mel, ".1f"),
            _flat(s.flatness if s else None), _fmt(s.zcr_ratio if s else None, ".2f"),
            _fmt(s.f0_cents if s else None, ".0f"), _fmt(s.vde if s else None, ".2f"), f"{r.seconds:.0f} s",
        ]
        lines.append(cells)
    widths = [max(len(str(row[j])) for row in [head] + lines) for j in range(len(head))]
    fmt_row = lambda row: "  ".join(str(x).ljust(w) if j in (0, 3) else str(x).rjust(w)  # noqa: E731
                                    for j, (x, w) in enumerate(zip(row, widths)))
    out = [fmt_row(head), fmt_row(["-" * w for w in widths])] + [fmt_row(row) for row in lines]
    out.append("* recommended   R released   (+G) the G_ file at that step holds the same weights   "
               "mel: in-band log-mel L1 to 0_gt_wavs (lower is better)   loss_mel eq.: all-band x45")
    out.append(f"ranked on: {result.settings.get('ranking_metric', result.rank_on)}")
    out.append(f"held-out: {result.heldout.description}")
    if rec is not None:
        out.append(f"recommended: {result.rows[rec.index].candidate.short}: {rec.reason}")
    out.append(f"released: {_released_name(result)}" if result.released_file else f"released: {result.released_how}")
    for w in result.warnings:
        out.append(f"warning: {w.message}")
    if result.plot_path:
        out.append(f"plot: {result.plot_path}")
    elif result.plot_note:
        out.append(result.plot_note)
    if result.out_dir:
        out.append(f"audio: {result.out_dir}/<candidate>/<segment>.wav (GT windows in {result.out_dir / 'gt'})")
    return "\n".join(out)


def plot_sweep(result: SweepResult, path: Path) -> Path:
    """PNG: mel distance (train / held-out) with the log's loss_mel on the same step axis; flatness
    and ZCR ratio; F0 error and voicing error. matplotlib Agg canvas, no pyplot state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    pts = [(r.candidate.plot_step, r) for r in result.rows if r.candidate.plot_step is not None and not r.error]
    pts.sort(key=lambda t: t[0])
    fig = Figure(figsize=(10, 9), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2, ax3 = fig.subplots(3, 1, sharex=True)
    xs = [p for p, _ in pts]

    def series(get: Callable[[SweepRow], Optional[float]]) -> tuple[list[int], list[float]]:
        got = [(x, get(r)) for x, r in pts]
        return [x for x, v in got if v is not None], [float(v) for x, v in got if v is not None]  # type: ignore[arg-type]

    ax1.set_title(f"{result.name}: quality per checkpoint (lower is better)")
    for label, get, color in (("mel distance, training sample", lambda r: r.train.mel if r.train else None, "#1f77b4"),
                              ("mel distance, " + ("held-out" if result.heldout.kind == "not_in_filelist" else
                                                   "set-aside") + " segments",
                               lambda r: r.heldout.mel if r.heldout else None, "#ff7f0e")):
        x, y = series(get)
        if x:
            ax1.plot(x, y, marker="o", color=color, label=label)
    ax1.set_ylabel("log-mel L1 (in-band)")
    if result.loss_mel:
        tw = ax1.twinx()
        tw.plot([s for s, _ in result.loss_mel], [v for _, v in result.loss_mel], color="0.6", lw=0.8,
                label="train.log loss_mel")
        tw.set_ylabel("loss_mel (train.log)", color="0.4")
        _legend(tw, loc="upper center")
    rec = result.best_row
    for r, marker, color, label in ((rec, "*", "green", "recommended"), (result.released_row, "s", "red", "released")):
        if r is not None and r.candidate.plot_step is not None and r.score("train" if r.train else "heldout") is not None:
            y = (r.train or r.heldout).mel  # type: ignore[union-attr]
            ax1.plot([r.candidate.plot_step], [y], marker=marker, markersize=16, color=color, ls="none",
                     fillstyle="none", mew=2, label=label)
    _legend(ax1, loc="best")
    ax1.grid(alpha=0.3)
    for ax, items, ylabel in (
        (ax2, (("flatness", lambda r: (r.train or r.heldout).flatness, "#2ca02c"),), "spectral flatness"),
        (ax3, (("F0 median |cents|", lambda r: (r.train or r.heldout).f0_cents, "#9467bd"),), "F0 error (cents)"),
    ):
        for label, get, color in items:
            x, y = series(get)
            if x:
                ax.plot(x, y, marker="o", color=color, label=label)
            else:
                ax.text(0.5, 0.5, f"no {label} measured", transform=ax.transAxes, ha="center", color="gray")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    tw2 = ax2.twinx()
    x, y = series(lambda r: (r.train or r.heldout).zcr_ratio)
    if x:
        tw2.plot(x, y, marker="^", color="#8c564b", label="ZCR ratio (output / GT)")
        tw2.axhline(1.0, color="#8c564b", lw=0.6, ls=":")
    tw2.set_ylabel("ZCR ratio")
    _legend(tw2, loc="upper right")
    tw3 = ax3.twinx()
    x, y = series(lambda r: (r.train or r.heldout).vde)
    if x:
        tw3.plot(x, y, marker="^", color="#e377c2", label="voicing error")
    tw3.set_ylabel("voicing error")
    _legend(tw3, loc="upper right")
    _legend(ax2, loc="upper left")
    _legend(ax3, loc="upper left")
    ax3.set_xlabel("step")
    if not xs:
        ax1.text(0.5, 0.5, "no candidate with a known step", transform=ax1.transAxes, ha="center")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100)
    return path


def _legend(ax: Any, **kw: Any) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, **kw)


# --------------------------------------------------------------------------- CLI


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``rvcqa sweep`` (see :func:`command`)."""
    from rvcqa.options import device_type, threshold_type

    p.add_argument("model_dir", help="experiment folder, e.g. logs/lexi")
    p.add_argument("--model-file", default=None, metavar="PATH", help="the released inference .pth kept elsewhere")
    p.add_argument("--train-log", default=None, metavar="PATH", help="captured training stdout (for loss_mel)")
    p.add_argument("--results", default=None, metavar="DIR",
                   help="results folder (default ./rvcqa-results/NAME/; the sweep goes to its sweep/)")
    p.add_argument("--segments", type=_positive_int, default=None, metavar="N",
                   help="training segments per candidate (default: profile sweep.segments, 4)")
    p.add_argument("--heldout", type=_non_negative_int, default=None, metavar="N",
                   help="held-out segments per candidate (default: profile sweep.heldout_segments, 2)")
    p.add_argument("--window", type=_window_type, default=None, metavar="SECONDS|all",
                   help="seconds kept per segment (default: profile sweep.window_s, 1.0)")
    p.add_argument("--seed", type=int, default=1234, help="segment selection seed (default 1234)")
    p.add_argument("--device", type=device_type, default="cpu", metavar="cpu|cuda|auto")
    p.add_argument("--threshold", action="append", type=threshold_type, default=[], metavar="KEY=VALUE",
                   help="override one threshold (e.g. sweep.released_vs_best_mel=0.1); repeatable")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the sweep as JSON here")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return v


def _non_negative_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return v


def _window_type(text: str) -> float:
    if text.strip().lower() == "all":
        return 0.0  # 0 = whole segments
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds (e.g. 1.0) or 'all', got {text!r}") from None
    if not v >= 0.5:
        raise argparse.ArgumentTypeError(f"window must be at least 0.5 s (pYIN and the 48k log-mel need frames), got {text!r}")
    return v


def command(args: argparse.Namespace) -> int:
    """``rvcqa sweep DIR``: table on stdout, one progress line per candidate on stderr.

    Exit status 0; 1 when the released model is measurably worse than the best candidate
    (``sweep.released_vs_best`` fails); 2 on bad input (raised as :class:`RvcqaError`).
    """
    from rvcqa.checks import sweep as checks
    from rvcqa.context import ModelContext, Options
    from rvcqa.modeldir import discover, resolve_model_dir_arg
    from rvcqa.profile import build_profile

    cwd = Path.cwd()
    path, _ = resolve_model_dir_arg(args.model_dir)
    rvc_root = cwd if (cwd / "logs").is_dir() or (cwd / "assets").is_dir() else None
    md = discover(path, model_file=args.model_file, train_log=args.train_log, rvc_root=rvc_root)
    cli = list(args.threshold)
    if args.segments is not None:
        cli.append(("sweep.segments", args.segments))
    if args.heldout is not None:
        cli.append(("sweep.heldout_segments", args.heldout))
    if args.window is not None:
        cli.append(("sweep.window_s", args.window))
    thresholds = build_profile(directory=cwd, cli=cli)
    results = Path(args.results) if args.results else Path("rvcqa-results") / md.name
    device = args.device
    if device == "auto":
        try:
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        except ImportError:  # pragma: no cover
            device = "cpu"
    ctx = ModelContext(md, Options(results_dir=results.resolve(), seed=args.seed, device=device, sweep=True),
                       thresholds)
    if not args.quiet:
        ctx.progress = lambda line: print(line, file=sys.stderr, flush=True)  # type: ignore[attr-defined]
        n = len(find_candidates(ctx))
        print(f"rvcqa sweep: {n} candidate{'s' if n != 1 else ''} in {md.root}", file=sys.stderr, flush=True)
    result = checks.sweep_result(ctx, plot=not args.no_plot)
    print(result.table())
    if args.json:
        _write_json(Path(args.json), result.to_dict())
    found = ctx.findings(checks)
    return 1 if any(f.failed for f in found.values()) else 0


__all__ = [
    "HeldOut", "Recommendation", "SetScores", "SweepCandidate", "SweepResult", "SweepRow", "SweepWarning",
    "Tolerances", "add_arguments", "analyse", "command", "find_candidates", "format_table", "plot_sweep",
    "run_sweep", "split_segments", "window",
]
