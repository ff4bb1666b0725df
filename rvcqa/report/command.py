"""``rvcqa report DIR... [--out PATH]``: run the checks (without pytest) and write the report.

Mirrors the plugin's options (``--reference-model``, ``--pretrained``, ``--train-log``,
``--hubert``, ``--rmvpe``, ``--reference-audio``, ``--results``, ``--segments``, ...). Each model gets
a :class:`~rvcqa.context.ModelContext`, every check module's ``run`` is called through
``ctx.findings(module)`` (the same cached findings the quality tests assert on), then the report,
the optional baseline comparison and the JSON results are written.

Exit status: 0 the gate passes, 1 a check failed or a measurement regressed, 2 bad input.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rvcqa.baseline import baseline_path_type, parse_compare_fail, save_path_type
from rvcqa.options import device_type, segments_type, threshold_type, transpose_type
from rvcqa.report.collect import ModelReport
from rvcqa.session import ContextRequest, build_contexts

#: the check suites ``--checks`` chooses from, by the names the gate's markers use (rvcqa_training ...)
SUITES = ("structure", "provenance", "dataset", "training", "perceptual")
#: other accepted spellings (the training suite's module is rvcqa.checks.trainlog)
SUITE_ALIASES = {"trainlog": "training", "hypotheses": "training"}
#: suite name -> the short names of its check modules (where they differ from the suite name)
SUITE_MODULES = {"training": ["trainlog", "history"]}


def checks_type(text: str) -> list[str]:
    """``structure,training`` -> the suites to run (``trainlog`` is accepted for ``training``)."""
    names = [n.strip() for n in text.replace(" ", ",").split(",") if n.strip()]
    names = [SUITE_ALIASES.get(n, n) for n in names]
    bad = [n for n in names if n not in SUITES]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"unknown check suite(s) {', '.join(bad) or '(none)'}; choose from "
                                         f"{', '.join(SUITES)}")
    return names


def module_names(suites: list[str]) -> list[str]:
    """The check modules' short names for ``suites`` (what :func:`~rvcqa.report.collect.collect` takes)."""
    return [module for n in suites for module in SUITE_MODULES.get(n, [n])]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model_dirs", nargs="+", metavar="DIR", help="experiment folder(s), e.g. logs/lexi")
    p.add_argument("--out", default="rvcqa-results/report", metavar="PATH",
                   help="report path: PATH.md + PATH.html (default rvcqa-results/report)")
    p.add_argument("--model-file", default=None, metavar="PATH", help="inference .pth kept outside the folder")
    p.add_argument("--reference-model", default=None, metavar="PATH", help="a known-good model to compare with")
    p.add_argument("--reference-audio", action="append", default=[], metavar="PATH",
                   help="audio file or folder to convert (default: bundled speech clips); repeatable")
    p.add_argument("--hubert", default=None, metavar="PATH", help="RVC's hubert_base.pt")
    p.add_argument("--rmvpe", default=None, metavar="PATH", help="RVC's rmvpe.pt")
    p.add_argument("--pretrained", default=None, metavar="PATH", help="the pretrained base G")
    p.add_argument("--train-log", default=None, metavar="PATH", help="captured training stdout")
    p.add_argument("--results", "--rvcqa-results", dest="results", default=None, metavar="DIR",
                   help="where converted audio goes (default ./rvcqa-results/NAME/)")
    p.add_argument("--segments", type=segments_type, default=8, metavar="N|all", help="segments to resynthesise")
    p.add_argument("--transpose", type=transpose_type, default=0, metavar="SEMITONES",
                   help="pitch shift for the conversion checks, -24..24 semitones as in RVC's UI (default 0)")
    p.add_argument("--device", type=device_type, default="cpu", metavar="cpu|cuda|auto",
                   help="device to run the model on; auto = cuda when torch sees a GPU (default cpu)")
    p.add_argument("--threshold", action="append", type=threshold_type, default=[], metavar="KEY=VALUE",
                   help="override one threshold of the profile; repeatable")
    p.add_argument("--checks", type=checks_type, default=list(SUITES), metavar="LIST",
                   help=f"check suites to run, comma-separated (default all: {','.join(SUITES)}; trainlog = training)")
    p.add_argument("--no-plots", action="store_true", help="write the report without pictures")
    p.add_argument("--json", default=None, metavar="PATH", help="also write findings and measurements as JSON")
    p.add_argument("--save-baseline", type=save_path_type, default=None, metavar="PATH",
                   help="save the measurements as a baseline")
    p.add_argument("--baseline", type=baseline_path_type, default=None, metavar="PATH",
                   help="compare with a saved baseline; a regression makes the exit status 1")
    p.add_argument("--compare-fail", action="append", type=parse_compare_fail, default=[], metavar="EXPR",
                   help='tolerances, e.g. "flatness:+0.02 mel_distance:5%%"')
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")


