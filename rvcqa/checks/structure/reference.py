"""``structure.reference_agreement``: the model side by side with a ``--reference-model`` known to work."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rvcqa.architecture import decoder_facts, same_value
from rvcqa.errors import RvcqaError
from rvcqa.facts import comparison_facts
from rvcqa.findings import Finding, failed, passed, skipped

if TYPE_CHECKING:
    from rvcqa.checkpoint import InferenceModel
    from rvcqa.context import ModelContext


_ROWS = (
    ("info", "Info", False),
    ("sample_rate", "Sample Rate", False),
    ("version", "Version", False),
    ("f0", "F0", False),
    ("weight_layers", "Weight Layers", True),
    ("config_length", "Config Length", True),
    ("size_mb", "Model Size (MB)", False),
)


def reference_comparison(ctx: ModelContext) -> list[dict[str, Any]]:
    """Side-by-side facts of this model and ``--reference-model`` (empty without a reference).

    Each row: ``attribute``, ``model``, ``reference``, ``same`` and ``must_agree`` (True for the
    structure that two models of the same variant share: weight layers and config length).
    """
    ref = ctx.reference_inference_model()
    if ref is None:
        return []
    model = ctx.inference_model()
    a, b = comparison_facts(model), comparison_facts(ref)
    same_variant = is_same_variant(model, ref)
    rows = []
    for key, label, structural in _ROWS:
        rows.append({
            "attribute": label, "key": key, "model": a[key], "reference": b[key],
            "same": same_value(a[key], b[key]) if a[key] is not None and b[key] is not None else a[key] == b[key],
            "must_agree": structural and (same_variant or key == "config_length"),
        })
    return rows


def is_same_variant(a: InferenceModel, b: InferenceModel) -> bool:
    """Same version, same f0, and the same number of decoder stages -> the same key set."""
    return (a.version == b.version and bool(a.f0) == bool(b.f0)
            and decoder_facts(a.weight)["stages"] == decoder_facts(b.weight)["stages"])


def check_reference_agreement(ctx: ModelContext, model: InferenceModel) -> Finding:
    cid = "structure.reference_agreement"
    if ctx.options.reference_model is None:
        return skipped(cid, "no --reference-model given to compare with")
    try:
        rows = reference_comparison(ctx)
    except RvcqaError as error:
        return failed(cid, f"the reference model cannot be used: {error}", measured=None, expected=None)
    ref_name = ctx.options.reference_model.name
    table = {r["key"]: r for r in rows}
    bad = [r for r in rows if r["must_agree"] and not r["same"]]
    if bad:
        text = "; ".join(f"{r['attribute']}: {r['model']} here vs {r['reference']} in {ref_name}" for r in bad)
        return failed(
            cid, f"structure differs from the working reference {ref_name}: {text}",
            measured={r["key"]: r["model"] for r in bad}, expected={r["key"]: r["reference"] for r in bad},
            cause="the model was written by another tool/version or holds another variant's weights than the "
                  "reference of the same variant",
            details={"table": rows},
        )
    other = [r["attribute"] for r in rows if not r["same"] and not r["must_agree"]]
    note = f" (differs as expected in: {', '.join(other)})" if other else ""
    return passed(
        cid,
        f"same structure as {ref_name}: {table['weight_layers']['model']} weight layers, "
        f"{table['config_length']['model']} config entries{note}",
        measured={"weight_layers": table["weight_layers"]["model"], "config_length": table["config_length"]["model"]},
        expected={"weight_layers": table["weight_layers"]["reference"], "config_length": table["config_length"]["reference"]},
        details={"table": rows},
    )

