"""fairseq's HuBERT network in plain torch, parameter names equal to fairseq's state-dict keys.

One network serves every HuBERT-style content model rvcqa reads: RVC's fairseq ``hubert_base.pt``
loads into it directly (:mod:`rvcqa.features.hubert`), transformers-layout embedders (Applio's
``rvc/models/embedders/<name>/``) after renaming their keys (:mod:`rvcqa.features.hubert_hf`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

#: fairseq's default ``conv_feature_layers``: ``[(512,10,5)] + [(512,3,2)]*4 + [(512,2,2)]*2``.
BASE_CONV_LAYERS: tuple[tuple[int, int, int], ...] = (
    ((512, 10, 5),) + ((512, 3, 2),) * 4 + ((512, 2, 2),) * 2
)


# --------------------------------------------------------------------------- architecture

@dataclass(frozen=True)
class HubertArch:
    """Everything that shapes the network; defaults are HuBERT base (RVC's hubert_base.pt)."""

    conv_layers: tuple[tuple[int, int, int], ...] = BASE_CONV_LAYERS  # (dim, kernel, stride)
    conv_bias: bool = False
    extractor_mode: str = "default"  # "default": group norm on conv 0; "layer_norm": LN on each
    embed_dim: int = 768
    ffn_dim: int = 3072
    heads: int = 12
    layers: int = 12
    conv_pos: int = 128
    conv_pos_groups: int = 16
    final_dim: int = 256
    layer_norm_first: bool = False
    label_embs: int | None = 504  # rows of label_embs_concat; None when the file has none
    #: projection conv width -> embed width; None: only when they differ (fairseq's rule);
    #: transformers always has one
    post_extract_proj: bool | None = None
    #: layer norm on the conv features (transformers' ``feat_proj_layer_norm`` may turn it off)
    feature_norm: bool = True

    @property
    def conv_dim(self) -> int:
        return self.conv_layers[-1][0]

    @property
    def has_post_extract_proj(self) -> bool:
        if self.post_extract_proj is None:
            return self.conv_dim != self.embed_dim
        return self.post_extract_proj


# --------------------------------------------------------------------------- network

def _normal(t: torch.Tensor) -> torch.Tensor:
    """N(0, 1) init, skipped on the meta device (nothing to fill; torch's meta kernel is slow)."""
    return t if t.is_meta else t.normal_()


class _TransposeLast(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(-2, -1)


def _conv_block(n_in: int, n_out: int, k: int, stride: int, *, norm: str | None, bias: bool) -> nn.Sequential:
    """fairseq's block: conv (index 0), dropout (1: identity at inference), norm (2), GELU."""
    conv = nn.Conv1d(n_in, n_out, k, stride=stride, bias=bias)
    if norm == "group":  # one group per channel: normalises each channel over time
        return nn.Sequential(conv, nn.Identity(), nn.GroupNorm(n_out, n_out, affine=True), nn.GELU())
    if norm == "layer":
        return nn.Sequential(conv, nn.Identity(),
                             nn.Sequential(_TransposeLast(), nn.LayerNorm(n_out), _TransposeLast()), nn.GELU())
    return nn.Sequential(conv, nn.Identity(), nn.GELU())


class ConvFeatureExtractor(nn.Module):
    """Waveform ``[B, N]`` -> ``[B, C, T]``; receptive field 400, stride 320 for base."""

    def __init__(self, arch: HubertArch) -> None:
        super().__init__()
        self.conv_layers = nn.ModuleList()
        n_in = 1
        for i, (dim, k, stride) in enumerate(arch.conv_layers):
            norm = None
            if arch.extractor_mode == "layer_norm":
                norm = "layer"
            elif i == 0:
                norm = "group"
            self.conv_layers.append(_conv_block(n_in, dim, k, stride, norm=norm, bias=arch.conv_bias))
            n_in = dim

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        x = wav.unsqueeze(1)
        for block in self.conv_layers:
            x = block(x)
        return x


class PosConv(nn.Module):
    """Convolutional position embedding: grouped conv with legacy weight norm over dim 2
    (``weight_g`` is ``[1, 1, K]``), 'same' padding with the extra frame of an even kernel
    dropped (fairseq's SamePad), then GELU."""

    def __init__(self, dim: int, kernel: int, groups: int) -> None:
        super().__init__()
        self.kernel, self.groups = kernel, groups
        self.weight_g = nn.Parameter(torch.ones(1, 1, kernel))
        self.weight_v = nn.Parameter(_normal(torch.empty(dim, dim // groups, kernel)))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = torch._weight_norm(self.weight_v, self.weight_g, 2)
        y = F.conv1d(x, weight, self.bias, padding=self.kernel // 2, groups=self.groups)
        if self.kernel % 2 == 0:
            y = y[:, :, :-1]
        return F.gelu(y)


class SelfAttention(nn.Module):
    """fairseq's MultiheadAttention for self-attention without masks (one utterance, no padding)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.q_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, C]
        b, t, c = x.shape

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, self.heads, c // self.heads).transpose(1, 2)

        out = F.scaled_dot_product_attention(split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x)))
        y: torch.Tensor = self.out_proj(out.transpose(1, 2).reshape(b, t, c))
        return y


class EncoderLayer(nn.Module):
    """BERT-style layer; post-norm (HuBERT base) or pre-norm (``layer_norm_first``)."""

    def __init__(self, arch: HubertArch) -> None:
        super().__init__()
        self.layer_norm_first = arch.layer_norm_first
        self.self_attn = SelfAttention(arch.embed_dim, arch.heads)
        self.self_attn_layer_norm = nn.LayerNorm(arch.embed_dim)
        self.fc1 = nn.Linear(arch.embed_dim, arch.ffn_dim)
        self.fc2 = nn.Linear(arch.ffn_dim, arch.embed_dim)
        self.final_layer_norm = nn.LayerNorm(arch.embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.layer_norm_first:
            x = x + self.self_attn(self.self_attn_layer_norm(x))
            ff: torch.Tensor = self.fc2(F.gelu(self.fc1(self.final_layer_norm(x))))
            return x + ff
        x = self.self_attn_layer_norm(x + self.self_attn(x))
        y: torch.Tensor = self.final_layer_norm(x + self.fc2(F.gelu(self.fc1(x))))
        return y


class TransformerEncoder(nn.Module):
    def __init__(self, arch: HubertArch) -> None:
        super().__init__()
        self.layer_norm_first = arch.layer_norm_first
        self.pos_conv = nn.Sequential(PosConv(arch.embed_dim, arch.conv_pos, arch.conv_pos_groups))
        self.layers = nn.ModuleList(EncoderLayer(arch) for _ in range(arch.layers))
        self.layer_norm = nn.LayerNorm(arch.embed_dim)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Add the conv position embedding; post-norm models normalise here, before layer 1."""
        x = x + self.pos_conv(x.transpose(1, 2)).transpose(1, 2)
        return x if self.layer_norm_first else self.layer_norm(x)

    def forward(self, x: torch.Tensor, output_layer: int | None = None) -> torch.Tensor:
        """Run layers 1..``output_layer`` (1-based; None: all). Like fairseq, the final layer norm
        of a pre-norm model applies only when every layer ran without ``output_layer``."""
        x = self.embed(x)
        n = len(self.layers) if output_layer is None else output_layer
        for layer in self.layers[:n]:
            x = layer(x)
        if self.layer_norm_first and output_layer is None:
            x = self.layer_norm(x)
        return x


class HubertNet(nn.Module):
    """fairseq ``HubertModel`` for inference: parameter names equal the checkpoint's keys."""

    def __init__(self, arch: HubertArch) -> None:
        super().__init__()
        self.arch = arch
        self.feature_extractor = ConvFeatureExtractor(arch)
        self.layer_norm = nn.LayerNorm(arch.conv_dim) if arch.feature_norm else None
        self.post_extract_proj = (
            nn.Linear(arch.conv_dim, arch.embed_dim) if arch.has_post_extract_proj else None
        )
        self.encoder = TransformerEncoder(arch)
        self.final_proj = nn.Linear(arch.embed_dim, arch.final_dim)
        # training-only parameters, kept so the checkpoint loads strictly
        self.mask_emb = nn.Parameter(torch.zeros(arch.embed_dim))
        if arch.label_embs is not None:
            self.label_embs_concat = nn.Parameter(torch.zeros(arch.label_embs, arch.final_dim))

    def frontend(self, source: torch.Tensor) -> torch.Tensor:
        """``[B, N]`` waveform -> ``[B, T, embed]`` encoder input (conv, layer norm, projection)."""
        feats: torch.Tensor = self.feature_extractor(source).transpose(1, 2)
        if self.layer_norm is not None:
            feats = self.layer_norm(feats)
        if self.post_extract_proj is not None:
            feats = self.post_extract_proj(feats)
        return feats

    def extract_features(self, source: torch.Tensor, output_layer: int | None = None) -> torch.Tensor:
        """fairseq ``extract_features(source, padding_mask=all False, mask=False, output_layer)``."""
        y: torch.Tensor = self.encoder(self.frontend(source), output_layer)
        return y

    def hidden_states(self, source: torch.Tensor) -> list[torch.Tensor]:
        """Encoder input after the position embedding, then the output of every layer (for tests)."""
        x = self.encoder.embed(self.frontend(source))
        out = [x]
        for layer in self.encoder.layers:
            x = layer(x)
            out.append(x)
        return out


def build_hubert(arch: HubertArch | None = None, *, device: str | torch.device = "meta") -> HubertNet:
    """Build the network; on ``"meta"`` (the default) it allocates nothing, so even the full
    95M-parameter base builds in milliseconds before a checkpoint is assigned into it."""
    with torch.device(device):
        return HubertNet(arch or HubertArch()).eval()

