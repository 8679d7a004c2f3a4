"""genlab.lab.overrides: ``genlab lab TASK --dataset NAME|DIR --set KEY=VALUE``, checked and applied to the
preset's runs, and a tiny lab on Fashion-MNIST and on a custom IDX folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import unformatted_placeholders, write_dataset

from genlab.cli import main
from genlab.errors import ConfigError
from genlab.lab import TASKS
from genlab.lab.core import config_key
from genlab.lab.overrides import customized, dataset_option, parse
from genlab.runs import Run

FASHION = Path("/usr/share/datasets/fashion-mnist")
# the fastest lab at its tiny preset: both VAEs for one epoch, no sample-quality metrics (no classifier to train)
QUICK_VAE = ["--preset", "tiny", "--set", "epochs=1", "--set", "eval.samples=0", "--device", "cpu", "--quiet"]


def preset(task: str):
    return TASKS[task].presets["tiny"]


def test_a_field_alone_sets_every_run_that_has_it_and_a_scope_only_its_family():
    p = preset("dbn")
    q = customized(p, None, parse(["epochs=5", "rbm.cd-k=3", "eval.ais_runs=7", "rbm.binarize=false"], [p]))
    assert [c.epochs for c in q.runs.values()] == [5, 5, 5]
    assert (q.runs["rbm"].cd_k, q.runs["dbn"].cd_k, q.runs["finetune"].cd_k) == (3, p.runs["dbn"].cd_k, p.runs["finetune"].cd_k)
    assert q.runs["rbm"].binarize is False and q.eval.ais_runs == 7 and q.eval.samples == p.eval.samples
    assert "--set rbm.cd-k=3" in q.note and p.note in q.note


def test_a_field_no_run_has_sets_the_eval_config_and_none_clears_an_optional_one():
    p = preset("vae")
    q = customized(p, None, parse(["iwae_k=3", "limit=none"], [p]))
    assert q.eval.iwae_k == 3 and all(c.limit is None for c in q.runs.values())


def test_an_override_changes_the_content_hash_of_exactly_the_runs_it_changes():
    p = preset("dcgan")
    q = customized(p, None, parse(["dcgan.epochs=2"], [p]))
    assert config_key("dcgan", q.runs["reference"]) != config_key("dcgan", p.runs["reference"])
    assert config_key("vae", q.runs["vae"]) == config_key("vae", p.runs["vae"])
    other_data = customized(p, "fashion-mnist", [])
    assert config_key("vae", other_data.runs["vae"]) != config_key("vae", p.runs["vae"])


@pytest.mark.parametrize(("item", "message"), [
    ("vae.epochs=5", "--set vae.epochs: not a setting this task takes, expected one of rbm.batch_size, "),
    ("epoch=5", "--set epoch: not a setting this task takes, expected one of "),
    ("rbm.dataset=x", "--set rbm.dataset: not a setting this task takes"),
    ("vae.latent=3", "--set vae.latent: not a setting this task takes"),
    ("epochs", "--set epochs: expected KEY=VALUE"),
    ("epochs=0", "--set epochs: expected a positive number, got 0"),
    ("rbm.lr=fast", "--set rbm.lr: expected a number, got 'fast'"),
    ("rbm.persistent=maybe", "--set rbm.persistent: expected true or false, got 'maybe'"),
])
def test_a_bad_key_or_value_is_refused_in_one_line_naming_it(item, message):
    presets = [preset("rbm"), preset("vae")] if item.startswith("vae.latent") else [preset("rbm")]
    with pytest.raises(ConfigError) as e:
        customized(presets[0], None, parse([item], presets))
    assert str(e.value).startswith(message) and "\n" not in str(e.value)
    if "not a setting" in message:
        assert "rbm.cd_k" in str(e.value) and "eval.ais_runs" in str(e.value)


def test_the_cli_refuses_an_unknown_key_or_data_set_with_exit_code_2(tmp_path, capsys):
    assert main(["lab", "rbm", "--set", "vae.latent=3", "--out", str(tmp_path / "a"), "--quiet"]) == 2
    assert main(["lab", "rbm", "--dataset", str(tmp_path / "missing"), "--out", str(tmp_path / "b"), "--quiet"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("genlab: error: --set vae.latent: not a setting this task takes") and "--dataset: unknown data set" in err[1]
    assert dataset_option(str(tmp_path)) == str(tmp_path.resolve()) and dataset_option("mnist") == "mnist"


def lab_vae(dataset: str, out: Path) -> list[Run]:
    """``genlab lab vae`` at the tiny preset on ``dataset``; its runs."""
    assert main(["lab", "vae", "--dataset", dataset, "--out", str(out), *QUICK_VAE]) == 0
    report = (out / "vae" / "report.md").read_text()
    assert "--set epochs=1" in report and unformatted_placeholders(report) == []
    return [Run.open(path) for path in sorted((out / "runs").iterdir())]


def test_the_lab_trains_every_run_on_a_custom_idx_folder(tmp_path):
    folder = write_dataset(tmp_path / "digits", n_train=120, n_test=40)
    runs = lab_vae(str(folder), tmp_path / "lab")
    assert len(runs) == 2
    for run in runs:
        assert run.config["dataset"] == str(folder.resolve()) and run.config["epochs"] == 1
        assert run.meta["data"]["train_images"] == 120 and run.read_eval()["eval_config"]["samples"] == 0
    results = json.loads((tmp_path / "lab" / "vae" / "results.json").read_text())
    assert all((tmp_path / "lab" / "vae" / f["path"]).is_file() for s in results["sections"] for f in s["figures"])


@pytest.mark.slow  # another 14 CPU seconds: the same lab as above, on a known data set
@pytest.mark.skipif(not FASHION.is_dir(), reason=f"Fashion-MNIST is not in {FASHION} (Debian's dataset-fashion-mnist)")
def test_the_lab_trains_every_run_on_fashion_mnist(tmp_path):
    runs = lab_vae("fashion-mnist", tmp_path / "lab")
    assert [run.meta["data"]["dataset"] for run in runs] == ["fashion-mnist", "fashion-mnist"]
    assert all(run.config["dataset"] == "fashion-mnist" and run.meta["data"]["train_images"] == 500 for run in runs)
