"""Weight checks: does the network built from the config take exactly these tensors, and do they look
like a trained, finite network?"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rvcqa.architecture import expected_keys, few_names, variant_name
from rvcqa.checks.structure.defaults import thr
from rvcqa.errors import RvcqaError
from rvcqa.findings import Finding, failed, passed, skipped

if TYPE_CHECKING:
    from rvcqa.checkpoint import InferenceModel
    from rvcqa.context import ModelContext

FLOW_POST = tuple(f"flow.flows.{i}.post.{p}" for i in (0, 2, 4, 6) for p in ("weight", "bias"))


#: tensors whose RVC initialisation is constant (LayerNorm gamma=1/beta=0, the zero-initialised
#: flow post layers, which structure.trained judges); a constant value there is not corruption
CONSTANT_AT_INIT = re.compile(r"(\.gamma$|\.beta$|^flow\.flows\.\d+\.post\.)")



def check_layer_count(model: InferenceModel) -> Finding:
    cid = "structure.layer_count"
    try:
        exp = expected_keys(model.config, model.version, bool(model.f0), model)
    except Exception as exc:  # a config the synthesizer cannot build with
        return failed(cid, f"no network can be built from this config ({type(exc).__name__}: {exc}); "
                           f"the weights have {len(model.weight)} tensors",
                      measured=len(model.weight), expected=None,
                      cause="the config list is malformed or belongs to another architecture")
    if exp is None:
        return skipped(cid, "rvcqa.synth is not available to build the expected network")
    n, want = len(model.weight), len(exp)
    details = {}
    if n != want:
        from rvcqa.weights import normalize_key

        have = {normalize_key(k) for k in model.weight}
        missing = [k for k in exp if k not in have]
        extra = [k for k in model.weight if normalize_key(k) not in exp]
        details = {"missing": missing, "unexpected": extra}
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing ({few_names(missing)})")
        if extra:
            parts.append(f"{len(extra)} unexpected ({few_names(extra)})")
        return failed(
            cid,
            f"the weights have {n} tensors but the {variant_name(model.version, model.config_sr)} "
            f"{'f0' if model.f0 else 'nof0'} synthesizer for this config has {want}"
            + (f": {'; '.join(parts)}" if parts else ""),
            measured=n, expected=want,
            cause="the file holds another variant's weights (v1/v2, f0/nof0, sample rate), an Applio non-HiFi-GAN "
                  "vocoder, or a training state dict that still has enc_q",
            details=details,
        )
    return passed(cid, f"{n} weight tensors, as the synthesizer builds for this config",
                  measured=n, expected=want)


def check_strict_load(ctx: ModelContext, model: InferenceModel) -> Finding:
    cid = "structure.strict_load"
    from rvcqa.weights import parametrization_keys

    renamed = parametrization_keys(model.weight)
    if renamed:
        return failed(
            cid,
            f"{len(renamed)} weight tensors use the new weight-norm names (parametrizations.weight.original0/1, "
            f"e.g. {renamed[0]}); RVC's loader expects weight_g/weight_v and, loading with strict=False, leaves "
            f"those {len(renamed) // 2} layers random: the output is noise",
            measured=len(renamed), expected=0,
            cause="the weights were saved from a model using torch.nn.utils.parametrizations.weight_norm "
                  "without renaming original0/original1 back to weight_g/weight_v as Applio does",
            details={"renamed": renamed},
        )
    try:
        import rvcqa.synth  # noqa: F401
    except ImportError:
        return skipped(cid, "rvcqa.synth is not available to load the model")
    try:
        ctx.synthesizer()
    except RvcqaError as error:
        return failed(cid, f"strict load into RVC's network failed: {error}", measured="load failed",
                      expected="all keys matched",
                      cause="config and weights describe different networks: RVC would raise a size mismatch, "
                            "or (strict=False) run with random layers and output noise")
    except Exception as error:  # a config the network cannot even be built with
        return failed(cid, f"the synthesizer cannot be built from this config: {type(error).__name__}: {error}",
                      measured="build failed", expected="all keys matched",
                      cause="the config list is malformed or belongs to another architecture")
    return passed(cid, "strict load succeeded: every weight matched the network built from config",
                  measured="all keys matched", expected="all keys matched")


def check_finite(model: InferenceModel) -> Finding:
    cid = "structure.finite"
    from rvcqa.weights import non_finite

    bad = non_finite(model.weight)
    if bad:
        text = few_names([f"{k} ({n_nan} NaN, {n_inf} Inf)" for k, n_nan, n_inf in bad], 5)
        return failed(
            cid, f"{len(bad)} of {len(model.weight)} weight tensors hold NaN/Inf: {text}",
            measured=len(bad), expected=0,
            cause="training diverged (loss_mel -> nan: fp16 overflow, Hopper GPUs H100/H800/H200, or bad "
                  "training audio), and the NaN weights were saved; use an earlier checkpoint",
            details={"tensors": [{"name": k, "nan": a, "inf": b} for k, a, b in bad]},
        )
    return passed(cid, f"all {len(model.weight)} weight tensors are finite", measured=0, expected=0)


def check_tensor_stats(ctx: ModelContext, model: InferenceModel) -> Finding:
    cid = "structure.tensor_stats"
    from rvcqa.weights import weight_stats

    max_abs = float(thr(ctx, "structure.tensor_stats.max_abs"))
    max_std = float(thr(ctx, "structure.tensor_stats.max_std"))
    min_numel = int(thr(ctx, "structure.tensor_stats.constant_min_numel"))
    stats = weight_stats(model.weight)
    large = [s for s in stats.values() if s.max_abs > max_abs or s.std > max_std]
    constant = [s for s in stats.values()
                if s.constant and s.numel >= min_numel and not CONSTANT_AT_INIT.search(s.name)]
    overall_max = max((s.max_abs for s in stats.values()), default=0.0)
    details = {
        "large": [{"name": s.name, "max_abs": s.max_abs, "std": s.std} for s in large],
        "constant": [{"name": s.name, "value": s.mean, "numel": s.numel} for s in constant],
        "max_abs": overall_max,
        "thresholds": {"max_abs": max_abs, "max_std": max_std},
    }
    problems = []
    if large:
        problems.append(f"{len(large)} tensors have values beyond |{max_abs:g}| or std beyond {max_std:g}: "
                        + few_names([f"{s.name} (max {s.max_abs:.3g}, std {s.std:.3g})" for s in large], 4))
    if constant:
        problems.append(f"{len(constant)} tensors that RVC initialises randomly hold one constant value: "
                        + few_names([f"{s.name} (= {s.mean:.3g})" for s in constant], 4))
    if problems:
        return failed(
            cid, "; ".join(problems), measured={"large": len(large), "constant": len(constant)},
            expected={"max_abs": max_abs, "max_std": max_std, "constant": 0},
            cause="training diverged (exploding weights before NaN) or the file was damaged/zeroed by a merge "
                  "or conversion tool",
            details=details,
        )
    return passed(cid, f"per-tensor statistics are healthy (largest |value| {overall_max:.3g} <= {max_abs:g}, "
                       "no constant tensors)", measured=overall_max, expected=max_abs, details=details)


def check_trained(model: InferenceModel) -> Finding:
    cid = "structure.trained"
    present = [k for k in FLOW_POST if k in model.weight]
    if not present:
        return skipped(cid, "the weights have no flow.flows.*.post layers (see structure.layer_count)")
    zero = [k for k in present if bool((model.weight[k] == 0).all())]
    weights_zero = [k for k in zero if k.endswith(".weight")]
    if weights_zero:
        return failed(
            cid,
            f"{len(zero)} of {len(present)} flow post tensors are still all zero ({few_names(zero, 4)}): RVC initialises "
            "them to zero and any training step changes them, so the flow was never trained",
            measured=len(zero), expected=0,
            cause="the model was extracted from an untrained network (training crashed before the first save, "
                  "or the weights come from a freshly built model, not a G_*.pth)",
            details={"zero": zero},
        )
    return passed(cid, f"flow post layers are non-zero ({len(present)} tensors): the flow was trained",
                  measured=0, expected=0)


def check_dtype(model: InferenceModel) -> Finding:
    cid = "structure.dtype"
    from rvcqa.weights import dtype_counts

    counts = dtype_counts(model.weight)
    bad = {k: v for k, v in counts.items() if k not in ("float16", "float32")}
    if bad:
        names = [k for k, v in model.weight.items() if str(v.dtype).replace("torch.", "") in bad]
        return failed(
            cid, f"weights must be float16 (RVC) or float32; found {bad}: {few_names(names, 4)}",
            measured=counts, expected="float16",
            cause="converted by a tool that quantised or cast the weights; RVC's half/float paths cannot run them",
            details={"tensors": names},
        )
    if "float32" in counts:
        return passed(cid, f"weights are {counts} (RVC writes float16; float32 also loads)",
                      measured=counts, expected="float16")
    return passed(cid, f"all {counts.get('float16', 0)} tensors are float16, as RVC writes",
                  measured=counts, expected="float16")

