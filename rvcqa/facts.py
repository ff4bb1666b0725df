"""What a model is: sample rate, version, f0, vocoder, embedder, trainer, feature width.

Every layer above asks :func:`model_facts` and gets the same answer with where it came from: the
inference model (``config[-1]``, ``version``, ``f0``, Applio's extra keys) first, then
``config.json``, then the training log's hyperparameters, then the folder names. A model that does
not load is not an error here: the facts come from the other sources and ``model_error`` says why.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from rvcqa.errors import RvcqaError

if TYPE_CHECKING:
    from rvcqa.checkpoint import InferenceModel
    from rvcqa.context import ModelContext

#: RVC's hop length (samples per frame) at each sample rate (configs/v*/NNk.json)
HOP_BY_SR = {32000: 320, 40000: 400, 48000: 480}
#: width of the content features each version is trained on (HuBERT layer 9 + proj, layer 12)
FEATURE_WIDTH = {"v1": 256, "v2": 768}
#: keys only Applio writes into an inference model (RVC_FORMATS 1.6)
APPLIO_KEYS = ("author", "vocoder", "embedder_model", "speakers_id", "overtrain_info", "model_name")


@dataclass
class ModelFacts:
    """Sample rate, version and f0 flag of the model under test, each with where it came from."""

    sr: int | None = None
    sr_source: str = ""
    version: str | None = None
    version_source: str = ""
    f0: bool | None = None
    f0_source: str = ""
    hop: int | None = None
    vocoder: str | None = None
    embedder: str | None = None
    trainer: str | None = None
    model_error: str | None = None

    @property
    def feature_width(self) -> int | None:
        return FEATURE_WIDTH.get(self.version or "")


class NetworkConfig(NamedTuple):
    """RVC's 18-element synthesizer list with the version and f0 flag it goes with, and its source."""

    config: list[Any] | None
    version: str | None
    f0: bool | None
    source: str


def model_facts(ctx: ModelContext) -> ModelFacts:
    """The facts of ``ctx``'s model, computed once per context."""
    return ctx.cached("facts:model", lambda: _model_facts(ctx))


def _model_facts(ctx: ModelContext) -> ModelFacts:
    facts = ModelFacts()
    model: InferenceModel | None = None
    try:
        model = ctx.inference_model()
    except RvcqaError as error:
        facts.model_error = str(error)
    if model is not None:
        _from_model(facts, model)
    _from_config_json(facts, ctx)
    _from_train_log(facts, ctx)
    _from_folders(facts, ctx)
    if facts.hop is None and facts.sr in HOP_BY_SR:
        facts.hop = HOP_BY_SR[facts.sr]
    return facts


def _from_model(facts: ModelFacts, model: InferenceModel) -> None:
    name = model.path.name if model.path else "the inference model"
    sr = model.config_sr or model.sr_hz
    if sr:
        facts.sr, facts.sr_source = int(sr), f"config[-1] of {name}"
    if model.version in ("v1", "v2"):
        facts.version, facts.version_source = model.version, name
    if isinstance(model.f0, int):
        facts.f0, facts.f0_source = bool(model.f0), name
    vocoder, embedder = model.extra.get("vocoder"), model.extra.get("embedder_model")
    facts.vocoder = str(vocoder) if isinstance(vocoder, str) and vocoder else "HiFi-GAN"
    facts.embedder = str(embedder) if isinstance(embedder, str) and embedder else None
    facts.trainer = "applio" if any(k in model.extra for k in APPLIO_KEYS) else "rvc"


def _from_config_json(facts: ModelFacts, ctx: ModelContext) -> None:
    try:
        cfg = ctx.config_json()
        sr = ctx.config_json_sample_rate() if facts.sr is None else None
    except RvcqaError:
        return
    if sr:
        facts.sr, facts.sr_source = sr, "config.json"
    data = cfg.get("data") if isinstance(cfg, dict) else None
    hop = data.get("hop_length") if isinstance(data, dict) else None
    if isinstance(hop, int) and hop > 0:
        facts.hop = hop


