"""fp16 inference (RVC's is_half) stays finite and close to fp32 (rvcqa.checks.precision): a numerical
invariant of the model, so it runs with the structural checks; skipped with the reason where this
torch/device has no fp16."""
import pytest

from rvcqa.checks import precision
from rvcqa.testing import assert_finding


@pytest.mark.rvcqa_structure
@pytest.mark.parametrize("check_id", precision.CHECK_IDS)
def test_precision(rvc_model, check_id):
    assert_finding(rvc_model.findings(precision)[check_id])
