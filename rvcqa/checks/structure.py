"""Structural invariants of the released inference model (RVC_FORMATS sections 1, 4 and 6 rows 5-7).

Everything here is judged from the ``.pth`` alone (plus ``config.json`` for the filter length):
does it load safely, is the 18-element config RVC's for this variant, do the config and the
weights describe the same network, and do the weights look like a trained, finite network.
"""
from __future__ import annotations

import math
import re
from typing import Any, Callable

from rvcqa.context import ModelContext
from rvcqa.errors import RvcqaError, TrainingCheckpointGivenError
from rvcqa.facts import comparison_facts
from rvcqa.findings import Finding, failed, passed, skipped, warning

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

DEFAULTS: dict[str, Any] = {
    # Largest |value| a healthy tensor holds. RVC's init keeps every tensor below ~5 (embeddings
    # N(0,1); weight_g = ||v|| ~ 1); the conformance models (RVC init x1.5-2) peak at 5.9, and fp16
    # overflows at 65504. 1e3 leaves 200x headroom over healthy and flags divergence well before inf.
    "structure.tensor_stats.max_abs": 1e3,
    # Largest standard deviation of one tensor: healthy tensors (init and trained) stay below ~2
    # (the conformance models' embeddings: 1.6); 1e2 means a tensor has blown up.
    "structure.tensor_stats.max_std": 1e2,
    # Smallest tensor judged by the "one constant value" rule. Tiny tensors can be constant by chance
    # in fp16: the conformance models' 2-element weight_g of the last resblocks (narrow widths) are.
    # Real models' smallest randomly initialised tensors have 32+ elements.
    "structure.tensor_stats.constant_min_numel": 16,
    # Widths that differ from RVC's (inter/hidden 192, filter 768, ...) load fine in a matching
    # network but no RVC/Applio release writes them: "warning" (default) or "failed" or "passed".
    "structure.canonical_config.custom_widths": "warning",
}

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


def _canonical_table() -> dict[tuple[str, int], list[Any]]:
    """(version, sr) -> RVC's 18-element list (RVC_FORMATS 1.4), from rvcqa.synth.variants."""
    global _TABLE_CACHE
    if _TABLE_CACHE is None:
        from rvcqa.synth.variants import CANONICAL_VARIANTS, canonical_config as _cc

        _TABLE_CACHE = {(v, sr): _cc(v, sr) for v, sr in CANONICAL_VARIANTS}
    return _TABLE_CACHE


_TABLE_CACHE: dict[tuple[str, int], list[Any]] | None = None
PHONE_WIDTH = {"v1": 256, "v2": 768}
FLOW_POST = tuple(f"flow.flows.{i}.post.{p}" for i in (0, 2, 4, 6) for p in ("weight", "bias"))
#: tensors whose RVC initialisation is constant (LayerNorm gamma=1/beta=0, the zero-initialised
#: flow post layers, which structure.trained judges); a constant value there is not corruption
_CONSTANT_AT_INIT = re.compile(r"(\.gamma$|\.beta$|^flow\.flows\.\d+\.post\.)")


# --------------------------------------------------------------------------- helpers

def canonical_config(version: str, sr: int | None) -> list[Any] | None:
    """RVC's 18-element list for ``version`` at ``sr`` Hz, or None when RVC has none."""
    if sr is None:
        return None
    found = _canonical_table().get((version, int(sr)))
    return [list(x) if isinstance(x, list) else x for x in found] if found else None


def variant_name(version: str, sr: int | None) -> str:
    return f"{version} {sr // 1000}k" if isinstance(sr, int) else f"{version} (unknown rate)"


def _match_canonical_rates(config: list[Any]) -> list[str]:
    """Names of the canonical variants whose rate-defining elements equal ``config``'s."""
    out = []
    for (version, sr), canon in _canonical_table().items():
        if all(_same(config[i], canon[i]) for i in RATE_DEFINING):
            out.append(variant_name(version, sr))
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return float(a) == float(b)
    return str(a) == str(b)


def _fmt_list(value: Any) -> str:
    return str(value).replace("'", '"')


def _parse_config(config: list[Any]):
    from rvcqa.synth.config import SynthConfig

    return SynthConfig.from_list(config)


