"""Structural invariants of the inference model: config, layers, weights (rvcqa.checks.structure)."""
import pytest

from rvcqa.checks import structure
from rvcqa.testing import assert_finding


@pytest.mark.rvcqa_structure
@pytest.mark.parametrize("check_id", structure.CHECK_IDS)
def test_structure(rvc_model, check_id):
    assert_finding(rvc_model.findings(structure)[check_id])
