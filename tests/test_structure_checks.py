"""rvcqa.checks.structure: each check passes on a healthy built model and fails on a broken one."""
from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from fixtures.build_models import FixtureCache, Spec, derive_inference  # noqa: E402
from rvcqa.checks import structure  # noqa: E402
from rvcqa.context import ModelContext, Options  # noqa: E402
from rvcqa.findings import Status  # noqa: E402
from rvcqa.modeldir import discover  # noqa: E402


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> FixtureCache:
    return FixtureCache(tmp_path_factory.getbasetemp() / "rvcqa_fixture_models")


_FINDINGS: dict[tuple, dict] = {}


def findings(root: Path, *, model_file: Path | None = None, options: Options | None = None,
             thresholds: dict | None = None) -> dict:
    key = (str(root), str(model_file), repr(options), repr(thresholds))
    if key not in _FINDINGS:
        ctx = ModelContext(discover(root, model_file=model_file), options or Options(), thresholds)
        found = structure.run(ctx)
        assert [f.check for f in found] == list(structure.CHECK_IDS), "one finding per id, in order"
        _FINDINGS[key] = {f.check: f for f in found}
    return _FINDINGS[key]


@pytest.fixture(scope="session")
def healthy(models):
    return findings(models.get("healthy").root)


def fault(models, name: str) -> dict:
    return findings(models.get(name).root)


def crafted(models, tmp_path: Path, mutate, copy_files=("config.json",)) -> dict:
    """Findings for the healthy inference file changed by ``mutate`` (alone in a fresh folder)."""
    root = derive_inference(models.get("healthy").inference, tmp_path, mutate, copy_files=copy_files)
    return findings(root)


def test_module_contract():
    assert len(set(structure.CHECK_IDS)) == len(structure.CHECK_IDS)
    assert all(cid.startswith("structure.") for cid in structure.CHECK_IDS)
    assert all(key.split(".")[0] == "structure" for key in structure.DEFAULTS)


def test_healthy_model_passes_every_structure_check(healthy):
    statuses = {cid: f.status for cid, f in healthy.items()}
    assert statuses.pop("structure.reference_agreement") is Status.SKIPPED
    # narrow fixture widths are legitimate but unusual: a warning, not a failure
    assert statuses.pop("structure.canonical_config") is Status.WARNING
    assert set(statuses.values()) == {Status.PASSED}, {k: v for k, v in statuses.items() if v is not Status.PASSED}


# --------------------------------------------------------------------------- file format

def test_file_format_passes(healthy):
    f = healthy["structure.file_format"]
    assert f.status is Status.PASSED
    assert f.message == "lexi.pth is an RVC inference model (version v2, sr '48k', f0 1, 457 weight tensors)"


def test_file_format_names_a_training_checkpoint(models):
    built = models.get("healthy")
    g = built.root / "G_2376.pth"
    f = findings(built.root, model_file=g)["structure.file_format"]
    assert f.status is Status.FAILED
    assert f.message == (f"{g}: this is a training checkpoint (epoch 132, step 2376); extract an inference model "
                         "(RVC: ckpt processing -> extract small model) and test that")
    assert f.details["epoch"] == "132" and f.details["step"] == "2376"


def test_file_format_fails_on_truncated_file(models):
    built = models.get("truncated")
    found = fault(models, "truncated")
    f = found["structure.file_format"]
    assert f.status is Status.FAILED
    assert f.message.startswith(f"{built.inference}: truncated or damaged (")
    assert f.message.endswith("the zip archive's central directory is missing, so the file was cut off while "
                              "copying or saving; copy it again")
    # everything else is skipped with the reason, not failed 17 times
    rest = [x for cid, x in found.items() if cid != "structure.file_format"]
    assert all(x.status is Status.SKIPPED for x in rest)
    assert rest[0].message == ("structure.config_length: not evaluated: the inference model did not load "
                               "(see structure.file_format)")


