"""genlab.train.rbm: runs, reproducibility and the CD update."""

from __future__ import annotations

import json

import torch

from genlab.models.rbm import RBM
from genlab.runs import Run
from genlab.train import rbm as train_rbm
from genlab.train.rbm import RBMConfig


def small_config(**kw) -> RBMConfig:
    return RBMConfig(**{"dataset": "", "hidden": 16, "epochs": 2, "batch_size": 50, **kw})


def test_training_writes_a_complete_run_directory(tiny_dataset, tmp_path):
    run = train_rbm.train(small_config(dataset=str(tiny_dataset)), tmp_path / "run", device="cpu", progress=False)
    meta = json.loads((run.path / "config.json").read_text())
    assert meta["family"] == "rbm" and meta["config"]["hidden"] == 16 and meta["config"]["seed"] == 0
    assert meta["data"]["train_images"] == 300 and len(meta["data"]["sha256"]) == 4
    assert {"genlab", "torch"} <= set(meta["versions"])
    log = [json.loads(line) for line in (run.path / "log.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in log] == [1, 2] and all(e["recon_error"] > 0 for e in log)
    assert {p.name for p in (run.path / "figures").iterdir()} >= {"weights.png", "reconstructions.png", "samples.png"}
    model = train_rbm.load(Run.open(run.path))
    assert model.W.shape == (784, 16)


def test_same_seed_gives_bit_identical_weights_on_the_cpu(tiny_dataset, tmp_path):
    cfg = small_config(dataset=str(tiny_dataset))
    a = train_rbm.load(train_rbm.train(cfg, tmp_path / "a", device="cpu", progress=False))
    b = train_rbm.load(train_rbm.train(cfg, tmp_path / "b", device="cpu", progress=False))
    c = train_rbm.load(train_rbm.train(cfg.replace(seed=1), tmp_path / "c", device="cpu", progress=False))
    assert all(torch.equal(x, y) for x, y in zip(a.tensors().values(), b.tensors().values()))
    assert not torch.equal(a.W, c.W)


def test_cd1_update_matches_the_spec_formula():
    """dW = lr (v0^T p(h|v0) - v1^T p(h|v1)) / N etc., with the chain's own samples replayed."""
    rbm = RBM(6, 4, init_std=0.5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    before = {k: v.clone() for k, v in rbm.tensors().items()}
    v0 = torch.bernoulli(torch.full((8, 6), 0.4, dtype=torch.float64), generator=torch.Generator().manual_seed(1))
    train_rbm.cd_step(rbm, v0, k=1, lr=0.1, generator=torch.Generator().manual_seed(2))
    # replay the same random draws: u < p for h0, then for v1
    g = torch.Generator().manual_seed(2)
    old = RBM.from_tensors(before)
    ph0 = old.p_h(v0)
    h0 = (torch.rand(ph0.shape, generator=g, dtype=torch.float64) < ph0).double()
    pv1 = old.p_v(h0)
    v1 = (torch.rand(pv1.shape, generator=g, dtype=torch.float64) < pv1).double()
    ph1 = old.p_h(v1)
    assert torch.allclose(rbm.W - before["W"], 0.1 * (v0.T @ ph0 - v1.T @ ph1) / 8)
    assert torch.allclose(rbm.v_bias - before["v_bias"], 0.1 * (v0 - v1).mean(0))
    assert torch.allclose(rbm.h_bias - before["h_bias"], 0.1 * (ph0 - ph1).mean(0))
