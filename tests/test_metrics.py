"""Tests of rvcqa.metrics: report magnitudes on real speech, definitions, guards, properties."""
from __future__ import annotations

import importlib.machinery
import importlib.util
import math
import sys
import types
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rvcqa.audio import load_audio, resample
from rvcqa.errors import AudioError, RvcqaError
from rvcqa.metrics import (
    METRICS,
    Band,
    F0Track,
    OptionalDependencyMissing,
    available_metrics,
    basic_profile,
    clipping_fraction,
    compare_f0,
    content_band,
    dnsmos,
    duration_ratio,
    f0_metrics,
    log_mel,
    log_mel_l1,
    mel_cepstral_distortion,
    peak,
    rms,
    rvc_mel_settings,
    spectral_flatness,
    speaker_similarity,
    track_f0,
    zcr_hz,
)
from rvcqa.metrics import optional as optional_metrics
from rvcqa.metrics.basic import _flatness_frames

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
SR = 48000
QUICK = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@lru_cache(maxsize=None)
def vctk48() -> np.ndarray:
    """Native 48 kHz speech (VCTK p301)."""
    y, sr = load_audio(AUDIO / "speakers" / "vctk_p301_102_F_48k.wav")
    assert sr == SR
    return y


@lru_cache(maxsize=None)
def lj48() -> np.ndarray:
    """22.05 kHz LJ Speech resampled to 48 kHz: empty above ~11 kHz, like an upsampled dataset."""
    return load_audio(AUDIO / "ljspeech" / "LJ001-0001.wav", sr=SR)[0]


