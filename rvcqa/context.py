"""One model under test: its folder, and everything loaded from it, loaded once.

Checks receive a :class:`ModelContext` and ask it for what they need; loading is lazy and cached,
so twenty checks that all need the inference model load it once, and a run that only checks the
training log never touches torch. Load errors are cached too and re-raised as the same
:class:`~rvcqa.errors.RvcqaError`, so every dependent check reports the same one clear line.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from rvcqa.errors import ModelDirError, RvcqaError
from rvcqa.jsonfile import read_json_object
from rvcqa.modeldir import ModelDir
from rvcqa.progress import Progress

if TYPE_CHECKING:
    from rvcqa.checkpoint import InferenceModel, TrainingCheckpoint
    from rvcqa.dataset import FilelistEntry
    from rvcqa.findings import Finding, Status
    from rvcqa.synth.synthesizer import Synthesizer
    from rvcqa.history import History
    from rvcqa.resynth import Resynthesis
    from rvcqa.trainlog import TrainLog

T = TypeVar("T")


@dataclass
class Options:
    """Per-run settings that checks may need (paths the user gave, sampling choices)."""

    reference_model: Path | None = None
    pretrained: Path | None = None
    hubert: Path | None = None
    rmvpe: Path | None = None
    reference_audio: list[Path] = field(default_factory=list)
    results_dir: Path | None = None
    segments: int | None = 8  # None = all
    transpose: int = 0
    device: str = "cpu"
    seed: int = 1234
    sweep: bool = False  # rank every saved checkpoint (--rvcqa-sweep; rvcqa.checks.sweep)
    embedder: Any = None  # an rvcqa.features.embedders.EmbedderChoice made by the context builder
    applio_root: Path | None = None  # the Applio root the model sits in (rvc/models/embedders/ ...)
    rvc_root: Path | None = None  # the RVC-WebUI root the model sits in (assets/hubert/ ...)


class ModelContext:
    """Lazy, cached access to one model directory's contents."""

    def __init__(self, md: ModelDir, options: Options | None = None, thresholds: dict[str, Any] | None = None,
                 name: str | None = None, suites: dict[str, ModuleType] | None = None):
        self.md = md
        self._name = name or md.name
        self.options = options or Options()
        self.thresholds: dict[str, Any] = dict(thresholds or {})
        #: check modules by suite name ("dataset" -> rvcqa.checks.dataset), handed in by the renderers
        #: (rvcqa.profile.check_suites) so that one check module reads another's findings without importing it
        self.suites: dict[str, ModuleType] = dict(suites or {})
        self._cache: dict[str, Any] = {}
        self._findings_tag = ""  # set on threshold views so their findings are cached apart
        self.measurements: dict[str, Any] = {}  # metric name -> value, for summaries and baselines
        #: receives one line per step of long work (resynthesis, conversion); None = quiet
        self.progress: Progress | None = None
        #: receives one line per checkpoint of a sweep (the plugin prints them live); None = ``progress``
        self.sweep_progress: Progress | None = None

    @property
    def name(self) -> str:
        """The id used in test ids and reports (the folder name; suffixed when two share one)."""
        return self._name

    def cached(self, key: str, compute: Callable[[], T]) -> T:
        """Compute once; a :class:`RvcqaError` is remembered and raised again on every call."""
        if key in self._cache:
            value = self._cache[key]
            if isinstance(value, _Failure):
                raise value.error
            return value
        try:
            value = compute()
        except RvcqaError as error:
            self._cache[key] = _Failure(error)
            raise
        self._cache[key] = value
        return value

    def peek(self, key: str) -> Any:
        """What :meth:`cached` holds for ``key`` without computing it: None when absent or failed."""
        value = self._cache.get(key)
        return None if isinstance(value, _Failure) else value

    # ------------------------------------------------------------------ loaded objects
    def inference_model(self) -> InferenceModel:
        """The released inference model (:class:`rvcqa.checkpoint.InferenceModel`)."""
        from rvcqa.checkpoint import load_inference_model

        return self.cached("inference_model", lambda: load_inference_model(self.md.require_inference_file()))

    def training_checkpoint(self, path: Path) -> TrainingCheckpoint:
        from rvcqa.checkpoint import load_training_checkpoint

        return self.cached(f"ckpt:{path}", lambda: load_training_checkpoint(path))

    def epoch_model(self, path: Path) -> InferenceModel:
        """A per-epoch inference file (``NAME_e{E}_s{S}.pth``), loaded once."""
        from rvcqa.checkpoint import load_inference_model

        return self.cached(f"epoch_model:{path}", lambda: load_inference_model(path))

    def reference_inference_model(self) -> InferenceModel | None:
        from rvcqa.checkpoint import load_inference_model

        ref = self.options.reference_model
        if ref is None:
            return None
        return self.cached("reference_model", lambda: load_inference_model(ref))

    def config_json(self) -> dict[str, Any] | None:
        """``logs/NAME/config.json`` parsed, or None when absent."""
        path = self.md.config_json
        if path is None:
            return None

        def load() -> dict[str, Any]:
            return read_json_object(path, ModelDirError, "a JSON object with data/model/train sections")

        return self.cached("config_json", load)

    def filelist(self) -> "list[FilelistEntry] | None":
        """``filelist.txt`` parsed once for every check that reads it; None when absent.

        An unreadable file raises :class:`ModelDirError` naming it (each caller decides whether that
        fails its check or skips it)."""
        path = self.md.filelist
        if path is None:
            return None

        def load() -> "list[FilelistEntry]":
            from rvcqa.dataset import parse_filelist

            try:
                return parse_filelist(path)
            except OSError as exc:
                raise ModelDirError(f"cannot read {path}: {exc}") from exc

        return self.cached("filelist", load)

    def config_json_sample_rate(self) -> int | None:
        """RVC writes ``data.sampling_rate``, Applio ``data.sample_rate``."""
        cfg = self.config_json()
        if not cfg:
            return None
        data = cfg.get("data", {})
        value = data.get("sampling_rate", data.get("sample_rate"))
        return int(value) if isinstance(value, (int, float)) else None

    def history(self) -> "History":
        """Every training-history source (train.log or --train-log, TensorBoard), read once
        (``rvcqa.history.History``)."""
        from rvcqa.history import training_history

        return self.cached("history", lambda: training_history(self.md, release=self._release))

    def _release(self) -> tuple[int | None, int | None]:
        """(epoch, step) of the released model: from its file name, else from its metadata."""
        for m in self.md.epoch_models:
            if m.path == self.md.inference_file:
                return m.epoch, m.step
        try:
            model = self.inference_model()
        except RvcqaError:
            return None, None
        step = model.extra.get("step")
        return model.epoch, step if isinstance(step, int) else None

    def train_log(self) -> TrainLog | None:
        """The training history to judge (``rvcqa.trainlog.TrainLog``), or None when there is none."""
        from rvcqa.errors import TrainLogError

        hist = self.history()
        if hist.judged is None and hist.text_error:
            raise TrainLogError(hist.text_error)
        return hist.judged

    def synthesizer(self, device: str | None = None) -> Synthesizer:
        """The strictly loaded synthesizer for the released model, weight norm folded (per device)."""
        from rvcqa.synth import load_synthesizer

        dev = device or self.options.device
        key = "synthesizer" if dev == self.options.device else f"synthesizer:{dev}"
        return self.cached(key, lambda: load_synthesizer(self.inference_model(), device=dev))

    def resynthesis(self) -> "Resynthesis":
        """The released model's resynthesis of the run's training segments, written to the results
        folder once and shared by every check that listens to it."""
        from rvcqa.outputs import safe_output_dir
        from rvcqa.resynth import resynthesize

        synth = self.synthesizer()
        opts = self.options
        return self.cached("resynthesis", lambda: resynthesize(
            synth, self.md, segments=opts.segments, seed=opts.seed,
            out_dir=safe_output_dir(opts.results_dir, self.md, self.name, "resynthesis"), progress=self.progress))

    def pipeline_flavour(self) -> str:
        """``"applio"`` for a model Applio trained, else ``"rvc"``: conversion follows that tool."""
        from rvcqa.facts import model_facts

        return "applio" if model_facts(self).trainer == "applio" else "rvc"

    def content_model(self, version: str) -> tuple[Any, str]:
        """The content extractor conversion uses and a line saying which (``(None, why)`` when none)."""
        from rvcqa.content import content_model_for

        opts = self.options
        return self.cached(f"content_model:{version}", lambda: content_model_for(
            self.md.root, version, hubert=opts.hubert, device=opts.device, flavour=self.pipeline_flavour()))

    # ------------------------------------------------------------------ one root cause
    def load_failure(self) -> LoadFailure | None:
        """Why the released model cannot be used, once loading it has been tried and failed.

        A file that does not load is owned by ``structure.file_format``; weights that do not fit
        the network built from its config by ``structure.strict_load``.
        """
        name = self.md.inference_file.name if self.md.inference_file is not None else "the inference model"
        failure = self._cache.get("inference_model")
        if isinstance(failure, _Failure):
            return LoadFailure(failure.error, "structure.file_format", name)
        for key, value in self._cache.items():
            if (key == "synthesizer" or key.startswith("synthesizer:")) and isinstance(value, _Failure):
                return LoadFailure(value.error, "structure.strict_load", name)
        return None

    def not_evaluated(self, error: RvcqaError) -> str:
        """The skip reason for work that needed the model: the one root cause, or ``error`` itself."""
        failure = self.load_failure()
        return failure.reason if failure is not None and failure.explains(error) else str(error)

    def threshold(self, key: str, default: Any) -> Any:
        """The profile's value for ``key`` (CLI / ini / marker overrides already merged)."""
        return self.thresholds.get(key, default)

    def with_thresholds(self, overrides: dict[str, Any]) -> "ModelContext":
        """A view with some thresholds changed (a test's ``rvcqa_threshold`` marker).

        Loaded files, audio and measurements are shared with this context; only the findings are
        computed again under the changed thresholds (and cached for that set of overrides).
        """
        if not overrides:
            return self
        import copy

        view = copy.copy(self)
        view.thresholds = {**self.thresholds, **overrides}
        view._findings_tag = "|" + repr(sorted(overrides.items()))
        return view

    def findings(self, checks_module: ModuleType | Any) -> dict[str, Finding]:
        """Run a checks module (``rvcqa.checks.structure`` ...) once; findings by check id.

        A module exposes ``CHECK_IDS`` and ``run(ctx) -> list[Finding]``. An id the module did not
        report becomes a skipped finding saying so, so a test id never silently disappears.
        """
        from rvcqa.findings import Finding, skipped

        key = self._findings_key(checks_module)
        if key not in self._cache:
            try:
                found = list(checks_module.run(self))
            except RvcqaError as error:
                found = [Finding(cid, _status_failed(), str(error)) for cid in checks_module.CHECK_IDS]
            failure = self.load_failure()
            if failure is not None and checks_module.__name__ != ROOT_CAUSE_MODULE:
                found = [failure.skip(f) for f in found]
            by_id = {f.check: f for f in found}
            for cid in checks_module.CHECK_IDS:
                by_id.setdefault(cid, skipped(cid, f"{cid}: not evaluated for {self.name}"))
            self._cache[key] = by_id
        by_check: dict[str, Finding] = self._cache[key]
        return by_check

    def findings_of(self, suite: str) -> dict[str, Finding]:
        """:meth:`findings` of the check suite registered as ``suite`` (see :attr:`suites`)."""
        module = self.suites.get(suite)
        if module is None:
            raise LookupError(f"no '{suite}' check suite was handed to the context of {self.name} "
                              f"(ModelContext(..., suites=rvcqa.profile.check_suites()))")
        return self.findings(module)

    def cached_findings(self, checks_module: ModuleType | Any) -> dict[str, Finding] | None:
        """The findings this session already computed for ``checks_module``; None when it has not run."""
        value = self._cache.get(self._findings_key(checks_module))
        return value if isinstance(value, dict) else None

    def _findings_key(self, checks_module: ModuleType | Any) -> str:
        return f"findings:{checks_module.__name__}{self._findings_tag}"

    def record(self, name: str, value: Any) -> None:
        """Remember a measured value for the terminal summary, the report and baselines."""
        self.measurements[name] = value


def _status_failed() -> Status:
    from rvcqa.findings import Status

    return Status.FAILED


@dataclass
class _Failure:
    error: RvcqaError


#: the check module that reports a model-load failure itself; every other one skips what it caused
ROOT_CAUSE_MODULE = "rvcqa.checks.structure"


@dataclass
class LoadFailure:
    """The released model could not be loaded: the error, the check that reports it, the file."""

    error: RvcqaError
    check: str
    file: str

    @property
    def reason(self) -> str:
        return f"not evaluated: {self.file} could not be loaded (see {self.check})"

    def explains(self, error: RvcqaError | str) -> bool:
        """True when ``error`` (or a message) is this failure, or quotes it."""
        text = str(self.error)
        return error is self.error or (bool(text) and text in str(error))

    def skip(self, finding: Finding) -> Finding:
        """``finding`` skipped with the root cause when it failed because of this load failure."""
        from rvcqa.findings import skipped

        if (finding.failed or finding.skipped) and self.explains(finding.message):
            return skipped(finding.check, f"{finding.check}: {self.reason}", details={"root_cause": self.check})
        return finding
