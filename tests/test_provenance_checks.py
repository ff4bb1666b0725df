"""rvcqa.checks.provenance and rvcqa.weights: which checkpoint the inference model came from."""
from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from fixtures.build_models import FixtureCache, Spec, derive_inference  # noqa: E402
from rvcqa import lazyload, weights  # noqa: E402
from rvcqa import provenance as engine  # noqa: E402
from rvcqa.checks import provenance  # noqa: E402
from rvcqa.context import ModelContext, Options  # noqa: E402
from rvcqa.findings import Status  # noqa: E402
from rvcqa.modeldir import discover  # noqa: E402


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> FixtureCache:
    return FixtureCache(tmp_path_factory.getbasetemp() / "rvcqa_fixture_models")


_FINDINGS: dict[tuple, dict] = {}


def findings(root: Path, *, options: Options | None = None) -> dict:
    key = (str(root), repr(options))
    if key not in _FINDINGS:
        ctx = ModelContext(discover(root), options or Options())
        found = provenance.run(ctx)
        assert [f.check for f in found] == list(provenance.CHECK_IDS), "one finding per id, in order"
        _FINDINGS[key] = {f.check: f for f in found}
    return _FINDINGS[key]


def fault(models, spec) -> dict:
    return findings(models.get(spec).root)


@pytest.fixture(scope="session")
def healthy(models):
    return fault(models, "healthy")


def local(path: Path) -> str:
    return engine.local_time(path.stat().st_mtime)


def test_module_contract():
    assert len(set(provenance.CHECK_IDS)) == len(provenance.CHECK_IDS)
    assert all(cid.startswith("provenance.") for cid in provenance.CHECK_IDS)
    assert all(key.split(".")[0] == "provenance" for key in provenance.DEFAULTS)


def test_healthy_model_passes_every_provenance_check(healthy):
    assert {cid: f.status for cid, f in healthy.items()} == {cid: Status.PASSED for cid in provenance.CHECK_IDS}


# --------------------------------------------------------------------------- checkpoints table

def test_checkpoints_table(models, healthy):
    built = models.get("healthy")
    f = healthy["provenance.checkpoints"]
    assert f.status is Status.PASSED
    assert f.message == (
        f"6 generator checkpoints: G_396.pth (epoch 22, {local(built.root / 'G_396.pth')}) to G_2376.pth (epoch 132, "
        f"lr 9.83757e-05, {local(built.root / 'G_2376.pth')}); lexi.pth saved {local(built.inference)}"
    )
    table = f.details["table"]
    g = [r for r in table if r["kind"] == "G"]
    assert [(r["file"], r["epoch"], r["step"]) for r in g] == [
        (f"G_{e * 18}.pth", e, e * 18) for e in (22, 44, 66, 88, 110, 132)]
    for r in g:
        assert math.isclose(r["lr"], 1e-4 * 0.999875 ** (r["epoch"] - 1), rel_tol=1e-9)
        assert r["lr_follows_schedule"] is True
        assert r["optimizer_steps"] == r["step"]
    assert [r["file"] for r in g if r["latest"]] == ["G_2376.pth"]
    assert [r["file"] for r in table if r["source"]] == ["G_2376.pth"]
    assert sum(r["kind"] == "D" for r in table) == 6
    assert table[-1]["kind"] == "inference" and table[-1]["epoch"] == 132
    # rows are in time order, as the user's report reads them (lexi.pth 04:17 vs G_2376.pth 04:40)
    assert [r["modified_ts"] for r in table] == sorted(r["modified_ts"] for r in table)


def test_checkpoints_table_function_matches_the_finding(models):
    ctx = ModelContext(discover(models.get("early_extract").root), Options())
    rows = provenance.checkpoint_table(ctx)
    assert [r["file"] for r in rows if r["source"]] == ["G_396.pth"]
    inference = next(r for r in rows if r["kind"] == "inference")
    g396 = next(r for r in rows if r["file"] == "G_396.pth")
    assert inference["modified_ts"] - g396["modified_ts"] == pytest.approx(2.0)  # saved right after G_396


