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


def log_joint_over_q(model: VAE, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """log p(x | z) + log N(z; 0, I) - log N(z; mu, sigma^2) for z = mu + sigma * eps, by torch.distributions."""
    from torch.distributions import Bernoulli, Normal

    mu, logvar = model.encode(x)
    sigma = torch.exp(0.5 * logvar)
    z = mu + sigma * eps
    log_px = Bernoulli(logits=model.decode_logits(z)).log_prob(x).sum(-1)
    return log_px + Normal(0.0, 1.0).log_prob(z).sum(-1) - Normal(mu, sigma).log_prob(z).sum(-1)


def test_the_iwae_loss_is_minus_the_log_mean_importance_weight():
    from genlab.algorithms.vae import negative_iwae_bound

    model, x = tiny_vae(), binary_rows(4, 6)
    eps = torch.randn(5, 4, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    log_w = log_joint_over_q(model, x, eps)  # [k, N]
    expected = -(torch.logsumexp(log_w, 0) - torch.log(torch.tensor(5.0, dtype=torch.float64))).mean()
    assert torch.allclose(negative_iwae_bound(model, x, eps), expected)
    # one sample: the ELBO estimated by that sample, whose mean over noise is the ELBO with the KL in closed form
    many = torch.randn(20_000, 4, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    one_sample = torch.stack([negative_iwae_bound(model, x, e[None]) for e in many[:2000]]).mean()
    closed = torch.stack([negative_elbo(model, x, e) for e in many[:2000]]).mean()
    assert abs(one_sample - closed) < 0.2
    assert negative_iwae_bound(model, x, many[:50]) < closed  # more samples: a tighter bound, a lower loss


def test_the_kl_weight_scales_only_the_kl_term():
    from torch.distributions import Normal, kl_divergence

    model, x = tiny_vae(), binary_rows(4, 6)
    eps = torch.randn(4, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    mu, logvar = model.encode(x)
    kl = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(-1)
    z = mu + torch.exp(0.5 * logvar) * eps
    log_px = -torch.nn.functional.binary_cross_entropy_with_logits(model.decode_logits(z), x, reduction="none").sum(-1)
    for beta in (0.0, 0.3, 1.0):
        assert torch.allclose(negative_elbo(model, x, eps, kl_weight=beta), -(log_px - beta * kl).mean())
