"""Which RVC network a config list and a set of weights describe, read from them alone.

RVC builds its synthesizer from 18 positional config values (RVC_FORMATS 1.3) and loads the weights into
it; these helpers name those values, look up RVC's own lists per variant, and read the decoder's shape
back from the tensors, so the structure checks, the report and the sweep compare the same facts.
"""
from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rvcqa.synth.config import SynthConfig

#: config positions by name (RVC_FORMATS 1.3)
NAMES = (
    "spec_channels", "segment_size", "inter_channels", "hidden_channels", "filter_channels",
    "n_heads", "n_layers", "kernel_size", "p_dropout", "resblock", "resblock_kernel_sizes",
    "resblock_dilation_sizes", "upsample_rates", "upsample_initial_channel",
    "upsample_kernel_sizes", "spk_embed_dim", "gin_channels", "sampling_rate",
)


#: the elements that define the sample rate and decoder: a deviation breaks the model
RATE_DEFINING = (0, 9, 10, 11, 12, 14, 17)


#: the widths and depths: a deviation is legitimate only if the weights were trained with it
WIDTHS = (2, 3, 4, 5, 6, 7, 8, 13, 16)



def canonical_table() -> dict[tuple[str, int], list[Any]]:
    """(version, sr) -> RVC's 18-element list (RVC_FORMATS 1.4), from rvcqa.synth.variants."""
    global _TABLE_CACHE
    if _TABLE_CACHE is None:
        from rvcqa.synth.variants import CANONICAL_VARIANTS, canonical_config as _cc

        _TABLE_CACHE = {(v, sr): _cc(v, sr) for v, sr in CANONICAL_VARIANTS}
    return _TABLE_CACHE



_TABLE_CACHE: dict[tuple[str, int], list[Any]] | None = None


PHONE_WIDTH = {"v1": 256, "v2": 768}



def canonical_config(version: str, sr: int | None) -> list[Any] | None:
    """RVC's 18-element list for ``version`` at ``sr`` Hz, or None when RVC has none."""
    if sr is None:
        return None
    found = canonical_table().get((version, int(sr)))
    return [list(x) if isinstance(x, list) else x for x in found] if found else None


def variant_name(version: str, sr: int | None) -> str:
    return f"{version} {sr // 1000}k" if isinstance(sr, int) else f"{version} (unknown rate)"


def match_canonical_rates(config: list[Any]) -> list[str]:
    """Names of the canonical variants whose rate-defining elements equal ``config``'s."""
    out = []
    for (version, sr), canon in canonical_table().items():
        if all(same_value(config[i], canon[i]) for i in RATE_DEFINING):
            out.append(variant_name(version, sr))
    return out


def same_value(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return float(a) == float(b)
    return str(a) == str(b)


def fmt_list(value: Any) -> str:
    return str(value).replace("'", '"')


def parse_config(config: list[Any]) -> SynthConfig:
    """The config as the synthesizer reads it; ValueError names what is malformed."""
    from rvcqa.synth.config import SynthConfig

    return SynthConfig.from_list(config)


def conv_weight(weight: dict[str, Any], prefix: str) -> Any:
    """The direction/kernel tensor of a (possibly weight-normed) conv: ``weight_v``, ``weight`` or new API."""
    for suffix in (".weight_v", ".parametrizations.weight.original1", ".weight"):
        t = weight.get(prefix + suffix)
        if t is not None:
            return t
    return None


def indexed_children(weight: dict[str, Any], prefix: str) -> list[int]:
    pat = re.compile(re.escape(prefix) + r"\.(\d+)\.")
    return sorted({int(m.group(1)) for k in weight for m in [pat.match(k)] if m})


def decoder_facts(weight: dict[str, Any]) -> dict[str, Any]:
    """Upsampling facts read from the weights (``vocoder``, ``stages``, ``ups_kernels``, ``noise_kernels``).

    The synthesizer knows every vocoder's decoder keys (RefineGAN has no ``ups`` kernels: None).
    """
    from rvcqa.synth.variants import decoder_facts as synth_decoder_facts

    return synth_decoder_facts(weight)


def noise_kernels_for(rates: list[int]) -> list[int]:
    """RVC's ``noise_convs`` kernel sizes for ``upsample_rates``: 2*prod(later rates), 1 for the last."""
    out = []
    for i in range(len(rates)):
        if i + 1 < len(rates):
            out.append(2 * math.prod(rates[i + 1:]))
        else:
            out.append(1)
    return out


def weight_variants(weight: dict[str, Any]) -> list[str]:
    """Which canonical variants' decoders these weights fit, judged from kernel shapes and emb_phone."""
    facts = decoder_facts(weight)
    phone = weight.get("enc_p.emb_phone.weight")
    width = int(phone.shape[1]) if phone is not None and phone.dim() == 2 else None
    out = []
    for (version, sr), canon in canonical_table().items():
        if width is not None and PHONE_WIDTH[version] != width:
            continue
        if facts["ups_kernels"] != list(canon[14]):
            continue
        if facts["noise_kernels"] and facts["noise_kernels"] != noise_kernels_for(list(canon[12])):
            continue
        out.append(variant_name(version, sr))
    return out


def expected_keys(config: list[Any], version: str, f0: bool,
                  model: Any = None) -> dict[str, tuple[int, ...]] | None:
    """Names and shapes of the inference weights the synthesizer builds for this config."""
    try:
        from rvcqa.synth.variants import expected_inference_keys
    except ImportError:
        expected_inference_keys = None  # type: ignore[assignment]
    if expected_inference_keys is not None:
        keys = expected_inference_keys(config, version, f0, weight=getattr(model, "weight", None),
                                       extra=getattr(model, "extra", None))
        return {k: tuple(int(s) for s in v) for k, v in keys.items()}
    try:
        from rvcqa.synth import build_synthesizer
    except ImportError:
        return None
    net = build_synthesizer(config, version=version, f0=bool(f0))
    return {k: tuple(v.shape) for k, v in net.state_dict().items() if "enc_q" not in k}


def few_names(keys: list[str], limit: int = 6) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")