def noise_like(y: np.ndarray, seed: int = 0) -> np.ndarray:
    """White noise at the RMS of ``y`` (what a broken model's output resembles)."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(y.size) * rms(y)).astype(np.float32)


def slow_drift(n: int, sr: int) -> np.ndarray:
    """A DC offset plus a 0.15 Hz drift: what a randomly initialised RVC generator outputs."""
    t = np.arange(n) / sr
    return (0.02 + 0.05 * np.sin(2 * np.pi * 0.15 * t + 0.3)).astype(np.float32)


def harmonic_tone(f0: float, sr: int, seconds: float, n_harmonics: int = 5) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    y = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, n_harmonics + 1))
    return (0.3 * y / np.max(np.abs(y))).astype(np.float32)


# --------------------------------------------------------------------------- report magnitudes


def test_speech_vs_noise_reproduces_report_magnitudes() -> None:
    """The report: input flatness 0.0019, ZCR 1059 Hz; noise output 0.41, 9747 Hz (48 kHz)."""
    speech = basic_profile(vctk48(), SR)
    noise = basic_profile(noise_like(vctk48()), SR)
    assert 5e-4 < speech["flatness"] < 0.01
    assert 700 < speech["zcr_hz"] < 2500
    assert 0.4 < noise["flatness"] < 0.6
    assert 10_000 < noise["zcr_hz"] < 12_500
    assert noise["rms"] == pytest.approx(speech["rms"], rel=0.02)


def test_upsampled_speech_in_its_content_band_matches_report() -> None:
    band = content_band(lj48(), SR)
    prof = basic_profile(lj48(), SR, band)
    assert 5e-4 < prof["flatness"] < 0.01
    assert 500 < prof["zcr_hz"] < 2500


def test_flatness_equals_librosa_per_frame() -> None:
    import librosa

    y = vctk48()[: SR * 2]
    ours, _, _, _ = _flatness_frames(y, SR)
    ref = librosa.feature.spectral_flatness(y=y, n_fft=2048, hop_length=512)[0]
    np.testing.assert_allclose(ours, ref, rtol=1e-3, atol=1e-8)


def test_silence_gate_ignores_padding_with_zeros() -> None:
    """librosa scores an all-zero frame 1.0; the gate must keep that out of the median."""
    y = vctk48()
    padded = np.concatenate([np.zeros(SR * 5, np.float32), y, np.zeros(SR * 5, np.float32)])
    plain = spectral_flatness(y, SR)
    gated = spectral_flatness(padded, SR)
    assert gated.frames_used < gated.frames_total
    assert gated.value == pytest.approx(plain.value, rel=0.1)
    assert gated.silence_gate_db == 40.0


def test_content_band_lets_band_limited_noise_fail() -> None:
    """Upsampled data: band-limited noise passes full-band flatness, fails inside the band."""
    reference = lj48()
    band = content_band(reference, SR)
    assert 9_500 < band.fmax_hz <= 11_025 and band.fmin_hz < 100
    assert "60 dB" in band.rule
    rng = np.random.default_rng(1)
    white22 = (rng.standard_normal(reference.size * 22050 // SR) * 0.07).astype(np.float32)
    limited = resample(white22, 22050, SR)  # noise, empty above 11 kHz
    assert spectral_flatness(limited, SR).value < 0.01  # the trap
    in_band = spectral_flatness(limited, SR, band)
    assert in_band.value > 0.3
    assert in_band.band_hz == pytest.approx((band.fmin_hz, band.fmax_hz), abs=24)
    assert spectral_flatness(reference, SR, band).value < 0.05


def test_content_band_of_native_and_narrowband_speech() -> None:
    assert content_band(vctk48(), SR).fmax_hz > 20_000
    y16, _ = load_audio(AUDIO / "speakers" / "cmuarctic_aew_a0002_M_16k.wav", sr=SR)
    assert content_band(y16, SR).fmax_hz <= 8_000


def test_band_tuple_and_validation() -> None:
    y = noise_like(vctk48())[: SR]
    f = spectral_flatness(y, SR, (1000.0, 4000.0))
    assert f.band_hz[0] >= 1000 - 24 and f.band_hz[1] <= 4000
    assert f.band_rule == "given"
    assert float(f) == f.value
    with pytest.raises(ValueError):
        spectral_flatness(y, SR, (5000.0, 1000.0))
    with pytest.raises(ValueError):
        spectral_flatness(y, SR, (30_000.0, 40_000.0))


def test_flatness_refuses_a_band_without_content() -> None:
    """A 440 Hz tone has only rounding noise above 10 kHz: floored bins would read 1.0."""
    tone = harmonic_tone(440.0, SR, 1.0, n_harmonics=1)
    with pytest.raises(AudioError, match="almost no energy in the band"):
        spectral_flatness(tone, SR, (10_000.0, 20_000.0))
    assert spectral_flatness(tone, SR, (0.0, 10_000.0)).value < 0.01


def test_basic_profile_states_its_settings() -> None:
    band = Band(0.0, 8000.0, "test band")
    prof = basic_profile(vctk48(), SR, band)
    for key in ("flatness", "zcr_hz", "rms", "rms_dbfs", "peak", "clipping", "duration_s"):
        assert isinstance(prof[key], float) and math.isfinite(prof[key])
    bin_hz = SR / 2048  # the band reported is the bins actually used
    assert prof["band_hz"][0] == 0.0 and 8000.0 - bin_hz < prof["band_hz"][1] <= 8000.0
    assert prof["band_rule"] == "test band"
    assert prof["silence_gate_db"] == 40.0
    assert 0 < prof["frames_used"] <= prof["frames_total"]
    assert prof["n_fft"] == 2048 and prof["hop_length"] == 512
    assert set(prof["definitions"]) == {"flatness", "zcr_hz", "rms", "peak", "clipping"}
    assert "median" in prof["definitions"]["flatness"]
    assert basic_profile(vctk48(), SR)["band_rule"] == "full band"


def test_slow_drift_passes_flatness_but_fails_zcr_and_mel() -> None:
    """A random-init generator's drift/offset output is 'tonal', so flatness alone passes it."""
    speech = vctk48()
    drift = slow_drift(speech.size, SR)
    prof = basic_profile(drift, SR)
    assert prof["flatness"] < 1e-3  # would pass a "flatness < 0.1" gate
    ratio = prof["zcr_hz"] / zcr_hz(speech, SR)
    assert ratio < 0.01  # << 0.5
    assert prof["zcr_hz"] < 1.0
    assert log_mel_l1(drift, speech, SR).value > 3.0
    assert log_mel_l1(noise_like(speech), speech, SR).value > 3.0


# --------------------------------------------------------------------------- ZCR, level, clipping


