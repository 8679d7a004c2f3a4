"""genlab.evaluation.loglik: exact log Z against brute force."""

from __future__ import annotations

import itertools

import pytest
import torch

from genlab.evaluation import loglik
from genlab.models.rbm import RBM


def random_rbm(n_visible, n_hidden, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    rbm = RBM(n_visible, n_hidden, init_std=scale, generator=g)
    rbm.v_bias.data.normal_(0, 1, generator=g)
    rbm.h_bias.data.normal_(0, 1, generator=g)
    return rbm


def brute_log_z(rbm):
    V = torch.tensor(list(itertools.product([0.0, 1.0], repeat=rbm.n_visible)), dtype=torch.float64)
    H = torch.tensor(list(itertools.product([0.0, 1.0], repeat=rbm.n_hidden)), dtype=torch.float64)
    r = RBM.from_tensors({k: v.double() for k, v in rbm.tensors().items()})
    E = r.energy(V.repeat_interleave(len(H), 0), H.repeat(len(V), 1))
    return torch.logsumexp(-E, 0).item()


@pytest.mark.parametrize("n_visible, n_hidden", [(6, 4), (4, 7)])
def test_exact_log_z_equals_the_sum_over_all_v_and_h(n_visible, n_hidden):
    rbm = random_rbm(n_visible, n_hidden)
    assert loglik.log_z_exact(rbm) == pytest.approx(brute_log_z(rbm), abs=1e-9)


def test_probabilities_sum_to_one_over_all_visible_states():
    rbm = random_rbm(6, 3, seed=2)
    V = loglik.all_states(6, dtype=torch.float32)
    log_z = loglik.log_z_exact(rbm)
    log_p = -rbm.free_energy(V).double() - log_z
    assert torch.logsumexp(log_p, 0).item() == pytest.approx(0.0, abs=1e-5)


def test_exact_log_z_refuses_large_layers():
    with pytest.raises(ValueError, match="at most 20 units"):
        loglik.log_z_exact(random_rbm(30, 25))
