"""genlab.models.rbm against brute-force sums over every (v, h) of a tiny RBM."""

from __future__ import annotations

import itertools

import torch

from genlab.models.rbm import RBM


def tiny_rbm(n_visible=5, n_hidden=4, seed=0) -> RBM:
    g = torch.Generator().manual_seed(seed)
    rbm = RBM(n_visible, n_hidden, init_std=1.0, generator=g, dtype=torch.float64)
    rbm.v_bias.data.normal_(0, 1, generator=g)
    rbm.h_bias.data.normal_(0, 1, generator=g)
    return rbm


def states(n):
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=torch.float64)


def test_energy_matches_its_definition():
    rbm = tiny_rbm()
    v, h = states(5)[7], states(4)[5]
    expected = -(v @ rbm.W @ h) - rbm.h_bias @ h - rbm.v_bias @ v
    assert torch.allclose(rbm.energy(v[None], h[None]), expected)


def test_free_energy_is_minus_log_sum_over_hidden_states():
    rbm = tiny_rbm()
    V, H = states(5), states(4)
    for v in V:
        brute = -torch.logsumexp(-rbm.energy(v.expand(len(H), -1), H), 0)
        assert torch.allclose(rbm.free_energy(v[None])[0], brute)
    for h in H:
        brute = -torch.logsumexp(-rbm.energy(V, h.expand(len(V), -1)), 0)
        assert torch.allclose(rbm.free_energy_h(h[None])[0], brute)


def test_conditionals_match_the_joint_distribution():
    rbm = tiny_rbm()
    V, H = states(5), states(4)
    v = V[11]
    weights = torch.softmax(-rbm.energy(v.expand(len(H), -1), H), 0)
    assert torch.allclose(rbm.p_h(v[None])[0], weights @ H)  # E[h | v] = p(h = 1 | v)
    h = H[6]
    weights = torch.softmax(-rbm.energy(V, h.expand(len(V), -1)), 0)
    assert torch.allclose(rbm.p_v(h[None])[0], weights @ V)


def test_gibbs_chain_samples_the_model_distribution():
    rbm = tiny_rbm(4, 3, seed=1)
    V, H = states(4), states(3)
    log_joint = -rbm.energy(V.repeat_interleave(len(H), 0), H.repeat(len(V), 1)).reshape(len(V), len(H))
    p_v = torch.softmax(log_joint.logsumexp(1), 0)
    g = torch.Generator().manual_seed(0)
    v = torch.zeros(20000, 4, dtype=torch.float64)
    v, _ = rbm.gibbs(v, k=30, generator=g)
    codes = (v * torch.tensor([8.0, 4, 2, 1], dtype=torch.float64)).sum(1).long()
    empirical = torch.bincount(codes, minlength=16).double() / len(v)
    assert (empirical - p_v).abs().max() < 0.015


def test_generate_accepts_real_valued_hidden_states():
    rbm = RBM(784, 100, generator=torch.Generator().manual_seed(0))
    h0 = torch.zeros(3, 100)
    h0[0, 5] = 10.0  # one unit at strength 10, as in SPEC 1.7
    h, p = rbm.generate(h0, steps=19, generator=torch.Generator().manual_seed(1))
    assert h.shape == (3, 100) and p.shape == (3, 784) and 0 <= p.min() and p.max() <= 1


def test_tensors_round_trip():
    rbm = tiny_rbm()
    again = RBM.from_tensors(rbm.tensors())
    assert all(torch.equal(a, b) for a, b in zip(rbm.tensors().values(), again.tensors().values()))
    assert set(rbm.state_dict()) == {"W", "v_bias", "h_bias"}


def test_calling_the_rbm_gives_the_free_energy_of_each_row():
    rbm = tiny_rbm()
    V = states(5)
    assert torch.equal(rbm(V), rbm.free_energy(V)) and rbm(V).shape == (32,)
    H = states(4)
    brute = torch.stack([-torch.logsumexp(-rbm.energy(v.expand(len(H), -1), H), 0) for v in V])
    assert torch.allclose(rbm(V), brute)
