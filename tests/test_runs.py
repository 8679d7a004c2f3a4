"""genlab.runs: run directories and runs built on other runs."""

from __future__ import annotations


import pytest
import torch

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
