"""Voice conversion with RVC's pipeline semantics: audio -> features -> synthesizer -> audio.

Follows RVC-WebUI's ``infer/modules/vc/pipeline.py`` (RVC_FORMATS 5.1-5.5) step by step, with the
fp32 window settings RVC uses on CPU (and Applio everywhere). Which upstream each step follows
(compared against that code's own output in tests/test_conformance_pipeline.py and test_convert.py):

1. read the input, mono, 16 kHz (:func:`load_input`); divide by ``peak / 0.95`` when that exceeds 1;
   zero-phase 48 Hz high-pass (Butterworth order 5, ``filtfilt``) (:func:`prepare_input`):
   RVC-WebUI 20240604 ``vc_single`` + ``Pipeline.pipeline``, identical in Applio 3.x;
2. audio longer than ``t_max`` (41 s) is cut at quiet points: every ``t_center`` (38 s), the
   10 ms window with the least absolute sum within +-``t_query`` (6 s) (:func:`split_points`):
   RVC-WebUI 20240604; ``flavour="applio"``: Applio 3.x's signed-sum variant;
3. reflect-pad by ``t_pad`` (1 s) each side; F0 once over the padded signal (RMVPE when an
   ``rmvpe.pt`` is given, else the settings' method), truncated to ``len // 160`` frames, times
   ``2 ** (transpose / 12)``, mapped to coarse pitch (``Pipeline.get_f0``, RVC-WebUI 20240604 =
   Applio 3.x); harvest median-filtered when ``filter_radius > 2`` (RVC-WebUI 20240604; Applio has
   no harvest); RMVPE's frames zero-padded to 32 (RVC-WebUI 20240604 and main) or reflected
   (``flavour="applio"``, Applio 3.x);
4. per chunk: content features (HuBERT: layer 9 + ``final_proj`` for v1, layer 12 for v2, RVC-WebUI
   20240604; :class:`~rvcqa.features.hubert.HubertContentModel` with ``trainer="applio"``: Applio 3.x's last layer, + ``final_proj``
   for v1; or a declared stand-in), index retrieval (faiss, k=8, weights (1/d)^2, ``index_rate``) when an index
   is available, nearest x2 upsampling, truncation to ``p_len = min(chunk // 160, frames)``,
   ``protect`` on unvoiced frames, inference, and the output trimmed by ``t_pad_tgt`` each side;
   chunks concatenated (``Pipeline.vc``, RVC-WebUI 20240604; Applio 3.x ``voice_conversion`` is
   the same arithmetic);
5. ``rms_mix_rate`` < 1: RVC-WebUI 20240604 ``change_rms`` (= Applio 3.x) (:func:`rms_mix`);
   ``resample_sr``: RVC-WebUI 20240604's ``librosa.resample`` (:func:`resample_output`).

Deliberate choices (documented in :class:`PipelineSettings`): ``rms_mix_rate`` defaults to 1
(off) because the gate judges the model's own output, not a mix of its envelope with the input's;
the prior noise is RVC's 0.66666 drawn from a seeded generator, so a conversion is reproducible;
the output stays float and unscaled (RVC's writer would divide by ``peak / 0.99`` when the peak
exceeds 0.99 and write int16, Applio's divides the float the same way; we report the raw level
instead of hiding it).
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from rvcqa.content import (
    CONTENT_DECLARATION,
    NEEDS_HUBERT,
    ContentModel,
    content_model_for,
    describe_model,
)
from rvcqa.errors import AudioError, RvcqaError
from rvcqa.outputs import write_wav
from rvcqa.progress import Progress, run_each
from rvcqa.retrieval import Retrieval, load_index, retrieve

log = logging.getLogger("rvcqa.convert")


SAMPLE_RATE = 16000


WINDOW = 160  # samples per F0 frame at 16 kHz (10 ms)


AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff")
#: whose pipeline to follow where RVC-WebUI and Applio differ
FLAVOURS = ("rvc", "applio")


@dataclass(frozen=True)
class PipelineSettings:
    """RVC's conversion settings. Defaults: the WebUI's, except where noted.

    - ``x_pad/x_query/x_center/x_max``: RVC's fp32 row (1, 6, 38, 41 s), used on CPU and by Applio.
    - ``index_rate`` 0.75, ``protect`` 0.33, ``speaker_id`` 0, transpose 0: the WebUI defaults.
    - ``rms_mix_rate`` 1.0 (WebUI: 0.25): 1 means the output keeps its own loudness envelope.
      The gate judges the model; mixing in the input's envelope would partly mask a model whose
      output level is wrong and changes what RMS/peak checks measure.
    - ``noise_scale`` RVC's 0.66666, drawn from ``torch.Generator().manual_seed(seed)``, and the
      NSF source noise on, as in RVC; ``noise_scale=0, source_noise=False`` is fully deterministic.
    - ``filter_radius`` 3 (WebUI): above 2 harvest's F0 is median-filtered (3 frames); other
      methods ignore it, as in RVC.
    - ``resample_sr`` 0 (WebUI): off; a rate >= 16000 other than the model's resamples the output.
    - ``flavour`` ``"rvc"`` or ``"applio"``: Applio's split points (see :func:`split_points`) and
      RMVPE frame padding; its embedder convention is ``HubertContentModel(trainer="applio")``.
      Applio's other defaults (``convert_audio``): RMVPE at threshold 0.03 (pass ``rmvpe``), windows
      (1, 6, 38, 41) s (its config's row for all but GPUs of 4 GB or less, which get
      (1, 5, 30, 32)), ``index_rate`` 0.75, ``volume_envelope`` (our ``rms_mix_rate``) 1 and
      ``protect`` 0.5, i.e. off: :meth:`applio` gives those.
    """

    transpose: float = 0.0
    f0_method: str = "pyin"
    index_rate: float = 0.75
    protect: float = 0.33
    rms_mix_rate: float = 1.0
    x_pad: float = 1.0
    x_query: float = 6.0
    x_center: float = 38.0
    x_max: float = 41.0
    speaker_id: int = 0
    noise_scale: float = 0.66666
    source_noise: bool = True
    seed: int = 1234
    retrieval_k: int = 8
    filter_radius: int = 3
    resample_sr: int = 0
    flavour: str = "rvc"

    def __post_init__(self) -> None:
        if self.flavour not in FLAVOURS:
            raise RvcqaError(f"pipeline flavour must be one of {', '.join(FLAVOURS)}, got {self.flavour!r}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def applio(cls, **overrides: Any) -> "PipelineSettings":
        """Applio 3.x's ``convert_audio`` defaults: its pipeline, ``protect`` 0.5 (off), RMS mix off."""
        values: dict[str, Any] = {"flavour": "applio", "protect": 0.5, "rms_mix_rate": 1.0}
        values.update(overrides)
        return cls(**values)


