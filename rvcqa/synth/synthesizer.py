"""The whole RVC synthesizer (``SynthesizerTrnMs{256,768}NSFsid[_nono]``) and its inference.

One class covers v1/v2, f0/no-f0 and the three decoders ("vocoders") Applio trains: only the
phone width, the pitch embedding and the decoder differ. Submodule names equal RVC's and
Applio's so ``state_dict()`` keys do.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence, Union

import torch
from torch import nn

from rvcqa.synth.config import SynthConfig
from rvcqa.synth.encoders import PosteriorEncoder, TextEncoder
from rvcqa.synth.flow import CouplingFlow
from rvcqa.synth.generator import Decoder
from rvcqa.synth.layers import embedding, fold_weight_norm
from rvcqa.synth.mrf import MRFDecoder
from rvcqa.synth.noise import randn_like
from rvcqa.synth.refinegan import RefineGANDecoder
from rvcqa.synth.vocoders import HIFIGAN, MRF_HIFIGAN, REFINEGAN, check_vocoder

PHONE_DIMS = {"v1": 256, "v2": 768}
RVC_NOISE_SCALE = 0.66666  # the prior temperature hard-coded in RVC's infer()

# Output values per decoder chunk (per stage). On CPU ~4 MB of fp32 keeps HiFi-GAN's working set
# in cache, so cost per second of audio stays flat; a GPU prefers big launches and only needs
# chunks to bound memory on very long inputs.
CPU_CHUNK_ELEMENTS = 1 << 20
CUDA_CHUNK_ELEMENTS = 1 << 26
# Frames decoded per outer span (bounds intermediate-stage memory for very long inputs).
CPU_SPAN_FRAMES = 1000
CUDA_SPAN_FRAMES = 6000


def phone_dim(version: str) -> int:
    """Content-feature width for a model version: 256 (v1) or 768 (v2)."""
    try:
        return PHONE_DIMS[version]
    except KeyError:
        raise ValueError(f"unknown RVC version {version!r}: expected 'v1' or 'v2'") from None


def _decoder(cfg: SynthConfig, vocoder: str, f0: bool) -> Union[Decoder, MRFDecoder, RefineGANDecoder]:
    """The decoder network Applio/RVC build for ``vocoder`` from the config's decoder fields."""
    if vocoder == MRF_HIFIGAN:
        return MRFDecoder(
            cfg.inter_channels,
            cfg.upsample_initial_channel,
            cfg.upsample_rates,
            cfg.upsample_kernel_sizes,
            cfg.resblock_kernel_sizes,
            cfg.resblock_dilation_sizes,
            cfg.gin_channels,
            cfg.sr,
        )
    if vocoder == REFINEGAN:
        return RefineGANDecoder(cfg.inter_channels, cfg.upsample_rates, cfg.sr)
    return Decoder(
        cfg.inter_channels,
        cfg.resblock,
        cfg.resblock_kernel_sizes,
        cfg.resblock_dilation_sizes,
        cfg.upsample_rates,
        cfg.upsample_initial_channel,
        cfg.upsample_kernel_sizes,
        gin_channels=cfg.gin_channels,
        sample_rate=cfg.sr if f0 else None,
    )


