"""The genlab command: help, errors and exit codes, and the data/train/eval/sample commands."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from genlab.cli import main


def run_cli(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as e:  # argparse exits on --help and bad options
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def test_python_dash_m_genlab_shows_help():
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-m", "genlab", "--help"], capture_output=True, text=True, env=env)
    assert done.returncode == 0 and "train" in done.stdout and "eval" in done.stdout


@pytest.mark.parametrize("argv", [["--help"], ["data", "--help"], ["train", "rbm", "--help"], ["eval", "--help"],
                                  ["sample", "--help"], ["lab", "--help"]])
def test_every_command_has_help(capsys, argv):
    code, out, _ = run_cli(capsys, *argv)
    assert code == 0 and "usage: genlab" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "rbm", "--out", "x", "--epochs", "0"], "--epochs: expected a positive number, got 0"),
        (["train", "rbm", "--out", "x", "--hidden", "-5"], "--hidden: expected a positive number, got -5"),
        (["train", "rbm", "--out", "x", "--lr", "fast"], "argument --lr: expected float, got 'fast'"),
        (["train", "gpt", "--out", "x"], "invalid choice: 'gpt'"),
        (["train", "rbm", "--out", "x", "--dataset", "cifar"], "unknown data set 'cifar'"),
        (["train", "rbm", "--out", "x", "--device", "tpu"], "--device: expected auto, cpu"),
        (["sample", "x", "--n", "0", "--out", "a.png"], "expected a positive integer, got 0"),
    ],
)
def test_invalid_options_exit_2_with_one_line(capsys, argv, message):
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and message in err and err.strip().count("\n") <= 2  # argparse adds a usage line


def test_eval_of_a_directory_that_is_not_a_run_exits_2(capsys, tmp_path):
    code, _, err = run_cli(capsys, "eval", str(tmp_path))
    assert code == 2 and "no config.json" in err and "Traceback" not in err


def test_data_verify_passes_on_mnist(capsys, mnist_dir):
    code, out, _ = run_cli(capsys, "data", "verify", "--data-dir", str(mnist_dir))
    assert code == 0 and out.count("OK ") == 4 and "train: 60000 images" in out


@pytest.mark.parametrize("stem", ["train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"])
def test_data_verify_on_a_truncated_file_exits_1_naming_it(capsys, mnist_dir, tmp_path, stem):
    copy = tmp_path / "mnist"
    shutil.copytree(mnist_dir, copy)
    bad = copy / f"{stem}.gz"
    bad.write_bytes(gzip.compress(gzip.decompress(bad.read_bytes())[:-100]))
    code, _, err = run_cli(capsys, "data", "verify", "--data-dir", str(copy))
    assert code == 1 and str(bad) in err and len(err.strip().splitlines()) == 1


def test_data_info_prints_json(capsys, tiny_dataset):
    code, out, _ = run_cli(capsys, "data", "info", "--dataset", str(tiny_dataset))
    info = json.loads(out)
    assert code == 0 and info["train"]["images"] == 300 and info["known"] is False


def test_train_eval_sample_round_trip(capsys, tiny_dataset, tmp_path):
    run = tmp_path / "run"
    code, out, err = run_cli(capsys, "train", "rbm", "--out", str(run), "--dataset", str(tiny_dataset),
                             "--hidden", "12", "--epochs", "2", "--quiet", "--device", "cpu")
    assert code == 0, err
    code, out, err = run_cli(capsys, "eval", str(run), "--quiet", "--device", "cpu", "--samples", "0")
    results = json.loads(out)
    assert code == 0 and results["test_loglik_method"] == "exact" and results["test_loglik"] < 0
    assert json.loads((run / "eval.json").read_text())["log_z"] == results["log_z"]
    code, out, err = run_cli(capsys, "sample", str(run), "--n", "16", "--out", str(tmp_path / "s.png"), "--device", "cpu")
    assert code == 0 and (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
    code, _, err = run_cli(capsys, "train", "rbm", "--out", str(run), "--dataset", str(tiny_dataset))
    assert code == 2 and "already holds a run" in err
