"""Which saved checkpoint is best, and is the released model it? Runs only with --rvcqa-sweep
(every checkpoint is resynthesised: minutes on CPU) (rvcqa.checks.sweep)."""
import pytest

from rvcqa.checks import sweep
from rvcqa.testing import assert_finding


@pytest.mark.rvcqa_slow
@pytest.mark.parametrize("check_id", sweep.CHECK_IDS)
def test_sweep(rvc_model, check_id):
    assert_finding(rvc_model.findings(sweep)[check_id])
