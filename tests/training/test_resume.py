"""Resuming: a run killed (kill -9) at a random moment and continued with --resume ends bit-identical to
an uninterrupted run, in every family; a changed config on resume is refused, naming the options."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genlab.cli import main

SRC = str(Path(__file__).resolve().parents[2] / "src")

# small runs of a few epochs (a tenth of a second or more each), killed in an epoch or in its writes
RUNS = {
    "rbm": ["--hidden", "32", "--limit", "2000", "--epochs", "4", "--persistent", "--momentum", "0.5"],
    "rbm-native": ["--hidden", "32", "--limit", "4000", "--epochs", "4"],  # CD-1: genlab's own kernel
    "dbn": ["--rbm-hidden", "32", "--top-hidden", "16", "--limit", "2000", "--epochs", "2"],
    "dbn-finetune": ["--limit", "2000", "--epochs", "4"],
    "vae": ["--hidden", "64", "--latent", "4", "--batch-size", "100", "--limit", "2000", "--epochs", "4"],
    "dcgan": ["--limit", "64", "--batch-size", "32", "--epochs", "3"],
}


def sha256(path: Path) -> str:
    return hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()


def command(name: str, out: Path, parent: Path) -> list[str]:
    family = name.split("-native")[0]
    extra = ["--dbn", str(parent)] if family == "dbn-finetune" else []
    return ["train", family, "--out", str(out), *RUNS[name], *extra, "--device", "cpu", "--quiet"]


def epochs_logged(out: Path) -> int:
    try:
        return len((out / "log.jsonl").read_text().splitlines())
    except OSError:
        return 0


def shortest_epoch_s(out: Path) -> float:
    """The shortest epoch of a run, from its log's cumulative training times."""
    times = [json.loads(line)["time_s"] for line in (out / "log.jsonl").read_text().splitlines()]
    return min(b - a for a, b in zip([0.0, *times], times))


@pytest.fixture(scope="module")
def dbn_parent(tmp_path_factory):
    out = tmp_path_factory.mktemp("parent") / "dbn"
    assert main(["train", "dbn", "--rbm-hidden", "32", "--top-hidden", "16", "--limit", "2000", "--epochs", "1",
                 "--out", str(out), "--device", "cpu", "--quiet"]) == 0
    return out


@pytest.mark.parametrize("name", list(RUNS))
def test_a_run_killed_at_a_random_moment_resumes_bit_identical(name, dbn_parent, tmp_path):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert main(command(name, whole, dbn_parent)) == 0

    rng = random.Random(name)  # a random moment, the same in every test run
    logged = len((whole / "log.jsonl").read_text().splitlines())
    kill_after = rng.randrange(1, logged - 1)  # at least one checkpoint written, at least one epoch to go
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen([sys.executable, "-m", "genlab", *command(name, cut, dbn_parent)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while (epochs_logged(cut) < kill_after or not (cut / "checkpoint.safetensors").exists()) and process.poll() is None:
        time.sleep(0.01)
    time.sleep(rng.uniform(0, shortest_epoch_s(whole)))  # in the next epoch, or in its writes, not past the end
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the run ended before it was killed"

    assert main([*command(name, cut, dbn_parent), "--resume"]) == 0
    assert sha256(cut) == sha256(whole)
    assert [e["epoch"] for e in map(json.loads, (cut / "log.jsonl").read_text().splitlines())] == \
        [e["epoch"] for e in map(json.loads, (whole / "log.jsonl").read_text().splitlines())]
    assert not (cut / "checkpoint.safetensors").exists()  # a finished run keeps no checkpoint


def test_resuming_with_other_options_is_refused_naming_them(tmp_path, capsys, monkeypatch, tiny_dataset):
    out = tmp_path / "run"
    argv = ["train", "rbm", "--out", str(out), "--dataset", str(tiny_dataset), "--hidden", "8", "--epochs", "3",
            "--device", "cpu", "--quiet", "--no-compile"]  # (the plain loop's step is interrupted)
    from genlab.training import rbm as train_rbm

    step, calls = train_rbm.rbm_step, []

    def interrupt_in_epoch_2(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return step(*args, **kwargs)

    monkeypatch.setattr(train_rbm, "rbm_step", interrupt_in_epoch_2)
    assert main(argv) == 130
    monkeypatch.setattr(train_rbm, "rbm_step", step)
    capsys.readouterr()
    assert main([*argv, "--lr", "0.05", "--cd-k", "2", "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "was started with other options: --cd-k 1 (now 2), --lr 0.1 (now 0.05)" in err
    assert main([*argv, "--resume", "--checkpoint-every", "2"]) == 0  # how often to save is not what the run is
    assert main([*argv, "--resume"]) == 2 and "has finished; nothing to continue" in capsys.readouterr().err
    assert main(["train", "rbm", "--out", str(tmp_path / "none"), "--resume"]) == 2
