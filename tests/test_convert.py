"""rvcqa.convert: RVC's conversion pipeline (RVC_FORMATS 5.1-5.5) around our synthesizer.

F0 tracking is replaced by a constant track in most tests (pYIN costs seconds and is tested in
test_features); the synthesizer is RVC's v2 48k network at narrow widths, random-initialised.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rvcqa.errors import AudioError, RvcqaError

REPO = Path(__file__).resolve().parent.parent
LJ = REPO / "fixtures" / "audio" / "ljspeech"
CONFIG = [1025, 32, 16, 16, 32, 2, 6, 3, 0, "1", [3, 7, 11], [[1, 3, 5]] * 3, [12, 10, 2, 2], 32,
          [24, 20, 4, 4], 4, 16, 48000]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def synth():
    import torch

    from rvcqa.synth import build_synthesizer

    torch.manual_seed(0)
    net = build_synthesizer(CONFIG, version="v2", f0=True, posterior=False).eval()
    net.fold_weight_norm()
    return net


@pytest.fixture(scope="module")
def speech16k() -> np.ndarray:
    from rvcqa.audio import resample

    y, sr = sf.read(str(LJ / "LJ001-0003.wav"), dtype="float32")
    return resample(y, sr, 16000)


@pytest.fixture
def constant_f0(monkeypatch):
    """extract_f0 -> 200 Hz everywhere except the first 20 frames (unvoiced), RVC's frame count."""
    import rvcqa.features.f0 as f0mod

    def fake(wav16k, method="pyin", f0_min=50.0, f0_max=1100.0, rmvpe=None, filter_radius=3):
        n = np.asarray(wav16k).size // 160 + 1
        f0 = np.full(n, 200.0)
        f0[:20] = 0.0
        return f0

    monkeypatch.setattr(f0mod, "extract_f0", fake)


def _standin():
    from rvcqa.features.standin import StandInContent

    return StandInContent(768, 1)


# --------------------------------------------------------------------------- inputs


def test_bundled_reference_clips_are_small_real_speech_with_attribution():
    from rvcqa.convert import bundled_reference_audio, expand_inputs

    clips = bundled_reference_audio()
    assert 2 <= len(clips) <= 3
    assert sum(p.stat().st_size for p in clips) < 1_000_000
    attribution = (clips[0].parent / "ATTRIBUTION.md").read_text(encoding="utf-8")
    for p in clips:
        info = sf.info(str(p))
        assert info.samplerate == 16000 and info.channels == 1 and 3.0 < info.duration < 6.0
        assert p.name in attribution
    assert expand_inputs(None) == clips and expand_inputs([]) == clips


