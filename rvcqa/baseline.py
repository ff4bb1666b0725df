"""Metric baselines: save this run's measurements, compare a later run with them, fail on regressions.

Typical use: *is the new epoch at least as good as the released model?* ::

    pytest --model-dir logs/lexi --rvcqa-save-baseline baselines/lexi.json          # the release
    pytest --model-dir logs/lexi_e200 --rvcqa-baseline baselines/lexi.json \\
           --rvcqa-compare-fail "flatness:+0.02 mel_distance:5%"                   # a candidate

The tolerance grammar follows pytest-benchmark's ``--benchmark-compare-fail`` (``FIELD:NUM`` or
``FIELD:NUM%``), with an optional sign and metric-name patterns (see :func:`parse_compare_fail`).
Each metric declares which direction is worse (:data:`METRICS`): a regression is a change in that
direction larger than the tolerance; an improvement never fails.

Nothing here imports torch; a baseline file is plain JSON, written atomically.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from rvcqa.errors import RvcqaError

FORMAT = "rvcqa-baseline"
FORMAT_VERSION = 1

HIGHER = "higher"  # a larger value is worse (flatness, mel distance, loss_mel)
LOWER = "lower"  # a smaller value is worse (speaker similarity gain, voiced fraction)
TARGET = "target"  # moving away from ``target`` is worse (output/input ratios, ideal 1)
EITHER = "either"  # any change beyond the tolerance is a regression (structure counts)
DIRECTIONS = (HIGHER, LOWER, TARGET, EITHER)


class BaselineError(RvcqaError):
    """A baseline file that cannot be read or written, or a malformed tolerance."""


# --------------------------------------------------------------------------- tolerances

@dataclass(frozen=True)
class Tolerance:
    """``pattern:[+|-]amount[%]``: how much a matching metric may get worse before the gate fails.

    ``sign``: ``"+"`` only an increase counts, ``"-"`` only a decrease, ``None`` the metric's
    declared worse direction (either direction for an undeclared metric).
    """

    pattern: str
    amount: float
    percent: bool = False
    sign: str | None = None

    def text(self) -> str:
        number = f"{self.amount:g}"
        return f"{self.pattern}:{self.sign or ''}{number}{'%' if self.percent else ''}"

    def matches(self, name: str) -> bool:
        return metric_matches(self.pattern, name)

    def allowed(self, old: float) -> float:
        """The largest change allowed from ``old``: absolute, or a percentage of ``|old|``."""
        return abs(old) * self.amount / 100.0 if self.percent else self.amount


_GLOB = re.compile(r"[*?\[]")
_ITEM = re.compile(
    r"^(?P<pattern>[A-Za-z0-9_.*?\[\]-]+):(?P<sign>[+-])?(?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)(?P<pct>%)?$"
)


def metric_matches(pattern: str, name: str) -> bool:
    """``flatness`` matches ``flatness``, ``resynth_flatness`` and ``x.flatness``; globs match as globs."""
    if _GLOB.search(pattern):
        return fnmatchcase(name, pattern)
    return name == pattern or name.endswith("_" + pattern) or name.endswith("." + pattern)


def parse_tolerance(text: str) -> Tolerance:
    """One ``METRIC:[+|-]NUMBER[%]`` item; raises :class:`argparse.ArgumentTypeError`."""
    item = text.strip()
    m = _ITEM.match(item)
    if not m:
        raise argparse.ArgumentTypeError(
            f"expected METRIC:[+|-]NUMBER[%] (e.g. flatness:+0.02 or mel_distance:5%), got {text!r}"
        )
    amount = float(m["number"])
    if not math.isfinite(amount):
        raise argparse.ArgumentTypeError(f"tolerance must be a finite number, got {text!r}")
    return Tolerance(m["pattern"], amount, bool(m["pct"]), m["sign"])


def parse_compare_fail(text: str) -> list[Tolerance]:
    """``"flatness:+0.02 mel_distance:5%"`` -> tolerances (space- or comma-separated).

    The ``type=`` of ``--rvcqa-compare-fail`` and of ``rvcqa report --compare-fail``: raises
    :class:`argparse.ArgumentTypeError`, so both front ends print one clean usage error.
    """
    items = [part for part in re.split(r"[\s,]+", text.strip()) if part]
    if not items:
        raise argparse.ArgumentTypeError("expected at least one METRIC:[+|-]NUMBER[%] item, got an empty value")
    return [parse_tolerance(item) for item in items]


compare_fail_type = parse_compare_fail


def baseline_path_type(text: str) -> Path:
    """``--rvcqa-baseline PATH``: an existing file (its content is checked when the run starts)."""
    path = Path(text).expanduser()
    if not text.strip():
        raise argparse.ArgumentTypeError("expected the path of a baseline JSON file")
    if not path.is_file():
        raise argparse.ArgumentTypeError(
            f"baseline file {text!r} does not exist; write one first with --rvcqa-save-baseline {text}"
        )
    return path


def save_path_type(text: str) -> Path:
    """``--rvcqa-save-baseline PATH``: a file path whose folder exists or can be created."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a file path for the baseline JSON")
    path = Path(text).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder; give a file name such as {text.rstrip('/')}/baseline.json")
    return path