def _conv_weight(weight: dict[str, Any], prefix: str):
    """The direction/kernel tensor of a (possibly weight-normed) conv: ``weight_v``, ``weight`` or new API."""
    for suffix in (".weight_v", ".parametrizations.weight.original1", ".weight"):
        t = weight.get(prefix + suffix)
        if t is not None:
            return t
    return None


def _indexed(weight: dict[str, Any], prefix: str) -> list[int]:
    pat = re.compile(re.escape(prefix) + r"\.(\d+)\.")
    return sorted({int(m.group(1)) for k in weight for m in [pat.match(k)] if m})


def decoder_facts(weight: dict[str, Any]) -> dict[str, Any]:
    """Upsampling facts read from the weights: stage count, ``ups`` kernels, ``noise_convs`` kernels."""
    ups = _indexed(weight, "dec.ups")
    kernels = []
    for i in ups:
        t = _conv_weight(weight, f"dec.ups.{i}")
        kernels.append(int(t.shape[-1]) if t is not None else None)
    noise = []
    for i in _indexed(weight, "dec.noise_convs"):
        t = weight.get(f"dec.noise_convs.{i}.weight")
        noise.append(int(t.shape[-1]) if t is not None else None)
    return {"stages": len(ups), "ups_kernels": kernels, "noise_kernels": noise}


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
    for (version, sr), canon in _canonical_table().items():
        if width is not None and PHONE_WIDTH[version] != width:
            continue
        if facts["ups_kernels"] != list(canon[14]):
            continue
        if facts["noise_kernels"] and facts["noise_kernels"] != noise_kernels_for(list(canon[12])):
            continue
        out.append(variant_name(version, sr))
    return out


def expected_keys(config: list[Any], version: str, f0: bool) -> dict[str, tuple[int, ...]] | None:
    """Names and shapes of the inference weights the synthesizer builds for this config."""
    try:
        from rvcqa.synth.variants import expected_inference_keys
    except ImportError:
        expected_inference_keys = None  # type: ignore[assignment]
    if expected_inference_keys is not None:
        keys = expected_inference_keys(config, version, f0)
        return {k: tuple(int(s) for s in v) for k, v in keys.items()}
    try:
        from rvcqa.synth import build_synthesizer
    except ImportError:
        return None
    net = build_synthesizer(config, version=version, f0=bool(f0))
    return {k: tuple(v.shape) for k, v in net.state_dict().items() if "enc_q" not in k}


def _names(keys: list[str], limit: int = 6) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


# --------------------------------------------------------------------------- run

def run(ctx: ModelContext) -> list[Finding]:
    out: list[Finding] = []
    try:
        model = ctx.inference_model()
    except RvcqaError as error:
        out.append(_file_format_failed(ctx, error))
        reason = "the inference model did not load (see structure.file_format)"
        out += [skipped(cid, f"{cid}: not evaluated: {reason}") for cid in CHECK_IDS[1:]]
        return out

    out.append(_file_format(model))
    ctx.record("inference_layers", len(model.weight))
    config = model.config
    try:
        cfg = _parse_config(config)
    except (ValueError, ImportError) as exc:
        cfg = None
        cfg_error = str(exc)
    out.append(_config_length(model, cfg, cfg_error if cfg is None else None))

    def need_cfg(cid: str, fn: Callable[[], Finding]) -> Finding:
        if cfg is None:
            return skipped(cid, f"{cid}: not evaluated: the config is not RVC's 18-element list (see structure.config_length)")
        return fn()

    out.append(need_cfg("structure.sample_rate", lambda: _sample_rate(model, cfg)))
    out.append(need_cfg("structure.hop_length", lambda: _hop_length(model, cfg)))
    out.append(need_cfg("structure.spec_channels", lambda: _spec_channels(ctx, model, cfg)))
    out.append(need_cfg("structure.decoder_shapes", lambda: _decoder_shapes(model, cfg)))
    out.append(_version(model))
    out.append(_f0(model))
    out.append(need_cfg("structure.speakers", lambda: _speakers(model, cfg)))
    out.append(_vocoder(model))
    out.append(need_cfg("structure.canonical_config", lambda: _canonical(ctx, model, cfg)))
    out.append(need_cfg("structure.layer_count", lambda: _layer_count(model)))
    out.append(need_cfg("structure.strict_load", lambda: _strict_load(ctx, model)))
    out.append(_finite(model))
    out.append(_tensor_stats(ctx, model))
    out.append(_trained(model))
    out.append(_dtype(model))
    out.append(_reference_agreement(ctx, model))
    return out


