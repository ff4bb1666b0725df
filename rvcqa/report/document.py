"""The report's content: the sections of one model's diagnosis in order, as blocks (:mod:`rvcqa.report.blocks`)
that :mod:`markdown` and :mod:`html` render.

The shape follows the diagnosis report users write by hand (the lexi report): problem summary,
key findings with tables, hypotheses with verdicts, next steps, files. Every statement comes from a
finding (or a fact gathered next to it); nothing here judges anything on its own.
"""
from __future__ import annotations

from datetime import datetime
from typing import Sequence

from rvcqa.report.blocks import Block, Bullets, Code, Figure, Heading, Para, Table
from rvcqa.report.collect import ModelReport
from rvcqa.report.sections_advice import (
    all_checks_section, files_section, hypotheses_section, next_steps, next_steps_section, problem_summary,
)
from rvcqa.report.sections_audio import audio_section, loss_section, output_section, sweep_section
from rvcqa.report.sections_facts import (
    config_section, dataset_section, pretrained_section, provenance_section, reference_section, weights_section,
)


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
        # counted as the gate counts its tests: a warning is a passed test that says something
        rows.append([m.name, m.verdict, str(c["passed"] + c["warning"]), str(c["failed"]), str(c["warning"]),
                     str(c["skipped"]), failed or "-"])
    return [Heading(2, "Gate overview"),
            Table(["Model", "Verdict", "Passed", "Failed", "of the passed: warnings", "Skipped", "Failed checks"], rows,
                  status_col=1)]


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


__all__ = [
    "Block", "Bullets", "Code", "Figure", "Heading", "Para", "Table", "build", "model_blocks",
    "provenance_section",
    "config_section",
    "pretrained_section",
    "dataset_section",
    "weights_section",
    "reference_section",
    "output_section",
    "loss_section",
    "audio_section",
    "sweep_section",
    "problem_summary",
    "hypotheses_section",
    "next_steps",
    "next_steps_section",
    "files_section",
    "all_checks_section",
]