@pytest.mark.parametrize("kind", ["malicious_pickle", "malicious_legacy"])
def test_file_format_refuses_malicious_pickle_without_running_it(models, kind):
    built = models.get(kind)
    assert not built.marker.exists()
    f = fault(models, kind)["structure.file_format"]
    assert f.status is Status.FAILED
    assert f.message.startswith(f"{built.inference}: refused to load: its pickle asks for 'posix.system")
    assert f.message.endswith("rvcqa loads weights only (torch.load weights_only=True) and ran nothing from it.")
    assert f.measured == "unsafe pickle"
    assert not built.marker.exists(), "the payload ran"


# --------------------------------------------------------------------------- config

def test_config_length(healthy, models, tmp_path):
    assert healthy["structure.config_length"].status is Status.PASSED
    assert healthy["structure.config_length"].message == "config has 18 entries"
    f = crafted(models, tmp_path, lambda o: o.__setitem__("config", o["config"][:17]))
    assert f["structure.config_length"].status is Status.FAILED
    assert f["structure.config_length"].message == "config has 17 entries, expected RVC's 18 synthesizer arguments"
    assert f["structure.sample_rate"].status is Status.SKIPPED


def test_sample_rate(healthy, models):
    assert healthy["structure.sample_rate"].message == "sr '48k' agrees with config[-1] = 48000"
    f = fault(models, "sr_mismatch")["structure.sample_rate"]
    assert f.status is Status.FAILED
    assert f.message == ("the sr field says '40k' but config[-1] is 48000; RVC converts at config[-1] (48000 Hz), "
                         "so one of them is wrong")


def test_sample_rate_accepts_applio_int(models):
    f = findings(models.get(Spec(style="applio")).root)["structure.sample_rate"]
    assert f.status is Status.PASSED and f.message == "sr 48000 agrees with config[-1] = 48000"


def test_hop_length(healthy, models, tmp_path):
    assert healthy["structure.hop_length"].message == "hop 480 = product of upsample_rates [12, 10, 2, 2] = 48000 / 100"

    def to_32k(o):
        o["config"][-1] = 32000
        o["sr"] = "32k"

    f = crafted(models, tmp_path, to_32k)["structure.hop_length"]
    assert f.status is Status.FAILED
    assert f.message == ("upsample_rates [12, 10, 2, 2] give a hop of 480 samples, which is 48000 Hz at 100 "
                         "frames/s, but config[-1] is 32000 Hz (needs a hop of 320)")


def test_spec_channels(healthy, models, tmp_path):
    assert healthy["structure.spec_channels"].message == \
        "spec_channels 1025 agrees with config.json filter_length 2048 // 2 + 1"
    f = crafted(models, tmp_path, lambda o: o["config"].__setitem__(0, 513))["structure.spec_channels"]
    assert f.status is Status.FAILED
    assert f.message == "config[0] spec_channels is 513 but config.json filter_length 2048 // 2 + 1 gives 1025"


def test_spec_channels_without_config_json_uses_rvc_config(models, tmp_path):
    f = crafted(models, tmp_path, lambda o: o["config"].__setitem__(0, 513), copy_files=())["structure.spec_channels"]
    assert f.status is Status.FAILED
    assert f.message == "config[0] spec_channels is 513 but RVC's v2 48k config gives 1025"


def test_decoder_shapes(healthy, models):
    assert healthy["structure.decoder_shapes"].status is Status.PASSED
    f = fault(models, "config_40k_on_48k")["structure.decoder_shapes"]
    assert f.status is Status.FAILED
    assert f.message == ("dec.ups.* kernels in the weights are [24, 20, 4, 4] but upsample_kernel_sizes is "
                         "[16, 16, 4, 4]; the weights fit RVC's v2 48k decoder")


def test_version(healthy, models, tmp_path):
    assert healthy["structure.version"].message == "enc_p.emb_phone takes 768-dim features, as v2 needs"
    f = crafted(models, tmp_path, lambda o: o.__setitem__("version", "v1"))["structure.version"]
    assert f.status is Status.FAILED
    assert f.message == ("version says v1 (256-dim features) but enc_p.emb_phone takes 768-dim features (v2); "
                         "RVC would feed the wrong HuBERT layer")


