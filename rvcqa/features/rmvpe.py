"""RVC's RMVPE pitch network (the WebUI's default F0 method), loaded from the user's ``rmvpe.pt``.

RMVPE turns a 128-bin log-mel (16 kHz, n_fft 1024, hop 160, 30-8000 Hz, HTK mel, ln clamped at
1e-5) into a 360-bin pitch salience per 10 ms frame: a U-Net (5 encoder levels of residual conv
blocks with 2x2 average pooling, 4 intermediate levels, 5 transposed-conv decoder levels with skip
connections; 16..512 channels), a 3-channel conv, a bidirectional GRU (384 -> 2x256), a linear
layer to 360 bins and a sigmoid. Bin ``i`` is ``20 * i + 1997.38`` cents (re 10 Hz); F0 is the
salience-weighted mean of the cents within 4 bins of the peak, 0 where the peak is at most the
threshold (0.03 in RVC). The frames are zero-padded to a multiple of 32 before the network, as
RVC does (Applio reflects instead: ``pad_mode="reflect"``). Module and parameter names equal the keys RVC's
``infer/lib/rmvpe.py`` ``E2E(4, 1, (2, 2))`` saves, so the file loads strictly.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from rvcqa.checkpoint import describe_structure, load_pth
from rvcqa.features import F0_HOP, SAMPLE_RATE, FeatureModelError, as_wave16k, f0_frames, key_problems

N_MELS = 128
N_FFT = 1024
MEL_FMIN = 30.0
MEL_FMAX = 8000.0
LOG_CLAMP = 1e-5
N_BINS = 360
#: cents of bin 0 (re 10 Hz); bins are 20 cents apart.
CENTS_OFFSET = 1997.3794084376191
CENTS_PER_BIN = 20.0
#: RVC's voicing threshold on the peak salience.
THRESHOLD = 0.03
#: the U-Net halves time and frequency 5 times: frames are padded to a multiple of 32.
FRAME_MULTIPLE = 32
#: how the frames up to that multiple are filled: zeros in RVC (``mel2hidden``, 20240604 and
#: main), a reflection of the last frames in Applio (3.x ``RMVPE0Predictor.mel2hidden``).
PAD_MODES = ("constant", "reflect")
#: torch's reflect padding of n_fft/2 needs more samples than that.
MIN_SAMPLES = N_FFT // 2 + 1


# --------------------------------------------------------------------------- network

class ConvBlockRes(nn.Module):
    """Two 3x3 conv+BN+ReLU with a residual path (a 1x1 conv when the width changes)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
        )
        self.shortcut = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) + (self.shortcut(x) if self.shortcut is not None else x)


class ResEncoderBlock(nn.Module):
    """``n_blocks`` residual blocks; with ``pool`` also returns the 2x2-average-pooled output."""

    def __init__(self, c_in: int, c_out: int, n_blocks: int, pool: bool) -> None:
        super().__init__()
        self.conv = nn.ModuleList([ConvBlockRes(c_in, c_out)] + [ConvBlockRes(c_out, c_out) for _ in range(n_blocks - 1)])
        self.pool = nn.AvgPool2d(2) if pool else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.conv:
            x = block(x)
        return x


