"""genlab.algorithms.tempering: the swap rule leaves the tempered product invariant (exact enumeration),
and the chains at beta = 1 sample the model."""

from __future__ import annotations

import itertools

import torch
from rbm_truth import random_rbm

from genlab.algorithms.cd import CD, CDState, cd_update
from genlab.algorithms.tempering import inverse_temperatures, swap_probability, tempered_free_energy, tempered_step


def all_states(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=torch.float64)


def tempered_distribution(rbm, beta: float) -> torch.Tensor:
    """p_beta(v) over all visible states, by enumeration."""
    return torch.softmax(-tempered_free_energy(rbm, all_states(rbm.n_visible), beta), 0)


def test_the_tempered_free_energy_sums_the_tempered_joint_over_h():
    rbm = random_rbm(3, 2)
    v, h = all_states(3), all_states(2)
    for beta in (1.0, 0.4, 0.0):
        joint = -beta * torch.stack([rbm.energy(v, hh.expand(len(v), -1)) for hh in h])  # [h, v]
        assert torch.allclose(-tempered_free_energy(rbm, v, beta), torch.logsumexp(joint, 0))


def test_swaps_leave_the_product_of_tempered_models_invariant():
    """Detailed balance of the Metropolis swap, checked on every pair of states of a 4-unit model."""
    rbm = random_rbm(4, 3, std=1.5)
    cold, hot = 1.0, 0.3
    v = all_states(4)
    p_cold, p_hot = tempered_distribution(rbm, cold), tempered_distribution(rbm, hot)
    joint = p_cold[:, None] * p_hot[None, :]  # [cold state, hot state]
    vc, vh = v.repeat_interleave(len(v), 0), v.repeat(len(v), 1)  # all pairs, cold-major
    accept = swap_probability(rbm, vh, vc, hot, cold).reshape(len(v), len(v))
    after = joint * (1 - accept) + (joint * accept).T  # stay, or arrive from the swapped pair
    assert torch.allclose(after, joint, atol=1e-15)
    assert (accept < 1).any() and (accept > 0).all()


def test_the_coldest_chains_of_parallel_tempering_sample_the_model():
    rbm = random_rbm(4, 3, std=2.0)
    exact = tempered_distribution(rbm, 1.0)
    g = torch.Generator().manual_seed(0)
    chains = torch.zeros(3, 4000, 4, dtype=torch.float64)
    betas = inverse_temperatures(3).tolist()
    counts = torch.zeros(16, dtype=torch.float64)
    for step in range(60):
        chains = tempered_step(rbm, chains, betas, 1, g)
        if step >= 20:
            index = (chains[0] * torch.tensor([8.0, 4.0, 2.0, 1.0], dtype=torch.float64)).sum(1).long()
            counts += torch.bincount(index, minlength=16)
    empirical = counts / counts.sum()
    assert 0.5 * (empirical - exact).abs().sum() < 0.02


def test_pcd_with_tempering_keeps_one_set_of_chains_per_temperature():
    rbm = random_rbm(6, 4)
    v0 = torch.bernoulli(torch.full((8, 6), 0.4, dtype=torch.float64), generator=torch.Generator().manual_seed(1))
    state = CDState()
    before = rbm.W.clone()
    cd_update(rbm, v0, CD(k=1, persistent=True, temperatures=5), torch.Generator().manual_seed(2), state)
    assert state.chain.shape == (5, 8, 6) and not torch.equal(rbm.W, before)
    assert set(state.chain.unique().tolist()) <= {0.0, 1.0}
