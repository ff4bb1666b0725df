"""Training data health: the preprocessed folders of logs/NAME (rvcqa.checks.dataset)."""
import pytest

from rvcqa.checks import dataset
from rvcqa.testing import assert_finding


@pytest.mark.rvcqa_dataset
@pytest.mark.parametrize("check_id", dataset.CHECK_IDS)
def test_dataset(rvc_model, check_id):
    assert_finding(rvc_model.findings(dataset)[check_id])
