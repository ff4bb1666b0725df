"""Does the model sound like speech? Resynthesis of its own training segments and conversion of
reference speech (rvcqa.checks.perceptual). Converted audio goes to the results folder."""
import pytest

from rvcqa.checks import perceptual
from rvcqa.testing import assert_finding


@pytest.mark.rvcqa_perceptual
@pytest.mark.parametrize("check_id", perceptual.CHECK_IDS)
def test_perceptual(rvc_model, check_id):
    assert_finding(rvc_model.findings(perceptual)[check_id])
