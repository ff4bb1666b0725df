"""Tensor statistics, fingerprints and fp16-rounded comparison of RVC weight dicts.

Everything here works on plain ``{name: Tensor}`` dicts, whether they come from an inference
``.pth`` (``weight``, fp16, no ``enc_q``) or from a ``G_*.pth`` (``model``, fp32, with ``enc_q``).
RVC's extractors write ``tensor.half()`` of the training weights, so "this inference file came from
that checkpoint" means *bit-equal after rounding both to fp16*; that is the only comparison rule.

Comparisons are built to be cheap on memory-mapped files: a :class:`Fingerprint` reads a few dozen
elements of a handful of small tensors (a few pages of a 450 MB file), and a full comparison walks
one tensor at a time, so nothing is ever copied whole into RAM.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping

if TYPE_CHECKING:  # pragma: no cover
    import torch

#: Small tensors that exist in every RVC generator variant (v1/v2, f0/nof0, any rate), are not
#: weight-normed (so their names never change between weight-norm APIs) and that training changes.
FINGERPRINT_KEYS: tuple[str, ...] = (
    "emb_g.weight",
    "dec.conv_post.weight",
    "dec.conv_pre.bias",
    "flow.flows.0.post.bias",
    "enc_p.proj.bias",
    "enc_p.emb_phone.bias",
)
#: elements sampled per fingerprint tensor: the first few and an even spread over the rest
FINGERPRINT_HEAD = 16
FINGERPRINT_SPREAD = 24

_FP16_TINY = 6.103515625e-05  # fp16's smallest normal number

_PARAMETRIZATION_SUFFIXES = {
    ".parametrizations.weight.original0": ".weight_g",
    ".parametrizations.weight.original1": ".weight_v",
}


# --------------------------------------------------------------------------- names

def normalize_key(name: str) -> str:
    """New weight-norm API names (``parametrizations.weight.original0/1``) -> RVC's ``weight_g/v``."""
    for new, old in _PARAMETRIZATION_SUFFIXES.items():
        if name.endswith(new):
            return name[: -len(new)] + old
    return name


def normalized(weight: Mapping[str, Any]) -> dict[str, Any]:
    """The dict with weight-norm names in RVC's legacy form (a view: tensors are not copied)."""
    return {normalize_key(k): v for k, v in weight.items()}


def parametrization_keys(weight: Iterable[str]) -> list[str]:
    """Keys that use the new weight-norm API names, which RVC's loader does not understand."""
    return [k for k in weight if ".parametrizations.weight.original" in k]