# --------------------------------------------------------------------------- file format

def _file_format_failed(ctx: ModelContext, error: RvcqaError) -> Finding:
    cid = "structure.file_format"
    details: dict[str, Any] = {"error": type(error).__name__}
    cause = None
    if isinstance(error, TrainingCheckpointGivenError):
        cause = ("a G_*.pth/D_*.pth from logs/NAME was given as the model; RVC's inference file is "
                 "assets/weights/NAME.pth, written by savee at the end of training or by the ckpt tab")
        m = re.search(r"\(epoch (\w+)(?:, step (\d+))?\)", str(error))
        if m:
            details.update(epoch=m.group(1), step=m.group(2))
        measured = "training checkpoint"
    else:
        from rvcqa.errors import UnsafeCheckpointError

        if isinstance(error, UnsafeCheckpointError):
            cause = "the file contains pickled code, not only tensors: it may be malicious; do not open it in RVC/Applio or with torch.load(weights_only=False)"
            measured = "unsafe pickle"
        else:
            measured = "unreadable"
    return failed(cid, str(error), measured=measured, expected="an RVC inference model",
                  cause=cause, subject=str(ctx.md.inference_file) if ctx.md.inference_file else None,
                  details=details)


def _layout(model) -> str:
    if "vocoder" in model.extra or "model_hash" in model.extra or isinstance(model.extra.get("epoch"), int):
        return "Applio"
    return "RVC"


def _file_format(model) -> Finding:
    keys = ["weight", "config", "info", "sr", "f0", "version", *model.extra.keys()]
    return passed(
        "structure.file_format",
        f"{model.path.name if model.path else 'model'} is an {_layout(model)} inference model "
        f"(version {model.version}, sr {model.sr!r}, f0 {model.f0}, {len(model.weight)} weight tensors)",
        measured=_layout(model), expected="an RVC inference model",
        subject=str(model.path) if model.path else None, details={"entries": keys},
    )


def _config_length(model, cfg, error: str | None) -> Finding:
    cid = "structure.config_length"
    n = len(model.config)
    if cfg is None:
        return failed(
            cid,
            f"config has {n} entries, expected RVC's 18 synthesizer arguments" if n != 18
            else f"config has 18 entries but they are malformed: {error}",
            measured=n, expected=18,
            cause="the model was written by another tool or edited by hand; RVC and Applio build the "
                  "network from exactly these 18 positional arguments and cannot load it",
            details={"config": model.config},
        )
    return passed(cid, f"config has {n} entries", measured=n, expected=18, details={"config": model.config})


# --------------------------------------------------------------------------- sample rate

def _sample_rate(model, cfg) -> Finding:
    cid = "structure.sample_rate"
    sr_field = model.sr
    sr_hz = model.sr_hz
    if sr_hz is None:
        return failed(cid, f"the sr field {sr_field!r} is not a sample rate (expected \"32k\"/\"40k\"/\"48k\" or an int)",
                      measured=sr_field, expected=cfg.sr,
                      cause="the model was written by a tool that does not follow RVC's format")
    if sr_hz != cfg.sr:
        return failed(
            cid,
            f"the sr field says {sr_field!r} but config[-1] is {cfg.sr}; RVC converts at config[-1] "
            f"({cfg.sr} Hz), so one of them is wrong",
            measured={"sr": sr_field, "config[-1]": cfg.sr}, expected="the same rate",
            cause="the wrong sample rate was picked in the ckpt tab when extracting, or logs/NAME/config.json "
                  "is a stale one from an earlier run with the same name (RVC never overwrites it)",
        )
    return passed(cid, f"sr {sr_field!r} agrees with config[-1] = {cfg.sr}", measured=sr_field, expected=cfg.sr)


