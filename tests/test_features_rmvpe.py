"""RMVPE: RVC's key layout, strict loading, mel front end and salience decoding.

The expected key names and shapes are enumerated here from RVC's ``infer/lib/rmvpe.py`` class
structure (``E2E(4, 1, (2, 2))``), independently of rvcqa's modules. A randomly initialised network
is saved at full size in fp16 (about 181 MB, once per module) and loaded back through the public
loader. Set ``RVCQA_RMVPE=/path/to/rmvpe.pt`` to also run the real-weight checks.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from rvcqa.errors import AudioError, CheckpointError, UnsafeCheckpointError
from rvcqa.features import FeatureModelError, f0_frames
from rvcqa.features.f0 import extract_f0
from rvcqa.features.rmvpe import (
    E2E,
    RmvpeModel,
    build_e2e,
    decode_salience,
    load_rmvpe,
    log_mel,
    model_from_state,
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def upstream_shapes() -> dict[str, tuple[int, ...]]:
    """State-dict keys/shapes of RVC's E2E(n_blocks=4, n_gru=1, kernel_size=(2, 2))."""
    s: dict[str, tuple[int, ...]] = {}

    def bn(prefix: str, c: int) -> None:
        for name in ("weight", "bias", "running_mean", "running_var"):
            s[f"{prefix}.{name}"] = (c,)
        s[f"{prefix}.num_batches_tracked"] = ()

    def res_block(prefix: str, c_in: int, c_out: int) -> None:  # ConvBlockRes
        s[f"{prefix}.conv.0.weight"] = (c_out, c_in, 3, 3)
        bn(f"{prefix}.conv.1", c_out)
        s[f"{prefix}.conv.3.weight"] = (c_out, c_out, 3, 3)
        bn(f"{prefix}.conv.4", c_out)
        if c_in != c_out:
            s[f"{prefix}.shortcut.weight"] = (c_out, c_in, 1, 1)
            s[f"{prefix}.shortcut.bias"] = (c_out,)

    bn("unet.encoder.bn", 1)
    c_in, c_out = 1, 16
    for i in range(5):  # Encoder: 5 ResEncoderBlocks of 4 ConvBlockRes, widths 16..256
        for j in range(4):
            res_block(f"unet.encoder.layers.{i}.conv.{j}", c_in if j == 0 else c_out, c_out)
        c_in, c_out = c_out, c_out * 2
    for i in range(4):  # Intermediate(256 -> 512, 4 levels)
        for j in range(4):
            res_block(f"unet.intermediate.layers.{i}.conv.{j}", 256 if i == j == 0 else 512, 512)
    c_in = 512
    for i in range(5):  # Decoder: ConvTranspose2d (weight [in, out, 3, 3]) + BN, then 4 ConvBlockRes
        c_out = c_in // 2
        s[f"unet.decoder.layers.{i}.conv1.0.weight"] = (c_in, c_out, 3, 3)
        bn(f"unet.decoder.layers.{i}.conv1.1", c_out)
        for j in range(4):
            res_block(f"unet.decoder.layers.{i}.conv2.{j}", 2 * c_out if j == 0 else c_out, c_out)
        c_in = c_out
    s["cnn.weight"], s["cnn.bias"] = (3, 16, 3, 3), (3,)
    for suffix in ("", "_reverse"):  # BiGRU(3 * 128, 256, 1)
        s[f"fc.0.gru.weight_ih_l0{suffix}"] = (768, 384)
        s[f"fc.0.gru.weight_hh_l0{suffix}"] = (768, 256)
        s[f"fc.0.gru.bias_ih_l0{suffix}"] = (768,)
        s[f"fc.0.gru.bias_hh_l0{suffix}"] = (768,)
    s["fc.1.weight"], s["fc.1.bias"] = (360, 512), (360,)
    return s


