"""Which checkpoint the inference model came from (rvcqa.checks.provenance)."""
import pytest

from rvcqa.checks import provenance
from rvcqa.testing import assert_finding


@pytest.mark.rvcqa_provenance
@pytest.mark.parametrize("check_id", provenance.CHECK_IDS)
def test_provenance(rvc_model, check_id):
    assert_finding(rvc_model.findings(provenance)[check_id])
