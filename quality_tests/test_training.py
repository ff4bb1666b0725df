"""Training-log health and verdicts on the usual hypotheses (rvcqa.checks.trainlog).

The hypothesis verdicts are informational: "ruled out" passes, "supported" warns, "not testable" skips.
"""
import pytest

from rvcqa.checks import trainlog
from rvcqa.testing import assert_finding


@pytest.mark.rvcqa_training
@pytest.mark.parametrize("check_id", trainlog.CHECK_IDS)
def test_training(rvc_model, check_id):
    assert_finding(rvc_model.findings(trainlog)[check_id])


@pytest.mark.rvcqa_training
@pytest.mark.parametrize("hypothesis_id", trainlog.HYPOTHESIS_IDS)
def test_hypothesis(rvc_model, hypothesis_id):
    assert_finding(rvc_model.findings(trainlog.HYPOTHESES)[hypothesis_id])