class Synthesizer(nn.Module):
    """RVC's generator network: ``enc_p``, ``dec``, ``enc_q`` (optional), ``flow``, ``emb_g``.

    Build with :func:`rvcqa.synth.build_synthesizer` (untrained) or load trained weights with
    :func:`rvcqa.synth.load_synthesizer`. Dropout (``p_dropout``) only matters in training and
    is not modelled.
    """

    def __init__(
        self,
        config: Union[Sequence[Any], SynthConfig],
        version: str = "v2",
        f0: bool = True,
        posterior: bool = True,
        vocoder: str = HIFIGAN,
    ) -> None:
        super().__init__()
        cfg = SynthConfig.from_list(config)
        self.config = cfg
        self.version = version
        self.f0 = bool(f0)
        self.vocoder = check_vocoder(vocoder, self.f0)
        self.sample_rate = cfg.sr
        self.hop = cfg.hop
        self.enc_p = TextEncoder(
            phone_dim(version),
            cfg.inter_channels,
            cfg.hidden_channels,
            cfg.filter_channels,
            cfg.n_heads,
            cfg.n_layers,
            cfg.kernel_size,
            f0=self.f0,
        )
        self.dec: Union[Decoder, MRFDecoder, RefineGANDecoder] = _decoder(cfg, self.vocoder, self.f0)
        self.enc_q: Optional[PosteriorEncoder] = None
        if posterior:
            self.enc_q = PosteriorEncoder(
                cfg.spec_channels, cfg.inter_channels, cfg.hidden_channels, 5, 1, 16, cfg.gin_channels
            )
        self.flow = CouplingFlow(cfg.inter_channels, cfg.hidden_channels, 5, 1, 3, 4, cfg.gin_channels)
        self.emb_g = embedding(cfg.spk_embed_dim, cfg.gin_channels)
        # Set by load_synthesizer: where the weights came from and what loading adjusted.
        self.source_label: Optional[str] = None
        self.load_notes: list[str] = []
        self.extra: dict[str, Any] = {}

    # -- conversions -------------------------------------------------------------------------

    def drop_posterior(self) -> "Synthesizer":
        """Remove ``enc_q`` (inference files do not carry it)."""
        self.enc_q = None
        return self

    def fold_weight_norm(self) -> int:
        """Turn every ``weight_g``/``weight_v`` pair into a plain ``weight`` (inference only)."""
        return fold_weight_norm(self)

    @property
    def dtype(self) -> torch.dtype:
        return self.emb_g.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.emb_g.weight.device

    # -- inference ---------------------------------------------------------------------------

    def _check_inputs(
        self,
        phone: torch.Tensor,
        phone_lengths: torch.Tensor,
        pitch: Optional[torch.Tensor],
        nsff0: Optional[torch.Tensor],
        sid: torch.Tensor,
    ) -> None:
        if phone.dim() != 3 or phone.shape[-1] != self.enc_p.emb_phone.in_features:
            raise ValueError(
                f"phone must be [B, T, {self.enc_p.emb_phone.in_features}] for a {self.version} model, "
                f"got {list(phone.shape)}"
            )
        b, t = phone.shape[:2]
        if phone_lengths.shape != (b,):
            raise ValueError(f"phone_lengths must be [B]={b}, got {list(phone_lengths.shape)}")
        if b and (int(phone_lengths.max()) > t or int(phone_lengths.min()) < 1):
            raise ValueError(f"phone_lengths must lie in 1..T={t}, got {phone_lengths.tolist()}")
        if sid.shape != (b,) and sid.shape != (1,):
            raise ValueError(f"sid must be [B]={b}, got {list(sid.shape)}")
        if self.f0:
            if pitch is None or nsff0 is None:
                raise ValueError("this is an f0 model: pass coarse pitch [B, T] and nsff0 [B, T] (Hz)")
            for name, arr in (("pitch", pitch), ("nsff0", nsff0)):
                if tuple(arr.shape) != (b, t):
                    raise ValueError(f"{name} must be [B, T]=[{b}, {t}] like phone, got {list(arr.shape)}")
            if pitch.numel() and (int(pitch.min()) < 0 or int(pitch.max()) > 255):
                raise ValueError("coarse pitch must lie in 0..255 (RVC uses 1..255)")
        elif pitch is not None or nsff0 is not None:
            raise ValueError("this is a no-f0 model: pass None for pitch and nsff0")

    def infer(
        self,
        phone: torch.Tensor,
        phone_lengths: torch.Tensor,
        pitch: Optional[torch.Tensor],
        nsff0: Optional[torch.Tensor],
        sid: Union[torch.Tensor, int],
        noise_scale: float = RVC_NOISE_SCALE,
        generator: Optional[torch.Generator] = None,
        source_noise: bool = True,
        *,
        chunk_frames: Optional[int] = -1,
    ) -> torch.Tensor:
        """Convert content features to audio ``[B, 1, T*hop]`` with RVC's ``infer`` semantics.

        ``phone`` [B, T, 256|768] at 100 frames/s; ``pitch`` [B, T] coarse 1..255 and ``nsff0``
        [B, T] Hz (0 = unvoiced) for f0 models, None otherwise; ``sid`` speaker ids [B].
        ``noise_scale`` is the prior temperature (RVC: 0.66666); ``source_noise`` adds the NSF
        source's noise (and, for RefineGAN, its AdaIN noise). All draws come from ``generator`` when given; with ``noise_scale=0`` and
        ``source_noise=False`` nothing random is drawn. ``chunk_frames`` sets the decoder's chunking
        (-1: sized per stage for the device, n > 0: n frames per chunk, None/0: one pass); results
        do not depend on it beyond float rounding.
        """
        dev, dtype = self.device, self.dtype
        if not isinstance(sid, torch.Tensor):
            sid = torch.tensor([int(sid)])
        phone = torch.as_tensor(phone).to(dev, dtype)
        phone_lengths = torch.as_tensor(phone_lengths).to(dev, torch.long)
        sid = sid.to(dev, torch.long).reshape(-1)
        if pitch is not None:
            pitch = torch.as_tensor(pitch).to(dev, torch.long)
        if nsff0 is not None:
            nsff0 = torch.as_tensor(nsff0).to(dev, torch.float32)
        self._check_inputs(phone, phone_lengths, pitch, nsff0, sid)
        cuda = dev.type == "cuda"
        budget = CUDA_CHUNK_ELEMENTS if cuda else CPU_CHUNK_ELEMENTS
        span = CUDA_SPAN_FRAMES if cuda else CPU_SPAN_FRAMES
        with torch.inference_mode():
            g = self.emb_g(sid)[:, :, None]
            m_p, logs_p, x_mask = self.enc_p(phone, pitch, phone_lengths)
            if noise_scale:
                z_p = (m_p + torch.exp(logs_p) * randn_like(m_p, generator) * noise_scale) * x_mask
            else:
                z_p = m_p * x_mask
            z = self.flow(z_p, x_mask, g=g, reverse=True)
            source = None
            if self.f0:
                assert nsff0 is not None
                source = self.dec.source(nsff0, noise=source_noise, generator=generator)
            if isinstance(self.dec, Decoder):
                return self.dec.decode(z * x_mask, g, source, chunk_frames, budget, span)
            return self.dec.decode(z * x_mask, g, source, chunk_frames, budget, span,
                                   noise=source_noise, generator=generator)

    def forward(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        """Same as :meth:`infer` (this class is for inference)."""
        return self.infer(*args, **kwargs)


def build_synthesizer(
    config: Union[Sequence[Any], SynthConfig],
    version: str = "v2",
    f0: bool = True,
    posterior: bool = True,
    vocoder: str = HIFIGAN,
) -> Synthesizer:
    """Untrained generator (with ``enc_q`` unless ``posterior=False``) for one of the vocoders
    ("HiFi-GAN", Applio's "MRF HiFi-GAN" and "RefineGAN")."""
    return Synthesizer(config, version=version, f0=f0, posterior=posterior, vocoder=vocoder)
