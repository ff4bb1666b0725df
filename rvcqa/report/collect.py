"""Build the report's data model from ModelContexts: their findings, measurements and a few facts.

The findings are the very :class:`~rvcqa.findings.Finding` objects the quality tests assert on
(``ctx.findings(module)`` caches them per model), so the report, the terminal summary, baselines and
the tests share one source of truth. A :class:`ModelReport` is JSON-able (``to_dict``/``from_dict``)
so pytest-xdist workers can send it to the controller.

``collect(ctx, run_missing=False)`` (pytest) takes only the check modules this session ran;
``run_missing=True`` (``rvcqa report``) runs the others. Every fact is gathered defensively: a
section that cannot be produced carries the reason instead.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from rvcqa.facts import inference_summary
from rvcqa.findings import Finding, Status, jsonable
from rvcqa.stats import median_or_zero

#: report order of the check modules (``rvcqa.profile.CHECK_MODULES``) plus the hypotheses
#: what Applio's extract_model writes beside the weights, shown in the report's configuration
APPLIO_METADATA = ("vocoder", "embedder_model", "epoch", "step", "dataset_length", "model_hash", "author",
                   "creation_date", "speakers_id")
MODULE_ORDER = ("structure", "provenance", "dataset", "trainlog", "history", "perceptual", "hypotheses")
#: check-id prefix -> human title
PREFIX_TITLES = {
    "structure": "Structure",
    "provenance": "Provenance",
    "dataset": "Dataset",
    "training": "Training log",
    "perceptual": "Perceptual",
    "hypothesis": "Hypothesis",
}
HYPOTHESIS_TITLES = {
    "hypothesis.insufficient_training": "Insufficient training",
    "hypothesis.feature_misalignment": "Feature extraction misalignment",
    "hypothesis.pretrained_mismatch": "Pretrained model mismatch",
    "hypothesis.learning_rate": "Learning rate / optimizer issues",
    "hypothesis.batch_size": "Batch size too small",
}
LOSS_KEYS = ("loss_mel", "loss_kl", "loss_gen", "loss_disc", "loss_fm")


@dataclass
class ModelReport:
    """Everything the report shows about one model (JSON-able through ``to_dict``)."""

    name: str
    root: str = ""
    layout: str = ""
    inference_file: str | None = None
    results_dir: str | None = None
    findings: dict[str, Finding] = field(default_factory=dict)
    modules_run: list[str] = field(default_factory=list)
    modules_missing: dict[str, str] = field(default_factory=dict)  # module -> why not in the report
    measurements: dict[str, Any] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)  # pytest outcome -> count, when under pytest
    facts: dict[str, Any] = field(default_factory=dict)  # report extras (config, log series, weights, audio)

    # ------------------------------------------------------------------ verdict
    def checks(self) -> list[Finding]:
        """Gate findings (the hypotheses are informational and not part of the verdict)."""
        return [f for f in self.findings.values() if not f.check.startswith("hypothesis.")]

    def failed(self) -> list[Finding]:
        return [f for f in self.checks() if f.status is Status.FAILED]

    def warnings(self) -> list[Finding]:
        return [f for f in self.checks() if f.status is Status.WARNING]

    def hypotheses(self) -> list[Finding]:
        return [f for f in self.findings.values() if f.check.startswith("hypothesis.")]

    @property
    def verdict(self) -> str:
        """FAIL, PASS, PASS (warnings) or NOT RUN, from the findings (the tests' own outcomes)."""
        if self.outcomes.get("failed") or self.outcomes.get("error"):
            return "FAIL"
        if self.failed():
            return "FAIL"
        if not self.checks() or all(f.skipped for f in self.checks()):
            return "NOT RUN"
        return "PASS (warnings)" if self.warnings() else "PASS"

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in Status}
        for f in self.checks():
            out[f.status.value] += 1
        return out

    def snapshot(self) -> dict[str, Any]:
        """This model's entry in a baseline file."""
        from rvcqa.baseline import snapshot

        return snapshot(self.measurements, verdict=self.verdict, failed=[f.check for f in self.failed()],
                        model_dir=self.root, inference_file=self.inference_file)

    # ------------------------------------------------------------------ transport
    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "root": self.root, "layout": self.layout, "inference_file": self.inference_file,
            "results_dir": self.results_dir, "findings": [f.to_dict() for f in self.findings.values()],
            "modules_run": list(self.modules_run), "modules_missing": dict(self.modules_missing),
            "measurements": jsonable(self.measurements), "outcomes": dict(self.outcomes),
            "facts": jsonable(self.facts),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ModelReport":
        return cls(
            name=str(data["name"]), root=data.get("root", ""), layout=data.get("layout", ""),
            inference_file=data.get("inference_file"), results_dir=data.get("results_dir"),
            findings={f["check"]: finding_from_dict(f) for f in data.get("findings", [])},
            modules_run=list(data.get("modules_run", [])), modules_missing=dict(data.get("modules_missing", {})),
            measurements=dict(data.get("measurements", {})), outcomes=dict(data.get("outcomes", {})),
            facts=dict(data.get("facts", {})),
        )

    def merge(self, other: "ModelReport") -> None:
        """Fold in what another xdist worker learnt about the same model."""
        self.findings.update(other.findings)
        self.modules_run = sorted(set(self.modules_run) | set(other.modules_run), key=_module_rank)
        for mod in other.modules_run:
            self.modules_missing.pop(mod, None)
        for mod, why in other.modules_missing.items():
            if mod not in self.modules_run:
                self.modules_missing.setdefault(mod, why)
        self.measurements.update(other.measurements)
        for k, v in other.outcomes.items():
            self.outcomes[k] = self.outcomes.get(k, 0) + v
        for k, v in other.facts.items():
            if k not in self.facts or (v and not self.facts[k]):
                self.facts[k] = v
        self.findings = dict(sorted(self.findings.items(), key=lambda kv: _check_rank(kv[0])))


