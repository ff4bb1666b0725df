"""Safe reading and RVC-exact writing of ``.pth`` files.

Model files are shared on the internet, and a pickle can run code. Everything here goes through
``torch.load(..., weights_only=True)``: only tensors and plain containers are rebuilt, anything else
is refused with :class:`~rvcqa.errors.UnsafeCheckpointError` and nothing in the file runs.
Zip-format files are memory-mapped, so comparing ten 450 MB ``G_*.pth`` costs page faults, not RAM.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import re
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from rvcqa.errors import CheckpointError, TrainingCheckpointGivenError, UnsafeCheckpointError

#: The entries RVC's ``savee``/``extract_small_model`` always write.
INFERENCE_KEYS = ("weight", "config", "version", "f0")
#: Applio's extra top-level entries (RVC_FORMATS 1.6); kept in ``InferenceModel.extra``.
APPLIO_KEYS = (
    "epoch", "step", "creation_date", "model_hash", "dataset_length", "dataset_lenght",
    "model_name", "author", "embedder_model", "speakers_id", "vocoder", "overtrain_info",
)
_STEP_IN_NAME = re.compile(r"^[GD]_(\d+)\.pth$")
_LEGACY_PICKLE_MAGIC = b"\x80"
LATEST_ONLY_STEP = 2333333  # RVC's "save only latest" file name G_2333333.pth


def parse_sample_rate(sr: Any) -> int | None:
    """RVC writes ``sr`` as "48k", Applio as 48000; return Hz or None when unreadable."""
    if isinstance(sr, bool):
        return None
    if isinstance(sr, int):
        return sr
    if isinstance(sr, float) and sr.is_integer():
        return int(sr)
    if isinstance(sr, str):
        text = sr.strip().lower()
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*k(?:hz)?", text)
        if match:
            return int(round(float(match.group(1)) * 1000))
        if text.isdigit():
            return int(text)
    return None


def parse_epoch_info(info: Any) -> int | None:
    """``savee`` writes ``info="{epoch}epoch"``; return the epoch, or None for free text."""
    if not isinstance(info, str):
        return None
    match = re.fullmatch(r"\s*(\d+)\s*epochs?\s*", info)
    return int(match.group(1)) if match else None


def step_from_name(path: str | os.PathLike[str]) -> int | None:
    """``G_2376.pth`` -> 2376 (the global step at the end of the saving epoch)."""
    match = _STEP_IN_NAME.match(Path(path).name)
    return int(match.group(1)) if match else None


# --------------------------------------------------------------------------- raw loading

def load_pth(path: str | os.PathLike[str], *, mmap: bool = True) -> Any:
    """Load a ``.pth`` safely, turning every way it can be bad into one specific message.

    Raises :class:`CheckpointError` (missing, empty, truncated, not a torch file) or
    :class:`UnsafeCheckpointError` (the pickle would run code or build non-data objects).
    """
    import torch  # heavy: imported where needed

    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"{p}: file not found")
    if p.is_dir():
        raise CheckpointError(f"{p}: is a folder, expected a .pth file")
    size = p.stat().st_size
    if size == 0:
        raise CheckpointError(f"{p}: the file is empty (0 bytes); it was not written completely")
    with p.open("rb") as handle:
        head = handle.read(4)
    is_zip = head.startswith(b"PK")
    if is_zip and not zipfile.is_zipfile(p):
        raise CheckpointError(
            f"{p}: truncated or damaged ({_human_size(size)}): the zip archive's central directory is "
            "missing, so the file was cut off while copying or saving; copy it again"
        )
    if not is_zip and not head.startswith(_LEGACY_PICKLE_MAGIC):
        raise CheckpointError(
            f"{p}: not a PyTorch checkpoint (starts with {head!r}); expected a file written by "
            "torch.save (a zip archive)"
        )
    try:
        return torch.load(p, map_location="cpu", weights_only=True, mmap=mmap and is_zip)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "weights_only" in text.lower() or "weights only" in text.lower():
            what = _unsafe_global(text)
            raise UnsafeCheckpointError(
                f"{p}: refused to load: its pickle asks for {what}, which is not plain tensor data. "
                "A model file that runs code on load may be malicious; rvcqa loads weights only "
                "(torch.load weights_only=True) and ran nothing from it."
            ) from None
        raise CheckpointError(f"{p}: damaged pickle data ({_first_line(text)})") from None
    except (RuntimeError, EOFError, ValueError, zipfile.BadZipFile, OSError, KeyError) as exc:
        text = _first_line(str(exc))
        if "central directory" in text or "zip archive" in text or isinstance(exc, EOFError):
            raise CheckpointError(
                f"{p}: truncated or damaged ({_human_size(size)}): {text}; copy the file again"
            ) from None
        raise CheckpointError(f"{p}: cannot be read as a PyTorch checkpoint: {text}") from None


def _unsafe_global(text: str) -> str:
    match = re.search(r"GLOBAL\s+([A-Za-z_][\w.]*)", text) or re.search(r"Unsupported global:\s*([A-Za-z_][\w.]*)", text)
    if match:
        return repr(match.group(1).rstrip("."))
    match = re.search(r"Unsupported operand (\d+)", text)
    if match:
        return f"pickle opcode {match.group(1)}"
    return "an object that is not plain data"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unknown error"


def _human_size(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} bytes"


# --------------------------------------------------------------------------- records

@dataclass
class InferenceModel:
    """An inference ``.pth`` as RVC/Applio write it (see RVC_FORMATS 1.2 and 1.6)."""

    path: Path | None
    weight: dict[str, Any]
    config: list[Any]
    info: str | None
    sr: Any  # as written: "48k" (RVC) or 48000 (Applio)
    f0: int
    version: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def sr_hz(self) -> int | None:
        return parse_sample_rate(self.sr)

    @property
    def config_sr(self) -> int | None:
        return parse_sample_rate(self.config[-1]) if self.config else None

    @property
    def epoch(self) -> int | None:
        """Epoch from ``info`` ("132epoch") or Applio's ``epoch`` entry."""
        if isinstance(self.extra.get("epoch"), int):
            return int(self.extra["epoch"])
        return parse_epoch_info(self.info)

    @property
    def name(self) -> str:
        return self.path.stem if self.path else "<in memory>"

    def size_bytes(self) -> int | None:
        return self.path.stat().st_size if self.path and self.path.exists() else None