# --------------------------------------------------------------------------- metric declarations

@dataclass(frozen=True)
class MetricSpec:
    """Which direction of ``pattern``'s metrics is worse, and the tolerance used by default."""

    pattern: str
    worse: str
    default: Tolerance | None  # None: compared only when --rvcqa-compare-fail names it
    why: str
    target: float | None = None

    def describe(self) -> str:
        if self.worse == TARGET:
            return f"further from {self.target:g} is worse"
        if self.worse == EITHER:
            return "any change is a regression"
        return f"{self.worse} is worse"


def _tol(pattern: str, text: str) -> Tolerance:
    return parse_tolerance(f"{pattern}:{text}")


#: Declared metrics, first match wins. Each default tolerance says how much worse a candidate may
#: measure than its baseline before ``--rvcqa-baseline`` alone fails the run.
METRICS: tuple[MetricSpec, ...] = (
    # Flatness of speech ~0.002, white noise 0.56, gate limit 0.1 (perceptual DEFAULTS): +0.02 is a
    # fifth of the way to the gate limit and ~10x speech's own spread between clips.
    MetricSpec("*flatness", HIGHER, _tol("*flatness", "0.02"), "spectral flatness: higher is noisier"),
    # Log-mel L1 to the GT (= loss_mel / 45): the healthy fixture 0.96, undertrained 1.44; 10 %
    # (~0.1) is beyond seed-to-seed noise of a deterministic resynthesis.
    MetricSpec("*mel_distance", HIGHER, _tol("*mel_distance", "10%"), "log-mel distance to the training audio"),
    # The first logged loss_mel says where training started (pretrained ~30, scratch 75+), not how
    # good the result is: informational.
    MetricSpec("*first_loss_mel", HIGHER, None, "first logged loss_mel"),
    # loss_mel from the log: line-to-line noise is a few percent (batch composition); 10 % is a trend.
    MetricSpec("*loss_mel*", HIGHER, _tol("*loss_mel*", "10%"), "training loss_mel"),
    # F0 error in cents: 10 cents is a tenth of a semitone, well below the 50-cent gate limit.
    MetricSpec("*_cents", HIGHER, _tol("*_cents", "10"), "median F0 error in cents"),
    # Output/reference ratios are ideal at 1: judge the distance from 1, allowing 0.25 more of it
    # (the healthy fixture's ZCR ratio varies 0.93-0.97; the gate band is 0.5-2).
    MetricSpec("*zcr_ratio", TARGET, _tol("*zcr_ratio", "0.25"), "zero-crossing rate output/reference", 1.0),
    MetricSpec("*rms_ratio", TARGET, _tol("*rms_ratio", "0.25"), "RMS level output/reference", 1.0),
    # Duration ratio: frame rounding moves it < 1 %; 2 % more is a timing change.
    MetricSpec("*duration_ratio", TARGET, _tol("*duration_ratio", "0.02"), "output/input duration", 1.0),
    # Speaker similarity gain (resemblyzer cosine): 0.05 is about the spread between clips.
    MetricSpec("*speaker_gain", LOWER, _tol("*speaker_gain", "0.05"), "speaker similarity gain"),
    # Structure: a candidate of the same variant has exactly the same number of weight tensors.
    MetricSpec("inference_layers", EITHER, _tol("inference_layers", "0"), "weight tensors in the inference model"),
    # Data alignment: one HuBERT frame (20 ms) is the check's own limit; 10 ms more is a change.
    MetricSpec("*max_duration_diff_s", HIGHER, _tol("*max_duration_diff_s", "0.01"), "GT vs 16 kHz slice durations"),
    MetricSpec("*voiced_fraction", LOWER, _tol("*voiced_fraction", "0.1"), "voiced share of the training F0"),
    # Informational (no default tolerance): compared only when --rvcqa-compare-fail names them.
    MetricSpec("*loss_kl*", HIGHER, None, "training loss_kl (too low is also bad: collapse)"),
    MetricSpec("*rms_dbfs", EITHER, None, "conversion output level"),
    MetricSpec("dataset*", EITHER, None, "training data size and shape"),
)


def metric_spec(name: str, specs: Sequence[MetricSpec] = METRICS) -> MetricSpec | None:
    for spec in specs:
        if metric_matches(spec.pattern, name):
            return spec
    return None


# --------------------------------------------------------------------------- snapshots and files