@QUICK
@given(
    freq=st.floats(20.0, 20_000.0),
    seconds=st.floats(0.25, 2.0),
    phase=st.floats(0.0, 2 * math.pi),
    amp=st.floats(0.01, 1.0),
)
def test_pure_tone_zcr_equals_its_frequency(freq: float, seconds: float, phase: float, amp: float) -> None:
    n = int(SR * seconds)
    y = (amp * np.sin(2 * np.pi * freq * np.arange(n) / SR + phase)).astype(np.float32)
    # crossings are counted to within one, over n samples: |error| <= 1/T
    assert abs(zcr_hz(y, SR) - freq) <= 1.0 / seconds + 1e-6 * freq


def test_dc_offset_has_zero_zcr() -> None:
    assert zcr_hz(np.full(SR, 0.1, dtype=np.float32), SR) == 0.0


def test_rms_peak_duration_ratio() -> None:
    y = np.array([0.5, -0.5] * 8000, dtype=np.float32)
    assert rms(y) == pytest.approx(0.5)
    assert peak(np.array([0.1, -0.7, 0.3], dtype=np.float32)) == pytest.approx(0.7)
    assert rms(np.zeros(10, dtype=np.float32)) == 0.0
    assert duration_ratio(np.zeros(96000), 48000, np.zeros(32000), 16000) == pytest.approx(1.0)
    assert duration_ratio(np.zeros(48000), 48000, np.zeros(32000), 16000) == pytest.approx(0.5)


def test_clipping_fraction_definitions() -> None:
    t = np.arange(SR) / SR
    sine = np.sin(2 * np.pi * 200 * t).astype(np.float32)
    assert clipping_fraction(0.5 * sine) == 0.0
    # hard clip at full scale: fraction of |1.2 sin| >= 1
    full = np.clip(1.2 * sine, -1, 1)
    expected = np.mean(np.abs(1.2 * sine) >= 0.999)
    assert clipping_fraction(full) == pytest.approx(expected, abs=0.005)
    # clipped at 0.6, then scaled down to peak 0.5: flat tops at the file's own peak
    flat_topped = (np.clip(sine, -0.6, 0.6) * (0.5 / 0.6)).astype(np.float32)
    assert clipping_fraction(flat_topped) == pytest.approx(np.mean(np.abs(sine) >= 0.6), abs=0.01)
    # smooth slow maxima and 16-bit quantised low tones are not clipping
    assert clipping_fraction(slow_drift(SR * 4, SR)) == 0.0
    low = np.round(0.5 * np.sin(2 * np.pi * 30 * t) * 32767) / 32768
    assert clipping_fraction(low.astype(np.float32)) == 0.0


# --------------------------------------------------------------------------- flatness properties


@QUICK
@given(
    seed=st.integers(0, 2**32 - 1),
    noise_share=st.floats(0.05, 1.0),
    f0=st.floats(80.0, 400.0),
    gain=st.floats(0.1, 10.0),
)
def test_flatness_is_gain_invariant(seed: int, noise_share: float, f0: float, gain: float) -> None:
    rng = np.random.default_rng(seed)
    sr = 16000
    y = noise_share * 0.1 * rng.standard_normal(sr) + (1 - noise_share) * harmonic_tone(f0, sr, 1.0)
    y = y.astype(np.float32)
    a = spectral_flatness(y, sr).value
    b = spectral_flatness((y * gain).astype(np.float32), sr).value
    assert b == pytest.approx(a, rel=1e-3, abs=1e-7)


@QUICK
@given(seed=st.integers(0, 2**32 - 1), sr=st.sampled_from([16000, 22050, 40000, 48000]), seconds=st.floats(0.5, 2.0))
def test_white_noise_flatness_is_about_0_56(seed: int, sr: int, seconds: float) -> None:
    # exp(-Euler's gamma) = 0.5615: flatness of exponentially distributed power values
    y = (np.random.default_rng(seed).standard_normal(int(sr * seconds)) * 0.1).astype(np.float32)
    assert spectral_flatness(y, sr).value == pytest.approx(0.5615, abs=0.03)


