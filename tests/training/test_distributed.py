"""Data-parallel training over two gloo processes on the CPU: the same trajectory as one process, rank 0
alone writes the run directory, and a rank that dies ends the job with one line."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file

from genlab import api, distributed
from genlab.errors import ConfigError
from genlab.training import dbn, dcgan, rbm, updown, vae
from helpers import write_dataset

# (name, family, options): tiny runs of one epoch; 201 images in minibatches of 100 end in a minibatch of one
# image, which rank 1 has no row of
RUNS = [
    ("rbm", "rbm", dict(limit=200, epochs=1, hidden=20, compile=False)),  # (ranks take the plain loop)
    ("pcd", "rbm", dict(limit=201, epochs=1, hidden=20, persistent=True, momentum=0.5, cd_k=2, compile=False)),
    ("vae", "vae", dict(limit=201, epochs=1, batch_size=100, hidden="50", latent=5, targets="binarized", compile=False)),
    ("dbn", "dbn", dict(limit=201, epochs=1, rbm_hidden=20, top_hidden=10, compile=False)),
    ("updown", "dbn-finetune", dict(limit=201, epochs=1)),  # fine-tunes the run "dbn"
    # 33 images in minibatches of 16: the last minibatch again has no row on rank 1
    ("dcgan", "dcgan", dict(limit=33, epochs=1, batch_size=16, batchnorm=False)),
    # with batch norm: the statistics are each rank's own (not one process's), so only the ranks agree
    ("dcgan-bn", "dcgan", dict(limit=33, epochs=1, batch_size=16)),
]
ONE_PROCESS_TRAJECTORY = [name for name, _, _ in RUNS if name != "dcgan-bn"]


def options_of(family: str, options: dict, runs: Path) -> dict:
    """A run's options, with the DBN that fine-tuning starts from: the run "dbn" in ``runs``."""
    return {**options, "dbn": str(runs / "dbn")} if family == "dbn-finetune" else options


