"""genlab lab vae: every SPEC 4 figure and the measurement table, on a shrunken preset."""

from __future__ import annotations

import json
import math
import re

import pytest
import torch

from genlab.cli import main
from genlab.evaluation.config import EvalConfig
from genlab.figures.vae import FIGURES, model_inputs
from genlab.lab.findings.vae import (
    LatentUse,
    Looked,
    Measured,
    Recognised,
    Separation,
    Walk,
    knn_predictions,
    latent_map_answer,
    latent_use,
    latent_use_answer,
    separation,
    two_d_answer,
    usage_observation,
    walk_summary,
)
from genlab.lab.presets import PRESETS, vae_preset
from genlab.lab.questions import QUESTIONS
from genlab.training.vae import VAEConfig


def test_the_lab_writes_figures_table_and_observations_and_reuses_its_runs(mnist_dir, tmp_path, monkeypatch, capsys,
                                                                          shared_cache):
    longer = VAEConfig(latent=3, targets="binarized", batch_size=100, epochs=1, limit=300)
    monkeypatch.setitem(PRESETS["vae"], "quick", vae_preset("quick", EvalConfig(iwae_k=5, samples=200), "a test",
                                                           longer=longer, epochs=1, limit=300))
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
    numbered = [s for s in results["sections"] if s["title"][:3] in QUESTIONS]
    assert [s["title"][:3] for s in numbered] == ["4.1", "4.2", "4.3", "4.4"]
    assert all(s["question"] == QUESTIONS[s["title"][:3]] and len(s["answer"]) >= 2 for s in numbered)
    assert report.count("**Answer.**") == 4
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


# ----------------------------------------------------------------------------- the measurements behind the answers

def test_latent_use_counts_the_dimensions_whose_mean_varies_and_those_at_the_prior():
    torch.manual_seed(0)
    n = 2000
    mu = torch.zeros(n, 3)
    mu[:, 0] = torch.randn(n)  # varies with the input: active
    logvar = torch.stack([torch.full((n,), -4.0), torch.zeros(n), torch.full((n,), 1.0)], 1)  # sigma^2 e^-4, 1, e
    weight = torch.tensor([[3.0, 0.0, 0.1], [4.0, 0.0, 0.0]])  # decoder [hidden 2, latent 3]
    use = latent_use(mu, logvar, weight)
    assert use.active == [0] and use.inactive == [1, 2] and use.at_prior == [1]
    assert use.sigma2 == pytest.approx([math.exp(-4), 1.0, math.e])
    assert use.weight_norm == pytest.approx([5.0, 0.0, 0.1])
    assert use.kl[1] == pytest.approx(0.0) and use.kl[0] > 0.4 and use.inputs == n


def test_nearest_neighbours_separate_distant_clusters_and_name_the_overlapping_pair():
    labels = torch.tensor([0] * 20 + [1] * 20 + [2] * 20)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [10.0, 0.0]])  # 1 and 2 lie on top of each other
    torch.manual_seed(0)
    points = centres[labels] + 0.1 * torch.randn(60, 2)
    s = separation(labels, knn_predictions(points, labels, k=5), k=5)
    assert s.per_class[0] == 1.0 and s.chance == pytest.approx(1 / 3)
    assert s.per_class[1] + s.per_class[2] < 2.0 and s.confused[:2] in {(1, 2), (2, 1)}
    far = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    assert separation(labels, knn_predictions(far[labels] + 0.1 * torch.randn(60, 2), labels, k=5)).accuracy == 1.0


def test_a_point_is_not_its_own_neighbour():
    labels = torch.tensor([0, 1, 1])
    points = torch.tensor([[0.0], [0.1], [0.25]])
    assert knn_predictions(points, labels, k=1).tolist() == [1, 0, 1]  # with itself as a neighbour point 0 would be a 0


def test_the_walk_summary_counts_digits_and_agreeing_neighbours():
    grid = torch.tensor([[1, 1, 7], [1, 1, 7], [4, 4, 4]])
    w = walk_summary(grid)
    assert w.digits == [1, 4, 7]
    assert w.neighbour_agreement == pytest.approx(7 / 12)  # along rows 4 of 6 pairs agree, along columns 3 of 6


# ----------------------------------------------------------------------------- the answers follow the numbers

def use_of(mu_variance, sigma2, kl, weight_norm) -> LatentUse:
    return LatentUse(kl, mu_variance, sigma2, weight_norm, 1000)


def looked(use: LatentUse, accuracy: float = 0.6, elbo: torch.Tensor | None = None, digits=(0, 1, 7)) -> Looked:
    sep = Separation(10, accuracy, 0.11, {0: 0.9, 4: 0.3, 9: accuracy}, (4, 9, 0.4), 2000)
    return Looked(use, [0, 1], sep, Walk(list(digits), 10, 0.8), 0.9, 1.5, Recognised(0.99, 0.9, 1000, 18, 20),
                  "grey values", torch.zeros(1000) if elbo is None else elbo)