_signals = st.one_of(
    hnp.arrays(np.float32, st.integers(0, 8000), elements=st.floats(-1, 1, width=32)),
    st.builds(lambda n, v: np.full(n, v, np.float32), st.integers(0, 8000), st.floats(-1, 1, width=32)),
    st.builds(
        lambda n, k, v: np.where(np.arange(n) % max(k, 1) == 0, v, 0).astype(np.float32),
        st.integers(0, 8000),
        st.integers(1, 5000),
        st.floats(-1, 1, width=32),
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(y=_signals)
def test_no_nan_ever_silence_and_short_raise(y: np.ndarray) -> None:
    sr = 16000
    try:
        prof = basic_profile(y, sr)
    except AudioError:
        return  # empty, too short or silent: refused, never scored
    values = [v for v in prof.values() if isinstance(v, float)]
    assert values and all(math.isfinite(v) for v in values)
    assert math.isfinite(log_mel_l1(y, y[::-1].copy(), sr).value)
    assert math.isfinite(float(content_band(y, sr).fmax_hz))


# --------------------------------------------------------------------------- guards


def _silence() -> np.ndarray:
    return np.zeros(SR, dtype=np.float32)


def _nan() -> np.ndarray:
    y = noise_like(vctk48())[:SR].copy()
    y[10] = np.nan
    return y


def _short() -> np.ndarray:
    return noise_like(vctk48())[: SR // 10]


_GUARDED = {
    "flatness": lambda y: spectral_flatness(y, SR),
    "zcr": lambda y: zcr_hz(y, SR),
    "profile": lambda y: basic_profile(y, SR),
    "content_band": lambda y: content_band(y, SR),
    "log_mel": lambda y: log_mel(y, SR),
    "mel_l1_output": lambda y: log_mel_l1(y, vctk48()[: SR], SR),
    "mel_l1_reference": lambda y: log_mel_l1(vctk48()[: SR], y, SR),
    "mcd": lambda y: mel_cepstral_distortion(vctk48(), SR, y, SR),
    "f0": lambda y: f0_metrics(vctk48(), SR, y, SR),
}


@pytest.mark.parametrize("make", [_silence, _nan, _short], ids=["silence", "nan", "short"])
@pytest.mark.parametrize("metric", sorted(_GUARDED))
def test_metrics_refuse_unjudgeable_audio(metric: str, make) -> None:
    """Never a perfect score for silence: every comparison refuses it before computing."""
    with pytest.raises(AudioError, match="silent|NaN|too short"):
        _GUARDED[metric](make())


def test_level_helpers_refuse_nan_and_empty() -> None:
    for fn in (rms, peak, clipping_fraction):
        with pytest.raises(AudioError):
            fn(np.array([0.1, np.nan], dtype=np.float32))
        with pytest.raises(AudioError):
            fn(np.zeros(0, dtype=np.float32))


# --------------------------------------------------------------------------- RVC log-mel


def _rvc_mel_torch(y: np.ndarray, sr: int) -> np.ndarray:
    """A port of RVC's mel_processing.mel_spectrogram_torch, the ground truth for log_mel."""
    torch = pytest.importorskip("torch")
    import librosa

    s = rvc_mel_settings(sr)
    basis = torch.from_numpy(librosa.filters.mel(sr=sr, n_fft=s.n_fft, n_mels=s.n_mels, fmin=0.0, fmax=None))
    x = torch.from_numpy(y).float().unsqueeze(0)
    pad = int((s.n_fft - s.hop_length) / 2)
    x = torch.nn.functional.pad(x.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    spec = torch.stft(
        x,
        s.n_fft,
        hop_length=s.hop_length,
        win_length=s.win_length,
        window=torch.hann_window(s.win_length),
        center=False,
        pad_mode="reflect",
        normalized=False,
        onesided=True,
        return_complex=True,
    )
    mag = torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + 1e-6)
    mel = torch.matmul(basis.float(), mag)
    return torch.log(torch.clamp(mel, min=1e-5))[0].numpy()


@pytest.mark.parametrize("sr", [48000, 40000, 32000])
def test_log_mel_matches_rvc_torch_implementation(sr: int) -> None:
    y = resample(vctk48()[: SR], SR, sr)
    ours = log_mel(y, sr)
    ref = _rvc_mel_torch(y, sr)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=2e-3)


def test_rvc_mel_settings_table_and_rule() -> None:
    for sr, expected in {48000: (2048, 480, 128), 40000: (2048, 400, 125), 32000: (1024, 320, 80)}.items():
        s = rvc_mel_settings(sr)
        assert (s.n_fft, s.hop_length, s.n_mels) == expected
        assert s.win_length == s.n_fft and s.fmin == 0.0 and s.fmax == sr / 2
        assert "RVC config" in s.source
    assert (rvc_mel_settings(44100).n_fft, rvc_mel_settings(44100).hop_length, rvc_mel_settings(44100).n_mels) == (
        2048,
        441,
        128,
    )
    s16 = rvc_mel_settings(16000)
    assert (s16.n_fft, s16.hop_length, s16.n_mels) == (512, 160, 80)
    assert "extension" in s16.source


def test_log_mel_frame_count_matches_rvc_segment() -> None:
    """RVC: a 17280-sample 48 kHz training segment has 36 mel frames."""
    y = vctk48()[SR : SR + 17280]
    assert log_mel(y, SR, name="segment").shape == (128, 36)


@QUICK
@given(seed=st.integers(0, 2**32 - 1), sr=st.sampled_from([32000, 40000, 48000]))
def test_mel_distance_zero_to_itself_and_symmetric(seed: int, sr: int) -> None:
    rng = np.random.default_rng(seed)
    n = sr // 2
    a = (0.1 * rng.standard_normal(n)).astype(np.float32)
    b = (a + harmonic_tone(float(rng.uniform(80, 400)), sr, n / sr)).astype(np.float32)
    assert log_mel_l1(a, a, sr).value == 0.0
    ab, ba = log_mel_l1(a, b, sr), log_mel_l1(b, a, sr)
    assert ab.value == pytest.approx(ba.value, rel=1e-9)
    assert ab.value > 0
    assert ab.loss_mel_equivalent == pytest.approx(45 * ab.value)


def test_mel_distance_uses_common_length() -> None:
    y = vctk48()
    d = log_mel_l1(y, y[: SR * 2], SR)
    assert d.value < 0.05  # only the frames near the cut differ (reflect padding)
    assert d.frames_compared == d.frames_b < d.frames_a


# --------------------------------------------------------------------------- MCD


def test_mcd_orders_degradations() -> None:
    speech = vctk48()
    rng = np.random.default_rng(2)
    noisy = (speech + rng.standard_normal(speech.size) * rms(speech) / math.sqrt(10)).astype(np.float32)
    assert mel_cepstral_distortion(speech, SR, speech, SR).value_db == pytest.approx(0.0, abs=1e-9)
    m_noisy = mel_cepstral_distortion(speech, SR, noisy, SR)
    m_noise = mel_cepstral_distortion(speech, SR, noise_like(speech), SR)
    assert 0 < m_noisy.value_db < m_noise.value_db
    assert m_noise.settings["variant"].startswith("rvcqa")
    assert m_noise.settings["coefficients"] == "1..24 (c0 excluded)"
    assert m_noise.path_length >= max(m_noise.frames_reference, m_noise.frames_output)


def test_mcd_accepts_different_rates() -> None:
    speech16 = resample(vctk48(), SR, 16000)
    assert mel_cepstral_distortion(vctk48(), SR, speech16, 16000).value_db < 1.0


# --------------------------------------------------------------------------- F0


def _track(f0: np.ndarray, voiced: np.ndarray | None = None) -> F0Track:
    f0 = np.asarray(f0, dtype=float)
    v = f0 > 0 if voiced is None else voiced
    return F0Track(np.where(v, f0, 0.0), v, 0.01, {"tracker": "test"})


def test_compare_f0_arithmetic() -> None:
    up3 = 200 * 2 ** (3 / 12)  # expected output F0 at +3 semitones: 237.84 Hz
    ref = _track([200, 200, 200, 200, 0, 0, 200, 200, 200, 200])
    out = _track([up3, 400, 210, 0, 0, 220, 200, up3, up3, 250])
    r = compare_f0(ref, out, transpose_semitones=3)
    # voiced in both: frames 0,1,2,6,7,8,9 with errors 0, +900, -215, -300, 0, 0, +86 cents
    assert r.n_both_voiced == 7 and r.n_frames == 10
    assert r.n_reference_voiced == 8 and r.n_output_voiced == 8
    assert r.voicing_decision_error_rate == pytest.approx(2 / 10)  # frames 3 and 5
    assert r.gross_pitch_error_rate == pytest.approx(1 / 7)  # only 400 Hz is > 20 % off
    assert r.f0_frame_error_rate == pytest.approx((2 + 1) / 10)
    assert r.fraction_within_50_cents == pytest.approx(3 / 7)
    assert r.median_cents_error == pytest.approx(0.0, abs=1e-9)
    assert r.median_abs_cents_error == pytest.approx(1200 * math.log2(250 / up3))
    assert r.settings["transpose_semitones"] == 3 and r.settings["tracker"] == "test"


def test_compare_f0_no_common_voicing_and_unvoiced_reference() -> None:
    r = compare_f0(_track([200, 200, 0]), _track([0, 0, 0]))
    assert r.median_cents_error is None and r.gross_pitch_error_rate is None
    assert r.voicing_decision_error_rate == pytest.approx(2 / 3)
    with pytest.raises(AudioError, match="no voiced frames"):
        compare_f0(_track([0, 0, 0]), _track([100, 100, 100]))


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(f0=st.floats(100.0, 300.0), shift_cents=st.floats(-500.0, 500.0))
def test_cents_error_of_shifted_tone_is_the_shift(f0: float, shift_cents: float) -> None:
    sr = 16000
    ref = harmonic_tone(f0, sr, 1.0)
    out = harmonic_tone(f0 * 2 ** (shift_cents / 1200), sr, 1.0)
    t_ref, t_out = track_f0(ref, sr), track_f0(out, sr)
    plain = compare_f0(t_ref, t_out)
    assert plain.n_both_voiced > 50
    assert plain.median_cents_error == pytest.approx(shift_cents, abs=15)
    transposed = compare_f0(t_ref, t_out, transpose_semitones=shift_cents / 100)
    assert transposed.median_cents_error == pytest.approx(0.0, abs=15)
    assert transposed.gross_pitch_error_rate == 0.0
    assert transposed.fraction_within_50_cents > 0.9
    assert transposed.settings["tracker"] == "pyin" and transposed.settings["frame_period_ms"] == 10.0


def test_f0_of_real_speech_is_plausible() -> None:
    track = track_f0(vctk48(), SR)
    assert track.voiced.mean() > 0.3
    assert 140 < np.median(track.f0_hz[track.voiced]) < 320  # female reader
    same = compare_f0(track, track)
    assert same.median_cents_error == 0.0 and same.voicing_decision_error_rate == 0.0
    assert same.fraction_within_50_cents == 1.0


def test_world_trackers_skip_cleanly_without_pyworld() -> None:
    try:
        import pyworld  # noqa: F401
    except ImportError:
        with pytest.raises(OptionalDependencyMissing, match="pyworld"):
            track_f0(vctk48(), SR, method="harvest")
        return
    tone = harmonic_tone(200.0, 16000, 1.0)
    for method in ("dio", "harvest"):
        track = track_f0(tone, 16000, method=method)
        assert np.median(track.f0_hz[track.voiced]) == pytest.approx(200.0, rel=0.02)


def test_unknown_tracker_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown F0 tracker"):
        track_f0(vctk48(), SR, method="crepe")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- optional extras


def _fake_module(monkeypatch: pytest.MonkeyPatch, name: str, **attrs) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.__spec__ = importlib.machinery.ModuleSpec(name, None)
    for k, v in attrs.items():
        setattr(mod, k, v)
    monkeypatch.setitem(sys.modules, name, mod)
    return mod


def test_speaker_similarity_not_installed_signal() -> None:
    if METRICS["speaker_similarity"].available:
        pytest.skip("resemblyzer is installed")
    with pytest.raises(OptionalDependencyMissing, match="resemblyzer") as info:
        speaker_similarity(vctk48(), SR, lj48(), SR)
    assert isinstance(info.value, RvcqaError) and info.value.packages == ("resemblyzer",)


def test_speaker_similarity_glue_against_documented_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """resemblyzer's API: preprocess_wav(wav, source_sr=sr); VoiceEncoder(device).embed_utterance."""
    calls: list[int] = []

    def preprocess_wav(wav, source_sr=None):
        calls.append(source_sr)
        return np.asarray(wav, dtype=np.float32)

    class VoiceEncoder:
        def __init__(self, device=None, verbose=True):
            self.device = device

        def embed_utterance(self, wav):
            spec = np.abs(np.fft.rfft(wav[:4096]))[:256]
            return spec / np.linalg.norm(spec)

    _fake_module(monkeypatch, "resemblyzer", preprocess_wav=preprocess_wav, VoiceEncoder=VoiceEncoder)
    optional_metrics._voice_encoder.cache_clear()
    try:
        assert speaker_similarity(vctk48(), SR, vctk48(), SR) == pytest.approx(1.0)
        assert speaker_similarity(vctk48(), SR, noise_like(vctk48()), SR) < 1.0
        assert calls == [SR] * 4
    finally:
        optional_metrics._voice_encoder.cache_clear()


@pytest.mark.skipif(importlib.util.find_spec("resemblyzer") is None, reason="the speaker extra is not installed")
def test_speaker_embedding_tells_voices_apart() -> None:
    """The real GE2E encoder (weights from the wheel): same reader, other words vs another reader."""
    from rvcqa.metrics import speaker_embedding

    lj1 = speaker_embedding(lj48(), SR, name="LJ001-0001")
    lj2 = speaker_embedding(*load_audio(AUDIO / "ljspeech" / "LJ001-0002.wav"), name="LJ001-0002")
    vctk = speaker_embedding(vctk48(), SR, name="p301")
    assert np.linalg.norm(lj1) == pytest.approx(1.0)
    assert float(lj1 @ lj2) > 0.8 > float(lj1 @ vctk)
    assert speaker_similarity(lj48(), SR, vctk48(), SR) == pytest.approx(float(lj1 @ vctk), abs=1e-6)
    with pytest.raises(RvcqaError, match="^out.wav: the audio is silent"):
        speaker_embedding(np.zeros(SR, dtype=np.float32), SR, name="out.wav")


def test_dnsmos_not_installed_signal() -> None:
    if METRICS["dnsmos"].available:
        pytest.skip("speechmos and onnxruntime are installed")
    with pytest.raises(OptionalDependencyMissing, match="speechmos|onnxruntime"):
        dnsmos(vctk48(), SR)


def test_dnsmos_glue_against_documented_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """speechmos: dnsmos.run(audio_16k, 16000) -> dict with ovrl_mos, sig_mos, bak_mos, p808_mos."""
    seen: dict = {}

    def run(audio, sr=None, **kw):
        seen.update(n=len(audio), sr=sr, peak=float(np.max(np.abs(audio))))
        return {"filename": "", "ovrl_mos": 3.0, "sig_mos": 3.2, "bak_mos": 3.9, "p808_mos": 3.7}

    sub = types.ModuleType("speechmos.dnsmos")
    sub.run = run
    _fake_module(monkeypatch, "speechmos", dnsmos=sub)
    monkeypatch.setitem(sys.modules, "speechmos.dnsmos", sub)
    _fake_module(monkeypatch, "onnxruntime")
    loud = (vctk48() * 3).astype(np.float32)  # peak > 1: must be scaled into [-1, 1]
    scores = dnsmos(loud, SR)
    assert (scores.ovrl, scores.sig, scores.bak, scores.p808) == (3.0, 3.2, 3.9, 3.7)
    assert seen["sr"] == 16000 and seen["peak"] <= 1.0
    assert seen["n"] == pytest.approx(vctk48().size / 3, abs=2)


# --------------------------------------------------------------------------- registry


def test_registry_describes_every_metric() -> None:
    expected = {
        "spectral_flatness",
        "content_band",
        "zcr_hz",
        "rms",
        "peak",
        "clipping_fraction",
        "duration_ratio",
        "log_mel_l1",
        "mcd",
        "f0",
        "f0_world",
        "speaker_similarity",
        "dnsmos",
    }
    assert expected <= set(METRICS)
    for name, info in METRICS.items():
        assert info.name == name and info.summary
        assert info.func.__doc__ and len(info.func.__doc__) > 40, name
    assert METRICS["log_mel_l1"].needs_reference and not METRICS["spectral_flatness"].needs_reference
    assert METRICS["dnsmos"].optional_dependencies == ("speechmos", "onnxruntime")
    reasons = available_metrics()
    assert reasons["spectral_flatness"] is None
    for name in ("speaker_similarity", "dnsmos", "f0_world"):
        assert (reasons[name] is None) == METRICS[name].available
        if reasons[name] is not None:
            assert "not installed" in reasons[name]
