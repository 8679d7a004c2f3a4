"""Data-parallel training over two gloo processes on the CPU: the same trajectory as one process, rank 0
alone writes the run directory, and a rank that dies ends the job with one line."""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file

from genlab import api

# (name, family, options): tiny runs of one epoch; 201 images in minibatches of 100 end in a minibatch of one
# image, which rank 1 has no row of
RUNS = [
    ("rbm", "rbm", dict(limit=200, epochs=1, hidden=20)),
    ("pcd", "rbm", dict(limit=201, epochs=1, hidden=20, persistent=True, momentum=0.5, cd_k=2)),
    ("vae", "vae", dict(limit=201, epochs=1, batch_size=100, hidden="50", latent=5, targets="binarized")),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def join_as(rank: int, port: int, cwd: Path) -> None:
    """Become rank ``rank`` of 2 as torchrun would make it, working in ``cwd``."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2",
                      LOCAL_RANK=str(rank), OMP_NUM_THREADS="1")
    torch.set_num_threads(1)
    cwd.mkdir(parents=True, exist_ok=True)
    os.chdir(cwd)


def trained_parameters(module, results, name: str):
    """Wrap a training module's ``fit`` so that the model it trained (its first argument) lands in ``results``."""
    fit = module.fit

    def recording(model, *args, **kwargs):
        out = fit(model, *args, **kwargs)
        results[name] = {k: t.detach().numpy().copy() for k, t in model.state_dict().items()}
        return out

    return recording


def train_on_rank(rank: int, port: int, root: Path, data_dir: Path, shared) -> None:
    """Train every run of RUNS into the relative directory RUN, each rank in its own working directory:
    what rank 1 writes would land in root/rank1."""
    from genlab.training import rbm, vae

    join_as(rank, port, root / f"rank{rank}")
    results: dict = {}
    rbm.fit = trained_parameters(rbm, results, "rbm")
    vae.fit = trained_parameters(vae, results, "vae")
    parameters = {}
    for name, family, options in RUNS:
        api.train(family, name, device="cpu", data_dir=data_dir, progress=False, **options)
        parameters[name] = results[family]
    shared[rank] = parameters


@pytest.fixture(scope="module")
def two_ranks(mnist_dir, tmp_path_factory) -> tuple[Path, dict]:
    """Each run of RUNS trained by two gloo processes; the root of their working directories and each
    rank's trained parameters by run."""
    root = tmp_path_factory.mktemp("ranks")
    with mp.Manager() as manager:
        shared = manager.dict()
        mp.spawn(train_on_rank, args=(free_port(), root, mnist_dir, shared), nprocs=2, join=True)
        return root, dict(shared)


@pytest.fixture(scope="module")
def one_process(mnist_dir, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("one")
    for name, family, options in RUNS:
        api.train(family, root / name, device="cpu", data_dir=mnist_dir, progress=False, **options)
    return root


@pytest.mark.parametrize("name", [name for name, _, _ in RUNS])
def test_both_ranks_end_with_identical_parameters(two_ranks, name) -> None:
    _, parameters = two_ranks
    for key, value in parameters[0][name].items():
        assert (value == parameters[1][name][key]).all(), key


@pytest.mark.parametrize("name", [name for name, _, _ in RUNS])
def test_two_processes_train_what_one_process_trains(two_ranks, one_process, name) -> None:
    root, _ = two_ranks
    two, one = load_file(root / "rank0" / name / "model.safetensors"), load_file(one_process / name / "model.safetensors")
    assert two.keys() == one.keys()
    for key in one:
        assert not torch.equal(one[key], torch.zeros_like(one[key]))
        torch.testing.assert_close(two[key], one[key], rtol=1e-4, atol=1e-4 * one[key].abs().max().item())


@pytest.mark.parametrize("name", [name for name, _, _ in RUNS])
def test_rank_0_alone_writes_the_run_directory_that_one_process_writes(two_ranks, one_process, name) -> None:
    root, _ = two_ranks
    assert list((root / "rank1").iterdir()) == []
    two, one = root / "rank0" / name, one_process / name
    assert sorted(p.relative_to(two) for p in two.rglob("*")) == sorted(p.relative_to(one) for p in one.rglob("*"))
    config_two, config_one = (json.loads((d / "config.json").read_text()) for d in (two, one))
    for key in ("family", "config", "device"):
        assert config_two[key] == config_one[key]
    assert config_two["data"]["sha256"] == config_one["data"]["sha256"]
    log_two, log_one = ([json.loads(line) for line in (d / "log.jsonl").read_text().splitlines()] for d in (two, one))
    assert [entry.keys() for entry in log_two] == [entry.keys() for entry in log_one]
    for entry_two, entry_one in zip(log_two, log_one):
        for key in entry_one.keys() - {"time_s"}:
            assert entry_two[key] == pytest.approx(entry_one[key], rel=1e-4), key


def die_after_three_minibatches(rank: int, port: int, root: Path, data_dir: Path, shared) -> None:
    """Train a 2-epoch RBM (2 minibatches an epoch) with the command line; rank 1 dies in epoch 2."""
    from genlab import cli
    from genlab.training import rbm

    join_as(rank, port, root)
    step, calls = rbm.rbm_step, []

    def dying_step(*args, **kwargs):
        calls.append(1)
        if rank == 1 and len(calls) == 3:
            os._exit(0)
        return step(*args, **kwargs)

    rbm.rbm_step = dying_step
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = cli.main(["train", "rbm", "--out", "run", "--limit", "200", "--epochs", "2", "--hidden", "20",
                         "--device", "cpu", "--data-dir", str(data_dir), "--quiet"])
    shared[rank] = (code, stderr.getvalue())


def test_a_rank_that_dies_ends_the_job_with_one_line_and_the_run_keeps_its_last_epoch(mnist_dir, tmp_path) -> None:
    context = mp.get_context("spawn")
    with mp.Manager() as manager:
        shared = manager.dict()
        port = free_port()
        ranks = [context.Process(target=die_after_three_minibatches, args=(rank, port, tmp_path, mnist_dir, shared))
                 for rank in (0, 1)]
        for process in ranks:
            process.start()
        for process in ranks:
            process.join(timeout=120)
        assert [process.exitcode for process in ranks] == [0, 0]
        code, stderr = shared[0]
    errors = [line for line in stderr.splitlines() if not line.startswith("genlab: warning:")]
    assert code == 1
    assert len(errors) == 1 and errors[0].startswith("genlab: error: rank 0 of 2: ") and "another rank stopped" in errors[0]
    run = tmp_path / "run"
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.safetensors", "config.json", "figures", "log.jsonl",
                                                     "model.safetensors"]
    assert [json.loads(line)["epoch"] for line in (run / "log.jsonl").read_text().splitlines()] == [1]
    assert "train_time_s" not in json.loads((run / "config.json").read_text())
    load_file(run / "model.safetensors")  # complete
