"""pytest-xdist support: one worker per model's heavy fixtures, results merged on the controller.

- **Grouping.** Every quality test of a model carries ``@pytest.mark.xdist_group(name=MODEL)``
  (added at collection), and a plain ``-n N`` switches xdist from ``--dist load`` to
  ``--dist loadgroup``: all tests of one model run on one worker, so its checkpoints are loaded and
  its audio synthesised once. Pass ``--dist load`` (or any other mode) explicitly to keep xdist's
  choice; ``--dist loadscope`` also works (the quality tests' session fixtures are per model).
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
LOADGROUP_KEY = "rvcqa_loadgroup"
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


def choose_loadgroup(config: pytest.Config) -> str | None:
    """Switch a plain ``-n N`` run to ``--dist loadgroup``; returns a header line when it did."""
    if not is_controller(config) or config.getoption("dist") != "load" or _explicit_dist(config):
        return None
    config.option.dist = "loadgroup"
    return ("pytest-xdist: --dist loadgroup (each model's tests on one worker, so its models and audio load once; "
            "pass --dist load to override)")


def configure_node(node: Any) -> None:
    """Controller, per worker: tell it when the controller switched to loadgroup.

    A worker parses the original command line again, so it does not see a ``--dist`` the controller
    chose itself; without ``config.option.loadgroup`` xdist's worker would not add the ``@group``
    suffix to the test ids and the groups would be ignored.
    """
    config = node.config
    if config.getoption("dist", "no") == "loadgroup":
        node.workerinput[LOADGROUP_KEY] = True


def worker_loadgroup(config: pytest.Config) -> None:
    """Worker: apply what :func:`configure_node` sent."""
    if getattr(config, "workerinput", {}).get(LOADGROUP_KEY):
        config.option.loadgroup = True


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
