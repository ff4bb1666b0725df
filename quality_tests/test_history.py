"""Training history across sources and sessions (rvcqa.checks.history): train.log vs TensorBoard,
NaN onset, RVC's display clamp, resumed or restarted runs, checkpoints that fit no run."""
import pytest

from rvcqa.checks import history
from rvcqa.testing import assert_finding


@pytest.mark.rvcqa_training
@pytest.mark.parametrize("check_id", history.CHECK_IDS)
def test_history(rvc_model, check_id):
    assert_finding(rvc_model.findings(history)[check_id])
