"""genlab.training.session: a failed training command leaves no half-made run directory behind."""

from __future__ import annotations

import json

import pytest
import torch

from genlab.cli import main
from genlab.files import save_tensors
from genlab.training import rbm as train_rbm
from genlab.training.rbm import RBMConfig
from genlab.training.session import training_memory


@pytest.fixture
def parent_with_nan_weights(tiny_dataset, tmp_path):
    """A finished RBM run whose model was damaged afterwards (its weights NaN)."""
    run = train_rbm.train(RBMConfig(hidden=8, epochs=1, dataset=str(tiny_dataset)), tmp_path / "rbm", device="cpu",
                          progress=False)
    tensors = run.load_model({})
    tensors["W"] = torch.full_like(tensors["W"], float("nan"))
    save_tensors(run.path / "model.safetensors", tensors)
    return run.path


def test_a_command_that_fails_before_its_first_epoch_removes_the_out_it_made(parent_with_nan_weights, tiny_dataset,
                                                                             tmp_path, capsys):
    out = tmp_path / "dbn"
    code = main(["train", "dbn", "--rbm", str(parent_with_nan_weights), "--top-hidden", "4", "--dataset",
                 str(tiny_dataset), "--out", str(out), "--device", "cpu", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "holds NaN or infinite values" in err
    assert not out.exists()


def test_a_failed_command_keeps_a_directory_it_did_not_make(parent_with_nan_weights, tiny_dataset, tmp_path, capsys):
    out = tmp_path / "dbn"
    out.mkdir()
    code = main(["train", "dbn", "--rbm", str(parent_with_nan_weights), "--top-hidden", "4", "--dataset",
                 str(tiny_dataset), "--out", str(out), "--device", "cpu", "--quiet"])
    assert code == 1 and out.is_dir()


def test_an_interrupted_run_keeps_its_finished_epochs(tiny_dataset, tmp_path, monkeypatch):
    calls = []

    def interrupt_in_epoch_2(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:  # 3 minibatches an epoch
            raise KeyboardInterrupt
        return step(*args, **kwargs)

    step = train_rbm.rbm_step
    monkeypatch.setattr(train_rbm, "rbm_step", interrupt_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train_rbm.train(RBMConfig(hidden=8, epochs=3, dataset=str(tiny_dataset)), tmp_path / "run", device="cpu",
                        progress=False)
    assert (tmp_path / "run" / "model.safetensors").is_file()
    log = (tmp_path / "run" / "log.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in log] == [1]


@pytest.mark.parametrize("argv", [["rbm", "--hidden", str(10**9)], ["vae", "--hidden", str(10**8)],
                                  ["dbn", "--top-hidden", str(10**9)], ["rbm", "--batch-size", str(10**12)]])
def test_a_model_too_large_for_the_machine_is_refused_before_anything_is_made(argv, tiny_dataset, tmp_path, capsys):
    code = main(["train", *argv, "--dataset", str(tiny_dataset), "--out", str(tmp_path / "run"), "--device", "cpu",
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "training this model would need about" in err and "GB, more than the" in err
    assert not (tmp_path / "run").exists()


def test_training_memory_counts_parameters_and_minibatch_units():
    shapes = {"W": (784, 500), "v_bias": (784,), "h_bias": (500,)}
    params = 784 * 500 + 784 + 500
    assert training_memory(shapes, 100, 784) == 16 * (params + 100 * (784 + 784 + 500))


@pytest.mark.parametrize("seed", [-1, 2**62, 2**70])
def test_seeds_out_of_range_are_refused_in_one_line(seed, tmp_path, capsys):
    code = main(["train", "rbm", "--seed", str(seed), "--out", str(tmp_path / "run")])
    assert code == 2 and capsys.readouterr().err == f"genlab: error: --seed: expected an integer from 0 to 2**62 - 1, got {seed}\n"
