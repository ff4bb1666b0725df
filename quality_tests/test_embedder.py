"""Is the conversion embedder the one the model was trained with? Training slices re-extracted
and compared with their stored content features (rvcqa.checks.embedder)."""
import pytest

from rvcqa.checks import embedder
from rvcqa.testing import assert_finding


@pytest.mark.rvcqa_perceptual
@pytest.mark.parametrize("check_id", embedder.CHECK_IDS)
def test_embedder(rvc_model, check_id):
    assert_finding(rvc_model.findings(embedder)[check_id])
