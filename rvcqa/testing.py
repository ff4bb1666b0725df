"""Assertion helpers that turn findings into pytest outcomes, pointing at the user's test."""
from __future__ import annotations

import warnings

import pytest

from rvcqa.findings import Finding, Status


class RvcqaWarning(UserWarning):
    """A finding that is suspicious but does not fail the gate."""


def assert_finding(finding: Finding) -> None:
    """Pass, fail with the expert explanation, skip with the reason, or warn."""
    __tracebackhide__ = True
    if finding.status is Status.FAILED:
        pytest.fail(finding.explain(), pytrace=False)
    if finding.status is Status.SKIPPED:
        pytest.skip(finding.message)
    if finding.status is Status.WARNING:
        warnings.warn(RvcqaWarning(finding.explain()), stacklevel=2)
