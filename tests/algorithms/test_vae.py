"""genlab.algorithms.vae: the training loss, its closed-form gradient, and one Adam step."""

from __future__ import annotations

import torch

from genlab.algorithms.vae import BernoulliLogLikelihood, negative_elbo, vae_step
from genlab.models.vae import VAE


def tiny_vae(hidden=(5,), seed=0) -> VAE:
    return VAE(6, 2, hidden, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def binary_rows(n: int, d: int, seed: int = 1) -> torch.Tensor:
    return torch.bernoulli(torch.full((n, d), 0.5, dtype=torch.float64), generator=torch.Generator().manual_seed(seed))


def test_log_px_gradient_in_the_logits_matches_finite_differences():
    """BernoulliLogLikelihood's gradient x - sigma(l), soft targets, large and small logits."""
    g = torch.Generator().manual_seed(4)
    x = torch.rand(3, 5, generator=g, dtype=torch.float64)
    logits = (torch.randn(3, 5, generator=g, dtype=torch.float64) * 10).requires_grad_()
    assert torch.autograd.gradcheck(lambda l: BernoulliLogLikelihood.apply(x, l)[0], (logits,))
    with torch.no_grad():  # the same number as the plain formula
        plain = VAE.log_px(x, logits)
    assert torch.allclose(BernoulliLogLikelihood.apply(x, logits)[0], plain, rtol=1e-12, atol=0)
    # logits broadcast along the targets' leading axis (one decoding for several target sets)
    several = torch.rand(4, 3, 5, generator=g, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda l: BernoulliLogLikelihood.apply(several, l)[0], (logits,))


def test_the_training_loss_is_the_models_loss_with_the_same_gradient():
    """negative_elbo = VAE.loss for the same noise, and its closed-form gradient equals autograd's."""
    model, x = tiny_vae(), binary_rows(8, 6)
    eps = torch.randn(8, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    fast = negative_elbo(model, x, eps)
    grads_fast = torch.autograd.grad(fast, list(model.parameters()))
    plain = model.loss(x, eps=eps)
    grads_plain = torch.autograd.grad(plain, list(model.parameters()))
    assert torch.allclose(fast, plain, rtol=1e-12, atol=0)
    assert all(torch.allclose(a, b, rtol=1e-10, atol=1e-12) for a, b in zip(grads_fast, grads_plain))


def test_a_step_is_one_adam_update_on_the_loss():
    model, x = tiny_vae(), binary_rows(8, 6)
    eps = torch.randn(8, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    reference = tiny_vae()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loss = vae_step(model, optimizer, x, eps)
    expected = reference.loss(x, eps=eps)
    expected.backward()
    torch.optim.Adam(reference.parameters(), lr=0.01).step()
    assert torch.allclose(loss, expected.detach())
    assert all(torch.allclose(a, b) for a, b in zip(model.parameters(), reference.parameters()))