@dataclass
class TrainingCheckpoint:
    """A ``G_{step}.pth`` / ``D_{step}.pth`` written by RVC's ``utils.save_checkpoint``."""

    path: Path
    kind: str  # "G" or "D"
    model: dict[str, Any]
    iteration: int | None  # the EPOCH at save time (RVC's name for it)
    step: int | None  # from the file name; None for unusual names
    learning_rate: float | None  # the INITIAL lr RVC stores
    current_lr: float | None  # optimizer.param_groups[0].lr: the decayed one
    optimizer_steps: int | None  # per-parameter AdamW step count (cumulative across resumes)
    mtime: datetime

    @property
    def epoch(self) -> int | None:
        return self.iteration

    @property
    def is_latest_only(self) -> bool:
        return self.step == LATEST_ONLY_STEP


def _is_state_dict(obj: Any) -> bool:
    import torch

    return isinstance(obj, Mapping) and len(obj) > 0 and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()
    )


def describe_structure(obj: Any) -> str:
    """A short description of what a loaded object is, for error messages."""
    if isinstance(obj, Mapping):
        keys = list(obj.keys())
        shown = ", ".join(repr(k) for k in keys[:8]) + (", ..." if len(keys) > 8 else "")
        return f"a dict with {len(keys)} entries ({shown})"
    return f"a {type(obj).__name__}"


def _training_checkpoint_message(path: Path, obj: Mapping[str, Any]) -> str:
    epoch = obj.get("iteration")
    step = step_from_name(path)
    kind = "discriminator" if _looks_like_discriminator(obj.get("model")) else "training"
    where = f"epoch {epoch}" if epoch is not None else "epoch unknown"
    where += f", step {step}" if step is not None else ""
    hint = (
        "give the generator's inference file instead"
        if kind == "discriminator"
        else "extract an inference model (RVC: ckpt processing -> extract small model) and test that"
    )
    return f"{path}: this is a {kind} checkpoint ({where}); {hint}"


def _looks_like_discriminator(model: Any) -> bool:
    return isinstance(model, Mapping) and any(str(k).startswith("discriminators.") for k in model)


