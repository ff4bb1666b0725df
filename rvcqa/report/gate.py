"""The pytest side of the report, baselines and CI gating: options and what the hooks do.

``rvcqa/plugin.py`` calls :func:`add_options` from its ``pytest_addoption``, and the methods of its
session object call the functions here. Cheap to import: no torch, no matplotlib.

End of a session (serial, or the xdist controller after merging the workers' results):
1. one :class:`~rvcqa.report.collect.ModelReport` per model from the findings the tests asserted on;
2. ``--rvcqa-baseline``: compare measurements, fail the session on a regression (exit status 1);
3. ``--rvcqa-save-baseline``: write this run's measurements (atomically);
4. ``--rvcqa-report`` / ``--rvcqa-json``: write the report / the machine-readable results;
5. the terminal summary lists regressions with old and new values and the files written.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

from rvcqa import xdist as xd
from rvcqa.baseline import baseline_path_type, parse_compare_fail, save_path_type

_STATE_KEY = pytest.StashKey["GateState"]()


def add_options(group: Any) -> None:
    """The report, baseline and gating options, added to the plugin's ``rvcqa`` option group."""
    group.addoption("--rvcqa-report", dest="rvcqa_report", default=None, metavar="PATH",
                    help="write the diagnosis report: PATH.md + PATH.html (self-contained; a folder gets "
                         "report.md/report.html); pictures need matplotlib")
    group.addoption("--rvcqa-json", dest="rvcqa_json", default=None, metavar="PATH",
                    help="write every model's findings, measurements and verdict as JSON")
    group.addoption("--rvcqa-save-baseline", dest="rvcqa_save_baseline", default=None, type=save_path_type,
                    metavar="PATH", help="save this run's measurements per model as a baseline (JSON)")
    group.addoption("--rvcqa-baseline", dest="rvcqa_baseline", default=None, type=baseline_path_type,
                    metavar="PATH", help="compare the measurements with a saved baseline; a regression beyond "
                                         "tolerance fails the run")
    group.addoption("--rvcqa-compare-fail", dest="rvcqa_compare_fail", action="append", default=[],
                    type=parse_compare_fail, metavar="EXPR",
                    help="tolerances for --rvcqa-baseline, e.g. \"flatness:+0.02 mel_distance:5%%\" (METRIC:[+|-]"
                         "NUMBER[%%]; METRIC matches names ending in _METRIC, or a glob); repeatable")


@dataclass
class GateState:
    reports: dict[str, Any] = field(default_factory=dict)  # model name -> ModelReport (merged)
    workers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    baseline_doc: dict[str, Any] | None = None
    baseline_result: Any = None
    sweep_tables: dict[str, str] = field(default_factory=dict)  # model name -> table a worker sent
    model_scheduling: bool = False
    done: bool = False

    def merge(self, rep: Any) -> None:
        if rep.name in self.reports:
            self.reports[rep.name].merge(rep)
        else:
            self.reports[rep.name] = rep


def state(config: pytest.Config) -> GateState | None:
    return config.stash.get(_STATE_KEY, None)


def _wants_facts(config: pytest.Config) -> bool:
    return bool(config.getoption("rvcqa_report", None))


def _tolerances(config: pytest.Config) -> list[Any]:
    out: list[Any] = []
    for item in config.getoption("rvcqa_compare_fail", None) or []:
        out += list(item) if isinstance(item, (list, tuple)) else [item]
    return out


# --------------------------------------------------------------------------- hooks

def configure(config: pytest.Config, session: Any) -> None:
    """After the plugin's own configure: state, baseline file check, xdist distribution mode."""
    if session is None:
        return
    st = GateState()
    config.stash[_STATE_KEY] = st
    if xd.is_worker(config):
        return
    path = config.getoption("rvcqa_baseline", None)
    if path is not None:
        from rvcqa.baseline import BaselineError, load

        try:
            st.baseline_doc = load(path)
        except BaselineError as error:
            raise pytest.UsageError(f"rvcqa: {error}") from None
    if _tolerances(config) and path is None:
        raise pytest.UsageError("rvcqa: --rvcqa-compare-fail needs --rvcqa-baseline PATH to compare with")
    if xd.wants_model_scheduling(config):
        st.model_scheduling = True
        if hasattr(session, "header"):
            session.header.append("pytest-xdist: each model's tests run on one worker (its checkpoints and audio load "
                                  "once); pass --dist load to spread them test by test")


