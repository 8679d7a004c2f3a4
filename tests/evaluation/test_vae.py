"""genlab.evaluation.vae: the importance-weighted bound against exact log p(x) of a 1-D latent VAE,
its growth with k on real data, and latent usage."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal

from genlab import data
from genlab.data import binarized
from genlab.evaluation.vae import iwae, latent_usage, mean_elbo
from genlab.models.vae import VAE
from genlab.training.vae import VAEConfig, build, fit

GRID = torch.linspace(-12, 12, 48_001, dtype=torch.float64)  # quadrature over a 1-D latent


def one_latent_vae() -> VAE:
    """6 pixels, a 1-D latent, weights scaled up so that q(z|x) is clearly not the posterior."""
    model = VAE(6, 1, (8,), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1.5)
    return model


def exact(model: VAE, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(log p(x), ELBO(x)) per row of x by quadrature over the 1-D latent z."""
    z = GRID[:, None, None].expand(-1, x.shape[0], 1)
    log_px_z = model.log_px(x, model.decode_logits(z))  # [grid, N]
    dz = GRID[1] - GRID[0]
    log_p = torch.logsumexp(log_px_z + Normal(0.0, 1.0).log_prob(GRID)[:, None], 0) + dz.log()
    mu, logvar = model.encode(x)
    q = Normal(mu[:, 0], (0.5 * logvar[:, 0]).exp()).log_prob(GRID[:, None]).exp()  # [grid, N]
    elbo = (q * log_px_z).sum(0) * dz - VAE.kl(mu, logvar)[:, 0]
    return log_p, elbo


@torch.no_grad()
def test_the_decoder_defines_a_distribution_and_the_bounds_are_ordered():
    model = one_latent_vae()
    all_x = torch.tensor([[(i >> b) & 1 for b in range(6)] for i in range(64)], dtype=torch.float64)
    log_p, elbo = exact(model, all_x)
    assert torch.logsumexp(log_p, 0).abs() < 1e-6  # sum over all 64 images of p(x) = 1
    assert (elbo < log_p).all() and (log_p - elbo).max() > 0.2  # a real gap for IWAE to close


@torch.no_grad()
def test_k1_bound_equals_the_elbo_in_expectation():
    model = one_latent_vae()
    x = torch.tensor([[1, 0, 1, 1, 0, 0], [0, 0, 0, 1, 1, 1.0]], dtype=torch.float64)
    _, elbo = exact(model, x)
    draws = 40_000
    g = torch.Generator().manual_seed(1)
    k1 = iwae(model, x.repeat(draws, 1), 1, g).reshape(draws, 2)  # L_1, drawn once per row
    mc_elbo = model.elbo(x.repeat(draws, 1), g).reshape(draws, 2)
    for estimate in (k1, mc_elbo):
        se = estimate.std(0) / math.sqrt(draws)
        assert ((estimate.mean(0) - elbo).abs() < 4 * se).all()


@torch.no_grad()
@pytest.mark.parametrize("max_rows", [7, 1 << 20])
def test_iwae_approaches_the_exact_log_likelihood_whatever_the_chunking(max_rows):
    model = one_latent_vae()
    x = torch.tensor([[(i >> b) & 1 for b in range(6)] for i in range(0, 64, 9)], dtype=torch.float64)
    log_p, elbo = exact(model, x)
    g = torch.Generator().manual_seed(2)
    estimate = iwae(model, x, 5000, g, max_rows=max_rows)
    assert estimate.dtype == torch.float64 and estimate.shape == (x.shape[0],)
    assert ((estimate - log_p).abs() < 0.05).all()  # while the ELBO is 0.14 to 0.29 nats below log p(x)


def test_iwae_grows_with_k_on_a_briefly_trained_model(mnist_dir):
    train = data.load_split("mnist", "train", limit=3000, data_dir=mnist_dir)
    test = data.load_split("mnist", "test", limit=200, data_dir=mnist_dir)
    config = VAEConfig(latent=10, epochs=5, batch_size=50, lr=3e-3, targets="binarized")
    g = torch.Generator().manual_seed(0)
    model = build(config, 784, g)
    fit(model, data.as_float(train.images), config, g, progress=False)
    x = binarized(test.images)
    elbo = mean_elbo(model, x, torch.Generator().manual_seed(1))
    bounds = [iwae(model, x, k, torch.Generator().manual_seed(1)).mean().item() for k in (1, 10, 100)]
    assert -185 < elbo < -100  # it has learnt something (the mean image scores about -206)
    assert abs(bounds[0] - elbo) < 1.5  # L_1 = ELBO up to the noise of 200 single draws
    assert bounds[0] + 1 < bounds[1] < bounds[2] - 0.3  # measured: +2.5 and +0.8 nats


def test_active_units_and_kl_per_dimension():
    g = torch.Generator().manual_seed(0)
    n = 5000
    mu = torch.stack([torch.randn(n, generator=g), 0.05 * torch.randn(n, generator=g), torch.zeros(n)], 1).double()
    logvar = torch.stack([torch.full((n,), -2.0), torch.zeros(n), torch.zeros(n)], 1).double()
    usage = latent_usage(mu, logvar)
    assert usage["active_units"] == 1  # variances ~1, ~0.0025 and 0 against the threshold 0.01
    expected = 0.5 * (mu.square().mean(0) + logvar.exp()[0] - 1 - logvar[0])
    assert torch.allclose(torch.tensor(usage["kl_per_dim"], dtype=torch.float64), expected, atol=1e-9)
    assert usage["kl_per_dim"][2] == 0
