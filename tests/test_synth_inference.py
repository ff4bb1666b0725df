"""Inference properties: output length, reproducibility, flow invertibility, the NSF source,
and chunked decoding equal to one pass. Small widths keep these fast."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rvcqa.synth import build_synthesizer, canonical_config, load_synthesizer
from rvcqa.synth.flow import CouplingFlow
from rvcqa.synth.source import HarmonicSource, SineGenerator
from rvcqa.synth.variants import CANONICAL_VARIANTS, narrow_config

CONFORMANCE = Path(__file__).parent / "data" / "conformance"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _inputs(version: str, frames: int, f0: bool, batch: int = 1, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    phone = torch.randn(batch, frames, 768 if version == "v2" else 256, generator=g)
    lengths = torch.full((batch,), frames, dtype=torch.long)
    sid = torch.zeros(batch, dtype=torch.long)
    if not f0:
        return phone, lengths, None, None, sid
    hz = torch.linspace(110, 330, frames).repeat(batch, 1)
    hz[:, :3] = 0  # unvoiced head
    mel = 1127 * torch.log1p(hz / 700)
    coarse = torch.where(mel > 0, (mel - 77.755) * 254 / (1064.4082 - 77.755) + 1, mel)
    pitch = coarse.clamp(1, 255).round().long()
    return phone, lengths, pitch, hz, sid


def _narrow(version: str, sr: int, f0: bool, resblock: str = "1"):
    cfg = narrow_config(canonical_config(version, sr))
    cfg[9] = resblock
    torch.manual_seed(0)
    net = build_synthesizer(cfg, version, f0, posterior=False)
    net.fold_weight_norm()
    return net.eval()


@pytest.mark.parametrize("version,sr", CANONICAL_VARIANTS, ids=lambda x: str(x))
@pytest.mark.parametrize("f0", [True, False], ids=["f0", "nof0"])
def test_output_length_is_frames_times_hop(version: str, sr: int, f0: bool) -> None:
    net = _narrow(version, sr, f0)
    frames = 7
    out = net.infer(*_inputs(version, frames, f0, batch=2), generator=torch.Generator().manual_seed(1))
    assert out.shape == (2, 1, frames * sr // 100)
    assert torch.isfinite(out).all()
    assert out.abs().max() <= 1.0


def test_resblock2_runs() -> None:
    net = _narrow("v2", 40000, True, resblock="2")
    out = net.infer(*_inputs("v2", 5, True), noise_scale=0, source_noise=False)
    assert out.shape == (1, 1, 5 * 400)


def test_batch_items_with_different_lengths_are_independent() -> None:
    net = load_synthesizer(CONFORMANCE / "v2_48k_f0.pth")
    phone, _, pitch, hz, sid = _inputs("v2", 30, True, batch=2)
    lengths = torch.tensor([30, 20])
    both = net.infer(phone, lengths, pitch, hz, sid, noise_scale=0, source_noise=False)
    alone = net.infer(phone[1:, :20], lengths[1:], pitch[1:, :20], hz[1:, :20], sid[1:],
                      noise_scale=0, source_noise=False)
    # away from the padded tail (decoder context), item 1 equals its unpadded run
    n = 12 * 480
    torch.testing.assert_close(both[1:, :, :n], alone[:, :, :n], rtol=1e-4, atol=1e-5)


def test_seeded_generator_reproduces_and_global_rng_is_untouched() -> None:
    net = _narrow("v2", 48000, True)
    x = _inputs("v2", 12, True)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = net.infer(*x, generator=torch.Generator().manual_seed(7))
    b = net.infer(*x, generator=torch.Generator().manual_seed(7))
    c = net.infer(*x, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert torch.equal(torch.get_rng_state(), state)


def test_noise_off_draws_nothing() -> None:
    net = load_synthesizer(CONFORMANCE / "v2_48k_f0.pth")
    x = _inputs("v2", 12, True)
    gen = torch.Generator().manual_seed(5)
    gen_state, rng_state = gen.get_state(), torch.get_rng_state()
    a = net.infer(*x, noise_scale=0, source_noise=False, generator=gen)
    b = net.infer(*x, noise_scale=0, source_noise=False)
    assert torch.equal(gen.get_state(), gen_state)
    assert torch.equal(torch.get_rng_state(), rng_state)
    assert torch.equal(a, b)


def test_noise_changes_output() -> None:
    net = load_synthesizer(CONFORMANCE / "v2_48k_f0.pth")
    x = _inputs("v2", 12, True)
    quiet = net.infer(*x, noise_scale=0, source_noise=False)
    prior = net.infer(*x, noise_scale=0.66666, source_noise=False, generator=torch.Generator().manual_seed(0))
    source = net.infer(*x, noise_scale=0, source_noise=True, generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(quiet, prior)
    assert not torch.allclose(quiet, source)


def test_flow_reverse_undoes_forward() -> None:
    torch.manual_seed(0)
    flow = CouplingFlow(16, 16, 5, 1, 3, 4, gin_channels=8)
    with torch.no_grad():  # an untrained flow is the identity: make it do something
        for layer in flow.flows[::2]:
            layer.post.weight.normal_(0, 0.5)
            layer.post.bias.normal_(0, 0.5)
    x = torch.randn(2, 16, 40)
    mask = torch.ones(2, 1, 40)
    mask[1, :, 30:] = 0
    x = x * mask
    g = torch.randn(2, 8, 1)
    with torch.no_grad():
        z = flow(x, mask, g=g)
        back = flow(z, mask, g=g, reverse=True)
    assert not torch.allclose(z, x, atol=1e-2)
    torch.testing.assert_close(back, x, rtol=1e-5, atol=1e-5)


def test_untrained_flow_is_identity_and_post_is_zero() -> None:
    net = build_synthesizer(narrow_config(canonical_config("v2", 48000)), "v2", True)
    for i in (0, 2, 4, 6):
        assert torch.count_nonzero(net.flow.flows[i].post.weight) == 0
    x = torch.randn(1, 16, 10)
    with torch.no_grad():
        assert torch.equal(net.flow(x, torch.ones(1, 1, 10), reverse=True), x)


@pytest.mark.parametrize("sr,hop,hz", [(48000, 480, 220.0), (40000, 400, 97.5), (32000, 320, 440.0)])
def test_sine_source_frequency_equals_f0(sr: int, hop: int, hz: float) -> None:
    frames = 100
    f0 = torch.full((1, frames), hz)
    sine = SineGenerator(sr)(f0, hop, noise=False)[0, :, 0].numpy()
    assert sine.shape == (frames * hop,)
    spectrum = np.abs(np.fft.rfft(sine * np.hanning(sine.size)))
    peak_hz = np.argmax(spectrum) * sr / sine.size
    assert abs(peak_hz - hz) <= sr / sine.size  # within one FFT bin (1 Hz here)
    assert np.max(np.abs(sine)) == pytest.approx(0.1, abs=1e-3)  # sine_amp
    # phase starts at 0 and is continuous across frame boundaries: no step bigger than one sample's
    assert abs(sine[0] - 0.1 * np.sin(2 * np.pi * hz / sr)) < 1e-6
    assert np.max(np.abs(np.diff(sine))) <= 0.1 * 2 * np.pi * hz / sr * 1.001


def test_sine_source_follows_a_glide_and_unvoiced_frames_give_noise() -> None:
    sr, hop, frames = 48000, 480, 60
    f0 = torch.zeros(1, frames)
    f0[0, 20:40] = 300.0
    gen = SineGenerator(sr)
    quiet = gen(f0, hop, noise=False)[0, :, 0]
    noisy = gen(f0, hop, noise=True, generator=torch.Generator().manual_seed(0))[0, :, 0]
    unvoiced = torch.cat([noisy[: 20 * hop], noisy[40 * hop :]])
    assert torch.count_nonzero(quiet[: 20 * hop]) == 0 and torch.count_nonzero(quiet[40 * hop :]) == 0
    assert float(unvoiced.std()) == pytest.approx(0.1 / 3, rel=0.05)  # sine_amp / 3
    assert abs(float(unvoiced.mean())) < 0.003
    voiced_noise = noisy[20 * hop : 40 * hop] - quiet[20 * hop : 40 * hop]
    assert float(voiced_noise.std()) == pytest.approx(0.003, rel=0.1)  # noise_std
    # zero crossings in the voiced part match 300 Hz
    v = quiet[20 * hop : 40 * hop].numpy()
    crossings = np.count_nonzero(np.diff(np.signbit(v)))
    assert crossings == pytest.approx(2 * 300 * 0.2, abs=2)


def test_harmonic_source_shape_and_range() -> None:
    src = HarmonicSource(48000)
    out = src(torch.full((2, 5), 200.0), 480, noise=False)
    assert out.shape == (2, 1, 2400)
    assert out.abs().max() < 1


@pytest.mark.parametrize("name", ["v2_48k_f0", "v1_32k_f0", "v2_48k_nof0"])
def test_chunked_decoding_equals_one_pass(name: str) -> None:
    net = load_synthesizer(CONFORMANCE / f"{name}.pth")
    version = "v1" if name.startswith("v1") else "v2"
    x = _inputs(version, 260, net.f0)
    kw = dict(noise_scale=0.66666, source_noise=True)
    whole = net.infer(*x, generator=torch.Generator().manual_seed(3), chunk_frames=None, **kw)
    for chunk in (64, 100):
        parts = net.infer(*x, generator=torch.Generator().manual_seed(3), chunk_frames=chunk, **kw)
        assert parts.shape == whole.shape
        diff = (parts - whole).abs().max() / whole.abs().max()
        assert diff < 1e-4, f"chunk {chunk}: max diff {diff:.2e} of output scale"


def test_auto_chunk_sizes_equal_one_pass() -> None:
    """The default (per-stage element budget, outer spans) chunking, forced small, matches one pass."""
    net = load_synthesizer(CONFORMANCE / "v1_48k_f0.pth")
    dec = net.dec
    z = torch.randn(1, 16, 90)
    g = net.emb_g(torch.tensor([1]))[:, :, None]
    source = dec.source(torch.linspace(100, 300, 90)[None], noise=False)
    with torch.inference_mode():
        whole = dec.decode(z, g, source, None)
        parts = dec.decode(z, g, source, -1, chunk_elements=4096)
        spans = dec.decode(z, g, source, -1, chunk_elements=4096, outer_frames=20)
    assert (parts - whole).abs().max() / whole.abs().max() < 1e-4
    assert (spans - whole).abs().max() / whole.abs().max() < 1e-4


@pytest.mark.parametrize("version,sr", [("v2", 48000), ("v1", 32000), ("v2", 24000)])
def test_decoder_context_covers_receptive_field(version: str, sr: int) -> None:
    """Perturbing one latent frame changes output only within ``context_frames`` of it."""
    net = _narrow(version, sr, True)
    dec = net.dec
    with torch.no_grad():  # make every layer matter
        for p in dec.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
    t, t0 = 80, 40
    z = torch.randn(1, 16, t)
    source = dec.source(torch.full((1, t), 150.0), noise=False)
    g = torch.randn(1, 16, 1)
    z2 = z.clone()
    z2[:, :, t0] += 1.0
    with torch.no_grad():
        changed = (dec(z2, g, source) - dec(z, g, source)).abs()[0, 0] > 0
    idx = torch.nonzero(changed)[:, 0]
    hop = dec.upp
    reach = max(t0 * hop - int(idx.min()), int(idx.max()) - (t0 + 1) * hop) / hop
    assert 0 < reach <= dec.context_frames() - 1


def test_input_validation() -> None:
    f0net = _narrow("v2", 48000, True)
    nof0 = _narrow("v2", 48000, False)
    phone, lengths, pitch, hz, sid = _inputs("v2", 5, True)
    with pytest.raises(ValueError, match="f0 model"):
        f0net.infer(phone, lengths, None, None, sid)
    with pytest.raises(ValueError, match="no-f0 model"):
        nof0.infer(phone, lengths, pitch, hz, sid)
    with pytest.raises(ValueError, match=r"\[B, T, 768\]"):
        f0net.infer(phone[..., :256], lengths, pitch, hz, sid)
    with pytest.raises(ValueError, match="nsff0"):
        f0net.infer(phone, lengths, pitch, hz[:, :4], sid)


def test_posterior_encoder_and_training_direction() -> None:
    cfg = narrow_config(canonical_config("v2", 32000))
    net = build_synthesizer(cfg, "v2", True)
    spec = torch.randn(1, 513, 20)
    g = net.emb_g(torch.tensor([1]))[:, :, None]
    with torch.no_grad():
        z, m, logs, mask = net.enc_q(spec, torch.tensor([20]), g=g, generator=torch.Generator().manual_seed(0))
        z_p = net.flow(z, mask, g=g)
        back = net.flow(z_p, mask, g=g, reverse=True)
    assert z.shape == (1, 16, 20)
    torch.testing.assert_close(back, z)


def _dense_relative_attention(attn, x: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
    """Textbook formulation: an [L, L] table of relative offsets, clipped to the window."""
    b, c, n = x.shape
    h, d, w = attn.n_heads, attn.k_channels, attn.window_size
    q = attn.conv_q(x).view(b, h, d, n).transpose(2, 3) / d**0.5
    k = attn.conv_k(x).view(b, h, d, n).transpose(2, 3)
    v = attn.conv_v(x).view(b, h, d, n).transpose(2, 3)
    offset = torch.arange(n)[None, :] - torch.arange(n)[:, None]  # j - i
    inside = offset.abs() <= w
    idx = (offset.clamp(-w, w) + w)
    ek = attn.emb_rel_k[0][idx] * inside[..., None]  # [L, L, d]
    ev = attn.emb_rel_v[0][idx] * inside[..., None]
    scores = q @ k.transpose(-1, -2) + torch.einsum("bhid,ijd->bhij", q, ek)
    valid = (frame_mask[:, None, :, None] * frame_mask[:, None, None, :]) != 0
    p = torch.softmax(scores.masked_fill(~valid, -1e4), dim=-1)
    out = p @ v + torch.einsum("bhij,ijd->bhid", p, ev)
    return attn.conv_o(out.transpose(2, 3).reshape(b, c, n))


@pytest.mark.parametrize("block", [1024, 7])
def test_relative_attention_equals_dense_formulation(block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from rvcqa.synth import attention

    monkeypatch.setattr(attention, "_QUERY_BLOCK", block)
    torch.manual_seed(0)
    attn = attention.RelativeMultiHeadAttention(16, 2, window_size=4)
    x = torch.randn(2, 16, 30)
    mask = torch.ones(2, 30)
    mask[1, 22:] = 0
    with torch.no_grad():
        torch.testing.assert_close(attn(x, mask), _dense_relative_attention(attn, x, mask), rtol=1e-5, atol=1e-5)
