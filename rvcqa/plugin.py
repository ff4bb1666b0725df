"""The pytest plugin: ``pytest --model-dir logs/lexi``.

Registered through the ``pytest11`` entry point. Importing it must stay cheap (no torch): the
heavy work happens inside fixtures, so ``pytest --help`` is instant.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from rvcqa.context import ModelContext, Options
from rvcqa.errors import RvcqaError
from rvcqa.modeldir import AssetDefault, ModelDir, default_assets, discover, resolve_model_dir_arg, root_kind
from rvcqa.options import device_type, segments_type, threshold_type, transpose_type

MARKERS = {
    "rvcqa_structure": "structural invariants of the inference model (config, layers, weights)",
    "rvcqa_provenance": "which checkpoint the inference model came from",
    "rvcqa_dataset": "health of the preprocessed training data folders",
    "rvcqa_training": "health of the training log (losses, pretrained base, steps)",
    "rvcqa_perceptual": "runs the model and judges its audio (resynthesis and conversion)",
    "rvcqa_speed": "inference speed benchmarks (pytest-benchmark)",
    "rvcqa_slow": "slow checks, deselect with -m 'not rvcqa_slow'",
    "rvcqa_threshold": "rvcqa_threshold({'KEY': VALUE, ...}) or (**kw): per-test threshold overrides",
}

_SESSION_KEY = pytest.StashKey["RvcqaSession"]()


class RvcqaSession:
    """Everything the plugin resolved at start-up: models, options, thresholds, results dir."""

    def __init__(self, models: list[ModelContext], results_root: Path, header: list[str]):
        self.models = models
        self.results_root = results_root
        self.header = header
        self.by_name = {m.name: m for m in models}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rvcqa", "rvcqa: quality gate for RVC voice models")
    group.addoption("--model-dir", action="append", dest="rvcqa_model_dirs", default=[], metavar="DIR",
                    help="RVC/Applio experiment folder (logs/NAME, or just NAME inside an RVC root); repeatable")
    group.addoption("--model-file", dest="rvcqa_model_file", default=None, metavar="PATH",
                    help="inference .pth kept outside the experiment folder (RVC: assets/weights/NAME.pth)")
    group.addoption("--reference-model", dest="rvcqa_reference_model", default=None, metavar="PATH",
                    help="a known-good inference model to compare the structure with")
    group.addoption("--reference-audio", action="append", dest="rvcqa_reference_audio", default=[],
                    metavar="PATH", help="audio file or folder to convert (default: bundled speech clips)")
    group.addoption("--hubert", dest="rvcqa_hubert", default=None, metavar="PATH",
                    help="RVC's hubert_base.pt (default: assets/hubert/hubert_base.pt when present)")
    group.addoption("--rmvpe", dest="rvcqa_rmvpe", default=None, metavar="PATH",
                    help="RVC's rmvpe.pt (default: assets/rmvpe/rmvpe.pt when present)")
    group.addoption("--pretrained", dest="rvcqa_pretrained", default=None, metavar="PATH",
                    help="the pretrained base G (default: pretrainG from the training log)")
    group.addoption("--train-log", dest="rvcqa_train_log", default=None, metavar="PATH",
                    help="captured training stdout (recent RVC leaves train.log empty)")
    group.addoption("--rvcqa-results", dest="rvcqa_results", default=None, metavar="DIR",
                    help="where converted audio and reports go (default: ./rvcqa-results/NAME/)")
    group.addoption("--rvcqa-segments", dest="rvcqa_segments", default=8, type=segments_type,
                    metavar="N|all", help="training segments to resynthesise (default 8)")
    group.addoption("--rvcqa-transpose", dest="rvcqa_transpose", default=0, type=transpose_type,
                    metavar="SEMITONES", help="pitch shift used for conversion tests (default 0)")
    group.addoption("--rvcqa-device", dest="rvcqa_device", default="cpu", type=device_type,
                    metavar="cpu|cuda|auto", help="device to run models on (default cpu)")
    group.addoption("--rvcqa-threshold", action="append", dest="rvcqa_thresholds", default=[],
                    type=threshold_type, metavar="KEY=VALUE", help="override one threshold of the profile")
    parser.addini("rvcqa_model_dirs", "model directories to gate when --model-dir is not given", type="paths", default=[])
    parser.addini("rvcqa_results", "results folder (default ./rvcqa-results)", default="")
    parser.addini("rvcqa_thresholds", "threshold overrides, KEY=VALUE per line", type="linelist", default=[])
    _add_report_options(group)  # issue 8: see the "report & baselines" block at the end


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    if _wants_quality_suite(config):
        config.args[:] = [str(quality_tests_dir())]
    if _collects_quality_suite(config):
        try:
            config.stash[_SESSION_KEY] = _build_session(config)
        except RvcqaError as error:
            raise pytest.UsageError(f"rvcqa: {error}") from None


def quality_tests_dir() -> Path:
    """The shipped quality suite: ``rvcqa/quality_tests`` installed, ``quality_tests/`` in the repo."""
    import importlib.util

    spec = importlib.util.find_spec("rvcqa.quality_tests")
    if spec is not None and spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0])
    return Path(__file__).resolve().parent.parent / "quality_tests"


def _wants_quality_suite(config: pytest.Config) -> bool:
    """``--model-dir`` without test paths means: run the shipped quality suite."""
    if not config.getoption("rvcqa_model_dirs"):
        return False
    if config.getoption("pyargs", False):
        return False
    return config.args_source is not pytest.Config.ArgsSource.ARGS


def _collects_quality_suite(config: pytest.Config) -> bool:
    if config.getoption("rvcqa_model_dirs"):
        return True
    suite = quality_tests_dir().resolve()
    for arg in config.args:
        path = Path(arg.split("::")[0]).resolve()
        if path == suite or suite in path.parents or path in suite.parents:
            return True
    return False


def _build_session(config: pytest.Config) -> RvcqaSession:
    from rvcqa.profile import build_profile

    cwd = Path(config.invocation_params.dir)
    header: list[str] = []
    args = list(config.getoption("rvcqa_model_dirs")) or [str(p) for p in config.getini("rvcqa_model_dirs")]
    if not args:
        from rvcqa.demo import demo_model_dir

        demo = demo_model_dir()
        args = [str(demo)]
        header.append(f"no --model-dir given: using the built-in demo model {demo}")
    model_file = config.getoption("rvcqa_model_file")
    if model_file and len(args) > 1:
        raise RvcqaError("--model-file applies to one model; pass it with a single --model-dir")
    kind = root_kind(cwd)
    rvc_root = cwd if kind is not None else None
    results_opt = config.getoption("rvcqa_results") or config.getini("rvcqa_results") or "rvcqa-results"
    results_root = (cwd / results_opt).resolve()
    thresholds = build_profile(
        directory=cwd, ini_lines=config.getini("rvcqa_thresholds"), cli=config.getoption("rvcqa_thresholds")
    )
    models: list[ModelContext] = []
    seen: set[str] = set()
    for arg in args:
        path, note = resolve_model_dir_arg(arg, cwd)
        if note:
            header.append(note)
        md = discover(path, model_file=model_file, train_log=config.getoption("rvcqa_train_log"), rvc_root=rvc_root)
        assets = default_assets(cwd, kind, md)
        hubert = _default_asset(config.getoption("rvcqa_hubert"), assets, "hubert", "--hubert", header)
        rmvpe = _default_asset(config.getoption("rvcqa_rmvpe"), assets, "rmvpe", "--rmvpe", header)
        pretrained = _path_or_none(config.getoption("rvcqa_pretrained"), cwd) or _default_asset(
            None, assets, "pretrained_g", "--pretrained", header)
        name = md.name if md.name not in seen else f"{md.name}-{len(seen)}"
        seen.add(name)
        _check_results_outside(results_root, md)
        options = Options(
            reference_model=_path_or_none(config.getoption("rvcqa_reference_model"), cwd),
            pretrained=pretrained,
            hubert=hubert,
            rmvpe=rmvpe,
            reference_audio=[_path_or_none(p, cwd) for p in config.getoption("rvcqa_reference_audio")],  # type: ignore[misc]
            results_dir=results_root / name,
            segments=config.getoption("rvcqa_segments"),
            transpose=config.getoption("rvcqa_transpose"),
            device=_resolve_device(config.getoption("rvcqa_device")),
        )
        ctx = ModelContext(md, options, thresholds, name=name)
        models.append(ctx)
        header.append(_describe_model(name, md))
    header.append(f"results: {results_root}{os.sep}<model>{os.sep}")
    return RvcqaSession(models, results_root, header)


def _describe_model(name: str, md: ModelDir) -> str:
    inference = f"{md.inference_file} ({md.inference_source})" if md.inference_file else "no inference model found"
    return f"model {name}: {md.root} [{md.layout} layout]; inference file: {inference}"


def _default_asset(given: str | None, assets: dict[str, AssetDefault], role: str, flag: str,
                   header: list[str]) -> Path | None:
    if given:
        return Path(given).expanduser()
    found = assets.get(role)
    if found is None:
        return None
    line = f"{flag} defaulted to {found.source}"
    if line not in header:
        header.append(line)
    return found.path


def _path_or_none(value: str | None, cwd: Path) -> Path | None:
    if not value:
        return None
    p = Path(value).expanduser()
    return p if p.is_absolute() else cwd / p


def _resolve_device(device: str) -> str:
    if device != "auto":
        return device
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:  # pragma: no cover
        return "cpu"


def _check_results_outside(results_root: Path, md: ModelDir) -> None:
    model_root = md.root.resolve()
    if results_root == model_root or model_root in results_root.parents:
        raise RvcqaError(
            f"results folder {results_root} is inside the model directory {md.root}; rvcqa never writes "
            "into a model directory: choose another --rvcqa-results"
        )


def rvcqa_session(config: pytest.Config) -> RvcqaSession | None:
    return config.stash.get(_SESSION_KEY, None)


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    session = rvcqa_session(config)
    if session is None:
        return None
    return [f"rvcqa: {line}" for line in session.header]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "rvc_model" not in metafunc.fixturenames:
        return
    session = rvcqa_session(metafunc.config)
    if session is None:
        try:
            session = _build_session(metafunc.config)
        except RvcqaError as error:
            raise pytest.UsageError(f"rvcqa: {error}") from None
        metafunc.config.stash[_SESSION_KEY] = session
    names = [m.name for m in session.models]
    metafunc.parametrize("rvc_model", names, ids=names, indirect=True)


@pytest.fixture
def rvc_model(request: pytest.FixtureRequest) -> ModelContext:
    """The model under test (a :class:`~rvcqa.context.ModelContext`), one per ``--model-dir``.

    Everything loaded is cached per model for the whole session; a ``rvcqa_threshold`` marker on
    the test (or its class/module) gives a view with those thresholds changed.
    """
    session = rvcqa_session(request.config)
    assert session is not None
    ctx = session.by_name[request.param]
    overrides: dict[str, Any] = {}
    for mark in reversed(list(request.node.iter_markers("rvcqa_threshold"))):
        for arg in mark.args:
            if not isinstance(arg, dict):
                pytest.fail(f"rvcqa_threshold takes a dict or keyword arguments, got {arg!r}", pytrace=False)
            overrides.update(arg)
        overrides.update(mark.kwargs)
    unknown = sorted(k for k in overrides if k not in ctx.thresholds)
    if unknown:
        pytest.fail(f"rvcqa_threshold: unknown threshold(s) {', '.join(unknown)}", pytrace=False)
    return ctx.with_thresholds(overrides)


@pytest.fixture
def rvcqa_results_dir(rvc_model: ModelContext) -> Path:
    """This model's results folder (created on first use, never inside the model directory)."""
    path = rvc_model.options.results_dir or Path("rvcqa-results") / rvc_model.name
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Tag each report with its model so summaries and xdist merges can group by model."""
    outcome = yield
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "rvc_model" in callspec.params:
        report = outcome.get_result()
        if ("rvcqa_model", callspec.params["rvc_model"]) not in report.user_properties:
            report.user_properties.append(("rvcqa_model", callspec.params["rvc_model"]))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    session = rvcqa_session(config)
    if session is None:
        return
    from rvcqa.summary import summary_lines

    lines = summary_lines(session.models, terminalreporter.stats)
    if lines:
        terminalreporter.section("rvcqa summary")
        for line in lines:
            terminalreporter.write_line(line)


# --- report & baselines (issue 8) ---
# Options: rvcqa.report.gate.add_options. The hooks are named pytest_rvcqa_gate_* (pytest only
# looks at "pytest_" names) and registered under their pytest hook names through
# ``specname`` so they never clash with this module's own hook functions; logic lives in
# rvcqa.report.gate (report, baselines, exit status) and rvcqa.xdist (grouping, worker results).

def _add_report_options(group: Any) -> None:
    from rvcqa.report.gate import add_options

    add_options(group)


@pytest.hookimpl(specname="pytest_configure", trylast=True)
def pytest_rvcqa_gate_configure(config: pytest.Config) -> None:
    from rvcqa.report import gate

    gate.configure(config, rvcqa_session(config))


@pytest.hookimpl(specname="pytest_collection_modifyitems", tryfirst=True)
def pytest_rvcqa_gate_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from rvcqa.report import gate

    gate.collection_modifyitems(config, items)


@pytest.hookimpl(specname="pytest_testnodedown", optionalhook=True)
def pytest_rvcqa_gate_testnodedown(node: Any, error: Any) -> None:
    from rvcqa.report import gate

    gate.testnodedown(node.config, node, error)


@pytest.hookimpl(specname="pytest_xdist_make_scheduler", optionalhook=True, tryfirst=True)
def pytest_rvcqa_gate_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from rvcqa.report import gate

    return gate.make_scheduler(config, log, rvcqa_session(config))


@pytest.hookimpl(specname="pytest_sessionfinish", trylast=True)
def pytest_rvcqa_gate_sessionfinish(session: pytest.Session) -> None:
    from rvcqa.report import gate

    gate.sessionfinish(session, rvcqa_session(session.config))


@pytest.hookimpl(specname="pytest_terminal_summary", trylast=True)
def pytest_rvcqa_gate_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    from rvcqa.report import gate

    gate.terminal_summary(terminalreporter, config)
# --- end report & baselines ---


# --- sweep (issue 10) ---
# ``--rvcqa-sweep``: rank every saved checkpoint (rvcqa.checks.sweep; the work is rvcqa.sweep).
# Registered under pytest's hook names through ``specname`` so nothing above changes: the option,
# switching ``Options.sweep`` on for every model once the session exists (it is built either in
# pytest_configure or lazily in pytest_generate_tests), and the sweep table in the terminal summary.

@pytest.hookimpl(specname="pytest_addoption")
def pytest_rvcqa_sweep_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rvcqa")
    group.addoption("--rvcqa-sweep", action="store_true", dest="rvcqa_sweep", default=False,
                    help="rank every saved checkpoint (G_*.pth, per-epoch files) by resynthesis quality and check "
                         "that the released model is the best one (slow: minutes on CPU)")


def _apply_sweep_option(config: pytest.Config) -> None:
    session = rvcqa_session(config)
    if session is not None and config.getoption("rvcqa_sweep", False):
        for ctx in session.models:
            ctx.options.sweep = True
            ctx.sweep_progress = _sweep_progress(config)  # type: ignore[attr-defined]


def _sweep_progress(config: pytest.Config) -> Any:
    """One line per candidate on stderr while the test runs (as live logging does: capture paused)."""
    import sys

    capman = config.pluginmanager.getplugin("capturemanager")

    def write(line: str) -> None:
        if capman is None:
            print(f"rvcqa: {line}", file=sys.stderr, flush=True)
            return
        with capman.global_and_fixture_disabled():
            print(f"rvcqa: {line}", file=sys.stderr, flush=True)

    return write


@pytest.hookimpl(specname="pytest_configure", trylast=True)
def pytest_rvcqa_sweep_configure(config: pytest.Config) -> None:
    _apply_sweep_option(config)


@pytest.hookimpl(specname="pytest_generate_tests", trylast=True)
def pytest_rvcqa_sweep_generate_tests(metafunc: pytest.Metafunc) -> None:
    _apply_sweep_option(metafunc.config)


@pytest.hookimpl(specname="pytest_terminal_summary")
def pytest_rvcqa_sweep_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    session = rvcqa_session(config)
    if session is None:
        return
    from rvcqa.checks.sweep import cached_result

    for ctx in session.models:
        result = cached_result(ctx)
        if result is None:
            continue
        terminalreporter.section(f"rvcqa checkpoint sweep: {ctx.name}")
        for line in result.table().splitlines():
            terminalreporter.write_line(line)
# --- end sweep ---
