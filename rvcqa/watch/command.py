"""``rvcqa watch logs/NAME``: follow a running training from outside, at low priority."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rvcqa.options import non_negative_seconds, positive_int, seconds_or_forever


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``rvcqa watch`` (see :func:`command`)."""
    from rvcqa.sweep.command import add_common_arguments

    add_common_arguments(p)
    p.add_argument("--heldout", default=None, metavar="DIR",
                   help="recordings of the target speaker kept out of training (.wav/.flac): the real "
                        "generalisation measure (needs --hubert)")
    p.add_argument("--hubert", default=None, metavar="PATH",
                   help="RVC's assets/hubert/hubert_base.pt, for the held-out recordings' content features")
    p.add_argument("--threads", type=positive_int, default=1, metavar="N",
                   help="cores to use: N windows at once, one torch thread each (default 1: the watch runs "
                        "beside a training, at low priority)")
    p.add_argument("--poll", type=non_negative_seconds, default=10.0, metavar="SECONDS",
                   help="how often to look for new checkpoints (default 10)")
    p.add_argument("--settle", type=non_negative_seconds, default=2.0, metavar="SECONDS",
                   help="a file must stay unchanged this long before it is read (default 2)")
    p.add_argument("--max-wait", type=seconds_or_forever, default=None, metavar="SECONDS|none",
                   help="stop after this long even if training has not said it is done (default: no limit)")


def _low_priority() -> None:
    """Stay out of the training's way: nice 10, one torch thread per window worker."""
    try:
        os.nice(10)
    except (AttributeError, OSError):  # pragma: no cover - not on this platform
        pass
    import torch

    torch.set_num_threads(1)


def command(args: argparse.Namespace, *, low_priority: bool = True) -> int:
    """Lines on stdout; exit status 0 when the watch ends (done, --max-wait, Ctrl-C); 2 on bad input."""
    from rvcqa.sweep.command import build_context
    from rvcqa.sweep.tolerances import Tolerances
    from rvcqa.watch.run import WatchConfig, Watcher

    ctx = build_context(args, sweep=False)
    if low_priority:
        _low_priority()
    assert ctx.options.results_dir is not None
    out_dir = ctx.options.results_dir / "watch"
    out_dir.mkdir(parents=True, exist_ok=True)
    window = ctx.threshold("sweep.window_s", 1.0)
    config = WatchConfig(
        segments=int(ctx.threshold("sweep.segments", 4)),
        heldout_segments=int(ctx.threshold("sweep.heldout_segments", 2)),
        window_s=float(window) if window else None, seed=args.seed,
        heldout_dir=Path(args.heldout) if args.heldout else None, hubert=ctx.options.hubert,
        poll_s=args.poll, settle_s=args.settle, max_wait_s=args.max_wait, workers=args.threads,
        tolerances=Tolerances.from_profile(ctx.threshold),
    )

    def say(line: str) -> None:
        if not args.quiet or not line.startswith("rvcqa watch: sample"):
            print(line, flush=True)

    print(f"rvcqa watch: {args.threads} window worker{'s' if args.threads != 1 else ''} (one torch thread "
          "each), low priority",
          file=sys.stderr, flush=True)
    return Watcher(ctx, out_dir, config, say).run()
