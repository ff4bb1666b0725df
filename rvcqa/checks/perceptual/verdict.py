"""``perceptual.verdict``: resynthesis and conversion together say whether the model or the pipeline is at fault."""
from __future__ import annotations

from typing import Sequence

from rvcqa.checks.perceptual.defaults import CAUSE_CONVERT, CAUSE_RESYNTH
from rvcqa.findings import Finding, failed, passed, skipped


def _state(findings: Sequence[Finding]) -> str:
    """"failed" if any failed, "passed" if any ran and none failed, else "skipped"."""
    if any(f.failed for f in findings):
        return "failed"
    if any(f.passed for f in findings):
        return "passed"
    return "skipped"


def _names(findings: Sequence[Finding]) -> str:
    return ", ".join(f.check.split(".", 1)[1] for f in findings if f.failed)


def verdict(resynth: Sequence[Finding], convert: Sequence[Finding]) -> Finding:
    finding = _verdict_core(resynth, convert)
    dirs = sorted({f.details["output_dir"] for f in (*resynth, *convert) if f.details.get("output_dir")})
    if dirs:
        finding.message += f"; listen: {', '.join(dirs)}"
        finding.details["output_dirs"] = dirs
    return finding


#: (resynthesis state, conversion state) -> (message, likely cause) of the failing verdicts that
#: resynthesis can decide; ``{res}``/``{conv}`` name the failed checks and the first message.
_FAILED: dict[tuple[str, str], tuple[str, str]] = {
    ("passed", "failed"): (
        "the model is fine; the conversion pipeline is not (content features / F0 / settings): it reproduces "
        "its own training segments, but conversion fails {conv}",
        "the conversion feeds the model other inputs than training did: check that the content "
        "extractor is the one used for training (hubert_base.pt; v1 layer 9 + final_proj, v2 layer 12), "
        "that F0 tracking works on the input, the transpose, and the index/protect settings",
    ),
    ("failed", "passed"): (
        "conversion sounds fine but the model fails on its own training data: resynthesis fails {res}",
        "the training data folders do not match what the model was trained on (features, F0 or "
        "0_gt_wavs from another run or another extractor), or the model generalises but never fit "
        "its targets; see dataset.* findings",
    ),
    ("failed", "failed"): (
        "the model itself is broken: it fails on its own training segments (no HuBERT involved) and on "
        "new speech; resynthesis fails {res}",
        CAUSE_RESYNTH,
    ),
    ("failed", "skipped"): (
        "the model itself is broken: it fails on its own training segments, where HuBERT and the conversion "
        "pipeline play no part, so fixing the inference code will not help; resynthesis fails {res}",
        CAUSE_RESYNTH,
    ),
}


def _verdict_core(resynth: Sequence[Finding], convert: Sequence[Finding]) -> Finding:
    """A conversion finding with ``details["fault"] == "model"`` (the voice the weights speak) blames the
    model, not the pipeline: it is left out of the conversion's state."""
    cid = "perceptual.verdict"
    model_faults = [f for f in convert if f.failed and f.details.get("fault") == "model"]
    convert = [f for f in convert if not any(f is m for m in model_faults)]
    r, c = _state(resynth), _state(convert)
    details = {"resynthesis": r, "conversion": c}
    first_r = next((f.message for f in resynth if f.failed), "")
    first_c = next((f.message for f in convert if f.failed), "")
    if model_faults and r == "passed" and c != "failed":
        return failed(cid, f"the model reproduces its training segments, but not in the voice of its training data, "
                      f"so no inference setting will fix it: conversion fails {_names(model_faults)} "
                      f"({model_faults[0].message})", cause=model_faults[0].cause, details=details)
    if (r, c) in _FAILED:
        text, cause = _FAILED[(r, c)]
        message = text.format(res=f"{_names(resynth)} ({first_r})", conv=f"{_names(convert)} ({first_c})")
        return failed(cid, message, cause=cause, details=details)
    if r == "passed" and c == "passed":
        return passed(cid, "the model reproduces its training data and converts new speech cleanly", details=details)
    if r == "passed":
        why = next((f.message for f in convert if f.skipped), "conversion did not run")
        return skipped(
            cid,
            "resynthesis passes, so the model itself is sound; if your conversions sound like noise, the "
            f"conversion pipeline is the suspect ({why})",
            details=details,
        )
    if c == "failed":
        why = next((f.message for f in resynth if f.skipped), "resynthesis did not run")
        return failed(cid, f"conversion fails {_names(convert)} ({first_c}); resynthesis could not tell whether the "
                      f"model or the pipeline is at fault ({why})", cause=CAUSE_CONVERT, details=details)
    if c == "passed":
        return passed(cid, "conversion is clean (resynthesis did not run: "
                      f"{next((f.message for f in resynth if f.skipped), 'no training data')})", details=details)
    return skipped(cid, "neither resynthesis nor conversion could run: "
                   f"{next((f.message for f in resynth), '')}; {next((f.message for f in convert), '')}",
                   details=details)