# the run in which rank 1 dies at its third minibatch (the first of epoch 2)
KILLED = ["--limit", "200", "--epochs", "2", "--hidden", "20", "--persistent", "--momentum", "0.5"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def join_as(rank: int, port: int, cwd: Path) -> None:
    """Become rank ``rank`` of 2 as torchrun would make it, working in ``cwd``, and join the process group once
    for every run, as a script that torchrun starts may do (genlab keeps a group it did not make)."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2",
                      LOCAL_RANK=str(rank), OMP_NUM_THREADS="1")
    torch.set_num_threads(1)
    cwd.mkdir(parents=True, exist_ok=True)
    os.chdir(cwd)
    distributed.setup(torch.device("cpu"), timeout_s=60)


# the runs that draw their figures (most of a tiny run's time): the RBM's make no collective; the VAE's (posterior
# means, split over ranks elsewhere) must be made by rank 0 alone, and the DCGAN's every epoch by rank 0 only
DRAWN = ("rbm", "vae", "dcgan")


@contextlib.contextmanager
def figures_drawn(drawn: bool):
    """Inside the block, the families draw their figures only when ``drawn`` (the runs of DRAWN)."""
    with pytest.MonkeyPatch.context() as patch:
        if not drawn:
            for family in (rbm, vae):
                patch.setattr(family, "standard_figures", lambda *args, **kwargs: [])
            patch.setattr(dbn, "dbn_figures", lambda *args, **kwargs: [])
            patch.setattr(updown, "finetune_figures", lambda *args, **kwargs: [])
            patch.setattr(dcgan, "epoch_figures", lambda *args, **kwargs: None)
        yield


def trained_parameters(fit, results, name: str):
    """Wrap a training loop ``fit`` so that the model it trained (its first argument) lands in ``results[name]``."""

    def recording(model, *args, **kwargs):
        out = fit(model, *args, **kwargs)
        results[name] = {k: t.detach().numpy().copy() for k, t in model.state_dict().items()}
        return out

    return recording


def job(rank: int, port: int, root: Path, data_dir: Path, shared) -> None:
    """Rank ``rank`` of a job of two, in its own working directory (what rank 1 writes would land in root/rank1):
    train every run of RUNS into the relative directory NAME, then, with the command line, the run KILLED in
    which rank 1 dies at its third minibatch. (One job for the whole module: starting processes is what
    takes time.)"""
    from genlab import cli

    join_as(rank, port, root / f"rank{rank}")
    results: dict = {}
    rbm.fit = trained_parameters(rbm.fit, results, "rbm")
    vae.fit = trained_parameters(vae.fit, results, "vae")
    dbn.fit_top = trained_parameters(dbn.fit_top, results, "dbn")
    updown.fit = trained_parameters(updown.fit, results, "dbn-finetune")
    dcgan.fit = trained_parameters(dcgan.fit, results, "dcgan")
    parameters = {}
    for name, family, options in RUNS:
        with figures_drawn(name in DRAWN):
            api.train(family, name, device="cpu", dataset=str(data_dir), progress=False,
                      **options_of(family, options, root / "rank0"))
        parameters[name] = results[family]
    shared[rank] = parameters

    step, calls = rbm.rbm_step, []

    def dying_step(*args, **kwargs):
        calls.append(1)
        if rank == 1 and len(calls) == 3:
            os._exit(0)
        return step(*args, **kwargs)

    rbm.rbm_step = dying_step
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = cli.main(["train", "rbm", "--out", "killed", *KILLED, "--device", "cpu", "--dataset", str(data_dir),
                         "--quiet"])
    shared["killed"] = (code, stderr.getvalue())


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    """300 training and 100 test images."""
    return write_dataset(tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="module")
def two_ranks(images, tmp_path_factory) -> tuple[Path, dict]:
    """The :func:`job` of two gloo processes: the root of their working directories, and each rank's trained
    parameters by run (and, as ``killed``, rank 0's exit code and stderr when rank 1 died)."""
    root = tmp_path_factory.mktemp("ranks")
    with mp.Manager() as manager:
        shared = manager.dict()
        mp.spawn(job, args=(free_port(), root, images, shared), nprocs=2, join=True)
        return root, dict(shared)


@pytest.fixture(scope="module")
def one_process(images, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("one")
    for name, family, options in RUNS:
        with figures_drawn(name in DRAWN):
            api.train(family, root / name, device="cpu", dataset=str(images), progress=False,
                      **options_of(family, options, root))
    return root


@pytest.mark.parametrize("name", [name for name, _, _ in RUNS])
def test_both_ranks_end_with_identical_parameters(two_ranks, name) -> None:
    _, parameters = two_ranks
    for key, value in parameters[0][name].items():
        assert (value == parameters[1][name][key]).all(), key


def atol_of(name: str) -> float:
    """How far apart the runs may end, as a fraction of a tensor's largest value. Adam divides each gradient by
    its own running scale, so a DCGAN parameter whose gradient is mostly rounding noise moves by up to the
    learning rate either way: on a CPU with AVX-512 a 64-channel bias ended 2.3e-6 apart, 0.4 % of its
    largest value (the RBM, the DBN and the VAE stay within 1e-4)."""
    return 1e-2 if name == "dcgan" else 1e-4


@pytest.mark.parametrize("name", ONE_PROCESS_TRAJECTORY)
def test_two_processes_train_what_one_process_trains(two_ranks, one_process, name) -> None:
    root, _ = two_ranks
    two, one = load_file(root / "rank0" / name / "model.safetensors"), load_file(one_process / name / "model.safetensors")
    assert two.keys() == one.keys()
    for key in one:
        assert not torch.equal(one[key], torch.zeros_like(one[key]))
        torch.testing.assert_close(two[key], one[key], rtol=1e-4, atol=atol_of(name) * one[key].abs().max().item())


@pytest.mark.parametrize("name", [name for name, _, _ in RUNS])
def test_rank_0_alone_writes_the_run_directory_that_one_process_writes(two_ranks, one_process, name) -> None:
    root, _ = two_ranks
    assert list((root / "rank1").iterdir()) == []
    two, one = root / "rank0" / name, one_process / name
    assert sorted(p.relative_to(two) for p in two.rglob("*")) == sorted(p.relative_to(one) for p in one.rglob("*"))
    config_two, config_one = (json.loads((d / "config.json").read_text()) for d in (two, one))
    for key in ("family", "device"):
        assert config_two[key] == config_one[key]
    assert config_two["config"].keys() == config_one["config"].keys()
    for key in config_one["config"].keys() - {"dbn", "dbn_sha256"}:  # (each fine-tunes its own DBN)
        assert config_two["config"][key] == config_one["config"][key], key
    assert config_two["data"]["sha256"] == config_one["data"]["sha256"]
    log_two, log_one = ([json.loads(line) for line in (d / "log.jsonl").read_text().splitlines()] for d in (two, one))
    assert [entry.keys() for entry in log_two] == [entry.keys() for entry in log_one]
    for entry_two, entry_one in zip(log_two if name in ONE_PROCESS_TRAJECTORY else [], log_one):
        for key in entry_one.keys() - {"time_s"}:
            assert entry_two[key] == pytest.approx(entry_one[key], rel=1e-4), key


def test_a_rank_that_dies_ends_the_job_with_one_line_and_the_run_keeps_its_last_epoch(two_ranks) -> None:
    root, shared = two_ranks
    code, stderr = shared["killed"]
    errors = [line for line in stderr.splitlines() if not line.startswith("genlab: warning:")]
    assert code == 1
    assert len(errors) == 1 and errors[0].startswith("genlab: error: rank 0 of 2: ") and "another rank stopped" in errors[0]
    run = root / "rank0" / "killed"
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.safetensors", "config.json", "figures", "log.jsonl",
                                                     "model.safetensors"]
    assert [json.loads(line)["epoch"] for line in (run / "log.jsonl").read_text().splitlines()] == [1]
    assert "train_time_s" not in json.loads((run / "config.json").read_text())
    load_file(run / "model.safetensors")  # complete


def test_under_a_launcher_every_rank_takes_the_plain_loop(monkeypatch) -> None:
    """The fast paths run whole epochs, with no step at which to sum over ranks."""
    from genlab.training.rbm import RBMConfig
    from genlab.training.session import fast_paths_wanted

    assert fast_paths_wanted(RBMConfig()) and not fast_paths_wanted(RBMConfig(compile=False))
    monkeypatch.setattr(distributed, "current", lambda: distributed.World(0, 2))
    assert not fast_paths_wanted(RBMConfig())


@pytest.mark.parametrize(("family", "options", "refused"), [
    ("rbm", dict(temperatures=3), "--temperatures: not under torchrun yet"),
])
def test_what_does_not_train_data_parallel_is_refused_in_one_line_before_anything_is_written(
        monkeypatch, tmp_path, tiny_dataset, family, options, refused) -> None:
    monkeypatch.setattr(distributed, "setup", lambda device, timeout_s=600.0: (distributed.World(0, 2), device))
    with pytest.raises(ConfigError, match=f"^{refused}"):
        api.train(family, tmp_path / "run", device="cpu", dataset=str(tiny_dataset), progress=False, **options)
    assert not (tmp_path / "run").exists()


def test_the_run_a_dying_rank_left_continues_in_one_process_as_one_process_trains_it(two_ranks, images, tmp_path) -> None:
    root, _ = two_ranks
    shutil.copytree(root / "rank0" / "killed", tmp_path / "killed")
    options = dict(device="cpu", dataset=str(images), progress=False, limit=200, epochs=2, hidden=20, persistent=True,
                   momentum=0.5)
    with figures_drawn(False):
        api.train("rbm", tmp_path / "killed", resume=True, **options)
        api.train("rbm", tmp_path / "whole", **options)
    resumed, whole = (load_file(tmp_path / name / "model.safetensors") for name in ("killed", "whole"))
    for key in whole:
        torch.testing.assert_close(resumed[key], whole[key], rtol=1e-4, atol=1e-4 * whole[key].abs().max().item())