def test_network_has_rvc_keys_and_shapes() -> None:
    ours = {k: tuple(v.shape) for k, v in build_e2e("meta").state_dict().items()}
    assert ours == upstream_shapes()
    params = sum(math.prod(s) for k, s in ours.items() if "running" not in k and "num_batches" not in k)
    assert params == 90_423_165  # about 181 MB in fp16


@pytest.fixture(scope="module")
def random_rmvpe(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.Tensor], RmvpeModel]:
    """A randomly initialised full-size RMVPE saved like rmvpe.pt (a plain state dict, fp16),
    and the model the public loader makes of it (loaded once: 181 MB)."""
    torch.manual_seed(0)
    net = build_e2e("cpu")
    with torch.no_grad():
        for name, buf in net.named_buffers():
            if name.endswith("running_mean"):
                buf.normal_(0, 0.1)
            elif name.endswith("running_var"):
                buf.uniform_(0.5, 1.5)
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in net.state_dict().items()}
    path = tmp_path_factory.mktemp("rmvpe") / "rmvpe.pt"
    torch.save(state, path)
    del net
    return path, state, load_rmvpe(path)


def _tone(n: int, f0: float = 220.0) -> np.ndarray:
    t = np.arange(n) / 16000
    return (0.2 * sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))).astype(np.float32)


