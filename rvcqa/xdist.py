"""pytest-xdist support: one worker per model's heavy fixtures, results merged on the controller.

- **Grouping.** A plain ``-n N`` (and ``--dist loadgroup``) schedules the quality tests one model
  at a time: all tests of a model run on one worker, so its checkpoints are loaded and its audio
  synthesised once per run, not once per worker. rvcqa supplies the scheduler itself
  (``pytest_xdist_make_scheduler``: xdist's LoadScopeScheduling with the model as the scope),
  because xdist's own loadgroup relies on rewriting test ids, which pytest >= 9.2 no longer allows
  (pytest-xdist#1386: the ``xdist_group`` marks are silently ignored). The quality tests also carry
  ``@pytest.mark.xdist_group(name=MODEL)`` for xdist versions that honour it again. Pass
  ``--dist load`` (or loadscope, loadfile, worksteal) explicitly to use xdist's own schedulers.
- **Results.** Workers run the checks; the controller only sees test reports. So each worker puts
  its models' findings and measurements (JSON) into ``config.workeroutput["rvcqa"]`` in
  ``pytest_sessionfinish``, and the controller merges them in ``pytest_testnodedown`` (syrupy's
  pattern) before its own ``pytest_sessionfinish`` builds the summary, report and baselines.
- **Benchmarks.** pytest-benchmark disables itself under xdist and warns ("Benchmarks are
  automatically disabled because xdist plugin is active"); the ``rvcqa_speed`` tests then run once
  without timing. Run them in a separate, serial CI step.

Nothing here imports xdist: without it, these functions are never called or do nothing.
"""
from __future__ import annotations

import json
import os
import shlex
from typing import Any, Iterable

import pytest

WORKEROUTPUT_KEY = "rvcqa"
GROUP_PREFIX = ""  # group name = model name; xdist appends "@<group>" to the test ids


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def is_controller(config: pytest.Config) -> bool:
    """True in the process that distributes tests (``-n``/``--dist`` given, not a worker)."""
    if is_worker(config):
        return False
    try:
        dist = config.getoption("dist")
    except ValueError:  # xdist not installed
        return False
    return dist not in (None, "no")


def _explicit_dist(config: pytest.Config) -> bool:
    args: list[str] = list(config.invocation_params.args)
    args += shlex.split(os.environ.get("PYTEST_ADDOPTS", ""))
    try:
        addopts = config.getini("addopts")
        args += list(addopts) if isinstance(addopts, list) else shlex.split(str(addopts))
    except (ValueError, KeyError):
        pass
    return any(str(a) == "--dist" or str(a).startswith("--dist=") for a in args)


def wants_model_scheduling(config: pytest.Config) -> bool:
    """A plain ``-n N`` (xdist's implicit ``--dist load``) or an explicit ``--dist loadgroup``."""
    if not is_controller(config):
        return False
    dist = config.getoption("dist")
    return dist == "loadgroup" or (dist == "load" and not _explicit_dist(config))


def make_scheduler(config: pytest.Config, log: Any, models: Iterable[str]) -> Any:
    """A :class:`ModelScheduling` for this run (xdist imported here, only under xdist)."""
    from xdist.scheduler import LoadScopeScheduling

    class ModelScheduling(LoadScopeScheduling):
        """xdist's LoadScopeScheduling with one scope per model: ``[MODEL-...]`` in the test id.

        Tests of other scopes keep xdist's ``@group`` suffix (``--dist loadgroup``) or, without one,
        are scheduled one by one as with ``--dist load``.
        """

        names = sorted(set(models), key=len, reverse=True)

        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid, self.names)

    return ModelScheduling(config, log)


def scope_of(nodeid: str, models: Iterable[str]) -> str:
    """``...::test_s[lexi-structure.finite]`` -> ``rvcqa-model:lexi``; other tests: group or nodeid."""
    at, close = nodeid.rfind("@"), nodeid.rfind("]")
    if at > close:
        return nodeid[at + 1:]
    head = nodeid.rsplit("::", 1)[-1]
    if "[" in head and head.endswith("]"):
        params = head[head.index("[") + 1:-1]
        for name in sorted(set(models), key=len, reverse=True):
            if params == name or params.startswith(name + "-") or params.endswith("-" + name) or f"-{name}-" in params:
                return f"rvcqa-model:{name}"
    return nodeid


def group_items(items: Iterable[pytest.Item]) -> int:
    """Mark each quality test with its model's xdist group. Returns how many were marked."""
    n = 0
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or "rvc_model" not in callspec.params:
            continue
        if any(True for _ in item.iter_markers("xdist_group")):
            continue
        item.add_marker(pytest.mark.xdist_group(name=f"{GROUP_PREFIX}{callspec.params['rvc_model']}"))
        n += 1
    return n


def strip_group(nodeid: str) -> str:
    """``test_x[lexi-structure.finite]@lexi`` -> ``test_x[lexi-structure.finite]`` (loadgroup's suffix)."""
    head, sep, tail = nodeid.rpartition("@")
    return head if sep and "]" not in tail and "::" not in tail and "/" not in tail else nodeid


def send(config: pytest.Config, payload: dict[str, Any]) -> None:
    """On a worker: hand ``payload`` (JSON-able) to the controller."""
    workeroutput = getattr(config, "workeroutput", None)
    if isinstance(workeroutput, dict):
        workeroutput[WORKEROUTPUT_KEY] = json.dumps(payload)


def received(node: Any) -> dict[str, Any] | None:
    """On the controller: the payload a finished worker sent (None when it sent nothing)."""
    raw = (getattr(node, "workeroutput", None) or {}).get(WORKEROUTPUT_KEY)
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except (TypeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def worker_id(node: Any) -> str:
    gateway = getattr(node, "gateway", None)
    return str(getattr(gateway, "id", None) or getattr(node, "workerinput", {}).get("workerid", "worker"))