def numeric_measurements(measurements: Mapping[str, Any]) -> dict[str, float]:
    """The measurements a baseline keeps: finite or NaN numbers (not booleans, paths, lists)."""
    out: dict[str, float] = {}
    for key, value in measurements.items():
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, (int, float)):
            out[str(key)] = float(value)
        elif hasattr(value, "item"):
            try:
                v = value.item()
            except (ValueError, RuntimeError, TypeError):
                continue
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                out[str(key)] = float(v)
    return out


def snapshot(measurements: Mapping[str, Any], *, verdict: str | None = None, failed: Iterable[str] = (),
             model_dir: str | None = None, inference_file: str | None = None) -> dict[str, Any]:
    """One model's entry in a baseline file."""
    return {
        "measurements": {k: _json_number(v) for k, v in sorted(numeric_measurements(measurements).items())},
        "verdict": verdict,
        "failed": sorted(failed),
        "model_dir": model_dir,
        "inference_file": inference_file,
    }


def _json_number(v: float) -> float | str:
    return v if math.isfinite(v) else str(v)  # JSON has no NaN/Infinity


def _from_json_number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str) and v.lower() in ("nan", "inf", "-inf", "infinity", "-infinity"):
        return float(v)
    return None


def document(models: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    from rvcqa import __version__

    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "rvcqa": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "models": {name: dict(snap) for name, snap in sorted(models.items())},
    }