def test_checkpoints_lr_off_schedule_is_reported(models, tmp_path):
    src = models.get("healthy").rvc_root
    shutil.copytree(src, tmp_path / "rvc", dirs_exist_ok=True)
    root = tmp_path / "rvc" / "logs" / "lexi"
    g = root / "G_2376.pth"
    ck = torch.load(g, weights_only=True)
    ck["optimizer"]["param_groups"][0]["lr"] = 3e-4
    torch.save(ck, g)
    f = findings(root)["provenance.checkpoints"]
    assert f.status is Status.PASSED
    assert f.message.endswith("; lr differs from RVC's schedule 1e-4*0.999875^(epoch-1) in G_2376.pth "
                              "(0.0003 vs 9.83757e-05) (a custom learning rate, or not RVC's trainer)")


def test_checkpoints_unreadable_is_a_warning(models):
    built = models.get("truncated_checkpoint")
    f = fault(models, "truncated_checkpoint")["provenance.checkpoints"]
    assert f.status is Status.WARNING
    assert "G_2376.pth (unreadable, " in f.message
    assert f"unreadable: {built.root / 'G_2376.pth'}: truncated or damaged (" in f.message


def test_checkpoints_skip_without_checkpoints(models, tmp_path):
    root = derive_inference(models.get("healthy").inference, tmp_path)
    found = findings(root)
    f = found["provenance.checkpoints"]
    assert f.status is Status.SKIPPED
    assert f.message == f"no G_*.pth, D_*.pth or per-epoch models in {root} to report"
    assert found["provenance.source_checkpoint"].message == "no G_*.pth or per-epoch models next to lexi.pth to compare with"
    assert found["provenance.latest_checkpoint"].status is Status.SKIPPED


# --------------------------------------------------------------------------- source and latest

def test_source_checkpoint(healthy, models):
    assert healthy["provenance.source_checkpoint"].message == \
        "lexi.pth matches G_2376.pth (epoch 132, step 2376) after fp16 rounding"
    f = fault(models, Spec(epoch_models=True))["provenance.source_checkpoint"]
    assert f.message == "lexi.pth matches G_2376.pth (epoch 132, step 2376) (and lexi_e132_s2376.pth) after fp16 rounding"


def test_source_checkpoint_fails_when_nothing_matches(models):
    f = fault(models, "unsaved_source")["provenance.source_checkpoint"]
    assert f.status is Status.FAILED
    assert re.fullmatch(
        r"lexi\.pth matches none of the 6 checkpoints in lexi; the nearest, G_2376\.pth \(epoch 132, step 2376\), "
        r"differs: \d+ of 457 tensors differ, relative difference [0-9.]+e-0\d, largest difference [0-9.]+",
        f.message), f.message
    assert f.details["nearest"]["file"] == "G_2376.pth"


def test_source_checkpoint_recognises_lower_precision_copies(models):
    f = fault(models, "bf16")["provenance.source_checkpoint"]
    assert f.status is Status.FAILED
    assert f.message.endswith("i.e. these are the same weights stored at a lower precision (e.g. re-saved as "
                              "bfloat16 by another tool)")


def test_source_matches_despite_nan_and_renamed_keys(models):
    for name in ("nan", "parametrization_names"):
        f = fault(models, name)["provenance.source_checkpoint"]
        assert f.status is Status.PASSED, (name, f.message)


def test_latest_checkpoint(healthy, models):
    assert healthy["provenance.latest_checkpoint"].message == \
        "lexi.pth comes from the latest checkpoint, G_2376.pth (epoch 132, step 2376)"
    f = fault(models, "early_extract")["provenance.latest_checkpoint"]
    assert f.status is Status.FAILED
    assert f.message == ("lexi.pth matches G_396.pth (epoch 22, step 396); the latest checkpoint is G_2376.pth "
                         "(epoch 132, step 2376)")
    assert f.cause.startswith("the model was extracted from an early checkpoint (G_396.pth saved ")
    assert f.details["source_epoch"] == 22 and f.details["latest_step"] == 2376


def test_latest_checkpoint_applio_layout(models):
    f = fault(models, Spec(style="applio", fault="early_extract"))["provenance.latest_checkpoint"]
    assert f.status is Status.FAILED
    assert f.message == ("lexi_132e_2376s.pth matches G_396.pth (epoch 22, step 396); the latest checkpoint is "
                         "G_2376.pth (epoch 132, step 2376)")


def test_latest_only_checkpoint_is_the_latest(models):
    found = fault(models, Spec(latest_only=True))
    assert found["provenance.latest_checkpoint"].status is Status.PASSED
    assert found["provenance.latest_checkpoint"].message == \
        "lexi.pth comes from the latest checkpoint, G_2333333.pth (epoch 132, the 'save only latest' file)"