def test_f0(healthy, models, tmp_path):
    assert healthy["structure.f0"].message == "f0 1 agrees with the weights (pitch embedding present)"
    f = crafted(models, tmp_path, lambda o: o.__setitem__("f0", 0))["structure.f0"]
    assert f.status is Status.FAILED
    assert f.message == "f0 is 0 but the weights have emb_pitch and a harmonic source (dec.m_source)"


def test_f0_nof0_model_passes(models):
    f = findings(models.get(Spec(sr="32k", f0=False)).root)["structure.f0"]
    assert f.status is Status.PASSED and f.message == "f0 0 agrees with the weights (no pitch embedding)"


def test_speakers_disagreement_is_a_warning(healthy, models):
    assert healthy["structure.speakers"].message == "emb_g has 109 speaker rows = config[-3]"
    f = fault(models, "speaker_rows")["structure.speakers"]
    assert f.status is Status.WARNING
    assert f.message == ("config[-3] spk_embed_dim is 110 but emb_g has 109 rows; RVC and Applio replace config[-3] "
                         "with the row count when loading, so the model works with speaker ids 0..108")


def test_vocoder(healthy, models):
    assert healthy["structure.vocoder"].status is Status.PASSED
    applio = findings(models.get(Spec(style="applio")).root)["structure.vocoder"]
    assert applio.status is Status.PASSED and applio.message == "Applio vocoder HiFi-GAN (RVC-compatible)"
    f = fault(models, "refinegan")["structure.vocoder"]
    assert f.status is Status.FAILED
    assert f.message == "the file names vocoder 'RefineGAN' but its decoder keys are those of 'HiFi-GAN'"


def test_vocoder_warns_on_genuine_applio_vocoders(models):
    for vocoder in ("MRF HiFi-GAN", "RefineGAN"):
        f = findings(models.get(Spec(style="applio", vocoder=vocoder)).root)["structure.vocoder"]
        assert f.status is Status.WARNING, (vocoder, f.message)
        assert f.message.startswith(f"Applio vocoder {vocoder!r}: the vocoder entry and the decoder keys agree")
        assert "RVC-WebUI cannot" in f.message


def test_canonical_config_fails_on_rvc_0618_v1_list(models):
    f = fault(models, "v1_config_on_v2")["structure.canonical_config"]
    assert f.status is Status.FAILED
    assert f.message == (
        "config is not RVC's v2 48k config: upsample_rates, upsample_kernel_sizes differ; these are RVC's v1 48k "
        'values. model [1025, "*", "*", "*", "*", "*", "*", "*", "*", "1", [3, 7, 11], [[1, 3, 5], [1, 3, 5], '
        '[1, 3, 5]], [10, 6, 2, 2, 2], "*", [16, 16, 4, 4, 4], "*", "*", 48000] vs RVC [1025, "*", "*", "*", "*", '
        '"*", "*", "*", "*", "1", [3, 7, 11], [[1, 3, 5], [1, 3, 5], [1, 3, 5]], [12, 10, 2, 2], "*", [24, 20, 4, 4], '
        '"*", "*", 48000] (* = width, compared separately)'
    )
    assert f.cause.startswith("RVC 0618's extract_small_model writes the v1 48k/32k lists for v2 models")


def test_canonical_config_custom_widths_warn(healthy, models):
    f = healthy["structure.canonical_config"]
    assert f.status is Status.WARNING
    assert f.message == (
        "config matches RVC's v2 48k sample-rate layout, but the widths are custom: inter_channels 16 (RVC 192), "
        "hidden_channels 16 (RVC 192), filter_channels 32 (RVC 768), upsample_initial_channel 32 (RVC 512), "
        "gin_channels 16 (RVC 256); the network loads only in a synthesizer built with these widths"
    )
    strict = findings(models.get("healthy").root,
                      thresholds={"structure.canonical_config.custom_widths": "failed"})["structure.canonical_config"]
    assert strict.status is Status.FAILED


def test_canonical_config_passes_on_rvc_list(models, tmp_path):
    from rvcqa.synth import canonical_config

    f = crafted(models, tmp_path, lambda o: o.__setitem__("config", canonical_config("v2", 48000)))
    assert f["structure.canonical_config"].status is Status.PASSED
    assert f["structure.canonical_config"].message == "config is RVC's v2 48k config"


