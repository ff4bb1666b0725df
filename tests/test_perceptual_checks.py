"""rvcqa.checks.perceptual on small model folders built here from a real clip.

The model is RVC's v2 48k f0 synthesizer at narrow widths (same depth and key names, ~0.2 M
parameters), random-initialised: a model that has learnt nothing. Its folder holds two ~1.5 s
training segments cut from LJ Speech LJ001-0001 (48 kHz GT, stand-in content features, YIN F0),
exactly in RVC's layout. Monkeypatching ``infer`` turns it into a white-noise "model", a perfect
oracle (returns the GT / the input), or a mix, to show each verdict and message.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parent.parent
CLIP = REPO / "fixtures" / "audio" / "ljspeech" / "LJ001-0001.wav"
REF_CLIP = REPO / "fixtures" / "audio" / "ljspeech" / "LJ001-0002.wav"
#: v2 48k f0 at narrow widths: inter/hidden 16, filter 32, upsample_initial 32, 4 speakers, gin 16
CONFIG = [1025, 32, 16, 16, 32, 2, 6, 3, 0, "1", [3, 7, 11], [[1, 3, 5]] * 3, [12, 10, 2, 2], 32,
          [24, 20, 4, 4], 4, 16, 48000]
SEGMENTS = {"0_0": (0.35, 1.45), "0_1": (2.0, 3.1)}  # seconds in LJ001-0001
STANDIN_SEED = 7
SR, HOP = 48000, 480


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _resample(y: np.ndarray, sr: int, target: int) -> np.ndarray:
    from rvcqa.audio import resample

    return resample(y, sr, target)


@pytest.fixture(scope="module")
def training_data():
    """stem -> dict(gt48, wav16, feats, coarse, f0): RVC's four data folders' contents."""
    from rvcqa.features.f0 import coarse_pitch, extract_f0
    from rvcqa.features.standin import StandInContent

    y, sr = sf.read(str(CLIP), dtype="float32")
    y48, y16 = _resample(y, sr, SR), _resample(y, sr, 16000)
    content = StandInContent(768, STANDIN_SEED)
    out = {}
    for stem, (a, b) in SEGMENTS.items():
        gt = y48[int(a * SR) : int(b * SR)]
        gt = (gt / np.abs(gt).max() * 0.9 * 0.75 + 0.25 * gt).astype(np.float32)  # RVC's slice scaling
        w16 = _resample(gt, SR, 16000)
        f0 = extract_f0(w16, method="yin")
        out[stem] = dict(gt48=gt, wav16=w16, feats=content.features(w16), coarse=coarse_pitch(f0).astype(np.int64),
                         f0=f0)
    return out


def _write_model_dir(root: Path, data: dict, *, content_json: bool) -> Path:
    import torch

    from rvcqa.checkpoint import save_inference_model
    from rvcqa.synth import build_synthesizer

    root.mkdir(parents=True)
    torch.manual_seed(0)
    net = build_synthesizer(CONFIG, version="v2", f0=True)
    save_inference_model(root / f"{root.name}.pth", net.state_dict(), CONFIG, sr="48k", f0=1, version="v2")
    for folder in ("0_gt_wavs", "1_16k_wavs", "2a_f0", "2b-f0nsf", "3_feature768"):
        (root / folder).mkdir()
    for stem, d in data.items():
        sf.write(str(root / "0_gt_wavs" / f"{stem}.wav"), d["gt48"], SR, subtype="FLOAT")
        sf.write(str(root / "1_16k_wavs" / f"{stem}.wav"), d["wav16"], 16000, subtype="FLOAT")
        np.save(root / "2a_f0" / f"{stem}.wav.npy", d["coarse"])
        np.save(root / "2b-f0nsf" / f"{stem}.wav.npy", d["f0"])
        np.save(root / "3_feature768" / f"{stem}.npy", d["feats"])
    if content_json:
        (root / "rvcqa_content.json").write_text(json.dumps({"extractor": "standin", "dim": 768, "seed": STANDIN_SEED}))
    return root


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory, training_data):
    """Two copies of the same random-init model: without and with ``rvcqa_content.json``."""
    base = tmp_path_factory.mktemp("perceptual")
    plain = _write_model_dir(base / "logs" / "plain", training_data, content_json=False)
    standin = _write_model_dir(base / "logs" / "standin", training_data, content_json=True)
    ref = base / "reference"
    ref.mkdir()
    y, sr = sf.read(str(REF_CLIP), dtype="float32")
    sf.write(str(ref / "lj002_head.wav"), _resample(y, sr, 16000)[: int(1.2 * 16000)], 16000)
    return {"plain": plain, "standin": standin, "reference": ref / "lj002_head.wav"}


def make_ctx(model_dir: Path, results: Path, reference: Path, **opts):
    from rvcqa.context import ModelContext, Options
    from rvcqa.modeldir import discover

    opts.setdefault("segments", 1)
    options = Options(results_dir=results, reference_audio=[reference], **opts)
    return ModelContext(discover(model_dir), options)


def _snapshot(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in sorted(root.rglob("*"))}


# --------------------------------------------------------------------------- fake models


def _oracle_resynth(training_data):
    """infer() replacement returning the GT of the segment whose features it is given."""
    import torch

    def infer(phone, lengths, pitch, nsff0, sid, noise_scale=0.66666, generator=None, source_noise=True, **kw):
        n = int(lengths[0])
        first = phone[0, 0].numpy()
        for d in training_data.values():
            if np.allclose(first, d["feats"][0], atol=1e-5) and n <= 2 * len(d["feats"]):
                gt = d["gt48"][: n * HOP]
                return torch.from_numpy(np.pad(gt, (0, n * HOP - gt.size)))[None, None]
        raise AssertionError("oracle: unknown segment")

    return infer


def _noise(n_samples: int, seed: int = 0, rms: float = 0.1):
    import torch

    rng = np.random.default_rng(seed)
    return torch.from_numpy((rng.standard_normal(n_samples) * rms).astype(np.float32))[None, None]


def _oracle_conversion(reference: Path):
    """infer() replacement that returns the (padded) input itself at 48 kHz: a perfect converter."""
    import torch

    from rvcqa.convert import load_input, prepare_input

    x = prepare_input(load_input(reference))
    padded48 = _resample(np.pad(x, (16000, 16000), mode="reflect"), 16000, SR)

    def infer(phone, lengths, pitch, nsff0, sid, noise_scale=0.66666, generator=None, source_noise=True, **kw):
        n = int(lengths[0])
        y = padded48[: n * HOP]
        return torch.from_numpy(np.pad(y, (0, n * HOP - y.size)))[None, None]

    return infer


def _route(resynth, convert):
    """Resynthesis calls infer with noise_scale=0 and no source noise; conversion with RVC's noise."""

    def infer(*args, **kw):
        if kw.get("noise_scale") == 0.0 and kw.get("source_noise") is False:
            return resynth(*args, **kw)
        return convert(*args, **kw)

    return infer


