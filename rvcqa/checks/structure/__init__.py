"""Structural invariants of the released inference model (RVC_FORMATS sections 1, 4 and 6 rows 5-7).

Everything here is judged from the ``.pth`` alone (plus ``config.json`` for the filter length):
does it load safely, is the 18-element config RVC's for this variant, do the config and the
weights describe the same network, and do the weights look like a trained, finite network.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from rvcqa.architecture import parse_config
from rvcqa.checks.structure.config import (
    check_canonical, check_config_length, check_decoder_shapes, check_f0, check_file_format, check_hop_length,
    check_sample_rate, check_speakers, check_spec_channels, check_version, check_vocoder, file_format_failed,
)
from rvcqa.checks.structure.defaults import DEFAULTS
from rvcqa.checks.structure.reference import check_reference_agreement, reference_comparison
from rvcqa.checks.structure.weights import (
    check_dtype, check_finite, check_layer_count, check_strict_load, check_tensor_stats, check_trained,
)
from rvcqa.errors import RvcqaError
from rvcqa.findings import Finding, skipped

if TYPE_CHECKING:
    from rvcqa.synth.config import SynthConfig
    from rvcqa.context import ModelContext

__all__ = ["CHECK_IDS", "DEFAULTS", "reference_comparison", "run"]

CHECK_IDS: tuple[str, ...] = (
    "structure.file_format",
    "structure.config_length",
    "structure.sample_rate",
    "structure.hop_length",
    "structure.spec_channels",
    "structure.decoder_shapes",
    "structure.version",
    "structure.f0",
    "structure.speakers",
    "structure.vocoder",
    "structure.canonical_config",
    "structure.layer_count",
    "structure.strict_load",
    "structure.finite",
    "structure.tensor_stats",
    "structure.trained",
    "structure.dtype",
    "structure.reference_agreement",
)



def run(ctx: ModelContext) -> list[Finding]:
    out: list[Finding] = []
    try:
        model = ctx.inference_model()
    except RvcqaError as error:
        out.append(file_format_failed(ctx, error))
        reason = "the inference model did not load (see structure.file_format)"
        out += [skipped(cid, f"{cid}: not evaluated: {reason}") for cid in CHECK_IDS[1:]]
        return out

    out.append(check_file_format(model))
    ctx.record("inference_layers", len(model.weight))
    config = model.config
    cfg: SynthConfig | None = None
    cfg_error: str | None = None
    try:
        cfg = parse_config(config)
    except (ValueError, ImportError) as exc:
        cfg_error = str(exc)
    out.append(check_config_length(model, cfg, cfg_error))

    def need_cfg(cid: str, fn: Callable[[SynthConfig], Finding]) -> Finding:
        if cfg is None:
            return skipped(cid, f"{cid}: not evaluated: the config is not RVC's 18-element list (see structure.config_length)")
        return fn(cfg)

    out.append(need_cfg("structure.sample_rate", lambda c: check_sample_rate(model, c)))
    out.append(need_cfg("structure.hop_length", lambda c: check_hop_length(model, c)))
    out.append(need_cfg("structure.spec_channels", lambda c: check_spec_channels(ctx, model, c)))
    out.append(need_cfg("structure.decoder_shapes", lambda c: check_decoder_shapes(model, c)))
    out.append(check_version(model))
    out.append(check_f0(model))
    out.append(need_cfg("structure.speakers", lambda c: check_speakers(model, c)))
    out.append(check_vocoder(model))
    out.append(need_cfg("structure.canonical_config", lambda c: check_canonical(ctx, model, c)))
    out.append(need_cfg("structure.layer_count", lambda c: check_layer_count(model)))
    out.append(need_cfg("structure.strict_load", lambda c: check_strict_load(ctx, model)))
    out.append(check_finite(model))
    out.append(check_tensor_stats(ctx, model))
    out.append(check_trained(model))
    out.append(check_dtype(model))
    out.append(check_reference_agreement(ctx, model))
    return out