def make_scheduler(config: pytest.Config, log: Any, session: Any) -> Any:
    """xdist controller: schedule one model per worker (None: let xdist choose)."""
    st = state(config)
    if st is None or not st.model_scheduling or session is None:
        return None
    return xd.make_scheduler(config, log, [ctx.name for ctx in session.models])


def collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if state(config) is not None:
        xd.group_items(items)


def testnodedown(config: pytest.Config, node: Any, error: Any) -> None:
    """Controller: merge what a finished worker found (its models' findings and measurements)."""
    st = state(config)
    if st is None:
        return
    from rvcqa.report.collect import ModelReport

    wid = xd.worker_id(node)
    payload = xd.received(node)
    if payload is None:
        if error:
            st.notes.append(f"worker {wid} went down without results: {error}")
        return
    st.workers.append(wid)
    tables = payload.get("sweep")
    if isinstance(tables, dict):
        st.sweep_tables.update({str(k): str(v) for k, v in tables.items()})
    for data in payload.get("models", []):
        try:
            st.merge(ModelReport.from_dict(data))
        except (KeyError, TypeError, ValueError) as exc:
            st.errors.append(f"worker {wid}: unreadable results for a model ({exc})")


def _collect_local(config: pytest.Config, session: Any, st: GateState, *, only_touched: bool) -> None:
    from rvcqa.report.collect import cached_findings, collect, report_modules

    try:
        modules = [mod for _, mod in report_modules()]
    except Exception:  # noqa: BLE001 - a check module that fails to import must not break the summary
        modules = []
    for ctx in session.models:
        if only_touched and not any(cached_findings(ctx, mod) is not None for mod in modules):
            continue
        st.merge(collect(ctx, run_missing=False, facts=_wants_facts(config)))


def sessionfinish(pytest_session: pytest.Session, session: Any) -> None:
    config = pytest_session.config
    st = state(config)
    if st is None or session is None or st.done:
        return
    st.done = True
    if xd.is_worker(config):
        _collect_local(config, session, st, only_touched=True)
        xd.send(config, {"models": [rep.to_dict() for rep in st.reports.values()],
                         "sweep": _local_sweep_tables(session)})
        return
    if not xd.is_controller(config):
        _collect_local(config, session, st, only_touched=False)
    _finish(config, pytest_session, session, st)


def _finish(config: pytest.Config, pytest_session: pytest.Session, session: Any, st: GateState) -> None:
    from rvcqa.report.collect import ModelReport
    from rvcqa.summary import verdicts

    reporter = config.pluginmanager.get_plugin("terminalreporter")
    by_model = verdicts(getattr(reporter, "stats", {}) or {})
    reports: list[Any] = []
    for ctx in session.models:
        rep = st.reports.get(ctx.name)
        if rep is None:
            rep = ModelReport(name=ctx.name, root=str(ctx.md.root))
            rep.modules_missing["*"] = "no test of this model ran"
            st.reports[ctx.name] = rep
        outcomes = by_model.get(ctx.name, {})
        rep.outcomes = {k: len(v) for k, v in outcomes.items()}
        for key, value in rep.measurements.items():  # xdist: the controller's contexts measured nothing
            ctx.measurements.setdefault(key, value)
        reports.append(rep)
    current = {rep.name: rep.snapshot() for rep in reports if rep.findings or rep.measurements}
    if st.baseline_doc is not None:
        from rvcqa.baseline import compare

        result = compare(st.baseline_doc, current, _tolerances(config),
                         baseline_path=str(config.getoption("rvcqa_baseline")))
        st.baseline_result = result
        if result.failed and pytest_session.exitstatus == pytest.ExitCode.OK:
            pytest_session.exitstatus = pytest.ExitCode.TESTS_FAILED
    _write(st, config.getoption("rvcqa_save_baseline", None), "baseline", lambda p: _save_baseline(p, current))
    _write(st, config.getoption("rvcqa_json", None), "results JSON", lambda p: _save_json(p, reports, st))
    _write(st, config.getoption("rvcqa_report", None), "report", lambda p: _save_report(p, reports))