def test_expand_inputs_folders_and_missing(tmp_path):
    from rvcqa.convert import expand_inputs

    (tmp_path / "b.wav").write_bytes(b"")
    (tmp_path / "a.flac").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in expand_inputs([tmp_path])] == ["a.flac", "b.wav"]
    with pytest.raises(AudioError, match="no such file or folder"):
        expand_inputs([tmp_path / "missing.wav"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(AudioError, match="no audio files"):
        expand_inputs([empty])


def test_prepare_input_peak_normalises_and_high_passes():
    from rvcqa.convert import prepare_input

    t = np.arange(16000) / 16000
    loud = (1.9 * np.sin(2 * np.pi * 220 * t) + 0.3).astype(np.float32)  # peak 2.2, DC 0.3
    out = prepare_input(loud)
    assert abs(float(out.mean())) < 1e-3  # DC removed by the 48 Hz high-pass
    assert float(np.abs(out[2000:-2000]).max()) == pytest.approx(1.9 / 2.2 * 0.95, rel=0.01)
    quiet = (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    assert float(np.abs(prepare_input(quiet)[2000:-2000]).max()) == pytest.approx(0.1, rel=0.01)
    with pytest.raises(AudioError):
        prepare_input(np.array([np.nan, 0.0], dtype=np.float32))


def _rvc_split_points(audio: np.ndarray, t_query: int, t_center: int, t_max: int, window: int = 160) -> list[int]:
    """RVC's own loop (pipeline.py), transcribed, as the reference."""
    audio_pad = np.pad(audio, (window // 2, window // 2), mode="reflect")
    opt_ts = []
    if audio_pad.shape[0] > t_max:
        audio_sum = np.zeros_like(audio)
        for i in range(window):
            audio_sum += np.abs(audio_pad[i : i - window])
        for t in range(t_center, audio.shape[0], t_center):
            seg = audio_sum[t - t_query : t + t_query]
            opt_ts.append(t - t_query + np.where(np.abs(seg) == np.abs(seg).min())[0][0])
    return opt_ts


def test_split_points_match_rvc():
    from rvcqa.convert import PipelineSettings, split_points

    rng = np.random.default_rng(3)
    audio = (rng.standard_normal(16000 * 90) * 0.1).astype(np.float64)
    audio[16000 * 35 : 16000 * 35 + 4000] *= 0.001  # a pause near the first 38 s mark
    s = PipelineSettings()
    got = split_points(audio, s)
    want = _rvc_split_points(audio, 16000 * 6, 16000 * 38, 16000 * 41)
    assert got == [int(x) for x in want]
    assert 16000 * 35 <= got[0] < 16000 * 35 + 4000
    assert split_points(audio[: 16000 * 40], s) == []


# --------------------------------------------------------------------------- content and index


def test_content_model_needs_hubert_or_a_declaration(tmp_path):
    from rvcqa.content import NEEDS_HUBERT, content_model_for
    from rvcqa.features.standin import StandInContent

    model, why = content_model_for(tmp_path, "v2")
    assert model is None and why == NEEDS_HUBERT
    (tmp_path / "rvcqa_content.json").write_text(json.dumps({"extractor": "standin", "dim": 768, "seed": 3}))
    model, why = content_model_for(tmp_path, "v2")
    assert isinstance(model, StandInContent) and model.dim == 768 and "rvcqa_content.json" in why
    # the declaration wins over --hubert: the model was trained on the stand-in
    model, why = content_model_for(tmp_path, "v2", hubert=tmp_path / "hubert_base.pt")
    assert isinstance(model, StandInContent) and "not used" in why
    with pytest.raises(RvcqaError, match="declares 768-dim stand-in features but the model \\(v1\\) takes 256"):
        content_model_for(tmp_path, "v1")
    with pytest.raises(RvcqaError):  # a bad --hubert path is reported, for models without a declaration
        content_model_for(tmp_path / "other", "v2", hubert=tmp_path / "missing_hubert.pt")
    (tmp_path / "rvcqa_content.json").write_text(json.dumps({"extractor": "contentvec"}))
    with pytest.raises(RvcqaError, match="not one rvcqa can build"):
        content_model_for(tmp_path, "v2")
    (tmp_path / "rvcqa_content.json").write_text("{not json")
    with pytest.raises(RvcqaError, match="not valid JSON"):
        content_model_for(tmp_path, "v2")


class _FakeIndex:
    """faiss-like brute-force index: search returns squared L2 distances, as IndexFlatL2 does."""

    def __init__(self, vectors: np.ndarray):
        self.vectors = vectors
        self.d = vectors.shape[1]
        self.ntotal = vectors.shape[0]

    def search(self, x: np.ndarray, k: int):
        d = ((x[:, None, :] - self.vectors[None]) ** 2).sum(-1)
        ix = np.argsort(d, axis=1)[:, :k]
        return np.take_along_axis(d, ix, axis=1).astype(np.float32), ix


def test_retrieval_blends_k_nearest_with_inverse_square_weights():
    from rvcqa.retrieval import Retrieval, retrieve

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((50, 6)).astype(np.float32)
    feats = rng.standard_normal((4, 6)).astype(np.float32)
    got = retrieve(feats, Retrieval(_FakeIndex(vectors), vectors), index_rate=0.75, k=8)
    score, ix = _FakeIndex(vectors).search(feats, 8)
    weight = np.square(1 / score)
    weight /= weight.sum(axis=1, keepdims=True)
    want = np.sum(vectors[ix] * np.expand_dims(weight, axis=2), axis=1) * 0.75 + feats * 0.25
    np.testing.assert_allclose(got, want, rtol=1e-5)
    # an exact match (distance 0) stays finite and wins
    exact = retrieve(vectors[:1], Retrieval(_FakeIndex(vectors), vectors), index_rate=1.0)
    np.testing.assert_allclose(exact, vectors[:1], atol=1e-5)


def test_load_index_says_why_retrieval_is_off(tmp_path):
    from rvcqa.retrieval import load_index

    assert load_index([], 768) == (None, "no .index file in the model folder: retrieval off")
    idx = tmp_path / "added_IVF1_Flat_nprobe_1_x_v2.index"
    idx.write_bytes(b"")
    retrieval, why = load_index([idx], 768)
    assert retrieval is None and "retrieval off" in why


# --------------------------------------------------------------------------- conversion


def test_conversion_keeps_timing_transposes_and_is_reproducible(synth, speech16k, constant_f0, tmp_path):
    import torch

    from rvcqa.convert import Converter, PipelineSettings, convert_files
    from rvcqa.features.f0 import coarse_pitch

    seen = {}
    real_infer = synth.infer

    def spy(phone, lengths, pitch, nsff0, sid, **kw):
        seen.update(phone=phone, pitch=pitch, nsff0=nsff0, kw=kw)
        return real_infer(phone, lengths, pitch, nsff0, sid, **kw)

    x = speech16k[:16000]
    conv = Converter(synth, _standin(), settings=PipelineSettings(transpose=12))
    conv.synth = type("Spy", (), {"infer": staticmethod(spy), "sample_rate": 48000, "f0": True})()
    a = conv.convert(x)
    # 1 s in, 1 s out minus RVC's own frame rounding (HuBERT yields 2 frames fewer than N // 160)
    assert a.sample_rate == 48000 and 48000 - 3 * 480 <= a.output.size <= 48000
    assert a.chunks == 1
    # transposed by an octave: 200 Hz -> 400 Hz in nsff0, coarse pitch of 400 Hz, unvoiced stays 0
    assert float(seen["nsff0"][0, 30]) == pytest.approx(400.0)
    assert int(seen["pitch"][0, 30]) == int(coarse_pitch(np.array([400.0]))[0])
    assert float(seen["nsff0"][0, 5]) == 0.0 and int(seen["pitch"][0, 5]) == 1
    assert seen["kw"]["noise_scale"] == pytest.approx(0.66666) and seen["kw"]["source_noise"] is True
    assert seen["phone"].shape[1] == seen["pitch"].shape[1]  # p_len truncation
    # same seed, same output; another seed, another draw of RVC's prior noise
    b = conv.convert(x)
    np.testing.assert_array_equal(a.output, b.output)
    other = Converter(synth, _standin(), settings=PipelineSettings(transpose=12, seed=99)).convert(x)
    assert not np.array_equal(a.output, other.output)
    # files go where asked, float WAV at the model rate, transposition in the name
    clip = tmp_path / "in" / "clip.wav"
    clip.parent.mkdir()
    sf.write(str(clip), x, 16000)
    done, bad = convert_files(Converter(synth, _standin(), settings=PipelineSettings(transpose=12)), [clip],
                              out_dir=tmp_path / "out")
    assert not bad and done[0].output_path == tmp_path / "out" / "clip_+12st.wav"
    info = sf.info(str(done[0].output_path))
    assert info.samplerate == 48000 and info.subtype == "FLOAT"
    assert torch.get_num_threads() == 1


def test_long_input_is_split_at_quiet_points(synth, speech16k, constant_f0):
    from rvcqa.convert import Converter, PipelineSettings

    x = np.concatenate([speech16k[: 16000 * 3], np.zeros(1600, np.float32), speech16k[: 16000 * 3]])
    s = PipelineSettings(x_center=2.5, x_query=0.5, x_max=3.0, noise_scale=0.0, source_noise=False)
    conv = Converter(synth, _standin(), settings=s).convert(x)
    assert conv.chunks == 3
    # each chunk loses at most RVC's 2-3 frames of rounding
    assert abs(conv.output.size / 48000 - x.size / 16000) <= 3 * 0.03


def test_protect_keeps_unvoiced_frames_closer_to_the_input_features(synth, speech16k, constant_f0):
    from rvcqa.convert import Converter, PipelineSettings, prepare_input
    from rvcqa.retrieval import Retrieval

    vectors = np.zeros((16, 768), np.float32)  # retrieval pulls every frame towards 0
    seen = {}

    class Spy:
        sample_rate, f0 = 48000, True

        @staticmethod
        def infer(phone, lengths, pitch, nsff0, sid, **kw):
            seen["phone"] = phone.numpy()[0]
            import torch

            return torch.zeros(1, 1, int(lengths[0]) * 480)

    x = speech16k[:16000]
    s = PipelineSettings(index_rate=0.75, protect=0.33)
    Converter(Spy(), _standin(), settings=s, retrieval=Retrieval(_FakeIndex(vectors), vectors)).convert(x)
    feats = np.repeat(_standin().features(np.pad(prepare_input(x), (16000, 16000), mode="reflect")), 2, axis=0)
    phone = seen["phone"]
    # voiced frames: retrieved (0.25 x input); unvoiced (first 20): 0.33 x that + 0.67 x input
    np.testing.assert_allclose(phone[40], 0.25 * feats[40], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(phone[5], (0.33 * 0.25 + 0.67) * feats[5], rtol=1e-4, atol=1e-5)


def test_too_short_and_silent_inputs_are_reported_not_crashed(synth, tmp_path, constant_f0):
    from rvcqa.convert import Converter, convert_files

    short = tmp_path / "short.wav"
    sf.write(str(short), np.full(1000, 0.1, np.float32), 16000)
    silent = tmp_path / "silent.wav"
    sf.write(str(silent), np.zeros(16000, np.float32), 16000)
    done, bad = convert_files(Converter(synth, _standin()), [short, silent])
    assert done == []
    assert "too short" in bad[str(short)] and "silent" in bad[str(silent)]


def test_no_content_model_is_refused(synth):
    from rvcqa.convert import Converter

    with pytest.raises(RvcqaError, match="needs --hubert PATH"):
        Converter(synth, None)


def test_measure_conversion_of_an_identity_output(speech16k):
    from rvcqa.audio import resample
    from rvcqa.convert import Conversion, prepare_input
    from rvcqa.measure import measure_conversion

    x = prepare_input(speech16k[: 16000 * 2])
    y = resample(x, 16000, 48000)
    m = measure_conversion(Conversion(None, x, y, 48000, np.zeros(0), 1, 0.1), f0=False)
    assert m.flatness == pytest.approx(m.flatness_input, rel=0.2)
    assert m.zcr_ratio == pytest.approx(1.0, abs=0.05)
    assert m.duration_ratio == pytest.approx(1.0)
    assert m.band_hz is not None and m.band_hz[1] <= 8000


# --------------------------------------------------------------------------- rms mix, against RVC's own output


@pytest.mark.parametrize("case", [0, 1, 2])
def test_rms_mix_matches_rvc_change_rms(case):
    """RVC's ``change_rms`` (vectors: its output, every 25th sample) on a tone whose output level
    ramps up; the envelopes are stretched half-sample aligned, as ``F.interpolate(mode="linear")``."""
    from conformance_helpers import rel_l2, tone

    from rvcqa.convert import rms_mix

    d = np.load(REPO / "tests" / "data" / "pipeline" / "change_rms.npz")
    sr, rate, sec = int(d[f"sr_{case}"]), float(d[f"rate_{case}"]), float(d[f"seconds_{case}"])
    x = tone(sec, 16000, level=0.4)
    y = tone(sec, sr, f_start=300, f_end=200, level=0.2) * np.linspace(0.2, 1.5, int(round(sec * sr))).astype(np.float32)
    got = rms_mix(x, y, sr, rate)[::25]
    assert got.shape == d[f"out_{case}"].shape
    assert rel_l2(got, d[f"out_{case}"]) < 1e-5


def test_stretch_linear_is_torch_linear_interpolation():
    import torch

    from rvcqa.convert import stretch_linear

    rng = np.random.default_rng(5)
    for n, size in ((7, 100), (3, 5), (10, 4), (1, 9), (50, 50)):
        v = rng.standard_normal(n)
        want = torch.nn.functional.interpolate(torch.from_numpy(v)[None, None], size=size, mode="linear")[0, 0]
        np.testing.assert_allclose(stretch_linear(v, size), want.numpy(), rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- retrieval with faiss itself


def test_rvc_index_is_loaded_and_retrieval_matches_rvc_arithmetic(tmp_path):
    """An index built as RVC's "Train index" builds it (IVF, nprobe 1): ``load_index`` prefers
    the ``added_`` file, reconstructs ``big_npy``, and ``retrieve`` gives RVC's blend for it."""
    faiss = pytest.importorskip("faiss", reason="the index extra (faiss-cpu) is not installed")
    from rvcqa.convert import load_index, retrieve

    rng = np.random.default_rng(4)
    vectors = rng.standard_normal((400, 768)).astype(np.float32)
    index = faiss.index_factory(768, "IVF10,Flat")
    faiss.extract_index_ivf(index).nprobe = 1
    index.train(vectors)
    faiss.write_index(index, str(tmp_path / "trained_IVF10_Flat_nprobe_1_x_v2.index"))
    index.add(vectors)
    added = tmp_path / "added_IVF10_Flat_nprobe_1_x_v2.index"
    faiss.write_index(index, str(added))
    narrow = faiss.IndexFlatL2(256)
    narrow.add(vectors[:, :256].copy())
    faiss.write_index(narrow, str(tmp_path / "added_v1.index"))

    files = sorted(tmp_path.iterdir())
    retrieval, why = load_index(files, 768)
    assert retrieval is not None and retrieval.path == added and why == f"index {added.name}"
    np.testing.assert_array_equal(retrieval.vectors, vectors)  # IVF,Flat stores the vectors exactly
    feats = (vectors[:6] + 0.3 * rng.standard_normal((6, 768))).astype(np.float32)
    got = retrieve(feats, retrieval, index_rate=0.6)
    score, ix = faiss.read_index(str(added)).search(feats, k=8)  # RVC's Pipeline.vc, verbatim arithmetic
    weight = np.square(1 / score)
    weight /= weight.sum(axis=1, keepdims=True)
    want = np.sum(vectors[ix] * np.expand_dims(weight, axis=2), axis=1) * 0.6 + feats * 0.4
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)

    none, why = load_index([tmp_path / "added_v1.index"], 768)
    assert none is None and why == "added_v1.index: 256-dim vectors, the model takes 768: retrieval off"
    empty, why = load_index([tmp_path / "trained_IVF10_Flat_nprobe_1_x_v2.index"], 768)
    assert empty is None and "empty (a trained_ index without add())" in why


def test_pipeline_flavours():
    from rvcqa.convert import PipelineSettings

    a = PipelineSettings.applio(transpose=3)
    assert (a.flavour, a.protect, a.rms_mix_rate, a.index_rate, a.transpose) == ("applio", 0.5, 1.0, 0.75, 3)
    assert (a.x_pad, a.x_query, a.x_center, a.x_max) == (1.0, 6.0, 38.0, 41.0)
    assert PipelineSettings().flavour == "rvc" and PipelineSettings().filter_radius == 3
    with pytest.raises(RvcqaError, match="flavour must be one of rvc, applio"):
        PipelineSettings(flavour="mangio")


def test_applio_split_points_use_the_signed_sum():
    """Applio sums signed samples per 10 ms window: a loud window that averages to zero is as
    'quiet' as silence to it, while RVC's absolute sum finds the real pause."""
    from rvcqa.convert import PipelineSettings, split_points

    rng = np.random.default_rng(8)
    audio = rng.uniform(0.2, 1.0, 16000 * 3) * 0.5  # one-signed: both see the same level
    audio[16000 * 2 - 8000 : 16000 * 2 - 7000] = 0.01  # a soft stretch
    square = np.tile(np.r_[np.full(80, 0.9), np.full(80, -0.9)], 10)  # loud, mean zero
    audio[16000 * 2 + 3000 : 16000 * 2 + 3000 + square.size] = square
    s = dict(x_center=2.0, x_query=0.6, x_max=2.5)
    rvc = split_points(audio, PipelineSettings(**s))
    applio = split_points(audio, PipelineSettings(flavour="applio", **s))
    assert 16000 * 2 - 8000 <= rvc[0] < 16000 * 2 - 7000
    assert 16000 * 2 + 3000 - 160 <= applio[0] < 16000 * 2 + 3000 + square.size
