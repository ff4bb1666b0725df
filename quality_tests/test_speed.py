"""Inference speed of the model under test (pytest-benchmark): the synthesizer alone on 1 s and
5 s of input, and a whole conversion (RVC's pipeline: F0, content features, inference) of the
first reference clip, on CPU and, when ``torch.cuda.is_available()``, on CUDA; on CUDA the
synthesizer is also timed in fp16 (RVC's ``is_half``, its default on most GPUs). Without a CUDA
device those cases skip saying so.

No timed asserts: speed depends on the machine. Each benchmark puts ``real_time_factor``
(seconds of compute per second of audio; < 1 is faster than real time, best round) and the
settings into ``benchmark.extra_info``, which ``--benchmark-json`` saves. With
``--benchmark-disable``, or under xdist (where pytest-benchmark turns itself off), each runs once.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
import pytest

DEVICES = ("cpu", "cuda")


def _device(name: str) -> str:
    import torch

    if name == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device here (torch.cuda.is_available() is False)")
    return name


@pytest.fixture
def speed_synth(rvc_model: Any, device: str) -> Any:
    """The model on ``device``; a model that does not load skips with its one root cause.

    Listed before ``benchmark`` in the tests' arguments, so it is set up first: a skipped test never
    leaves an unused benchmark fixture behind (pytest-benchmark would warn about it).
    """
    from rvcqa.errors import RvcqaError

    try:
        return rvc_model.synthesizer(_device(device))
    except RvcqaError as error:
        pytest.skip(rvc_model.not_evaluated(error))


def _timed(fn: Callable[[], Any], times: list[float], device: str) -> Callable[[], Any]:
    """Wrap ``fn`` so every call's wall time (CUDA work included) lands in ``times``."""
    import torch

    def run() -> Any:
        t0 = time.perf_counter()
        out = fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
        return out

    return run


def _record(benchmark: Any, rvc_model: Any, device: str, audio_s: float, times: list[float], **extra: Any) -> None:
    rtf = min(times) / audio_s
    benchmark.extra_info.update(
        model=rvc_model.name, device=device, audio_seconds=round(audio_s, 3), real_time_factor=round(rtf, 4),
        rounds_timed=len(times), **extra,
    )


@pytest.mark.rvcqa_speed
@pytest.mark.rvcqa_slow
@pytest.mark.parametrize("seconds", [1, 5], ids=lambda s: f"{s}s")
@pytest.mark.parametrize("device", DEVICES)
def test_synthesizer_speed(rvc_model, device, seconds, speed_synth, benchmark):
    """``infer`` on ``seconds`` of random content features with a steady 150 Hz pitch."""
    _time_synthesizer(rvc_model, device, seconds, speed_synth, benchmark, "fp32")


@pytest.mark.rvcqa_speed
@pytest.mark.rvcqa_slow
@pytest.mark.parametrize("seconds", [1, 5], ids=lambda s: f"{s}s")
def test_synthesizer_speed_fp16(rvc_model, seconds, benchmark):
    """The same, in fp16 on CUDA (RVC's ``is_half``); fp16 speed on CPU is not what users run."""
    import torch

    from rvcqa.errors import RvcqaError
    from rvcqa.synth import load_synthesizer

    device = _device("cuda")
    try:
        synth = rvc_model.cached("synthesizer:cuda:fp16", lambda: load_synthesizer(
            rvc_model.inference_model(), device=device, dtype=torch.float16))
    except RvcqaError as error:
        pytest.skip(rvc_model.not_evaluated(error))
    _time_synthesizer(rvc_model, device, seconds, synth, benchmark, "fp16")


def _time_synthesizer(rvc_model: Any, device: str, seconds: int, synth: Any, benchmark: Any, precision: str) -> None:
    import torch

    from rvcqa.features.f0 import coarse_pitch
    from rvcqa.synth.synthesizer import phone_dim

    frames = 100 * seconds
    rng = np.random.default_rng(0)
    phone = torch.from_numpy(rng.standard_normal((1, frames, phone_dim(synth.version))).astype(np.float32))
    lengths = torch.tensor([frames])
    pitch = pitchf = None
    if getattr(synth, "f0", True):
        hz = np.full(frames, 150.0)
        pitch = torch.from_numpy(coarse_pitch(hz).astype(np.int64))[None]
        pitchf = torch.from_numpy(hz.astype(np.float32))[None]
    sid = torch.tensor([0])
    times: list[float] = []
    run = _timed(lambda: synth.infer(phone, lengths, pitch, pitchf, sid, noise_scale=0.0, source_noise=False),
                 times, device)
    out = benchmark.pedantic(run, rounds=3, warmup_rounds=1, iterations=1)
    assert out.shape[-1] == frames * synth.hop
    _record(benchmark, rvc_model, device, float(seconds), times, sample_rate=synth.sample_rate, stage="synthesizer",
            precision=precision)


@pytest.mark.rvcqa_speed
@pytest.mark.rvcqa_slow
@pytest.mark.parametrize("device", DEVICES)
def test_conversion_speed(rvc_model, device, speed_synth, benchmark):
    """A whole conversion of the first reference clip, as ``perceptual.convert_*`` runs it."""
    from rvcqa.convert import (
        Converter,
        PipelineSettings,
        content_model_for,
        expand_inputs,
        load_index,
        load_input,
        prepare_input,
    )
    from rvcqa.synth.synthesizer import phone_dim

    synth = speed_synth
    opts = rvc_model.options
    content, why = rvc_model.cached(
        f"content_model:{device}",
        lambda: content_model_for(rvc_model.md.root, synth.version, hubert=opts.hubert, device=device),
    )
    if content is None:
        pytest.skip(f"conversion {why}")
    rmvpe = None
    if opts.rmvpe is not None and getattr(synth, "f0", True):
        from rvcqa.features.rmvpe import load_rmvpe

        rmvpe = rvc_model.cached(f"rmvpe:{device}", lambda: load_rmvpe(opts.rmvpe, device=device))
    retrieval, _ = load_index(rvc_model.md.index_files, phone_dim(synth.version))
    settings = PipelineSettings(transpose=float(opts.transpose), seed=int(opts.seed),
                                f0_method="rmvpe" if rmvpe is not None else "pyin")
    converter = Converter(synth, content, settings=settings, rmvpe=rmvpe, retrieval=retrieval)
    clip = expand_inputs(opts.reference_audio)[0]
    x = prepare_input(load_input(clip))
    times: list[float] = []
    conv = benchmark.pedantic(_timed(lambda: converter.convert(x, source=clip, prepared=True), times, device),
                              rounds=2, warmup_rounds=1, iterations=1)
    assert conv.output.size > 0
    _record(benchmark, rvc_model, device, x.size / 16000, times, clip=clip.name, stage="conversion",
            content=converter.describe()["content"], f0=converter.describe()["f0"],
            index=converter.describe()["index"])
