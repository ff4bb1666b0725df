"""Speed of the epoch sweep beside the hand method, and of the watch per added checkpoint.

Ten real-size checkpoints: the ten ``G_*.pth`` of ``benchmarks/test_provenance_speed.py`` (RVC's real
v2-48k widths with a full AdamW state: ~450 MB each, 4.5 GB in all), generated once into
``$RVCQA_BENCH_CACHE`` or ``~/.cache/rvcqa/bench`` (never committed; built here when absent). A
sibling folder in the cache links them next to stand-in training data
(``fixtures.build_data.build_dataset``: 8 LJ Speech slices of 2-3.7 s, stand-in features and F0) and
the run's ``train.log``.

Side by side, in one run (pytest-benchmark group ``sweep-10``):

- ``hand``: what a user does by hand: for each ``G_*.pth``, ``torch.load`` it whole (weights_only),
  build RVC's network (with ``enc_q``, RVC's init), load the state dict, fold weight norm, and
  synthesise the sweep's sample (the same six windows, 6 s of audio, 8 s of model input). No metric.
- ``sweep``: ``rvcqa.sweep.run_sweep`` with the profile's default sample over all ten, including
  identifying the released model, analysing the GT windows, the metrics, the WAVs, JSON and plot.
- ``watch``: one checkpoint added to a watched folder (listing, readiness, memory-mapped read into
  the kept network, the sample, the page) with as many window workers as the sweep used
  (``rvcqa watch --threads N``): compared with the sweep's cost per candidate.

The sweep runs a candidate's windows on ``rvcqa.sweep.measure.default_workers()`` threads (cores /
torch threads: two here), the hand loop on one: the machine's second core is what the sweep
gains on top of loading less. CPU seconds (both cores counted) show what each costs in all.

The ratios (hand / sweep, watch / sweep-per-candidate) go to ``extra_info`` and are printed, with
the load average before and after, and each candidate's seconds (the fastest candidate of each is
the one least disturbed by other work on a shared machine). torch
runs on one thread: the development machine is a shared 2-core box, where two threads were 3-4x
slower than one (contention). Run: ``python -m pytest benchmarks/test_sweep_speed.py -s``.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pytest_benchmark")
torch = pytest.importorskip("torch")

from fixtures.build_models import REAL, Spec, build_cached  # noqa: E402

EPOCHS = tuple(range(22, 22 * 11, 22))  # the provenance benchmark's ten checkpoints: G_396 ... G_3960
SPEC = Spec(  # identical to benchmarks/test_provenance_speed.py, so the same cached files are used
    name="bench", widths=tuple(REAL.items()), epochs=EPOCHS, source_epoch=EPOCHS[3], optimizer="adam",
    with_d=False, pretrained=False,
)
#: wall seconds measured in this run, by test (for the side-by-side ratios)
SECONDS: dict[str, float] = {}
#: CPU seconds of this process (all threads), by test: steadier than wall time on a shared machine
CPU: dict[str, float] = {}
#: wall seconds of each candidate of the hand loop (the least loaded one is the fairest to compare)
HAND_EACH: list[float] = []


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


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _ctx(root: Path, results: Path) -> Any:
    from rvcqa.context import ModelContext, Options
    from rvcqa.modeldir import discover
    from rvcqa.profile import default_thresholds

    return ModelContext(discover(root), Options(results_dir=results, sweep=True), default_thresholds())


def _machine() -> dict[str, Any]:
    from rvcqa.sweep.measure import default_workers

    return {"cpu_count": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()], "torch_threads": 1,
            "window_workers": default_workers(), "torch": torch.__version__}


@pytest.fixture(scope="module")
def sample(sweep_dir, tmp_path_factory):
    """The sweep's default sample for this folder (what the hand loop synthesises)."""
    from rvcqa.profile import default_thresholds
    from rvcqa.sweep.candidates import find_candidates
    from rvcqa.sweep.run import build_sample

    t = default_thresholds()
    ctx = _ctx(sweep_dir, tmp_path_factory.mktemp("sample"))
    return build_sample(ctx, find_candidates(ctx), segments=int(t["sweep.segments"]),
                        heldout_segments=int(t["sweep.heldout_segments"]), window_s=float(t["sweep.window_s"]),
                        seed=1234)