def test_latest_checkpoint_skips_when_source_unknown(models):
    f = fault(models, "unsaved_source")["provenance.latest_checkpoint"]
    assert f.status is Status.SKIPPED
    assert f.message == "the checkpoint lexi.pth came from is not in the folder (see provenance.source_checkpoint)"


def test_full_comparison_only_on_fingerprint_matches(models, monkeypatch):
    calls: list[int] = []
    real = weights.identical_fp16

    def counting(a, b):
        calls.append(1)
        return real(a, b)

    monkeypatch.setattr(weights, "identical_fp16", counting)
    ctx = ModelContext(discover(models.get("early_extract").root), Options())
    search = engine.find_source(ctx)
    assert len(search.results) == 6 and [c.path.name for c in search.matches] == ["G_396.pth"]
    assert len(calls) == 1


# --------------------------------------------------------------------------- pretrained base

def test_not_pretrained(healthy, models):
    f = healthy["provenance.not_pretrained"]
    assert f.status is Status.PASSED
    assert re.fullmatch(r"lexi\.pth differs from the pretrained base f0G48k\.pth \(train\.log pretrainG "
                        r"assets/pretrained_v2/f0G48k\.pth\): relative difference [0-9.]+", f.message), f.message
    bad = fault(models, "equals_pretrained")["provenance.not_pretrained"]
    assert bad.status is Status.FAILED
    assert bad.message == ("lexi.pth is identical to the pretrained base f0G48k.pth (after fp16 rounding): "
                           "it holds no training")


def test_not_pretrained_from_option_and_skip_when_absent(models, tmp_path):
    built = models.get("equals_pretrained")
    shutil.copytree(built.root, tmp_path / "logs" / "lexi")  # without the RVC root's assets/
    root = tmp_path / "logs" / "lexi"
    f = findings(root)["provenance.not_pretrained"]
    assert f.status is Status.SKIPPED
    assert f.message == ("cannot compare lexi.pth with the pretrained base: the pretrained base "
                         "assets/pretrained_v2/f0G48k.pth (train.log pretrainG) is not on this machine; "
                         "pass --pretrained PATH")
    f = findings(root, options=Options(pretrained=built.pretrained))["provenance.not_pretrained"]
    assert f.status is Status.FAILED


# --------------------------------------------------------------------------- epoch info

def test_epoch_info(healthy, models):
    assert healthy["provenance.epoch_info"].message == \
        "info '132epoch' agrees with its source G_2376.pth (epoch 132, step 2376)"
    f = fault(models, "info_mismatch")["provenance.epoch_info"]
    assert f.status is Status.FAILED
    assert f.message == "info '200epoch' says epoch 200 but its weights are G_2376.pth (epoch 132, step 2376)"


def test_epoch_info_applio(models):
    ok = fault(models, Spec(style="applio"))["provenance.epoch_info"]
    assert ok.message == "Applio epoch/step agrees with its source G_2376.pth (epoch 132, step 2376)"
    f = fault(models, Spec(style="applio", fault="info_mismatch"))["provenance.epoch_info"]
    assert f.status is Status.FAILED
    assert f.message == "Applio epoch/step says epoch 200 but its weights are G_2376.pth (epoch 132, step 2376)"


def test_epoch_info_skips_free_text(models, tmp_path):
    root = derive_inference(models.get("healthy").inference, tmp_path,
                            lambda o: o.__setitem__("info", "Extracted model."))
    f = findings(root)["provenance.epoch_info"]
    assert f.status is Status.SKIPPED
    assert f.message == "lexi.pth's info 'Extracted model.' names no epoch (RVC's savee writes \"<N>epoch\")"


# --------------------------------------------------------------------------- rvcqa.weights

from hypothesis import given, strategies as st  # noqa: E402


@given(st.integers(min_value=0, max_value=10**7))
def test_fingerprint_indices_are_sorted_unique_and_in_range(numel):
    idx = weights.fingerprint_indices(numel)
    assert idx == sorted(set(idx))
    assert all(0 <= i < numel for i in idx)
    most = weights.FINGERPRINT_HEAD + weights.FINGERPRINT_SPREAD
    assert len(idx) <= min(numel, most)
    assert numel < most or len(idx) == most


def test_normalize_key():
    assert weights.normalize_key("dec.ups.0.parametrizations.weight.original0") == "dec.ups.0.weight_g"
    assert weights.normalize_key("dec.ups.0.parametrizations.weight.original1") == "dec.ups.0.weight_v"
    assert weights.normalize_key("emb_g.weight") == "emb_g.weight"