def _write(st: GateState, path: Any, what: str, fn: Callable[[Path], Any]) -> None:
    if not path:
        return
    try:
        written = fn(Path(path))
    except Exception as exc:  # noqa: BLE001 - said in the summary; the gate's verdict stands
        st.errors.append(f"cannot write the {what} {path}: {type(exc).__name__}: {exc}")
        return
    for p in written if isinstance(written, (list, tuple)) else [written]:
        st.written.append(f"{what}: {p}")


def _save_baseline(path: Path, current: dict[str, Any]) -> Path:
    from rvcqa.baseline import document, save

    return save(path, document(current))


def _save_json(path: Path, reports: list[Any], st: GateState) -> Path:
    from rvcqa.baseline import save

    doc = {"format": "rvcqa-results", "version": 1,
           "models": {r.name: dict(r.to_dict(), verdict=r.verdict) for r in reports},
           "baseline": _baseline_json(st)}
    for data in doc["models"].values():
        data.pop("facts", None)
    return save(path, json.loads(json.dumps(doc, default=str)))


def _baseline_json(st: GateState) -> Any:
    res = st.baseline_result
    if res is None:
        return None
    return {"path": res.baseline_path, "failed": res.failed, "regressions": [c.to_dict() for c in res.regressions],
            "notes": res.notes}


def _save_report(path: Path, reports: list[Any]) -> list[str]:
    from rvcqa.report import write_report

    paths = write_report(reports, path)
    pictures = (f"{paths.pictures} picture{'s' if paths.pictures != 1 else ''}" if not paths.plots_note
                else f"no pictures: {paths.plots_note}")
    if paths.picture_errors:
        pictures += f"; {len(paths.picture_errors)} not drawn"
    return [str(paths.markdown), f"{paths.html} ({pictures})"]


def _local_sweep_tables(session: Any) -> dict[str, str]:
    """The checkpoint-sweep tables this process computed, by model name."""
    out: dict[str, str] = {}
    for ctx in session.models:
        if not ctx.options.sweep:
            continue
        from rvcqa.checks.sweep import cached_result
        from rvcqa.sweep import format_table

        result = cached_result(ctx)
        if result is not None:
            out[ctx.name] = format_table(result)
    return out


def sweep_tables(config: pytest.Config, session: Any) -> dict[str, str]:
    """Sweep tables to print: this process's, then those the xdist workers sent (in model order)."""
    if session is None or xd.is_worker(config):
        return {}
    found = _local_sweep_tables(session)
    st = state(config)
    if st is not None:
        for name, table in st.sweep_tables.items():
            found.setdefault(name, table)
    order = [ctx.name for ctx in session.models]
    return {name: found[name] for name in sorted(found, key=lambda n: order.index(n) if n in order else len(order))}


def terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    st = state(config)
    if st is None or xd.is_worker(config):
        return
    if st.baseline_result is not None:
        from rvcqa.baseline import format_lines

        terminalreporter.section("rvcqa baseline", red=st.baseline_result.failed, green=not st.baseline_result.failed)
        for line in format_lines(st.baseline_result):
            terminalreporter.write_line(line)
        if st.baseline_result.failed:
            terminalreporter.write_line("rvcqa: the gate FAILS: measurements regressed beyond tolerance")
    if st.written or st.errors or st.notes:
        terminalreporter.section("rvcqa outputs")
        for line in st.written:
            terminalreporter.write_line(f"wrote {line}")
        for line in st.notes:
            terminalreporter.write_line(f"note: {line}")
        for line in st.errors:
            terminalreporter.write_line(f"error: {line}", red=True)