def finding_from_dict(d: Mapping[str, Any]) -> Finding:
    return Finding(
        check=d["check"], status=Status(d["status"]), message=d.get("message", ""), measured=d.get("measured"),
        expected=d.get("expected"), cause=d.get("cause"), subject=d.get("subject"), details=dict(d.get("details") or {}),
    )


def _module_rank(name: str) -> int:
    return MODULE_ORDER.index(name) if name in MODULE_ORDER else len(MODULE_ORDER)


def _check_rank(check_id: str) -> int:
    prefix = check_id.split(".", 1)[0]
    order = ("structure", "provenance", "dataset", "training", "perceptual", "hypothesis")
    return order.index(prefix) if prefix in order else len(order)


# --------------------------------------------------------------------------- modules

def report_modules() -> list[tuple[str, Any]]:
    """(short name, module-like) for every check module importable now, plus the hypotheses."""
    from rvcqa.profile import check_modules

    out: list[tuple[str, Any]] = []
    for mod in check_modules():
        short = mod.__name__.rsplit(".", 1)[-1]
        out.append((short, mod))
        if short == "trainlog" and hasattr(mod, "HYPOTHESES"):
            out.append(("hypotheses", mod.HYPOTHESES))
    return out


def cached_findings(ctx: Any, module: Any) -> dict[str, Finding] | None:
    """The findings this session already computed for ``module``, without running anything."""
    found: dict[str, Finding] | None = ctx.cached_findings(module)
    return found


