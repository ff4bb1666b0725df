"""Speed of provenance on real-size checkpoints (pytest-benchmark; no timed asserts).

Ten ``G_*.pth`` at RVC's real v2-48k widths with a full AdamW state (exp_avg and exp_avg_sq per
parameter: ~450 MB each, 4.5 GB in all) are generated once into a cache folder and reused:
``$RVCQA_BENCH_CACHE`` or ``~/.cache/rvcqa/bench`` (never committed; delete it to regenerate).
Target: identifying the source of an inference model among them takes seconds, not minutes,
because only a fingerprint (a few elements of six small tensors) is read from each memory-mapped
file and the full comparison runs on the one candidate whose fingerprint matches.

Run: ``python -m pytest benchmarks/test_provenance_speed.py``. Timings after the first run are with
the files in the OS page cache; the first run after generation is the same (just written).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("pytest_benchmark")
torch = pytest.importorskip("torch")

from fixtures.build_models import REAL, Spec, build_cached  # noqa: E402
from rvcqa.checkpoint import load_training_checkpoint, save_inference_model  # noqa: E402
from rvcqa.checks import provenance  # noqa: E402
from rvcqa.context import ModelContext, Options  # noqa: E402
from rvcqa.modeldir import discover  # noqa: E402
from rvcqa.weights import identical_fp16, inference_part  # noqa: E402

EPOCHS = tuple(range(22, 22 * 11, 22))  # 10 checkpoints: G_396 ... G_3960
SPEC = Spec(
    name="bench", widths=tuple(REAL.items()), epochs=EPOCHS, source_epoch=EPOCHS[3], optimizer="adam",
    with_d=False, pretrained=False,
)


def _cache_dir() -> Path:
    return Path(os.environ.get("RVCQA_BENCH_CACHE", Path.home() / ".cache" / "rvcqa" / "bench"))


@pytest.fixture(scope="module")
def bench():
    built = build_cached(_cache_dir(), SPEC)
    final = built.rvc_root / "weights" / "bench_final.pth"  # a second model: extracted from the latest G
    if not final.exists():
        last = load_training_checkpoint(built.checkpoints[EPOCHS[-1]])
        save_inference_model(final, last.model, built.config, sr="48k", f0=1, version="v2",
                             info=f"{EPOCHS[-1]}epoch")
    sizes = [p.stat().st_size for p in built.checkpoints.values()]
    return built, final, sizes


def _search(root: Path, model_file: Path | None = None):
    ctx = ModelContext(discover(root, model_file=model_file), Options())
    return provenance.find_source(ctx)


def test_find_source_early_extract_10_real_checkpoints(benchmark, bench):
    built, _, sizes = bench
    benchmark.extra_info.update(checkpoints=len(sizes), checkpoint_mb=round(sum(sizes) / len(sizes) / 1e6, 1),
                                total_gb=round(sum(sizes) / 1e9, 2))
    search = benchmark.pedantic(lambda: _search(built.root), rounds=3, iterations=1, warmup_rounds=1)
    assert [c.path.name for c in search.matches] == [f"G_{EPOCHS[3] * 18}.pth"]
    assert search.latest.path.name == f"G_{EPOCHS[-1] * 18}.pth"


def test_find_source_latest_10_real_checkpoints(benchmark, bench):
    built, final, _ = bench
    search = benchmark.pedantic(lambda: _search(built.root, final), rounds=3, iterations=1, warmup_rounds=1)
    assert search.source.path.name == f"G_{EPOCHS[-1] * 18}.pth"


def test_all_provenance_checks_10_real_checkpoints(benchmark, bench):
    """Every provenance check, including the checkpoint table (epoch, lr, mtime of each file)."""
    built, _, _ = bench

    def run():
        return provenance.run(ModelContext(discover(built.root), Options()))

    found = {f.check: f for f in benchmark.pedantic(run, rounds=3, iterations=1)}
    assert found["provenance.latest_checkpoint"].failed


def test_baseline_safe_load_of_every_checkpoint(benchmark, bench):
    """The baseline the fast reader avoids: torch.load(weights_only, mmap) of each of the ten files
    (rebuilding ~2,300 tensors each, optimizer state included) and an fp16 comparison (early exit)."""
    built, _, _ = bench
    inf = torch.load(built.inference, map_location="cpu", weights_only=True, mmap=True)["weight"]

    def run():
        return [identical_fp16(inf, inference_part(load_training_checkpoint(p).model))
                for p in built.checkpoints.values()]

    result = benchmark.pedantic(run, rounds=1, iterations=1)
    assert sum(result) == 1
