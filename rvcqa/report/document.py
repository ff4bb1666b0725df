"""The report's content, as a list of neutral blocks that :mod:`markdown` and :mod:`html` render.

The shape follows the diagnosis report users write by hand (the lexi report): problem summary,
key findings with tables, hypotheses with verdicts, next steps, files. Every statement comes from a
finding (or a fact gathered next to it); nothing here judges anything on its own.

Inline markup inside block text: ``**bold**`` and ```code```, nothing else; renderers escape the rest.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Sequence

from rvcqa.findings import Finding, Status
from rvcqa.report.collect import HYPOTHESIS_TITLES, PREFIX_TITLES, ModelReport


# --------------------------------------------------------------------------- blocks

@dataclass
class Heading:
    level: int
    text: str


@dataclass
class Para:
    text: str
    kind: str = ""  # "", "note", "fail", "pass", "warn"


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    status_col: int | None = None  # a column holding passed/failed/... (coloured in HTML)


@dataclass
class Code:
    text: str


@dataclass
class Bullets:
    items: list[str]
    ordered: bool = False


@dataclass
class Figure:
    """A picture drawn by :mod:`rvcqa.report.plots` (``kind`` is a function name there)."""

    key: str  # unique file-name-safe id
    kind: str
    title: str
    args: dict[str, Any] = field(default_factory=dict)
    caption: str = ""


Block = Any  # Heading | Para | Table | Code | Bullets | Figure


# --------------------------------------------------------------------------- wording helpers

STATUS_WORD = {
    Status.PASSED: "passed",
    Status.FAILED: "failed",
    Status.WARNING: "warning",
    Status.SKIPPED: "skipped",
}


def check_title(check_id: str) -> str:
    """``provenance.latest_checkpoint`` -> ``Provenance: latest checkpoint``."""
    if check_id in HYPOTHESIS_TITLES:
        return HYPOTHESIS_TITLES[check_id]
    prefix, _, rest = check_id.partition(".")
    words = rest.replace("_", " ").replace(".", " ") or prefix
    return f"{PREFIX_TITLES.get(prefix, prefix.title())}: {words}"


def num(v: Any, digits: int = 4) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e6):
            return f"{v:.{max(digits - 2, 1)}e}"
        return f"{v:.{digits}g}"
    return str(v)


def hz(v: Any) -> str:
    return "n/a" if v is None else f"{float(v):.0f} Hz"


def _median(values: Iterable[Any]) -> float | None:
    vals = sorted(float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)
                  and math.isfinite(float(v)))
    if not vals:
        return None
    mid = len(vals) // 2
    return vals[mid] if len(vals) % 2 else (vals[mid - 1] + vals[mid]) / 2


def _status_cell(f: Finding | None) -> str:
    return STATUS_WORD.get(f.status, f.status.value) if f is not None else "not run"


def _expected(f: Finding | None, fallback: str) -> str:
    if f is None or f.expected is None:
        return fallback
    return str(f.expected) if not isinstance(f.expected, float) else num(f.expected)


# --------------------------------------------------------------------------- the document

def build(models: Sequence[ModelReport], *, plots_available: bool = True, plots_reason: str = "",
          generated: datetime | None = None, title: str | None = None) -> list[Block]:
    """All blocks of the report for one or more models."""
    when = (generated or datetime.now()).strftime("%Y-%m-%d %H:%M")
    blocks: list[Block] = []
    if len(models) == 1:
        m = models[0]
        blocks.append(Heading(1, title or f"{m.name} RVC Model Diagnosis Report"))
    else:
        blocks.append(Heading(1, title or f"RVC Model Diagnosis Report ({len(models)} models)"))
        blocks += _overview(models)
    if not plots_available:
        blocks.append(Para(f"This report has no pictures: {plots_reason or 'matplotlib is not installed'} "
                           "(pip install 'rvcqa[plots]').", "note"))
    for m in models:
        blocks += model_blocks(m, level=2 if len(models) == 1 else 2, multi=len(models) > 1,
                               plots_available=plots_available)
    blocks.append(Para("---"))
    for m in models:
        blocks.append(Para(f"Generated: {when} by rvcqa  \nModel: {m.name} ({_model_line(m)})  \n"
                           f"Status: **{_status_line(m)}**"))
    return blocks


def _overview(models: Sequence[ModelReport]) -> list[Block]:
    rows = []
    for m in models:
        c = m.counts()
        failed = ", ".join(f.check for f in m.failed()[:6]) + (" ..." if len(m.failed()) > 6 else "")
        rows.append([m.name, m.verdict, str(c["passed"]), str(c["failed"]), str(c["warning"]), str(c["skipped"]),
                     failed or "-"])
    return [Heading(2, "Gate overview"),
            Table(["Model", "Verdict", "Passed", "Failed", "Warnings", "Skipped", "Failed checks"], rows, status_col=1)]


def _model_line(m: ModelReport) -> str:
    mf = m.facts.get("model") or {}
    parts = []
    if mf.get("epoch") is not None:
        parts.append(f"{mf['epoch']} epochs")
    if mf.get("sr_hz"):
        parts.append(f"{mf['sr_hz'] // 1000}kHz")
    if mf.get("version"):
        parts.append(f"RVC {mf['version']}")
    return ", ".join(parts) or m.root


def _status_line(m: ModelReport) -> str:
    v = m.verdict
    if v == "FAIL":
        headline = m.findings.get("perceptual.verdict")
        if headline is not None and headline.failed:
            return f"BROKEN - {headline.message}"
        return f"FAIL - {len(m.failed())} check{'s' if len(m.failed()) != 1 else ''} failed"
    return v


def model_blocks(m: ModelReport, *, level: int = 2, multi: bool = False, plots_available: bool = True) -> list[Block]:
    h = level
    out: list[Block] = []
    if multi:
        out.append(Heading(h, f"{m.name}"))
        h += 1
    out += problem_summary(m, h)
    out.append(Heading(h, "Key Diagnostic Findings"))
    sections = [
        ("Model provenance (which checkpoint)", provenance_section),
        ("Output analysis", output_section),
        ("Training configuration", config_section),
        ("Loss progression (training log)", loss_section),
        ("Pretrained model used", pretrained_section),
        ("Preprocessing verification", dataset_section),
        ("Model weights analysis", weights_section),
        ("Comparison with a reference model", reference_section),
        ("Audio: spectrograms, F0 and waveforms", audio_section),
        ("Epoch sweep: which checkpoint to release", sweep_section),
    ]
    for i, (title, fn) in enumerate(sections, 1):
        out.append(Heading(h + 1, f"{i}. {title}"))
        try:
            body = fn(m, plots_available) if fn in (loss_section, audio_section) else fn(m)
        except Exception as exc:  # noqa: BLE001 - a section that cannot be produced says why
            body = [Para(f"This section could not be produced: {type(exc).__name__}: {exc}", "note")]
        out += body
    out += hypotheses_section(m, h)
    out += next_steps_section(m, h)
    out += files_section(m, h)
    out += all_checks_section(m, h)
    return out


# --------------------------------------------------------------------------- problem summary

def problem_summary(m: ModelReport, h: int) -> list[Block]:
    out: list[Block] = [Heading(h, "Problem Summary")]
    c = m.counts()
    total = sum(c.values())
    verdict = m.verdict
    if verdict == "FAIL":
        out.append(Para(f"**Verdict: FAIL** - {c['failed']} of {total} checks failed "
                        f"({c['passed']} passed, {c['warning']} warnings, {c['skipped']} skipped).", "fail"))
    elif verdict == "NOT RUN":
        out.append(Para("**Verdict: NOT RUN** - no check produced a result for this model.", "warn"))
    else:
        out.append(Para(f"**Verdict: {verdict}** - {c['passed']} of {total} checks passed "
                        f"({c['warning']} warnings, {c['skipped']} skipped).", "pass" if verdict == "PASS" else "warn"))
    if m.outcomes:
        o = m.outcomes
        out.append(Para(f"pytest: {o.get('passed', 0)} passed, {o.get('failed', 0)} failed, "
                        f"{o.get('skipped', 0)} skipped" + (f", {o['error']} errors" if o.get("error") else "")))
    headline = m.findings.get("perceptual.verdict")
    if headline is not None and not headline.skipped:
        out.append(Para(f"In one sentence: {headline.message}."
                        if not headline.message.endswith(".") else f"In one sentence: {headline.message}"))
    failed = [f for f in m.failed() if not (headline is not None and f is headline)]
    if failed:
        out.append(Para("What failed, in plain words:"))
        out.append(Bullets([f"**{check_title(f.check)}** - {f.message}" for f in failed]))
    warns = m.warnings()
    if warns:
        out.append(Para("Warnings (suspicious, not failing the gate):"))
        out.append(Bullets([f"**{check_title(f.check)}** - {f.message}" for f in warns]))
    if m.modules_missing:
        out.append(Para("Not in this report: " + "; ".join(f"{k} checks ({v})" for k, v in m.modules_missing.items()),
                        "note"))
    return out


# --------------------------------------------------------------------------- 1. provenance

def provenance_section(m: ModelReport) -> list[Block]:
    fs = {k: v for k, v in m.findings.items() if k.startswith("provenance.")}
    if not fs:
        return [Para(_missing(m, "provenance"), "note")]
    out: list[Block] = []
    latest = fs.get("provenance.latest_checkpoint")
    source = fs.get("provenance.source_checkpoint")
    for f in (latest, source, fs.get("provenance.not_pretrained"), fs.get("provenance.epoch_info")):
        if f is None:
            continue
        prefix = {"failed": "**Critical:** ", "warning": "**Warning:** "}.get(f.status.value, "")
        out.append(Para(f"{prefix}{f.message} ({_status_cell(f)})", "fail" if f.failed else ""))
        if f.failed and f.cause:
            out.append(Para(f"Likely cause: {f.cause}"))
    table = (fs.get("provenance.checkpoints") or Finding("x", Status.SKIPPED, "")).details.get("table") or []
    if table:
        rows = []
        for r in table:
            marks = []
            if r.get("source"):
                marks.append("inference weights")
            if r.get("latest"):
                marks.append("latest")
            if r.get("error"):
                marks.append(f"unreadable: {r['error']}")
            rows.append([str(r.get("file")), str(r.get("kind")), num(r.get("epoch")), num(r.get("step")),
                         num(r.get("lr"), 6) if r.get("lr") is not None else "-", str(r.get("modified", "")),
                         num(r.get("size_mb")), ", ".join(marks) or "-"])
        out.append(Table(["File", "Kind", "Epoch", "Step", "lr", "Modified", "MB", "Note"], rows))
    elif fs.get("provenance.checkpoints") is not None:
        out.append(Para(fs["provenance.checkpoints"].message, "note"))
    return out


def _missing(m: ModelReport, module: str) -> str:
    why = m.modules_missing.get(module)
    return f"The {module} checks are not in this report: {why}." if why else f"No {module} findings for this model."


# --------------------------------------------------------------------------- 2. output analysis

def output_section(m: ModelReport) -> list[Block]:
    out: list[Block] = []
    audio = m.facts.get("audio") or {}
    any_table = False
    for kind, label_in, label_out in (("convert", "Input (original)", "Output (converted)"),
                                      ("resynth", "Training audio (GT)", "Output (resynthesised)")):
        flat = m.findings.get(f"perceptual.{kind}_flatness")
        if flat is None:
            continue
        if flat.skipped:
            out.append(Para(f"{'Conversion' if kind == 'convert' else 'Resynthesis'}: {flat.message}", "note"))
            continue
        rows = _output_rows(m, kind, audio.get("conversion" if kind == "convert" else "resynthesis") or [])
        if not rows:
            continue
        title = ("Conversion of reference speech the model never heard" if kind == "convert"
                 else "Resynthesis of the model's own training segments (no HuBERT involved)")
        out.append(Para(f"**{title}** (medians over {_scope(flat)}):"))
        out.append(Table(["Metric", label_in, label_out, "Healthy range", "Check"], rows, status_col=4))
        any_table = True
    verdict = m.findings.get("perceptual.verdict")
    if verdict is not None and not verdict.skipped:
        out.append(Para(f"**Interpretation:** {verdict.message}" + (f" Likely cause: {verdict.cause}" if verdict.cause
                                                                      and verdict.failed else "")))
    if not any_table and not out:
        out.append(Para(_missing(m, "perceptual"), "note"))
    return out


def _scope(f: Finding) -> str:
    per = f.details.get("per_clip") or f.details.get("per_segment") or []
    if not per:
        return "the clips measured"
    noun = "clip" if "per_clip" in f.details else "segment"
    return f"{len(per)} {noun}{'s' if len(per) != 1 else ''}"


def _output_rows(m: ModelReport, kind: str, pairs: list[dict[str, Any]]) -> list[list[str]]:
    f = m.findings
    flat, zcr, level = f.get(f"perceptual.{kind}_flatness"), f.get(f"perceptual.{kind}_zcr"), f.get(f"perceptual.{kind}_level")
    per = []
    for cand in (flat, zcr, level):
        if cand is not None:
            per = cand.details.get("per_clip") or cand.details.get("per_segment") or []
            if per:
                break
    if kind == "convert":
        fin, fout, zin, zout, rin, rout = "flatness_input", "flatness", "zcr_input_hz", "zcr_hz_at_16k", "rms_input", "rms"
    else:
        fin, fout, zin, zout, rin, rout = "flatness_gt", "flatness", "zcr_gt_hz", "zcr_hz", "rms_gt", "rms"
    rows: list[list[str]] = []
    if per:
        rows.append(["Spectral flatness", num(_median(p.get(fin) for p in per)), num(_median(p.get(fout) for p in per)),
                     _expected(flat, "< 0.1 for speech") + " (speech ~0.002, white noise ~0.56)", _status_cell(flat)])
        zi, zo = _median(p.get(zin) for p in per), _median(p.get(zout) for p in per)
        rng = _expected(zcr, "0.5-2")
        rows.append(["Zero crossing rate" + (" (at 16 kHz)" if kind == "convert" else ""), hz(zi), hz(zo),
                     f"similar to input (ratio {rng})", _status_cell(zcr)])
    pin = _median(p.get("input_peak") for p in pairs)
    pout = _median(p.get("output_peak") for p in pairs)
    if pin is not None or pout is not None:
        rows.append(["Max amplitude", num(pin), num(pout), "~same, <= 1.0", "-"])
    if per:
        ri, ro = _median(p.get(rin) for p in per), _median(p.get(rout) for p in per)
        rows.append(["RMS", num(ri), num(ro), "~same" + (f" (ratio {_expected(level, '0.25-4')})" if kind == "resynth"
                                                          else f" ({_expected(level, '-45..-6 dBFS')})"),
                     _status_cell(level)])
    extra = [(f"perceptual.{kind}_mel_distance", "Log-mel distance to GT"), (f"perceptual.{kind}_f0", "F0 agreement")]
    for cid, label in extra:
        g = f.get(cid)
        if g is not None and not g.skipped:
            rows.append([label, "-", num(g.measured) if not isinstance(g.measured, (dict, list)) else str(g.measured),
                         _expected(g, "-"), _status_cell(g)])
    return rows


# --------------------------------------------------------------------------- 3. training configuration

def config_section(m: ModelReport) -> list[Block]:
    mf = m.facts.get("model") or {}
    log = m.facts.get("log") or {}
    hp = log.get("hparams") or {}
    cj = m.facts.get("config_json") or {}
    meas = m.measurements
    if not (mf or log or cj):
        errs = m.facts.get("errors", {})
        why = errs.get("model") or errs.get("log") or "no inference model, config.json or training log was read"
        return [Para(f"No training configuration available: {why}", "note")]
    lines = [f"Model: {m.name}"]
    if mf:
        lines.append(f"Version: {mf.get('version')}")
        sr = mf.get("sr_hz")
        lines.append(f"Sample Rate: {sr // 1000}kHz ({mf.get('sr')!r} in the file)" if sr else f"Sample Rate: {mf.get('sr')!r}")
        lines.append(f"F0 model: {'yes' if mf.get('f0') else 'no'} (the F0 extractor, e.g. RMVPE, is not recorded in "
                     "RVC's files)")
        lines.append(f"Inference model: {mf.get('file')}, info {mf.get('info')!r}, {mf.get('weight_layers')} weight "
                     f"tensors, {mf.get('size_mb')} MB")
        if mf.get("applio"):
            lines.append("Applio metadata: " + ", ".join(f"{k} {v}" for k, v in mf["applio"].items()))
    if log.get("source"):
        lines.append(f"Training history from: {log['source']}")
    src = meas.get("source_checkpoint")
    if src:
        lines.append(f"Extracted from: {src}")
    steps = []
    if mf.get("latest_step") is not None:
        steps.append(f"{mf['latest_step']} (from checkpoint filename {mf.get('latest_g')})")
    if log.get("last_step") is not None:
        steps.append(f"{log['last_step']} (from logs)")
    if steps:
        lines.append("Total Steps: " + " / ".join(steps))
    epochs = []
    if mf.get("epoch") is not None:
        epochs.append(f"{mf['epoch']} (inference model)")
    w = m.facts.get("weights") or {}
    if w.get("training_epoch") is not None:
        epochs.append(f"{w['training_epoch']} ({w.get('training_file')})")
    if log.get("last_epoch") is not None:
        epochs.append(f"{log['last_epoch']} (log)")
    if hp.get("epochs_total") is not None:
        epochs.append(f"{hp['epochs_total']} planned")
    if epochs:
        lines.append("Epochs: " + " / ".join(epochs))
    bs = hp.get("batch_size", cj.get("batch_size"))
    if bs is not None:
        lines.append(f"Batch Size: {bs}")
    lr = hp.get("learning_rate", cj.get("learning_rate"))
    if lr is not None:
        lines.append(f"Learning rate: {lr:g} initial" + (f", {log['lr_last']:.4g} at the end" if log.get("lr_last") else "")
                     if isinstance(lr, (int, float)) else f"Learning rate: {lr}")
    spe = meas.get("training.steps_per_epoch")
    if spe is not None:
        lines.append(f"Steps per epoch: {spe}")
    n, minutes = meas.get("dataset.segment_count", meas.get("dataset.segments")), meas.get("dataset_minutes")
    if n is not None or minutes is not None:
        lines.append(f"Dataset: {n if n is not None else '?'} audio segments"
                     + (f" (~{minutes:.1f} minutes total)" if isinstance(minutes, (int, float)) else ""))
    if hp.get("fp16_run") is not None:
        lines.append(f"fp16_run: {hp['fp16_run']}")
    return [Code("\n".join(lines))]


# --------------------------------------------------------------------------- 4. loss progression

def _loss_points(series: dict[str, list[Any]], key: str) -> list[tuple[int, Any, Any, float]]:
    """(index, step, epoch, value) of finite values of one loss."""
    vals = series.get(key) or []
    steps, epochs = series.get("step") or [], series.get("epoch") or []
    out = []
    for i, v in enumerate(vals):
        if isinstance(v, (int, float)) and math.isfinite(v):
            out.append((i, steps[i] if i < len(steps) else None, epochs[i] if i < len(epochs) else None, float(v)))
    return out


def _where(step: Any, epoch: Any) -> str:
    parts = []
    if step is not None:
        parts.append(f"Step {step}")
    if epoch is not None:
        parts.append(f"epoch {epoch}")
    return ", ".join(parts) or "?"


def loss_section(m: ModelReport, plots_available: bool = True) -> list[Block]:
    log = m.facts.get("log")
    if not log:
        why = (m.facts.get("errors") or {}).get("log")
        msg = m.findings.get("training.log")
        return [Para(f"No training log: {why or (msg.message if msg else 'no train.log in the folder; pass --train-log PATH')}",
                     "note")]
    series = log.get("series") or {}
    mel, kl = _loss_points(series, "loss_mel"), _loss_points(series, "loss_kl")
    out: list[Block] = []
    if not mel:
        out.append(Para(f"The log ({log.get('format')} format, {log.get('n_lines')} lines) has no loss_mel values"
                        + (" (Applio prints losses only to TensorBoard)" if log.get("applio_epochs") else "") + ".", "note"))
    else:
        first, last = mel[0], mel[-1]
        low = min(mel, key=lambda p: p[3])
        kl_first = next((p for p in kl if p[0] == first[0]), kl[0] if kl else None)
        kl_last = next((p for p in kl if p[0] == last[0]), kl[-1] if kl else None)

        def kl_text(p: Any) -> str:
            return f", loss_kl={p[3]:.3f}" if p is not None else ""

        text = [f"Start ({_where(first[1], first[2])}):", f"  loss_mel={first[3]:.3f}{kl_text(kl_first)}", "",
                f"End ({_where(last[1], last[2])}):", f"  loss_mel={last[3]:.3f}{kl_text(kl_last)}", "",
                f"Lowest loss_mel: {low[3]:.3f} ({_where(low[1], low[2])})",
                f"{len(mel)} loss lines"]
        capped = sum(1 for c in series.get("mel_capped") or [] if c)
        if capped:
            text.append(f"{capped} lines print RVC's display cap 75.000 (true loss_mel was at least that)")
        out.append(Code("\n".join(text)))
    for cid in ("training.mel_progress", "training.mel_final", "training.kl", "training.nan"):
        f = m.findings.get(cid)
        if f is not None and not f.skipped:
            out.append(Para(f"**{check_title(cid)}** ({_status_cell(f)}): {f.message}", "fail" if f.failed else ""))
    if mel or _loss_points(series, "loss_gen"):
        if plots_available:
            out.append(Figure(f"{_slug(m.name)}-loss", "loss_curves", "Loss curves",
                              {"series": series, "name": m.name},
                              "loss_mel, loss_kl, loss_gen and loss_disc over training steps, from the parsed log."))
    return out


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in text) or "model"


# --------------------------------------------------------------------------- 4b. pretrained

def pretrained_section(m: ModelReport) -> list[Block]:
    log = m.facts.get("log") or {}
    hp = log.get("hparams") or {}
    out: list[Block] = []
    lines = []
    if "pretrainG" in hp or "pretrainD" in hp:
        lines.append(f"pretrainG: {hp.get('pretrainG') or '(empty: none)'}")
        lines.append(f"pretrainD: {hp.get('pretrainD') or '(empty: none)'}")
    for load in log.get("pretrained_loaded") or []:
        lines.append(f"loaded pretrained {load['path']}: {load.get('result') or 'no load result line'}")
    for miss in log.get("pretrained_missing") or []:
        lines.append(f"not loaded: {miss}")
    if lines:
        out.append(Code("\n".join(lines)))
    for cid in ("training.pretrained", "training.pretrained_match", "provenance.not_pretrained"):
        f = m.findings.get(cid)
        if f is not None:
            out.append(Para(f"**{check_title(cid)}** ({_status_cell(f)}): {f.message}", "fail" if f.failed else ""))
    if not out:
        out.append(Para("Nothing says which pretrained base was used (no training log with hyperparameters).", "note"))
    return out


# --------------------------------------------------------------------------- 5. dataset

def dataset_section(m: ModelReport) -> list[Block]:
    fs = [f for k, f in m.findings.items() if k.startswith("dataset.")]
    if not fs:
        return [Para(_missing(m, "dataset"), "note")]
    rows = [[check_title(f.check).split(": ", 1)[-1], _status_cell(f), f.message] for f in fs]
    return [Table(["Check", "Status", "Result"], rows, status_col=1)]


# --------------------------------------------------------------------------- 6. weights

def weights_section(m: ModelReport) -> list[Block]:
    w = m.facts.get("weights") or {}
    out: list[Block] = []
    if w:
        lines = []
        if w.get("training_layers") is not None:
            lines.append(f"# From {w.get('training_file')} -> {Path(m.inference_file or '').name or 'the inference model'}")
            lines.append(f"Total weight layers: {w['training_layers']} (training) -> {w['inference_layers']} (inference, "
                         f"excluding {w.get('training_enc_q_layers', 0)} enc_q tensors)")
        else:
            lines.append(f"Total weight layers: {w.get('inference_layers')} (inference)"
                         + (f"; training checkpoint not read: {w['training_error']}" if w.get("training_error") else ""))
        lines.append(f"Parameters: {w.get('parameters'):,}" if isinstance(w.get("parameters"), int) else "")
        lines.append(f"Has NaN: {bool(w.get('nan_tensors'))}" + (f" ({w['nan_values']} values in {w['nan_tensors']} tensors)"
                                                                   if w.get("nan_tensors") else ""))
        lines.append(f"Has Inf: {bool(w.get('inf_tensors'))}" + (f" ({w['inf_values']} values in {w['inf_tensors']} tensors)"
                                                                   if w.get("inf_tensors") else ""))
        sr = w.get("std_range") or [None, None]
        lines.append(f"Weight statistics: per-tensor |mean| median {num(w.get('mean_abs_median'))}, std median "
                     f"{num(w.get('std_median'))} (range {num(sr[0])}-{num(sr[1])}), largest |value| {num(w.get('max_abs'))}")
        lines.append(f"dtypes: {w.get('dtypes')}")
        out.append(Code("\n".join(line for line in lines if line)))
    elif (m.facts.get("errors") or {}).get("weights"):
        out.append(Para(f"Weights not read: {m.facts['errors']['weights']}", "note"))
    ids = ("structure.file_format", "structure.layer_count", "structure.strict_load", "structure.finite",
           "structure.tensor_stats", "structure.trained", "structure.dtype", "structure.canonical_config")
    rows = [[check_title(c).split(": ", 1)[-1], _status_cell(m.findings[c]), m.findings[c].message]
            for c in ids if c in m.findings]
    other = [f for k, f in m.findings.items() if k.startswith("structure.") and k not in ids
             and k != "structure.reference_agreement" and not f.passed]
    rows += [[check_title(f.check).split(": ", 1)[-1], _status_cell(f), f.message] for f in other]
    if rows:
        out.append(Table(["Check", "Status", "Result"], rows, status_col=1))
    if not out:
        out.append(Para(_missing(m, "structure"), "note"))
    return out


# --------------------------------------------------------------------------- 7. reference

def reference_section(m: ModelReport) -> list[Block]:
    ref = m.facts.get("reference")
    f = m.findings.get("structure.reference_agreement")
    if not ref and (f is None or f.skipped):
        return [Para("No --reference-model given: pass a known-good model of the same variant to compare the "
                     "structure with (weight layers, config length, size).", "note")]
    rows_src = (ref or {}).get("rows") or (f.details.get("table") if f is not None else None) or []
    name = (ref or {}).get("name", "reference")
    out: list[Block] = []
    if rows_src:
        rows = []
        for r in rows_src:
            same = r.get("same")
            mark = "same" if same else ("DIFFERENT" if r.get("must_agree") else "differs")
            rows.append([str(r.get("attribute")), num(r.get("reference")), num(r.get("model")), mark])
        out.append(Table(["Attribute", f"{name} (reference)", f"{m.name} (this model)", "Agreement"], rows))
    if f is not None:
        out.append(Para(f"**{check_title(f.check)}** ({_status_cell(f)}): {f.message}", "fail" if f.failed else ""))
    return out


# --------------------------------------------------------------------------- 8. audio pictures

def audio_section(m: ModelReport, plots_available: bool = True) -> list[Block]:
    audio = m.facts.get("audio") or {}
    out: list[Block] = []
    if not plots_available:
        return [Para("No pictures: matplotlib is not installed (pip install 'rvcqa[plots]').", "note")]
    pairs = [("conversion", p) for p in audio.get("conversion") or [] if p.get("input") and p.get("output")]
    pairs += [("resynthesis", p) for p in audio.get("resynthesis") or [] if p.get("input") and p.get("output")]
    if not pairs:
        notes = audio.get("notes") or [(m.facts.get("errors") or {}).get("audio") or "no audio was found"]
        return [Para("No audio pictures: " + "; ".join(str(n) for n in notes), "note")]
    shown = set()
    for kind, pair in pairs:
        if kind in shown:
            continue
        shown.add(kind)
        label = "Conversion" if kind == "conversion" else "Resynthesis"
        what = "reference input" if kind == "conversion" else "training GT"
        base = f"{_slug(m.name)}-{kind}-{_slug(pair['name'])}"
        out.append(Para(f"**{label}** of {pair['name']}: {what} `{Path(pair['input']).name}` vs output "
                        f"`{Path(pair['output']).name}`."))
        args = {"input": pair["input"], "output": pair["output"], "label_in": what, "label_out": f"{label.lower()} output"}
        out.append(Figure(f"{base}-spec", "spectrograms", f"{label}: spectrograms input vs output", dict(args),
                          "Log-power spectrograms on the same dB scale. Speech shows harmonics and formants; noise "
                          "fills the whole band evenly."))
        out.append(Figure(f"{base}-f0", "f0_contours", f"{label}: F0 contours", dict(args),
                          "F0 by pYIN at 16 kHz, as the perceptual checks track it (unvoiced frames left out). A healthy output follows the input's "
                          "contour (shifted by any transpose)."))
        out.append(Figure(f"{base}-wave", "waveforms", f"{label}: waveforms", dict(args), ""))
    if audio.get("conversion") is not None and not any(k == "conversion" for k, _ in pairs):
        out.append(Para("No conversion output pictured (the conversion checks did not write audio: see "
                        "perceptual.convert_*).", "note"))
    return out


def sweep_section(m: ModelReport) -> list[Block]:
    """The epoch sweep's table, warnings and plot (metric vs step with the log's loss_mel)."""
    f = m.findings.get("sweep.recommendation") or m.findings.get("sweep.released_vs_best")
    details = f.details if f is not None else {}
    if not details.get("rows"):
        why = f.message if f is not None else "the sweep did not run"
        return [Para(f"No epoch sweep: {why} (pass --rvcqa-sweep, or run `rvcqa sweep DIR`).", "note")]
    out: list[Block] = [Para(f.message, "warn" if f.status is Status.WARNING else "")]
    if details.get("table"):
        out.append(Code(str(details["table"])))
    for w in details.get("warnings") or []:
        out.append(Para(str(w.get("message") if isinstance(w, dict) else w), "warn"))
    plot = details.get("plot_path")
    if plot and Path(plot).is_file():
        out.append(Figure(f"{_slug(m.name)}-sweep", "png_file", "Measured quality per checkpoint vs step",
                          {"path": str(plot)}, "Log-mel distance and the other metrics per candidate, with the "
                          "training log's loss_mel on the same step axis."))
    return out


# --------------------------------------------------------------------------- hypotheses

def hypotheses_section(m: ModelReport, h: int) -> list[Block]:
    out: list[Block] = [Heading(h, "Hypotheses for Broken Output")]
    hyps = m.hypotheses()
    if not hyps:
        out.append(Para(_missing(m, "hypotheses"), "note"))
        return out
    for i, f in enumerate(hyps, 1):
        verdict = str(f.details.get("verdict") or {"passed": "ruled out", "warning": "supported",
                                                     "skipped": "not testable"}.get(f.status.value, f.status.value))
        title = HYPOTHESIS_TITLES.get(f.check, check_title(f.check))
        out.append(Heading(h + 1, f"Hypothesis {i}: {title} - {verdict}"))
        msg = f.message.split(" — ", 1)[-1] if " — " in f.message else f.message
        kind = {"supported": "warn", "ruled out": "pass"}.get(verdict, "note")
        out.append(Para(f"**{verdict.capitalize()}.** {msg}", kind))
        ev = f.details.get("evidence") or {}
        if ev:
            out.append(Bullets([f"{k}: {_evidence(v)}" for k, v in ev.items()]))
        if f.cause and verdict == "supported":
            out.append(Para(f"Likely cause: {f.cause}"))
    return out


def _evidence(v: Any) -> str:
    if isinstance(v, float):
        return num(v)
    if isinstance(v, (list, tuple)) and len(v) > 8:
        return ", ".join(str(x) for x in v[:8]) + f", ... ({len(v)} in all)"
    if isinstance(v, dict):
        return ", ".join(f"{k}={_evidence(x)}" for k, x in list(v.items())[:8])
    return str(v)


# --------------------------------------------------------------------------- next steps

#: concrete first actions for the failures users hit most; the rest come from each finding's cause
ACTIONS = {
    "provenance.latest_checkpoint": "Re-extract the inference model from {latest} (RVC: ckpt processing -> extract "
                                    "small model, or the train tab's final save), then run the gate again: the other "
                                    "checks judged an early checkpoint.",
    "provenance.source_checkpoint": "Find the G_*.pth this model was extracted from, or re-extract from the latest "
                                    "G_*.pth in the folder.",
    "provenance.not_pretrained": "Extract from logs/NAME/G_*.pth, not from the pretrained base in assets/.",
    "structure.strict_load": "Re-save the model with RVC's extractor (weight_g/weight_v names) for the right variant.",
    "structure.finite": "Training diverged: use the last checkpoint before the NaNs, and retrain with fp32 "
                        "(fp16_run false) if it recurs.",
    "training.mel_final": "Train longer or fix the data: loss_mel should settle around 15-25.",
    "training.mel_start": "Check the pretrained base really loaded (pretrainG/pretrainD paths for this sample rate).",
    "training.pretrained": "Fine-tune from RVC's pretrained base for this variant (assets/pretrained_v2/f0G48k.pth "
                           "for v2 48k).",
    "perceptual.resynth_flatness": "The model fails on its own training data: fix provenance/training first; the "
                                   "inference code is not the cause.",
    "perceptual.convert_flatness": "Resynthesis is fine but conversion is not: check the inference pipeline (HuBERT "
                                   "version/layer, F0 method, transpose, index rate).",
}
PRIORITY = ("provenance", "structure", "training", "dataset", "perceptual")


def next_steps(m: ModelReport) -> list[str]:
    steps: list[str] = []
    seen: set[str] = set()
    failed = sorted(m.failed(), key=lambda f: PRIORITY.index(f.check.split(".")[0])
                    if f.check.split(".")[0] in PRIORITY else len(PRIORITY))
    for f in failed:
        action = ACTIONS.get(f.check)
        if action:
            latest = f.details.get("latest") or (m.facts.get("model") or {}).get("latest_g") or "the latest G_*.pth"
            action = action.format(latest=latest)
        else:
            action = f"Fix: {f.cause}" if f.cause else f"Fix: {f.message}"
        key = action if not f.cause else f.cause
        if key in seen or action in seen:
            continue
        seen.update((key, action))
        steps.append(f"**{check_title(f.check)}**: {action}")
    for f in m.hypotheses():
        if str(f.details.get("verdict")) == "supported":
            text = f.cause or f.message.split(" — ", 1)[-1]
            if text not in seen:
                seen.add(text)
                steps.append(f"**{HYPOTHESIS_TITLES.get(f.check, check_title(f.check))}** (supported): {text}")
    if not steps:
        if m.verdict.startswith("PASS"):
            steps.append("Nothing to fix. Record this model as the baseline for later candidates: "
                         "`--rvcqa-save-baseline baseline.json`, then gate new epochs with `--rvcqa-baseline baseline.json`.")
        else:
            steps.append("Run the checks that did not run (see the problem summary) to get a verdict.")
    return steps


def next_steps_section(m: ModelReport, h: int) -> list[Block]:
    return [Heading(h, "Next Steps"), Bullets(next_steps(m), ordered=True)]


# --------------------------------------------------------------------------- files and appendix

def files_section(m: ModelReport, h: int) -> list[Block]:
    files = m.facts.get("files") or {}
    audio = m.facts.get("audio") or {}
    out: list[Block] = [Heading(h, "Files for Analysis")]
    items = []
    labels = (("inference", "inference model"), ("latest_g", "latest training checkpoint"),
              ("config_json", "training configuration"), ("train_log", "training log"),
              ("gt_wavs", "ground-truth slices"), ("wavs16k", "16 kHz slices"), ("features", "HuBERT features"),
              ("f0_coarse", "coarse pitch"), ("f0_hz", "F0 in Hz"))
    for key, label in labels:
        if files.get(key):
            items.append(f"`{files[key]}` - {label}")
    for kind in ("resynthesis", "conversion"):
        outs = audio.get(kind) or []
        if outs:
            items.append(f"`{Path(outs[0]['output']).parent}` - {len(outs)} {kind} output(s) written by rvcqa")
    if not items:
        items.append(f"`{m.root}`")
    out.append(Bullets(items))
    return out


def all_checks_section(m: ModelReport, h: int) -> list[Block]:
    rows = []
    for f in m.findings.values():
        rows.append([f.check, _status_cell(f), f.message, _short(f.measured), _short(f.expected)])
    if not rows:
        return []
    return [Heading(h, "All Checks"), Table(["Check", "Status", "Message", "Measured", "Expected"], rows, status_col=1)]


def _short(v: Any) -> str:
    if v is None:
        return ""
    text = num(v) if isinstance(v, float) else str(v)
    return text if len(text) <= 80 else text[:77] + "..."
