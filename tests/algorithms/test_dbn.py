"""genlab.algorithms.dbn: the up-down step against the hand-computed update, and the greedy step."""

from __future__ import annotations

import pytest
import torch
from dbn_truth import random_dbn

from genlab.algorithms.cd import CD, cd_update
from genlab.algorithms.dbn import greedy_step, updown_step
from genlab.models.dbn import DBN, UpDownDBN


def bern(p, g):
    return (torch.rand(p.shape, generator=g, dtype=p.dtype) < p).to(p.dtype)


@pytest.mark.parametrize("sample_predictions", [True, False])
def test_one_up_down_step_matches_the_hand_computed_update(sample_predictions):
    """SPEC 3 / Hinton et al. (2006) appendix, replaying the step's random draws in their order."""
    model = UpDownDBN.from_dbn(random_dbn(6, 4, 3, seed=1))
    model.R1.data.add_(0.3)  # untied, so that a mix-up of R1 and W1' shows
    old = {k: t.clone() for k, t in model.tensors().items()}
    v = bern(torch.full((5, 6), 0.5, dtype=torch.float64), torch.Generator().manual_seed(7))
    lr, n = 0.05, 5
    updown_step(model, v, lr, k=2, random=torch.Generator().manual_seed(3), sample_predictions=sample_predictions)

    sig = torch.sigmoid
    R1, b_up, G, a = old["R1"], old["h1_bias_up"], old["W1_down"], old["v_bias_down"]
    W2, c, d = old["W2"], old["top_v_bias"], old["h2_bias"]
    g = torch.Generator().manual_seed(3)

    def predict(p):
        return bern(p, g) if sample_predictions else p

    s1 = bern(sig(v @ R1 + b_up), g)  # wake
    v_new = predict(sig(s1 @ G.T + a))
    ph2_0 = sig(s1 @ W2 + d)  # top RBM, CD-2 from s1
    h2 = bern(ph2_0, g)
    h1 = bern(sig(h2 @ W2.T + c), g)
    h2 = bern(sig(h1 @ W2 + d), g)
    s1_down = bern(sig(h2 @ W2.T + c), g)
    ph2_k = sig(s1_down @ W2 + d)
    v_down = predict(sig(s1_down @ G.T + a))  # sleep
    s1_new = predict(sig(v_down @ R1 + b_up))

    expected = {
        "W1_down": G + lr * sum(torch.outer(v[i] - v_new[i], s1[i]) for i in range(n)) / n,
        "v_bias_down": a + lr * (v - v_new).mean(0),
        "W2": W2 + lr * sum(torch.outer(s1[i], ph2_0[i]) - torch.outer(s1_down[i], ph2_k[i]) for i in range(n)) / n,
        "top_v_bias": c + lr * (s1 - s1_down).mean(0),
        "h2_bias": d + lr * (ph2_0 - ph2_k).mean(0),
        "R1": R1 + lr * sum(torch.outer(v_down[i], s1_down[i] - s1_new[i]) for i in range(n)) / n,
        "h1_bias_up": b_up + lr * (s1_down - s1_new).mean(0),
    }
    for name, tensor in model.tensors().items():
        assert torch.allclose(tensor, expected[name]), name
    assert any(not torch.equal(model.tensors()[k], old[k]) for k in ("R1", "W1_down", "W2"))


def test_the_greedy_step_is_cd_on_samples_of_rbm_1s_hidden_layer():
    """v ~ Bernoulli(probs), h1 ~ p(h1 | v), then the top RBM's CD update on h1, all from one generator;
    RBM 1 stays as it was."""
    dbn = random_dbn(6, 4, 3, seed=2)
    copy = DBN.from_tensors({k: t.clone() for k, t in dbn.tensors().items()})
    probs = torch.rand(5, 6, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    error = greedy_step(dbn, probs, CD(k=2, lr=0.1), torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    h1 = bern(copy.p_h1(bern(probs, g)), g)
    recon = cd_update(copy.top, h1, CD(k=2, lr=0.1), g)
    assert error.item() == pytest.approx((h1 - recon).square().sum().item())
    assert all(torch.equal(a, b) for a, b in zip(dbn.tensors().values(), copy.tensors().values()))
