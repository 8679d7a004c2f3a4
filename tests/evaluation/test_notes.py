"""genlab.evaluation.notes: a note in plain words for each missing end of a log-likelihood's interval."""

from __future__ import annotations

import functools

import pytest
import torch

from genlab.evaluation import ais
from genlab.evaluation.config import EvalConfig
from genlab.evaluation.notes import interval_notes, quick_note
from genlab.evaluation.rbm import LoglikData, logliks
from genlab.models.rbm import RBM


@pytest.fixture(autouse=True)
def quick_floor(monkeypatch):
    """The certain floor of log Z from 100 Gibbs chains of 50 steps (enough for these models), not 1000 x 300."""
    monkeypatch.setattr(ais, "log_z_floor", functools.partial(ais.log_z_floor, chains=100))


def far_mode_rbm() -> RBM:
    """25 x 30 units (too many to enumerate) whose mass sits in one far mode, all units on (log Z ~ 195),
    which AIS from an all-off base rate with 20 distributions misses in both directions."""
    rbm = RBM(25, 30, init_std=0.0, dtype=torch.float64)
    rbm.W.data.fill_(0.6)
    rbm.v_bias.data.fill_(-9.0)
    rbm.h_bias.data.fill_(-1.0)
    return rbm


def measured(rbm: RBM, data: torch.Tensor, runs: int, betas: int) -> dict:
    part = ais.log_partition(rbm, data, runs=runs, betas=betas, generator=torch.Generator().manual_seed(0),
                             floor_steps=50)
    return {**part, **logliks(rbm, LoglikData(data, data, data), part)}


def test_ais_that_misses_a_mode_in_both_directions_gets_a_note_on_the_missing_lower_end():
    rbm = far_mode_rbm()
    results = measured(rbm, torch.zeros(50, 25, dtype=torch.float64), runs=10, betas=20)
    assert results["test_loglik_low"] is None  # the case the note is about
    notes = interval_notes(results)
    assert len(notes) == 1
    assert notes[0].startswith("test_loglik_low is null: the test log-likelihood is at most "
                               f"{results['test_loglik']:.2f} nats")
    assert f"{results['log_z_ais_visible']:.1f}" in notes[0] and f"{results['log_z_floor']:.1f}" in notes[0]
    assert "--ais-runs" in notes[0] and "--ais-betas" in notes[0] and "RAISE" not in notes[0]
    [with_raise] = interval_notes({**results, "conservative_method": "raise", "test_loglik_conservative": -201.5})
    assert with_raise == notes[0] + " RAISE's estimate from below (test_loglik_conservative) is -201.50 nats."


def test_agreeing_ais_and_exact_log_z_get_no_note():
    g = torch.Generator().manual_seed(0)
    rbm = RBM(30, 25, init_std=0.1, generator=g, dtype=torch.float64)
    data = (torch.rand(50, 30, generator=g) < 0.3).double()
    results = measured(rbm, data, runs=20, betas=200)
    assert results["test_loglik_low"] is not None and results["test_loglik_high"] is not None
    assert interval_notes(results) == []
    exact = measured(RBM(30, 12, init_std=0.1, generator=g, dtype=torch.float64), data, runs=2, betas=2)
    assert exact["test_loglik_method"] == "exact" and interval_notes(exact) == []
    assert interval_notes({"test_loglik": -90.0, "test_loglik_method": "iwae"}) == []  # a VAE: no interval


def test_ais_weights_too_spread_for_a_lower_end_of_log_z_get_a_note_on_the_missing_upper_end():
    results = {"log_z": 300.0, "log_z_low": None, "log_z_high": 301.2, "ais_runs": 2, "test_loglik_method": "bound",
               "test_loglik": -101.5, "test_loglik_low": -102.7, "test_loglik_high": None}
    [note] = interval_notes(results)
    assert note.startswith("test_loglik_high is null: the variational bound on the test log-likelihood is at least "
                           "-102.70 nats")
    assert "(2 runs)" in note and "--ais-runs" in note


def test_a_quick_evaluation_says_so_in_a_note():
    [note] = quick_note(EvalConfig(quick=True))
    assert note.startswith("A quick evaluation (--quick): AIS of 100 x 4,000, RAISE of 300, IWAE k = 500, 1,000 samples and every "
                           "5th test image")
    assert quick_note(EvalConfig()) == []


def test_raise_above_ais_gets_a_note_that_the_two_do_not_bracket():
    """As measured on a CD-1 RBM of MNIST (20 epochs; 500 test images): AIS's directions 81 nats apart and
    RAISE over 1,000 distributions above AIS's log-likelihood."""
    results = {"log_z": 482.4, "log_z_low": 482.1, "log_z_high": 482.7, "log_z_ais_visible": 482.41,
               "log_z_ais_hidden": 401.29, "test_loglik_method": "ais", "test_loglik": -147.17,
               "test_loglik_low": -147.47, "test_loglik_high": -146.87, "conservative_method": "raise",
               "test_loglik_conservative": -145.63}
    [note] = interval_notes(results)
    assert note.startswith("test_loglik_conservative (-145.63 nats, RAISE) lies above the test log-likelihood by "
                           "AIS (-147.17): the two do not bracket the true value.")
    assert "482.4" in note and "401.3" in note and "--raise-betas" in note
    assert interval_notes({**results, "test_loglik_conservative": -150.0}) == []
