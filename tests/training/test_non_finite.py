"""Every family stops on a NaN or infinite loss or parameter: one line, exit 1, the last finite model kept,
the run marked as stopped (the DCGAN's own cases are in test_dcgan.py)."""

from __future__ import annotations

import json

import pytest
import torch

from genlab.cli import main
from genlab.errors import GenlabError
from genlab.runs import Run
from genlab.training import dbn as train_dbn
from genlab.training import rbm as train_rbm
from genlab.training import updown as train_updown
from genlab.training import vae as train_vae
from genlab.training.dbn import DBNConfig
from genlab.training.rbm import RBMConfig
from genlab.training.session import NonFiniteTraining, check_finite
from genlab.training.updown import FinetuneConfig
from genlab.training.vae import VAEConfig

COMMON = {"epochs": 3, "batch_size": 100}
PLAIN = {"compile": False}  # the poisoned steps are the plain loop's (the fast paths run whole epochs)


def poison_after(monkeypatch, module, name: str, calls: int, tensor_of) -> None:
    """Make ``module.name`` (a minibatch step) fill a tensor of its model with NaN on its ``calls``-th call."""
    step, count = getattr(module, name), []

    def poisoned(model, *args, **kwargs):
        count.append(1)
        if len(count) == calls:
            tensor_of(model).fill_(float("nan"))
        return step(model, *args, **kwargs)

    monkeypatch.setattr(module, name, poisoned)


def test_check_finite_names_the_number_or_the_tensor():
    model = torch.nn.Linear(2, 2)
    check_finite(model, 1, {"loss": 0.5})
    with pytest.raises(NonFiniteTraining, match="^the loss is inf in epoch 2$"):
        check_finite(model, 2, {"loss": float("inf")})
    model.bias.data[0] = float("nan")
    with pytest.raises(NonFiniteTraining, match="^bias holds NaN or infinite values after epoch 3$"):
        check_finite(model, 3, {"loss": 0.5})


@pytest.mark.parametrize("family", ["rbm", "dbn", "dbn-top", "dbn-finetune", "vae"])
def test_a_nan_in_epoch_2_stops_training_and_keeps_epoch_1(family, tiny_dataset, tmp_path, monkeypatch):
    data = {"dataset": str(tiny_dataset)}  # 300 images: 3 minibatches an epoch; the 4th step is epoch 2's first
    if family == "rbm":
        poison_after(monkeypatch, train_rbm, "rbm_step", 4, lambda rbm: rbm.W.data)
        train = lambda out: train_rbm.train(RBMConfig(hidden=8, **COMMON, **PLAIN, **data), out, device="cpu", progress=False)  # noqa: E731
        expect = "the reconstruction error is nan in epoch 2"
    elif family in ("dbn", "dbn-top"):  # in RBM 1 (no model saved yet), or in the top RBM
        module, name = (train_rbm, "rbm_step") if family == "dbn" else (train_dbn, "greedy_step")
        poison_after(monkeypatch, module, name, 4, lambda m: (m.W if family == "dbn" else m.top.W).data)
        train = lambda out: train_dbn.train(DBNConfig(rbm_hidden=8, top_hidden=4, **COMMON, **PLAIN, **data), out,  # noqa: E731
                                            device="cpu", progress=False)
        expect = "reconstruction error is nan in epoch 2"
    elif family == "dbn-finetune":
        parent = train_dbn.train(DBNConfig(rbm_hidden=8, top_hidden=4, epochs=1, **data), tmp_path / "dbn",
                                 device="cpu", progress=False)
        poison_after(monkeypatch, train_updown, "updown_minibatch", 4, lambda m: m.W1_down.data)
        train = lambda out: train_updown.train(FinetuneConfig(dbn=str(parent.path), **COMMON, **data), out,  # noqa: E731
                                               device="cpu", progress=False)
        expect = "the wake reconstruction error is nan in epoch 2"
    else:
        poison_after(monkeypatch, train_vae, "vae_step", 4, lambda m: m.mu.weight.data)
        train = lambda out: train_vae.train(VAEConfig(hidden="16", latent=2, **COMMON, **data), out,  # noqa: E731
                                            device="cpu", progress=False)
        expect = "is nan in epoch 2"
    kept = "no model was saved" if family == "dbn" else "keeps epoch 1"
    with pytest.raises(GenlabError, match=f"{expect}; training stopped .*{kept}.*a lower --lr may help") as info:
        train(tmp_path / "run")
    assert "\n" not in str(info.value)
    run = Run.open(tmp_path / "run")
    assert not run.finished and "nan" in run.meta["stopped"] and run.log[-1]["epoch"] == 1
    if family != "dbn":
        assert all(torch.isfinite(t).all() for t in run.load_model({}).values())


def test_a_vae_that_diverges_exits_1_in_one_line(tiny_dataset, tmp_path, capsys):
    """A learning rate so large that Adam's first steps overflow the weights."""
    out = tmp_path / "run"
    out.mkdir()  # a directory this command did not make is kept, with the run marked as stopped
    code = main(["train", "vae", "--out", str(out), "--dataset", str(tiny_dataset), "--epochs", "3", "--batch-size", "50",
                 "--lr", "1e30", "--hidden", "16", "--device", "cpu", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.startswith("genlab: error: vae: ") and "training stopped" in err and "\n" not in err
    meta = json.loads((out / "config.json").read_text())
    assert "train_time_s" not in meta and "in epoch 1" in meta["stopped"] and "no epoch finished" in err


@pytest.mark.parametrize("option", ["--lr", "--init-std", "--momentum", "--weight-decay"])
@pytest.mark.parametrize("value", ["inf", "nan"])
def test_non_finite_float_options_exit_2_before_anything_is_written(option, value, tmp_path, capsys):
    code = main(["train", "rbm", "--out", str(tmp_path / "run"), option, value, "--device", "cpu", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == f"genlab: error: {option}: expected a finite number, got {float(value)!r}"
    assert not (tmp_path / "run").exists()