def load_inference_model(path: str | os.PathLike[str], *, mmap: bool = True) -> InferenceModel:
    """Load an inference model safely and check its top-level structure.

    A ``G_*.pth`` given here is named as a training checkpoint ("extract an inference model").
    """
    p = Path(path)
    obj = load_pth(p, mmap=mmap)
    if isinstance(obj, Mapping) and "model" in obj and ("iteration" in obj or "optimizer" in obj):
        raise TrainingCheckpointGivenError(_training_checkpoint_message(p, obj))
    if not isinstance(obj, Mapping):
        raise CheckpointError(
            f"{p}: wrong structure: {describe_structure(obj)}; an RVC inference model is a dict "
            "with 'weight', 'config', 'info', 'sr', 'f0', 'version'"
        )
    if _is_state_dict(obj):
        raise CheckpointError(
            f"{p}: a bare state dict ({len(obj)} tensors) without 'config'/'version'/'f0'; extract an "
            "inference model from it (RVC: ckpt processing -> extract small model)"
        )
    missing = [k for k in INFERENCE_KEYS if k not in obj]
    if missing:
        raise CheckpointError(
            f"{p}: wrong structure: missing {', '.join(repr(k) for k in missing)}; found "
            f"{describe_structure(obj)}. An RVC inference model has 'weight', 'config', 'sr', 'f0', "
            "'version'"
        )
    weight = obj["weight"]
    if not _is_state_dict(weight):
        raise CheckpointError(f"{p}: 'weight' is {describe_structure(weight)}, expected a dict of tensors")
    config = obj["config"]
    if not isinstance(config, (list, tuple)):
        raise CheckpointError(f"{p}: 'config' is a {type(config).__name__}, expected RVC's 18-element list")
    f0 = obj["f0"]
    extra = {k: v for k, v in obj.items() if k not in ("weight", "config", "info", "sr", "f0", "version")}
    return InferenceModel(
        path=p,
        weight=dict(weight),
        config=list(config),
        info=obj.get("info") if isinstance(obj.get("info"), str) else None,
        sr=obj.get("sr"),
        f0=int(bool(f0)) if isinstance(f0, (int, bool)) else f0,
        version=str(obj["version"]),
        extra=extra,
    )


def load_training_checkpoint(path: str | os.PathLike[str], *, mmap: bool = True) -> TrainingCheckpoint:
    """Load a ``G_*.pth``/``D_*.pth`` and pull out epoch, step, learning rates and step counts."""
    p = Path(path)
    obj = load_pth(p, mmap=mmap)
    if not isinstance(obj, Mapping) or "model" not in obj:
        if isinstance(obj, Mapping) and "weight" in obj:
            raise CheckpointError(f"{p}: this is an inference model, not a G_/D_ training checkpoint")
        raise CheckpointError(
            f"{p}: wrong structure: {describe_structure(obj)}; an RVC training checkpoint has "
            "'model', 'iteration', 'optimizer', 'learning_rate'"
        )
    model = obj["model"]
    if not _is_state_dict(model):
        raise CheckpointError(f"{p}: 'model' is {describe_structure(model)}, expected a dict of tensors")
    current_lr, opt_steps = _optimizer_facts(obj.get("optimizer"))
    iteration = obj.get("iteration")
    lr = obj.get("learning_rate")
    name = p.name
    kind = "D" if name.startswith("D_") or _looks_like_discriminator(model) else "G"
    return TrainingCheckpoint(
        path=p,
        kind=kind,
        model=dict(model),
        iteration=int(iteration) if isinstance(iteration, (int, float)) else None,
        step=step_from_name(p),
        learning_rate=float(lr) if isinstance(lr, (int, float)) else None,
        current_lr=current_lr,
        optimizer_steps=opt_steps,
        mtime=datetime.fromtimestamp(p.stat().st_mtime, tz=timezone.utc),
    )