def _hop_length(model, cfg) -> Finding:
    cid = "structure.hop_length"
    hop = cfg.hop
    if hop * 100 != cfg.sr:
        return failed(
            cid,
            f"upsample_rates {list(cfg.upsample_rates)} give a hop of {hop} samples, which is "
            f"{hop * 100} Hz at 100 frames/s, but config[-1] is {cfg.sr} Hz (needs a hop of {cfg.sr / 100:g})",
            measured=hop, expected=cfg.sr // 100,
            cause="the config list belongs to another sample rate than config[-1]: the output plays at the "
                  "wrong speed/pitch; re-extract with the model's real sample rate",
        )
    return passed(cid, f"hop {hop} = product of upsample_rates {list(cfg.upsample_rates)} = {cfg.sr} / 100",
                  measured=hop, expected=cfg.sr // 100)


def _spec_channels(ctx: ModelContext, model, cfg) -> Finding:
    cid = "structure.spec_channels"
    source = None
    expected = None
    try:
        cj = ctx.config_json()
    except RvcqaError:
        cj = None
    if cj:
        fl = cj.get("data", {}).get("filter_length")
        if isinstance(fl, int) and fl > 0:
            expected, source = fl // 2 + 1, f"config.json filter_length {fl} // 2 + 1"
    if expected is None:
        canon = canonical_config(model.version, cfg.sr)
        if canon is None:
            return skipped(cid, f"no config.json and no RVC config for {variant_name(model.version, cfg.sr)} "
                                "to compare spec_channels with")
        expected, source = canon[0], f"RVC's {variant_name(model.version, cfg.sr)} config"
    if cfg.spec_channels != expected:
        return failed(
            cid,
            f"config[0] spec_channels is {cfg.spec_channels} but {source} gives {expected}",
            measured=cfg.spec_channels, expected=expected,
            cause="the model and logs/NAME/config.json come from different runs (a stale config.json "
                  "survives a new run with the same name) or the config list is another rate's",
        )
    return passed(cid, f"spec_channels {cfg.spec_channels} agrees with {source}",
                  measured=cfg.spec_channels, expected=expected)


def _decoder_shapes(model, cfg) -> Finding:
    cid = "structure.decoder_shapes"
    facts = decoder_facts(model.weight)
    rates, kernels = list(cfg.upsample_rates), list(cfg.upsample_kernel_sizes)
    problems = []
    if facts["stages"] != len(rates):
        problems.append(f"the weights have {facts['stages']} upsampling stages (dec.ups.*) but upsample_rates "
                        f"{rates} has {len(rates)}")
    elif facts["ups_kernels"] != kernels:
        problems.append(f"dec.ups.* kernels in the weights are {facts['ups_kernels']} but upsample_kernel_sizes "
                        f"is {kernels}")
    if facts["noise_kernels"] and facts["stages"] == len(rates):
        want = noise_kernels_for(rates)
        if facts["noise_kernels"] != want:
            problems.append(f"dec.noise_convs.* kernels are {facts['noise_kernels']} but upsample_rates {rates} "
                            f"need {want}")
    measured = {"stages": facts["stages"], "ups_kernels": facts["ups_kernels"], "noise_kernels": facts["noise_kernels"]}
    if problems:
        fits = weight_variants(model.weight)
        fit_text = f"; the weights fit RVC's {' / '.join(fits)} decoder" if fits else ""
        return failed(
            cid, "; ".join(problems) + fit_text,
            measured=measured, expected={"upsample_rates": rates, "upsample_kernel_sizes": kernels},
            cause="the model was extracted with another sample rate's config (wrong sr in the ckpt tab, or "
                  "RVC 0618's extract_small_model writing the v1 48k/32k lists on v2 models); RVC cannot "
                  "load it (size mismatch)",
            details={"weights_fit": fits},
        )
    return passed(cid, f"dec.ups kernels {facts['ups_kernels']} match upsample_kernel_sizes and "
                       f"{facts['stages']} stages match upsample_rates {rates}",
                  measured=measured, expected={"upsample_rates": rates, "upsample_kernel_sizes": kernels})


# --------------------------------------------------------------------------- version / f0 / speakers

def _version(model) -> Finding:
    cid = "structure.version"
    t = model.weight.get("enc_p.emb_phone.weight")
    if model.version not in PHONE_WIDTH:
        return failed(cid, f"version is {model.version!r}; RVC knows \"v1\" (256-dim HuBERT) and \"v2\" (768-dim)",
                      measured=model.version, expected="v1 or v2")
    want = PHONE_WIDTH[model.version]
    if t is None or t.dim() != 2:
        return failed(cid, "the weights have no enc_p.emb_phone.weight: this is not an RVC generator",
                      measured=None, expected=f"[hidden, {want}]")
    width = int(t.shape[1])
    if width != want:
        actual = {v: k for k, v in PHONE_WIDTH.items()}.get(width, "unknown")
        return failed(
            cid,
            f"version says {model.version} ({want}-dim features) but enc_p.emb_phone takes {width}-dim "
            f"features ({actual}); RVC would feed the wrong HuBERT layer",
            measured=width, expected=want,
            cause="the wrong version was picked in the ckpt tab when extracting (it is filled from train.log, "
                  "which recent RVC leaves empty)",
        )
    return passed(cid, f"enc_p.emb_phone takes {width}-dim features, as {model.version} needs",
                  measured=width, expected=want)


def _f0(model) -> Finding:
    cid = "structure.f0"
    has_pitch = "enc_p.emb_pitch.weight" in model.weight
    has_source = any(k.startswith("dec.m_source.") for k in model.weight)
    f0 = model.f0
    if f0 not in (0, 1):
        return failed(cid, f"f0 is {f0!r}; RVC writes 1 (pitch-guided) or 0", measured=f0, expected="0 or 1")
    if bool(f0) != has_pitch or has_pitch != has_source:
        what = ("have emb_pitch" if has_pitch else "have no emb_pitch") + (
            " and a harmonic source (dec.m_source)" if has_source else " and no harmonic source")
        return failed(
            cid, f"f0 is {f0} but the weights {what}",
            measured={"f0": f0, "emb_pitch": has_pitch, "m_source": has_source}, expected="f0 == 1 iff emb_pitch present",
            cause="the wrong 'pitch guidance' setting was picked when extracting; RVC builds the wrong network "
                  "class and the load fails or ignores the pitch",
        )
    return passed(cid, f"f0 {f0} agrees with the weights ({'pitch embedding present' if has_pitch else 'no pitch embedding'})",
                  measured=f0, expected=int(has_pitch))


def _speakers(model, cfg) -> Finding:
    """emb_g rows vs config[-3].

    Decision: a disagreement is a WARNING, not a failure. RVC (``VC.get_vc``) and Applio
    (``setup_network``) both overwrite ``config[-3]`` with ``emb_g.weight.shape[0]`` before
    building the network, so it never changes what the model does; but RVC itself never writes a
    disagreeing pair (both come from config.json / the pretrained G), so it means hand editing or a
    merge tool, which deserves a look. No ``emb_g`` at all, or zero rows, is a failure.
    """
    cid = "structure.speakers"
    t = model.weight.get("emb_g.weight")
    if t is None or t.dim() != 2:
        return failed(cid, "the weights have no emb_g.weight (speaker embedding): not an RVC generator",
                      measured=None, expected=cfg.spk_embed_dim,
                      cause="a D_*.pth or another network's weights were extracted")
    rows = int(t.shape[0])
    if rows < 1:
        return failed(cid, "emb_g.weight has 0 rows: no speaker id can be used", measured=rows, expected=">= 1")
    if rows != cfg.spk_embed_dim:
        return warning(
            cid,
            f"config[-3] spk_embed_dim is {cfg.spk_embed_dim} but emb_g has {rows} rows; RVC and Applio replace "
            f"config[-3] with the row count when loading, so the model works with speaker ids 0..{rows - 1}",
            measured=rows, expected=cfg.spk_embed_dim,
            cause="the file was edited or merged by a tool other than RVC/Applio (RVC writes 109 for both)",
        )
    return passed(cid, f"emb_g has {rows} speaker rows = config[-3]", measured=rows, expected=cfg.spk_embed_dim)


def _vocoder(model) -> Finding:
    cid = "structure.vocoder"
    vocoder = model.extra.get("vocoder")
    if vocoder is None:
        return passed(cid, "no vocoder entry: RVC's HiFi-GAN (NSF) decoder", measured=None, expected="HiFi-GAN")
    if str(vocoder) != "HiFi-GAN":
        return failed(
            cid,
            f"Applio vocoder is {vocoder!r}: its decoder keys differ from RVC's HiFi-GAN, so RVC (which loads "
            "with strict=False) would leave the decoder random and output noise",
            measured=vocoder, expected="HiFi-GAN",
            cause="the model was trained in Applio with the 'MRF HiFi-GAN' or 'RefineGAN' vocoder; use it only "
                  "in Applio, or retrain with HiFi-GAN for RVC",
        )
    return passed(cid, "Applio vocoder HiFi-GAN (RVC-compatible)", measured=vocoder, expected="HiFi-GAN")


# --------------------------------------------------------------------------- canonical config

def _canonical(ctx: ModelContext, model, cfg) -> Finding:
    cid = "structure.canonical_config"
    sr = cfg.sr
    canon = canonical_config(model.version, sr)
    config = cfg.to_list()
    name = variant_name(model.version, sr)
    if canon is None:
        return failed(cid, f"RVC has no {name} model; known: v1 32k/40k/48k, v2 32k/40k/48k and Applio v2 24k",
                      measured=name, expected="a known variant",
                      cause="the config's sample rate or version is wrong")
    rate_diff = [NAMES[i] for i in RATE_DEFINING if not _same(config[i], canon[i])]
    width_diff = {NAMES[i]: {"model": config[i], "rvc": canon[i]} for i in WIDTHS if not _same(config[i], canon[i])}
    details = {"config": config, "canonical": canon, "rate_differences": rate_diff, "width_differences": width_diff}
    if rate_diff:
        matches = [m for m in _match_canonical_rates(config) if m != name]
        hint = f"; these are RVC's {' / '.join(matches)} values" if matches else ""
        bug = ""
        if model.version == "v2" and any(m.startswith("v1") for m in matches):
            bug = ("RVC 0618's extract_small_model writes the v1 48k/32k lists for v2 models (fixed later); "
                   "re-extract with a current RVC. ")
        shown_model = [config[i] if i in RATE_DEFINING else "*" for i in range(18)]
        shown_canon = [canon[i] if i in RATE_DEFINING else "*" for i in range(18)]
        return failed(
            cid,
            f"config is not RVC's {name} config: {', '.join(rate_diff)} differ{hint}. "
            f"model {_fmt_list(shown_model)} vs RVC {_fmt_list(shown_canon)} (* = width, compared separately)",
            measured={n: config[NAMES.index(n)] for n in rate_diff},
            expected={n: canon[NAMES.index(n)] for n in rate_diff},
            cause=bug + "the model was extracted with a hard-coded config for another sample rate or version",
            details=details,
        )
    if width_diff:
        text = ", ".join(f"{k} {v['model']} (RVC {v['rvc']})" for k, v in width_diff.items())
        mode = str(ctx.threshold("structure.canonical_config.custom_widths",
                                 DEFAULTS["structure.canonical_config.custom_widths"])).lower()
        msg = (f"config matches RVC's {name} sample-rate layout, but the widths are custom: {text}; "
               "the network loads only in a synthesizer built with these widths")
        make = {"failed": failed, "passed": passed}.get(mode, warning)
        return make(cid, msg, measured={k: v["model"] for k, v in width_diff.items()},
                    expected={k: v["rvc"] for k, v in width_diff.items()},
                    cause="a custom or narrow architecture (every RVC/Applio release model uses inter/hidden 192, "
                          "filter 768, upsample_initial_channel 512, gin 256)",
                    details=details)
    return passed(cid, f"config is RVC's {name} config", measured=config, expected=canon, details=details)


# --------------------------------------------------------------------------- layers and load

def _layer_count(model) -> Finding:
    cid = "structure.layer_count"
    try:
        exp = expected_keys(model.config, model.version, bool(model.f0))
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
            parts.append(f"{len(missing)} missing ({_names(missing)})")
        if extra:
            parts.append(f"{len(extra)} unexpected ({_names(extra)})")
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


def _strict_load(ctx: ModelContext, model) -> Finding:
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


# --------------------------------------------------------------------------- weight health

def _finite(model) -> Finding:
    cid = "structure.finite"
    from rvcqa.weights import non_finite

    bad = non_finite(model.weight)
    if bad:
        text = _names([f"{k} ({n_nan} NaN, {n_inf} Inf)" for k, n_nan, n_inf in bad], 5)
        return failed(
            cid, f"{len(bad)} of {len(model.weight)} weight tensors hold NaN/Inf: {text}",
            measured=len(bad), expected=0,
            cause="training diverged (loss_mel -> nan: fp16 overflow, Hopper GPUs H100/H800/H200, or bad "
                  "training audio), and the NaN weights were saved; use an earlier checkpoint",
            details={"tensors": [{"name": k, "nan": a, "inf": b} for k, a, b in bad]},
        )
    return passed(cid, f"all {len(model.weight)} weight tensors are finite", measured=0, expected=0)


def _tensor_stats(ctx: ModelContext, model) -> Finding:
    cid = "structure.tensor_stats"
    from rvcqa.weights import weight_stats

    max_abs = float(ctx.threshold("structure.tensor_stats.max_abs", DEFAULTS["structure.tensor_stats.max_abs"]))
    max_std = float(ctx.threshold("structure.tensor_stats.max_std", DEFAULTS["structure.tensor_stats.max_std"]))
    min_numel = int(ctx.threshold("structure.tensor_stats.constant_min_numel",
                                  DEFAULTS["structure.tensor_stats.constant_min_numel"]))
    stats = weight_stats(model.weight)
    large = [s for s in stats.values() if s.max_abs > max_abs or s.std > max_std]
    constant = [s for s in stats.values()
                if s.constant and s.numel >= min_numel and not _CONSTANT_AT_INIT.search(s.name)]
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
                        + _names([f"{s.name} (max {s.max_abs:.3g}, std {s.std:.3g})" for s in large], 4))
    if constant:
        problems.append(f"{len(constant)} tensors that RVC initialises randomly hold one constant value: "
                        + _names([f"{s.name} (= {s.mean:.3g})" for s in constant], 4))
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


