"""The ``rvcqa`` command: ``inspect`` a folder, run the gate on the ``demo`` model.

Bad input ends with one line on stderr and exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from rvcqa.errors import RvcqaError


def _cmd_inspect(args: argparse.Namespace) -> int:
    from rvcqa.inspect import format_text, inspect_model_dir
    from rvcqa.modeldir import discover, resolve_model_dir_arg

    path, _ = resolve_model_dir_arg(args.model_dir)
    md = discover(path, model_file=args.model_file, train_log=args.train_log)
    summary = inspect_model_dir(md)
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        print(format_text(summary))
    return 1 if summary["problems"] else 0


def _cmd_demo(args: argparse.Namespace) -> int:
    """Build (once) the demo model directory, run the quality gate on it, write the report."""
    from rvcqa.demo import run_demo

    return run_demo(Path(args.results), list(args.pytest_args))


def _cmd_report(args: argparse.Namespace) -> int:
    """Run the checks on model directories (no pytest) and write the Markdown + HTML report."""
    from rvcqa.report.command import run_report

    return run_report(args)


def _cmd_sweep(args: argparse.Namespace) -> int:
    """Rank every saved checkpoint by resynthesis quality; recommend one; flag overtraining."""
    from rvcqa.sweep import command

    return command(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rvcqa", description="Quality gate for RVC voice models")
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

    from rvcqa.sweep import add_arguments as _sweep_arguments

    p = sub.add_parser("sweep", help="rank every saved checkpoint (G_*.pth, per-epoch files) by measured quality "
                                     "and recommend which to release")
    _sweep_arguments(p)
    p.set_defaults(func=_cmd_sweep)

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
