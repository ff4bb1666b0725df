"""Report sections on what the model produces and how it trained: output analysis, loss curves,
audio pictures and the epoch sweep.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rvcqa.findings import Finding, Status
from rvcqa.stats import median_or_none
from rvcqa.report.blocks import Block, Code, Figure, Para, Table
from rvcqa.report.collect import ModelReport
from rvcqa.report.wording import check_title, expected_text, hz, missing_note, num, status_cell


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
        out.append(Para(missing_note(m, "perceptual"), "note"))
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
    per: list[Any] = []
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
        rows.append(["Spectral flatness", num(median_or_none(p.get(fin) for p in per)), num(median_or_none(p.get(fout) for p in per)),
                     expected_text(flat, "< 0.1 for speech") + " (speech ~0.002, white noise ~0.56)", status_cell(flat)])
        zi, zo = median_or_none(p.get(zin) for p in per), median_or_none(p.get(zout) for p in per)
        rng = expected_text(zcr, "0.5-2")
        rows.append(["Zero crossing rate" + (" (at 16 kHz)" if kind == "convert" else ""), hz(zi), hz(zo),
                     f"similar to input (ratio {rng})", status_cell(zcr)])
    pin = median_or_none(p.get("input_peak") for p in pairs)
    pout = median_or_none(p.get("output_peak") for p in pairs)
    if pin is not None or pout is not None:
        rows.append(["Max amplitude", num(pin), num(pout), "~same, <= 1.0", "-"])
    if per:
        ri, ro = median_or_none(p.get(rin) for p in per), median_or_none(p.get(rout) for p in per)
        rows.append(["RMS", num(ri), num(ro), "~same" + (f" (ratio {expected_text(level, '0.25-4')})" if kind == "resynth"
                                                          else f" ({expected_text(level, '-45..-6 dBFS')})"),
                     status_cell(level)])
    extra = [(f"perceptual.{kind}_mel_distance", "Log-mel distance to GT"), (f"perceptual.{kind}_f0", "F0 agreement")]
    for cid, label in extra:
        g = f.get(cid)
        if g is not None and not g.skipped:
            rows.append([label, "-", num(g.measured) if not isinstance(g.measured, (dict, list)) else str(g.measured),
                         expected_text(g, "-"), status_cell(g)])
    return rows


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
            out.append(Para(f"**{check_title(cid)}** ({status_cell(f)}): {f.message}", "fail" if f.failed else ""))
    if mel or _loss_points(series, "loss_gen"):
        if plots_available:
            out.append(Figure(f"{_slug(m.name)}-loss", "loss_curves", "Loss curves",
                              {"series": series, "name": m.name},
                              "loss_mel, loss_kl, loss_gen and loss_disc over training steps, from the parsed log."))
    return out


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in text) or "model"


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
    assert f is not None
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