def _trained(model) -> Finding:
    cid = "structure.trained"
    present = [k for k in FLOW_POST if k in model.weight]
    if not present:
        return skipped(cid, "the weights have no flow.flows.*.post layers (see structure.layer_count)")
    zero = [k for k in present if bool((model.weight[k] == 0).all())]
    weights_zero = [k for k in zero if k.endswith(".weight")]
    if weights_zero:
        return failed(
            cid,
            f"{len(zero)} of {len(present)} flow post tensors are still all zero ({_names(zero, 4)}): RVC initialises "
            "them to zero and any training step changes them, so the flow was never trained",
            measured=len(zero), expected=0,
            cause="the model was extracted from an untrained network (training crashed before the first save, "
                  "or the weights come from a freshly built model, not a G_*.pth)",
            details={"zero": zero},
        )
    return passed(cid, f"flow post layers are non-zero ({len(present)} tensors): the flow was trained",
                  measured=0, expected=0)


def _dtype(model) -> Finding:
    cid = "structure.dtype"
    from rvcqa.weights import dtype_counts

    counts = dtype_counts(model.weight)
    bad = {k: v for k, v in counts.items() if k not in ("float16", "float32")}
    if bad:
        names = [k for k, v in model.weight.items() if str(v.dtype).replace("torch.", "") in bad]
        return failed(
            cid, f"weights must be float16 (RVC) or float32; found {bad}: {_names(names, 4)}",
            measured=counts, expected="float16",
            cause="converted by a tool that quantised or cast the weights; RVC's half/float paths cannot run them",
            details={"tensors": names},
        )
    if "float32" in counts:
        return passed(cid, f"weights are {counts} (RVC writes float16; float32 also loads)",
                      measured=counts, expected="float16")
    return passed(cid, f"all {counts.get('float16', 0)} tensors are float16, as RVC writes",
                  measured=counts, expected="float16")


# --------------------------------------------------------------------------- reference model

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
    same_variant = _same_variant(model, ref)
    rows = []
    for key, label, structural in _ROWS:
        rows.append({
            "attribute": label, "key": key, "model": a[key], "reference": b[key],
            "same": _same(a[key], b[key]) if a[key] is not None and b[key] is not None else a[key] == b[key],
            "must_agree": structural and (same_variant or key == "config_length"),
        })
    return rows


def _same_variant(a, b) -> bool:
    """Same version, same f0, and the same number of decoder stages -> the same key set."""
    return (a.version == b.version and bool(a.f0) == bool(b.f0)
            and decoder_facts(a.weight)["stages"] == decoder_facts(b.weight)["stages"])


def _reference_agreement(ctx: ModelContext, model) -> Finding:
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