def collect(ctx: Any, *, run_missing: bool = False, facts: bool = True,
            only: Iterable[str] | None = None) -> ModelReport:
    """A :class:`ModelReport` for one :class:`~rvcqa.context.ModelContext`.

    ``run_missing``: run check modules this session has not run (``rvcqa report``); otherwise they
    are listed as not run. ``facts``: gather the report's extras (needs the inference model, log
    and results folder; skipped for a summary-only payload). ``only``: module short names to run.
    """
    from rvcqa.errors import RvcqaError

    md = ctx.md
    rep = ModelReport(
        name=ctx.name, root=str(md.root), layout=getattr(md, "layout", ""),
        inference_file=str(md.inference_file) if getattr(md, "inference_file", None) else None,
        results_dir=str(ctx.options.results_dir) if getattr(ctx.options, "results_dir", None) else None,
    )
    wanted = set(only) if only is not None else None
    try:
        modules = report_modules()
    except Exception as exc:  # a check module that does not import (being written right now)
        modules = []
        rep.modules_missing["*"] = f"the check modules cannot be imported: {type(exc).__name__}: {exc}"
    for short, mod in modules:
        found = cached_findings(ctx, mod)
        if found is None and run_missing and (wanted is None or short in wanted or
                                              (short in ("hypotheses", "history") and "trainlog" in wanted)):
            try:
                found = ctx.findings(mod)
            except RvcqaError as error:
                rep.modules_missing[short] = f"could not run: {error}"
                continue
            except Exception as exc:  # a bug in a check module must not lose the rest of the report
                rep.modules_missing[short] = f"crashed: {type(exc).__name__}: {exc}"
                continue
        if found is None:
            rep.modules_missing[short] = ("not run in this session (deselected, or no test of it ran)"
                                          if not run_missing else "not selected")
            continue
        rep.modules_run.append(short)
        for cid, finding in found.items():
            rep.findings[cid] = finding
    rep.measurements = dict(ctx.measurements)
    if facts:
        rep.facts = gather_facts(ctx, rep)
    return rep


# --------------------------------------------------------------------------- facts

def _guard(facts: dict[str, Any], key: str, fn: Any) -> None:
    try:
        value = fn()
    except Exception as exc:  # noqa: BLE001 - each section says why it is missing
        facts.setdefault("errors", {})[key] = f"{type(exc).__name__}: {exc}"
        return
    if value is not None:
        facts[key] = value


def gather_facts(ctx: Any, rep: ModelReport) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    _guard(facts, "model", lambda: _model_facts(ctx))
    _guard(facts, "log", lambda: _log_facts(ctx))
    _guard(facts, "config_json", lambda: _config_json_facts(ctx))
    _guard(facts, "weights", lambda: _weight_facts(ctx))
    _guard(facts, "reference", lambda: _reference_facts(ctx, rep))
    _guard(facts, "audio", lambda: find_audio(ctx, rep))
    _guard(facts, "files", lambda: _files(ctx))
    return facts


def _model_facts(ctx: Any) -> dict[str, Any] | None:
    if getattr(ctx.md, "inference_file", None) is None:
        return None
    out = inference_summary(ctx.inference_model())
    out["f0"] = bool(out["f0"])
    out.pop("info_or_epoch", None)
    model = ctx.inference_model()
    applio = {k: model.extra[k] for k in APPLIO_METADATA if isinstance(model.extra.get(k), (str, int, float))}
    if applio:
        out["applio"] = applio
    latest = getattr(ctx.md, "latest_g", None)
    if latest is not None:
        out["latest_g"] = latest.path.name
        out["latest_step"] = latest.step
    return out


def _log_facts(ctx: Any) -> dict[str, Any] | None:
    log = ctx.train_log()
    if log is None:
        return None
    entries = list(log.entries)
    series: dict[str, list[Any]] = {"step": [e.step for e in entries], "epoch": [e.epoch for e in entries]}
    for key in LOSS_KEYS:
        series[key] = [_f(getattr(e, key)) for e in entries]
    series["mel_capped"] = [bool(e.mel_capped) for e in entries]
    series["kl_capped"] = [bool(e.kl_capped) for e in entries]
    hp = log.hparams or {}
    hparams = {
        "batch_size": log.hparam("train", "batch_size"),
        "learning_rate": log.hparam("train", "learning_rate"),
        "lr_decay": log.hparam("train", "lr_decay"),
        "epochs_total": hp.get("total_epoch"),
        "save_every_epoch": hp.get("save_every_epoch"),
        "sample_rate": hp.get("sample_rate") or log.hparam("data", "sampling_rate"),
        "version": hp.get("version"),
        "if_f0": hp.get("if_f0"),
        "if_latest": hp.get("if_latest"),
        "fp16_run": log.hparam("train", "fp16_run"),
        "pretrainG": log.pretrain_g,
        "pretrainD": log.pretrain_d,
        "gpus": hp.get("gpus"),
    }
    lrs = [e.lr for e in entries if e.lr is not None]
    return {
        "path": str(log.path) if log.path else None,
        "format": log.format,
        "n_lines": log.n_lines,
        "last_step": log.last_step,
        "last_epoch": log.last_epoch,
        "finished": bool(log.finished),
        "has_hparams": bool(log.hparams),
        "hparams": {k: v for k, v in hparams.items() if v not in (None, "")},
        "pretrained_loaded": [{"path": p.path, "matched": p.matched, "result": p.result} for p in log.pretrained_loaded],
        "pretrained_missing": list(log.pretrained_missing),
        "lr_first": lrs[0] if lrs else None,
        "lr_last": lrs[-1] if lrs else None,
        "series": series,
        "applio_epochs": len(log.applio_epochs),
        "source": ctx.history().source,
    }


