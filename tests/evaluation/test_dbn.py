"""genlab.evaluation.dbn: the variational bound against exact enumeration on tiny DBNs (12-8-6 units)."""

from __future__ import annotations

import pytest
import torch
from dbn_truth import exact_bound, exact_log_p, random_dbn, random_rbm, top_log_z

from genlab.evaluation import ais, loglik
from genlab.evaluation.ais import log_z_floor
from genlab.evaluation.dbn import top_log_partition, variational_bound
from genlab.models.dbn import DBN, UpDownDBN
from genlab.models.rbm import RBM
from genlab.training import dbn as train_dbn
from genlab.training import rbm as train_rbm
from genlab.training.dbn import DBNConfig
from genlab.training.rbm import RBMConfig


def binary(n, d, seed, p=0.4):
    return torch.bernoulli(torch.full((n, d), p, dtype=torch.float64), generator=torch.Generator().manual_seed(seed))


def test_bound_estimate_is_unbiased_and_below_the_exact_log_likelihood():
    dbn = random_dbn()
    v = binary(20, 12, seed=5)
    truth, bound = exact_log_p(dbn, v), exact_bound(dbn, v)
    assert torch.all(bound < truth - 0.5)  # a generic DBN: far from factorial posteriors
    est = variational_bound(dbn, v, top_log_z(dbn), samples=2000, generator=torch.Generator().manual_seed(0))
    assert abs(est.mean() - bound.mean().item()) < 4 * est.mc_se
    assert est.mean() < truth.mean().item()
    # the importance-sampling estimate from the same samples is much closer to log p(v), and still below it
    iw_gap = truth.mean().item() - est.iw.mean().item()
    assert 0 <= iw_gap < 0.1 * (truth.mean().item() - est.mean())


def test_the_bound_uses_the_recognition_weights_of_a_fine_tuned_dbn():
    model = UpDownDBN.from_dbn(random_dbn(seed=3))
    g = torch.Generator().manual_seed(4)
    model.R1.data.add_(torch.randn(model.R1.shape, generator=g, dtype=torch.float64))  # untie: R1 != W1'
    v = binary(20, 12, seed=6)
    est = variational_bound(model, v, top_log_z(model), samples=2000, generator=g)
    assert abs(est.mean() - exact_bound(model, v).mean().item()) < 4 * est.mc_se
    assert est.mean() < exact_log_p(model, v).mean().item()