@dataclass
class Conversion:
    """One converted input: the model's input (16 kHz, prepared) and output (model rate)."""

    source: Optional[Path]
    input16k: np.ndarray
    output: np.ndarray
    sample_rate: int
    f0_hz: np.ndarray  # transposed F0 fed to the model (padded signal, 100 frames/s)
    chunks: int
    seconds: float
    output_path: Optional[Path] = None
    notes: list[str] = field(default_factory=list)

    @property
    def real_time_factor(self) -> float:
        dur = self.input16k.size / SAMPLE_RATE
        return self.seconds / dur if dur else float("inf")


def bundled_reference_audio() -> list[Path]:
    """The default clips converted when no ``--reference-audio`` is given (see ATTRIBUTION.md)."""
    folder = Path(__file__).resolve().parent / "data" / "reference_audio"
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)


def expand_inputs(paths: Sequence[Path | str] | None) -> list[Path]:
    """Files as given, folders expanded to their audio files (sorted); none -> bundled clips."""
    if not paths:
        return bundled_reference_audio()
    out: list[Path] = []
    for raw in paths:
        p = Path(raw).expanduser()
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                raise AudioError(f"--reference-audio {p}: no audio files ({', '.join(AUDIO_SUFFIXES)}) in this folder")
            out.extend(found)
        elif p.exists():
            out.append(p)
        else:
            raise AudioError(f"--reference-audio {p}: no such file or folder")
    return out


def load_input(path: Path | str) -> np.ndarray:
    """Decode to mono float32 at 16 kHz (RVC decodes with ffmpeg to the same)."""
    from rvcqa.audio import load_audio

    y, _ = load_audio(path, sr=SAMPLE_RATE)
    return y


def prepare_input(y16k: np.ndarray) -> np.ndarray:
    """RVC 5.1: scale down by ``peak / 0.95`` if > 1, then 48 Hz high-pass (order 5, filtfilt)."""
    from scipy import signal

    from rvcqa.audio import ensure_finite, to_float32

    y = to_float32(y16k, name="input")
    ensure_finite(y, name="input")
    if y.size == 0:
        raise AudioError("input: the audio is empty (0 samples).")
    y = y.astype(np.float64)
    audio_max = float(np.abs(y).max()) / 0.95
    if audio_max > 1:
        y = y / audio_max
    b, a = signal.butter(N=5, Wn=48, btype="high", fs=SAMPLE_RATE)
    if y.size <= 3 * max(len(a), len(b)):
        raise AudioError(f"input: too short for RVC's high-pass filter ({y.size} samples at 16 kHz)")
    return np.ascontiguousarray(signal.filtfilt(b, a, y), dtype=np.float32)


