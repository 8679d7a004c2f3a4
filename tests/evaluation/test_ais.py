"""genlab.evaluation.ais against exact log Z."""

from __future__ import annotations

import torch

from genlab.evaluation import ais, loglik
from genlab.models.rbm import RBM


def random_rbm(n_visible, n_hidden, seed=0, std=0.1):
    g = torch.Generator().manual_seed(seed)
    rbm = RBM(n_visible, n_hidden, init_std=std, generator=g)
    rbm.v_bias.data.normal_(-1.0, 1.0, generator=g)
    rbm.h_bias.data.normal_(0.0, 1.0, generator=g)
    return rbm


def test_default_schedule_has_the_published_segments():
    betas = ais.default_betas()
    assert len(betas) == 14_501 and betas[0] == 0 and betas[-1] == 1
    assert ((betas > 0) & (betas <= 0.5)).sum() == 500
    assert ((betas > 0.5) & (betas <= 0.9)).sum() == 4000
    assert ((betas > 0.9) & (betas <= 1.0)).sum() == 10_000
    assert torch.all(betas.diff() > 0)


def test_ais_is_within_half_a_nat_of_exact_log_z_for_784_by_15():
    rbm = random_rbm(784, 15, std=0.3)
    exact = loglik.log_z_exact(rbm)
    result = ais.ais_log_z(rbm, rbm.v_bias.data.clone() * 0.5, runs=100, betas=4000, generator=torch.Generator().manual_seed(1))
    assert abs(result.log_z - exact) < 0.5
    assert result.log_z_low is not None and result.log_z_low - 0.05 < exact < result.log_z_high + 0.05


def test_zero_weight_rbm_gives_the_base_model_partition_function_exactly():
    rbm = random_rbm(30, 8)
    rbm.W.data.zero_()
    result = ais.ais_log_z(rbm, rbm.v_bias.data.clone(), runs=10, betas=50, generator=torch.Generator().manual_seed(0))
    # every importance weight is exp(sum_j softplus(b_j) - n_h log 2): no variance at all
    assert abs(result.log_z - loglik.log_z_exact(rbm)) < 1e-4
    assert abs(result.log_z_high - result.log_z) < 1e-6


def test_base_rate_bias_is_the_logit_of_pixel_marginals():
    x = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    b = ais.base_rate_bias(x, eps=1e-3)
    assert torch.allclose(torch.sigmoid(b), torch.tensor([0.5, 1e-3, 1 - 1e-3]), atol=1e-6)


def test_a_floor_above_the_ais_interval_becomes_the_lower_end_and_the_upper_end_is_unknown(monkeypatch):
    from genlab.evaluation.rbm import LoglikData, logliks

    rbm = random_rbm(30, 25)
    data = (torch.rand(50, 30, generator=torch.Generator().manual_seed(1)) < 0.3).float()
    honest = ais.log_partition(rbm, data, runs=20, betas=200, generator=torch.Generator().manual_seed(0))
    assert honest["log_z_low"] is not None and honest["log_z_high"] >= honest["log_z"]
    floor = honest["log_z_high"] + 10  # as if a Gibbs chain had found a state above the AIS interval
    monkeypatch.setattr(ais, "log_z_floor", lambda *a, **k: floor)
    part = ais.log_partition(rbm, data, runs=20, betas=200, generator=torch.Generator().manual_seed(0))
    assert part["log_z"] == part["log_z_low"] == floor and part["log_z_high"] is None
    ll = logliks(rbm, LoglikData(data, data, data), part)
    assert ll["test_loglik_low"] is None and abs(ll["test_loglik_high"] - ll["test_loglik"]) < 1e-9
