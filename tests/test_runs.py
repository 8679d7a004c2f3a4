"""genlab.runs: run directories and runs built on other runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import write_dataset
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from genlab.errors import ConfigError, GenlabError
from genlab.cli import main
from genlab.families import family_of
from genlab.runs import Run
from genlab.training import rbm as train_rbm
from genlab.training.rbm import RBMConfig

DATA = {"image_shape": [28, 28]}
SRC = str(Path(__file__).resolve().parents[1] / "src")


def test_run_round_trip_keeps_config_log_and_tensors(tmp_path):
    run = Run.create(tmp_path / "r", "rbm", {"hidden": 3}, data={"dataset": "mnist", "image_shape": [2, 2]}, device="cpu")
    run.append_log({"epoch": 1, "loss": 0.5})
    run.append_log({"epoch": 2, "loss": float("nan")})
    tensors = {"W": torch.randn(4, 3), "v_bias": torch.randn(4)}
    run.save_model(tensors)
    again = Run.open(tmp_path / "r")
    assert again.family == "rbm" and again.config == {"hidden": 3}
    assert again.meta["versions"]["torch"] == torch.__version__ and "genlab" in again.meta["versions"]
    assert again.log == [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": None}]  # NaN is written as null
    loaded = again.load_model({"W": (4, 3), "v_bias": (4,)})
    assert all(torch.equal(loaded[k], tensors[k]) for k in tensors)
    assert (tmp_path / "r" / "figures").is_dir()


def test_open_rejects_a_directory_that_is_not_a_run(tmp_path):
    with pytest.raises(ConfigError, match="no config.json"):
        Run.open(tmp_path)
    with pytest.raises(ConfigError, match="not a directory"):
        Run.open(tmp_path / "absent")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(GenlabError, match="not valid JSON"):
        Run.open(tmp_path)


def test_create_refuses_to_overwrite_a_run_unless_asked(tmp_path):
    Run.create(tmp_path / "r", "rbm", {}, DATA)
    with pytest.raises(ConfigError, match="already holds a run"):
        Run.create(tmp_path / "r", "rbm", {}, DATA)
    Run.create(tmp_path / "r", "rbm", {"x": 1}, DATA, overwrite=True)
    assert Run.open(tmp_path / "r").config == {"x": 1}


def test_create_refuses_an_empty_out_and_a_directory_of_other_files(tmp_path):
    with pytest.raises(ConfigError, match="^--out: expected a directory name, got an empty one$"):
        Run.create("", "rbm", {}, DATA)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "model.safetensors").write_bytes(b"the user's own file")
    with pytest.raises(ConfigError, match="not empty and not a genlab run"):
        Run.create(tmp_path / "mine", "rbm", {}, DATA)
    assert (tmp_path / "mine" / "model.safetensors").read_bytes() == b"the user's own file"
    assert not (tmp_path / "mine" / "config.json").exists()
    Run.create(tmp_path / "mine", "rbm", {}, DATA, overwrite=True)  # asked for: genlab writes its files there
    Run.create(tmp_path / "empty", "rbm", {}, DATA)  # a new directory
    (tmp_path / "made").mkdir()
    Run.create(tmp_path / "made", "rbm", {}, DATA)  # an empty one


WRITER = """
import sys, time
from genlab.files import atomic_write

def write(tmp):
    tmp.write_bytes(b"half of a model")
    print("writing", flush=True)
    time.sleep(600)