def _noise_infer(*args, **kw):
    n = int(args[1][0])
    return _noise(n * HOP)


# --------------------------------------------------------------------------- tests


def test_random_init_model_fails_resynthesis(model_dirs, tmp_path):
    from rvcqa.checks import perceptual

    ctx = make_ctx(model_dirs["plain"], tmp_path / "results", model_dirs["reference"], segments=2)
    by = ctx.findings(perceptual)
    zcr, mel, f0 = by["perceptual.resynth_zcr"], by["perceptual.resynth_mel_distance"], by["perceptual.resynth_f0"]
    for f in (zcr, mel, f0):
        assert f.failed, f.explain()
    assert "zero-crossing rate" in zcr.message and "ratio" in zcr.message and "allowed 0.5–2" in zcr.message
    assert zcr.measured < 0.5  # an untrained generator drifts slowly
    assert "log-mel L1 distance to the GT" in mel.message and "(limit 1.5)" in mel.message and "loss_mel" in mel.message
    assert mel.measured > 2.0
    assert "F0" in f0.message or "unvoiced" in f0.message
    assert "HuBERT" in (zcr.cause or "")
    # outputs were written to the results folder, never into the model folder
    outs = sorted((tmp_path / "results" / "resynthesis").glob("*.wav"))
    assert [p.stem for p in outs] == ["0_0", "0_1"]
    assert ctx.measurements["resynth_output_dir"] == str((tmp_path / "results" / "resynthesis").resolve())
    assert {"resynth_flatness", "resynth_zcr_ratio", "resynth_mel_distance", "resynth_f0_cents"} <= set(ctx.measurements)
    # no --hubert and no rvcqa_content.json: conversion skips, and the verdict blames the model
    conv = by["perceptual.convert_flatness"]
    assert conv.skipped and "needs --hubert PATH" in conv.message and "resynthesis ran without it" in conv.message
    verdict = by["perceptual.verdict"]
    assert verdict.failed and "the model itself is broken" in verdict.message
    print("\n".join(by[c].message for c in perceptual.CHECK_IDS))


