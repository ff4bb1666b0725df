"""Turning candidates into synthesizers, fast: one network, weights assigned into it.

The first candidate is loaded strictly (:func:`rvcqa.synth.load_synthesizer`: every key and shape
checked, errors worded for the user). Every later candidate whose generator has the same keys and
shapes is not rebuilt: its weights are read memory-mapped (only the generator's non-``enc_q``
tensors of a ``G_*.pth`` are touched, never the optimizer state), weight norm is folded, and the
result is copied into the existing network. A candidate that differs goes through the strict loader
again. :func:`prefetched` reads the next candidate on a loader thread while the current one runs.
"""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, Sequence

from rvcqa.errors import ModelDirError
from rvcqa.facts import NetworkConfig
from rvcqa.sweep.model import SweepCandidate

if TYPE_CHECKING:
    from rvcqa.context import ModelContext


@dataclass
class Loaded:
    """One candidate's weights read from disk: the record for the strict loader, and the same
    weights folded and in fp32, ready to copy into a network of the same shape."""

    candidate: SweepCandidate
    record: Any  # InferenceModel or a dict shaped like an inference file
    signature: Optional[tuple[Any, ...]]  # None: cannot take the fast path (e.g. Applio parametrizations)
    folded: Optional[dict[str, Any]]


def _record(ctx: ModelContext, cand: SweepCandidate, facts: NetworkConfig) -> Any:
    from rvcqa.checkpoint import load_inference_model, load_training_checkpoint
    from rvcqa.weights import inference_part

    if cand.kind == "released":
        return ctx.inference_model()
    if cand.kind == "epoch":
        return load_inference_model(cand.path)
    if facts.config is None:
        raise ModelDirError(
            f"{cand.label}: no config to build the network from (no inference model, per-epoch file or "
            "config.json in the folder)"
        )
    ck = load_training_checkpoint(cand.path)  # memory-mapped: the optimizer state is never read
    if cand.epoch is None:
        cand.epoch = ck.iteration
    weight = inference_part(ck.model)
    version, f0 = facts.version, facts.f0
    if version is None:  # config.json only: read version and pitch guidance off the weights
        phone = weight.get("enc_p.emb_phone.weight")
        version = "v1" if phone is not None and phone.shape[-1] == 256 else "v2"
        f0 = "enc_p.emb_pitch.weight" in weight
    return {"weight": weight, "config": facts.config, "version": version, "f0": int(bool(f0)),
            "path": str(cand.path)}


def _parts(record: Any) -> tuple[dict[str, Any], Any, str, bool]:
    if isinstance(record, dict):
        return dict(record["weight"]), record["config"], str(record["version"]), bool(int(record["f0"]))
    return dict(record.weight), record.config, str(record.version), bool(int(record.f0))


def _fold(weight: dict[str, Any]) -> dict[str, Any]:
    """fp32 weights with every weight-norm pair folded as the strict loader folds it (bit-equal)."""
    import torch

    from rvcqa.synth.layers import weight_from_norm

    out: dict[str, Any] = {}
    for key, value in weight.items():
        if key.endswith(".weight_v"):
            continue
        if key.endswith(".weight_g"):
            base = key[: -len("_g")]
            g = value.detach().to(torch.float32)
            v = weight[base + "_v"].detach().to(torch.float32)
            out[base] = weight_from_norm(g, v)
        else:  # a copy, so the mapped pages are read here (the loader thread), not in the network
            out[key] = value.detach().to(torch.float32, copy=True)
    return out


def read_candidate(ctx: ModelContext, cand: SweepCandidate, facts: NetworkConfig) -> Loaded:
    """Read (and fold) one candidate's weights; raises :class:`RvcqaError` for a bad file."""
    record = _record(ctx, cand, facts)
    weight, config, version, f0 = _parts(record)
    if any(".parametrizations." in k or not hasattr(v, "shape") for k, v in weight.items()):
        return Loaded(cand, record, None, None)
    signature = (tuple(sorted((k, tuple(v.shape)) for k, v in weight.items())), repr(config), version, f0)
    return Loaded(cand, record, signature, _fold(weight))


class NetworkCache:
    """One synthesizer kept between candidates; weights of the same shape are copied into it."""

    def __init__(self, device: str = "cpu"):
        self.device = device
        self._net: Any = None
        self._signature: Optional[tuple[Any, ...]] = None
        self.reused = 0

    def synthesizer(self, loaded: Loaded) -> Any:
        """A deterministic-ready synthesizer holding ``loaded``'s weights."""
        import torch

        from rvcqa.synth import load_synthesizer

        label = str(loaded.candidate.path)
        if self._net is not None and loaded.signature is not None and loaded.signature == self._signature:
            assert loaded.folded is not None
            with torch.no_grad():
                self._net.load_state_dict(loaded.folded, strict=True)
            self._net.source_label = label
            self.reused += 1
            return self._net
        net = load_synthesizer(loaded.record, device=self.device)
        if loaded.signature is not None:
            self._net, self._signature = net, loaded.signature
        return net


def prefetched(read: Callable[[SweepCandidate], Loaded],
               cands: Sequence[SweepCandidate]) -> Iterator[tuple[SweepCandidate, Callable[[], Loaded]]]:
    """``(candidate, get)`` in order; the next candidate is read on a loader thread while the
    caller works on the current one. ``get()`` returns its :class:`Loaded` or raises its error."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rvcqa-sweep-loader") as pool:
        pending: Optional[Future[Loaded]] = pool.submit(read, cands[0]) if cands else None
        for i, cand in enumerate(cands):
            assert pending is not None
            current = pending
            pending = pool.submit(read, cands[i + 1]) if i + 1 < len(cands) else None
            yield cand, current.result