atomic_write(sys.argv[1], write)
"""


def test_temporary_files_of_a_killed_writer_are_removed_by_the_next_command(tmp_path):
    run = Run.create(tmp_path / "r", "rbm", {}, DATA)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(run.path / "model.safetensors")],
                              stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": SRC})
    try:
        assert writer.stdout.readline() == "writing\n"
        live = [p.name for p in run.path.iterdir() if p.name.startswith(".model.")]
        assert len(live) == 1
        Run.open(run.path)  # the writer still runs: its file stays
        assert [p.name for p in run.path.iterdir() if p.name.startswith(".model.")] == live
    finally:
        writer.kill()
        writer.wait()
    Run.open(run.path)
    assert sorted(p.name for p in run.path.iterdir()) == ["config.json", "figures"]
    assert not (run.path / "model.safetensors").exists()  # never a half-written file under its name


# -- damaged run directories: one line naming the file, exit 1, for every command that reads a run


def set_config(path, change):
    meta = json.loads((path / "config.json").read_text())
    change(meta)
    (path / "config.json").write_text(json.dumps(meta))


def set_tensors(path, change):
    tensors = load_file(path / "model.safetensors")
    change(tensors)
    save_file(tensors, path / "model.safetensors")


def fifo(path, name):
    (path / name).unlink()
    os.mkfifo(path / name)


DAMAGES = {
    "config value of the wrong type": ("config.json", "config: hidden: expected an integer, got '8'",
                                       lambda p: set_config(p, lambda m: m["config"].update(hidden="8"))),
    "config a list": ("config.json", "config is a list, expected an object",
                      lambda p: set_config(p, lambda m: m.update(config=[1, 2]))),
    "family a number": ("config.json", "family is an integer, expected a string",
                        lambda p: set_config(p, lambda m: m.update(family=3))),
    "no data section": ("config.json", "no data, expected an object", lambda p: set_config(p, lambda m: m.pop("data"))),
    "image shape of one number": ("config.json", "data.image_shape is [28], expected [height, width]",
                                  lambda p: set_config(p, lambda m: m["data"].update(image_shape=[28]))),
    "corrupt log line": ("log.jsonl", "line 1 is not valid JSON",
                         lambda p: (p / "log.jsonl").write_text('{"epoch": 1,\n')),
    "float64 tensor": ("model.safetensors", "tensor 'W' is torch.float64, expected torch.float32",
                       lambda p: set_tensors(p, lambda t: t.update(W=t["W"].double()))),
    "int32 tensor": ("model.safetensors", "tensor 'h_bias' is torch.int32, expected torch.float32",
                     lambda p: set_tensors(p, lambda t: t.update(h_bias=t["h_bias"].int()))),
    "extra tensor": ("model.safetensors", "unexpected tensor(s) 'extra'",
                     lambda p: set_tensors(p, lambda t: t.update(extra=torch.zeros(2)))),
    "missing tensor": ("model.safetensors", "tensor 'v_bias' is missing", lambda p: set_tensors(p, lambda t: t.pop("v_bias"))),
    "named pipe as model": ("model.safetensors", "not a regular file", lambda p: fifo(p, "model.safetensors")),
    "named pipe as config": ("config.json", "not a regular file", lambda p: fifo(p, "config.json")),
    "named pipe as log": ("log.jsonl", "not a regular file", lambda p: fifo(p, "log.jsonl")),
}


@pytest.fixture(scope="module")
def trained_rbm(tmp_path_factory):
    dataset = write_dataset(tmp_path_factory.mktemp("data"))
    out = tmp_path_factory.mktemp("runs") / "rbm"
    train_rbm.train(RBMConfig(hidden=8, epochs=1, dataset=str(dataset)), out, device="cpu", progress=False)
    return out, dataset


@pytest.mark.parametrize("command", ["eval", "sample", "train dbn --rbm"])
@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_run_gives_one_line_naming_the_file(damage, command, trained_rbm, tmp_path, capsys):
    name, message, damage_it = DAMAGES[damage]
    run = tmp_path / "rbm"
    shutil.copytree(trained_rbm[0], run)
    damage_it(run)
    argv = {"eval": ["eval", str(run), "--ais-runs", "2", "--samples", "0"],
            "sample": ["sample", str(run), "--n", "4", "--out", str(tmp_path / "s.png")],
            "train dbn --rbm": ["train", "dbn", "--rbm", str(run), "--top-hidden", "4", "--dataset", str(trained_rbm[1]),
                                "--out", str(tmp_path / "dbn")]}[command]
    code = main([*argv, "--device", "cpu", "--quiet"] if command != "sample" else [*argv, "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.count("\n") == 1 and str(run / name) in err and message in err, err
    assert not (tmp_path / "s.png").exists() and not (tmp_path / "dbn").exists()


def load_run(path):
    run = Run.open(path)
    return family_of(run).load(run, "cpu")


# no subnormal floats: a compiled kernel loaded earlier in the process may flush them to zero
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_subnormal=False)
                           | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                       max_size=3), max_leaves=6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.lists(st.sampled_from(["config", "data", "family", "image_shape", "hidden", "lr", "source", "x", 0]),
                     min_size=1, max_size=3), value=JSON_VALUES)
def test_any_value_anywhere_in_config_json_loads_or_gives_one_line(trained_rbm, tmp_path_factory, path, value):
    run = tmp_path_factory.mktemp("run") / "rbm"
    shutil.copytree(trained_rbm[0], run)
    meta = json.loads((run / "config.json").read_text())
    node = meta
    for key in path[:-1]:  # walk down as far as the keys exist, then set the last one
        node = node.get(key) if isinstance(node, dict) and isinstance(node.get(key), dict) else node
    if isinstance(node, dict):
        node[path[-1] if isinstance(path[-1], str) else "family"] = value
    (run / "config.json").write_text(json.dumps(meta))
    try:
        load_run(run)
    except GenlabError as e:
        assert "\n" not in str(e)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["model.safetensors", "log.jsonl", "config.json"]), data=st.data())
def test_any_mutation_of_a_run_file_loads_or_gives_one_line(trained_rbm, tmp_path_factory, name, data):
    run = tmp_path_factory.mktemp("run") / "rbm"
    shutil.copytree(trained_rbm[0], run)
    content = bytearray((run / name).read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):  # overwrite, cut or insert a few bytes
        at = data.draw(st.integers(0, len(content)))
        how = data.draw(st.sampled_from(["set", "cut", "insert"]))
        if how == "set" and at < len(content):
            content[at] = data.draw(st.integers(0, 255))
        elif how == "cut":
            del content[at : at + data.draw(st.integers(1, 64))]
        else:
            content[at:at] = data.draw(st.binary(min_size=1, max_size=16))
    (run / name).write_bytes(bytes(content))
    try:
        load_run(run)
    except GenlabError as e:
        assert "\n" not in str(e)


def test_genlab_load_of_a_damaged_run_raises_one_line_naming_the_file(trained_rbm, tmp_path):
    import genlab

    for damage, (name, message, damage_it) in DAMAGES.items():
        run = tmp_path / damage.replace(" ", "-")
        shutil.copytree(trained_rbm[0], run)
        damage_it(run)
        with pytest.raises(GenlabError) as info:
            genlab.load(run)
        assert "\n" not in str(info.value) and str(run / name) in str(info.value) and message in str(info.value)


# what a DBN's run directory can hold damaged (its tensors have other names than an RBM's)
DBN_DAMAGES = {"config value of the wrong type": ("config.json", "config: top_hidden: expected an integer, got '4'",
                                                  lambda p: set_config(p, lambda m: m["config"].update(top_hidden="4"))),
               "float64 tensor": ("model.safetensors", "tensor 'W2' is torch.float64, expected torch.float32",
                                  lambda p: set_tensors(p, lambda t: t.update(W2=t["W2"].double()))),
               **{k: DAMAGES[k] for k in ("no data section", "corrupt log line", "extra tensor", "named pipe as model")}}


@pytest.mark.parametrize("damage", list(DBN_DAMAGES))
def test_fine_tuning_a_damaged_dbn_gives_one_line_naming_the_file(damage, trained_rbm, tmp_path, capsys):
    name, message, damage_it = DBN_DAMAGES[damage]
    dbn = tmp_path / "dbn"
    assert main(["train", "dbn", "--rbm", str(trained_rbm[0]), "--top-hidden", "4", "--epochs", "1", "--dataset",
                 str(trained_rbm[1]), "--out", str(dbn), "--device", "cpu", "--quiet"]) == 0
    damage_it(dbn)
    capsys.readouterr()
    code = main(["train", "dbn-finetune", "--dbn", str(dbn), "--epochs", "1", "--dataset", str(trained_rbm[1]),
                 "--out", str(tmp_path / "up"), "--device", "cpu", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.count("\n") == 1 and str(dbn / name) in err and message in err, err
    assert not (tmp_path / "up").exists()