def _f(v: Any) -> float | None:
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _config_json_facts(ctx: Any) -> dict[str, Any] | None:
    cfg = ctx.config_json()
    if not cfg:
        return None
    train = cfg.get("train", {}) if isinstance(cfg.get("train"), dict) else {}
    data = cfg.get("data", {}) if isinstance(cfg.get("data"), dict) else {}
    return {
        "batch_size": train.get("batch_size"),
        "learning_rate": train.get("learning_rate"),
        "epochs": train.get("epochs"),
        "fp16_run": train.get("fp16_run"),
        "sampling_rate": data.get("sampling_rate", data.get("sample_rate")),
        "hop_length": data.get("hop_length"),
    }


def _weight_facts(ctx: Any) -> dict[str, Any] | None:
    """Layers training -> inference, NaN/Inf and value statistics (the report's weights analysis)."""
    if getattr(ctx.md, "inference_file", None) is None:
        return None
    from rvcqa.weights import dtype_counts, parameter_count, weight_stats

    model = ctx.inference_model()
    stats = list(weight_stats(model.weight).values())
    finite_stats = [s for s in stats if s.numel > 1]
    stds = sorted(s.std for s in finite_stats) or [0.0]
    means = [s.mean for s in finite_stats] or [0.0]
    out: dict[str, Any] = {
        "inference_layers": len(model.weight),
        "parameters": parameter_count(model.weight),
        "nan_tensors": sum(1 for s in stats if s.n_nan),
        "inf_tensors": sum(1 for s in stats if s.n_inf),
        "nan_values": sum(s.n_nan for s in stats),
        "inf_values": sum(s.n_inf for s in stats),
        "mean_range": [min(means), max(means)],
        "mean_abs_median": median_or_zero([abs(m) for m in means]),
        "std_range": [stds[0], stds[-1]],
        "std_median": median_or_zero(stds),
        "max_abs": max((s.max_abs for s in stats), default=0.0),
        "dtypes": dtype_counts(model.weight),
    }
    latest = getattr(ctx.md, "latest_g", None)
    if latest is not None:
        try:
            ck = ctx.training_checkpoint(latest.path)
            keys = list(ck.model)
            out["training_file"] = latest.path.name
            out["training_layers"] = len(keys)
            out["training_enc_q_layers"] = sum(1 for k in keys if k.startswith("enc_q."))
            out["training_epoch"] = ck.iteration
        except Exception as exc:  # noqa: BLE001
            out["training_error"] = f"{latest.path.name}: {exc}"
    return out


def _reference_facts(ctx: Any, rep: ModelReport) -> dict[str, Any] | None:
    ref = getattr(ctx.options, "reference_model", None)
    if ref is None:
        return None
    f = rep.findings.get("structure.reference_agreement")
    rows = (f.details.get("table") if f is not None else None) or None
    if rows is None:
        for modname in ("rvcqa.checks.structure", "rvcqa.checks.provenance"):
            try:
                import importlib

                fn = getattr(importlib.import_module(modname), "reference_comparison", None)
            except ImportError:
                fn = None
            if fn is not None:
                rows = fn(ctx)
                break
    return {"path": str(ref), "name": Path(ref).name, "rows": rows or []}


def _files(ctx: Any) -> dict[str, Any]:
    md = ctx.md
    out: dict[str, Any] = {"root": str(md.root)}
    if getattr(md, "inference_file", None):
        out["inference"] = str(md.inference_file)
    latest = getattr(md, "latest_g", None)
    if latest is not None:
        out["latest_g"] = str(latest.path)
    for key in ("config_json", "train_log", "gt_wavs", "wavs16k", "features", "f0_coarse", "f0_hz"):
        value = getattr(md, key, None)
        if value is not None:
            out[key] = str(value)
    return out


