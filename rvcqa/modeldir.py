"""Discovery of RVC WebUI and Applio experiment folders (``logs/NAME``).

Only looks at names: nothing is loaded here, so discovery is instant even next to 10 GB of
checkpoints, and it never writes. Layout facts: RVC_FORMATS.md section 3.
"""
from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from rvcqa.checkpoint import LATEST_ONLY_STEP
from rvcqa.errors import ModelDirError

_G_OR_D = re.compile(r"^([GD])_(\d+)\.pth$")
_RVC_EPOCH = re.compile(r"^(?P<name>.+)_e(?P<epoch>\d+)_s(?P<step>\d+)\.pth$")
_APPLIO_EPOCH = re.compile(r"^(?P<name>.+)_(?P<epoch>\d+)e_(?P<step>\d+)s\.pth$")

#: folder role -> candidate names, RVC first then Applio.
DATA_FOLDERS: dict[str, tuple[str, ...]] = {
    "gt_wavs": ("0_gt_wavs", "sliced_audios"),
    "wavs16k": ("1_16k_wavs", "sliced_audios_16k"),
    "f0_coarse": ("2a_f0", "f0"),
    "f0_hz": ("2b-f0nsf", "f0_voiced"),
    "features": ("3_feature768", "3_feature256", "extracted"),
}
#: common misspellings people create by hand (the user's own report says 2b_f0nsf)
MISSPELT_FOLDERS = {"2b_f0nsf": "2b-f0nsf", "2a-f0": "2a_f0", "0_gt_wav": "0_gt_wavs"}


@dataclass(frozen=True)
class CheckpointFile:
    """A ``G_/D_`` file found by name; ``step`` from the name (2333333 = "latest only")."""

    path: Path
    kind: str
    step: int

    @property
    def is_latest_only(self) -> bool:
        return self.step == LATEST_ONLY_STEP

    @property
    def mtime(self) -> datetime:
        return datetime.fromtimestamp(self.path.stat().st_mtime, tz=timezone.utc)


@dataclass(frozen=True)
class EpochModel:
    """A per-epoch inference file: RVC ``NAME_e{E}_s{S}.pth`` or Applio ``NAME_{E}e_{S}s.pth``."""

    path: Path
    epoch: int
    step: int


@dataclass
class ModelDir:
    """What an experiment folder holds, by role. ``None`` means absent."""

    root: Path
    name: str
    layout: str  # "rvc", "applio" or "unknown"
    inference_file: Path | None = None
    inference_source: str = ""  # how the inference file was chosen, for the session header
    epoch_models: list[EpochModel] = field(default_factory=list)
    g_checkpoints: list[CheckpointFile] = field(default_factory=list)
    d_checkpoints: list[CheckpointFile] = field(default_factory=list)
    other_pth: list[Path] = field(default_factory=list)
    config_json: Path | None = None
    train_log: Path | None = None
    model_info_json: Path | None = None
    filelist: Path | None = None
    preprocess_log: Path | None = None
    extract_log: Path | None = None
    gt_wavs: Path | None = None
    wavs16k: Path | None = None
    f0_coarse: Path | None = None
    f0_hz: Path | None = None
    features: Path | None = None
    index_files: list[Path] = field(default_factory=list)
    total_fea: Path | None = None
    misspelt_folders: dict[str, str] = field(default_factory=dict)

    @property
    def feature_dim(self) -> int | None:
        """256 or 768 from the RVC folder name; Applio's ``extracted`` is always 768."""
        if self.features is None:
            return None
        if self.features.name == "3_feature256":
            return 256
        return 768

    @property
    def latest_g(self) -> CheckpointFile | None:
        """The newest generator checkpoint by step (``G_2333333`` counts as newest)."""
        return max(self.g_checkpoints, key=lambda c: c.step, default=None)

    def data_folders(self) -> dict[str, Path | None]:
        return {role: getattr(self, role) for role in DATA_FOLDERS}

    def found_files_summary(self) -> str:
        names = [p.name for p in sorted(self.root.iterdir())][:12] if self.root.is_dir() else []
        return ", ".join(names) if names else "nothing"

    def require_inference_file(self) -> Path:
        """The inference model, or one plain sentence on what to do instead."""
        if self.inference_file is not None:
            return self.inference_file
        found = [c.path.name for c in self.g_checkpoints] or [p.name for p in self.other_pth]
        if found:
            latest = self.latest_g
            which = latest.path.name if latest else found[-1]
            raise ModelDirError(
                f"no inference model in {self.root}: found {', '.join(found[:6])}"
                f"{' ...' if len(found) > 6 else ''}; extract one first (RVC: ckpt processing -> "
                f"extract small model from {which}) or pass --model-file PATH "
                f"(RVC keeps it in assets/weights/{self.name}.pth)"
            )
        raise ModelDirError(
            f"no inference model in {self.root} (found {self.found_files_summary()}); pass "
            f"--model-file PATH (RVC keeps it in assets/weights/{self.name}.pth)"
        )