def split_points(audio: np.ndarray, settings: PipelineSettings) -> list[int]:
    """RVC's cut points for audio longer than ``t_max``: the quietest 10 ms near every ``t_center``.

    RVC sums absolute values over each 10 ms window; Applio (3.x) sums the signed samples and
    takes the smallest magnitude of that sum, which favours windows that average to zero.
    """
    t_query = int(SAMPLE_RATE * settings.x_query)
    t_center = int(SAMPLE_RATE * settings.x_center)
    t_max = int(SAMPLE_RATE * settings.x_max)
    half = WINDOW // 2
    audio_pad = np.pad(audio, (half, half), mode="reflect")
    if audio_pad.shape[0] <= t_max:
        return []
    # audio_sum[n] = sum_{i < WINDOW} |audio_pad[n + i]| for n < len(audio)
    x = audio_pad.astype(np.float64)
    if settings.flavour == "rvc":
        x = np.abs(x)
    audio_sum = np.convolve(x, np.ones(WINDOW), mode="valid")[: audio.shape[0]]
    opt_ts = []
    for t in range(t_center, audio.shape[0], t_center):
        seg = np.abs(audio_sum[t - t_query : t + t_query])
        opt_ts.append(t - t_query + int(np.flatnonzero(seg == seg.min())[0]))
    return opt_ts


