"""The pytest plugin: ``pytest --model-dir logs/lexi``.

Registered through the ``pytest11`` entry point. This module only declares the options and, in
``pytest_configure``, registers one :class:`RvcqaPlugin` object (named ``rvcqa-session``) whose
methods are the hooks; under pytest-xdist a second, small object handles the xdist-only hooks.
Importing it must stay cheap (no torch): the heavy work happens inside fixtures, so
``pytest --help`` is instant.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Generator

import pytest

from rvcqa.context import ModelContext
from rvcqa.errors import RvcqaError
from rvcqa.options import device_type, segments_type, threshold_type, transpose_type
from rvcqa.progress import Progress
from rvcqa.session import ContextRequest, Contexts, build_contexts

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
#: pytest-benchmark's columns for the speed tests when none are chosen: their table fits 120 columns
BENCHMARK_COLUMNS = ["min", "median", "max", "rounds"]
PLUGIN_NAME = "rvcqa-session"
XDIST_PLUGIN_NAME = "rvcqa-xdist"

#: the session object built for this run (kept under the old name: tests and helpers import it)
RvcqaSession = Contexts
_EARLY_NOTES = pytest.StashKey[list[str]]()


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
    group.addoption("--rvcqa-sweep", action="store_true", dest="rvcqa_sweep", default=False,
                    help="rank every saved checkpoint (G_*.pth, per-epoch files) by resynthesis quality and check "
                         "that the released model is the best one (slow: minutes on CPU)")
    from rvcqa.report.gate import add_options

    add_options(group)
    parser.addini("rvcqa_model_dirs", "model directories to gate when --model-dir is not given", type="paths", default=[])
    parser.addini("rvcqa_results", "results folder (default ./rvcqa-results)", default="")
    parser.addini("rvcqa_thresholds", "threshold overrides, KEY=VALUE per line", type="linelist", default=[])


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    """Before anything is collected or cached: keep the rootdir and cache out of the model folders."""
    from rvcqa.rootdir import anchor

    early_config.stash[_EARLY_NOTES] = anchor(early_config, quality_tests_dir())


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    if _wants_quality_suite(config):
        config.args[:] = [str(quality_tests_dir())]
    from rvcqa.rootdir import place_benchmarks

    results = config.getoption("rvcqa_results") or config.getini("rvcqa_results") or None
    config.stash[_EARLY_NOTES] = config.stash.get(_EARLY_NOTES, []) + place_benchmarks(config, results)
    if config.getoption("rvcqa_model_dirs") and getattr(config.option, "benchmark_columns", "") is None:
        config.option.benchmark_columns = list(BENCHMARK_COLUMNS)
    plugin = RvcqaPlugin(config)
    config.pluginmanager.register(plugin, PLUGIN_NAME)
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(RvcqaXdist(plugin), XDIST_PLUGIN_NAME)
    if _collects_quality_suite(config):
        try:
            plugin.start()
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


def context_request(config: pytest.Config) -> ContextRequest:
    """The plugin's options as a :class:`~rvcqa.session.ContextRequest`."""
    dirs = list(config.getoption("rvcqa_model_dirs")) or [str(p) for p in config.getini("rvcqa_model_dirs")]
    notes: list[str] = []
    if not dirs:
        from rvcqa.demo import demo_model_dir

        demo = demo_model_dir()
        dirs = [str(demo)]
        notes.append(f"no --model-dir given: using the built-in demo model {demo}")
    return ContextRequest(
        model_dirs=dirs,
        cwd=Path(config.invocation_params.dir),
        model_file=config.getoption("rvcqa_model_file"),
        train_log=config.getoption("rvcqa_train_log"),
        reference_model=config.getoption("rvcqa_reference_model"),
        pretrained=config.getoption("rvcqa_pretrained"),
        hubert=config.getoption("rvcqa_hubert"),
        rmvpe=config.getoption("rvcqa_rmvpe"),
        reference_audio=list(config.getoption("rvcqa_reference_audio")),
        results=config.getoption("rvcqa_results") or config.getini("rvcqa_results") or None,
        segments=config.getoption("rvcqa_segments"),
        transpose=config.getoption("rvcqa_transpose"),
        device=config.getoption("rvcqa_device"),
        sweep=bool(config.getoption("rvcqa_sweep", False)),
        threshold_ini=list(config.getini("rvcqa_thresholds")),
        threshold_cli=list(config.getoption("rvcqa_thresholds")),
        notes=notes,
    )