def inference_part(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """What RVC keeps in an inference file: every key without ``enc_q``."""
    return {k: v for k, v in state_dict.items() if "enc_q" not in k}


# --------------------------------------------------------------------------- statistics

@dataclass(frozen=True)
class TensorStats:
    """Summary of one tensor, computed in float32 (or float64 for fp64 input)."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    numel: int
    n_nan: int
    n_inf: int
    max_abs: float  # over finite values; 0.0 for empty/all-non-finite
    mean: float
    std: float  # over finite values; 0.0 for a single element

    @property
    def finite(self) -> bool:
        return self.n_nan == 0 and self.n_inf == 0

    @property
    def all_zero(self) -> bool:
        return self.finite and self.max_abs == 0.0

    @property
    def constant(self) -> bool:
        return self.numel > 1 and self.finite and self.std == 0.0


def tensor_stats(name: str, tensor: "torch.Tensor") -> TensorStats:
    import torch

    t = tensor.detach()
    dtype = str(t.dtype).replace("torch.", "")
    shape = tuple(int(s) for s in t.shape)
    numel = int(t.numel())
    if numel == 0 or not (t.is_floating_point() or t.is_complex()):
        if numel and not t.is_floating_point():
            tf = t.double()
            return TensorStats(name, shape, dtype, numel, 0, 0, float(tf.abs().max()), float(tf.mean()),
                               float(tf.std()) if numel > 1 else 0.0)
        return TensorStats(name, shape, dtype, numel, 0, 0, 0.0, 0.0, 0.0)
    tf = t.float() if t.dtype != torch.float64 else t
    nan = torch.isnan(tf)
    inf = torch.isinf(tf)
    n_nan, n_inf = int(nan.sum()), int(inf.sum())
    if n_nan or n_inf:
        finite_vals = tf[~(nan | inf)]
    else:
        finite_vals = tf.reshape(-1)
    if finite_vals.numel() == 0:
        return TensorStats(name, shape, dtype, numel, n_nan, n_inf, 0.0, 0.0, 0.0)
    max_abs = float(finite_vals.abs().max())
    mean = float(finite_vals.double().mean())
    std = float(finite_vals.double().std()) if finite_vals.numel() > 1 else 0.0
    return TensorStats(name, shape, dtype, numel, n_nan, n_inf, max_abs, mean, std)


def weight_stats(weight: Mapping[str, "torch.Tensor"]) -> dict[str, TensorStats]:
    """Per-tensor statistics of a whole weight dict, in its key order."""
    return {k: tensor_stats(k, v) for k, v in weight.items()}


def non_finite(weight: Mapping[str, "torch.Tensor"]) -> list[tuple[str, int, int]]:
    """``(name, n_nan, n_inf)`` for every tensor holding NaN or Inf."""
    import torch

    out = []
    for k, v in weight.items():
        if not v.is_floating_point():
            continue
        finite = torch.isfinite(v)
        if bool(finite.all()):
            continue
        out.append((k, int(torch.isnan(v).sum()), int(torch.isinf(v).sum())))
    return out


def dtype_counts(weight: Mapping[str, "torch.Tensor"]) -> dict[str, int]:
    """``{"float16": 457}`` and the like."""
    counts: dict[str, int] = {}
    for v in weight.values():
        name = str(v.dtype).replace("torch.", "")
        counts[name] = counts.get(name, 0) + 1
    return counts


def parameter_count(weight: Mapping[str, "torch.Tensor"]) -> int:
    return sum(int(v.numel()) for v in weight.values())


# --------------------------------------------------------------------------- fp16 rounding

def as_fp16(tensor: "torch.Tensor") -> "torch.Tensor":
    """The tensor as RVC's extractor would store it (``.half()``); fp16 input is returned as is."""
    import torch

    return tensor if tensor.dtype == torch.float16 else tensor.detach().to(torch.float16)


def equal_fp16(a: "torch.Tensor", b: "torch.Tensor") -> bool:
    """Bit-for-bit equality after rounding both to fp16, counting NaN == NaN at the same place."""
    import torch

    if tuple(a.shape) != tuple(b.shape):
        return False
    ha, hb = as_fp16(a), as_fp16(b)
    if torch.equal(ha, hb):
        return True
    # torch.equal is False when NaN is present; compare NaN positions and the rest separately
    na, nb = torch.isnan(ha), torch.isnan(hb)
    if not bool(na.any()) and not bool(nb.any()):
        return False
    if not torch.equal(na, nb):
        return False
    keep = ~na
    return torch.equal(ha[keep], hb[keep])


# --------------------------------------------------------------------------- fingerprints

def fingerprint_indices(numel: int, head: int = FINGERPRINT_HEAD, spread: int = FINGERPRINT_SPREAD) -> list[int]:
    """Fixed element positions: the first ``head`` and ``spread`` evenly spaced over the rest."""
    idx = list(range(min(head, numel)))
    if numel > head and spread > 0:
        step = (numel - head) / spread
        idx += sorted({head + int(i * step) for i in range(spread)} - set(idx))
    return idx


@dataclass
class Fingerprint:
    """A few fp16-rounded elements of a few fixed tensors; identical weights -> identical prints."""

    values: dict[str, "torch.Tensor"] = field(default_factory=dict)  # key -> 1-D fp16 sample
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def keys(self) -> list[str]:
        return list(self.values)


def fingerprint(weight: Mapping[str, "torch.Tensor"], keys: Iterable[str] = FINGERPRINT_KEYS) -> Fingerprint:
    """Sample the fingerprint tensors of ``weight`` (names normalised; absent keys are left out)."""
    import torch

    fp = Fingerprint()
    for key in keys:
        t = weight.get(key)
        if t is None:
            continue
        flat = t.detach().reshape(-1)
        idx = torch.tensor(fingerprint_indices(int(flat.numel())), dtype=torch.long)
        fp.values[key] = as_fp16(flat.index_select(0, idx)) if idx.numel() else as_fp16(flat[:0])
        fp.shapes[key] = tuple(int(s) for s in t.shape)
    return fp


def fingerprint_match(a: Fingerprint, b: Fingerprint) -> bool:
    """True when every key both share has the same shape and the same fp16 samples (and they share one)."""
    shared = [k for k in a.values if k in b.values]
    if not shared:
        return False
    return all(a.shapes[k] == b.shapes[k] and equal_fp16(a.values[k], b.values[k]) for k in shared)


def fingerprint_distance(a: Fingerprint, b: Fingerprint) -> float:
    """Relative L2 distance of the shared samples (0 = same; inf when nothing comparable)."""
    import torch

    num = 0.0
    den = 0.0
    shared = [k for k in a.values if k in b.values and a.shapes[k] == b.shapes[k]]
    if not shared:
        return math.inf
    for k in shared:
        x = a.values[k].double()
        y = b.values[k].double()
        mask = torch.isfinite(x) & torch.isfinite(y)
        num += float(((x - y)[mask] ** 2).sum())
        den += float((y[mask] ** 2).sum())
    if den == 0.0:
        return 0.0 if num == 0.0 else math.inf
    return math.sqrt(num / den)


# --------------------------------------------------------------------------- full comparison

@dataclass
class Comparison:
    """How one weight dict compares with another after fp16 rounding (names normalised)."""

    compared: int = 0  # keys present in both with the same shape
    equal: int = 0  # of those, bit-equal after fp16 rounding
    missing: list[str] = field(default_factory=list)  # in ``a`` but not in ``b``
    shape_mismatch: list[str] = field(default_factory=list)
    differing: list[str] = field(default_factory=list)
    values: int = 0  # elements compared
    values_differing: int = 0
    max_abs_diff: float = 0.0
    max_rel_diff: float = 0.0  # max |a-b| / max(|b|, fp16's smallest normal) over elements
    rel_l2: float = 0.0  # ||a - b|| / ||b|| over compared finite elements

    def within_rounding(self, rel: float = 2.0**-7) -> bool:
        """Every element agrees to ``rel`` (default: bfloat16's rounding, 2^-8, with a 2x margin):
        the same weights stored at another precision rather than another checkpoint."""
        return self.compared > 0 and not self.missing and not self.shape_mismatch and self.max_rel_diff <= rel

    @property
    def identical(self) -> bool:
        return self.compared > 0 and not self.missing and not self.shape_mismatch and self.equal == self.compared

    def describe(self) -> str:
        parts = [f"{len(self.differing)} of {self.compared} tensors differ"]
        if self.compared:
            parts.append(f"relative difference {self.rel_l2:.2e}")
            parts.append(f"largest difference {self.max_abs_diff:.3g}")
        if self.missing:
            parts.append(f"{len(self.missing)} tensors absent")
        if self.shape_mismatch:
            parts.append(f"{len(self.shape_mismatch)} with other shapes")
        return ", ".join(parts)


def compare_fp16(a: Mapping[str, "torch.Tensor"], b: Mapping[str, "torch.Tensor"], *, stop_at_first: bool = False) -> Comparison:
    """Compare every tensor of ``a`` with the same-named tensor of ``b``, both rounded to fp16.

    Names are normalised on both sides (``parametrizations.weight.original0`` == ``weight_g``), and
    keys of ``b`` absent from ``a`` are ignored (a ``G_*.pth`` has ``enc_q``, an inference file has
    not). ``stop_at_first`` returns as soon as a difference is found (for "is it identical?").
    """
    import torch

    na, nb = normalized(a), normalized(b)
    cmp = Comparison()
    sq_diff = 0.0
    sq_ref = 0.0
    for key, ta in na.items():
        tb = nb.get(key)
        if tb is None:
            cmp.missing.append(key)
            if stop_at_first:
                return cmp
            continue
        if tuple(ta.shape) != tuple(tb.shape):
            cmp.shape_mismatch.append(key)
            if stop_at_first:
                return cmp
            continue
        cmp.compared += 1
        ha, hb = as_fp16(ta), as_fp16(tb)
        cmp.values += int(ha.numel())
        if equal_fp16(ha, hb):
            cmp.equal += 1
            if not stop_at_first:
                ref = hb.float()
                ref = ref[torch.isfinite(ref)]
                sq_ref += float((ref.double() ** 2).sum())
            continue
        cmp.differing.append(key)
        if stop_at_first:
            return cmp
        fa, fb = ha.float(), hb.float()
        mask = torch.isfinite(fa) & torch.isfinite(fb)
        diff = (fa - fb)[mask]
        cmp.values_differing += int((fa != fb).sum())
        if diff.numel():
            cmp.max_abs_diff = max(cmp.max_abs_diff, float(diff.abs().max()))
            scale = fb[mask].abs().clamp_min(_FP16_TINY)
            cmp.max_rel_diff = max(cmp.max_rel_diff, float((diff.abs() / scale).max()))
            sq_diff += float((diff.double() ** 2).sum())
        sq_ref += float((fb[mask].double() ** 2).sum())
    cmp.rel_l2 = math.sqrt(sq_diff / sq_ref) if sq_ref > 0 else (0.0 if sq_diff == 0 else math.inf)
    return cmp


def identical_fp16(a: Mapping[str, "torch.Tensor"], b: Mapping[str, "torch.Tensor"]) -> bool:
    """True when every tensor of ``a`` equals ``b``'s after fp16 rounding (early exit)."""
    return compare_fp16(a, b, stop_at_first=True).identical