# --------------------------------------------------------------------------- layers and load

def test_layer_count(healthy, models, tmp_path):
    f = healthy["structure.layer_count"]
    assert f.status is Status.PASSED and f.measured == 457
    assert f.message == "457 weight tensors, as the synthesizer builds for this config"
    bad = crafted(models, tmp_path, lambda o: o["weight"].pop("dec.conv_post.weight"))["structure.layer_count"]
    assert bad.status is Status.FAILED
    assert bad.message == ("the weights have 456 tensors but the v2 48k f0 synthesizer for this config has 457: "
                           "1 missing (dec.conv_post.weight)")


def test_layer_count_other_variants(models):
    for spec, n in ((Spec(version="v1", sr="32k"), 516), (Spec(sr="32k", f0=False), 446)):
        f = findings(models.get(spec).root)["structure.layer_count"]
        assert f.status is Status.PASSED and f.measured == n


def test_strict_load(healthy, models):
    assert healthy["structure.strict_load"].message == \
        "strict load succeeded: every weight matched the network built from config"
    f = fault(models, "config_40k_on_48k")["structure.strict_load"]
    assert f.status is Status.FAILED
    assert f.message.startswith("strict load into RVC's network failed: ")
    assert "dec.ups.0.weight_v: file [32, 16, 24] vs network [32, 16, 16]" in f.message


def test_strict_load_names_parametrization_keys(models):
    f = fault(models, "parametrization_names")["structure.strict_load"]
    assert f.status is Status.FAILED
    assert f.message == (
        "208 weight tensors use the new weight-norm names (parametrizations.weight.original0/1, e.g. "
        "dec.ups.0.parametrizations.weight.original0); RVC's loader expects weight_g/weight_v and, loading with "
        "strict=False, leaves those 104 layers random: the output is noise"
    )


# --------------------------------------------------------------------------- weight health

def test_finite(healthy, models):
    assert healthy["structure.finite"].message == "all 457 weight tensors are finite"
    f = fault(models, "nan")["structure.finite"]
    assert f.status is Status.FAILED
    assert f.message == ("2 of 457 weight tensors hold NaN/Inf: dec.ups.0.weight_v (3 NaN, 0 Inf), "
                         "flow.flows.2.post.bias (0 NaN, 1 Inf)")


def test_tensor_stats_large_values(healthy, models):
    assert healthy["structure.tensor_stats"].status is Status.PASSED
    f = fault(models, "exploded")["structure.tensor_stats"]
    assert f.status is Status.FAILED
    assert f.message.startswith("1 tensors have values beyond |1000| or std beyond 100: dec.conv_pre.bias (max ")


def test_tensor_stats_constant_tensor(models, tmp_path):
    def flatten(o):
        o["weight"]["dec.conv_pre.weight"] = torch.full_like(o["weight"]["dec.conv_pre.weight"], 0.5)

    f = crafted(models, tmp_path, flatten)["structure.tensor_stats"]
    assert f.status is Status.FAILED
    assert f.message == "1 tensors that RVC initialises randomly hold one constant value: dec.conv_pre.weight (= 0.5)"


def test_tensor_stats_calibration_conformance_models_pass(tmp_path):
    """RVC-written conformance models (init x1.5-2, narrow widths) are numerically healthy."""
    conf = Path(__file__).parent / "data" / "conformance"
    for pth in sorted(conf.glob("*.pth")):
        ctx = ModelContext(discover(conf, model_file=pth), Options())
        model = ctx.inference_model()
        for check in (structure.weights.check_tensor_stats(ctx, model), structure.weights.check_finite(model), structure.weights.check_trained(model),
                      structure.weights.check_dtype(model)):
            assert check.status is Status.PASSED, (pth.name, check.message)