def _sorted_numeric(paths: list[Path]) -> list[Path]:
    return sorted(paths, key=lambda p: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)])


def discover(
    path: str | os.PathLike[str],
    *,
    model_file: str | os.PathLike[str] | None = None,
    train_log: str | os.PathLike[str] | None = None,
    rvc_root: str | os.PathLike[str] | None = None,
) -> ModelDir:
    """Describe an experiment folder. Raises :class:`ModelDirError` with one clear line."""
    root = Path(path).expanduser()
    if not root.exists():
        raise ModelDirError(_missing_dir_message(root))
    if not root.is_dir():
        raise ModelDirError(
            f"{root} is a file, not a model directory; pass the experiment folder with --model-dir "
            f"and the file with --model-file {root}"
        )
    entries = list(root.iterdir())
    if not entries and model_file is None:
        raise ModelDirError(f"model directory {root} is empty: not an RVC/Applio experiment folder")
    name = root.resolve().name
    md = ModelDir(root=root, name=name, layout="unknown")

    pths = [e for e in entries if e.is_file() and e.suffix == ".pth"]
    for e in pths:
        m = _G_OR_D.match(e.name)
        if m:
            cf = CheckpointFile(e, m.group(1), int(m.group(2)))
            (md.g_checkpoints if cf.kind == "G" else md.d_checkpoints).append(cf)
            continue
        m = _RVC_EPOCH.match(e.name) or _APPLIO_EPOCH.match(e.name)
        if m:
            md.epoch_models.append(EpochModel(e, int(m.group("epoch")), int(m.group("step"))))
            continue
        md.other_pth.append(e)
    md.g_checkpoints.sort(key=lambda c: c.step)
    md.d_checkpoints.sort(key=lambda c: c.step)
    md.epoch_models.sort(key=lambda m: (m.step, m.epoch))
    md.other_pth = _sorted_numeric(md.other_pth)

    by_name = {e.name: e for e in entries}
    for role, candidates in DATA_FOLDERS.items():
        for cand in candidates:
            if cand in by_name and by_name[cand].is_dir():
                setattr(md, role, by_name[cand])
                break
    for wrong, right in MISSPELT_FOLDERS.items():
        if wrong in by_name and right not in by_name:
            md.misspelt_folders[wrong] = right
    md.layout = _layout(by_name)

    def file_if(name_: str) -> Path | None:
        e = by_name.get(name_)
        return e if e is not None and e.is_file() else None

    md.config_json = file_if("config.json")
    md.train_log = Path(train_log) if train_log else file_if("train.log")
    md.model_info_json = file_if("model_info.json")
    md.filelist = file_if("filelist.txt")
    md.preprocess_log = file_if("preprocess.log")
    md.extract_log = file_if("extract_f0_feature.log")
    md.total_fea = file_if("total_fea.npy")
    md.index_files = sorted(
        e for e in entries if e.is_file() and e.suffix == ".index" and not e.name.startswith("trained_")
    )

    _choose_inference_file(md, model_file, rvc_root)
    return md


