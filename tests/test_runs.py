"""genlab.runs: run directories, atomic writes, safetensors round trips."""

from __future__ import annotations

import json

import pytest
import torch

from genlab import runs
from genlab.errors import ConfigError, GenlabError
from genlab.runs import Run


def test_run_round_trip_keeps_config_log_and_tensors(tmp_path):
    run = Run.create(tmp_path / "r", "rbm", {"hidden": 3}, data={"dataset": "mnist"}, device="cpu")
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


def test_model_file_holds_tensors_only_under_their_names(tmp_path):
    path = runs.save_tensors(tmp_path / "m.safetensors", {"W": torch.ones(2, 2)})
    header_len = int.from_bytes(path.read_bytes()[:8], "little")
    header = json.loads(path.read_bytes()[8 : 8 + header_len])
    assert set(header) - {"__metadata__"} == {"W"}


def test_missing_or_misshapen_tensor_is_named(tmp_path):
    path = runs.save_tensors(tmp_path / "m.safetensors", {"W": torch.ones(2, 2)})
    with pytest.raises(GenlabError, match="tensor 'h_bias' is missing"):
        runs.load_tensors(path, {"W": (2, 2), "h_bias": (2,)})
    with pytest.raises(GenlabError, match="tensor 'W' has shape \\[2, 2\\], expected \\[3, 2\\]"):
        runs.load_tensors(path, {"W": (3, 2)})


def test_a_garbage_model_file_is_a_clear_error(tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"\x80\x04pickle?")
    with pytest.raises(GenlabError, match="not a valid safetensors file"):
        runs.load_tensors(path)


def test_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = runs.write_json(tmp_path / "x.json", {"a": 1})

    def broken(tmp):
        tmp.write_text('{"a": 2, "trunc')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runs.atomic_write(target, broken)
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_open_rejects_a_directory_that_is_not_a_run(tmp_path):
    with pytest.raises(ConfigError, match="no config.json"):
        Run.open(tmp_path)
    with pytest.raises(ConfigError, match="not a directory"):
        Run.open(tmp_path / "absent")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(GenlabError, match="not valid JSON"):
        Run.open(tmp_path)


def test_create_refuses_to_overwrite_a_run_unless_asked(tmp_path):
    Run.create(tmp_path / "r", "rbm", {})
    with pytest.raises(ConfigError, match="already holds a run"):
        Run.create(tmp_path / "r", "rbm", {})
    Run.create(tmp_path / "r", "rbm", {"x": 1}, overwrite=True)
    assert Run.open(tmp_path / "r").config == {"x": 1}