def measured(latent: int, **results) -> Measured:
    base = {"test_elbo": -100.0, "test_iwae": -96.0, "iwae_k": 10, "kl_per_dim": [1.0] * latent, "recon_error": 0.02,
            "probe_accuracy": 0.9, "active_units": None}
    return Measured(f"latent {latent}", VAEConfig(latent=latent), None, {**base, **results})


def test_the_latent_use_answer_counts_active_and_collapsed_dimensions_from_the_numbers():
    some = use_of([1.0, 0.5, 0.001], [0.1, 0.2, 1.0], [2.0, 1.5, 0.001], [5.0, 4.0, 0.2])
    text = " ".join(latent_use_answer(measured(3), looked(some)))
    assert "2 of the 3 dimensions are active" in text and "and 1 is not; it has collapsed to the prior" in text
    assert "the decoder has learnt to ignore it" in text
    away = use_of([1.0, 0.001, 0.001], [0.1, 2.0, 0.5], [2.0, 0.3, 0.2], [5.0, 0.1, 0.2])  # inactive, sigma^2 not 1
    assert "none of these has reached the prior" in " ".join(latent_use_answer(measured(3), looked(away)))
    none_idle = use_of([1.0, 0.5], [0.1, 0.2], [2.0, 1.5], [5.0, 4.0])
    text = " ".join(latent_use_answer(measured(2), looked(none_idle)))
    assert "No dimension has collapsed in this run" in text and "all 2 dimensions are active" in text
    assert "2 are strongly used" in text and "weakly" not in text
    weak = use_of([1.0, 0.5], [0.1, 0.8], [2.0, 0.1], [5.0, 1.0])
    text = " ".join(latent_use_answer(measured(2), looked(weak)))
    assert "1 is strongly used" in text and "1 is active but only weakly used" in text and "leans on them less" in text
    idle_but_used = use_of([1.0, 0.001], [0.1, 1.0], [2.0, 0.001], [1.0, 3.0])  # the inactive one's weights are larger
    assert "not yet pruned" in " ".join(latent_use_answer(measured(2), looked(idle_but_used)))


def test_the_2d_answer_says_which_latent_size_won_by_the_paired_elbo_difference():
    use20 = use_of([1.0] * 20, [0.1] * 20, [1.0] * 20, [1.0] * 20)
    use2 = use_of([1.0, 1.0], [0.1, 0.1], [2.0, 2.0], [1.0, 1.0])
    torch.manual_seed(0)
    noise = 0.1 * torch.randn(1000)
    worse = two_d_answer(measured(20), measured(2), looked(use20, 0.5), looked(use2, 0.7, elbo=-50.0 + noise))
    assert "-50.00 ±" in worse[0] and "cannot hold what 20 active dimensions hold" in worse[0]
    assert "organises it by digit more clearly" in worse[1]
    better = two_d_answer(measured(20), measured(2), looked(use20, 0.7), looked(use2, 0.5, elbo=3.0 + noise))
    assert "Against the expectation, the smaller latent space does better" in better[0]
    assert "the 20-D model's two strongest dimensions separate the digits better" in better[1]
    same = two_d_answer(measured(20), measured(2), looked(use20, 0.6), looked(use2, 0.6, elbo=noise))
    assert "does not resolve a difference" in same[0] and "no resolved difference" in same[1]


def test_the_latent_map_answer_names_the_separation_and_an_unchanging_walk():
    use = use_of([1.0, 1.0], [0.1, 0.1], [2.0, 2.0], [1.0, 1.0])
    clear = latent_map_answer(measured(2, probe_accuracy=0.9), looked(use, 0.85))
    assert "clear clusters" in clear[0] and "85.0%" in clear[0] and "40.0% of the 4s are voted 9s" in clear[0]
    flat = latent_map_answer(measured(2, probe_accuracy=0.3), looked(use, 0.2, digits=(8,)))
    assert "hardly separate" in flat[0] and "hardly changes over the plane" in flat[1]


def test_the_latent_figures_encode_the_test_images_as_the_model_was_trained_on_them():
    images = torch.tensor([[[0, 128], [255, 64]]], dtype=torch.uint8)
    assert model_inputs(images, "soft")[0].tolist() == pytest.approx([0.0, 128 / 255, 1.0, 64 / 255])
    binary = model_inputs(images, "binarized")
    assert set(binary.flatten().tolist()) <= {0.0, 1.0} and binary[0, 0] == 0 and binary[0, 2] == 1
