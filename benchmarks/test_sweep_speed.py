"""Speed of the epoch sweep on ten real-size checkpoints (pytest-benchmark; no timed asserts).

Reuses the ten ``G_*.pth`` of ``benchmarks/test_provenance_speed.py`` (RVC's real v2-48k widths with
a full AdamW state: ~450 MB each, 4.5 GB in all), generated once into ``$RVCQA_BENCH_CACHE`` or
``~/.cache/rvcqa/bench`` (never committed; built here when absent). A sibling folder in the cache
links them next to stand-in training data (``fixtures.build_data.build_dataset``: 8 LJ Speech slices
of 2-3.7 s, stand-in features and F0) and the run's ``train.log``.

What is timed: ``rvcqa.sweep.run_sweep`` with the profile's default sample (4 training segments +
2 set-aside, each cut to its loudest 1.0 s with 0.2 s of context either side) over all ten
candidates, including loading each memory-mapped file, identifying the released model, the metrics,
the WAVs and the plot. Per-candidate load / model / metric seconds go to ``extra_info``.

torch runs on one thread here: the development machine is a shared 2-core box, where two threads
were 3-4x slower than one (contention). Run: ``python -m pytest benchmarks/test_sweep_speed.py``.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

pytest.importorskip("pytest_benchmark")
torch = pytest.importorskip("torch")

from fixtures.build_models import REAL, Spec, build_cached  # noqa: E402

EPOCHS = tuple(range(22, 22 * 11, 22))  # the provenance benchmark's ten checkpoints: G_396 ... G_3960
SPEC = Spec(  # identical to benchmarks/test_provenance_speed.py, so the same cached files are used
    name="bench", widths=tuple(REAL.items()), epochs=EPOCHS, source_epoch=EPOCHS[3], optimizer="adam",
    with_d=False, pretrained=False,
)


def _cache_dir() -> Path:
    return Path(os.environ.get("RVCQA_BENCH_CACHE", Path.home() / ".cache" / "rvcqa" / "bench"))


@pytest.fixture(scope="module")
def sweep_dir():
    """``<cache>/sweep/logs/bench``: links to the ten G files and bench.pth, plus training data."""
    from fixtures.build_data import build_dataset

    built = build_cached(_cache_dir(), SPEC)
    root = _cache_dir() / "sweep" / "logs" / "bench"
    done = root.parent.parent / ".complete"
    if not done.is_file():
        import shutil

        if root.exists():
            shutil.rmtree(root)
        build_dataset(root.parent, name="bench", n_segments=8, seed=0)
        for src in [*built.checkpoints.values(), built.inference, built.root / "train.log"]:
            (root / src.name).symlink_to(src)
        done.write_text("ok")
    return root


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_sweep_10_real_checkpoints(benchmark, sweep_dir, tmp_path, one_thread):
    from rvcqa.checks import sweep as checks
    from rvcqa.context import ModelContext, Options
    from rvcqa.modeldir import discover
    from rvcqa.profile import default_thresholds

    lines: list[str] = []
    results: list = []

    def run():
        ctx = ModelContext(discover(sweep_dir), Options(results_dir=tmp_path / "results", sweep=True),
                           default_thresholds())
        ctx.progress = lambda line: (lines.append(f"{time.strftime('%H:%M:%S')} {line}"), print(line, flush=True))
        results.append(checks.sweep_result(ctx))

    benchmark.pedantic(run, rounds=1, iterations=1)
    result = results[-1]
    assert len(result.rows) == 10 and all(r.error is None for r in result.rows)
    assert result.rows[result.released_index].candidate.label == f"G_{EPOCHS[3] * 18}.pth"
    assert result.recommendation is not None and result.plot_path is not None
    per = []
    for r in result.rows:
        segs = (r.train.per_segment if r.train else []) + (r.heldout.per_segment if r.heldout else [])
        model_s = sum(s["seconds_model"] for s in segs)
        per.append({"candidate": r.candidate.label, "seconds": round(r.seconds, 1), "model_seconds": round(model_s, 1),
                    "audio_seconds": round(sum(s["seconds_audio"] for s in segs), 2),
                    "model_input_seconds": round(sum(s["seconds_model_input"] for s in segs), 2)})
    sizes = [p.stat().st_size for p in sweep_dir.glob("G_*.pth")]
    benchmark.extra_info.update(
        candidates=len(result.rows), checkpoint_mb=round(sum(sizes) / len(sizes) / 1e6, 1),
        total_seconds=round(result.seconds, 1), torch_threads=1, per_candidate=per, progress=lines,
        cpu_count=os.cpu_count(), load_average=os.getloadavg(),
    )
    print(result.table())
