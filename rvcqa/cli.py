"""The ``rvcqa`` command: ``inspect`` a folder, ``report`` on it, ``sweep`` its checkpoints, list the
``thresholds``, run the gate on the ``demo`` model. The gate itself is ``pytest --model-dir``.

Bad input ends with one line on stderr and exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import Sequence

from rvcqa.errors import RvcqaError


def _cmd_inspect(args: argparse.Namespace) -> int:
    from rvcqa.inspect import format_text, inspect_model_dir
    from rvcqa.session import ContextRequest, build_contexts

    req = ContextRequest([args.model_dir], model_file=args.model_file, train_log=args.train_log, writes_results=False)
    ctx = build_contexts(req).models[0]
    summary = inspect_model_dir(ctx.md)
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        print(format_text(summary))
    return 1 if summary["problems"] else 0


def _cmd_demo(args: argparse.Namespace) -> int:
    """Build (once) the demo model directory and run the quality gate on it."""
    import subprocess

    from rvcqa.demo import demo_model_dir

    demo = demo_model_dir(progress=True)
    results = Path(args.results).resolve()
    pytest_args = ["--model-dir", str(demo), "--rvcqa-results", str(results), "-p", "no:cacheprovider", "-q"]
    pytest_args += list(args.pytest_args)
    print(f"rvcqa demo: gating {demo}", flush=True)
    # a fresh interpreter: pytest then rewrites rvcqa's asserts itself instead of warning that this
    # process imported rvcqa first (PytestAssertRewriteWarning)
    code = subprocess.call([sys.executable, "-m", "pytest", *pytest_args])
    verdict = "PASSED" if code == 0 else "FAILED"
    print(f"\nrvcqa demo: the gate {verdict} (pytest exit status {code}); results in {results}")
    return code


def _cmd_report(args: argparse.Namespace) -> int:
    """Run the checks on model directories (no pytest) and write the Markdown + HTML report."""
    from rvcqa.report.command import run_report

    return run_report(args)


def _cmd_sweep(args: argparse.Namespace) -> int:
    """Rank every saved checkpoint by resynthesis quality; recommend one; flag overtraining."""
    from rvcqa.sweep.command import command

    return command(args)


def _cmd_watch(args: argparse.Namespace) -> int:
    """Follow a running training: judge each checkpoint as it lands, say when to stop."""
    from rvcqa.watch.command import command

    return command(args)


def _cmd_thresholds(args: argparse.Namespace) -> int:
    """Every threshold key, its default and where the default comes from (or the keys asked for)."""
    from rvcqa.profile import close_keys, threshold_docs

    docs = threshold_docs()
    known = {d.key: d for d in docs}
    wanted = list(args.keys) or list(known)
    unknown = [k for k in wanted if k not in known]
    if unknown:
        for key in unknown:
            close = close_keys(key, known)
            hint = f"; did you mean {', '.join(close)}?" if close else "; `rvcqa thresholds` lists them all"
            print(f"rvcqa: unknown threshold {key!r}{hint}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([{"key": k, "default": known[k].default, "module": known[k].module,
                           "reason": known[k].reason} for k in wanted], indent=2, default=str))
        return 0
    for key in wanted:
        doc = known[key]
        print(f"{key} = {doc.default!r}    ({doc.module})")
        if args.why or args.keys:
            print(textwrap.fill(doc.reason, width=100, initial_indent="    ", subsequent_indent="    "))
    if not args.why and not args.keys:
        print("\nrvcqa thresholds KEY... (or --why) says where each default comes from; override one with "
              "--rvcqa-threshold KEY=VALUE, [tool.rvcqa.thresholds] or a rvcqa_threshold marker")
    return 0


def _version() -> str:
    from rvcqa import __version__

    return f"rvcqa {__version__}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rvcqa", description="Quality gate for RVC voice models. The gate itself runs under pytest: "
                                  "pytest --model-dir logs/NAME (see pytest --help, section rvcqa).",
        epilog="examples: pytest --model-dir logs/lexi | rvcqa report logs/lexi | rvcqa inspect logs/lexi | "
               "rvcqa thresholds --why")
    parser.add_argument("--version", action="version", version=_version(), help="print rvcqa's version and exit")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("inspect", help="summarise a model directory (files, config, layers, checkpoints, data, log)")
    p.add_argument("model_dir", help="experiment folder, e.g. logs/lexi")
    p.add_argument("--model-file", default=None, help="inference .pth kept elsewhere (assets/weights/NAME.pth)")
    p.add_argument("--train-log", default=None, help="captured training stdout")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_inspect)

    from rvcqa.report.command import add_arguments as _report_arguments

    p = sub.add_parser("report", help="run the checks and write the diagnosis report (Markdown + self-contained HTML)")
    _report_arguments(p)
    p.set_defaults(func=_cmd_report)

    from rvcqa.sweep.command import add_arguments as _sweep_arguments

    p = sub.add_parser("sweep", help="rank every saved checkpoint (G_*.pth, per-epoch files) by measured quality "
                                     "and recommend which to release")
    _sweep_arguments(p)
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser("thresholds", help="list every threshold key with its default and where the default "
                                          "comes from")
    p.add_argument("keys", nargs="*", metavar="KEY", help="only these keys (an unknown one gets a close-match hint)")
    p.add_argument("--why", action="store_true", help="print where every default comes from")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_thresholds)

    from rvcqa.watch.command import add_arguments as _watch_arguments

    p = sub.add_parser("watch", help="follow a running training from outside: judge each checkpoint as it is "
                                     "saved and say when to stop")
    _watch_arguments(p)
    p.set_defaults(func=_cmd_watch)

    p = sub.add_parser("demo", help="run the quality gate on the built-in demo model")
    p.add_argument("--results", default="rvcqa-results", help="results folder (default ./rvcqa-results)")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help="extra pytest arguments after --")
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "pytest_args", None) and args.pytest_args[:1] == ["--"]:
        args.pytest_args = args.pytest_args[1:]
    try:
        return int(args.func(args))
    except RvcqaError as error:
        print(f"rvcqa: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