def test_random_network_loads_strictly_and_gives_rvc_frame_count(random_rmvpe) -> None:
    path, state, model = random_rmvpe
    assert all(p.dtype == torch.float32 and not p.is_meta for p in model.net.parameters())
    assert not any(b.is_meta for b in model.net.buffers())
    for n in (513, 1600, 4321, 16000):
        f0 = model.f0(_tone(n))
        assert f0.shape == (f0_frames(n),) == (n // 160 + 1,)
        assert np.isfinite(f0).all() and (f0 >= 0).all()
    # extract_f0 takes the loaded model (or its path)
    assert extract_f0(_tone(3200), "rmvpe", rmvpe=model).shape == (21,)


def test_assigned_weights_equal_a_plain_copy(random_rmvpe) -> None:
    """The loader assigns tensors into a meta-built network (GRU flat weights included); its
    output must equal a normally built network given the same weights."""
    path, state, model = random_rmvpe
    with torch.device("meta"):
        ref = E2E().eval()
    ref = ref.to_empty(device="cpu")
    ref.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    wav = _tone(4000)
    with torch.inference_mode():
        mel = log_mel(torch.from_numpy(wav)[None])
        n = mel.shape[-1]
        expected = ref(torch.nn.functional.pad(mel, (0, 32 - n % 32)))[0, :n].numpy()  # zeros, as RVC
    np.testing.assert_allclose(model.salience(wav), expected, atol=1e-5)


def test_log_mel_matches_librosa() -> None:
    import librosa

    wav = _tone(8000, 150.0) + 0.01 * np.random.default_rng(0).standard_normal(8000).astype(np.float32)
    mag = np.abs(librosa.stft(wav.astype(np.float64), n_fft=1024, hop_length=160, win_length=1024,
                              window="hann", center=True, pad_mode="reflect"))
    fb = librosa.filters.mel(sr=16000, n_fft=1024, n_mels=128, fmin=30, fmax=8000, htk=True, dtype=np.float64)
    expected = np.log(np.maximum(fb @ mag, 1e-5))
    ours = log_mel(torch.from_numpy(wav)[None])[0].numpy()
    assert ours.shape == (128, 8000 // 160 + 1)
    np.testing.assert_allclose(ours, expected, atol=2e-3)


# --------------------------------------------------------------------------- decoding

def rvc_decode(salience: np.ndarray, thred: float) -> np.ndarray:
    """RVC's to_local_average_cents + decode, transcribed as a per-frame loop over padded arrays."""
    cents_map = np.pad(20 * np.arange(360) + 1997.3794084376191, (4, 4))
    out = np.zeros(salience.shape[0])
    padded = np.pad(salience, ((0, 0), (4, 4)))
    for i in range(salience.shape[0]):
        c = int(np.argmax(salience[i])) + 4
        w = padded[i, c - 4 : c + 5]
        with np.errstate(invalid="ignore"):  # an all-zero row gives 0/0, reset just below
            cents = float(np.sum(w * cents_map[c - 4 : c + 5]) / np.sum(w))
        if np.max(padded[i]) <= thred:
            cents = 0.0
        f0 = 10 * 2 ** (cents / 1200)
        out[i] = 0.0 if f0 == 10 else f0
    return out


def test_decode_matches_rvc_algorithm() -> None:
    rng = np.random.default_rng(1)
    sal = rng.uniform(0, 0.02, (50, 360)) ** 2
    bins = rng.integers(0, 360, 50)
    bins[:3] = [0, 1, 359]  # peaks at the edges: the window runs off the ends
    sal[np.arange(50), bins] = rng.uniform(0.01, 1.0, 50)
    sal[5] = 0.0  # silence: all zero
    got = decode_salience(sal, 0.03)
    np.testing.assert_allclose(got, np.nan_to_num(rvc_decode(sal, 0.03)), rtol=1e-12)
    assert got[5] == 0.0
    assert ((got == 0) == (sal.max(axis=1) <= 0.03)).all()


def test_decode_of_a_bump_gives_its_pitch() -> None:
    bin_220 = (1200 * np.log2(220 / 10) - 1997.3794084376191) / 20  # 167.69
    sal = np.exp(-0.5 * ((np.arange(360) - bin_220) / 1.5) ** 2)[None] * 0.9
    f0 = decode_salience(sal)
    assert abs(1200 * np.log2(f0[0] / 220)) < 2.0
    assert decode_salience(sal * 0.03)[0] == 0.0  # peak at the threshold: unvoiced
    with pytest.raises(ValueError, match="360"):
        decode_salience(np.zeros((3, 128)))


# --------------------------------------------------------------------------- errors

def _meta_state() -> dict[str, torch.Tensor]:
    """Right names and shapes, no memory: key checks happen before any tensor is touched."""
    return {k: torch.empty(s, device="meta") for k, s in upstream_shapes().items()}


def test_missing_unexpected_and_misshapen_keys_are_named(random_rmvpe) -> None:
    state = _meta_state()
    del state["unet.decoder.layers.2.conv2.0.shortcut.weight"]
    with pytest.raises(FeatureModelError, match=r"1 missing key \('unet\.decoder\.layers\.2\.conv2\.0\.shortcut\.weight'\)"):
        model_from_state(state)
    state = _meta_state()
    state["fc.2.weight"] = torch.zeros(3)
    with pytest.raises(FeatureModelError, match="unexpected key.*fc.2.weight"):
        model_from_state(state)
    state = _meta_state()
    state["fc.1.weight"] = torch.zeros(128, 512)
    with pytest.raises(FeatureModelError, match=r"1 wrongly shaped key \('fc.1.weight' \(file \[128, 512\], network \[360, 512\]\)\)"):
        model_from_state(state)
    # a file without BatchNorm step counters still loads
    state = {k: v for k, v in random_rmvpe[1].items() if not k.endswith("num_batches_tracked")}
    assert not any(b.is_meta for b in model_from_state(state).net.buffers())


def test_wrong_files(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        load_rmvpe(tmp_path / "rmvpe.pt")
    p = tmp_path / "x.pt"
    torch.save({"weight": {"a": torch.zeros(1)}, "config": [1], "version": "v2", "f0": 1}, p)
    with pytest.raises(FeatureModelError, match="RVC voice model"):
        load_rmvpe(p)
    torch.save({"feature_extractor.conv_layers.0.0.weight": torch.zeros(2, 1, 10)}, p)
    with pytest.raises(FeatureModelError, match="HuBERT"):
        load_rmvpe(p)
    torch.save([torch.zeros(1)], p)
    with pytest.raises(FeatureModelError, match="plain state dict"):
        load_rmvpe(p)

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    torch.save({"cnn.weight": torch.zeros(1), "x": Payload()}, p)
    with pytest.raises(UnsafeCheckpointError):
        load_rmvpe(p)
    assert not (tmp_path / "pwned").exists()


def test_input_guards(random_rmvpe) -> None:
    model = random_rmvpe[2]
    with pytest.raises(AudioError, match="need at least 513 samples"):
        model.f0(np.zeros(512, np.float32))
    with pytest.raises(AudioError, match="NaN"):
        model.f0(np.full(2000, np.nan, np.float32))


REAL = os.environ.get("RVCQA_RMVPE")


@pytest.mark.skipif(not REAL, reason="real RMVPE weights not given: set RVCQA_RMVPE=/path/to/rmvpe.pt "
                                     "(RVC's assets/rmvpe/rmvpe.pt) to run")
@pytest.mark.parametrize("f0", [110.0, 220.0, 330.0])
def test_real_rmvpe_tracks_a_harmonic_tone(f0: float) -> None:
    model = load_rmvpe(REAL)  # type: ignore[arg-type]
    track = model.f0(_tone(16000, f0))
    inner = track[10:-10]
    assert (inner > 0).mean() > 0.9
    assert abs(np.median(1200 * np.log2(inner[inner > 0] / f0))) < 50


# --------------------------------------------------------------------------- padding, against RVC's own output

PAD_VECTORS = Path(__file__).parent / "data" / "pipeline" / "rmvpe_pad.npz"


def _small_rmvpe(seed: int, pad_mode: str = "constant") -> RmvpeModel:
    """RVC's E2E(1, 1, (2, 2), en_out_channels=4) with the weights the vectors were made with."""
    from conformance_helpers import seeded_state

    net = E2E(n_blocks=1, n_gru=1, c_first=4).eval()
    net.load_state_dict(seeded_state(net.state_dict(), seed))
    return RmvpeModel(net=net, pad_mode=pad_mode)


def test_frame_padding_matches_rvc_zeros_and_applio_reflection() -> None:
    """RVC's ``mel2hidden`` zero-pads to 32 frames, Applio's reflects; the salience and F0 of a
    0.45 s clip (46 frames, 18 padded) must equal each one's output for the same weights."""
    from conformance_helpers import rel_l2

    d = np.load(PAD_VECTORS)
    rvc = _small_rmvpe(int(d["seed"]))
    sal = rvc.salience(d["audio"])
    assert rel_l2(sal, d["salience"]) < 1e-5
    assert rel_l2(sal[-32:], d["salience"][-32:]) < 1e-5
    np.testing.assert_allclose(rvc.f0(d["audio"]), d["f0"], rtol=1e-5, atol=1e-3)
    applio = _small_rmvpe(int(d["seed"]), "reflect")
    assert rel_l2(applio.salience(d["audio"]), d["salience_applio"]) < 1e-5
    # the two conventions really differ here, so the test can tell them apart
    assert rel_l2(d["salience_applio"], d["salience"]) > 1e-2


def test_pad_frames_modes() -> None:
    from rvcqa.features.rmvpe import pad_frames

    mel = torch.arange(2 * 3 * 5, dtype=torch.float32).reshape(2, 3, 5)
    zeros = pad_frames(mel)
    assert zeros.shape == (2, 3, 32) and torch.equal(zeros[..., :5], mel) and not zeros[..., 5:].any()
    mirrored = pad_frames(mel, "reflect")  # 27 frames of padding, only 5 to mirror: the edge repeats
    assert torch.equal(mirrored[..., 5:], mel[..., 4:5].expand(2, 3, 27))
    longer = torch.randn(1, 3, 40)
    assert torch.equal(pad_frames(longer, "reflect")[..., 40:], longer.flip(-1)[..., 1:25])
    assert pad_frames(torch.zeros(1, 3, 64)).shape[-1] == 64
    with pytest.raises(ValueError, match="pad_mode"):
        RmvpeModel(net=build_e2e("meta"), pad_mode="edge")
