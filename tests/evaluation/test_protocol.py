"""genlab.evaluation.protocol: the protocol written beside every log-likelihood."""

from __future__ import annotations

from genlab.evaluation.config import EvalConfig
from genlab.evaluation.protocol import (
    AIS_MARGIN,
    conservative_above_model,
    interval_text,
    protocol,
    protocol_line,
    protocol_note,
    training_binarisation,
)

AIS = {"test_loglik": -100.0, "test_loglik_method": "ais", "ais_runs": 100, "ais_betas": 14500,
       "test_loglik_conservative": -103.0, "conservative_method": "raise", "raise_betas": 1000, "raise_runs": 1}


def test_training_binarisation_follows_each_familys_option() -> None:
    assert training_binarisation("rbm", {"binarize": True}) == "dynamic"
    assert training_binarisation("rbm", {"binarize": False}) == "none"
    assert training_binarisation("vae", {"targets": "binarized"}) == "dynamic"
    assert training_binarisation("vae", {"targets": "soft"}) == "none"
    assert training_binarisation("dbn", {}) == training_binarisation("dbn-finetune", {}) == "dynamic"


def test_an_rbm_evaluation_names_its_split_binarisations_and_both_estimators_with_their_counts() -> None:
    p = protocol("rbm", {"binarize": True}, AIS, EvalConfig(), 10000, 10000)
    assert p == {
        "test_split": "test set of 10,000 images, all 10,000 measured",
        "test_binarisation": "static (one Bernoulli sample of the pixels, seed 12345)",
        "training_binarisation": "dynamic",
        "estimator": "AIS, 100 runs x 14,500 distributions",
        "conservative_estimator": "RAISE, 1,000 distributions, 1 walk per image",
    }
    assert protocol_line(p) == ("static test binarisation, trained dynamic; all 10,000 test images; AIS, 100 runs x "
                                "14,500 distributions; conservative: RAISE, 1,000 distributions, 1 walk per image")


def test_the_split_says_which_test_images_a_limited_or_quick_evaluation_measured() -> None:
    iwae = {"test_loglik": -90.0, "test_loglik_method": "iwae", "iwae_k": 500}
    quick = protocol("vae", {"targets": "soft"}, iwae, EvalConfig(quick=True), 2000, 10000)
    assert quick["test_split"] == "test set of 10,000 images, every 5th (2,000) measured"
    assert quick["estimator"] == "IWAE, k = 500 importance samples per image" and "conservative_estimator" not in quick
    limited = protocol("vae", {"targets": "soft"}, iwae, EvalConfig(test_limit=300), 300, 10000)
    assert limited["test_split"] == "test set of 10,000 images, the first 300 measured"


def test_a_dbn_bound_names_its_samples_and_how_log_z_was_estimated() -> None:
    bound = {"test_loglik": -95.0, "test_loglik_method": "bound", "bound_samples": 10, "log_z_method": "ais",
             "ais_runs": 100, "ais_betas": 4000, "test_loglik_conservative": -96.0, "conservative_method": "exact"}
    p = protocol("dbn", {}, bound, EvalConfig(), 10000, 10000)
    assert p["estimator"] == ("variational lower bound, 10 samples of q(h1|v) per image, log Z of the top RBM by AIS "
                              "(100 runs x 4,000 distributions)")
    assert p["conservative_estimator"] == "exact"


def test_log_zs_floor_is_named_with_its_chains_and_steps_where_the_results_record_it() -> None:
    floor = {"floor_chains": 1000, "floor_steps": 300}
    p = protocol("rbm", {"binarize": True}, {**AIS, **floor}, EvalConfig(), 10000, 10000)
    assert p["estimator"] == "AIS, 100 runs x 14,500 distributions, floor: 1,000 Gibbs chains x 300 steps"
    bound = {"test_loglik_method": "bound", "bound_samples": 10, "log_z_method": "ais", "ais_runs": 100,
             "ais_betas": 4000, **floor}
    assert protocol("dbn", {}, bound, EvalConfig(), 10000, 10000)["estimator"].endswith(
        "log Z of the top RBM by AIS (100 runs x 4,000 distributions, floor: 1,000 Gibbs chains x 300 steps)")


def test_a_table_note_gives_one_protocol_for_rows_that_share_it_and_names_the_rows_otherwise() -> None:
    ais = {"protocol": protocol("rbm", {"binarize": True}, AIS, EvalConfig(), 10000, 10000)}
    exact = {"protocol": protocol("rbm", {"binarize": True}, {"test_loglik_method": "exact"}, EvalConfig(), 10000, 10000)}
    assert protocol_note({"k=1": ais, "k=3": ais}) == f"Protocol: {protocol_line(ais['protocol'])}."
    mixed = protocol_note({"20 hidden": exact, "100 hidden": ais, "250 hidden": ais})
    assert mixed.startswith("Protocol of 20 hidden: static test binarisation, trained dynamic; all 10,000 test images; exact")
    assert "; Protocol of 100 hidden, 250 hidden: " in mixed and mixed.endswith("1 walk per image.")
    assert protocol_note({"old run": {}}) == ""


def test_the_interval_cell_is_exact_none_for_iwae_or_the_bounds_to_two_decimals() -> None:
    assert interval_text({"test_loglik_method": "exact"}) == "exact"
    assert interval_text({"test_loglik_method": "iwae", "test_loglik_low": -90.0}) == "n/a"
    assert interval_text({"test_loglik_method": "ais", "test_loglik_low": -90.126, "test_loglik_high": -89.5}) == \
        "[-90.13, -89.50]"
    assert interval_text({"test_loglik_method": "bound", "test_loglik_low": None, "test_loglik_high": -80.0}) == \
        "[n/a, -80.00]"


def test_a_conservative_estimate_above_the_ais_estimate_by_more_than_the_margin_is_flagged_as_no_bound() -> None:
    ais = {"test_loglik_method": "ais", "test_loglik": -188.5}
    assert not conservative_above_model({**ais, "test_loglik_conservative": -190.0})  # below: a bound, as it should be
    assert not conservative_above_model({**ais, "test_loglik_conservative": -188.5 + AIS_MARGIN - 0.01})  # AIS's slack
    assert conservative_above_model({**ais, "test_loglik_conservative": -136.4})
    # a variational bound is itself a lower bound: RAISE above it is no contradiction
    assert not conservative_above_model({"test_loglik_method": "bound", "test_loglik": -123.5,
                                         "test_loglik_conservative": -110.0})
    assert not conservative_above_model(ais)  # no conservative estimate


def test_the_table_note_names_the_rows_whose_conservative_estimate_is_no_bound() -> None:
    line = {"test_split": "test set of 10,000 images, all 10,000 measured", "training_binarisation": "dynamic",
            "estimator": "AIS, 100 runs x 4,000 distributions"}
    rows = {
        "reference": {"test_loglik_method": "ais", "test_loglik": -188.5, "test_loglik_conservative": -136.4,
                      "protocol": line},
        "k=10": {"test_loglik_method": "ais", "test_loglik": -124.2, "test_loglik_conservative": -127.1,
                 "protocol": line},
    }
    note = protocol_note(rows)
    assert note.startswith("Protocol: ") and "The conservative estimate of reference lies more than 3 nats above" in note
    assert "k=10" not in note
    assert "conservative estimate of" not in protocol_note({"k=10": rows["k=10"]})
