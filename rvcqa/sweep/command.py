"""``rvcqa sweep DIR``: the sweep's command-line front end (a renderer: it may read the checks)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Optional

from rvcqa.context import ModelContext
from rvcqa.options import device_type, non_negative_int, positive_int, threshold_type, window_type


def add_common_arguments(p: argparse.ArgumentParser) -> None:
    """What ``rvcqa sweep`` and ``rvcqa watch`` share: the folder, the sample, the profile."""
    p.add_argument("model_dir", help="experiment folder, e.g. logs/lexi")
    p.add_argument("--model-file", default=None, metavar="PATH", help="the released inference .pth kept elsewhere")
    p.add_argument("--train-log", default=None, metavar="PATH", help="captured training stdout (for loss_mel)")
    p.add_argument("--results", default=None, metavar="DIR",
                   help="results folder (default ./rvcqa-results/NAME/)")
    p.add_argument("--segments", type=positive_int, default=None, metavar="N",
                   help="training segments per candidate (default: profile sweep.segments, 4)")
    p.add_argument("--window", type=window_type, default=None, metavar="SECONDS|all",
                   help="seconds kept per segment (default: profile sweep.window_s, 1.0)")
    p.add_argument("--seed", type=int, default=1234, help="segment selection seed (default 1234)")
    p.add_argument("--threshold", action="append", type=threshold_type, default=[], metavar="KEY=VALUE",
                   help="override one threshold (e.g. sweep.released_vs_best_mel=0.1); repeatable")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``rvcqa sweep`` (see :func:`command`)."""
    add_common_arguments(p)
    p.add_argument("--heldout", type=non_negative_int, default=None, metavar="N",
                   help="held-out segments per candidate (default: profile sweep.heldout_segments, 2)")
    p.add_argument("--device", type=device_type, default="cpu", metavar="cpu|cuda|auto")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the sweep as JSON here")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG")


def build_context(args: argparse.Namespace, *, heldout_segments: Optional[int] = None, device: str = "cpu",
                  sweep: bool = True) -> ModelContext:
    """The model context for a sweep-like command (:func:`rvcqa.session.build_contexts`), with the
    sample sizes given on the command line folded into the profile."""
    from rvcqa.session import ContextRequest, build_contexts

    cli: list[tuple[str, Any]] = list(args.threshold)
    if args.segments is not None:
        cli.append(("sweep.segments", args.segments))
    if heldout_segments is not None:
        cli.append(("sweep.heldout_segments", heldout_segments))
    if args.window is not None:
        cli.append(("sweep.window_s", args.window))
    req = ContextRequest([args.model_dir], model_file=args.model_file, train_log=args.train_log,
                         hubert=getattr(args, "hubert", None), results=args.results,
                         results_per_model=args.results is None, results_flag="--results", device=device,
                         seed=args.seed, sweep=sweep, threshold_cli=cli)
    return build_contexts(req).models[0]


def command(args: argparse.Namespace) -> int:
    """``rvcqa sweep DIR``: table on stdout, one progress line per candidate on stderr.

    Exit status 0; 1 when the released model is measurably worse than the best candidate
    (``sweep.released_vs_best`` fails); 2 on bad input (raised as :class:`RvcqaError`).
    """
    from rvcqa.checks import sweep as checks
    from rvcqa.sweep.candidates import find_candidates
    from rvcqa.sweep.render import format_table
    from rvcqa.sweep.run import write_json

    ctx = build_context(args, heldout_segments=args.heldout, device=args.device)
    if not args.quiet:
        ctx.progress = lambda line: print(line, file=sys.stderr, flush=True)
        n = len(find_candidates(ctx))
        print(f"rvcqa sweep: {n} candidate{'s' if n != 1 else ''} in {ctx.md.root}", file=sys.stderr, flush=True)
    result = checks.sweep_result(ctx, plot=not args.no_plot)
    print(format_table(result))
    if args.json:
        write_json(Path(args.json), result.to_dict())
    found = ctx.findings(checks)
    return 1 if any(f.failed for f in found.values()) else 0
