"""Output failure modes beyond noise: tone, silence, clipping, DC, sound in pauses, DNSMOS
(rvcqa.checks.output). Runs the model, like the perceptual suite."""
import pytest

from rvcqa.checks import output
from rvcqa.testing import assert_finding


@pytest.mark.rvcqa_perceptual
@pytest.mark.parametrize("check_id", output.CHECK_IDS)
def test_output(rvc_model, check_id):
    assert_finding(rvc_model.findings(output)[check_id])
