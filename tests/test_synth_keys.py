"""State-dict keys, shapes and counts of our network equal RVC's for every variant.

Reference tables (tests/data) were produced by instantiating RVC's own classes; our counts are
derived by building our network, so a drift in either shows up here.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch

from rvcqa.synth import build_synthesizer, canonical_config, expected_inference_keys, variant_of
from rvcqa.synth.config import SynthConfig
from rvcqa.synth.variants import CANONICAL_VARIANTS, narrow_config

DATA = Path(__file__).parent / "data"


def _tsv(name: str) -> list[dict[str, str]]:
    with open(DATA / name, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


SUMMARY = _tsv("variant_summary.tsv")


def _sr(text: str) -> int:
    return int(text.rstrip("k")) * 1000


def _shape(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.strip("[]").split(",") if x.strip())


def test_summary_has_twelve_variants() -> None:
    assert len(SUMMARY) == 12


@pytest.mark.parametrize("row", SUMMARY, ids=lambda r: f"{r['version']}-{r['sr']}-f0{r['f0']}")
def test_counts_match_rvc(row: dict[str, str]) -> None:
    version, sr, f0 = row["version"], _sr(row["sr"]), row["f0"] == "1"
    cfg = canonical_config(version, sr)
    inference = expected_inference_keys(cfg, version, f0)
    training = expected_inference_keys(cfg, version, f0, posterior=True)
    assert len(inference) == int(row["keys_without_enc_q"])
    assert len(training) == int(row["G_state_dict_keys_total"])
    assert len(training) - len(inference) == int(row["enc_q_keys"])
    assert sum(math.prod(s) for s in training.values()) == int(row["params_total"])
    assert sum(math.prod(s) for s in inference.values()) == int(row["params_without_enc_q"])
    assert sum(k.endswith(".weight_g") for k in training) == int(row["weight_g_keys_total"])
    for module in ("enc_p", "dec", "flow", "emb_g"):
        assert sum(k.startswith(module + ".") for k in inference) == int(row[module]), module
    assert not any("parametrizations" in k for k in training)


@pytest.mark.parametrize("table", ["v2-48k-f0_keys.tsv", "v2-40k-f0_keys.tsv"])
def test_full_key_table(table: str) -> None:
    """Every key name and shape of RVC's training generator, and which survive into the .pth."""
    rows = _tsv(table)
    sr = 48000 if "48k" in table else 40000
    cfg = canonical_config("v2", sr)
    ours = expected_inference_keys(cfg, "v2", True, posterior=True)
    ref = {r["key"]: _shape(r["shape"]) for r in rows}
    assert set(ours) == set(ref)
    assert {k: v for k, v in ours.items()} == ref
    in_pth = {r["key"] for r in rows if r["in_inference_pth"] == "1"}
    assert set(expected_inference_keys(cfg, "v2", True)) == in_pth
    assert len(in_pth) == 457


def test_built_module_state_dict_equals_expected_table() -> None:
    """The real (not meta) module has the same keys; enc_q present by default."""
    cfg = narrow_config(canonical_config("v1", 32000))
    net = build_synthesizer(cfg, "v1", True)
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert shapes == expected_inference_keys(cfg, "v1", True, posterior=True)
    assert net.enc_q is not None


def test_canonical_configs() -> None:
    assert canonical_config("v2", 48000) == [
        1025, 32, 192, 192, 768, 2, 6, 3, 0, "1", [3, 7, 11], [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
        [12, 10, 2, 2], 512, [24, 20, 4, 4], 109, 256, 48000,
    ]
    assert canonical_config("v2", "40k") == canonical_config("v1", 40000)
    assert canonical_config("v2", "24k")[12:15] == [[10, 6, 2, 2], 512, [20, 12, 4, 4]]
    assert canonical_config("v2", 24000)[0] == 513
    assert canonical_config("v1", "32k")[12] == [10, 4, 2, 2, 2]
    assert canonical_config("v1", "48k")[12] == [10, 6, 2, 2, 2]
    assert canonical_config("v2", "32k")[12:15] == [[10, 8, 2, 2], 512, [20, 16, 4, 4]]
    for version, sr in CANONICAL_VARIANTS:
        cfg = SynthConfig.from_list(canonical_config(version, sr))
        assert cfg.sr == 100 * cfg.hop
    # a fresh list each call: callers may mutate it
    a = canonical_config("v2", 48000)
    a[10].append(99)
    assert canonical_config("v2", 48000)[10] == [3, 7, 11]
    with pytest.raises(ValueError, match="no canonical RVC config"):
        canonical_config("v1", 24000)


def test_applio_24k_counts() -> None:
    cfg = canonical_config("v2", 24000)
    assert len(expected_inference_keys(cfg, "v2", True)) == 457
    assert len(expected_inference_keys(cfg, "v2", False)) == 446


def _meta_weights(version: str, sr: int, f0: bool) -> dict[str, torch.Tensor]:
    keys = expected_inference_keys(canonical_config(version, sr), version, f0)
    return {k: torch.empty(s, device="meta") for k, s in keys.items()}


@pytest.mark.parametrize("version,sr", CANONICAL_VARIANTS, ids=lambda x: str(x))
@pytest.mark.parametrize("f0", [True, False])
def test_variant_of_fingerprints(version: str, sr: int, f0: bool) -> None:
    got = variant_of(_meta_weights(version, sr, f0))
    ambiguous = version == "v1" and sr in (32000, 48000) and not f0  # identical decoders
    assert got == (version, f0, None if ambiguous else sr)


def test_variant_of_parametrized_names() -> None:
    w = _meta_weights("v2", 48000, True)
    renamed = {
        k.replace(".weight_g", ".parametrizations.weight.original0").replace(
            ".weight_v", ".parametrizations.weight.original1"
        ): v
        for k, v in w.items()
    }
    assert variant_of(renamed) == ("v2", True, 48000)


def test_resblock2_keys() -> None:
    cfg = narrow_config(canonical_config("v2", 40000))
    cfg[9] = "2"
    keys = expected_inference_keys(cfg, "v2", True)
    assert "dec.resblocks.0.convs.1.weight_v" in keys
    assert not any(".convs1." in k for k in keys)
