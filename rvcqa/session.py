"""One way to turn what the user asked for into :class:`~rvcqa.context.ModelContext` objects.

The pytest plugin and every ``rvcqa`` command (``report``, ``sweep``, ``inspect``) describe their
options as a :class:`ContextRequest` and call :func:`build_contexts`, so RVC-root detection, the
``--hubert``/``--rmvpe`` defaults, ``--device auto``, the results-folder guard and the header lines
are decided once. Cheap to import: torch is only imported to resolve ``auto``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rvcqa.context import ModelContext, Options
from rvcqa.errors import RvcqaError
from rvcqa.modeldir import AssetDefault, ModelDir, default_assets, discover, resolve_model_dir_arg, root_kind

DEFAULT_RESULTS = "rvcqa-results"


@dataclass
class ContextRequest:
    """What a front end was asked for; relative paths are taken from ``cwd``."""

    model_dirs: list[str]
    cwd: Path = field(default_factory=Path.cwd)
    model_file: str | None = None
    train_log: str | None = None
    reference_model: str | None = None
    pretrained: str | None = None
    hubert: str | None = None
    rmvpe: str | None = None
    reference_audio: list[str] = field(default_factory=list)
    results: str | None = None
    #: True: ``results/NAME/`` per model; False: ``results`` is the one model's own folder
    results_per_model: bool = True
    results_flag: str = "--rvcqa-results"
    #: False for commands that only read (``inspect``): no results-folder guard
    writes_results: bool = True
    segments: int | None = 8
    transpose: int = 0
    device: str = "cpu"
    seed: int | None = None
    sweep: bool = False
    threshold_ini: list[str] = field(default_factory=list)
    threshold_cli: list[tuple[str, Any]] = field(default_factory=list)
    #: lines the front end wants at the top of the header (e.g. which default it chose)
    notes: list[str] = field(default_factory=list)


@dataclass
class Contexts:
    """The built contexts, where their results go, and what to tell the user about the choices made."""

    models: list[ModelContext]
    results_root: Path
    header: list[str]

    @property
    def by_name(self) -> dict[str, ModelContext]:
        return {m.name: m for m in self.models}


def rvc_root_of(cwd: Path) -> Path | None:
    """``cwd`` when it looks like an RVC WebUI or Applio checkout (:func:`rvcqa.modeldir.root_kind`), else None."""
    return cwd if root_kind(cwd) is not None else None


def resolve_device(device: str) -> str:
    """``auto`` becomes ``cuda`` when torch sees a GPU, else ``cpu``; anything else is kept."""
    if device != "auto":
        return device
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def build_contexts(req: ContextRequest) -> Contexts:
    """One :class:`ModelContext` per model folder; raises :class:`RvcqaError` on bad input."""
    from rvcqa.profile import build_profile, check_suites

    cwd = req.cwd
    header: list[str] = list(req.notes)
    args = list(req.model_dirs)
    if req.model_file and len(args) > 1:
        raise RvcqaError("--model-file applies to one model; pass it with a single model folder")
    rvc_root = rvc_root_of(cwd)
    results_root = (cwd / (req.results or DEFAULT_RESULTS)).resolve()
    thresholds = build_profile(directory=cwd, ini_lines=req.threshold_ini, cli=req.threshold_cli)
    device = resolve_device(req.device)
    models: list[ModelContext] = []
    suites = check_suites()
    seen: set[str] = set()
    for arg in args:
        path, note = resolve_model_dir_arg(arg, cwd)
        if note:
            header.append(note)
        md = discover(path, model_file=req.model_file, train_log=req.train_log, rvc_root=rvc_root)
        assets = default_assets(cwd, root_kind(cwd), md)
        hubert = _asset(req.hubert, assets, "hubert", "--hubert", header)
        rmvpe = _asset(req.rmvpe, assets, "rmvpe", "--rmvpe", header)
        pretrained = _path(req.pretrained, cwd) or _asset(None, assets, "pretrained_g", "--pretrained", header)
        name = md.name if md.name not in seen else f"{md.name}-{len(seen)}"
        seen.add(name)
        results_dir = results_root / name if req.results_per_model else results_root
        if req.writes_results:
            check_results_outside(results_dir, md, req.results_flag)
        options = Options(
            reference_model=_path(req.reference_model, cwd),
            pretrained=pretrained,
            hubert=hubert,
            rmvpe=rmvpe,
            reference_audio=[p for p in (_path(a, cwd) for a in req.reference_audio) if p is not None],
            results_dir=results_dir,
            segments=req.segments,
            transpose=req.transpose,
            device=device,
            sweep=req.sweep,
            applio_root=cwd if root_kind(cwd) == "applio" else None,
            rvc_root=cwd if root_kind(cwd) == "rvc" else None,
        )
        if req.seed is not None:
            options.seed = req.seed
        models.append(ModelContext(md, options, thresholds, name=name, suites=suites))
        header.append(describe_model(name, md))
    header.append(f"results: {results_root}{os.sep}<model>{os.sep}" if req.results_per_model
                  else f"results: {results_root}{os.sep}")
    return Contexts(models, results_root, header)


def describe_model(name: str, md: ModelDir) -> str:
    """The header line naming the folder, its layout and the inference file chosen (and why)."""
    inference = f"{md.inference_file} ({md.inference_source})" if md.inference_file else "no inference model found"
    return f"model {name}: {md.root} [{md.layout} layout]; inference file: {inference}"


def check_results_outside(results_dir: Path, md: ModelDir, flag: str = "--rvcqa-results") -> None:
    """rvcqa never writes into a model directory: refuse a results folder inside one."""
    model_root = md.root.resolve()
    results = results_dir.resolve()
    if results == model_root or model_root in results.parents:
        raise RvcqaError(
            f"results folder {results} is inside the model directory {md.root}; rvcqa never writes "
            f"into a model directory: choose another {flag}"
        )


def _asset(given: str | None, assets: dict[str, AssetDefault], role: str, flag: str, header: list[str]) -> Path | None:
    if given:
        return Path(given).expanduser()
    found = assets.get(role)
    if found is None:
        return None
    line = f"{flag} defaulted to {found.source}"
    if line not in header:
        header.append(line)
    return found.path


def _path(value: str | None, cwd: Path) -> Path | None:
    if not value:
        return None
    p = Path(value).expanduser()
    return p if p.is_absolute() else cwd / p