class Encoder(nn.Module):
    def __init__(self, c_in: int, levels: int, n_blocks: int, c_first: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(c_in)
        self.layers = nn.ModuleList()
        c_out = c_first
        for _ in range(levels):
            self.layers.append(ResEncoderBlock(c_in, c_out, n_blocks, pool=True))
            c_in, c_out = c_out, c_out * 2
        self.out_channels = c_out  # twice the last level's width (RVC's bookkeeping)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = self.bn(x)
        skips = []
        for layer in self.layers:
            x = layer(x)
            skips.append(x)
            assert isinstance(layer, ResEncoderBlock) and layer.pool is not None
            x = layer.pool(x)
        return x, skips


class Intermediate(nn.Module):
    def __init__(self, c_in: int, c_out: int, levels: int, n_blocks: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            ResEncoderBlock(c_in if i == 0 else c_out, c_out, n_blocks, pool=False) for i in range(levels)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class ResDecoderBlock(nn.Module):
    """2x transposed-conv upsampling, concatenation with the skip, then residual blocks."""

    def __init__(self, c_in: int, c_out: int, n_blocks: int) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(
            nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1, bias=False),
            nn.BatchNorm2d(c_out), nn.ReLU(),
        )
        self.conv2 = nn.ModuleList([ConvBlockRes(c_out * 2, c_out)] + [ConvBlockRes(c_out, c_out) for _ in range(n_blocks - 1)])

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = torch.cat((self.conv1(x), skip), dim=1)
        for block in self.conv2:
            x = block(x)
        return x


class Decoder(nn.Module):
    def __init__(self, c_in: int, levels: int, n_blocks: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList()
        for _ in range(levels):
            self.layers.append(ResDecoderBlock(c_in, c_in // 2, n_blocks))
            c_in //= 2

    def forward(self, x: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        for layer, skip in zip(self.layers, reversed(skips)):
            x = layer(x, skip)
        return x


class DeepUnet(nn.Module):
    def __init__(self, n_blocks: int = 4, levels: int = 5, inter_levels: int = 4, c_first: int = 16) -> None:
        super().__init__()
        self.encoder = Encoder(1, levels, n_blocks, c_first)
        top = self.encoder.out_channels
        self.intermediate = Intermediate(top // 2, top, inter_levels, n_blocks)
        self.decoder = Decoder(top, levels, n_blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, skips = self.encoder(x)
        return self.decoder(self.intermediate(x), skips)


class BiGRU(nn.Module):
    def __init__(self, n_in: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.gru = nn.GRU(n_in, hidden, num_layers=layers, batch_first=True, bidirectional=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gru(x)[0]


class E2E(nn.Module):
    """RVC's ``E2E(n_blocks=4, n_gru=1, kernel_size=(2, 2))``: log-mel ``[B, 128, T]`` (T a
    multiple of 32) -> salience ``[B, T, 360]`` in (0, 1)."""

    def __init__(self, n_blocks: int = 4, n_gru: int = 1, c_first: int = 16) -> None:
        super().__init__()
        self.unet = DeepUnet(n_blocks, c_first=c_first)
        self.cnn = nn.Conv2d(c_first, 3, 3, padding=1)
        # index 2 would be Dropout(0.25): identity at inference, and it has no weights
        self.fc = nn.Sequential(BiGRU(3 * N_MELS, 256, n_gru), nn.Linear(512, N_BINS), nn.Identity(), nn.Sigmoid())

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.unet(mel.transpose(-1, -2).unsqueeze(1))  # [B, 16, T, 128]
        x = self.cnn(x).transpose(1, 2).flatten(-2)  # [B, T, 3 * 128]
        return self.fc(x)


def build_e2e(device: str | torch.device = "cpu") -> E2E:
    """The network RVC builds; on ``"meta"`` it allocates nothing (for key/shape checks)."""
    with torch.device(device):
        return E2E().eval()


# --------------------------------------------------------------------------- mel + decoding

@lru_cache(maxsize=4)
def mel_basis(device: str = "cpu") -> torch.Tensor:
    """librosa's HTK-scale, Slaney-normalised filterbank that RMVPE was trained with."""
    import librosa

    fb = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=MEL_FMIN, fmax=MEL_FMAX, htk=True)
    return torch.from_numpy(fb).float().to(device)


def log_mel(wav: torch.Tensor) -> torch.Tensor:
    """``[B, N]`` 16 kHz -> ``[B, 128, N // 160 + 1]``: centred (reflect-padded) Hann STFT
    magnitude, HTK mel, ln(max(., 1e-5)). Same values as RVC's conv-based STFT."""
    window = torch.hann_window(N_FFT, periodic=True, device=wav.device)
    spec = torch.stft(wav, N_FFT, hop_length=F0_HOP, win_length=N_FFT, window=window, center=True,
                      pad_mode="reflect", return_complex=True)
    mel = torch.matmul(mel_basis(str(wav.device)), spec.abs())
    return torch.log(torch.clamp(mel, min=LOG_CLAMP))


def bin_cents() -> np.ndarray:
    """Cents (re 10 Hz) of the 360 salience bins: ``20 * i + 1997.38`` (31.7 Hz .. 2005.5 Hz)."""
    return CENTS_PER_BIN * np.arange(N_BINS) + CENTS_OFFSET


def decode_salience(salience: np.ndarray, threshold: float = THRESHOLD) -> np.ndarray:
    """``[T, 360]`` salience -> F0 in Hz (0 = unvoiced), as RVC's ``to_local_average_cents``.

    Weighted mean of the cents of the 9 bins around each frame's peak (bins past either end
    count with zero weight), ``f0 = 10 * 2 ** (cents / 1200)``; frames whose peak is at most
    ``threshold`` are unvoiced.
    """
    sal = np.asarray(salience, dtype=np.float64)
    if sal.ndim != 2 or sal.shape[1] != N_BINS:
        raise ValueError(f"salience must be [frames, {N_BINS}], got {sal.shape}")
    if sal.shape[0] == 0:
        return np.zeros(0)
    center = np.argmax(sal, axis=1)
    idx = center[:, None] + np.arange(-4, 5)[None, :]
    inside = (idx >= 0) & (idx < N_BINS)
    idx_c = np.clip(idx, 0, N_BINS - 1)
    weights = np.where(inside, np.take_along_axis(sal, idx_c, axis=1), 0.0)
    cents_win = np.where(inside, bin_cents()[idx_c], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        cents = (weights * cents_win).sum(axis=1) / weights.sum(axis=1)
    cents[~(sal.max(axis=1) > threshold)] = 0.0
    cents = np.nan_to_num(cents, nan=0.0)
    f0 = 10.0 * 2.0 ** (cents / 1200.0)
    f0[cents == 0.0] = 0.0
    return f0


def pad_frames(mel: torch.Tensor, mode: str = "constant") -> torch.Tensor:
    """Pad ``[B, 128, T]`` on the right to a multiple of 32 frames, as ``mel2hidden`` does.

    ``"constant"`` (RVC) appends zeros, ln-mel 0 being a loud frame, not silence; ``"reflect"``
    (Applio) mirrors the last frames, and where a clip has too few frames to mirror (under about
    0.3 s, where Applio itself fails) the last frame is repeated.
    """
    n = mel.shape[-1]
    pad = FRAME_MULTIPLE * ((n - 1) // FRAME_MULTIPLE + 1) - n
    if pad == 0:
        return mel
    if mode == "constant":
        return F.pad(mel, (0, pad), mode="constant", value=0.0)
    return F.pad(mel, (0, pad), mode="reflect" if pad < n else "replicate")


# --------------------------------------------------------------------------- public model

@dataclass
class RmvpeModel:
    """RMVPE with RVC's front end and decoding; ``.f0`` gives Hz at 100 frames/s."""

    net: E2E
    path: Path | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    pad_mode: str = "constant"

    def __post_init__(self) -> None:
        if self.pad_mode not in PAD_MODES:
            raise ValueError(f"pad_mode must be one of {', '.join(PAD_MODES)}, got {self.pad_mode!r}")

    def mel(self, wav16k: np.ndarray | torch.Tensor) -> np.ndarray:
        """The 128-bin log-mel RMVPE sees, ``[128, N // 160 + 1]``."""
        y = as_wave16k(wav16k, name="RMVPE input", min_samples=MIN_SAMPLES)
        with torch.inference_mode():
            return log_mel(torch.from_numpy(y).to(self.device)[None])[0].cpu().numpy()

    def salience(self, wav16k: np.ndarray | torch.Tensor) -> np.ndarray:
        """Per-frame pitch salience ``[N // 160 + 1, 360]`` in (0, 1)."""
        y = as_wave16k(wav16k, name="RMVPE input", min_samples=MIN_SAMPLES)
        with torch.inference_mode():
            mel = log_mel(torch.from_numpy(y).to(self.device)[None])
            hidden = self.net(pad_frames(mel, self.pad_mode))[:, : mel.shape[-1]]
        out = hidden[0].float().cpu().numpy()
        assert out.shape[0] == f0_frames(y.size)
        return out

    def f0(self, wav16k: np.ndarray | torch.Tensor, threshold: float = THRESHOLD) -> np.ndarray:
        """F0 in Hz (0 = unvoiced) at 100 frames/s: ``N // 160 + 1`` frames, like RVC's."""
        return decode_salience(self.salience(wav16k), threshold)

    def describe(self) -> str:
        return f"RMVPE from {self.path or 'in-memory weights'} (threshold {THRESHOLD} unless given)"


def load_rmvpe(path: str | os.PathLike[str], device: str | torch.device = "cpu", *,
               pad_mode: str = "constant") -> RmvpeModel:
    """Load the user's ``rmvpe.pt`` (a plain state dict) safely and strictly.

    Raises :class:`~rvcqa.errors.CheckpointError` for missing/damaged/unsafe files and
    :class:`~rvcqa.features.FeatureModelError` naming missing/unexpected keys or wrong shapes.
    """
    p = Path(path)
    obj = load_pth(p)
    state = _state_dict(p, obj)
    return model_from_state(state, path=p, device=device, pad_mode=pad_mode)


def model_from_state(state: Mapping[str, torch.Tensor], *, path: Path | None = None,
                     device: str | torch.device = "cpu", pad_mode: str = "constant") -> RmvpeModel:
    """Assign an RMVPE state dict (strict; names and shapes checked first) into a new network."""
    where = str(path) if path else "RMVPE weights"
    net = build_e2e("meta")
    expected = net.state_dict()
    problems = key_problems(state, expected, optional=("num_batches_tracked",))
    if problems:
        raise FeatureModelError(f"{where}: does not fit RVC's RMVPE (E2E(4, 1, (2, 2))): {problems}. "
                                "Use RVC's assets/rmvpe/rmvpe.pt.")
    dev = torch.device(device)
    weights = {k: v.detach().to(device=dev, dtype=torch.float32 if v.is_floating_point() else v.dtype)
               for k, v in state.items()}
    for key in expected:  # BatchNorm step counters: unused at inference, absent from some files
        if key.endswith("num_batches_tracked"):
            weights.setdefault(key, torch.zeros((), dtype=torch.long, device=dev))
    net.load_state_dict(weights, strict=True, assign=True)
    return RmvpeModel(net=net.eval(), path=path, device=dev, pad_mode=pad_mode)


def _state_dict(path: Path, obj: Any) -> Mapping[str, torch.Tensor]:
    if isinstance(obj, Mapping):
        for wrapper in ("model", "state_dict"):
            if isinstance(obj.get(wrapper), Mapping) and len(obj) <= 3:
                obj = obj[wrapper]
                break
    if isinstance(obj, Mapping) and obj and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                 for k, v in obj.items()):
        if any(k.startswith("feature_extractor.") for k in obj):
            raise FeatureModelError(f"{path}: this is a HuBERT/content model, not RMVPE's rmvpe.pt")
        return obj
    if isinstance(obj, Mapping) and "weight" in obj and "config" in obj:
        raise FeatureModelError(f"{path}: this is an RVC voice model, not the RMVPE pitch model (rmvpe.pt)")
    raise FeatureModelError(f"{path}: {describe_structure(obj)}; RVC's rmvpe.pt is a plain state dict "
                            "of the RMVPE network's tensors")


__all__ = [
    "E2E",
    "RmvpeModel",
    "THRESHOLD",
    "bin_cents",
    "build_e2e",
    "decode_salience",
    "load_rmvpe",
    "log_mel",
    "model_from_state",
    "pad_frames",
]
