"""Config and format checks: does the file load, and do its 18 config values, its metadata and its
weights describe one RVC network (RVC_FORMATS sections 1, 4 and 6 rows 5-7)?"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from rvcqa.architecture import (
    NAMES, PHONE_WIDTH, RATE_DEFINING, WIDTHS, canonical_config, decoder_facts, fmt_list, match_canonical_rates,
    noise_kernels_for, same_value, variant_name, weight_variants,
)
from rvcqa.checks.structure.defaults import thr
from rvcqa.errors import RvcqaError, TrainingCheckpointGivenError
from rvcqa.findings import Finding, failed, passed, skipped, warning

if TYPE_CHECKING:
    from rvcqa.checkpoint import InferenceModel
    from rvcqa.context import ModelContext
    from rvcqa.synth.config import SynthConfig


def file_format_failed(ctx: ModelContext, error: RvcqaError) -> Finding:
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


def _layout(model: InferenceModel) -> str:
    if "vocoder" in model.extra or "model_hash" in model.extra or isinstance(model.extra.get("epoch"), int):
        return "Applio"
    return "RVC"


def check_file_format(model: InferenceModel) -> Finding:
    keys = ["weight", "config", "info", "sr", "f0", "version", *model.extra.keys()]
    return passed(
        "structure.file_format",
        f"{model.path.name if model.path else 'model'} is an {_layout(model)} inference model "
        f"(version {model.version}, sr {model.sr!r}, f0 {model.f0}, {len(model.weight)} weight tensors)",
        measured=_layout(model), expected="an RVC inference model",
        subject=str(model.path) if model.path else None, details={"entries": keys},
    )


def check_config_length(model: InferenceModel, cfg: SynthConfig | None, error: str | None) -> Finding:
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


def check_sample_rate(model: InferenceModel, cfg: SynthConfig) -> Finding:
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


def check_hop_length(model: InferenceModel, cfg: SynthConfig) -> Finding:
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


def check_spec_channels(ctx: ModelContext, model: InferenceModel, cfg: SynthConfig) -> Finding:
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


def check_decoder_shapes(model: InferenceModel, cfg: SynthConfig) -> Finding:
    cid = "structure.decoder_shapes"
    facts = decoder_facts(model.weight)
    rates, kernels = list(cfg.upsample_rates), list(cfg.upsample_kernel_sizes)
    problems = []
    if facts["stages"] != len(rates):
        problems.append(f"the weights have {facts['stages']} upsampling stages (dec.ups.*) but upsample_rates "
                        f"{rates} has {len(rates)}")
    elif facts["ups_kernels"] is not None and facts["ups_kernels"] != kernels:
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
    if facts["ups_kernels"] is None:  # RefineGAN interpolates: no upsampling kernels to compare
        return passed(cid, f"{facts['stages']} {facts['vocoder']} upsampling stages match upsample_rates {rates}",
                      measured=measured, expected={"upsample_rates": rates})
    return passed(cid, f"dec.ups kernels {facts['ups_kernels']} match upsample_kernel_sizes and "
                       f"{facts['stages']} stages match upsample_rates {rates}",
                  measured=measured, expected={"upsample_rates": rates, "upsample_kernel_sizes": kernels})


def check_version(model: InferenceModel) -> Finding:
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


def check_f0(model: InferenceModel) -> Finding:
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


def check_speakers(model: InferenceModel, cfg: SynthConfig) -> Finding:
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


def check_vocoder(model: InferenceModel) -> Finding:
    """The decoder the keys hold, against the ``vocoder`` entry Applio writes (RVC writes none)."""
    from rvcqa.synth.vocoders import HIFIGAN, vocoder_from_keys

    cid = "structure.vocoder"
    named = model.extra.get("vocoder")
    built = vocoder_from_keys(model.weight) or HIFIGAN
    if named is not None and str(named) != built:
        return failed(
            cid, f"the file names vocoder {str(named)!r} but its decoder keys are those of {built!r}",
            measured={"vocoder_entry": str(named), "decoder_keys": built}, expected="the same vocoder",
            cause="the vocoder entry was edited, or the weights were merged from a model trained with another "
                  "vocoder; Applio builds the decoder the entry names and would leave it random",
        )
    if built == HIFIGAN:
        if named is None:
            return passed(cid, "no vocoder entry: RVC's HiFi-GAN (NSF) decoder", measured=None, expected="HiFi-GAN")
        return passed(cid, "Applio vocoder HiFi-GAN (RVC-compatible)", measured=str(named), expected="HiFi-GAN")
    source = f"the vocoder entry and the decoder keys agree on {built!r}" if named is not None else (
        f"the decoder keys are {built!r}'s (no vocoder entry)")
    return warning(
        cid, f"Applio vocoder {built!r}: {source}; rvcqa runs it, but RVC-WebUI cannot (it builds HiFi-GAN, "
             "loads with strict=False and would leave this decoder random: noise)",
        measured=built, expected="HiFi-GAN for RVC-WebUI; any of Applio's vocoders for Applio",
        cause="the model was trained in Applio with the 'MRF HiFi-GAN' or 'RefineGAN' vocoder; use it only in "
              "Applio (or retrain with HiFi-GAN for RVC-WebUI)",
    )


def check_canonical(ctx: ModelContext, model: InferenceModel, cfg: SynthConfig) -> Finding:
    cid = "structure.canonical_config"
    sr = cfg.sr
    canon = canonical_config(model.version, sr)
    config = cfg.to_list()
    name = variant_name(model.version, sr)
    if canon is None:
        return failed(cid, f"RVC has no {name} model; known: v1 32k/40k/48k, v2 32k/40k/48k and Applio v2 24k",
                      measured=name, expected="a known variant",
                      cause="the config's sample rate or version is wrong")
    rate_diff = [NAMES[i] for i in RATE_DEFINING if not same_value(config[i], canon[i])]
    width_diff = {NAMES[i]: {"model": config[i], "rvc": canon[i]} for i in WIDTHS if not same_value(config[i], canon[i])}
    details = {"config": config, "canonical": canon, "rate_differences": rate_diff, "width_differences": width_diff}
    if rate_diff:
        matches = [m for m in match_canonical_rates(config) if m != name]
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
            f"model {fmt_list(shown_model)} vs RVC {fmt_list(shown_canon)} (* = width, compared separately)",
            measured={n: config[NAMES.index(n)] for n in rate_diff},
            expected={n: canon[NAMES.index(n)] for n in rate_diff},
            cause=bug + "the model was extracted with a hard-coded config for another sample rate or version",
            details=details,
        )
    if width_diff:
        text = ", ".join(f"{k} {v['model']} (RVC {v['rvc']})" for k, v in width_diff.items())
        mode = str(thr(ctx, "structure.canonical_config.custom_widths")).lower()
        msg = (f"config matches RVC's {name} sample-rate layout, but the widths are custom: {text}; "
               "the network loads only in a synthesizer built with these widths")
        make = {"failed": failed, "passed": passed}.get(mode, warning)
        return make(cid, msg, measured={k: v["model"] for k, v in width_diff.items()},
                    expected={k: v["rvc"] for k, v in width_diff.items()},
                    cause="a custom or narrow architecture (every RVC/Applio release model uses inter/hidden 192, "
                          "filter 768, upsample_initial_channel 512, gin 256)",
                    details=details)
    return passed(cid, f"config is RVC's {name} config", measured=config, expected=canon, details=details)