def test_equal_fp16_rounds_and_treats_nan_alike():
    a = torch.tensor([1.0, 2.0 + 1e-5, float("nan")])
    assert weights.equal_fp16(a, a.half())  # fp32 vs its fp16 copy
    b = a.clone()
    b[0] = 1.01
    assert not weights.equal_fp16(a, b)
    assert not weights.equal_fp16(a, torch.tensor([1.0, 2.0, 0.0]))


def test_fingerprint_is_small_and_stable():
    w = {"emb_g.weight": torch.randn(109, 256), "dec.conv_post.weight": torch.randn(1, 32, 7)}
    fp = weights.fingerprint(w)
    assert fp.keys() == ["emb_g.weight", "dec.conv_post.weight"]
    assert all(v.numel() <= weights.FINGERPRINT_HEAD + weights.FINGERPRINT_SPREAD for v in fp.values.values())
    assert weights.fingerprint_match(fp, weights.fingerprint({k: v.half() for k, v in w.items()}))
    other = {k: v + 0.01 for k, v in w.items()}
    assert not weights.fingerprint_match(fp, weights.fingerprint(other))
    assert 0 < weights.fingerprint_distance(fp, weights.fingerprint(other)) < 0.1


def test_compare_fp16_reports_distance():
    a = {"x.weight": torch.ones(10), "y.bias": torch.zeros(3)}
    b = {"x.weight": torch.ones(10) * 1.5, "y.bias": torch.zeros(3), "enc_q.extra": torch.ones(2)}
    cmp = weights.compare_fp16(a, b)
    assert cmp.compared == 2 and cmp.equal == 1 and cmp.differing == ["x.weight"]
    assert cmp.max_abs_diff == pytest.approx(0.5) and cmp.rel_l2 == pytest.approx(1 / 3)
    assert not cmp.identical and not cmp.within_rounding()
    assert weights.compare_fp16(a, {k: v.half() for k, v in a.items()}).identical
    bf = weights.compare_fp16({"x": torch.linspace(0.1, 1, 50)}, {"x": torch.linspace(0.1, 1, 50).bfloat16().float()})
    assert bf.within_rounding()


def test_lazy_reader_agrees_with_the_safe_loader(models):
    from rvcqa.checkpoint import load_training_checkpoint

    built = models.get("healthy")
    g = built.root / "G_2376.pth"
    ctx = ModelContext(discover(built.root), Options())
    facts = engine.lazy_facts(ctx, g, "model")
    full = load_training_checkpoint(g)
    assert (facts.iteration, facts.learning_rate, facts.current_lr, facts.optimizer_steps) == \
        (full.iteration, full.learning_rate, full.current_lr, full.optimizer_steps)
    assert weights.fingerprint_match(facts.fingerprint, weights.fingerprint(full.model))
    with lazyload.LazyCheckpoint(g) as ck:
        lazy = lazyload.lazy_state_dict(ck.obj, "model")
        assert list(lazy) == list(full.model)
        t = lazy["dec.ups.0.weight_v"]
        assert t.shape == tuple(full.model["dec.ups.0.weight_v"].shape)
        assert torch.equal(ck.read(t), full.model["dec.ups.0.weight_v"])


@pytest.mark.parametrize("kind", ["malicious_pickle", "malicious_legacy"])
def test_lazy_reader_refuses_code(models, kind):
    built = models.get(kind)
    with pytest.raises(lazyload.LazyReadError):
        lazyload.LazyCheckpoint(built.inference)
    assert not built.marker.exists()


def test_unusual_files_fall_back_to_the_safe_loader(models, tmp_path):
    """A legacy-format (non-zip) G file is not read by the fast path but still identified."""
    shutil.copytree(models.get("early_extract").rvc_root, tmp_path / "rvc")
    root = tmp_path / "rvc" / "logs" / "lexi"
    g = root / "G_396.pth"
    torch.save(torch.load(g, weights_only=True), g, _use_new_zipfile_serialization=False)
    with pytest.raises(lazyload.LazyReadError):
        lazyload.LazyCheckpoint(g)
    f = findings(root)
    assert f["provenance.latest_checkpoint"].message.startswith("lexi.pth matches G_396.pth (epoch 22, step 396)")
    row = next(r for r in f["provenance.checkpoints"].details["table"] if r["file"] == "G_396.pth")
    assert row["epoch"] == 22 and row["error"] is None