def _layout(by_name: dict[str, Path]) -> str:
    if any(n in by_name for n in ("0_gt_wavs", "1_16k_wavs", "2a_f0", "2b-f0nsf", "3_feature768", "3_feature256")):
        return "rvc"
    if any(n in by_name for n in ("sliced_audios", "sliced_audios_16k", "f0_voiced", "extracted", "model_info.json")):
        return "applio"
    return "unknown"


def _choose_inference_file(md: ModelDir, model_file: str | os.PathLike[str] | None, rvc_root: str | os.PathLike[str] | None) -> None:
    """Pick the released model: explicit flag, ``NAME.pth``, RVC's ``assets/weights``, newest epoch file."""
    if model_file is not None:
        mf = Path(model_file).expanduser()
        if not mf.exists():
            raise ModelDirError(f"--model-file {mf} does not exist")
        md.inference_file, md.inference_source = mf, "--model-file"
        return
    own = md.root / f"{md.name}.pth"
    if own.is_file():
        md.inference_file, md.inference_source = own, f"{own.name} in the experiment folder"
        return
    for root in _rvc_roots(md.root, rvc_root):
        for sub in ("assets/weights", "weights"):
            cand = root / sub / f"{md.name}.pth"
            if cand.is_file():
                md.inference_file, md.inference_source = cand, f"RVC's {sub}/ folder"
                return
    if md.epoch_models:
        newest = md.epoch_models[-1]
        md.inference_file = newest.path
        md.inference_source = f"newest per-epoch model (epoch {newest.epoch}, step {newest.step})"
        return
    if len(md.other_pth) == 1:
        md.inference_file, md.inference_source = md.other_pth[0], "the only non-checkpoint .pth"


def _rvc_roots(model_root: Path, rvc_root: str | os.PathLike[str] | None) -> list[Path]:
    roots: list[Path] = []
    if rvc_root is not None:
        roots.append(Path(rvc_root))
    resolved = model_root.resolve()
    if resolved.parent.name == "logs":
        roots.append(resolved.parent.parent)
    return roots


def _missing_dir_message(root: Path) -> str:
    parent = root.parent if str(root.parent) not in ("", ".") else Path(".")
    hint = ""
    if parent.is_dir():
        names = [p.name for p in parent.iterdir() if p.is_dir() and not p.name.startswith(".")]
        close = difflib.get_close_matches(root.name, names, n=3, cutoff=0.5)
        if close:
            hint = f"; did you mean {', '.join(str(parent / c) for c in close)}?"
        elif names and parent.name == "logs":
            hint = f"; {parent} has {', '.join(sorted(names)[:8])}"
    return f"model directory {root} does not exist{hint}"


def resolve_model_dir_arg(arg: str, cwd: str | os.PathLike[str] | None = None) -> tuple[Path, str | None]:
    """Turn what the user typed into a folder: ``lexi`` inside an RVC root means ``logs/lexi``.

    Returns the path and, when a default was taken, a sentence saying which.
    """
    base = Path(cwd) if cwd is not None else Path.cwd()
    p = Path(arg).expanduser()
    candidate = p if p.is_absolute() else base / p
    if candidate.exists():
        return candidate, None
    if len(p.parts) == 1 and (base / "logs").is_dir():
        in_logs = base / "logs" / p
        if in_logs.exists():
            return in_logs, f"--model-dir {arg} -> logs/{arg}"
        raise ModelDirError(_missing_dir_message(in_logs))
    raise ModelDirError(_missing_dir_message(candidate))


