"""genlab lab literature: the strong configurations against the published numbers."""

from __future__ import annotations

import json

import pytest

from genlab.cli import main
from genlab.errors import ConfigError
from genlab.lab import run_lab
from genlab.lab.literature import PRESETS, REFERENCES, family_of, observations, references_of, rows
from genlab.training.rbm import RBMConfig
from genlab.training.vae import VAEConfig


def test_every_preset_trains_the_four_strong_runs_with_new_options_only() -> None:
    for name, p in PRESETS.items():
        families = [family_of(c) for c in p.runs.values()]
        assert families == ["rbm", "dbn", "vae", "vae"], name
        rbm, dbn, vae, iwae = p.runs.values()
        assert rbm.hidden == 500 and rbm.centering and rbm.persistent
        assert (dbn.rbm_hidden, dbn.top_hidden, dbn.centering) == (500, 2000, True)
        assert vae.targets == "binarized" and vae.kl_warmup >= 1 and vae.iwae_train_k == 1 and vae.latent == 50
        assert iwae.iwae_train_k > 1 and iwae.kl_warmup == 0
    assert RBMConfig().centering is False and VAEConfig().iwae_train_k == 1  # the seed references keep their defaults


def test_each_run_is_set_against_its_model_classs_published_numbers() -> None:
    assert references_of(RBMConfig()) == REFERENCES["rbm"]
    assert references_of(VAEConfig()) == REFERENCES["vae"]
    assert references_of(VAEConfig(iwae_train_k=5)) == REFERENCES["iwae"]
    assert [r.loglik for r in REFERENCES["rbm"]] == [-86.34, -84.86]  # SPEC's table


def test_a_row_per_published_number_with_the_gap_and_the_prose_following_its_sign() -> None:
    ev = {"test_loglik": -85.0, "test_loglik_low": -85.5, "test_loglik_high": -84.8, "test_loglik_method": "ais",
          "test_loglik_conservative": -90.0}
    table = rows("RBM", RBMConfig(), ev, {"train_time_s": 12.3, "device": "cpu"})
    assert [(r[4], r[5], round(r[6], 2)) for r in table] == [("RBM 500 hidden, CD-25", -86.34, 1.34),
                                                           ("RBM 500 hidden, centred, PCD-1, 200 epochs", -84.86, -0.14)]
    assert table[0][2] == "[-85.50, -84.80]" and table[0][10] == "12"
    first, second = observations(table)
    assert first.startswith("RBM: -85.00 nats, 1.34 above the published -86.34") and "does not reach it" in first
    assert "0.14 below the published -84.86" in second
    above = rows("RBM", RBMConfig(), {**ev, "test_loglik_conservative": -70.0}, {})  # RAISE with too few steps
    first, _ = observations(above, no_bound={"RBM"})
    assert "its conservative estimate -70.00 lies above the AIS estimate, so it is no bound" in first
    assert "reach" not in first and "passes" not in first


def test_lab_literature_runs_end_to_end_and_refuses_an_unknown_preset(tmp_path, mnist_subset_dir):
    out = tmp_path / "lit"
    sets = ["--set", "epochs=1", "--set", "limit=200", "--set", "eval.test_limit=40", "--set", "eval.raise_betas=10",
            "--set", "rbm.hidden=20", "--set", "dbn.top_hidden=30"]
    assert main(["lab", "literature", "--preset", "tiny", "--out", str(out), "--dataset", str(mnist_subset_dir),
                 "--device", "cpu", "--quiet", *sets]) == 0
    results = json.loads((out / "literature" / "results.json").read_text())
    (section,) = results["sections"]
    table = section["tables"][0]
    assert [r[0] for r in table["rows"]] == ["RBM 500 hidden, centred, PCD-1"] * 2 + ["DBN 784-500-2000, centred"] + \
        ["VAE 50-D, ELBO, KL warm-up"] * 2 + ["VAE 50-D, IWAE objective, k = 2"]
    for r in table["rows"]:
        assert -800 < r[1] < 0 and r[6] == round(r[1] - r[5], 2) and "static test binarisation" in r[8]
    assert len(section["observations"]) == len(table["rows"])
    with pytest.raises(ConfigError, match=r"^--preset: lab rbm has the presets tiny, quick, cpu, full, got 'huge'$"):
        run_lab("rbm", "huge", out)