def f0_for(audio_pad: np.ndarray, settings: PipelineSettings, rmvpe: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """(coarse pitch int64, transposed F0 Hz float32), ``len(audio_pad) // 160`` frames."""
    from rvcqa.features.f0 import coarse_pitch, extract_f0, transpose

    p_len = audio_pad.shape[0] // WINDOW
    if rmvpe is not None:
        f0 = extract_f0(audio_pad, method="rmvpe", rmvpe=rmvpe)
    else:
        f0 = extract_f0(audio_pad, method=settings.f0_method, filter_radius=settings.filter_radius)
    f0 = np.asarray(f0, dtype=np.float64).reshape(-1)
    if f0.size < p_len:
        f0 = np.pad(f0, (0, p_len - f0.size))
    f0 = f0[:p_len]
    if settings.transpose:
        f0 = np.asarray(transpose(f0, settings.transpose), dtype=np.float64)
    coarse = np.asarray(coarse_pitch(f0)).astype(np.int64)
    return coarse, f0.astype(np.float32)


class Converter:
    """RVC's pipeline around one loaded synthesizer. Reuse it for several inputs."""

    def __init__(
        self,
        synth: Any,
        content: Optional[ContentModel],
        *,
        settings: PipelineSettings = PipelineSettings(),
        rmvpe: Any = None,
        retrieval: Optional[Retrieval] = None,
    ) -> None:
        self.synth = synth
        self.content = content
        self.settings = settings
        self.rmvpe = _padded_like(rmvpe, settings.flavour)
        self.retrieval = retrieval
        self.model_rate = int(synth.sample_rate)
        rs = int(settings.resample_sr)
        self.sample_rate = rs if self.model_rate != rs >= SAMPLE_RATE else self.model_rate
        self.f0_model = bool(getattr(synth, "f0", True))
        if content is None:
            raise RvcqaError(f"conversion {NEEDS_HUBERT}")

    @property
    def t_pad(self) -> int:
        return int(SAMPLE_RATE * self.settings.x_pad)

    @property
    def t_pad_tgt(self) -> int:
        return int(self.model_rate * self.settings.x_pad)

    def describe(self) -> dict[str, Any]:
        return {
            "content": describe_model(self.content),
            "f0": (self.rmvpe.describe() if self.rmvpe is not None and hasattr(self.rmvpe, "describe")
                   else ("rmvpe" if self.rmvpe is not None else self.settings.f0_method))
            if self.f0_model else "none (nof0 model)",
            "index": str(self.retrieval.path.name) if self.retrieval and self.retrieval.path else None,
            "settings": self.settings.as_dict(),
        }

    def convert(self, y16k: np.ndarray, *, source: Optional[Path] = None, prepared: bool = False) -> Conversion:
        """Convert 16 kHz mono audio (``prepared``: already normalised and high-passed)."""
        import torch

        s = self.settings
        audio = y16k if prepared else prepare_input(y16k)
        if audio.size < WINDOW * 25:
            raise AudioError(f"{source or 'input'}: too short to convert: {audio.size / SAMPLE_RATE:.2f} s (need 0.25 s)")
        t0 = time.perf_counter()
        cuts = split_points(audio, s)
        t_pad, t_pad_tgt = self.t_pad, self.t_pad_tgt
        t_pad2 = 2 * t_pad
        audio_pad = np.pad(audio, (t_pad, t_pad), mode="reflect")
        pitch: Optional[np.ndarray] = None
        pitchf: Optional[np.ndarray] = None
        if self.f0_model:
            pitch, pitchf = f0_for(audio_pad, s, self.rmvpe)
        generator = torch.Generator(device="cpu").manual_seed(int(s.seed))
        pieces: list[np.ndarray] = []
        start = 0
        last = None
        for t in cuts:
            t = t // WINDOW * WINDOW
            chunk = audio_pad[start : t + t_pad2 + WINDOW]
            sl = slice(start // WINDOW, (t + t_pad2) // WINDOW)
            pieces.append(self._vc(chunk, _sl(pitch, sl), _sl(pitchf, sl), generator)[t_pad_tgt:-t_pad_tgt])
            start = last = t
        tail = audio_pad[last:] if last is not None else audio_pad
        sl = slice(last // WINDOW if last is not None else 0, None)
        pieces.append(self._vc(tail, _sl(pitch, sl), _sl(pitchf, sl), generator)[t_pad_tgt:-t_pad_tgt])
        out = np.concatenate(pieces).astype(np.float32)
        if s.rms_mix_rate != 1:
            out = rms_mix(audio, out, self.model_rate, s.rms_mix_rate)
        if self.sample_rate != self.model_rate:
            out = resample_output(out, self.model_rate, self.sample_rate)
        seconds = time.perf_counter() - t0
        return Conversion(
            source=Path(source) if source is not None else None,
            input16k=audio,
            output=out,
            sample_rate=self.sample_rate,
            f0_hz=pitchf if pitchf is not None else np.zeros(0, np.float32),
            chunks=len(pieces),
            seconds=seconds,
        )

    def _vc(self, chunk: np.ndarray, pitch: Optional[np.ndarray], pitchf: Optional[np.ndarray], generator: Any) -> np.ndarray:
        """RVC's ``Pipeline.vc`` on one padded chunk: audio at the model rate, untrimmed."""
        import torch

        s = self.settings
        assert self.content is not None
        feats = np.asarray(self.content.features(chunk), dtype=np.float32)
        if feats.ndim != 2 or feats.shape[0] == 0:
            raise AudioError(f"content features of a {chunk.size / SAMPLE_RATE:.2f} s chunk are empty: input too short")
        protect = self.f0_model and s.protect < 0.5
        feats0 = feats.copy() if protect else None
        if self.retrieval is not None and s.index_rate != 0:
            feats = retrieve(feats, self.retrieval, s.index_rate, s.retrieval_k)
        feats = np.repeat(feats, 2, axis=0)  # F.interpolate(scale_factor=2), nearest
        if feats0 is not None:
            feats0 = np.repeat(feats0, 2, axis=0)
        p_len = min(chunk.shape[0] // WINDOW, feats.shape[0])
        if pitch is not None and pitchf is not None:
            p_len = min(p_len, pitch.shape[0])
            pitch, pitchf = pitch[:p_len], pitchf[:p_len]
        feats = feats[:p_len]
        if feats0 is not None and pitchf is not None:
            m = np.where(pitchf > 0, 1.0, s.protect).astype(np.float32)
            m[pitchf < 1] = s.protect
            feats = feats * m[:, None] + feats0[:p_len] * (1.0 - m[:, None])
        audio = self.synth.infer(
            torch.from_numpy(np.ascontiguousarray(feats, dtype=np.float32))[None],
            torch.tensor([p_len], dtype=torch.long),
            torch.from_numpy(pitch)[None] if pitch is not None else None,
            torch.from_numpy(pitchf)[None] if pitchf is not None else None,
            torch.tensor([s.speaker_id], dtype=torch.long),
            noise_scale=s.noise_scale,
            generator=generator,
            source_noise=s.source_noise,
        )
        return np.asarray(audio.detach().float().cpu().numpy(), dtype=np.float32).reshape(-1)


def _padded_like(rmvpe: Any, flavour: str) -> Any:
    """Applio reflects RMVPE's frame padding where RVC zero-pads; a loaded model follows the flavour."""
    if rmvpe is None or not hasattr(rmvpe, "pad_mode"):
        return rmvpe
    import dataclasses

    return dataclasses.replace(rmvpe, pad_mode="reflect" if flavour == "applio" else "constant")


def resample_output(out: np.ndarray, sr: int, target_sr: int) -> np.ndarray:
    """RVC 5.5 ``resample_sr``: ``librosa.resample`` with librosa >= 0.10's default (soxr_hq).

    RVC-WebUI 20240604 pins librosa 0.9.1, whose default was resampy's kaiser_best (not
    reproduced sample for sample). Applio 3.x only relabels the file's rate, so its audio plays at
    the wrong speed; that is not reproduced either.
    """
    import librosa

    return np.asarray(librosa.resample(out, orig_sr=sr, target_sr=target_sr, res_type="soxr_hq"), dtype=np.float32)


def _sl(arr: Optional[np.ndarray], sl: slice) -> Optional[np.ndarray]:
    return None if arr is None else arr[sl]


def rms_mix(input16k: np.ndarray, output: np.ndarray, sr: int, rate: float) -> np.ndarray:
    """RVC 5.5 RMS mix: ``out *= rms_in^(1-rate) * rms_out^(rate-1)`` on 0.5 s RMS envelopes.

    Both envelopes are stretched to the output's length as RVC's ``change_rms`` does (RVC-WebUI
    20240604, Applio 3.x): ``F.interpolate(mode="linear")``, half-sample aligned
    (:func:`stretch_linear`), not end to end.
    """
    import librosa

    def envelope(y: np.ndarray, rate_hz: int) -> np.ndarray:
        frame = rate_hz // 2 * 2
        r = librosa.feature.rms(y=y, frame_length=frame, hop_length=rate_hz // 2)[0]
        return stretch_linear(r, output.shape[0])

    rms_in = envelope(input16k, SAMPLE_RATE)
    rms_out = np.maximum(envelope(output, sr), 1e-6)
    gain = np.power(rms_in, 1 - rate) * np.power(rms_out, rate - 1)
    return np.asarray(output * gain, dtype=np.float32)


def stretch_linear(values: np.ndarray, size: int) -> np.ndarray:
    """``torch.nn.functional.interpolate(mode="linear", align_corners=False)`` of a 1-D array.

    Output sample ``i`` reads the input at ``(i + 0.5) * n / size - 0.5`` (clamped at 0 and at the
    last value), so each input value sits at the centre of the stretch it covers.
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size == 1 or size == 0:
        return np.full(size, v[0] if v.size else 0.0)
    src = np.maximum((np.arange(size) + 0.5) * (v.size / size) - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(np.int64), v.size - 1)
    hi = np.minimum(lo + 1, v.size - 1)
    frac = src - lo
    return np.asarray(v[lo] * (1.0 - frac) + v[hi] * frac, dtype=np.float64)


def convert_files(
    converter: Converter,
    inputs: Sequence[Path],
    *,
    out_dir: Optional[Path] = None,
    progress: Optional[Progress] = None,
) -> tuple[list[Conversion], dict[str, str]]:
    """Convert each file; write ``out_dir/{stem}.wav`` (float WAV at the model rate).

    Returns the conversions and, for inputs that could not be converted (unreadable, silent,
    too short), ``{path: reason}``.
    """
    from rvcqa.audio import check_signal

    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    suffix = f"_{int(converter.settings.transpose):+d}st" if converter.settings.transpose else ""

    def prepare(path: Path) -> Conversion:
        y = load_input(path)
        check_signal(y, SAMPLE_RATE, name=str(path))
        return converter.convert(y, source=Path(path))

    def finish(path: Path, conv: Conversion) -> tuple[Conversion, str]:
        if out_dir is not None:
            conv.output_path = write_wav(Path(out_dir) / f"{Path(path).stem}{suffix}.wav", conv.output, conv.sample_rate)
        line = (f"{conv.input16k.size / SAMPLE_RATE:.2f} s in {conv.seconds:.2f} s (RTF {conv.real_time_factor:.2f})"
                + (f" -> {conv.output_path}" if conv.output_path else ""))
        return conv, line

    return run_each(inputs, "conversion", key=str, name=lambda p: Path(p).name, prepare=prepare, finish=finish,
                    log=log, progress=progress)


#: re-exported for callers that build a conversion from this module alone (quality_tests/test_speed.py)
__all__ = [
    "CONTENT_DECLARATION", "FLAVOURS", "NEEDS_HUBERT", "AUDIO_SUFFIXES", "SAMPLE_RATE", "WINDOW", "ContentModel",
    "Conversion", "Converter", "PipelineSettings", "Retrieval", "bundled_reference_audio",
    "content_model_for", "convert_files", "expand_inputs", "f0_for", "load_index", "load_input", "prepare_input",
    "resample_output", "retrieve", "rms_mix", "split_points", "stretch_linear",
]