def test_white_noise_model_fails_flatness_with_report_numbers(model_dirs, tmp_path, monkeypatch):
    from rvcqa.checks import perceptual

    ctx = make_ctx(model_dirs["plain"], tmp_path / "results", model_dirs["reference"])
    monkeypatch.setattr(ctx.synthesizer(), "infer", _noise_infer)
    by = ctx.findings(perceptual)
    flat = by["perceptual.resynth_flatness"]
    assert flat.failed
    assert flat.message.startswith("resynthesis of its own training data is noise-like: spectral flatness 0.5")
    assert "speech < 0.1" in flat.message and "zero-crossing rate 1" in flat.message and "vs GT" in flat.message
    assert 0.4 < flat.measured < 0.7
    zcr = by["perceptual.resynth_zcr"]
    assert zcr.failed and zcr.measured > 2 and "high-frequency noise" in zcr.message
    assert by["perceptual.resynth_f0"].failed
    print(flat.message)


def test_oracle_model_passes_resynthesis(model_dirs, tmp_path, monkeypatch, training_data):
    from rvcqa.checks import perceptual

    ctx = make_ctx(model_dirs["plain"], tmp_path / "results", model_dirs["reference"])
    monkeypatch.setattr(ctx.synthesizer(), "infer", _oracle_resynth(training_data))
    by = ctx.findings(perceptual)
    for cid in perceptual.RESYNTH_IDS:
        assert by[cid].status.value == "passed", by[cid].explain()
    assert by["perceptual.resynth_mel_distance"].measured == pytest.approx(0.0, abs=1e-6)
    assert by["perceptual.verdict"].skipped  # conversion could not run: nothing to compare
    assert "pipeline is the suspect" in by["perceptual.verdict"].message


def test_conversion_with_standin_runs_end_to_end(model_dirs, tmp_path):
    from rvcqa.checks import perceptual

    before = _snapshot(model_dirs["standin"])
    ctx = make_ctx(model_dirs["standin"], tmp_path / "results", model_dirs["reference"])
    by = ctx.findings(perceptual)
    for cid in perceptual.CONVERT_IDS[:-1]:  # speaker similarity needs resemblyzer
        assert not by[cid].skipped, by[cid].explain()
    out = tmp_path / "results" / "conversion" / "lj002_head.wav"
    assert out.is_file() and ctx.measurements["convert_outputs"] == [str(out.resolve())]
    info = sf.info(str(out))
    assert info.samplerate == SR and info.subtype == "FLOAT"
    assert info.duration == pytest.approx(1.2, abs=0.05)
    assert by["perceptual.convert_duration"].status.value == "passed"
    assert {"convert_flatness", "convert_zcr_ratio", "convert_f0_cents"} <= set(ctx.measurements)
    assert (tmp_path / "results" / "conversion" / "metrics.json").is_file()
    assert _snapshot(model_dirs["standin"]) == before  # nothing written into the model folder
    speaker = by["perceptual.convert_speaker"]
    assert speaker.skipped == (not _has("resemblyzer"))


def test_cross_verdict_model_fine_pipeline_not(model_dirs, tmp_path, monkeypatch, training_data):
    from rvcqa.checks import perceptual

    ctx = make_ctx(model_dirs["standin"], tmp_path / "results", model_dirs["reference"])
    monkeypatch.setattr(ctx.synthesizer(), "infer", _route(_oracle_resynth(training_data), _noise_infer))
    by = ctx.findings(perceptual)
    conv = by["perceptual.convert_flatness"]
    assert conv.failed and conv.message.startswith("output is noise-like: spectral flatness 0.")
    assert "(input 0.0" in conv.message and "zero-crossing rate" in conv.message and "both at 16 kHz" in conv.message
    verdict = by["perceptual.verdict"]
    assert verdict.failed
    assert verdict.message.startswith(
        "the model is fine; the conversion pipeline is not (content features / F0 / settings)"
    )
    print(conv.message)
    print(verdict.message)