# --------------------------------------------------------------------------- audio the checks wrote

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


def find_audio(ctx: Any, rep: ModelReport) -> dict[str, Any]:
    """Input/output pairs from the wavs the perceptual checks saved in the results folder.

    Resynthesis: ``results/NAME/resynthesis/{stem}.wav`` against ``0_gt_wavs/{stem}.wav``.
    Conversion: ``results/NAME/conversion/*.wav`` against the reference clips it converted (the
    finding's ``details["inputs"]``, else the bundled/--reference-audio files matched by stem).
    """
    results = Path(rep.results_dir) if rep.results_dir else None
    out: dict[str, Any] = {"resynthesis": [], "conversion": [], "notes": []}
    if results is None or not results.is_dir():
        out["notes"].append(f"no results folder {results} with converted audio (the perceptual checks did not run)"
                            if results else "no results folder configured")
        return out
    gt_dir = getattr(ctx.md, "gt_wavs", None)
    rdir = results / "resynthesis"
    if rdir.is_dir():
        for wav in sorted(p for p in rdir.iterdir() if p.suffix in AUDIO_SUFFIXES):
            gt = Path(gt_dir) / wav.name if gt_dir is not None else None
            out["resynthesis"].append({"name": wav.stem, "output": str(wav),
                                       "input": str(gt) if gt is not None and gt.is_file() else None})
    cdir = results / "conversion"
    if cdir.is_dir():
        inputs = _conversion_inputs(ctx, rep)
        for wav in sorted(p for p in cdir.iterdir() if p.suffix in AUDIO_SUFFIXES):
            src = next((i for i in inputs if wav.stem == Path(i).stem or wav.stem.startswith(Path(i).stem)), None)
            out["conversion"].append({"name": wav.stem, "output": str(wav), "input": src})
    if not out["resynthesis"] and not out["conversion"]:
        out["notes"].append(f"no converted audio in {results} (resynthesis/ and conversion/ are empty or absent: "
                            "the perceptual checks did not run or were skipped)")
    for kind in ("resynthesis", "conversion"):
        for pair in out[kind]:
            pair.update(_levels(pair))
    return out


def _conversion_inputs(ctx: Any, rep: ModelReport) -> list[str]:
    f = rep.findings.get("perceptual.convert_flatness")
    inputs = list(f.details.get("inputs", [])) if f is not None else []
    if inputs:
        return [str(i) for i in inputs]
    for p in getattr(ctx.options, "reference_audio", []) or []:
        p = Path(p)
        if p.is_dir():
            inputs += [str(x) for x in sorted(p.iterdir()) if x.suffix.lower() in AUDIO_SUFFIXES + (".mp3",)]
        else:
            inputs.append(str(p))
    if not inputs:
        bundled = Path(__file__).resolve().parent.parent / "data" / "reference_audio"
        if bundled.is_dir():
            inputs = [str(x) for x in sorted(bundled.iterdir()) if x.suffix.lower() in AUDIO_SUFFIXES]
    return inputs


def _levels(pair: Mapping[str, Any]) -> dict[str, Any]:
    """Peak and RMS of input and output (the report's max amplitude / RMS rows)."""
    import numpy as np
    import soundfile as sf

    out: dict[str, Any] = {}
    for side in ("input", "output"):
        path = pair.get(side)
        if not path:
            continue
        try:
            y, sr = sf.read(str(path), dtype="float32", always_2d=True)
        except Exception as exc:  # noqa: BLE001
            out[f"{side}_error"] = str(exc)
            continue
        y = y.mean(axis=1)
        finite = np.isfinite(y)
        yf = y[finite] if finite.any() else np.zeros(1, dtype=np.float32)
        out[f"{side}_peak"] = float(np.max(np.abs(yf)))
        out[f"{side}_rms"] = float(np.sqrt(np.mean(yf.astype(np.float64) ** 2)))
        out[f"{side}_sr"] = int(sr)
        out[f"{side}_seconds"] = round(len(y) / sr, 3) if sr else None
        if not finite.all():
            out[f"{side}_nonfinite"] = int((~finite).sum())
    return out


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