def save(path: str | os.PathLike[str], doc: Mapping[str, Any]) -> Path:
    """Write ``doc`` as JSON atomically: a temp file in the same folder, then ``os.replace``."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=str(target.parent))
    except OSError as exc:
        raise BaselineError(f"cannot write the baseline {target}: {exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2, sort_keys=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise BaselineError(f"cannot write the baseline {target}: {exc}") from None
        raise
    return target


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a baseline file; :class:`BaselineError` with one clear line otherwise."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"baseline file {p} does not exist; write one with --rvcqa-save-baseline {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"cannot read the baseline {p}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{p} is not a baseline: invalid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("models"), dict):
        raise BaselineError(f"{p} is not an rvcqa baseline (written by --rvcqa-save-baseline)")
    if int(data.get("version", 0)) > FORMAT_VERSION:
        raise BaselineError(f"{p} was written by a newer rvcqa (baseline format {data.get('version')}); upgrade rvcqa")
    for name, snap in data["models"].items():
        if not isinstance(snap, dict) or not isinstance(snap.get("measurements", {}), dict):
            raise BaselineError(f"{p}: model {name!r} has no measurements table")
    return data


# --------------------------------------------------------------------------- comparison

@dataclass
class Comparison:
    """One metric of one model: baseline value, this run's, and whether it regressed."""

    model: str
    baseline_model: str
    metric: str
    old: float | None
    new: float | None
    rule: str  # the tolerance applied, e.g. "flatness:+0.02", or "" when informational
    direction: str  # HIGHER, LOWER, TARGET, EITHER or "" (informational)
    allowed: float | None = None
    worsening: float | None = None  # how much worse (in the direction judged); negative = better
    regressed: bool = False
    note: str = ""

    @property
    def delta(self) -> float | None:
        if self.old is None or self.new is None:
            return None
        return self.new - self.old

    def to_dict(self) -> dict[str, Any]:
        return {k: (_json_number(v) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


@dataclass
class Result:
    """Every comparison of a run with a baseline, plus notes (unmatched models, unused rules)."""

    baseline_path: str
    comparisons: list[Comparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    newly_failing: dict[str, list[str]] = field(default_factory=dict)  # model -> check ids

    @property
    def regressions(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.regressed]

    @property
    def failed(self) -> bool:
        return bool(self.regressions)


def _worsening(direction: str, old: float, new: float, target: float | None) -> float:
    if direction == HIGHER:
        return new - old
    if direction == LOWER:
        return old - new
    if direction == TARGET:
        t = 1.0 if target is None else target
        return abs(new - t) - abs(old - t)
    return abs(new - old)


def judge(old: float, new: float, direction: str, tol: Tolerance, target: float | None = None) -> tuple[bool, float, float]:
    """(regressed, worsening, allowed) for one metric. NaN where the baseline was finite regresses."""
    allowed = tol.allowed(old) if math.isfinite(old) else math.inf
    if math.isnan(new) and not math.isnan(old):
        return True, math.inf, allowed
    if not (math.isfinite(old) and math.isfinite(new)):
        return False, 0.0, allowed
    worse = _worsening(direction, old, new, target)
    eps = 1e-9 * max(1.0, abs(old), abs(new))  # float noise at the boundary never fails
    return worse > allowed + eps, worse, allowed


def _direction_for(tol: Tolerance | None, spec: MetricSpec | None) -> tuple[str, float | None]:
    if tol is not None and tol.sign == "+":
        return HIGHER, None
    if tol is not None and tol.sign == "-":
        return LOWER, None
    if spec is not None:
        return spec.worse, spec.target
    return EITHER, None


def pair_models(baseline_names: Sequence[str], current_names: Sequence[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """Match this run's models with the baseline's by name; one each side pair up whatever their names."""
    notes: list[str] = []
    if len(baseline_names) == 1 and len(current_names) == 1:
        b, c = baseline_names[0], current_names[0]
        if b != c:
            notes.append(f"comparing model {c} with the baseline's only model {b}")
        return [(c, b)], notes
    pairs = [(c, c) for c in current_names if c in baseline_names]
    for c in current_names:
        if c not in baseline_names:
            notes.append(f"model {c} is not in the baseline (it has {', '.join(baseline_names) or 'no models'}): not compared")
    return pairs, notes


def compare(baseline: Mapping[str, Any], current: Mapping[str, Mapping[str, Any]], tolerances: Sequence[Tolerance] = (),
            *, baseline_path: str = "", specs: Sequence[MetricSpec] = METRICS) -> Result:
    """Compare ``current`` snapshots (model -> :func:`snapshot`) with a loaded baseline document.

    For each metric in both, the first matching ``--rvcqa-compare-fail`` item sets the tolerance
    (and, with a sign, the direction); otherwise the metric's declared default applies; a metric
    with neither is reported for information only.
    """
    result = Result(baseline_path)
    base_models: Mapping[str, Any] = baseline.get("models", {})
    pairs, notes = pair_models(list(base_models), list(current))
    result.notes += notes
    used: set[int] = set()
    for name, base_name in pairs:
        old_m = {k: _from_json_number(v) for k, v in base_models[base_name].get("measurements", {}).items()}
        new_m = numeric_measurements(current[name].get("measurements", {}))
        for metric in sorted(set(old_m) | set(new_m)):
            old, new = old_m.get(metric), new_m.get(metric)
            idx, tol = next(((i, t) for i, t in enumerate(tolerances) if t.matches(metric)), (None, None))
            if idx is not None:
                used.add(idx)
            spec = metric_spec(metric, specs)
            if tol is None and spec is not None:
                tol = spec.default
            direction, target = _direction_for(tol, spec)
            comp = Comparison(name, base_name, metric, old, new, tol.text() if tol else "", direction if tol else "")
            if old is None:
                comp.note = "new metric (not in the baseline)"
            elif new is None:
                comp.note = "not measured in this run"
            elif tol is not None:
                comp.regressed, comp.worsening, comp.allowed = judge(old, new, direction, tol, target)
                if comp.regressed:
                    comp.note = "regression"
            result.comparisons.append(comp)
        was = set(base_models[base_name].get("failed") or [])
        now = set(current[name].get("failed") or [])
        if now - was:
            result.newly_failing[name] = sorted(now - was)
    for i, tol in enumerate(tolerances):
        if i not in used:
            result.notes.append(f"--rvcqa-compare-fail {tol.text()} matched no measurement of the compared models")
    return result


# --------------------------------------------------------------------------- text

def _num(v: float | None) -> str:
    if v is None:
        return "-"
    if not math.isfinite(v):
        return str(v)
    return f"{v:.4g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.2e}"


def format_lines(result: Result, *, verbose: bool = False) -> list[str]:
    """Lines for the terminal summary: regressions with old/new values, then notes."""
    lines: list[str] = []
    judged = [c for c in result.comparisons if c.rule and c.old is not None and c.new is not None]
    regs = result.regressions
    head = f"baseline {result.baseline_path}: "
    if regs:
        head += f"{len(regs)} regression{'s' if len(regs) != 1 else ''} in {len(judged)} compared metrics"
    else:
        head += f"no regressions ({len(judged)} metrics compared)"
    lines.append(head)
    rows = regs if not verbose else [c for c in result.comparisons if c.old is not None or c.new is not None]
    if rows:
        width = max(len(f"{c.model}: {c.metric}") for c in rows)
        lines.append(f"    {'model: metric':<{width}}  {'baseline':>10}  {'now':>10}  {'change':>10}  rule")
        for c in rows:
            change = "-" if c.delta is None else f"{c.delta:+.4g}"
            flag = "REGRESSION" if c.regressed else (c.note or "ok")
            lines.append(f"    {c.model + ': ' + c.metric:<{width}}  {_num(c.old):>10}  {_num(c.new):>10}  "
                         f"{change:>10}  {c.rule or 'info'} ({c.direction or 'not judged'}) {flag}")
    for model, ids in result.newly_failing.items():
        lines.append(f"    {model}: failing now but not in the baseline: {', '.join(ids)}")
    lines += [f"    note: {n}" for n in result.notes]
    return lines
