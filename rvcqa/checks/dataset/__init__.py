"""Training-data health: what preprocessing and feature extraction left in ``logs/NAME``.

Layout facts: RVC_FORMATS.md sections 3.1 (RVC) and 3.2 (Applio); coarse pitch 5.4; failure modes
6 (rows 2, 8, 10). Headers are read with ``soundfile.info`` and arrays with ``np.load(mmap_mode="r")``
so a folder of thousands of slices is judged in seconds; only the GT level check reads samples.
Nothing here writes into the model directory. Pitch files beyond their format are judged by
``rvcqa.checks.f0files`` and the retrieval index by ``rvcqa.checks.index``.
"""
from __future__ import annotations

from typing import Callable

from rvcqa.checks.dataset.arrays import (
    check_f0_values,
    check_features,
    check_filelist,
    check_frames,
)
from rvcqa.checks.dataset.audio import (
    check_durations,
    check_folders,
    check_gt_format,
    check_gt_levels,
    check_gt_sample_rate,
    check_segment_lengths,
    check_stems,
    check_total_duration,
    check_wav16k_rate,
)
from rvcqa.checks.dataset.limits import DEFAULTS, skip_no_data
from rvcqa.context import ModelContext
from rvcqa.dataset import Scan, scan
from rvcqa.errors import RvcqaError
from rvcqa.findings import Finding, failed

CHECK_IDS: tuple[str, ...] = (
    "dataset.folders",
    "dataset.stems",
    "dataset.gt_sample_rate",
    "dataset.wav16k_sample_rate",
    "dataset.durations",
    "dataset.gt_format",
    "dataset.gt_levels",
    "dataset.segment_lengths",
    "dataset.features",
    "dataset.frames",
    "dataset.f0_values",
    "dataset.filelist",
    "dataset.total_duration",
)


_CHECKS: tuple[tuple[str, Callable[[ModelContext, Scan], Finding]], ...] = (
    ("dataset.folders", check_folders),
    ("dataset.stems", check_stems),
    ("dataset.gt_sample_rate", check_gt_sample_rate),
    ("dataset.wav16k_sample_rate", check_wav16k_rate),
    ("dataset.durations", check_durations),
    ("dataset.gt_format", check_gt_format),
    ("dataset.gt_levels", check_gt_levels),
    ("dataset.segment_lengths", check_segment_lengths),
    ("dataset.features", check_features),
    ("dataset.frames", check_frames),
    ("dataset.f0_values", check_f0_values),
    ("dataset.filelist", check_filelist),
    ("dataset.total_duration", check_total_duration),
)
assert tuple(cid for cid, _ in _CHECKS) == CHECK_IDS


def run(ctx: ModelContext) -> list[Finding]:
    """One finding per id in :data:`CHECK_IDS`."""
    sc = scan(ctx)
    if sc.empty:
        return [skip_no_data(ctx, cid) for cid in CHECK_IDS]
    out = []
    for cid, fn in _CHECKS:
        try:
            finding = fn(ctx, sc)
        except RvcqaError as exc:
            finding = failed(cid, str(exc))
        out.append(finding)
    return out



__all__ = ["CHECK_IDS", "DEFAULTS", "run"]
