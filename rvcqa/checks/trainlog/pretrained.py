"""Pretrained-base checks: was a pretrained G/D loaded, and is it the one for this model's rate and version?
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from rvcqa.checks.trainlog.common import base_name, pretrained_state
from rvcqa.findings import Finding, failed, passed, skipped, warning
from rvcqa.trainlog import TrainLog

if TYPE_CHECKING:
    from rvcqa.context import ModelContext


def check_pretrained(ctx: ModelContext, log: TrainLog) -> Finding:
    cid = "training.pretrained"
    state, evidence = pretrained_state(log)
    ctx.record("training.pretrained", state)
    if state == "loaded":
        return passed(cid, f"pretrained base used: {evidence}", measured=state)
    if state == "not_loaded":
        return failed(
            cid, f"no pretrained base was loaded: {evidence}. Training started from random weights",
            measured=state, expected="loaded pretrained ...f0G48k.pth + <All keys matched successfully>",
            cause="pretrainG/pretrainD left empty in the training tab, or the file is missing (the WebUI then logs "
                  "'... not exist, will not use pretrained model', RVC #1908). From scratch a small dataset gives noise "
                  "for a long time. Download assets/pretrained_v2 and retrain",
        )
    if state == "named":
        return warning(cid, f"a pretrained base is named ({evidence}) but its loading is not in the log",
                       measured=state, cause="a custom training script, or the log was captured after start-up")
    if state == "resumed":
        return skipped(cid, f"this log {evidence}: whether the first run loaded a pretrained base is in an earlier log")
    return skipped(cid, "the log does not say whether a pretrained base was loaded (no hyperparameter record, no "
                        "'loaded pretrained' line)")


_PRETRAIN_NAME = re.compile(r"^(?P<f0>f0)?(?P<kind>[GD])(?P<sr>32|40|48)k\.pth$", re.IGNORECASE)


_SR_IN_NAME = re.compile(r"(?<!\d)(32|40|48)k(?![a-z0-9])", re.IGNORECASE)


def pretrain_facts(path: str) -> dict[str, Any]:
    """sr / f0 / version implied by a pretrain path (``assets/pretrained_v2/f0G48k.pth``)."""
    base = base_name(path)
    out: dict[str, Any] = {"name": base, "sr": None, "f0": None, "version": None}
    m = _PRETRAIN_NAME.match(base)
    if m:
        out["sr"] = int(m.group("sr")) * 1000
        out["f0"] = bool(m.group("f0"))
    else:
        m2 = _SR_IN_NAME.search(base)
        if m2:
            out["sr"] = int(m2.group(1)) * 1000
    parts = [p.lower() for p in re.split(r"[\\/]", path)[:-1]]
    if parts:
        if parts[-1] == "pretrained_v2":
            out["version"] = "v2"
        elif parts[-1] == "pretrained":
            out["version"] = "v1"
    return out


def check_pretrained_match(ctx: ModelContext, log: TrainLog) -> Finding:
    cid = "training.pretrained_match"
    from rvcqa.facts import model_facts

    paths = [p for p in (log.pretrain_g, log.pretrain_d) if p]
    if ctx.options.pretrained is not None:
        paths.append(str(ctx.options.pretrained))
    if not paths:
        return skipped(cid, "no pretrained base named in the log")
    facts = model_facts(ctx)
    problems, seen = [], []
    for path in paths:
        pf = pretrain_facts(path)
        desc = []
        if pf["sr"] and facts.sr and pf["sr"] != facts.sr:
            problems.append(f"{pf['name']} is a {pf['sr'] // 1000}k pretrain but the model is {facts.sr // 1000}k ({facts.sr_source})")
        if pf["f0"] is not None and facts.f0 is not None and pf["f0"] != facts.f0:
            problems.append(f"{pf['name']} is a {'pitch-guided (f0)' if pf['f0'] else 'no-f0'} pretrain but the model "
                            f"{'has' if facts.f0 else 'has no'} pitch guidance ({facts.f0_source})")
        if pf["version"] and facts.version and pf["version"] != facts.version:
            problems.append(f"{path} is from the {pf['version']} pretrains but the model is {facts.version} ({facts.version_source})")
        for key in ("sr", "f0", "version"):
            if pf[key] is not None:
                desc.append(f"{key} {pf[key]}")
        seen.append(f"{pf['name']} ({', '.join(desc) or 'nothing readable from the name'})")
    if problems:
        return failed(
            cid, "pretrained base does not fit the model: " + "; ".join(problems),
            measured=seen, expected={"sr": facts.sr, "f0": facts.f0, "version": facts.version},
            cause="the wrong pretrain was picked in the training tab (SayanoAI/Comfy-RVC#13: 'a 40k pretrain to train "
                  "a 48k model'); RVC's strict load raises on it, so if training ran the file was renamed or a "
                  "non-strict fork loaded it and left layers random. Pick f0G/f0D at the model's rate under "
                  "assets/pretrained_v2 for v2",
        )
    if not any(pretrain_facts(p)["sr"] for p in paths):
        return skipped(cid, f"cannot tell the sample rate from the pretrain names ({', '.join(seen)})")
    model = f"{facts.sr // 1000 if facts.sr else '?'}k {'f0' if facts.f0 else 'no-f0' if facts.f0 is False else ''} {facts.version or ''}".strip()
    return passed(cid, f"pretrained base fits the model ({model}): " + "; ".join(seen), measured=seen)