def rvcqa_session(config: pytest.Config) -> Contexts | None:
    """The contexts of this run, or None when no quality test is collected."""
    plugin = config.pluginmanager.get_plugin(PLUGIN_NAME)
    return plugin.session if isinstance(plugin, RvcqaPlugin) else None


def live_printer(config: pytest.Config) -> Progress:
    """One line on stderr while a test runs (as live logging does: capture paused)."""
    capman = config.pluginmanager.getplugin("capturemanager")

    def write(line: str) -> None:
        if capman is None:
            print(f"rvcqa: {line}", file=sys.stderr, flush=True)
            return
        with capman.global_and_fixture_disabled():
            print(f"rvcqa: {line}", file=sys.stderr, flush=True)

    return write


class RvcqaPlugin:
    """The rvcqa session: the contexts of this run and every hook that needs them."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.session: Contexts | None = None

    def start(self) -> Contexts:
        """Build the contexts once (at configure, or when the first test asks for ``rvc_model``)."""
        if self.session is None:
            from rvcqa.report import gate

            self.session = build_contexts(context_request(self.config))
            notes: list[str] = self.config.stash.get(_EARLY_NOTES, [])
            self.session.header[:0] = notes
            if self.config.getoption("rvcqa_sweep", False):
                printer = live_printer(self.config)
                for ctx in self.session.models:
                    ctx.sweep_progress = printer
            gate.configure(self.config, self.session)
        return self.session

    # ------------------------------------------------------------------ collection
    def pytest_report_header(self, config: pytest.Config) -> list[str] | None:
        if self.session is None:
            return None
        return [f"rvcqa: {line}" for line in self.session.header]

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "rvc_model" not in metafunc.fixturenames:
            return
        try:
            session = self.start()
        except RvcqaError as error:
            raise pytest.UsageError(f"rvcqa: {error}") from None
        names = [m.name for m in session.models]
        metafunc.parametrize("rvc_model", names, ids=names, indirect=True)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        from rvcqa.report import gate

        gate.collection_modifyitems(config, items)

    # ------------------------------------------------------------------ running
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
        """Tag each report with its model so summaries and xdist merges can group by model."""
        outcome = yield
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "rvc_model" in callspec.params:
            report = outcome.get_result()
            if ("rvcqa_model", callspec.params["rvc_model"]) not in report.user_properties:
                report.user_properties.append(("rvcqa_model", callspec.params["rvc_model"]))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from rvcqa.report import gate

        gate.sessionfinish(session, self.session)

    # ------------------------------------------------------------------ the one summary
    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
        if self.session is None:
            return
        from rvcqa.report import gate
        from rvcqa.summary import summary_lines

        lines = summary_lines(self.session.models, terminalreporter.stats)
        if lines:
            terminalreporter.section("rvcqa summary")
            for line in lines:
                terminalreporter.write_line(line)
        for name, table in gate.sweep_tables(config, self.session).items():
            terminalreporter.section(f"rvcqa checkpoint sweep: {name}")
            for line in table.splitlines():
                terminalreporter.write_line(line)
        gate.terminal_summary(terminalreporter, config)


class RvcqaXdist:
    """The pytest-xdist hooks, registered only when xdist is active (its hook specs exist then)."""

    def __init__(self, plugin: RvcqaPlugin) -> None:
        self.plugin = plugin

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        from rvcqa.report import gate

        gate.testnodedown(node.config, node, error)

    @pytest.hookimpl(tryfirst=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        from rvcqa.report import gate

        return gate.make_scheduler(config, log, self.plugin.session)


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
