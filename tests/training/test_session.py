"""genlab.training.session: a failed training command leaves no half-made run directory behind; runs too short
to learn warn; the progress bar moves within an epoch; --tensorboard."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import genlab
from genlab.cli import build_parser, main, warnings_in_one_line
from genlab.config import options_given
from genlab.errors import GenlabWarning
from genlab.families import FAMILIES
from genlab.files import save_tensors
from genlab.models.rbm import RBM
from genlab.training import dbn as train_dbn
from genlab.training import dcgan as train_dcgan
from genlab.algorithms.cd import rbm_step
from genlab.training import rbm as train_rbm
from genlab.training import updown as train_updown
from genlab.training import vae as train_vae
from genlab.training.dbn import DBNConfig
from genlab.training.dcgan import DCGANConfig
from genlab.training.rbm import RBMConfig
from genlab.training.session import EpochBar, FewUpdatesWarning, TrainConfig, training_memory, warn_if_few_updates
from genlab.training.updown import FinetuneConfig
from genlab.training.vae import VAEConfig


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


def interrupt_rbm_in_epoch_2(monkeypatch) -> None:
    """Make RBM training on the plain loop (``compile=False``; the kernel runs whole epochs) raise
    KeyboardInterrupt at the first minibatch of epoch 2 (3 minibatches an epoch)."""
    calls = []
    step = train_rbm.rbm_step

    def interrupt_in_epoch_2(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return step(*args, **kwargs)

    monkeypatch.setattr(train_rbm, "rbm_step", interrupt_in_epoch_2)


def test_an_interrupted_run_keeps_its_finished_epochs(tiny_dataset, tmp_path, monkeypatch):
    interrupt_rbm_in_epoch_2(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        train_rbm.train(RBMConfig(hidden=8, epochs=3, dataset=str(tiny_dataset), compile=False), tmp_path / "run",
                        device="cpu", progress=False)
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


# ----------------------------------------------------------------------------- runs too short to learn


def test_a_run_of_too_few_updates_warns_with_their_count_and_what_to_change():
    with pytest.warns(FewUpdatesWarning) as caught:
        warn_if_few_updates("vae", epochs=3, images=5000, batch_size=1024, enough=500)
    assert [str(w.message) for w in caught] == [
        "vae: only 15 updates (3 epochs x 5 minibatches of 1024); results will be noise: use --epochs 100 "
        "or a smaller --batch-size (e.g. --batch-size 30)"]  # 5000 / 30 * 3 = 501 updates


def test_a_dcgan_counts_iterations_of_its_discriminator_minibatches():
    with pytest.warns(FewUpdatesWarning, match=r"^dcgan: only 8 updates \(2 epochs x 4 iterations of 2 minibatches of "
                      r"16\); results will be noise: use --epochs 50$"):
        warn_if_few_updates("dcgan", epochs=2, images=128, batch_size=16, enough=200, per_step=2,
                            unit=("iteration", "iterations"))


def test_a_run_of_one_minibatch_an_epoch_says_so_in_the_singular():
    with pytest.warns(FewUpdatesWarning, match=r"^vae: only 2 updates \(2 epochs x 1 minibatch of 1024\);"):
        warn_if_few_updates("vae", epochs=2, images=1000, batch_size=1024, enough=500)


def test_a_run_of_enough_updates_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_few_updates("rbm", epochs=3, images=10_000, batch_size=100, enough=300)


def few_updates_warnings(config: TrainConfig) -> list[str]:
    """What training ``config`` on MNIST (60,000 training images) warns, counted as the family's ``train`` counts."""
    if isinstance(config, DCGANConfig):
        enough, per_step = train_dcgan.ENOUGH_ITERATIONS, config.d_steps
    else:
        module = {RBMConfig: train_rbm, VAEConfig: train_vae, DBNConfig: train_dbn, FinetuneConfig: train_updown}
        enough, per_step = module[type(config)].ENOUGH_UPDATES, 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_if_few_updates("run", config.epochs, config.limit or 60_000, config.batch_size, enough, per_step)
    return [str(w.message) for w in caught]


def test_the_lab_presets_quick_and_full_never_warn():
    from genlab.lab.presets import DCGAN_VARIANTS, PRESETS

    for task, presets in PRESETS.items():
        for name in ("quick", "full"):
            for config in presets[name].runs.values():
                dcgan = task == "dcgan" and hasattr(config, "d_steps")  # (the DCGAN lab also trains a VAE)
                variants = [config.replace(**change) for *_, change in DCGAN_VARIANTS] if dcgan else [config]
                assert [w for variant in variants for w in few_updates_warnings(variant)] == [], (task, name)


def test_the_documented_train_commands_never_warn_but_the_example_of_the_warning():
    from test_docs import COMMANDS

    warned = []
    for where, command in COMMANDS:
        args = build_parser().parse_args(shlex.split(command)[1:])
        if args.command == "train":
            family = FAMILIES[args.family].config
            if few_updates_warnings(family(**options_given(family, args))):
                warned.append(command)
    assert warned == ["genlab train vae --limit 5000 --epochs 3 --out runs/short"]


def test_the_command_line_shows_genlabs_warnings_as_one_line_and_others_as_python_does():
    with warnings_in_one_line():
        ours = warnings.formatwarning("rbm: only 3 updates", FewUpdatesWarning, "rbm.py", 1)
        others = warnings.formatwarning("deprecated", DeprecationWarning, "x.py", 7, "")
    assert ours == "genlab: warning: rbm: only 3 updates\n"
    assert others == "x.py:7: DeprecationWarning: deprecated\n"
    assert warnings.formatwarning("w", FewUpdatesWarning, "rbm.py", 1, "").startswith("rbm.py:1: ")  # restored after