def stems(folder: Path | None, suffix: str) -> dict[str, Path]:
    """Files in ``folder`` ending in ``suffix``, keyed by stem up to the first "." (RVC's rule)."""
    if folder is None or not folder.is_dir():
        return {}
    out: dict[str, Path] = {}
    for entry in folder.iterdir():
        if entry.is_file() and entry.name.endswith(suffix):
            out[entry.name.split(".", 1)[0]] = entry
    return dict(sorted(out.items()))


# --------------------------------------------------------------------------- roots and their assets

@dataclass(frozen=True)
class AssetDefault:
    """A file rvcqa takes from the trainer's root when the user did not name one."""

    path: Path
    source: str  # where it came from, for the session header


#: Applio's embedder_model names -> folder under rvc/models/embedders/
APPLIO_EMBEDDERS = ("contentvec", "chinese-hubert-base", "japanese-hubert-base", "korean-hubert-base", "spin",
                    "spin-v2")


def root_kind(path: Path) -> str | None:
    """"applio" (``rvc/`` and ``logs/``), "rvc" (``assets/`` or ``logs/``), or None."""
    if (path / "rvc").is_dir() and ((path / "logs").is_dir() or (path / "rvc" / "models").is_dir()):
        return "applio"
    if (path / "assets").is_dir() or (path / "logs").is_dir():
        return "rvc"
    return None


def _small_json(path: Path | None) -> dict[str, object]:
    import json

    if path is None or not path.is_file() or path.stat().st_size > 1_000_000:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def default_assets(root: Path, kind: str | None, md: ModelDir | None = None,
                   vocoder: str | None = None) -> dict[str, AssetDefault]:
    """The content model, RMVPE and pretrained bases a root holds for ``md``, with where each came from.

    RVC: ``assets/hubert/hubert_base.pt``, ``assets/rmvpe/rmvpe.pt``. Applio: the embedder named by
    ``logs/NAME/model_info.json`` (``embedder_model``; a custom one is stored as its path) under
    ``rvc/models/embedders/``, ``rvc/models/predictors/rmvpe.pt``, and the bases its
    ``pretrained_selector`` picks: ``rvc/models/pretraineds/<vocoder>/f0G<sr>k.pth`` / ``f0D``.
    """
    out: dict[str, AssetDefault] = {}
    if kind == "rvc":
        for role, rel in (("hubert", "assets/hubert/hubert_base.pt"), ("rmvpe", "assets/rmvpe/rmvpe.pt")):
            if (root / rel).is_file():
                out[role] = AssetDefault(root / rel, rel)
        return out
    if kind != "applio":
        return out
    rmvpe = "rvc/models/predictors/rmvpe.pt"
    if (root / rmvpe).is_file():
        out["rmvpe"] = AssetDefault(root / rmvpe, rmvpe)
    info = _small_json(md.model_info_json if md else None)
    embedder = info.get("embedder_model")
    name = embedder if isinstance(embedder, str) and embedder else "contentvec"
    how = f"embedder_model {name!r} in model_info.json" if isinstance(embedder, str) else "Applio's default contentvec"
    custom = Path(name)
    folder = custom if name not in APPLIO_EMBEDDERS and (custom.is_absolute() or (root / custom).is_dir()) else \
        Path("rvc/models/embedders") / name
    full = folder if folder.is_absolute() else root / folder
    if full.is_dir():
        out["hubert"] = AssetDefault(full, f"{folder} ({how})")
    cfg = _small_json(md.config_json if md else None)
    data = cfg.get("data")
    sr = data.get("sample_rate", data.get("sampling_rate")) if isinstance(data, dict) else None
    if isinstance(sr, int):
        voc = (vocoder or "HiFi-GAN").lower()
        for role, letter in (("pretrained_g", "G"), ("pretrained_d", "D")):
            rel = f"rvc/models/pretraineds/{voc}/f0{letter}{str(sr)[:2]}k.pth"
            if (root / rel).is_file():
                out[role] = AssetDefault(root / rel, f"{rel} (Applio's pretrained for {vocoder or 'HiFi-GAN'} at {sr} Hz)")
    return out
