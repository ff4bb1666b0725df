"""Speed of rvcqa's own synthesizer at RVC's real v2-48k widths (pytest-benchmark; no timed asserts).

Random-init weights are enough: cost does not depend on values. Each case records the real-time
factor (seconds of compute per second of audio, min and median over rounds) and the peak memory
of one call in ``benchmark.extra_info``. ``chunk="auto"`` is the default stage-wise chunked
decoding; ``chunk="one-pass"`` decodes the whole input at once like RVC, to show why chunking
keeps the cost per second flat as inputs grow.

Reference (RVC's own classes, same 2-core CPU box): RTF ~0.75 (1 s), ~0.85 (5 s), ~1.3 (10 s).
Applio's MRF HiFi-GAN and RefineGAN decoders are timed on 1 s with one thread.

Run: ``python -m pytest benchmarks/test_synth_speed.py --benchmark-only``.
"""
from __future__ import annotations

import ctypes
import gc
import os
import threading
import time
from typing import Callable

import pytest

pytest.importorskip("pytest_benchmark")
torch = pytest.importorskip("torch")

from rvcqa.synth import build_synthesizer, canonical_config  # noqa: E402

SECONDS = (1, 5, 10)
ROUNDS = {1: 5, 5: 3, 10: 3}
CHUNKS = {"auto": -1, "one-pass": None}


def _build(device: str, vocoder: str = "HiFi-GAN"):
    torch.manual_seed(0)
    net = build_synthesizer(canonical_config("v2", 48000), "v2", True, posterior=False, vocoder=vocoder)
    net.fold_weight_norm()
    return net.eval().requires_grad_(False).to(device)


def _inputs(seconds: int, device: str):
    frames = seconds * 100
    g = torch.Generator().manual_seed(1)
    phone = torch.randn(1, frames, 768, generator=g)
    hz = 150 + 100 * torch.rand(1, frames, generator=g)
    hz[:, ::7] = 0  # some unvoiced frames
    pitch = torch.full((1, frames), 54, dtype=torch.long)
    return tuple(t.to(device) for t in (phone, torch.tensor([frames]), pitch, hz, torch.tensor([0])))


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _release_free_heap() -> None:
    """Return glibc's cached free blocks to the OS so RSS growth measures this call's peak."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _peak_cpu_bytes(fn: Callable[[], object]) -> int:
    """Peak resident-set growth during ``fn`` (sampled every 2 ms; Linux only)."""
    if not os.path.exists("/proc/self/statm"):
        return -1
    gc.collect()
    _release_free_heap()
    base, peak, done = _rss_bytes(), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            time.sleep(0.002)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        fn()
    finally:
        done.set()
        t.join()
    return max(peak[0], _rss_bytes()) - base


def _record(benchmark, seconds: int, device: str, peak_bytes: int) -> None:
    stats = benchmark.stats.stats
    benchmark.extra_info.update(
        audio_seconds=seconds,
        rtf_min=round(stats.min / seconds, 3),
        rtf_median=round(stats.median / seconds, 3),
        peak_memory_mb=round(peak_bytes / 2**20, 1),
        device=device,
        threads=torch.get_num_threads(),
        load_avg_1m=round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    )


@pytest.fixture(scope="module")
def cpu_synth():
    return _build("cpu")


@pytest.mark.benchmark(group="synth-v2-48k-cpu")
@pytest.mark.parametrize("chunk", list(CHUNKS))
@pytest.mark.parametrize("seconds", SECONDS)
def test_infer_v2_48k_cpu(benchmark, cpu_synth, seconds: int, chunk: str) -> None:
    x = _inputs(seconds, "cpu")
    gen = torch.Generator().manual_seed(0)

    def run():
        return cpu_synth.infer(*x, generator=gen, chunk_frames=CHUNKS[chunk])

    run()  # warm-up (one-time allocations, oneDNN kernel selection)
    peak = _peak_cpu_bytes(run)
    out = benchmark.pedantic(run, rounds=ROUNDS[seconds], iterations=1)
    assert out.shape == (1, 1, seconds * 48000)
    _record(benchmark, seconds, "cpu", peak)


@pytest.mark.benchmark(group="synth-v2-48k-applio-vocoders-cpu")
@pytest.mark.parametrize("vocoder", ["MRF HiFi-GAN", "RefineGAN"])
def test_infer_applio_vocoders_1s_cpu_one_thread(benchmark, vocoder: str) -> None:
    """Applio's other decoders at real widths, 1 s of audio, one thread (the shared-box setting)."""
    synth = _build("cpu", vocoder)
    x = _inputs(1, "cpu")
    gen = torch.Generator().manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        def run():
            return synth.infer(*x, generator=gen)

        run()
        peak = _peak_cpu_bytes(run)
        out = benchmark.pedantic(run, rounds=3, iterations=1)
        assert out.shape == (1, 1, 48000)
        _record(benchmark, 1, "cpu", peak)
        benchmark.extra_info["vocoder"] = vocoder
    finally:
        torch.set_num_threads(threads)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.benchmark(group="synth-v2-48k-cuda")
@pytest.mark.parametrize("seconds", SECONDS)
def test_infer_v2_48k_cuda(benchmark, seconds: int) -> None:
    synth = _build("cuda")
    x = _inputs(seconds, "cuda")
    gen = torch.Generator(device="cuda").manual_seed(0)

    def run():
        out = synth.infer(*x, generator=gen)
        torch.cuda.synchronize()
        return out

    run()  # warm-up: cuDNN algorithm selection
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    run()
    peak = torch.cuda.max_memory_allocated() - before
    out = benchmark.pedantic(run, rounds=5, iterations=1)
    assert out.shape == (1, 1, seconds * 48000)
    _record(benchmark, seconds, "cuda", peak)
