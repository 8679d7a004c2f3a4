"""The genlab command: help, start-up time, errors and exit codes, and the data/train/eval/sample commands."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import umask, write_dataset

from genlab import cli
from genlab.cli import main

SRC = str(Path(__file__).resolve().parents[1] / "src")
ENV = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}


def run_cli(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as e:  # argparse exits on --help and bad options
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def test_python_dash_m_genlab_shows_help():
    done = subprocess.run([sys.executable, "-m", "genlab", "--help"], capture_output=True, text=True, env=ENV, check=False)
    assert done.returncode == 0 and "train" in done.stdout and "eval" in done.stdout


def test_help_version_and_bad_commands_do_not_load_the_models():
    script = """if True:
        import runpy, sys
        for argv in (["--version"], ["--help"], [], ["bogus"]):
            sys.argv = ["genlab", *argv]
            try:
                runpy.run_module("genlab", run_name="__main__")  # genlab/__init__.py, __main__.py and cli.py
            except SystemExit:
                pass
        print(sorted(m for m in ("torch", "matplotlib", "sklearn", "numpy") if m in sys.modules), file=sys.stderr)
    """
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=ENV, check=False)
    assert done.stderr.strip().splitlines()[-1] == "[]", done.stderr


def best_of_3(*argv: str) -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([sys.executable, *argv], capture_output=True, env=ENV, check=True)
        times.append(time.perf_counter() - started)
    return min(times)


def test_help_and_version_take_under_half_a_second_more_than_python_itself():
    python = best_of_3("-c", "pass")
    for flag in ("--version", "--help"):
        took = best_of_3("-m", "genlab", flag)
        assert took < python + 0.5, f"genlab {flag}: {took:.2f} s, python -c pass: {python:.2f} s"


@pytest.mark.parametrize(("argv", "unbuffered"), [(["data", "info"], ""), (["data", "info"], "1"), (["--help"], "")],
                         ids=["info", "info-unbuffered", "help"])
def test_output_into_a_closed_pipe_stops_quietly(tiny_dataset, argv, unbuffered):
    if argv[0] == "data":
        argv = [*argv, "--dataset", str(tiny_dataset)]
    env = {**ENV, "PYTHONUNBUFFERED": unbuffered}
    process = subprocess.Popen([sys.executable, "-m", "genlab", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env)
    process.stdout.close()  # long before genlab writes: like `genlab data info | head -0`
    err = process.stderr.read().decode()
    assert process.wait() == 1 and err == ""


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


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """An RBM trained for one epoch on 300 random images, under the umask 0o027 (once: its figures take a while)."""
    root = tmp_path_factory.mktemp("tiny-run")
    run = root / "run"
    with pytest.MonkeyPatch.context() as patch, umask(0o027):
        patch.setenv("HOME", str(root))  # like conftest's isolated_home, which a module's fixture precedes
        code = main(["train", "rbm", "--out", str(run), "--dataset", str(write_dataset(root / "tiny")),
                     "--hidden", "12", "--epochs", "1", "--quiet", "--device", "cpu"])
    assert code == 0
    return run


def test_a_run_directory_gets_the_modes_of_the_umask(tiny_run):
    modes = {p.relative_to(tiny_run).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in [tiny_run, *tiny_run.rglob("*")]}
    assert {"config.json", "model.safetensors", "log.jsonl", "figures"} <= set(modes)
    assert {name: oct(mode) for name, mode in modes.items()} == {
        name: oct(0o750 if (tiny_run / name).is_dir() else 0o640) for name in modes}


def test_a_file_that_cannot_be_written_is_one_line_naming_it(tiny_run, tmp_path, capsys):
    in_the_way = tmp_path / "in-the-way.png"
    in_the_way.mkdir()
    code, out, err = run_cli(capsys, "sample", str(tiny_run), "--n", "4", "--out", str(in_the_way), "--device", "cpu")
    assert code == 1 and out == "" and err == f"genlab: error: {in_the_way}: Is a directory\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a user whose permissions are checked")
def test_a_read_only_directory_is_one_line_naming_the_file(tiny_run, tmp_path, capsys):
    read_only = tmp_path / "read-only"
    read_only.mkdir(mode=0o555)
    code, _, err = run_cli(capsys, "sample", str(tiny_run), "--out", str(read_only / "s.png"), "--device", "cpu")
    assert code == 1 and err == f"genlab: error: {read_only / 's.png'}: Permission denied\n"


def test_an_os_error_names_its_paths():
    assert cli.os_error_message(PermissionError(13, "Permission denied", "a.png")) == "a.png: Permission denied"
    assert cli.os_error_message(OSError(18, "Invalid cross-device link", "a", None, "b")) == "a -> b: Invalid cross-device link"
    assert cli.os_error_message(OSError("no errno")) == "no errno"


def test_running_out_of_memory_is_one_line(capsys, monkeypatch):
    def sample(args):
        raise MemoryError

    monkeypatch.setitem(cli.COMMANDS, "sample", cli.COMMANDS["sample"]._replace(run=sample))
    code, _, err = run_cli(capsys, "sample", "RUN", "--out", "s.png")
    assert code == 1 and err == "genlab: error: ran out of memory; try a smaller --n\n"


def test_the_summary_of_training_shows_headline_numbers_but_no_lists():
    log = [{"epoch": 1, "d_loss": 1.334, "d_real": 0.800037, "d_fake": 0.5876179, "g_loss": 4.49,
            "d_loss_curve": [1.77, 0.89], "time_s": 18.48}]
    assert cli.train_summary("dcgan", Path("runs/g"), log, 20.24) == \
        "dcgan: 1 epoch in 20.2 s, run written to runs/g (D(x) 0.8, D(G(z)) 0.5876)"
    log = [{"epoch": 10, "recon_error": 0.041234, "test_recon_error": 0.0421, "time_s": 0.5}]
    assert cli.train_summary("rbm", Path("r"), log, 23.44) == \
        "rbm: 10 epochs in 23.4 s, run written to r (reconstruction error 0.04123, test reconstruction error 0.0421)"


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


@pytest.mark.parametrize(("rank", "prints"), [("0", True), ("1", False)])
def test_under_a_launcher_rank_0_alone_prints_output(capsys, monkeypatch, tiny_dataset, rank, prints):
    monkeypatch.setenv("RANK", rank)
    monkeypatch.setenv("WORLD_SIZE", "2")
    code, out, _ = run_cli(capsys, "data", "info", "--dataset", str(tiny_dataset))
    assert code == 0 and bool(out) == prints


def test_train_eval_sample_round_trip(capsys, tiny_dataset, tmp_path):
    run = tmp_path / "run"
    code, out, err = run_cli(capsys, "train", "rbm", "--out", str(run), "--dataset", str(tiny_dataset),
                             "--hidden", "12", "--epochs", "2", "--quiet", "--device", "cpu")
    assert code == 0, err
    assert out.startswith("rbm: 2 epochs in ") and f"s, run written to {run} (reconstruction error " in out
    assert out.count("\n") == 1 and "{" not in out
    code, out, err = run_cli(capsys, "eval", str(run), "--quiet", "--device", "cpu", "--samples", "0")
    results = json.loads(out)
    assert code == 0 and results["test_loglik_method"] == "exact" and results["test_loglik"] < 0
    assert json.loads((run / "eval.json").read_text())["log_z"] == results["log_z"]
    code, out, err = run_cli(capsys, "sample", str(run), "--n", "16", "--out", str(tmp_path / "s.png"), "--device", "cpu")
    assert code == 0 and (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
    code, _, err = run_cli(capsys, "train", "rbm", "--out", str(run), "--dataset", str(tiny_dataset))
    assert code == 2 and "already holds a run" in err


# ----------------------------------------------------------------------------- eval's notes and --quick, compare


def test_eval_prints_a_note_after_its_results_when_the_log_likelihood_has_no_lower_end(capsys, tiny_dataset,
                                                                                          tmp_path, monkeypatch):
    from genlab.evaluation import ais

    run = tmp_path / "run"
    assert run_cli(capsys, "train", "rbm", "--out", str(run), "--dataset", str(tiny_dataset), "--hidden", "21",
                   "--epochs", "1", "--quiet", "--device", "cpu")[0] == 0
    # as if Gibbs chains had found a state above both AIS estimates (tests/evaluation/test_notes.py builds one)
    monkeypatch.setattr(ais, "log_z_floor", lambda *args, **kwargs: 1000.0)
    code, out, err = run_cli(capsys, "eval", str(run), "--quiet", "--device", "cpu", "--samples", "0",
                             "--ais-runs", "5", "--ais-betas", "20", "--raise-betas", "0")
    results = json.loads(out)
    assert code == 0 and results["test_loglik_low"] is None and len(results["notes"]) == 1
    assert err.startswith("note: test_loglik_low is null: the test log-likelihood is at most ")
    assert " ".join(err.split()) == " ".join(("note: " + results["notes"][0]).split())  # the note, wrapped


def test_eval_quick_records_its_sizes_and_protocol_and_says_so_and_a_quiet_eval_prints_nothing_else(capsys, tiny_dataset, tmp_path):
    run = tmp_path / "run"
    assert run_cli(capsys, "train", "rbm", "--out", str(run), "--dataset", str(tiny_dataset), "--hidden", "8",
                   "--epochs", "1", "--quiet", "--device", "cpu")[0] == 0
    code, out, err = run_cli(capsys, "eval", str(run), "--quiet", "--device", "cpu", "--samples", "0")
    results = json.loads(out)
    assert code == 0 and err == "" and results["notes"] == [] and results["test_images"] == 100
    assert results["eval_config"]["quick"] is False and results["eval_config"]["ais_betas"] == 14500
    code, out, err = run_cli(capsys, "eval", str(run), "--quiet", "--device", "cpu", "--samples", "0", "--quick")
    results = json.loads((run / "eval.json").read_text())
    assert code == 0 and results == json.loads(out) and results["test_images"] == 20  # every 5th of 100
    config = results["eval_config"]
    assert config["quick"] is True and (config["ais_runs"], config["ais_betas"], config["iwae_k"]) == (100, 4000, 500)
    assert config["samples"] == 0  # given, so kept
    assert results["protocol"]["test_split"] == "test set of 100 images, every 5th (20) measured"
    assert results["protocol"]["estimator"] == "exact (every hidden state summed)"  # 8 hidden units
    assert err.startswith("note: A quick evaluation (--quick)") and results["notes"][0].startswith("A quick evaluation")
    code, out, _ = run_cli(capsys, "eval", str(run), "--quiet", "--device", "cpu", "--samples", "0", "--quick",
                           "--ais-betas", "14500")
    assert code == 0 and json.loads(out)["eval_config"]["ais_betas"] == 14500  # given, so kept: though the default


def test_compare_shows_runs_side_by_side_and_writes_the_same_rows_as_csv(capsys, tiny_dataset, tmp_path):
    import csv

    from genlab.evaluation.config import QUICK, EvalConfig
    from genlab.training import rbm as train_rbm
    from genlab.training.rbm import RBMConfig

    runs = [train_rbm.train(RBMConfig(dataset=str(tiny_dataset), epochs=1, hidden=h, lr=lr), tmp_path / name,
                            device="cpu", progress=False)
            for name, h, lr in (("a", 8, 0.1), ("b", 12, 0.1), ("c", 8, 0.05))]
    quick = EvalConfig(samples=0, quick=True)
    runs[0].write_eval({"family": "rbm", "test_loglik": -100.5, "recon_error": 0.0625, "notes": [],  # quick's sizes
                        "eval_config": EvalConfig(**{**QUICK, "samples": 0}).to_dict()})  # on every test image
    runs[1].write_eval({"family": "rbm", "test_loglik": -90.25, "fid": 12.5, "notes": [],  # an old name: read as the FCD
                        "eval_config": quick.to_dict()})  # c: not evaluated
    paths = [str(run.path) for run in runs]
    code, out, err = run_cli(capsys, "compare", *paths, "--csv", str(tmp_path / "t.csv"))
    lines = [line.split() for line in out.splitlines()]
    assert code == 0 and err == ""
    assert lines == [["run", *paths], ["family", "rbm", "rbm", "rbm"], ["hidden", "8", "12", "8"],
                     ["lr", "0.1", "0.1", "0.05"], ["eval.quick", "False", "True", "-"],
                     ["test_loglik", "-100.5", "-90.25", "-"], ["recon_error", "0.0625", "-", "-"],
                     ["frechet_classifier_distance", "-", "12.5", "-"], ["3", "runs", "written", "to", str(tmp_path / "t.csv")]]
    with open(tmp_path / "t.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [row["run"] for row in table] == paths and [row["test_loglik"] for row in table] == ["-100.5", "-90.25", ""]
    assert list(table[0]) == ["run", "family", "hidden", "lr", "eval.quick", "test_loglik", "recon_error",
                              "frechet_classifier_distance"]
    import genlab

    assert genlab.compare(runs) == genlab.compare(paths)
    assert genlab.compare(paths)[2] == {"run": paths[2], "family": "rbm", "hidden": 8, "lr": 0.05, "eval.quick": None,
                                        "test_loglik": None, "recon_error": None,
                                        "frechet_classifier_distance": None}


def test_compare_of_a_path_that_is_not_a_run_is_one_line_exit_2(capsys, tmp_path):
    code, out, err = run_cli(capsys, "compare", str(tmp_path), "--csv", str(tmp_path / "t.csv"))
    assert code == 2 and out == "" and err.count("\n") == 1 and f"RUN {tmp_path}: no config.json" in err
    assert not (tmp_path / "t.csv").exists()


def test_compare_shows_eval_quick_whenever_an_evaluation_was_quick():
    from genlab.comparison import eval_options

    assert eval_options([{"quick": True, "samples": 1000}, {"quick": True, "samples": 0}]) == ["samples", "quick"]
    assert eval_options([{"quick": False, "samples": 1000}, {"quick": False, "samples": 0}]) == ["samples"]