def test_stacking_rbm_upside_down_gives_rbm_1_exactly_and_a_tight_bound():
    """W2 = W1^T, h2 bias = a: the DBN is RBM 1, q(h1|v) its exact posterior; every sample's term is log p(v)."""
    rbm = random_rbm(12, 8, torch.Generator().manual_seed(1))
    dbn = DBN.stack(rbm, 12, transpose=True)
    v = binary(30, 12, seed=7)
    rbm_log_p = -rbm.free_energy(v) - loglik.log_z_exact(rbm)
    assert top_log_z(dbn) == pytest.approx(loglik.log_z_exact(rbm), abs=1e-9)
    assert torch.allclose(exact_log_p(dbn, v), rbm_log_p, atol=1e-9)
    est = variational_bound(dbn, v, loglik.log_z_exact(dbn.top), samples=5, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(est.bound, rbm_log_p, atol=1e-9) and est.mc_se < 1e-9


@pytest.mark.parametrize("eps, max_gap", [(0.01, 1e-3), (0.05, 0.02)])
def test_gap_is_small_when_the_posterior_is_nearly_factorial(eps, max_gap):
    """A top RBM slightly off W1^T: the true posterior is nearly RBM 1's factorial one."""
    rbm = random_rbm(12, 8, torch.Generator().manual_seed(1))
    dbn = DBN.stack(rbm, 12, transpose=True)
    dbn.top.W.data.add_(eps * torch.randn(dbn.top.W.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64))
    v = binary(30, 12, seed=8)
    gap = exact_log_p(dbn, v) - variational_bound(dbn, v, top_log_z(dbn), samples=500,
                                                  generator=torch.Generator().manual_seed(0)).bound
    assert 0 < gap.mean().item() < max_gap


def test_greedy_training_of_the_top_rbm_raises_the_bound_from_rbm_1s_log_likelihood():
    """Hinton, Osindero & Teh (2006): from W2 = W1^T the bound starts at RBM 1's log p(v) and training
    the top RBM on samples of q(h1|v) raises it (exact enumeration on the training data)."""
    g = torch.Generator().manual_seed(0)
    prototypes = torch.bernoulli(torch.full((4, 12), 0.5, dtype=torch.float64), generator=g)
    x = torch.bernoulli(prototypes[torch.randint(0, 4, (500,), generator=g)] * 0.9 + 0.05, generator=g)
    rbm = RBM(12, 8, init_std=0.1, generator=g, dtype=torch.float64)
    train_rbm.fit(rbm, x, RBMConfig(hidden=8, epochs=5, batch_size=20), g, progress=False)
    rbm_log_p = (-rbm.free_energy(x) - loglik.log_z_exact(rbm)).mean().item()
    dbn = DBN.stack(rbm, 12, transpose=True)
    start = exact_bound(dbn, x).mean().item()
    assert start == pytest.approx(rbm_log_p, abs=1e-9)
    train_dbn.fit_top(dbn, x, DBNConfig(epochs=10, lr=0.05, batch_size=20), g, progress=False)
    assert exact_bound(dbn, x).mean().item() > start + 0.02


def test_top_log_z_by_ais_runs_both_directions_and_keeps_the_largest_estimate():
    g = torch.Generator().manual_seed(0)
    dbn = DBN(random_rbm(30, 22, g, std=0.3).float(), random_rbm(22, 21, g, std=0.3).float())
    states = loglik.all_states(21, dtype=torch.float32)
    exact = torch.logsumexp(-dbn.top.free_energy_h(states).double(), 0).item()
    result = top_log_partition(dbn, torch.rand(200, 30, generator=g), runs=50, betas=1000, generator=g)
    assert result["test_loglik_method"] == "ais"
    assert result["log_z"] == max(result["log_z_ais_visible"], result["log_z_ais_hidden"], result["log_z_floor"])
    assert abs(result["log_z_ais_visible"] - exact) < 0.3 and abs(result["log_z_ais_hidden"] - exact) < 0.3
    assert result["log_z_floor"] < exact


def test_the_floor_is_a_certain_lower_bound_that_catches_a_missed_mode():
    """An RBM whose mass sits in a far mode (all units on) that AIS over the visible units from an
    all-off base rate, with few distributions, misses: its estimate falls far short of log Z, the
    floor from Gibbs states does not (and never exceeds log Z)."""
    g = torch.Generator().manual_seed(0)
    rbm = RBM(20, 30, init_std=0.0, dtype=torch.float64)
    rbm.W.data.fill_(0.6)
    rbm.v_bias.data.fill_(-9.0)
    rbm.h_bias.data.fill_(-1.0)
    exact = loglik.log_z_exact(rbm)
    floor = log_z_floor(rbm, chains=200, steps=50, generator=g)
    missed = ais.ais_log_z(rbm, torch.full((20,), -9.0, dtype=torch.float64), runs=20, betas=20, generator=g).log_z
    assert floor <= exact and exact - floor < 1.0 and missed < exact - 50


def test_the_conservative_bound_is_below_the_bound_and_near_it_with_a_long_path():
    """One h1 ~ q per image and RAISE for log p(h1): on average below the exact bound B(v) (enumerated),
    and within a fraction of a nat of it when the annealing path is long."""
    from genlab.evaluation.config import EvalConfig
    from genlab.evaluation.dbn import conservative_bound

    dbn = random_dbn()
    v = binary(20, 12, seed=5).repeat(50, 1)
    exact = exact_bound(dbn, v).mean().item()
    base = torch.zeros(dbn.top.n_visible, dtype=torch.float64)
    short = conservative_bound(dbn, v, base, EvalConfig(raise_betas=3), torch.Generator().manual_seed(0))
    long = conservative_bound(dbn, v, base, EvalConfig(raise_betas=400), torch.Generator().manual_seed(0))
    assert short < long < exact + 0.15
    assert long > exact - 0.5
