"""genlab.evaluation.ais against exact log Z."""

from __future__ import annotations

import pytest
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


def test_packed_rows_are_equal_exactly_when_the_states_are():
    states = loglik.all_states(10, dtype=torch.float32)
    assert torch.unique(ais.packed(states), dim=0).shape[0] == 1024
    v = (torch.rand(3, 784, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    v[1] = v[0]
    v[2] = v[0]
    v[2, 783] = 1 - v[2, 783]  # the last unit of the last, partial word
    rows = ais.packed(v)
    assert torch.equal(rows[0], rows[1]) and not torch.equal(rows[0], rows[2])


@pytest.mark.parametrize("collide", [False, True])
def test_distinct_rows_are_those_of_a_row_by_row_sort_even_when_hashes_collide(monkeypatch, collide):
    """300 visits of 40 distinct 30-unit states: the 40 rows, each with its value; with every hash the same
    (as if all the rows collided) the rows are sorted out whole, the same answer."""
    g = torch.Generator().manual_seed(5)
    states = (torch.rand(40, 30, generator=g) < 0.5).float()
    visits = torch.randint(0, 40, (300,), generator=g)
    if collide:
        monkeypatch.setattr(ais, "hash_weights", lambda columns, device: torch.zeros(columns, dtype=torch.int64))
    rows, values = ais.distinct(ais.packed(states[visits]), visits.double())
    expected = torch.unique(visits)
    assert rows.shape[0] == expected.numel() and sorted(values.tolist()) == expected.double().tolist()
    assert torch.equal(rows, ais.packed(states[values.long()]))  # each row carries its own state's value


def test_the_floor_sums_the_distinct_states_and_is_log_z_when_the_chains_visit_them_all():
    """7 x 5 units: 1,000 Gibbs states visit all 128 visible (32 hidden) states, whose exp(-F) sum to Z."""
    rbm = random_rbm(7, 5, std=0.5).double()
    floor = ais.log_z_floor(rbm, chains=100, steps=10, generator=torch.Generator().manual_seed(0))
    assert abs(floor - loglik.log_z_exact(rbm)) < 1e-9


def test_the_floor_counts_a_state_once_however_often_the_chains_visit_it():
    """Biases that hold 50 chains of 20 steps at the all-on state: the floor is that state's -F once (counted
    at each of the 1,000 visits it would be log 1000 = 6.9 nats higher)."""
    rbm = RBM(12, 9, init_std=0.0, dtype=torch.float64)
    rbm.v_bias.data.fill_(30.0)
    rbm.h_bias.data.fill_(30.0)
    floor = ais.log_z_floor(rbm, chains=50, steps=20, generator=torch.Generator().manual_seed(0))
    ones_v, ones_h = torch.ones(1, 12, dtype=torch.float64), torch.ones(1, 9, dtype=torch.float64)
    single = max(-rbm.free_energy(ones_v).item(), -rbm.free_energy_h(ones_h).item())
    assert floor == pytest.approx(single, abs=1e-9)


def test_the_floor_of_long_chains_keeps_the_states_that_matter_and_the_same_sum(monkeypatch):
    """A 60 x 40 RBM whose states spread over more than 40 nats of -F, 200 chains x 100 steps (20,000 visits
    a layer): kept to 500 new states at a time (the distinct ones within 40 nats of the largest -F), the layers
    hold at most a fifth of the visits, some distinct states are dropped, and the floor is that of all visits."""
    rbm = random_rbm(60, 40, std=2.0).double()
    everything = ais.log_z_floor(rbm, chains=200, steps=100, generator=torch.Generator().manual_seed(0))
    pruned = []  # (rows held, distinct among them, distinct kept)
    real = ais.distinct

    def spy(states, values):
        unique, per_state = real(states, values)
        pruned.append((states.shape[0], unique.shape[0], (per_state >= per_state.max() - ais.FLOOR_NATS).sum().item()))
        return unique, per_state

    monkeypatch.setattr(ais, "distinct", spy)
    bounded = ais.log_z_floor(rbm, chains=200, steps=100, generator=torch.Generator().manual_seed(0), keep=500)
    assert bounded == pytest.approx(everything, abs=1e-12)
    assert len(pruned) > 50 and max(held for held, _, _ in pruned) < 20_000 / 5
    assert sum(unique - near for _, unique, near in pruned) > 0


def test_chains_from_the_data_find_a_mode_the_random_chains_miss():
    """Units coupled so strongly that a chain stays in its mode: the all-on mode holds nearly all the mass
    (log Z = 20.05), but uniformly random hidden states (about 10 of 20 on) drain into the all-off one (its
    states sum to e^0.13). Half the chains start from the data (all-on images) and find it; the floor stays
    below log Z."""
    rbm = RBM(20, 20, init_std=0.0, dtype=torch.float64)
    rbm.W.data.fill_(4.0)
    rbm.v_bias.data.fill_(-74.0)
    rbm.h_bias.data.fill_(-5.0)
    exact = loglik.log_z_exact(rbm)
    blind = ais.log_z_floor(rbm, chains=100, steps=20, generator=torch.Generator().manual_seed(0))
    floor = ais.log_z_floor(rbm, torch.ones(5, 20, dtype=torch.float64), chains=100, steps=20,
                            generator=torch.Generator().manual_seed(0))
    assert blind < exact - 15
    assert floor <= exact and exact - floor < 1e-6
