"""genlab.lab.rbm: the whole RBM lab on a tiny preset."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from helpers import unformatted_placeholders

from genlab.evaluation.config import EvalConfig
from genlab.figures.rbm import Chains, Generation
from genlab.lab import TASKS
from genlab.lab import rbm as lab_rbm
from genlab.lab.findings.rbm import (
    Buildup,
    Filters,
    Generated,
    Result,
    binarize_answer,
    buildup_answer,
    dead,
    duplicated,
    escape,
    generation_answer,
    hidden_answer,
    k_answer,
    localisation,
    lr_answer,
    seconds,
    smoothness,
    usage_answer,
    weights_answer,
)
from genlab.lab.presets import rbm_preset
from genlab.lab.questions import QUESTIONS
from genlab.models.rbm import RBM
from genlab.training.rbm import RBMConfig


def test_lab_on_a_tiny_preset_writes_every_figure_and_a_table_per_comparison(tiny_dataset, tmp_path, monkeypatch):
    preset = rbm_preset(
        "tiny",
        RBMConfig(dataset=str(tiny_dataset), hidden=8, epochs=2, batch_size=50, eval_every=2),
        EvalConfig(ais_runs=4, ais_betas=40, samples=0),
        cd_k=(1, 2), lr=(0.1, 0.3), hidden=(4, 21),
    )
    monkeypatch.setattr(lab_rbm, "GENERATION", Generation(n=3))
    task = lab_rbm.run(preset, tmp_path / "lab", device="cpu", progress=False)
    results = json.loads((task / "results.json").read_text())
    assert (task / "report.md").is_file() and "rbm" in TASKS
    titles = [s["title"] for s in results["sections"]]
    assert [t.split()[0] for t in titles] == ["1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7", "1.8"]
    for section in results["sections"]:
        assert all((task / f["path"]).is_file() for f in section["figures"])
    tables = {s["title"][:3]: s["tables"] for s in results["sections"] if s["tables"]}
    assert [len(tables[k][0]["rows"]) for k in ("1.4", "1.5", "1.6", "1.8")] == [2, 2, 2, 2]
    rows = {row[0]: row for row in tables["1.8"][0]["rows"]}
    assert rows["4 hidden"][3] == "exact" and rows["21 hidden"][3] == "AIS 4x40"
    assert "Protocol of 4 hidden: static test binarisation, trained dynamic;" in tables["1.8"][0]["note"]  # exact vs AIS
    # the observations are computed from the table's numbers
    k_rows = tables["1.5"][0]["rows"]
    best = max(k_rows, key=lambda r: r[1])
    k_section = next(s for s in results["sections"] if s["title"].startswith("1.5"))
    assert k_section["observations"][0].startswith(f"{best[0]} gave the highest test log-likelihood ({best[1]:.2f} nats)")
    # every section answers its question, citing numbers, with no placeholder left
    for section in results["sections"]:
        assert section["question"] == QUESTIONS[section["title"].split()[0]] and section["answer"]
        assert any(c.isdigit() for c in " ".join(section["answer"]))
    assert unformatted_placeholders((task / "report.md").read_text()) == []
    assert len([f for f in results["sections"][6]["figures"] if "PCD" in f["caption"]]) == 2
    # the reference run is trained once and shared (k=1, lr=0.1 and 8 hidden are the same config), plus PCD
    runs = list((tmp_path / "lab" / "runs").iterdir())
    assert len(runs) == 1 + 1 + 1 + 1 + 2 + 1
    assert sum(json.loads((r / "config.json").read_text())["config"]["persistent"] for r in runs) == 1
    log = [json.loads(line) for line in (runs[0] / "log.jsonl").read_text().splitlines()]
    assert ["test_loglik" in e for e in log] == [False, True]  # --eval-every 2 of 2 epochs


# ----------------------------------------------------------------------------- the answers' measurements


def test_localisation_is_the_share_of_energy_in_the_strongest_window():
    inside = torch.zeros(1, 28, 28)
    inside[0, 3:10, 5:12] = torch.arange(49.0).reshape(7, 7) + 1  # all energy inside one 7x7 square
    flat = torch.ones(1, 28, 28)  # spread evenly: a 7x7 window holds 49 of 784 pixels
    half = torch.zeros(1, 28, 28)
    half[0, 0, 0] = half[0, 27, 27] = 1.0  # two equal corners too far apart for one window
    values = localisation(torch.cat([inside, flat, half]), window=7)
    assert torch.allclose(values, torch.tensor([1.0, 49 / 784, 0.5]))


def test_smoothness_tells_strokes_from_noise_and_checkerboards():
    rows, cols = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    blob = torch.exp(-((rows - 14) ** 2 + (cols - 10) ** 2) / (2 * 4.0**2))
    checkerboard = ((rows + cols) % 2) * 2 - 1
    noise = torch.randn(28, 28, generator=torch.Generator().manual_seed(0))
    blob_s, checker_s, noise_s = smoothness(torch.stack([blob, checkerboard, noise])).tolist()
    assert blob_s > 0.9 and checker_s == pytest.approx(-1.0) and abs(noise_s) < 0.1


def test_duplicated_counts_units_with_a_near_identical_twin():
    w = torch.tensor([[1.0, 0, 0], [2.0, 0.01, 0], [0, 1.0, 0], [0, 0.7, 0.7], [0, 0, -1.0]])
    assert duplicated(w) == 2  # rows 0 and 1 (cosine 0.99998); row 3 is at 0.71 from rows 2 and 4
    assert duplicated(w, threshold=0.7) == 4


def test_dead_counts_tiny_weights_and_units_that_are_never_on():
    w = torch.tensor([[1.0, 1], [1, -1], [0.05, 0], [-1, 1], [1, 1]])
    usage = torch.tensor([0.5, 0.005, 0.5, 0.3, 0.9])
    assert dead(w, usage) == 2  # row 1 is never on, row 2 is 0.05 long against a median of 1.41


def test_escape_sums_the_hidden_probabilities_at_the_blurred_image():
    rbm = RBM(4, 3, init_std=0.0)
    assert escape(rbm) == pytest.approx(1.5)  # W = 0, b = 0: each unit on with probability 1/2
    rbm.h_bias.data.fill_(-30.0)
    assert escape(rbm) < 1e-9


def test_seconds_are_written_alike_at_every_scale():
    assert [seconds(t) for t in (0.04, 0.6, 9.96, 61.4, 125.2)] == ["0.0 s", "0.6 s", "10 s", "61 s", "2 min 05 s"]


# ----------------------------------------------------------------------------- the answers follow the numbers


def fake(label: str, loglik: float, half_width: float = 0.5, recon: float = 0.02, probe: float = 0.9, **config) -> Result:
    """A trained and evaluated variant as the answers see it: its config and eval numbers, no model."""
    run = SimpleNamespace(config=config, meta={"train_time_s": 1.0})
    e = {"test_loglik": loglik, "test_loglik_low": loglik - half_width, "test_loglik_high": loglik + half_width,
         "recon_error": recon, "probe_accuracy": probe, "train_loglik": loglik + 1, "test_loglik_method": "ais"}
    return Result(label, run, e, None)  # type: ignore[arg-type]


def test_k_answer_confirms_cd_bias_shrinking_with_k_only_when_the_run_shows_it():
    rising = k_answer([fake("k=3", -130, cd_k=3), fake("k=1", -190, cd_k=1), fake("k=10", -124, cd_k=10)])
    assert rising[0].startswith("Test log-likelihood by k: k=1 -190.00, k=3 -130.00, k=10 -124.00 nats.")
    assert "The test log-likelihood of k=10 is 66.00 nats above that of k=1" in rising[0]
    assert "Each larger k gave a higher likelihood" in rising[1] and "tentative" not in rising[1]
    assert "contradicts" not in " ".join(rising) and "10x the sampling of k=1" in rising[2]
    falling = k_answer([fake("k=1", -120, cd_k=1), fake("k=3", -125, cd_k=3)])
    assert "contradicts the expectation: k=1 gave the highest likelihood; the test log-likelihood of k=1 is 5.00" in falling[1]
    peaked = k_answer([fake("k=1", -190, cd_k=1), fake("k=10", -124, cd_k=10), fake("k=25", -124.3, cd_k=25)])
    assert "helped up to k=10. A larger k than that did not improve on it" in peaked[1] and "the intervals overlap" in peaked[1]


def test_binarize_answer_says_which_way_and_whether_the_intervals_resolve_it():
    expected = " ".join(binarize_answer(fake("sampled", -188), fake("real", -197)))
    assert "The test log-likelihood of sampled is 9.00 nats above that of real" in expected and "expected cost" in expected
    reversed_ = " ".join(binarize_answer(fake("sampled", -197), fake("real", -188)))
    assert "The test log-likelihood of real is 9.00 nats above that of sampled" in reversed_ and "contradicts" in reversed_
    unresolved = " ".join(binarize_answer(fake("sampled", -188, half_width=5), fake("real", -190, half_width=5)))
    assert "not resolved" in unresolved and "expected cost" not in unresolved and "contradicts" not in unresolved


def test_lr_answer_finds_the_peak_or_the_edge_where_the_best_rate_lies():
    peak = lr_answer([fake("lr=0.01", -300, lr=0.01), fake("lr=1", -156, lr=1.0), fake("lr=0.3", -130, lr=0.3)])
    assert "peaks at lr=0.3 and falls on both sides" in peak[1]
    edge = lr_answer([fake("lr=0.01", -300, lr=0.01), fake("lr=0.1", -190, lr=0.1)])
    assert "The largest rate, lr=0.1, was best" in edge[1] and "tentative" not in edge[1]
    close = lr_answer([fake("lr=0.01", -191, half_width=3, lr=0.01), fake("lr=0.1", -190, half_width=3, lr=0.1)])
    assert "the intervals overlap" in close[1] and close[1].endswith("(A tentative reading: the intervals do not resolve the ranking.)")
    low = lr_answer([fake("lr=0.01", -150, lr=0.01), fake("lr=0.1", -190, lr=0.1)])
    assert "The smallest rate, lr=0.01, was best" in low[1]


def test_hidden_answer_follows_the_likelihoods_and_reads_the_weights():
    local = Filters(units=500, window=7, localisation=0.4, noise_localisation=0.09, smoothness=0.8, dead=30, duplicated=4)
    broad = Filters(units=25, window=7, localisation=0.2, noise_localisation=0.09, smoothness=0.8, dead=0, duplicated=0)
    by_label = {"25 hidden": broad, "500 hidden": local}
    more = hidden_answer([fake("500 hidden", -121, hidden=500), fake("25 hidden", -198, hidden=25)], by_label)
    assert "Every larger layer gave a higher likelihood" in more[1] and "smaller, more local pieces" in more[2]
    assert "by size: 25 hidden 20% (0.80), 500 hidden 40% (0.80)" in more[2]
    assert "0 dead and 0 duplicated of 25, 30 dead and 4 duplicated of 500" in more[2]
    fewer = hidden_answer([fake("500 hidden", -200, hidden=500), fake("25 hidden", -190, hidden=25)], by_label)
    assert "contradicts the expectation that more units fit better: the test log-likelihood of 25 hidden" in fewer[1]
    noisy = Filters(units=500, window=7, localisation=0.1, noise_localisation=0.09, smoothness=0.3, dead=0, duplicated=0)
    clean = {"25 hidden": Filters(25, 7, 0.2, 0.09, 0.8, dead=0, duplicated=0), "500 hidden": noisy}
    worse = hidden_answer([fake("25 hidden", -198, hidden=25), fake("500 hidden", -121, hidden=500)], clean)
    assert "less local and noisier" in worse[2] and "No layer size has dead or duplicated units" in worse[2]


def test_weights_answer_tells_trained_filters_from_noise():
    trained = " ".join(weights_answer(Filters(100, 7, 0.35, 0.09, 0.85, dead=0, duplicated=0), epochs=100))
    assert "35% of its weight energy" in trained and "stroke or blob" in trained and "every unit contributes" in trained
    noisy = " ".join(weights_answer(Filters(100, 7, 0.10, 0.09, 0.03, dead=3, duplicated=2), epochs=2))
    assert "still mostly pixel noise" in noisy and "(after 2 epochs)" in noisy
    assert "3 of 100 units are dead" in noisy and "2 have a near-identical twin" in noisy and "up to 5% of the layer" in noisy


def test_buildup_and_usage_answers_branch_on_their_numbers():
    assert "add little yet" in buildup_answer(Buildup(100, 48.0, 2, 86, bias_error=0.070, error=0.068))[1]
    strong = buildup_answer(Buildup(100, 20.0, 5, 40, bias_error=0.070, error=0.015))
    assert "to 0.0150, 79% below the bias alone" in strong[0] and "unit by unit" in strong[1]
    even = usage_answer(torch.full((100,), 0.45) + torch.linspace(0, 0.1, 100))
    assert "used almost alike" in even[1]
    uneven = usage_answer(torch.cat([torch.full((10,), 0.9), torch.full((90,), 0.01)]))
    assert "carries 91% of all activity" in uneven[0] and "uneven" in uneven[1]


def test_generation_answer_explains_the_all_off_state_and_sets_pcd_beside_it():
    off, on = Chains(on=0.0, spread=0.0), Chains(on=0.12, spread=0.15)
    cd_run, pcd_run = fake("reference", -190.0), fake("PCD", -150.0)
    cd = Generated("CD-1", {"10% on x20": off, "1 unit x10": off}, off, 1000, escape=0.31, units=100, result=cd_run)
    pcd = Generated("PCD", {"10% on x20": on, "1 unit x10": on}, on, 1000, escape=4.2, units=100, result=pcd_run)
    text = generation_answer(cd, pcd, 19)
    assert "0.0% of the hidden units on (the all-off state)" in text[0] and "0.31 of 100" in text[0]
    assert "fall into the all-off hidden state" in text[2] and "0.31 hidden units turn on on average, so a chain" in text[2]
    assert "12.0% of the units on and images that differ by 0.150 per pixel, against 0.0% and 0.000 for the CD-1" in text[-2]
    assert text[-1] == "In likelihood, the test log-likelihood of PCD is 40.00 nats above that of reference (-150.00 against -190.00)."
    both = generation_answer(pcd, cd, 19)  # the other way round: CD chains alive, PCD's collapsed
    assert "None of the chains of the PCD falls" in both[2] and "every chain of the CD-1 collapses too" in both[-2]
    partly = Generated("PCD", {"10% on x20": on, "1 unit x10": off}, off, 1000, escape=0.5, units=100, result=pcd_run)
    text = generation_answer(cd, partly, 19)
    assert "chains from '10% on x20' keep units on, but those from '1 unit x10' and random images" in text[-2]
