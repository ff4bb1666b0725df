"""Report sections that sum up and advise: problem summary, hypotheses, next steps, files and the
appendix of every check.
"""
from __future__ import annotations

from pathlib import Path

from rvcqa.report.blocks import Block, Bullets, Heading, Para, Table
from rvcqa.report.collect import HYPOTHESIS_TITLES, ModelReport
from rvcqa.report.wording import check_title, evidence_text, missing_note, short_value, status_cell


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


def hypotheses_section(m: ModelReport, h: int) -> list[Block]:
    out: list[Block] = [Heading(h, "Hypotheses for Broken Output")]
    hyps = m.hypotheses()
    if not hyps:
        out.append(Para(missing_note(m, "hypotheses"), "note"))
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
            out.append(Bullets([f"{k}: {evidence_text(v)}" for k, v in ev.items()]))
        if f.cause and verdict == "supported":
            out.append(Para(f"Likely cause: {f.cause}"))
    return out


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
        rows.append([f.check, status_cell(f), f.message, short_value(f.measured), short_value(f.expected)])
    if not rows:
        return []
    return [Heading(h, "All Checks"), Table(["Check", "Status", "Message", "Measured", "Expected"], rows, status_col=1)]