@pytest.mark.slow
def test_the_command_line_prints_the_warning_as_one_line(tiny_dataset, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "genlab", "train", "rbm", "--hidden", "8", "--epochs", "1", "--dataset", str(tiny_dataset),
         "--out", str(tmp_path / "run"), "--device", "cpu", "--quiet"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(Path(genlab.__file__).parents[1])})
    assert result.returncode == 0
    assert result.stderr == ("genlab: warning: rbm: only 3 updates (1 epoch x 3 minibatches of 100); results will be "
                             "noise: use --epochs 100\n")


def test_the_python_api_warning_can_be_silenced_by_its_category(tiny_dataset, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", GenlabWarning)
        genlab.train("rbm", tmp_path / "run", hidden=8, epochs=1, dataset=str(tiny_dataset), device="cpu", progress=False)


# ----------------------------------------------------------------------------- progress


def test_the_progress_bar_counts_minibatches_and_a_whole_epoch_run_at_once(capsys):
    bar = EpochBar(epochs=2, per_epoch=3, desc="rbm")
    seen = []
    for epoch in bar:
        if epoch == 1:
            seen += [(bar.bar.desc, bar.bar.n) for _ in bar.steps(range(3))]  # the plain path
        else:
            seen.append((bar.bar.desc, bar.bar.n))  # a fast path runs the epoch at once
    assert seen == [("rbm epoch 1/2: ", 0), ("rbm epoch 1/2: ", 1), ("rbm epoch 1/2: ", 2), ("rbm epoch 2/2: ", 3)]
    assert bar.bar.n == 6 and "6/6" in capsys.readouterr().err


def test_a_resumed_bar_starts_at_its_first_epoch(capsys):
    bar = EpochBar(epochs=3, per_epoch=4, desc="vae", first=3)
    assert [(epoch, bar.bar.n) for epoch in bar] == [(3, 8)]


def test_the_progress_bar_changes_no_result_and_without_it_nothing_is_printed(capsys):
    x = torch.rand(250, 16, generator=torch.Generator().manual_seed(0))
    config = RBMConfig(hidden=5, epochs=2, batch_size=50)
    weights = []
    for progress in (True, False):
        capsys.readouterr()
        rbm = RBM(16, 5, 0.1, generator=torch.Generator().manual_seed(1))
        train_rbm.fit(rbm, x, config, torch.Generator().manual_seed(2), progress=progress)
        weights.append(rbm.W.clone())
    assert capsys.readouterr() == ("", "")
    assert torch.equal(weights[0], weights[1])


# ----------------------------------------------------------------------------- TensorBoard


def test_tensorboard_holds_every_number_of_the_log_at_its_epoch(tiny_dataset, tmp_path):
    with pytest.warns(FewUpdatesWarning):
        run = train_dbn.train(DBNConfig(rbm_hidden=8, top_hidden=6, epochs=2, dataset=str(tiny_dataset), tensorboard=True),
                              tmp_path / "run", device="cpu", progress=False)
    scalars = scalars_of(run.path)
    expected = {(f"layer {entry['layer']}/{name}", entry["epoch"]): float(np.float32(value)) for entry in run.log
                for name, value in entry.items() if name not in ("layer", "epoch")}
    assert scalars == expected and len(expected) == 2 * 2 * 3  # layers x epochs x (errors, test errors, times)


def scalars_of(run_dir: Path) -> dict[tuple[str, int], float]:
    """The scalars of a run's event files, by (tag, step)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    return {(tag, e.step): e.value for tag in events.Tags()["scalars"] for e in events.Scalars(tag)}


def test_a_run_resumed_with_tensorboard_holds_the_scalars_of_every_epoch(tiny_dataset, tmp_path, monkeypatch):
    config = RBMConfig(hidden=8, epochs=3, dataset=str(tiny_dataset), compile=False)
    interrupt_rbm_in_epoch_2(monkeypatch)
    with pytest.raises(KeyboardInterrupt), pytest.warns(FewUpdatesWarning):
        train_rbm.train(config, tmp_path / "run", device="cpu", progress=False)
    monkeypatch.setattr(train_rbm, "rbm_step", rbm_step)  # the plain step again
    with pytest.warns(FewUpdatesWarning):
        run = train_rbm.train(config.replace(tensorboard=True), tmp_path / "run", device="cpu", progress=False,
                              resume=True)
    assert [entry["epoch"] for entry in run.log] == [1, 2, 3]
    assert scalars_of(run.path) == {(name, entry["epoch"]): float(np.float32(value)) for entry in run.log
                                    for name, value in entry.items() if name != "epoch"}


def test_tensorboard_not_installed_is_a_one_line_error_saying_how_to_install_it(tiny_dataset, tmp_path, monkeypatch,
                                                                                 capsys):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    code = main(["train", "rbm", "--hidden", "8", "--dataset", str(tiny_dataset), "--out", str(tmp_path / "run"),
                 "--device", "cpu", "--quiet", "--tensorboard"])
    assert code == 2 and capsys.readouterr().err == (
        "genlab: error: --tensorboard: TensorBoard is not installed; pip install genlab[tensorboard]\n")
    assert not (tmp_path / "run").exists()


def test_tensorboard_is_not_part_of_a_runs_identity():
    assert "tensorboard" not in RBMConfig(tensorboard=True).identity()