def _optimizer_facts(optimizer: Any) -> tuple[float | None, int | None]:
    if not isinstance(optimizer, Mapping):
        return None, None
    lr = None
    groups = optimizer.get("param_groups")
    if isinstance(groups, list) and groups and isinstance(groups[0], Mapping):
        value = groups[0].get("lr")
        lr = float(value) if isinstance(value, (int, float)) else None
    steps = None
    state = optimizer.get("state")
    if isinstance(state, Mapping) and state:
        first = next(iter(state.values()))
        if isinstance(first, Mapping) and "step" in first:
            value = first["step"]
            try:
                steps = int(value.item() if hasattr(value, "item") else value)
            except (TypeError, ValueError):
                steps = None
    return lr, steps


# --------------------------------------------------------------------------- writers

def inference_weights(state_dict: Mapping[str, Any]) -> "OrderedDict[str, Any]":
    """What RVC keeps for inference: every key without ``enc_q``, as fp16."""
    return OrderedDict((k, v.detach().half()) for k, v in state_dict.items() if "enc_q" not in k)


def save_inference_model(
    path: str | os.PathLike[str],
    state_dict: Mapping[str, Any],
    config: list[Any],
    *,
    sr: str | int,
    f0: int | bool,
    version: str,
    info: str = "Extracted model.",
    style: str = "savee",
    name: str | None = None,
    epoch: int | None = None,
    step: int | None = None,
    vocoder: str = "HiFi-GAN",
) -> Path:
    """Write an inference model exactly as RVC (``savee`` / ``extract``) or Applio does.

    ``style``: ``"savee"`` (RVC's end-of-training writer: weight, config, info, sr, f0, version),
    ``"extract"`` (RVC's ckpt tab: weight, config, info, version, sr, f0) or ``"applio"``.
    """
    import torch

    p = Path(path)
    weight = inference_weights(state_dict)
    ckpt: "OrderedDict[str, Any]" = OrderedDict()
    ckpt["weight"] = weight
    ckpt["config"] = list(config)
    if style == "savee":
        ckpt["info"] = info
        ckpt["sr"] = sr
        ckpt["f0"] = int(f0)
        ckpt["version"] = version
    elif style == "extract":
        ckpt["info"] = info
        ckpt["version"] = version
        ckpt["sr"] = sr
        ckpt["f0"] = int(f0)
    elif style == "applio":
        model_name = name or p.stem
        sr_int = parse_sample_rate(sr) or sr
        ckpt["epoch"] = int(epoch or 0)
        ckpt["step"] = int(step or 0)
        ckpt["sr"] = sr_int
        ckpt["f0"] = bool(f0)
        ckpt["version"] = version
        ckpt["creation_date"] = datetime.now(timezone.utc).isoformat()
        hash_input = f"{model_name}-{epoch}-{step}-{sr_int}-{version}-{config}"
        ckpt["model_hash"] = hashlib.sha256(hash_input.encode()).hexdigest()
        ckpt["dataset_length"] = None
        ckpt["model_name"] = model_name
        ckpt["author"] = None
        ckpt["embedder_model"] = "contentvec"
        ckpt["speakers_id"] = 1
        ckpt["vocoder"] = vocoder
    else:
        raise ValueError(f"unknown style {style!r}: use 'savee', 'extract' or 'applio'")
    p.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, p)
    return p


def save_training_checkpoint(
    path: str | os.PathLike[str],
    state_dict: Mapping[str, Any],
    *,
    iteration: int,
    learning_rate: float = 1e-4,
    optimizer_state: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``G_{step}.pth``/``D_{step}.pth`` as RVC's ``utils.save_checkpoint`` does.

    ``iteration`` is the epoch (RVC's naming). Without an optimizer state, a minimal AdamW-shaped
    one is written with RVC's decayed lr for that epoch, so readers find ``param_groups[0].lr``.
    """
    import torch

    p = Path(path)
    if optimizer_state is None:
        lr_now = learning_rate * 0.999875 ** max(iteration - 1, 0)
        optimizer_state = {
            "state": {},
            "param_groups": [{
                "lr": lr_now, "betas": (0.8, 0.99), "eps": 1e-9, "weight_decay": 0.01,
                "amsgrad": False, "initial_lr": learning_rate,
                "params": list(range(len(state_dict))),
            }],
        }
    ckpt = {
        "model": OrderedDict((k, v.detach().float().contiguous()) for k, v in state_dict.items()),
        "iteration": int(iteration),
        "optimizer": dict(optimizer_state),
        "learning_rate": float(learning_rate),
    }
    p.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, p)
    return p