def context_request(args: argparse.Namespace) -> ContextRequest:
    """``rvcqa report``'s arguments as a :class:`~rvcqa.session.ContextRequest`."""
    return ContextRequest(
        model_dirs=list(args.model_dirs), cwd=Path.cwd(), model_file=args.model_file, train_log=args.train_log,
        reference_model=args.reference_model, pretrained=args.pretrained, hubert=args.hubert, rmvpe=args.rmvpe,
        reference_audio=list(args.reference_audio), results=args.results, results_flag="--results",
        segments=args.segments, transpose=args.transpose, device=args.device, threshold_cli=list(args.threshold),
    )


def console_line(rep: ModelReport) -> str:
    """``NAME: VERDICT; failed: ids`` and, when one check explains the verdict, why in its own words."""
    failed = rep.failed()
    line = f"{rep.name}: {rep.verdict}; failed: {', '.join(f.check for f in failed) or '-'}"
    if len(failed) == 1:
        why = failed[0].message.split("\n", 1)[0]
        line += f" ({why[:157] + '...' if len(why) > 160 else why})"
    return line


def run_report(args: argparse.Namespace) -> int:
    from rvcqa.report import write_report
    from rvcqa.report.collect import collect

    def say(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    contexts = build_contexts(context_request(args)).models
    reports = []
    for ctx in contexts:
        ctx.progress = lambda line, _n=ctx.name: say(f"  {_n}: {line}")
        say(f"rvcqa report: checking {ctx.name} ({ctx.md.root}): {', '.join(args.checks)}")
        rep = collect(ctx, run_missing=True, only=module_names(args.checks))
        reports.append(rep)
        c = rep.counts()
        say(f"rvcqa report: {ctx.name}: {rep.verdict} ({c['passed'] + c['warning']} passed ({c['warning']} with a "
            f"warning), {c['failed']} failed, {c['skipped']} skipped)")
    status = 1 if any(r.verdict == "FAIL" for r in reports) else 0
    current = {r.name: r.snapshot() for r in reports}
    if args.baseline is not None:
        from rvcqa.baseline import compare, format_lines, load

        tolerances = [t for group in args.compare_fail for t in group]
        result = compare(load(args.baseline), current, tolerances, baseline_path=str(args.baseline))
        for line in format_lines(result):
            print(line)
        if result.failed:
            status = 1
    elif args.compare_fail:
        print("rvcqa report: --compare-fail needs --baseline PATH", file=sys.stderr)
        return 2
    if args.save_baseline is not None:
        from rvcqa.baseline import document, save

        print(f"baseline: {save(args.save_baseline, document(current))}")
    if args.json:
        import json

        from rvcqa.baseline import save

        doc = {"format": "rvcqa-results", "version": 1,
               "models": {r.name: {**{k: v for k, v in r.to_dict().items() if k != "facts"}, "verdict": r.verdict}
                          for r in reports}}
        print(f"results JSON: {save(args.json, json.loads(json.dumps(doc, default=str)))}")
    paths = write_report(reports, args.out, plots=not args.no_plots)
    for r in reports:
        print(console_line(r))
    pictures = f"{paths.pictures} picture{'s' if paths.pictures != 1 else ''}" if not paths.plots_note \
        else f"no pictures: {paths.plots_note}"
    print(f"report: {paths.markdown}\nreport: {paths.html} ({pictures})")
    return status
