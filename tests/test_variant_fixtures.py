"""Every RVC variant (v1/v2 x 32k/40k/48k x f0/no-f0) and Applio's layout builds as a complete
model directory that the structure, provenance, data and log checks accept, with RVC's key count."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from fixtures import catalog
from rvcqa.profile import check_suites
from rvcqa.checks import dataset, provenance, structure, trainlog
from rvcqa.context import ModelContext, Options
from rvcqa.findings import Status
from rvcqa.modeldir import discover

SUMMARY = Path(__file__).parent / "data" / "variant_summary.tsv"
ROWS = list(csv.DictReader(SUMMARY.open(), delimiter="\t"))


@pytest.mark.parametrize("row", ROWS, ids=[f"{r['version']}-{r['sr']}-{'f0' if r['f0'] == '1' else 'nof0'}" for r in ROWS])
def test_variant_fixture_is_clean(row: dict[str, str]) -> None:
    root = catalog.build_variant(row["version"], row["sr"], row["f0"] == "1")
    md = discover(root)
    ctx = ModelContext(md, Options(), suites=check_suites())
    assert len(ctx.inference_model().weight) == int(row["keys_without_enc_q"])
    failed = {cid: f.message for m in (structure, provenance, dataset, trainlog)
              for cid, f in ctx.findings(m).items() if f.status is Status.FAILED}
    assert not failed


def test_applio_layout_fixture_is_clean() -> None:
    root = catalog.build_variant("v2", "40k", True, layout="applio")
    md = discover(root)
    assert md.layout == "applio" and md.inference_file is not None and md.inference_file.name.endswith("s.pth")
    ctx = ModelContext(md, Options(), suites=check_suites())
    failed = {cid: f.message for m in (structure, provenance, dataset, trainlog)
              for cid, f in ctx.findings(m).items() if f.status is Status.FAILED}
    assert not failed
