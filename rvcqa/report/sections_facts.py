"""Report sections on what the model folder holds: provenance, configuration, pretrained base,
preprocessing, weights and the reference model.
"""
from __future__ import annotations

from pathlib import Path

from rvcqa.findings import Finding, Status
from rvcqa.report.blocks import Block, Code, Para, Table
from rvcqa.report.collect import ModelReport
from rvcqa.report.wording import check_title, missing_note, num, status_cell


def provenance_section(m: ModelReport) -> list[Block]:
    fs = {k: v for k, v in m.findings.items() if k.startswith("provenance.")}
    if not fs:
        return [Para(missing_note(m, "provenance"), "note")]
    out: list[Block] = []
    latest = fs.get("provenance.latest_checkpoint")
    source = fs.get("provenance.source_checkpoint")
    for f in (latest, source, fs.get("provenance.not_pretrained"), fs.get("provenance.epoch_info")):
        if f is None:
            continue
        prefix = {"failed": "**Critical:** ", "warning": "**Warning:** "}.get(f.status.value, "")
        out.append(Para(f"{prefix}{f.message} ({status_cell(f)})", "fail" if f.failed else ""))
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
            out.append(Para(f"**{check_title(cid)}** ({status_cell(f)}): {f.message}", "fail" if f.failed else ""))
    if not out:
        out.append(Para("Nothing says which pretrained base was used (no training log with hyperparameters).", "note"))
    return out


def dataset_section(m: ModelReport) -> list[Block]:
    fs = [f for k, f in m.findings.items() if k.startswith("dataset.")]
    if not fs:
        return [Para(missing_note(m, "dataset"), "note")]
    rows = [[check_title(f.check).split(": ", 1)[-1], status_cell(f), f.message] for f in fs]
    return [Table(["Check", "Status", "Result"], rows, status_col=1)]


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
    rows = [[check_title(c).split(": ", 1)[-1], status_cell(m.findings[c]), m.findings[c].message]
            for c in ids if c in m.findings]
    other = [f for k, f in m.findings.items() if k.startswith("structure.") and k not in ids
             and k != "structure.reference_agreement" and not f.passed]
    rows += [[check_title(f.check).split(": ", 1)[-1], status_cell(f), f.message] for f in other]
    if rows:
        out.append(Table(["Check", "Status", "Result"], rows, status_col=1))
    if not out:
        out.append(Para(missing_note(m, "structure"), "note"))
    return out


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
        out.append(Para(f"**{check_title(f.check)}** ({status_cell(f)}): {f.message}", "fail" if f.failed else ""))
    return out
