"""``rvcqa watch``: judge each checkpoint of a running training as soon as it is completely saved.

The fixed sample (the sweep's training segments and set-aside slice, plus the speaker's held-out
recordings when given) is prepared and analysed once, the network is built once, and every new
``G_*.pth`` / per-epoch file is read memory-mapped, copied into it and measured: one line per
checkpoint, an always-current page in the results folder, and the call once the numbers earn it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from rvcqa.errors import CheckpointError, RvcqaError
from rvcqa.sweep.loading import NetworkCache, read_candidate
from rvcqa.sweep.measure import window_pool
from rvcqa.sweep.model import SweepCandidate, SweepRow
from rvcqa.sweep.render import fmt
from rvcqa.sweep.run import Sample, build_sample, measure_candidate
from rvcqa.sweep.tolerances import Tolerances
from rvcqa.watch.follow import DoneSignal, Readiness, Seen, is_latest_only, list_checkpoints
from rvcqa.watch.heldout import Recordings, load_recordings
from rvcqa.watch.judge import Judge, Point
from rvcqa.watch.page import write_page

if TYPE_CHECKING:
    from rvcqa.context import ModelContext

Say = Callable[[str], None]
#: a complete-looking file that fails to load this many polls in a row, unchanged, is reported
LOAD_ATTEMPTS = 3


@dataclass
class WatchConfig:
    """How to follow: sample sizes, where held-out recordings are, how often to look, when to give up."""

    segments: int = 4
    heldout_segments: int = 2
    window_s: Optional[float] = 1.0
    seed: int = 1234
    heldout_dir: Optional[Path] = None
    hubert: Optional[Path] = None
    poll_s: float = 10.0
    settle_s: float = 2.0
    max_wait_s: Optional[float] = None
    workers: int = 1  # windows synthesised at once (one torch thread each)
    tolerances: Tolerances = field(default_factory=Tolerances)


@dataclass
class _Tries:
    version: tuple[int, int]
    failures: int = 0


class Watcher:
    """Follows one experiment folder; :meth:`run` returns when training is done or time is up."""

    def __init__(self, ctx: ModelContext, out_dir: Path, config: WatchConfig, say: Say):
        self.ctx = ctx
        self.root = ctx.md.root
        self.name = ctx.md.name
        self.out_dir = out_dir
        self.config = config
        self.say = say
        self.readiness = Readiness(config.settle_s)
        log = ctx.md.train_log or self.root / "train.log"
        self.done = DoneSignal(log, self.root / "config.json")
        self.sample: Optional[Sample] = None
        self.recordings = Recordings(reason="not prepared yet")
        self.judge: Optional[Judge] = None
        self.net = NetworkCache("cpu")
        self.pool = window_pool(config.workers)
        self.judged: dict[Path, tuple[int, int]] = {}
        self.steps: dict[int, str] = {}  # step -> the file judged for it
        self.tries: dict[Path, _Tries] = {}
        self.damaged: dict[Path, str] = {}
        self.printed_calls: set[tuple[str, Optional[int]]] = set()
        self.waiting_note = ""
        self.stopped = ""

    # ------------------------------------------------------------------ setup
    def _prepare(self) -> bool:
        """Build the sample once the folder can tell the network's shape; False: not yet."""
        if self.sample is not None:
            return True
        try:
            epoch_files = [SweepCandidate(s.path, "epoch", s.step, s.epoch)
                           for s in list_checkpoints(self.root, self.name) if s.kind == "epoch"
                           and self.readiness.version(s.path) is not None]
            sample = build_sample(self.ctx, epoch_files, segments=self.config.segments, heldout_segments=self.config.heldout_segments,
                                  window_s=self.config.window_s, seed=self.config.seed, pool=self.pool)
        except RvcqaError as error:
            note = f"rvcqa watch: cannot judge yet: {error}"
            if note != self.waiting_note:
                self.say(note)
                self.waiting_note = note
            return False
        self.sample = sample
        frames = max(int(round(self.config.window_s * 100)), 50) if self.config.window_s else None
        self.recordings = load_recordings(self.config.heldout_dir, self.config.hubert,
                                          version=sample.facts.version or "v2", sr=sample.sr, hop=sample.hop,
                                          f0=sample.f0, frames=frames)
        metric = "recordings" if self.recordings.refs else sample.rank_on
        self.judge = Judge(metric, self.config.tolerances)
        slice_name = "held-out slice" if sample.heldout.kind == "not_in_filelist" else "set-aside slice"
        self.say(f"rvcqa watch: sample: {len(sample.train)} training segments, {len(sample.held)} in the "
                 f"{slice_name} ({sample.heldout.kind}); network from {sample.facts.source}")
        if self.recordings.refs:
            self.say(f"rvcqa watch: held-out: {len(self.recordings.refs)} recordings of the speaker "
                     f"(content features: {self.recordings.source})")
        else:
            self.say(f"rvcqa watch: held-out recordings: {self.recordings.reason}")
        self.say(f"rvcqa watch: {self.judge.describe()}")
        return True

    # ------------------------------------------------------------------ one poll
    def poll(self) -> int:
        """Judge every newly completed checkpoint; returns how many listed files are still incomplete."""
        pending = 0
        for seen in list_checkpoints(self.root, self.name):
            if seen.path in self.damaged:
                continue
            version = self.readiness.version(seen.path)
            if version is None:
                if self.judged.get(seen.path) is None:
                    pending += 1
                continue
            if self.judged.get(seen.path) == version:
                continue
            if seen.path not in self.judged and not is_latest_only(seen) and seen.step in self.steps:
                self.judged[seen.path] = version  # the same save written twice (G_ and per-epoch file)
                continue
            if not self._prepare():
                pending += 1
                continue
            if not self._judge(seen, version):
                pending += 1
        return pending

    def _judge(self, seen: Seen, version: tuple[int, int]) -> bool:
        """False: the file could not be read yet (retried on the next poll)."""
        assert self.sample is not None and self.judge is not None
        cand = SweepCandidate(seen.path, seen.kind, seen.step, seen.epoch, plot_step=seen.step)
        t0 = time.perf_counter()
        try:
            loaded = read_candidate(self.ctx, cand, self.sample.facts)
        except CheckpointError as error:
            tries = self.tries.get(seen.path)
            if tries is None or tries.version != version:
                tries = self.tries[seen.path] = _Tries(version)
            tries.failures += 1
            if tries.failures >= LOAD_ATTEMPTS:
                self.damaged[seen.path] = str(error)
                self.say(f"watch {seen.path.name}: cannot be read after {tries.failures} tries with the file "
                         f"unchanged: {error}")
                return True
            return False
        row = SweepRow(cand)
        point = Point(row)
        try:
            measured, rec = measure_candidate(self.sample, self.net, loaded, None, self.pool,
                                              extra=self.recordings.refs)
            row.train, row.heldout = measured.train, measured.heldout
            if self.recordings.refs:
                point.recordings, point.recordings_n = rec.mel, rec.n
        except RvcqaError as error:
            row.error = str(error)
        row.seconds = time.perf_counter() - t0
        self.judged[seen.path] = version
        if not is_latest_only(seen):
            self.steps[seen.step] = seen.path.name
        self.judge.points.append(point)
        self.say(self._line(point))
        for call in self.judge.calls():
            key = (call.kind, call.epoch)
            if key not in self.printed_calls:
                self.printed_calls.add(key)
                self.say(f"rvcqa watch: {call.message}")
        self._write()
        return True

    def _line(self, point: Point) -> str:
        assert self.judge is not None and self.sample is not None
        row, c = point.row, point.row.candidate
        where = f"epoch {c.epoch}" + ("" if c.step is None or is_latest_only(
            Seen(c.path, c.kind, c.step, c.epoch)) else f" step {c.step}")
        head = f"watch {c.label} {where}"
        if row.error:
            return f"{head}: not measured ({row.error}) [{row.seconds:.1f} s]"
        slice_name = "held-out slice" if self.sample.heldout.kind == "not_in_filelist" else "set-aside"
        parts = [f"train {fmt(row.train.mel if row.train else None)}"]
        if row.heldout is not None:
            parts.append(f"{slice_name} {fmt(row.heldout.mel)}")
        if self.recordings.refs:
            parts.append(f"held-out {fmt(point.recordings)}")
        return f"{head}: {' / '.join(parts)}; trend: {self.judge.trend(point)} [{row.seconds:.1f} s]"

    def _write(self) -> None:
        if self.judge is not None and self.sample is not None:
            write_page(self.out_dir, self.name, self.judge, self.sample, self.recordings, status=self.stopped)

    # ------------------------------------------------------------------ the loop
    def run(self, *, sleep: Callable[[float], None] = time.sleep) -> int:
        """Follow until the log says training is done (then judge what is left) or ``max_wait_s``."""
        start = time.monotonic()
        self.say(f"rvcqa watch: following {self.root} (results in {self.out_dir}); checks every "
                 f"{self.config.poll_s:g} s" + (f", gives up after {self.config.max_wait_s:g} s"
                                                 if self.config.max_wait_s else ""))
        done_at: Optional[float] = None
        try:
            while True:
                finished = self.done.check()
                pending = self.poll()
                now = time.monotonic()
                if finished:
                    done_at = now if done_at is None else done_at
                    grace = max(3 * self.config.settle_s, 2 * self.config.poll_s, 5.0)
                    if pending == 0 or now - done_at > grace:
                        self.stopped = f"training is done ({self.done.message})"
                        if pending:
                            self.stopped += f"; {pending} file(s) still incomplete were not judged"
                        break
                if self.config.max_wait_s is not None and now - start >= self.config.max_wait_s:
                    self.stopped = f"--max-wait {self.config.max_wait_s:g} s reached"
                    break
                sleep(self.config.poll_s if not finished else min(self.config.poll_s, 1.0))
        except KeyboardInterrupt:
            self.stopped = "interrupted (Ctrl-C)"
        self.summary()
        return 0

    def close(self) -> None:
        """Stop the window workers (a later poll runs its windows inline)."""
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None

    def summary(self) -> None:
        """What the watch saw, and the recommendation (also on Ctrl-C)."""
        self.close()
        self._write()
        n = len(self.judge.points) if self.judge else 0
        self.say(f"rvcqa watch: stopped: {self.stopped}; {n} checkpoint{'s' if n != 1 else ''} judged")
        for path, why in self.damaged.items():
            self.say(f"rvcqa watch: not judged: {path.name}: {why}")
        if self.judge is None:
            self.say("rvcqa watch: recommendation: none (no checkpoint could be judged)")
            return
        self.say(f"rvcqa watch: {self.judge.describe()}")
        self.say(f"rvcqa watch: {self.judge.recommendation()}")
        self.say(f"rvcqa watch: table and plot: {self.out_dir / 'watch.html'}")

