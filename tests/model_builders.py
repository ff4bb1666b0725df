"""Model folders several test modules build the same way (imported by them as ``model_builders``).

The sweep and the watch both follow a training whose checkpoints rise to a best epoch and fall
again; the report and the xdist runs both need a fault fixture with a couple of training slices.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any


def model_with_slices(cache: Path, fault: str | None, name: str) -> Path:
    """A fixture model folder (built once per cache dir) with two training slices added."""
    from fixtures.build_data import build_dataset
    from fixtures.build_models import Spec, build_cached

    built = build_cached(cache, Spec(name=name, fault=fault))
    marker = built.root.parent.parent / ".data-complete"
    if not marker.is_file():
        build_dataset(built.root.parent, name=name, n_segments=2, seconds=(1.0, 1.5), write_config=False)
        marker.write_text("ok")
    return built.root


def sweep_config() -> list[Any]:
    """The synthesizer config of the sweep/watch candidates: RVC v2 at 48k, the fixtures' narrow widths."""
    from fixtures.build_models import variant_config

    return variant_config("v2", "48k")


def good_state() -> dict[str, Any]:
    """The best candidate: non-zero flow post layers, like a real pretrain."""
    from fixtures.build_models import Spec, base_state, pretrained_state

    spec = Spec()
    return pretrained_state(spec, base_state(spec))


def degraded(good: dict[str, Any], a: float) -> dict[str, Any]:
    """``good`` moved by ``a`` along one fixed random direction (the same for every candidate)."""
    import torch

    gen = torch.Generator().manual_seed(99)
    out = {}
    for k, v in good.items():
        d = torch.randn(v.shape, generator=gen)
        ref = float(v.float().std()) if v.numel() > 1 else 0.05
        out[k] = v.float() + a * d * (ref if ref > 1e-6 else 0.05)
    return out


def resynthesised_dataset(logs: Path, name: str) -> tuple[Path, dict[str, Any]]:
    """``logs/NAME`` data folders whose 0_gt_wavs are the good model's own resynthesis: the good
    candidate then scores (near) zero and every degraded one worse. Returns the folder and the good state."""
    import soundfile as sf

    from fixtures.build_data import build_dataset
    from rvcqa.modeldir import discover
    from rvcqa.resynth import find_segments, load_segment_inputs, run_model
    from rvcqa.synth import load_synthesizer

    data = build_dataset(logs, name=name, n_segments=5, seconds=(0.8, 1.0), seed=3)
    good = good_state()
    synth = load_synthesizer({"weight": {k: v for k, v in good.items() if "enc_q" not in k},
                              "config": sweep_config(), "version": "v2", "f0": 1})
    segs, _ = find_segments(discover(data.root))
    for seg in segs:
        inputs = load_segment_inputs(seg, sample_rate=48000, hop=480, phone_dim=768, f0=True)
        sf.write(str(seg.gt), run_model(synth, inputs), 48000, subtype="FLOAT")
    return data.root, good