@pytest.mark.benchmark(group="sweep-10")
def test_hand_loop_10_real_checkpoints(benchmark, sweep_dir, sample):
    from rvcqa.resynth import run_model
    from rvcqa.synth.synthesizer import build_synthesizer

    inputs = [p.inputs for p in sample.prepared]
    paths = sorted(sweep_dir.glob("G_*.pth"), key=lambda p: int(p.stem[2:]))
    config = sample.facts.config

    def hand() -> None:
        for path in paths:
            t = time.perf_counter()
            ck = torch.load(path, map_location="cpu", weights_only=True)
            net = build_synthesizer(config, "v2", True, posterior=True)
            net.load_state_dict(ck["model"])
            net.fold_weight_norm()
            net.eval()
            with torch.no_grad():
                for x in inputs:
                    run_model(net, x)
            HAND_EACH.append(time.perf_counter() - t)

    load_before = [round(x, 2) for x in os.getloadavg()]
    t0, c0 = time.perf_counter(), time.process_time()
    benchmark.pedantic(hand, rounds=1, iterations=1)
    SECONDS["hand"], CPU["hand"] = time.perf_counter() - t0, time.process_time() - c0
    benchmark.extra_info.update(candidates=len(paths), audio_seconds=sum(p.frames for p in sample.prepared) / 100,
                                model_input_seconds=sum(x.frames for x in inputs) / 100,
                                per_candidate_seconds=[round(x, 2) for x in HAND_EACH], load_before=load_before,
                                **_machine())
    assert len(paths) == 10


@pytest.mark.benchmark(group="sweep-10")
def test_sweep_10_real_checkpoints(benchmark, sweep_dir, tmp_path):
    from rvcqa.checks import sweep as checks
    from rvcqa.sweep import format_table

    lines: list[str] = []
    results: list[Any] = []

    def run() -> None:
        ctx = _ctx(sweep_dir, tmp_path / "results")
        ctx.progress = lambda line: (lines.append(f"{time.strftime('%H:%M:%S')} {line}"), print(line, flush=True))
        results.append(checks.sweep_result(ctx))

    load_before = [round(x, 2) for x in os.getloadavg()]
    t0, c0 = time.perf_counter(), time.process_time()
    benchmark.pedantic(run, rounds=1, iterations=1)
    SECONDS["sweep"], CPU["sweep"] = time.perf_counter() - t0, time.process_time() - c0
    result = results[-1]
    assert len(result.rows) == 10 and all(r.error is None for r in result.rows)
    assert result.rows[result.released_index].candidate.label == f"G_{EPOCHS[3] * 18}.pth"
    assert result.recommendation is not None and result.plot_path is not None
    assert result.settings["network_reused"] == 9
    per = []
    for r in result.rows:
        segs = (r.train.per_segment if r.train else []) + (r.heldout.per_segment if r.heldout else [])
        model = sum(s["seconds_model"] for s in segs)
        per.append({"candidate": r.candidate.label, "seconds": round(r.seconds, 2), "model_seconds": round(model, 2),
                    "cores_busy": round(model / r.seconds, 2) if r.seconds else None})
    sizes = [p.stat().st_size for p in sweep_dir.glob("G_*.pth")]
    ratio = SECONDS["hand"] / SECONDS["sweep"] if "hand" in SECONDS else None
    benchmark.extra_info.update(
        candidates=len(result.rows), checkpoint_mb=round(sum(sizes) / len(sizes) / 1e6, 1),
        total_seconds=round(result.seconds, 1), per_candidate=per, progress=lines,
        hand_seconds=round(SECONDS.get("hand", float("nan")), 1), hand_over_sweep=ratio,
        cpu_seconds={k: round(v, 1) for k, v in CPU.items()},
        hand_over_sweep_cpu=CPU["hand"] / CPU["sweep"] if "hand" in CPU else None, load_before=load_before,
        hand_over_sweep_fastest_candidate=min(HAND_EACH) / min(r.seconds for r in result.rows) if HAND_EACH else None,
        **_machine(),
    )
    assert result.settings["workers"] == _machine()["window_workers"]
    print(format_table(result))
    if ratio is not None:
        print(f"hand loop {SECONDS['hand']:.1f} s, sweep {SECONDS['sweep']:.1f} s wall: the sweep is {ratio:.2f}x "
              f"faster; CPU {CPU['hand']:.1f} s vs {CPU['sweep']:.1f} s ({CPU['hand'] / CPU['sweep']:.2f}x); load "
              f"{load_before} before, {_machine()['load_average']} after")
    if HAND_EACH:
        fast = min(r.seconds for r in result.rows)
        print(f"fastest candidate (least disturbed by other load): hand {min(HAND_EACH):.1f} s, sweep {fast:.1f} s "
              f"({min(HAND_EACH) / fast:.2f}x)")


