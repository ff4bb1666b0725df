"""Training data as signal, pitch files and the retrieval index of logs/NAME
(rvcqa.checks.signal, rvcqa.checks.f0files, rvcqa.checks.index)."""
import pytest

from rvcqa.checks import f0files, index, signal
from rvcqa.testing import assert_finding


@pytest.mark.rvcqa_dataset
@pytest.mark.parametrize("check_id", signal.CHECK_IDS)
def test_signal(rvc_model, check_id):
    assert_finding(rvc_model.findings(signal)[check_id])


@pytest.mark.rvcqa_dataset
@pytest.mark.parametrize("check_id", f0files.CHECK_IDS)
def test_f0_files(rvc_model, check_id):
    assert_finding(rvc_model.findings(f0files)[check_id])


@pytest.mark.rvcqa_dataset
@pytest.mark.parametrize("check_id", index.CHECK_IDS)
def test_index(rvc_model, check_id):
    assert_finding(rvc_model.findings(index)[check_id])
