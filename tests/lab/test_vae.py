"""genlab lab vae: every SPEC 4 figure and the measurement table, on a shrunken preset."""

from __future__ import annotations

import json
import re

from genlab.cli import main
from genlab.evaluation.config import EvalConfig
from genlab.figures.vae import FIGURES
from genlab.lab.findings.vae import usage_observation
from genlab.lab.presets import PRESETS, vae_preset
from genlab.training.vae import VAEConfig


def test_the_lab_writes_figures_table_and_observations_and_reuses_its_runs(mnist_dir, tmp_path, monkeypatch, capsys,
                                                                          shared_cache):
    longer = VAEConfig(latent=3, targets="binarized", batch_size=100, epochs=1, limit=300)
    monkeypatch.setitem(PRESETS["vae"], "quick", vae_preset("quick", 1, 300, EvalConfig(iwae_k=5, samples=200), "a test",
                                                           longer=longer))
    argv = ["lab", "vae", "--preset", "quick", "--out", str(tmp_path), "--data-dir", str(mnist_dir), "--device", "cpu", "--quiet"]
    assert main(argv) == 0
    task = tmp_path / "vae"
    results = json.loads((task / "results.json").read_text())
    figures = [f["path"] for section in results["sections"] for f in section["figures"]]
    assert all((task / f).is_file() for f in figures) and len(figures) == 11
    assert (task / "figures" / "test_elbo.png").is_file()
    assert {f.rsplit("/", 1)[1] for f in figures} >= {f"{name}.png" for name in FIGURES}
    table = results["sections"][-1]["tables"][0]
    assert table["columns"][:3] == ["run", "latent", "targets"] and [r[1] for r in table["rows"]] == [20, 2, 3]
    elbo, iwae = table["columns"].index("test ELBO"), table["columns"].index("test IWAE")
    assert all(r[elbo] < r[iwae] < 0 for r in table["rows"])
    report = (task / "report.md").read_text()
    assert "| run | latent | targets |" in report and "Burda et al. (2016)" in report
    assert re.search(r"dimensions? (is|are) (not )?active", report)
    assert "nats from the 20-D reference run" in report
    stamps = sorted(p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("*/model.safetensors"))
    assert len(stamps) == 3
    capsys.readouterr()
    assert main(argv) == 0  # a second time: both runs and their evaluations are re-used
    assert sorted(p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("*/model.safetensors")) == stamps


def test_the_latent_usage_sentence_agrees_with_the_number_of_active_dimensions():
    used, idle = 1.0, 0.0  # variance of mu: above and below the threshold
    assert "all 2 dimensions are active (KL per dimension 1.00 to 2.00 nats)" in usage_observation("a", [1.0, 2.0], [used, used])
    assert "the only dimension is active" in usage_observation("a", [1.0], [used])
    assert "none of the 2 dimensions is active" in usage_observation("a", [0.001, 0.002], [idle, idle])
    one = usage_observation("a", [0.001, 2.0], [idle, used])
    assert "1 of 2 dimensions is active" in one and "the other 1 collapses" in one and "for the active one." in one
    assert "no dimension is active" not in one