def test_cross_verdict_conversion_fine_model_not(model_dirs, tmp_path, monkeypatch):
    from rvcqa.checks import perceptual

    ctx = make_ctx(model_dirs["standin"], tmp_path / "results", model_dirs["reference"])
    monkeypatch.setattr(ctx.synthesizer(), "infer", _route(_noise_infer, _oracle_conversion(model_dirs["reference"])))
    by = ctx.findings(perceptual)
    for cid in perceptual.CONVERT_IDS[:-1]:
        assert by[cid].status.value == "passed", by[cid].explain()
    verdict = by["perceptual.verdict"]
    assert verdict.failed
    assert verdict.message.startswith("conversion sounds fine but the model fails on its own training data:")


def test_results_folder_inside_model_dir_is_refused(model_dirs, tmp_path):
    from rvcqa.checks import perceptual

    ctx = make_ctx(model_dirs["plain"], model_dirs["plain"] / "out", model_dirs["reference"])
    by = ctx.findings(perceptual)
    assert by["perceptual.resynth_flatness"].failed
    assert "never writes into a model directory" in by["perceptual.resynth_flatness"].message
    assert not (model_dirs["plain"] / "out").exists()


def test_no_training_data_skips_resynthesis_with_reason(model_dirs, tmp_path):
    from rvcqa.checks import perceptual

    bare = tmp_path / "logs" / "bare"
    bare.mkdir(parents=True)
    shutil.copy(model_dirs["plain"] / "plain.pth", bare / "bare.pth")
    ctx = make_ctx(bare, tmp_path / "results", model_dirs["reference"])
    by = ctx.findings(perceptual)
    f = by["perceptual.resynth_flatness"]
    assert f.skipped and "lacks 0_gt_wavs" in f.message and "3_feature768" in f.message


def test_segment_choice_is_seeded_and_prefers_long_segments():
    from rvcqa.resynth import Segment, choose_segments

    segs = [Segment(f"0_{i}", Path(f"{i}.wav"), Path("f"), None, None, 48000, 1.0 + i) for i in range(10)]
    a, b = choose_segments(segs, 3, seed=1), choose_segments(segs, 3, seed=1)
    assert a == b and len(a) == 3
    assert all(s.duration_s >= 5.0 for s in a)  # drawn from the 6 longest
    assert [s.stem for s in a] == sorted((s.stem for s in a), key=lambda x: int(x.split("_")[1]))
    assert choose_segments(segs, None, seed=1) == segs


