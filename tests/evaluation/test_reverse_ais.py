"""genlab.evaluation.reverse_ais: RAISE against the annealing model and the RBM, enumerated exactly."""

from __future__ import annotations

import itertools

import torch
from rbm_truth import random_rbm

from genlab.evaluation import loglik
from genlab.evaluation.reverse_ais import raise_log_prob


def all_states(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=torch.float64)


def annealing_model(rbm, base: torch.Tensor, betas: torch.Tensor) -> torch.Tensor:
    """p_ann(v) over all visible states: p_0 pushed through the Gibbs transitions T_1 .. T_K."""
    v, h = all_states(rbm.n_visible), all_states(rbm.n_hidden)
    p = torch.softmax(v @ base, 0)  # the base-rate model
    for beta in betas[1:].tolist():
        p_h = torch.sigmoid(beta * (v @ rbm.W + rbm.h_bias))  # [v, j]
        h_given_v = (h[None] * p_h[:, None] + (1 - h[None]) * (1 - p_h[:, None])).prod(-1)  # [v, h]
        p_v = torch.sigmoid(beta * (h @ rbm.W.T + rbm.v_bias) + (1 - beta) * base)  # [h, i]
        v_given_h = (v[None] * p_v[:, None] + (1 - v[None]) * (1 - p_v[:, None])).prod(-1)  # [h, v']
        p = p @ (h_given_v @ v_given_h)
    return p


def test_raise_is_unbiased_for_the_annealing_model_and_conservative_in_the_log():
    rbm = random_rbm(4, 3, std=1.5)
    base = torch.tensor([0.3, -0.5, 0.1, 0.8], dtype=torch.float64)
    betas = torch.linspace(0, 1, 6, dtype=torch.float64)
    v = all_states(4)
    p_ann = annealing_model(rbm, base, betas)
    runs = 20_000
    per_run = raise_log_prob(rbm, v.repeat(runs, 1), base, betas, 1, torch.Generator().manual_seed(1)).reshape(runs, 16)
    # unbiased for p_ann(v) ...
    mean_w, se = per_run.exp().mean(0), per_run.exp().std(0) / runs ** 0.5
    assert ((mean_w - p_ann).abs() < 4 * se + 1e-12).all(), (mean_w, p_ann)
    # ... so its log is below log p_ann(v) on average, strictly for a short path
    assert (per_run.mean(0) < p_ann.log()).all()


def test_raise_with_a_long_path_approaches_the_exact_log_likelihood_from_below():
    rbm = random_rbm(6, 4, std=1.0)
    data = all_states(6)[::5]
    exact = (-rbm.free_energy(data) - loglik.log_z_exact(rbm)).mean().item()
    base = torch.zeros(6, dtype=torch.float64)
    estimate = raise_log_prob(rbm, data.repeat(20, 1), base, 500, 1, torch.Generator().manual_seed(0)).mean().item()
    assert exact - 0.3 < estimate < exact + 0.05


def test_more_runs_average_the_weights_not_the_logs():
    rbm = random_rbm(4, 3)
    v = all_states(4)
    base = torch.zeros(4, dtype=torch.float64)
    one = raise_log_prob(rbm, v.repeat(3, 1), base, 10, 1, torch.Generator().manual_seed(0)).reshape(3, 16)
    three = raise_log_prob(rbm, v, base, 10, 3, torch.Generator().manual_seed(0))
    assert torch.allclose(three, torch.logsumexp(one, 0) - torch.log(torch.tensor(3.0, dtype=torch.float64)))


def test_every_walk_weighs_exactly_p_v_when_the_path_is_flat():
    """With no weights and the base-rate model equal to the RBM, all f_k are one distribution: each
    walk's weight telescopes to p_0(v) = p(v), whatever the states it visits."""
    rbm = random_rbm(5, 3)
    rbm.W.data.zero_()
    v = all_states(5)
    exact = -rbm.free_energy(v) - loglik.log_z_exact(rbm)
    estimate = raise_log_prob(rbm, v, rbm.v_bias, 7, 1, torch.Generator().manual_seed(0))
    assert torch.allclose(estimate, exact, atol=1e-12)


def test_an_rbm_evaluation_reports_raise_below_the_exact_value_beside_ais(monkeypatch):
    """An RBM small enough to enumerate, measured as a large one is (AIS and RAISE): the conservative
    estimate lies below the exact test log-likelihood and close to it; AIS's is close from either side."""
    from genlab.evaluation.ais import log_partition
    from genlab.evaluation.config import EvalConfig
    from genlab.evaluation.rbm import LoglikData, conservative_loglik, logliks

    rbm = random_rbm(16, 12, std=0.8)
    g = torch.Generator().manual_seed(3)
    test_v = torch.bernoulli(torch.full((200, 16), 0.3, dtype=torch.float64), generator=g)
    train_x = torch.rand(500, 16, generator=g, dtype=torch.float64) * 0.6
    exact = loglik.mean_log_prob(rbm, test_v, loglik.log_z_exact(rbm))
    monkeypatch.setattr(loglik, "MAX_EXACT_UNITS", 4)  # as if the layers were too large to enumerate
    d = LoglikData(test_v, test_v, train_x)
    partition = log_partition(rbm, train_x, 100, 1000, torch.Generator().manual_seed(0))
    assert partition["test_loglik_method"] == "ais"
    measured = {**logliks(rbm, d, partition), **conservative_loglik(rbm, d, partition, EvalConfig(raise_betas=1000),
                                                                    torch.Generator().manual_seed(1))}
    assert measured["conservative_method"] == "raise" and measured["raise_betas"] == 1000
    assert exact - 1.0 < measured["test_loglik_conservative"] < exact
    assert abs(measured["test_loglik"] - exact) < 0.3
