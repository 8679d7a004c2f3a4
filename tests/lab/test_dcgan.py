"""genlab lab dcgan on a tiny preset: every variant trained, measured, drawn and reported."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch

from genlab.evaluation.config import EvalConfig
from genlab.lab import run_lab
from genlab.lab.findings.dcgan import (
    FCD,
    FCD_FLOOR,
    batchnorm_answer,
    deviations_table,
    first_layer_batchnorm,
    grey_share,
    ratio_answer,
    versus_vae_answer,
)
from genlab.lab.presets import DCGAN_VARIANTS, PRESETS, Preset, vae_preset
from genlab.lab.questions import QUESTIONS
from genlab.models.dcgan import Discriminator
from genlab.training.dcgan import DCGANConfig


def test_the_lab_writes_its_report_and_reuses_its_runs(tiny_dataset, tmp_path, monkeypatch):
    vae = vae_preset("quick", EvalConfig(iwae_k=2), "tiny", epochs=1, limit=16).runs["latent 20"].replace(dataset=str(tiny_dataset))
    tiny = Preset("quick", {"reference": DCGANConfig(dataset=str(tiny_dataset), limit=16, batch_size=8, epochs=1),
                            "vae": vae}, EvalConfig(samples=30), "tiny test preset")
    monkeypatch.setitem(PRESETS["dcgan"], "quick", tiny)
    task = run_lab("dcgan", "quick", tmp_path / "lab", device="cpu", progress=False)
    results = json.loads((task / "results.json").read_text())
    table = results["sections"][0]["tables"][0]
    assert [row[0] for row in table["rows"]] == [label for label, _, _ in DCGAN_VARIANTS]
    assert table["columns"][:5] == ["variant", "FCD", "FCD floor", "classifier score", "coverage (bits)"]
    assert "tiny test preset" in table["note"]
    report = (task / "report.md").read_text()
    assert "5.2" in report and "5.3" in report and "Lowest FCD of these" in report
    for name in ("reference", "d2g1", "d1g2", "no-batchnorm"):
        assert (task / "figures" / f"samples_{name}.png").stat().st_size > 0
    assert [s["title"][:3] for s in results["sections"]] == ["5.1", "5.2", "5.3"]
    assert all(s["question"] == QUESTIONS[s["title"][:3]] and s["answer"] for s in results["sections"])
    first = results["sections"][0]
    assert (task / "figures" / "samples_vae.png").is_file()
    versus = next(t for t in first["tables"] if t["title"] == "VAE vs DCGAN")
    floors = [row[versus["columns"].index("FCD floor")] for row in versus["rows"]]
    assert floors[0] == floors[1] == table["rows"][0][2]  # measured alike: the same real-data floor as the DCGAN's
    assert any(t["title"].startswith("Deliberate deviations") for t in first["tables"])
    assert list(results["models"]) == ["DCGAN"]
    runs = sorted((tmp_path / "lab" / "runs").iterdir())
    assert len(runs) == 5  # four DCGANs and the VAE
    stamps = [(r / "model.safetensors").stat().st_mtime_ns for r in runs]
    run_lab("dcgan", "quick", tmp_path / "lab", device="cpu", progress=False)
    assert [(r / "model.safetensors").stat().st_mtime_ns for r in runs] == stamps


# ----------------------------------------------------------------------------- deviations and answers

def test_the_deviations_table_reads_the_first_layer_batchnorm_from_the_network_and_the_rest_from_the_config():
    assert first_layer_batchnorm(Discriminator(batchnorm=True)) and not first_layer_batchnorm(Discriminator(batchnorm=False))
    config = DCGANConfig(batch_size=16).to_dict()
    rows = {row[0]: row[1:] for row in deviations_table(config, True, 128).rows}
    assert rows["Adam learning rate (both networks)"][:2] == ["0.001", "0.0002"]
    minibatch = rows["minibatch (both networks)"]
    assert minibatch[:2] == ["256", "16"] and "This preset uses 16" in minibatch[2]
    assert rows["batch normalisation after the discriminator's first convolution"][:2] == ["no", "yes"]
    assert "This preset" not in deviations_table(DCGANConfig().to_dict(), True, 128).rows[1][3]


def test_grey_share_is_zero_for_binary_strokes_and_one_for_blurred_ones():
    assert grey_share(torch.tensor([0.0, 1.0, 1.0, 0.05])) == 0.0
    assert grey_share(torch.tensor([0.0, 0.5, 0.3, 1.0])) == pytest.approx(2 / 3)


def metrics(fcd: float, coverage: float = 3.0, min_share: float = 0.08, floor: float = 3.0) -> dict:
    return {FCD: fcd, FCD_FLOOR: floor, "classifier_score": 5.0, "coverage": coverage, "coverage_min_share": min_share,
            "coverage_max": 3.32, "metric_samples": 1000}


def fake_run(d_real: float, d_fake: float, g_loss: float, g_updates: int) -> SimpleNamespace:
    return SimpleNamespace(log=[{"d_real": d_real, "d_fake": d_fake, "g_loss": g_loss, "g_updates": g_updates}])


def test_the_vae_comparison_ranks_by_fcd_only_when_the_gap_exceeds_the_seed_spread():
    grey = {"vae": 0.6, "dcgan": 0.3, "real": 0.2}
    gan_wins = " ".join(versus_vae_answer(metrics(100.0), metrics(200.0), metrics(250.0, floor=4.0), grey, 500))
    assert "the DCGAN has the lower FCD (2.00x)" in gan_wins and "the VAE's samples are the blurrier" in gan_wins
    vae_wins = " ".join(versus_vae_answer(metrics(200.0), metrics(100.0), metrics(150.0), {**grey, "dcgan": 0.7}, 500))
    assert "the VAE has the lower FCD (2.00x)" in vae_wins and "no sharper than the VAE's means" in vae_wins
    tie = " ".join(versus_vae_answer(metrics(100.0), metrics(110.0), metrics(150.0), grey, 500))
    assert "too close to rank" in tie and "has the lower FCD" not in tie
    dropped = " ".join(versus_vae_answer(metrics(100.0, coverage=2.0), metrics(200.0), metrics(250.0), grey, 500))
    assert "less evenly" in dropped


def test_the_ratio_answer_says_whether_the_discriminator_won_with_two_steps():
    runs = {"reference": fake_run(0.8, 0.2, 2.0, 100), "d2g1": fake_run(0.9, 0.05, 4.0, 50), "d1g2": fake_run(0.7, 0.3, 1.5, 200)}
    results = {"reference": metrics(150.0), "d2g1": metrics(300.0), "d1g2": metrics(100.0)}
    text = " ".join(ratio_answer(results, runs))
    assert "With two steps the discriminator wins" in text and "fool the discriminator more often" in text
    assert "the reference has the lower FCD (2.00x)" in text and "Lowest: 2 G steps per D step" in text
    assert "generator's share of the updates weighed more" in text
    runs["d2g1"] = fake_run(0.7, 0.4, 1.0, 50)
    results = {name: metrics(100.0 + i) for i, name in enumerate(results)}
    text = " ".join(ratio_answer(results, runs))
    assert "did not make the discriminator surer" in text and "No variant is clearly best" in text


def test_the_batchnorm_answer_follows_the_measured_fcd_and_coverage():
    runs = {"reference": fake_run(0.8, 0.2, 2.0, 100), "no-batchnorm": fake_run(0.9, 0.1, 3.0, 100)}
    worse = " ".join(batchnorm_answer({"reference": metrics(100.0), "no-batchnorm": metrics(300.0, 2.0, 0.001)}, runs))
    assert "the reference has the lower FCD (3.00x)" in worse and "mode collapse" in worse and "clearly worse" in worse
    better = " ".join(batchnorm_answer({"reference": metrics(300.0), "no-batchnorm": metrics(100.0)}, runs))
    assert "the run without it has the lower FCD" in better and "Against that expectation" in better