def test_inputs_are_aligned_as_rvcs_loader_does(model_dirs, training_data):
    from rvcqa.modeldir import discover
    from rvcqa.resynth import find_segments, load_segment_inputs

    segs, excluded = find_segments(discover(model_dirs["plain"]))
    assert [s.stem for s in segs] == ["0_0", "0_1"] and not excluded
    for seg in segs:
        d = training_data[seg.stem]
        inp = load_segment_inputs(seg, sample_rate=SR, hop=HOP, phone_dim=768, f0=True)
        assert inp.frames == min(2 * len(d["feats"]), len(d["f0"]), len(d["gt48"]) // HOP)
        np.testing.assert_array_equal(inp.phone[::2], d["feats"][: (inp.frames + 1) // 2])
        np.testing.assert_array_equal(inp.phone[1::2], d["feats"][: inp.frames // 2])
        assert inp.pitch.dtype == np.int64 and inp.pitch.shape == inp.pitchf.shape == (inp.frames,)
        assert inp.target.size == inp.frames * HOP


def test_feature_width_mismatch_fails_resynthesis(model_dirs, tmp_path):
    from rvcqa.checks import perceptual

    broken = tmp_path / "logs" / "v1feats"
    shutil.copytree(model_dirs["plain"], broken)
    (broken / "plain.pth").rename(broken / "v1feats.pth")
    for f in (broken / "3_feature768").glob("*.npy"):
        np.save(f, np.load(f)[:, :256])
    by = make_ctx(broken, tmp_path / "results", model_dirs["reference"]).findings(perceptual)
    f = by["perceptual.resynth_flatness"]
    assert f.failed and "holds 256-dim features but the model takes 768-dim" in f.message


def test_conversion_f0_is_judged_against_the_transposed_input(model_dirs, tmp_path):
    from rvcqa.checks import perceptual
    from rvcqa.measure import ConversionMetrics
    from rvcqa.metrics import F0Track, compare_f0

    ctx = make_ctx(model_dirs["plain"], tmp_path / "results", model_dirs["reference"], transpose=12)
    voiced = np.ones(200, dtype=bool)
    ref = F0Track(np.full(200, 200.0), voiced, 0.01, {"tracker": "pyin"})
    untransposed = F0Track(np.full(200, 200.0), voiced, 0.01, {"tracker": "pyin"})
    octave_up = F0Track(np.full(200, 400.0), voiced, 0.01, {"tracker": "pyin"})

    def judge(track):
        m = ConversionMetrics("clip.wav", f0=compare_f0(ref, track, transpose_semitones=12))
        return perceptual.conversion._convert_f0(ctx, [m], "1 reference clip", {}, True, 12.0)

    bad = judge(untransposed)
    assert bad.failed and "does not follow the input shifted +12 semitones" in bad.message
    assert "median error 1200 cents (limit 50)" in bad.message and ctx.measurements["convert_f0_cents"] == 1200
    good = judge(octave_up)
    assert good.status.value == "passed" and "median error 0 cents" in good.message


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


# --------------------------------------------------------------------------- speaker similarity

BUNDLED = REPO / "rvcqa" / "data" / "reference_audio"
OTHER_MALE = BUNDLED / "cmuarctic_aew_a0002_M_16k.flac"  # CMU ARCTIC aew: not the LJ training voice
LJ_OTHER_TEXT = REPO / "fixtures" / "audio" / "ljspeech" / "LJ001-0003.wav"
needs_resemblyzer = pytest.mark.skipif(not _has("resemblyzer"), reason="the speaker extra (resemblyzer) is not installed")


def _voice_of(path: Path):
    """infer() replacement that speaks ``path``'s recording (looped) at 48 kHz, whatever it is given."""
    import torch

    y, sr = sf.read(str(path), dtype="float32")
    y48 = _resample(y, sr, SR)

    def infer(phone, lengths, pitch, nsff0, sid, noise_scale=0.66666, generator=None, source_noise=True, **kw):
        n = int(lengths[0]) * HOP
        return torch.from_numpy(np.resize(y48, n).astype(np.float32))[None, None]

    return infer


@needs_resemblyzer
def test_speaker_passthrough_conversion_fails(model_dirs, tmp_path, monkeypatch, training_data):
    """A "conversion" that hands back its input keeps the input speaker: the check must say so."""
    from rvcqa.checks import perceptual

    ctx = make_ctx(model_dirs["standin"], tmp_path / "results", OTHER_MALE, segments=2)
    monkeypatch.setattr(ctx.synthesizer(), "infer", _route(_oracle_resynth(training_data), _oracle_conversion(OTHER_MALE)))
    speaker = ctx.findings(perceptual)["perceptual.convert_speaker"]
    assert speaker.failed, speaker.explain()
    assert speaker.message.startswith("the output keeps the input speaker's voice: outputs are -0.")
    assert "to its input 1.000" in speaker.message and "cmuarctic_aew_a0002_M_16k.flac" in speaker.message
    assert speaker.measured < -0.3
    assert "content features carry the input speaker's timbre" in speaker.cause


@needs_resemblyzer
def test_speaker_conversion_into_training_voice_passes(model_dirs, tmp_path, monkeypatch, training_data):
    """An output in the training voice (LJ Speech, other words) for a male input lands on the voice."""
    from rvcqa.checks import perceptual

    ctx = make_ctx(model_dirs["standin"], tmp_path / "results", OTHER_MALE, segments=2)
    monkeypatch.setattr(ctx.synthesizer(), "infer", _route(_oracle_resynth(training_data), _voice_of(LJ_OTHER_TEXT)))
    speaker = ctx.findings(perceptual)["perceptual.convert_speaker"]
    assert speaker.status.value == "passed", speaker.explain()
    assert speaker.message.startswith("the conversion lands on the model's voice: outputs are +0.")
    assert speaker.measured > 0.1 and ctx.measurements["convert_speaker_gain"] == speaker.measured
    assert speaker.details["model_to_training"] > 0.95  # the oracle's resynthesis is the GT itself
    print(speaker.message)


@needs_resemblyzer
def test_speaker_model_in_another_voice_fails(model_dirs, tmp_path, monkeypatch):
    """Weights that speak another voice than the folder's training audio (resynthesis in a male voice)."""
    from rvcqa.checks import perceptual

    ctx = make_ctx(model_dirs["standin"], tmp_path / "results", OTHER_MALE, segments=2)
    monkeypatch.setattr(ctx.synthesizer(), "infer", _voice_of(OTHER_MALE))
    speaker = ctx.findings(perceptual)["perceptual.convert_speaker"]
    assert speaker.failed, speaker.explain()
    assert speaker.message.startswith("the model does not speak in its training voice: the model's voice")
    assert "to the nearest other speaker, cmuarctic_aew_a0002_M_16k.flac" in speaker.message
    assert speaker.measured < 0 and "reused for a new dataset" in speaker.cause  # nearer the input's voice
    print(speaker.message)


class _Ctx:
    """Just what :func:`rvcqa.checks.perceptual.speaker.judge` asks of a ModelContext."""

    def __init__(self) -> None:
        self.measurements: dict = {}

    def threshold(self, key, default):
        return default

    def record(self, name, value):
        self.measurements[name] = value


def _row(clip, to_training, to_model, to_input):
    from rvcqa.checks.perceptual.speaker import ClipSpeaker

    return ClipSpeaker(clip=clip, input_to_training=to_training, input_to_model=0.5, output_to_model=to_model, output_to_input=to_input,
                       output_to_training=0.6)


def test_speaker_judge_leaves_out_inputs_in_the_training_voice():
    """Inputs already in the training voice say nothing about conversion; the rest decide."""
    from rvcqa.checks.perceptual.speaker import judge

    ctx = _Ctx()
    rows = [_row("lj.wav", 0.95, 0.60, 0.90), _row("male.wav", 0.55, 0.75, 0.50), _row("female.wav", 0.60, 0.80, 0.52)]
    f = judge(ctx, rows, 0.70, 8, 2, {})  # type: ignore[arg-type]
    assert f.status.value == "passed", f.message
    assert f.measured == pytest.approx(0.265)  # median of 0.25 and 0.28; lj.wav's -0.30 is not counted
    assert "1 input is already the training voice (cosine ≥ 0.8), not judged: lj.wav" in f.message
    assert [s["judged"] for s in f.details["similarities"]] == [False, True, True]
    leak = judge(ctx, [_row("male.wav", 0.55, 0.62, 0.58)], 0.70, 8, 2, {})  # type: ignore[arg-type]
    assert leak.failed and "keeps the input speaker's voice" in leak.message and "need > 0.1" in leak.message
    only_lj = judge(ctx, [rows[0]], 0.70, 8, 2, {})  # type: ignore[arg-type]
    assert only_lj.status.value == "passed" and "not judged" in only_lj.message
    wrong = judge(ctx, rows, 0.55, 8, 2, {})  # type: ignore[arg-type]
    assert wrong.failed and wrong.message.startswith("the model does not speak in its training voice")
    assert "and 0.500 to the nearest other speaker, male.wav (+0.050; need ≥ 0.09)" in wrong.message
    assert wrong.measured == pytest.approx(0.05)
    buzz = judge(ctx, [rows[0]], 0.45, 8, 2, {})  # type: ignore[arg-type]  # no other speaker: absolute only
    assert buzz.failed and "reads 0.450 to the training voice (8 segments of 0_gt_wavs; need ≥ 0.5)" in buzz.message
    assert wrong.details["fault"] == "model" and "fault" not in leak.details  # the verdict blames the model


def test_verdict_blames_the_model_for_a_voice_it_was_not_trained_on():
    """Resynthesis passes, convert_speaker fails on the model's voice: not the pipeline's fault."""
    from rvcqa.checks.perceptual.defaults import CAUSE_SPEAKER_VOICE
    from rvcqa.checks.perceptual.verdict import verdict
    from rvcqa.findings import failed, passed

    resynth = [passed("perceptual.resynth_mel_distance", "fine")]
    voice = failed("perceptual.convert_speaker", "the model does not speak in its training voice: ...",
                   cause=CAUSE_SPEAKER_VOICE, details={"fault": "model"})
    v = verdict(resynth, [passed("perceptual.convert_flatness", "fine"), voice])
    assert v.failed and v.message.startswith("the model reproduces its training segments, but not in the voice of")
    assert "convert_speaker (the model does not speak in its training voice" in v.message and v.cause == CAUSE_SPEAKER_VOICE
    leak = failed("perceptual.convert_speaker", "the output keeps the input speaker's voice: ...")
    assert verdict(resynth, [voice, leak]).message.startswith("the model is fine; the conversion pipeline is not")