def _from_train_log(facts: ModelFacts, ctx: ModelContext) -> None:
    try:
        log = ctx.train_log()
    except RvcqaError:
        return
    if log is None or not log.hparams:
        return
    from rvcqa.checkpoint import parse_sample_rate

    if facts.sr is None and (sr := parse_sample_rate(log.hparam("sample_rate"))):
        facts.sr, facts.sr_source = sr, "the training log's sample_rate"
    version = log.hparam("version")
    if facts.version is None and version in ("v1", "v2"):
        facts.version, facts.version_source = str(version), "the training log's version"
    if_f0 = log.hparam("if_f0")
    if facts.f0 is None and if_f0 in (0, 1, True, False):
        facts.f0, facts.f0_source = bool(if_f0), "the training log's if_f0"


def _from_folders(facts: ModelFacts, ctx: ModelContext) -> None:
    md = ctx.md
    if facts.version is None and md.features is not None:
        if md.features.name == "3_feature256":
            facts.version, facts.version_source = "v1", "the 3_feature256 folder"
        elif md.features.name in ("3_feature768", "extracted"):
            facts.version, facts.version_source = "v2", f"the {md.features.name} folder"
    if facts.f0 is None and (md.f0_coarse is not None or md.f0_hz is not None):
        facts.f0, facts.f0_source = True, "the f0 folders"
    if facts.trainer is None:
        facts.trainer = "applio" if md.layout == "applio" else "rvc"


def network_config(ctx: ModelContext) -> NetworkConfig:
    """The network to build G checkpoints with: the inference model's, an epoch model's, or config.json's."""
    try:
        inf = ctx.inference_model()
        return NetworkConfig(list(inf.config), inf.version, bool(inf.f0),
                             f"the inference model {inf.path.name if inf.path else ''}")
    except RvcqaError:
        pass
    for em in ctx.md.epoch_models:
        try:
            m = ctx.epoch_model(em.path)
        except RvcqaError:
            continue
        return NetworkConfig(list(m.config), m.version, bool(m.f0), em.path.name)
    try:
        cfg = ctx.config_json()
    except RvcqaError:
        cfg = None
    if cfg:
        try:
            return NetworkConfig(config_from_config_json(cfg), None, None, "config.json")
        except (KeyError, TypeError, ValueError):
            pass
    return NetworkConfig(None, None, None, "")


def config_from_config_json(cfg: dict[str, Any]) -> list[Any]:
    """RVC's 18-element synthesizer list from ``logs/NAME/config.json`` (RVC_FORMATS 1.4, 2.1)."""
    d, m, t = cfg["data"], cfg["model"], cfg.get("train", {})
    hop = int(d["hop_length"])
    sr = d.get("sampling_rate", d.get("sample_rate"))
    return [int(d["filter_length"]) // 2 + 1, int(t.get("segment_size", 36 * hop)) // hop, m["inter_channels"],
            m["hidden_channels"], m["filter_channels"], m["n_heads"], m["n_layers"], m["kernel_size"],
            m["p_dropout"], str(m["resblock"]), m["resblock_kernel_sizes"], m["resblock_dilation_sizes"],
            m["upsample_rates"], m["upsample_initial_channel"], m["upsample_kernel_sizes"], m["spk_embed_dim"],
            m["gin_channels"], int(sr)]


def inference_summary(model: InferenceModel) -> dict[str, Any]:
    """One inference model described as plain data (the report's facts, the reference comparison)."""
    size = model.size_bytes()
    step = model.extra.get("step")
    return {
        "file": model.path.name if model.path else None,
        "info": model.info,
        "info_or_epoch": model.info if model.info is not None else (
            f"{model.epoch}epoch" if model.epoch is not None else None),
        "sr": model.sr,
        "sr_hz": model.sr_hz,
        "version": model.version,
        "f0": model.f0,
        "epoch": model.epoch,
        "step": step if isinstance(step, int) else None,
        "weight_layers": len(model.weight),
        "config_length": len(model.config),
        "size_mb": round(size / 1e6, 1) if size is not None else None,
    }


def comparison_facts(model: InferenceModel) -> dict[str, Any]:
    """The attributes a model and its ``--reference-model`` are compared on, as RVC's UI shows them."""
    s = inference_summary(model)
    keys = ("version", "f0", "weight_layers", "config_length", "size_mb")
    return {"info": s["info_or_epoch"], "sample_rate": s["sr"], **{k: s[k] for k in keys}}
