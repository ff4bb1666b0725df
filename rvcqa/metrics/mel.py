"""Reference metrics on RVC's own log-mel spectrogram: log-mel L1 and mel-cepstral distortion.

The log-mel follows RVC's ``mel_processing.mel_spectrogram_torch`` exactly (RVC_FORMATS.md
5.6), so :func:`log_mel_l1` reads like the training log's ``loss_mel / 45``. Implemented with
numpy/scipy (no torch import) and float32 FFTs.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import as_strided

from rvcqa.audio import check_signal, resample
from rvcqa.errors import AudioError
from rvcqa.metrics.basic import periodic_hann
from rvcqa.metrics.registry import register

#: RVC's loss_mel multiplies the mean absolute log-mel error by c_mel = 45.
C_MEL = 45.0
#: Magnitude = sqrt(re^2 + im^2 + 1e-6), as in RVC.
_MAG_EPS = 1e-6
#: log compression: ln(clamp(mel, min=1e-5)), as in RVC.
_LOG_CLAMP = 1e-5


@dataclass(frozen=True)
class MelSettings:
    """One log-mel configuration; ``source`` says where the numbers come from."""

    sample_rate: int
    n_fft: int
    win_length: int
    hop_length: int
    n_mels: int
    fmin: float
    fmax: float
    source: str

    def as_dict(self) -> dict:
        return asdict(self)


#: RVC's configs (configs/v2/48k.json etc.): rate -> (n_fft, win, hop, n_mels).
RVC_MEL_TABLE: dict[int, tuple[int, int, int, int]] = {
    48000: (2048, 2048, 480, 128),
    40000: (2048, 2048, 400, 125),
    32000: (1024, 1024, 320, 80),
}


def rvc_mel_settings(sr: int) -> MelSettings:
    """RVC's mel settings for ``sr``; for rates RVC has no config for, our own extension.

    48k/40k/32k come from RVC's configs. Other rates (our choice, documented in ``source``):
    hop = sr/100 (10 ms, like every RVC rate), n_fft = win = the smallest power of two
    >= 3 x hop (this rule reproduces all three RVC rates), n_mels = 80 up to 32 kHz, else 128.
    fmin 0, fmax sr/2 (RVC's mel_fmax null) everywhere.
    """
    sr = int(sr)
    if sr in RVC_MEL_TABLE:
        n_fft, win, hop, n_mels = RVC_MEL_TABLE[sr]
        source = f"RVC config {sr // 1000}k"
    else:
        hop = int(round(sr / 100))
        n_fft = win = 1 << max(0, math.ceil(math.log2(3 * hop)))
        n_mels = 80 if sr <= 32000 else 128
        source = "rvcqa extension: hop sr/100, n_fft next pow2 >= 3*hop, 80 mels <= 32 kHz else 128"
    return MelSettings(sr, n_fft, win, hop, n_mels, 0.0, sr / 2.0, source)


@lru_cache(maxsize=16)
def _mel_basis(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float):  # -> scipy.sparse.csr_matrix
    """librosa's Slaney mel filterbank as a sparse matrix: each filter spans few bins, and a
    sparse product avoids BLAS threads, which crawl on a busy shared machine."""
    import librosa
    import scipy.sparse

    basis = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    return scipy.sparse.csr_matrix(basis.astype(np.float32))


@lru_cache(maxsize=16)
def _window(win_length: int, n_fft: int) -> np.ndarray:
    """torch.hann_window(win) (periodic), zero-padded to n_fft centred, as torch.stft does."""
    w = periodic_hann(win_length)
    left = (n_fft - win_length) // 2
    out = np.zeros(n_fft, dtype=np.float32)
    out[left : left + win_length] = w
    out.flags.writeable = False
    return out


def _stft_frames(y: np.ndarray, s: MelSettings) -> np.ndarray:
    pad = int((s.n_fft - s.hop_length) / 2)
    if y.size <= pad:
        raise AudioError(f"audio: {y.size} samples are too few for a log-mel (n_fft {s.n_fft}).")
    yp = np.pad(y, pad, mode="reflect")
    n_frames = 1 + (yp.size - s.n_fft) // s.hop_length
    step = yp.strides[0]
    return as_strided(yp, shape=(n_frames, s.n_fft), strides=(step * s.hop_length, step), writeable=False)


def _log_mel_and_energy(y: np.ndarray, s: MelSettings) -> tuple[np.ndarray, np.ndarray]:
    """(log-mel [n_mels, frames], frame power [frames]) with RVC's STFT and compression."""
    frames = _stft_frames(y, s)
    window = _window(s.win_length, s.n_fft)
    basis = _mel_basis(s.sample_rate, s.n_fft, s.n_mels, s.fmin, s.fmax)
    mels = []
    energy = []
    for start in range(0, frames.shape[0], 512):
        spec = scipy.fft.rfft(frames[start : start + 512] * window, axis=1, workers=-1)
        power = np.square(spec.real)
        power += np.square(spec.imag)
        energy.append(power.sum(axis=1, dtype=np.float64))
        mag = np.sqrt(power + np.float32(_MAG_EPS))
        mels.append(np.asarray(basis @ mag.T))
    mel = np.concatenate(mels, axis=1)
    return np.log(np.maximum(mel, np.float32(_LOG_CLAMP))), np.concatenate(energy)


def log_mel(y: np.ndarray, sr: int, settings: MelSettings | None = None, *, name: str = "audio") -> np.ndarray:
    """RVC's log-mel spectrogram, shape (n_mels, frames), float32.

    Reflect-pad by (n_fft - hop)/2 each side, frames of n_fft every hop (center=False),
    periodic Hann window of win_length, magnitude sqrt(re^2 + im^2 + 1e-6), librosa Slaney
    mel filterbank (fmin 0, fmax sr/2), ln(clamp(mel, 1e-5)). 17280 samples at 48 kHz give
    36 frames, as in RVC.
    """
    s = settings or rvc_mel_settings(sr)
    if s.sample_rate != int(sr):
        raise ValueError(f"mel settings are for {s.sample_rate} Hz, audio is {sr} Hz")
    y = check_signal(y, sr, name=name, min_samples=s.n_fft)
    return _log_mel_and_energy(y, s)[0]


@dataclass(frozen=True)
class MelDistance:
    """Result of :func:`log_mel_l1`; ``float(result)`` is the mean absolute error."""

    value: float
    loss_mel_equivalent: float  # value x 45: comparable to RVC's logged loss_mel
    frames_compared: int
    frames_a: int
    frames_b: int
    settings: MelSettings

    def __float__(self) -> float:
        return self.value


@register(
    "log_mel_l1",
    "Mean |log-mel(a) - log-mel(b)| with RVC's mel settings (= RVC loss_mel / 45).",
    needs_reference=True,
    unit="nepers",
    better="lower",
)
def log_mel_l1(
    a: np.ndarray, b: np.ndarray, sr: int, *, names: tuple[str, str] = ("output", "reference")
) -> MelDistance:
    """Log-mel L1 distance between two time-aligned signals at the same rate.

    Definition: :func:`log_mel` of both (RVC's settings for ``sr``, see
    :func:`rvc_mel_settings`), then the mean of |A - B| over all mel bins and the first
    min(frames_a, frames_b) frames (no time warping: RVC conversion keeps timing). Times 45 it
    is RVC's ``loss_mel`` on the same pair; healthy fine-tuned models log 15-25 (0.33-0.56).
    Symmetric, and 0 for identical signals.
    """
    s = rvc_mel_settings(sr)
    ya = check_signal(a, sr, name=names[0], min_samples=s.n_fft)
    yb = check_signal(b, sr, name=names[1], min_samples=s.n_fft)
    ma = _log_mel_and_energy(ya, s)[0]
    mb = _log_mel_and_energy(yb, s)[0]
    n = min(ma.shape[1], mb.shape[1])
    value = float(np.mean(np.abs(ma[:, :n] - mb[:, :n]), dtype=np.float64))
    return MelDistance(value, value * C_MEL, n, ma.shape[1], mb.shape[1], s)


# --------------------------------------------------------------------------- MCD

#: Largest DTW cost matrix (reference frames x output frames, float64: 240 MB) we build.
_MAX_DTW_CELLS = 30_000_000


@dataclass(frozen=True)
class MelCepstralDistortion:
    """Result of :func:`mel_cepstral_distortion`; ``float(result)`` is the value in dB."""

    value_db: float
    path_length: int
    frames_reference: int
    frames_output: int
    settings: dict

    def __float__(self) -> float:
        return self.value_db


def _mel_cepstrum(y: np.ndarray, s: MelSettings, n_coeffs: int, gate_db: float) -> np.ndarray:
    """Coefficients 1..n_coeffs (frames x n_coeffs) of non-silent frames."""
    logmel, energy = _log_mel_and_energy(y, s)
    keep = energy >= energy.max() * 10.0 ** (-gate_db / 10.0)
    x = logmel[:, keep].astype(np.float64)
    # unnormalised DCT-II / (2 N): a log-amplitude ripple 2 c cos(m w) along the mel axis gives
    # coefficient c, the SPTK cepstrum convention the MCD formula's sqrt(2 ...) assumes
    cep = scipy.fft.dct(x, type=2, norm=None, axis=0) / (2.0 * x.shape[0])
    return cep[1 : n_coeffs + 1].T


@register(
    "mcd",
    "Mel-cepstral distortion (dB) after DTW; rvcqa's own variant from log-mel cepstra.",
    needs_reference=True,
    unit="dB",
    better="lower",
)
def mel_cepstral_distortion(
    reference: np.ndarray,
    sr_reference: int,
    output: np.ndarray,
    sr_output: int,
    *,
    n_coeffs: int = 24,
    analysis_sr: int = 16000,
    gate_db: float = 40.0,
) -> MelCepstralDistortion:
    """Mel-cepstral distortion with DTW alignment: rvcqa's own variant, NOT SPTK's MCD.

    Definition: both signals resampled to ``analysis_sr`` (16 kHz: one rate for every model,
    since RVC runs at 32/40/48 kHz and no standard MCD table covers them); RVC-style log-mel
    (:func:`rvc_mel_settings` for that rate: n_fft 512, hop 160, 80 mels at 16 kHz);
    frames more than ``gate_db`` below each signal's loudest frame dropped; mel-cepstrum =
    DCT-II of the natural-log mel magnitudes along the mel axis scaled by 1/(2 N_mels), so that
    ln|H| = c0 + 2 sum c_m cos(m w) on the mel-warped axis (SPTK's convention), coefficients
    1..``n_coeffs`` (c0, the level, excluded); frames aligned by DTW (librosa.sequence.dtw,
    Euclidean cost); MCD = mean over the path of 10/ln10 * sqrt(2 * sum_d (c_d - c'_d)^2).
    Absolute values differ from SPTK/pymcd (no all-pass warping, different cepstrum scale):
    compare only with other rvcqa MCD values.
    """
    s = rvc_mel_settings(analysis_sr)
    ref = check_signal(reference, sr_reference, name="reference")
    out = check_signal(output, sr_output, name="output")
    ref = resample(ref, sr_reference, analysis_sr)
    out = resample(out, sr_output, analysis_sr)
    ref = check_signal(ref, analysis_sr, name="reference", min_samples=s.n_fft, silence_dbfs=None)
    out = check_signal(out, analysis_sr, name="output", min_samples=s.n_fft, silence_dbfs=None)
    c_ref = _mel_cepstrum(ref, s, n_coeffs, gate_db)
    c_out = _mel_cepstrum(out, s, n_coeffs, gate_db)
    cells = c_ref.shape[0] * c_out.shape[0]
    if cells > _MAX_DTW_CELLS:
        raise AudioError(
            f"MCD: {c_ref.shape[0]} x {c_out.shape[0]} frames is too long for DTW; "
            "compare clips of under ~50 s."
        )
    import librosa

    _, path = librosa.sequence.dtw(X=c_ref.T, Y=c_out.T, metric="euclidean")
    diff = c_ref[path[:, 0]] - c_out[path[:, 1]]
    per_frame = (10.0 / math.log(10.0)) * np.sqrt(2.0 * np.sum(diff * diff, axis=1))
    return MelCepstralDistortion(
        value_db=float(per_frame.mean()),
        path_length=int(path.shape[0]),
        frames_reference=int(c_ref.shape[0]),
        frames_output=int(c_out.shape[0]),
        settings={
            "analysis_sr": analysis_sr,
            "mel": s.as_dict(),
            "coefficients": f"1..{n_coeffs} (c0 excluded)",
            "cepstrum": "DCT-II of ln mel magnitude / (2 n_mels)",
            "silence_gate_db": gate_db,
            "alignment": "DTW (librosa.sequence.dtw, euclidean)",
            "variant": "rvcqa log-mel MCD, not SPTK mcep",
        },
    )