def test_tensor_stats_calibration_untrained_real_width_network():
    """RVC's own initialisation at real widths passes the statistics rule (only the flow is 'untrained')."""
    from rvcqa.checkpoint import InferenceModel
    from rvcqa.synth import build_synthesizer, canonical_config

    torch.manual_seed(0)
    cfg = canonical_config("v2", 48000)
    net = build_synthesizer(cfg, version="v2", f0=True)
    weight = {k: v.detach().half() for k, v in net.state_dict().items() if "enc_q" not in k}
    model = InferenceModel(None, weight, cfg, "0epoch", "48k", 1, "v2")
    ctx = ModelContext(discover(Path(__file__).parent / "data" / "conformance"), Options())
    assert structure.weights.check_tensor_stats(ctx, model).status is Status.PASSED
    assert structure.weights.check_trained(model).status is Status.FAILED


def test_trained(healthy, models):
    assert healthy["structure.trained"].message == \
        "flow post layers are non-zero (8 tensors): the flow was trained"
    f = fault(models, "untrained")["structure.trained"]
    assert f.status is Status.FAILED
    assert f.message == (
        "8 of 8 flow post tensors are still all zero (flow.flows.0.post.weight, flow.flows.0.post.bias, "
        "flow.flows.2.post.weight, flow.flows.2.post.bias and 4 more): RVC initialises them to zero and any "
        "training step changes them, so the flow was never trained"
    )
    # an untrained network is otherwise numerically healthy
    assert fault(models, "untrained")["structure.tensor_stats"].status is Status.PASSED


def test_dtype(healthy, models, tmp_path):
    assert healthy["structure.dtype"].message == "all 457 tensors are float16, as RVC writes"
    f = fault(models, "bf16")["structure.dtype"]
    assert f.status is Status.FAILED
    assert f.message == ("weights must be float16 (RVC) or float32; found {'bfloat16': 457}: enc_p.emb_phone.weight, "
                         "enc_p.emb_phone.bias, enc_p.emb_pitch.weight, enc_p.encoder.attn_layers.0.emb_rel_k "
                         "and 453 more")

    def to_fp32(o):
        o["weight"] = {k: v.float() for k, v in o["weight"].items()}

    fp32 = crafted(models, tmp_path, to_fp32)["structure.dtype"]
    assert fp32.status is Status.PASSED
    assert fp32.message == "weights are {'float32': 457} (RVC writes float16; float32 also loads)"


# --------------------------------------------------------------------------- reference model

def test_reference_agreement_skips_without_reference(healthy):
    f = healthy["structure.reference_agreement"]
    assert f.status is Status.SKIPPED and f.message == "no --reference-model given to compare with"


def test_reference_agreement_with_a_40k_reference(models):
    ref = models.get(Spec(name="biden", sr="40k")).inference
    root = models.get("healthy").root
    opts = Options(reference_model=ref)
    f = findings(root, options=opts)["structure.reference_agreement"]
    assert f.status is Status.PASSED
    assert f.message == ("same structure as biden.pth: 457 weight layers, 18 config entries "
                         "(differs as expected in: Sample Rate)")
    rows = structure.reference_comparison(ModelContext(discover(root), opts))
    table = {r["attribute"]: r for r in rows}
    assert list(table) == ["Info", "Sample Rate", "Version", "F0", "Weight Layers", "Config Length", "Model Size (MB)"]
    assert table["Sample Rate"]["model"] == "48k" and table["Sample Rate"]["reference"] == "40k"
    assert table["Weight Layers"]["must_agree"] and table["Weight Layers"]["same"]


def test_reference_agreement_fails_on_structure_difference(models, tmp_path):
    healthy = models.get("healthy")

    def keep_enc_q(o):  # "extracted" without dropping enc_q: 560 tensors
        g = torch.load(healthy.root / "G_2376.pth", weights_only=True)["model"]
        o["weight"] = {k: v.half() for k, v in g.items()}

    root = derive_inference(healthy.inference, tmp_path, keep_enc_q)
    f = findings(root, options=Options(reference_model=healthy.inference))["structure.reference_agreement"]
    assert f.status is Status.FAILED
    assert f.message == "structure differs from the working reference lexi.pth: Weight Layers: 560 here vs 457 in lexi.pth"
