"""genlab.lab.core: runs keyed by config hash and re-used; reports."""

from __future__ import annotations

import json

from genlab.lab.core import Figure, Lab, Section, Table, TaskReport, config_key
from genlab.train.rbm import RBMConfig


def test_config_key_changes_with_any_setting_and_only_then():
    a = RBMConfig(epochs=3)
    assert config_key("rbm", a) == config_key("rbm", RBMConfig(epochs=3))
    assert config_key("rbm", a) != config_key("rbm", RBMConfig(epochs=4))
    assert config_key("rbm", a) != config_key("dbn", a)


def test_lab_trains_once_and_reuses_finished_runs(tiny_dataset, tmp_path):
    cfg = RBMConfig(dataset=str(tiny_dataset), hidden=8, epochs=1)
    lab = Lab(tmp_path / "lab", "quick", device="cpu", progress=False)
    first = lab.train("rbm", cfg)
    stamp = (first.path / "model.safetensors").stat().st_mtime_ns
    again = Lab(tmp_path / "lab", "quick", device="cpu", progress=False).train("rbm", cfg)
    assert again.path == first.path and (again.path / "model.safetensors").stat().st_mtime_ns == stamp
    other = lab.train("rbm", cfg.replace(hidden=9))
    assert other.path != first.path and lab.trained == 2


def test_an_interrupted_run_is_trained_again(tiny_dataset, tmp_path):
    cfg = RBMConfig(dataset=str(tiny_dataset), hidden=8, epochs=1)
    lab = Lab(tmp_path / "lab", "quick", device="cpu", progress=False)
    run = lab.train("rbm", cfg)
    meta = json.loads((run.path / "config.json").read_text())
    del meta["train_time_s"]  # as if killed before the end
    (run.path / "config.json").write_text(json.dumps(meta))
    lab.train("rbm", cfg)
    assert lab.trained == 2 and "train_time_s" in json.loads((run.path / "config.json").read_text())


def test_report_writes_markdown_and_json(tmp_path):
    report = TaskReport("rbm", "Task 1", "quick", "cpu")
    fig = tmp_path / "rbm" / "figures" / "w.png"
    fig.parent.mkdir(parents=True)
    fig.write_bytes(b"png")
    report.add(Section("Weights", figures=[Figure(fig, "weights")],
                       tables=[Table("k", ["k", "loglik"], [[1, -100.123456]])], observations=["k=1 best"]))
    report.write(tmp_path / "rbm")
    md = (tmp_path / "rbm" / "report.md").read_text()
    assert "| 1 | -100.12 |" in md and "](figures/w.png)" in md and "- k=1 best" in md
    assert json.loads((tmp_path / "rbm" / "results.json").read_text())["sections"][0]["tables"][0]["rows"] == [[1, -100.123456]]