@pytest.mark.benchmark(group="watch-added")
def test_watch_added_checkpoint(benchmark, sweep_dir, tmp_path):
    """One more checkpoint landing in a watched folder, after the watch has set up on the first."""
    from rvcqa.profile import default_thresholds
    from rvcqa.watch.run import WatchConfig, Watcher

    root = tmp_path / "logs" / "bench"
    root.mkdir(parents=True)
    for entry in sweep_dir.iterdir():
        if not entry.name.startswith("G_") and entry.name != "bench.pth":
            (root / entry.name).symlink_to(entry.resolve())
    gs = sorted(sweep_dir.glob("G_*.pth"), key=lambda p: int(p.stem[2:]))
    (root / gs[0].name).symlink_to(gs[0].resolve())
    t = default_thresholds()
    from rvcqa.sweep.measure import default_workers

    config = WatchConfig(segments=int(t["sweep.segments"]), heldout_segments=int(t["sweep.heldout_segments"]),
                         window_s=float(t["sweep.window_s"]), poll_s=0.0, settle_s=0.0, workers=default_workers())
    said: list[str] = []
    watcher = Watcher(_ctx(root, tmp_path / "results"), tmp_path / "results" / "watch", config, said.append)
    assert watcher.poll() == 0 and len(watcher.judge.points) == 1  # setup: sample, network, first judged
    added = iter(gs[1:])

    def add_one() -> None:
        src = next(added)
        (root / src.name).symlink_to(src.resolve())
        watcher.poll()

    c0 = time.process_time()
    benchmark.pedantic(add_one, rounds=3, iterations=1)
    cpu_added = (time.process_time() - c0) / 3
    watcher.close()
    assert len(watcher.judge.points) == 4 and watcher.net.reused == 3
    per_added = benchmark.stats.stats.mean
    per_candidate = SECONDS["sweep"] / 10 if "sweep" in SECONDS else None
    benchmark.extra_info.update(seconds_per_added=round(per_added, 2),
                                sweep_seconds_per_candidate=None if per_candidate is None else round(per_candidate, 2),
                                watch_over_sweep_candidate=None if per_candidate is None else per_added / per_candidate,
                                cpu_seconds_per_added=round(cpu_added, 2),
                                sweep_cpu_seconds_per_candidate=round(CPU["sweep"] / 10, 2) if "sweep" in CPU else None,
                                lines=said, **_machine())
    if per_candidate is not None:
        print(f"watch: {per_added:.2f} s per added checkpoint vs the sweep's {per_candidate:.2f} s per candidate "
              f"({per_added / per_candidate:.2f}x); CPU {cpu_added:.2f} s vs {CPU['sweep'] / 10:.2f} s")
