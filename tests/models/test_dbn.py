"""genlab.models.dbn: stacking, the up and down passes, Gibbs steps in the top RBM, tensors."""

from __future__ import annotations

import pytest
import torch
from dbn_truth import random_dbn, random_rbm, states

from genlab.models.dbn import DBN, UpDownDBN
from genlab.models.rbm import RBM


def bern(p, g):
    return (torch.rand(p.shape, generator=g, dtype=p.dtype) < p).to(p.dtype)


def test_stacking_starts_the_top_rbm_as_spec_2_says():
    rbm = random_rbm(12, 8, torch.Generator().manual_seed(0))
    dbn = DBN.stack(rbm, 6, init_std=0.1, generator=torch.Generator().manual_seed(1))
    assert dbn.top.W.shape == (8, 6) and 0.03 < dbn.top.W.std().item() < 0.3
    assert torch.equal(dbn.top.v_bias, rbm.h_bias) and torch.equal(dbn.top.h_bias, torch.zeros(6, dtype=torch.float64))
    dbn.top.v_bias.data.add_(1.0)  # the top RBM's visible bias is its own copy: the up pass keeps RBM 1's
    assert not torch.equal(dbn.top.v_bias, rbm.h_bias) and torch.equal(dbn.rbm1.h_bias, rbm.h_bias)

    flipped = DBN.stack(rbm, 12, transpose=True)
    assert torch.equal(flipped.top.W, rbm.W.t()) and torch.equal(flipped.top.h_bias, rbm.v_bias)
    with pytest.raises(ValueError, match="needs 12 top hidden units"):
        DBN.stack(rbm, 10, transpose=True)
    with pytest.raises(ValueError, match="top RBM has 5 visible units"):
        DBN(rbm, RBM(5, 3))


def test_tensors_round_trip_under_their_documented_names():
    dbn = random_dbn()
    t = dbn.tensors()
    assert list(t) == ["W1", "v_bias", "h1_bias", "W2", "top_v_bias", "h2_bias"]
    assert {k: tuple(v.shape) for k, v in t.items()} == DBN.shapes(12, 8, 6)
    again = DBN.from_tensors(t)
    assert all(torch.equal(a, b) for a, b in zip(t.values(), again.tensors().values()))

    ud = UpDownDBN.from_dbn(dbn)
    assert {k: tuple(v.shape) for k, v in ud.tensors().items()} == UpDownDBN.shapes(12, 8, 6)
    v = torch.rand(5, 12, dtype=torch.float64)
    h1 = torch.rand(5, 8, dtype=torch.float64)
    assert torch.allclose(ud.p_h1(v), dbn.p_h1(v)) and torch.allclose(ud.p_v(h1), dbn.p_v(h1))
    ud.R1.data.add_(1.0)  # untied: the recognition weights are a copy, not W1 or W1'
    assert torch.allclose(ud.p_v(h1), dbn.p_v(h1)) and not torch.allclose(ud.p_h1(v), dbn.p_h1(v))
    again = UpDownDBN.from_tensors(ud.tensors())
    assert all(torch.equal(a, b) for a, b in zip(ud.tensors().values(), again.tensors().values()))
    assert (ud.n_visible, ud.n_h1, ud.n_h2) == (dbn.n_visible, dbn.n_h1, dbn.n_h2) == (12, 8, 6)


@pytest.mark.parametrize("steps", [0, 1, 5])
def test_generate_and_reconstruct_run_exactly_the_requested_gibbs_steps(steps):
    """The chain is replayed draw by draw: 'steps' is honoured (the template's loop ignored it)."""
    dbn = random_dbn()
    h2_init = torch.zeros(4, 6, dtype=torch.float64)
    h2_init[:, 2] = 10.0  # a real-valued set state, as in SPEC 1.7
    h2, p = dbn.generate(h2_init, steps, torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    h = h2_init
    for _ in range(steps):
        h1 = bern(dbn.top.p_v(h), g)
        h = bern(dbn.top.p_h(h1), g)
    expected_p = dbn.p_v(bern(dbn.top.p_v(h), g))
    assert torch.equal(h2, h) and torch.allclose(p, expected_p)

    v = bern(torch.full((4, 12), 0.5, dtype=torch.float64), torch.Generator().manual_seed(9))
    h2, p = dbn.reconstruct(v, steps, torch.Generator().manual_seed(4))
    g = torch.Generator().manual_seed(4)
    h = bern(dbn.top.p_h(bern(dbn.p_h1(v), g)), g)
    for _ in range(steps):
        h = bern(dbn.top.p_h(bern(dbn.top.p_v(h), g)), g)
    assert torch.equal(h2, h) and torch.allclose(p, dbn.p_v(bern(dbn.top.p_v(h), g)))


def test_many_gibbs_steps_reach_the_top_rbms_distribution_and_few_do_not():
    g = torch.Generator().manual_seed(0)
    dbn = DBN(random_rbm(5, 4, g), random_rbm(4, 3, g))
    H1, H2 = states(4), states(3)
    top = dbn.top
    log_joint = -top.energy(H1.repeat_interleave(len(H2), 0), H2.repeat(len(H1), 1)).reshape(len(H1), len(H2))
    p_h2 = torch.softmax(log_joint.logsumexp(0), 0)
    init = torch.zeros(20_000, 3, dtype=torch.float64)
    init[:, 0] = 10.0

    def distance(steps):
        h2, _ = dbn.generate(init, steps, torch.Generator().manual_seed(1))
        codes = (h2 * torch.tensor([4.0, 2, 1], dtype=torch.float64)).sum(1).long()
        return (torch.bincount(codes, minlength=8).double() / len(h2) - p_h2).abs().max().item()

    assert distance(30) < 0.015 and distance(1) > 0.05


def test_features_are_the_mean_field_up_pass():
    dbn = random_dbn()
    v = torch.rand(3, 12, dtype=torch.float64)
    assert torch.allclose(dbn.features(v), torch.sigmoid(torch.sigmoid(v @ dbn.rbm1.W + dbn.rbm1.h_bias) @ dbn.top.W + dbn.top.h_bias))


def test_sample_returns_probabilities_of_the_right_shape():
    images = random_dbn().sample(7, torch.Generator().manual_seed(0), steps=3)
    assert images.shape == (7, 12) and images.min() >= 0 and images.max() <= 1


@pytest.mark.parametrize("untie", [False, True])
def test_calling_a_dbn_gives_the_reconstruction_of_the_same_random_stream(untie):
    dbn = random_dbn()
    net = UpDownDBN.from_dbn(dbn) if untie else dbn
    v = states(12)[::97]
    p = net(v, torch.Generator().manual_seed(4))
    _, expected = net.reconstruct(v, 0, torch.Generator().manual_seed(4))
    assert torch.equal(p, expected) and p.shape == v.shape and 0 <= p.min() and p.max() <= 1
