"""genlab.algorithms.cd: the CD-k update against the SPEC formula, the exact gradient, and its extensions."""

from __future__ import annotations

import pytest
import torch
from rbm_truth import exact_mean_loglik, random_rbm, replay_bernoulli, update_of

from genlab.algorithms.cd import CD, CDState, cd_update, rbm_step, start_centred
from genlab.models.rbm import RBM


def replayed_cd1(before: dict, v0: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The chain of a CD-1 update from the RBM ``before`` with the generator of ``seed``, its random draws
    replayed (u < p for h0, then for v1): (p(h | v0), v1, p(h | v1))."""
    g = torch.Generator().manual_seed(seed)
    old = RBM.from_tensors(before)
    ph0 = old.p_h(v0)
    h0 = (torch.rand(ph0.shape, generator=g, dtype=torch.float64) < ph0).double()
    pv1 = old.p_v(h0)
    v1 = (torch.rand(pv1.shape, generator=g, dtype=torch.float64) < pv1).double()
    return ph0, v1, old.p_h(v1)


def test_cd1_update_matches_the_spec_formula():
    """dW = lr (v0^T p(h|v0) - v1^T p(h|v1)) / N etc., with the chain's own samples replayed."""
    rbm = RBM(6, 4, init_std=0.5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    before = {k: v.clone() for k, v in rbm.tensors().items()}
    v0 = torch.bernoulli(torch.full((8, 6), 0.4, dtype=torch.float64), generator=torch.Generator().manual_seed(1))
    cd_update(rbm, v0, CD(k=1, lr=0.1), torch.Generator().manual_seed(2))
    ph0, v1, ph1 = replayed_cd1(before, v0, seed=2)
    assert torch.allclose(rbm.W - before["W"], 0.1 * (v0.T @ ph0 - v1.T @ ph1) / 8)
    assert torch.allclose(rbm.v_bias - before["v_bias"], 0.1 * (v0 - v1).mean(0))
    assert torch.allclose(rbm.h_bias - before["h_bias"], 0.1 * (ph0 - ph1).mean(0))


def test_the_training_step_binarises_the_pixels_first_and_returns_the_squared_error():
    """rbm_step = v0 ~ Bernoulli(probs), then the CD update, from the same generator; the error is that
    of the reconstruction p(v | h0) against the pixel probabilities."""
    rbm = RBM(6, 4, init_std=0.5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    copy = RBM.from_tensors({k: t.clone() for k, t in rbm.tensors().items()})
    probs = torch.rand(8, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    error = rbm_step(rbm, probs, CD(), random=torch.Generator().manual_seed(2))
    g = torch.Generator().manual_seed(2)
    recon = cd_update(copy, replay_bernoulli(probs, g), CD(), g)
    assert error.item() == pytest.approx((probs - recon).square().sum().item())
    assert all(torch.equal(a, b) for a, b in zip(rbm.tensors().values(), copy.tensors().values()))


def test_cd_with_large_k_points_along_the_exact_log_likelihood_gradient():
    rbm = random_rbm(8, 4)
    data = torch.bernoulli(torch.full((20, 8), 0.3, dtype=torch.float64), generator=torch.Generator().manual_seed(1))
    params = [t.clone().requires_grad_() for t in (rbm.W, rbm.v_bias, rbm.h_bias)]
    exact = torch.cat([g.flatten() for g in torch.autograd.grad(exact_mean_loglik(*params, data), params)])
    batch = data.repeat(1000, 1)  # many chains per data vector: little sampling noise
    cd = update_of(rbm, lambda r: cd_update(r, batch, CD(k=50, lr=1.0), torch.Generator().manual_seed(2)))
    cosine = torch.nn.functional.cosine_similarity(cd, exact, dim=0).item()
    assert cosine > 0.95
    assert cd.norm() == pytest.approx(exact.norm().item(), rel=0.1)


# ----------------------------------------------------------------------------- PCD, momentum, weight decay


def test_persistent_cd_continues_its_chains_across_minibatches():
    rbm = random_rbm(6, 4)
    batches = [torch.bernoulli(torch.full((8, 6), q, dtype=torch.float64), generator=torch.Generator().manual_seed(i))
               for i, q in enumerate((0.3, 0.7))]
    state = CDState()
    pcd = CD(k=1, lr=0.1, persistent=True)
    chain = batches[0]  # the chains start at the first minibatch
    for i, v0 in enumerate(batches):
        old = RBM.from_tensors({k: t.clone() for k, t in rbm.tensors().items()})
        cd_update(rbm, v0, pcd, torch.Generator().manual_seed(10 + i), state)
        g = torch.Generator().manual_seed(10 + i)
        ph0 = old.p_h(v0)
        replay_bernoulli(ph0, g)  # h0, for the reconstruction
        h = replay_bernoulli(old.p_h(chain), g)
        chain = replay_bernoulli(old.p_v(h), g)
        assert torch.equal(state.chain, chain)
        assert torch.allclose(rbm.W - old.W, 0.1 * (v0.T @ ph0 - chain.T @ old.p_h(chain)) / 8)
    # a shorter last minibatch continues the first chains and keeps the others
    kept = state.chain[3:].clone()
    cd_update(rbm, batches[0][:3], pcd, torch.Generator().manual_seed(5), state)
    assert state.chain.shape == (8, 6) and torch.equal(state.chain[3:], kept)


def test_momentum_adds_the_previous_update_scaled_by_momentum():
    rbm = random_rbm(6, 4)
    v = [torch.bernoulli(torch.full((8, 6), 0.5, dtype=torch.float64), generator=torch.Generator().manual_seed(i)) for i in range(2)]

    def plain(i):
        return lambda r: cd_update(r, v[i], CD(k=1, lr=0.1), torch.Generator().manual_seed(20 + i))

    state = CDState()
    first = update_of(rbm, plain(0))
    with_momentum = lambda i: lambda r: cd_update(  # noqa: E731
        r, v[i], CD(k=1, lr=0.1, momentum=0.9), torch.Generator().manual_seed(20 + i), state)
    assert torch.allclose(update_of(rbm, with_momentum(0)), first)
    cd_update(rbm, v[0], CD(k=1, lr=0.1), torch.Generator().manual_seed(20))  # rbm is now after step 1
    second = update_of(rbm, plain(1))
    assert torch.allclose(update_of(rbm, with_momentum(1)), second + 0.9 * first)


def test_weight_decay_shrinks_the_weights_only():
    rbm = random_rbm(6, 4)
    v0 = torch.bernoulli(torch.full((8, 6), 0.5, dtype=torch.float64), generator=torch.Generator().manual_seed(0))
    plain = update_of(rbm, lambda r: cd_update(r, v0, CD(1, 0.1), torch.Generator().manual_seed(1)))
    decayed = update_of(rbm, lambda r: cd_update(r, v0, CD(1, 0.1, weight_decay=0.01), torch.Generator().manual_seed(1)))
    n_w = rbm.W.numel()
    assert torch.allclose(decayed[:n_w] - plain[:n_w], -0.1 * 0.01 * rbm.W.flatten())
    assert torch.equal(decayed[n_w:], plain[n_w:])


def test_persistent_chains_and_momentum_need_a_state():
    rbm, v0 = random_rbm(6, 4), torch.zeros(2, 6, dtype=torch.float64)
    for cd in (CD(persistent=True), CD(momentum=0.5)):
        with pytest.raises(ValueError, match="need a CDState"):
            cd_update(rbm, v0, cd, torch.Generator())


# ----------------------------------------------------------------------------- centring


def test_the_centred_update_is_the_published_update_in_the_centred_parameters():
    """Melchior et al. (2016), Algorithm 1: move the offsets to the sliding data means, step the centred
    parameters (W, b_c = a + W lambda, c_c = b + W^T mu) along <(v - mu)(h - lambda)^T>_0 - <...>_1,
    <v>_0 - <v>_1 and <h>_0 - <h>_1, and map them back to a plain RBM; the chain's samples are replayed."""
    rbm = RBM(6, 4, init_std=0.5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    before = {k: v.clone() for k, v in rbm.tensors().items()}
    v0 = torch.bernoulli(torch.full((8, 6), 0.4, dtype=torch.float64), generator=torch.Generator().manual_seed(1))
    mu, lam = torch.linspace(0.2, 0.7, 6, dtype=torch.float64), torch.linspace(0.3, 0.6, 4, dtype=torch.float64)
    state = CDState(offsets={"v_offset": mu.clone(), "h_offset": lam.clone()})
    cd_update(rbm, v0, CD(k=1, lr=0.1, centering=True, offset_rate=0.05), torch.Generator().manual_seed(2), state)

    ph0, v1, ph1 = replayed_cd1(before, v0, seed=2)
    mu = 0.95 * mu + 0.05 * v0.mean(0)
    lam = 0.95 * lam + 0.05 * ph0.mean(0)
    W, b_c, c_c = before["W"], before["v_bias"] + before["W"] @ lam, before["h_bias"] + before["W"].T @ mu
    W = W + 0.1 * ((v0 - mu).T @ (ph0 - lam) - (v1 - mu).T @ (ph1 - lam)) / 8
    b_c = b_c + 0.1 * (v0 - v1).mean(0)
    c_c = c_c + 0.1 * (ph0 - ph1).mean(0)
    assert torch.allclose(state.offsets["v_offset"], mu) and torch.allclose(state.offsets["h_offset"], lam)
    assert torch.allclose(rbm.W, W)
    assert torch.allclose(rbm.v_bias, b_c - W @ lam)
    assert torch.allclose(rbm.h_bias, c_c - W.T @ mu)


def test_centring_starts_from_the_data_means_and_one_half_and_is_saved_with_the_state():
    rbm = random_rbm(6, 4)
    v0 = torch.bernoulli(torch.full((8, 6), 0.4, dtype=torch.float64), generator=torch.Generator().manual_seed(1))
    state = CDState()
    cd_update(rbm, v0, CD(centering=True, offset_rate=0.0), torch.Generator().manual_seed(2), state)
    assert torch.allclose(state.offsets["v_offset"], v0.mean(0))
    assert torch.equal(state.offsets["h_offset"], torch.full((4,), 0.5, dtype=torch.float64))
    restored = CDState.from_tensors(state.tensors())
    assert restored.offsets.keys() == state.offsets.keys()
    assert all(torch.equal(restored.offsets[k], state.offsets[k]) for k in state.offsets)


def test_centring_with_offsets_held_at_zero_is_the_plain_update():
    rbm, plain = random_rbm(6, 4), random_rbm(6, 4)
    v0 = torch.bernoulli(torch.full((8, 6), 0.4, dtype=torch.float64), generator=torch.Generator().manual_seed(1))
    zero = CDState(offsets={"v_offset": torch.zeros(6, dtype=torch.float64), "h_offset": torch.zeros(4, dtype=torch.float64)})
    cd_update(rbm, v0, CD(centering=True, offset_rate=0.0), torch.Generator().manual_seed(2), zero)
    cd_update(plain, v0, CD(), torch.Generator().manual_seed(2))
    assert all(torch.allclose(a, b) for a, b in zip(rbm.tensors().values(), plain.tensors().values()))


def test_centred_training_starts_from_the_published_initial_model():
    """Centred biases logit(mu) and logit(0.5) = 0: the plain RBM's p(v | h = lambda) is the data's pixel
    means, and p(h | v = mu) is one half."""
    rbm = random_rbm(6, 4)
    x = torch.rand(50, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    offsets = start_centred(rbm, x)
    assert torch.allclose(rbm.p_v(offsets["h_offset"][None])[0], x.mean(0))
    assert torch.allclose(rbm.p_h(offsets["v_offset"][None])[0], torch.full((4,), 0.5, dtype=torch.float64))
