"""Reading tensors out of a torch zip checkpoint without unpickling code or loading whole files.

The provenance search compares a released model with every ``G_*.pth`` (450 MB each); this reader
unpickles only allowlisted globals, turns each tensor into a :class:`LazyTensor` (where its data
lies in the zip) and reads just the elements a fingerprint needs. Anything unusual raises
:class:`LazyReadError` and the caller falls back to the full safe loader.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping, cast

from rvcqa.weights import FINGERPRINT_KEYS, Fingerprint, fingerprint

if TYPE_CHECKING:  # pragma: no cover
    import torch

#: storage classes torch.save names in its pickles -> element dtype name
_STORAGE_DTYPES = {
    "FloatStorage": "float32", "HalfStorage": "float16", "BFloat16Storage": "bfloat16",
    "DoubleStorage": "float64", "LongStorage": "int64", "IntStorage": "int32", "ShortStorage": "int16",
    "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool",
}


class LazyReadError(Exception):
    """The fast path cannot read this file; callers fall back to the full safe loader."""


@dataclass(frozen=True)
class LazyTensor:
    """Where a tensor's data is in a torch zip file, without reading it."""

    key: str  # storage record name under ``<archive>/data/``
    dtype: str
    offset: int  # in elements, into the storage
    size: tuple[int, ...]
    stride: tuple[int, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        return self.size

    def numel(self) -> int:
        return math.prod(self.size) if self.size else 1


def _rebuild_lazy(storage: tuple[Any, str], storage_offset: int, size: Iterable[int], stride: Iterable[int],
                  requires_grad: bool = False, backward_hooks: Any = None, metadata: Any = None) -> LazyTensor:
    key, dtype = storage
    return LazyTensor(str(key), dtype, int(storage_offset), tuple(int(s) for s in size), tuple(int(s) for s in stride))


def _rebuild_parameter_lazy(data: Any, requires_grad: bool = False, backward_hooks: Any = None) -> Any:
    return data


def _ordered_dict(*args: Any, **kwargs: Any) -> dict[Any, Any]:
    from collections import OrderedDict

    return OrderedDict(*args, **kwargs)


class _LazyUnpickler:  # built on demand: pickle.Unpickler subclass (C speed), allowlisted globals only
    _cls: Any = None

    @classmethod
    def get(cls) -> Any:
        if cls._cls is None:
            import pickle

            class Unpickler(pickle.Unpickler):
                def find_class(self, module: str, name: str) -> Any:  # noqa: D401 - pickle API
                    # Only these names resolve, each to rvcqa's own inert stand-in: nothing from the
                    # file can reach torch or any other callable, exactly as strict as weights_only.
                    if (module, name) == ("collections", "OrderedDict"):
                        return _ordered_dict
                    if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
                        return _rebuild_lazy
                    if (module, name) == ("torch._utils", "_rebuild_parameter"):
                        return _rebuild_parameter_lazy
                    if module == "torch" and name in _STORAGE_DTYPES:
                        return _STORAGE_DTYPES[name]
                    raise LazyReadError(f"unsupported global {module}.{name}")

                def persistent_load(self, pid: Any) -> tuple[Any, str]:
                    if not (isinstance(pid, tuple) and len(pid) >= 3 and pid[0] == "storage"):
                        raise LazyReadError(f"unsupported persistent id {pid!r:.60}")
                    dtype = pid[1]
                    if dtype not in _STORAGE_DTYPES.values():
                        raise LazyReadError(f"unsupported storage {dtype!r:.60}")
                    return (pid[2], dtype)

            cls._cls = Unpickler
        return cls._cls


class LazyCheckpoint:
    """The structure of a torch zip ``.pth`` with tensors as :class:`LazyTensor` placeholders.

    Parsing ``data.pkl`` with an allowlisting unpickler (C speed) costs milliseconds even for a
    450 MB ``G_*.pth`` with its optimizer state, where ``torch.load`` rebuilds ~2,300 tensors.
    Only the few tensors a caller asks for are read (:meth:`read`). Anything unusual raises
    :class:`LazyReadError`, and callers use the full safe loader instead, which explains the file.
    """

    def __init__(self, path: "str | Any") -> None:
        import io
        import zipfile
        from pathlib import Path

        self.path = Path(path)
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (OSError, zipfile.BadZipFile) as exc:
            raise LazyReadError(str(exc)) from None
        pkl = [n for n in self._zip.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pkl) != 1:
            self._zip.close()
            raise LazyReadError("not a torch zip checkpoint")
        self.prefix = pkl[0][: -len("data.pkl")]
        try:
            data = self._zip.read(pkl[0])
            self.obj = _LazyUnpickler.get()(io.BytesIO(data)).load()
        except LazyReadError:
            self._zip.close()
            raise
        except Exception as exc:  # damaged pickle: let the safe loader word it
            self._zip.close()
            raise LazyReadError(f"{type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> "LazyCheckpoint":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def read(self, t: LazyTensor) -> "torch.Tensor":
        """The tensor's values (a copy; meant for small tensors such as fingerprint keys)."""
        import torch

        dtype: Any = getattr(torch, t.dtype)
        if not isinstance(t.key, str) or "/" in t.key or ".." in t.key:
            raise LazyReadError(f"bad storage name {t.key!r:.40}")
        try:
            raw = bytearray(self._zip.read(f"{self.prefix}data/{t.key}"))
        except (KeyError, OSError, EOFError) as exc:
            raise LazyReadError(f"storage {t.key}: {exc}") from None
        storage = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        need = t.offset + sum((s - 1) * st for s, st in zip(t.size, t.stride)) + 1 if t.numel() else 0
        if need > storage.numel() or t.offset < 0 or any(st < 0 for st in t.stride):
            raise LazyReadError(f"storage {t.key} does not hold its tensor")
        try:
            out: torch.Tensor = torch.as_strided(storage, t.size, t.stride, t.offset).clone()
            return out
        except RuntimeError as exc:
            raise LazyReadError(f"storage {t.key}: {exc}") from None


def lazy_state_dict(obj: Any, entry: str) -> dict[str, LazyTensor]:
    """``obj[entry]`` as a name -> LazyTensor dict, or LazyReadError when it is not one."""
    sd = obj.get(entry) if isinstance(obj, dict) else None
    if not isinstance(sd, dict) or not sd or not all(isinstance(v, LazyTensor) for v in sd.values()):
        raise LazyReadError(f"no {entry!r} state dict")
    return cast("dict[str, LazyTensor]", sd)


def lazy_fingerprint(ckpt: LazyCheckpoint, state: Mapping[str, LazyTensor],
                     keys: Iterable[str] = FINGERPRINT_KEYS) -> Fingerprint:
    """:func:`fingerprint` of a lazily read state dict, reading only the fingerprint tensors."""
    wanted: dict[str, Any] = {}
    for key in keys:
        t = state.get(key)
        if t is not None:
            wanted[key] = ckpt.read(t)
    return fingerprint(wanted, wanted.keys())
