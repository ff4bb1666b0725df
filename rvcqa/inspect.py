"""``rvcqa inspect DIR``: what is in a model directory, in the spirit of the report's sections 3, 6, 7.

Gathers facts only (no verdicts); every load problem becomes a line in ``problems`` instead of
a traceback, so inspecting a broken folder is exactly when this is useful.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rvcqa.errors import RvcqaError
from rvcqa.modeldir import ModelDir, stems

CONFIG_NAMES = (
    "spec_channels", "segment_size", "inter_channels", "hidden_channels", "filter_channels",
    "n_heads", "n_layers", "kernel_size", "p_dropout", "resblock", "resblock_kernel_sizes",
    "resblock_dilation_sizes", "upsample_rates", "upsample_initial_channel",
    "upsample_kernel_sizes", "spk_embed_dim", "gin_channels", "sampling_rate",
)


def _tensor_facts(weights: dict[str, Any]) -> dict[str, Any]:
    import torch

    nan = [k for k, t in weights.items() if t.is_floating_point() and torch.isnan(t).any()]
    inf = [k for k, t in weights.items() if t.is_floating_point() and torch.isinf(t).any()]
    dtypes = sorted({str(t.dtype).replace("torch.", "") for t in weights.values()})
    params = sum(int(t.numel()) for t in weights.values())
    return {"layers": len(weights), "parameters": params, "dtypes": dtypes, "nan_tensors": nan, "inf_tensors": inf}


def inspect_model_dir(md: ModelDir) -> dict[str, Any]:
    """Collect the summary as plain data (rendered as text or JSON by the CLI)."""
    out: dict[str, Any] = {"name": md.name, "root": str(md.root), "layout": md.layout, "problems": []}
    problems: list[str] = out["problems"]

    # inference model ------------------------------------------------------------------
    inference: dict[str, Any] | None = None
    try:
        path = md.require_inference_file()
        from rvcqa.checkpoint import load_inference_model

        model = load_inference_model(path)
        inference = {
            "file": str(path),
            "chosen_because": md.inference_source,
            "size_mb": round(path.stat().st_size / 1e6, 1),
            "version": model.version,
            "sr": model.sr,
            "f0": model.f0,
            "info": model.info,
            "epoch": model.epoch,
            "config_length": len(model.config),
            "config": {name: value for name, value in zip(CONFIG_NAMES, model.config)}
            if len(model.config) == 18 else list(model.config),
            "extra": {k: v for k, v in model.extra.items() if isinstance(v, (str, int, float, bool)) or v is None},
        }
        inference.update(_tensor_facts(model.weight))
    except RvcqaError as error:
        problems.append(str(error))
    out["inference_model"] = inference

    # checkpoints ------------------------------------------------------------------------
    ckpts: list[dict[str, Any]] = []
    for cf in md.g_checkpoints + md.d_checkpoints:
        row: dict[str, Any] = {"file": cf.path.name, "kind": cf.kind, "step": cf.step,
                               "modified": cf.mtime.strftime("%Y-%m-%d %H:%M:%S"),
                               "size_mb": round(cf.path.stat().st_size / 1e6, 1)}
        try:
            from rvcqa.checkpoint import load_training_checkpoint

            ck = load_training_checkpoint(cf.path)
            row.update(epoch=ck.iteration, lr=ck.current_lr, layers=len(ck.model))
            if cf.kind == "G":
                row["layers_without_enc_q"] = sum(1 for k in ck.model if "enc_q" not in k)
        except RvcqaError as error:
            problems.append(str(error))
        ckpts.append(row)
    out["checkpoints"] = sorted(ckpts, key=lambda r: (r["kind"] != "G", r["step"]))
    out["epoch_models"] = [{"file": m.path.name, "epoch": m.epoch, "step": m.step} for m in md.epoch_models]

    # dataset ------------------------------------------------------------------------------
    suffixes = {"gt_wavs": ".wav", "wavs16k": ".wav", "f0_coarse": ".npy", "f0_hz": ".npy", "features": ".npy"}
    out["dataset"] = {
        role: {"folder": folder.name, "files": len(stems(folder, suffixes[role]))} if folder else None
        for role, folder in md.data_folders().items()
    }
    for wrong, right in md.misspelt_folders.items():
        problems.append(f"folder {wrong}/ looks like a misspelling of RVC's {right}/")
    out["files"] = {
        "config.json": bool(md.config_json), "train.log": str(md.train_log) if md.train_log else None,
        "filelist.txt": bool(md.filelist), "index": [p.name for p in md.index_files],
    }

    # training log -------------------------------------------------------------------------
    log: dict[str, Any] | None = None
    from rvcqa.history import training_history

    hist = training_history(md)
    if hist.text_error:
        problems.append(hist.text_error)
    parsed = hist.judged
    if parsed is not None:
        mels = [e.loss_mel for e in parsed.entries if e.loss_mel is not None]
        log = {"format": parsed.format, "loss_entries": len(parsed.entries), "source": hist.source,
               "sessions": len(hist.runs),
               "first_loss_mel": mels[0] if mels else None, "last_loss_mel": mels[-1] if mels else None,
               "last_step": parsed.entries[-1].step if parsed.entries else None}
    out["train_log"] = log
    out["files"]["tensorboard"] = [str(Path(p).relative_to(md.root)) for p in hist.event_files]
    out["model_info"] = _model_info(md)
    return out


def _model_info(md: ModelDir) -> dict[str, Any] | None:
    """Applio's ``model_info.json`` (the embedder it extracted features with)."""
    import json

    if md.model_info_json is None:
        return None
    try:
        data = json.loads(md.model_info_json.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return {"error": f"{md.model_info_json.name}: {exc}"}
    return data if isinstance(data, dict) else {"error": f"{md.model_info_json.name}: not a JSON object"}


def format_text(summary: dict[str, Any]) -> str:
    """A readable multi-section summary for the terminal."""
    lines = [f"Model directory: {summary['root']}  (name {summary['name']}, {summary['layout']} layout)"]
    inf = summary.get("inference_model")
    if inf:
        lines += [
            "",
            f"Inference model: {inf['file']}  [{inf['chosen_because']}]",
            f"  version {inf['version']}   sr {inf['sr']!r}   f0 {inf['f0']}   info {inf['info']!r}   "
            f"size {inf['size_mb']} MB",
            f"  weight layers {inf['layers']}   parameters {inf['parameters']:,}   dtypes {', '.join(inf['dtypes'])}",
            f"  NaN tensors {len(inf['nan_tensors'])}   Inf tensors {len(inf['inf_tensors'])}",
            f"  config ({inf['config_length']} entries):",
        ]
        cfg = inf["config"]
        if isinstance(cfg, dict):
            lines += [f"    {k:<26} {v}" for k, v in cfg.items()]
        else:
            lines.append(f"    {cfg}")
        for key, value in inf.get("extra", {}).items():
            lines.append(f"  {key}: {value}")
    if summary["checkpoints"]:
        lines += ["", "Checkpoints:", f"  {'file':<18} {'epoch':>6} {'step':>8} {'lr':>12} {'layers':>7}  modified"]
        for row in summary["checkpoints"]:
            lr = f"{row['lr']:.4e}" if isinstance(row.get("lr"), float) and math.isfinite(row["lr"]) else "-"
            lines.append(f"  {row['file']:<18} {str(row.get('epoch', '-')):>6} {row['step']:>8} {lr:>12} "
                         f"{str(row.get('layers', '-')):>7}  {row['modified']}")
    if summary["epoch_models"]:
        lines.append("Per-epoch models: " + ", ".join(m["file"] for m in summary["epoch_models"]))
    lines += ["", "Dataset folders:"]
    for role, info in summary["dataset"].items():
        lines.append(f"  {role:<10} " + (f"{info['folder']:<18} {info['files']} files" if info else "absent"))
    log = summary.get("train_log")
    if log:
        lines += ["", f"Training history from {log['source']} ({log['format']} format, {log['sessions']} "
                      f"session(s)): {log['loss_entries']} loss points, "
                      f"loss_mel first {log['first_loss_mel']} -> last {log['last_loss_mel']} "
                      f"(step {log['last_step']})"]
    if summary.get("model_info"):
        lines.append("model_info.json: " + ", ".join(f"{k} {v}" for k, v in summary["model_info"].items()))
    if summary["problems"]:
        lines += ["", "Problems:"] + [f"  - {p}" for p in summary["problems"]]
    return "\n".join(lines)
