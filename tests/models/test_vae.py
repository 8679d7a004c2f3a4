"""genlab.models.vae against closed forms, torch.distributions and finite differences."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal

from genlab.models.vae import VAE


def tiny_vae(seed: int = 0, n_visible: int = 6, latent: int = 2, hidden=(5, 4), **kw) -> VAE:
    return VAE(n_visible, latent, hidden, generator=torch.Generator().manual_seed(seed), dtype=torch.float64, **kw)


def binary_rows(n: int, d: int, seed: int = 0) -> torch.Tensor:
    return (torch.rand(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) < 0.4).double()


def test_layer_shapes_and_parameter_count_of_the_spec_network():
    model = VAE()
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    assert VAE.shapes(784, 20, (200, 200)) == expected
    assert expected["encoder.0.weight"] == (200, 784) and expected["mu.weight"] == (20, 200)
    assert expected["decoder.0.weight"] == (200, 20) and expected["logits.weight"] == (784, 200)
    # encoder 784-200-200 -> 2 x 20, decoder 20-200-200-784, each layer with its biases
    count = (784 * 200 + 200) + (200 * 200 + 200) + 2 * (200 * 20 + 20) + (20 * 200 + 200) + (200 * 200 + 200) + (200 * 784 + 784)
    assert sum(p.numel() for p in model.parameters()) == count == 407_224
    assert all(isinstance(m, torch.nn.Softplus) for m in (model.encoder[1], model.encoder[3], model.decoder[1]))


def test_the_decoder_mirrors_uneven_hidden_layers():
    model = VAE(784, 8, (300, 100), activation="tanh")
    shapes = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    assert shapes == VAE.shapes(784, 8, (300, 100))
    assert shapes["encoder.0.weight"] == (300, 784) and shapes["encoder.2.weight"] == (100, 300)
    assert shapes["decoder.0.weight"] == (100, 8) and shapes["decoder.2.weight"] == (300, 100)
    assert shapes["logits.weight"] == (784, 300) and isinstance(model.encoder[1], torch.nn.Tanh)
    with pytest.raises(ValueError, match="activation"):
        VAE(activation="sigmoidish")


def test_the_same_generator_seed_gives_the_same_initial_weights():
    a, b, c = tiny_vae(0), tiny_vae(0), tiny_vae(1)
    assert all(torch.equal(x, y) for x, y in zip(a.tensors().values(), b.tensors().values()))
    assert not torch.equal(a.mu.weight, c.mu.weight)


def test_closed_form_kl_matches_a_monte_carlo_estimate():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(4, 3, generator=g, dtype=torch.float64)
    logvar = torch.randn(4, 3, generator=g, dtype=torch.float64)
    q, p = Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)
    z = mu + (0.5 * logvar).exp() * torch.randn(200_000, 4, 3, generator=g, dtype=torch.float64)
    log_ratio = q.log_prob(z) - p.log_prob(z)  # KL = E_q[log q(z) - log p(z)]
    se = log_ratio.std(0) / math.sqrt(z.shape[0])
    assert ((log_ratio.mean(0) - VAE.kl(mu, logvar)).abs() < 4 * se + 1e-9).all()
    assert torch.allclose(VAE.kl(torch.zeros(2, 2), torch.zeros(2, 2)), torch.zeros(2, 2))  # q = prior


@pytest.mark.parametrize("targets", ["binary", "soft"])
def test_log_px_is_minus_the_binary_cross_entropy_summed_over_pixels(targets):
    model = tiny_vae()
    g = torch.Generator().manual_seed(3)
    x = binary_rows(5, 6) if targets == "binary" else torch.rand(5, 6, generator=g, dtype=torch.float64)
    z = torch.randn(7, 5, 2, generator=g, dtype=torch.float64)  # 7 samples for each of 5 images
    probs = model.decode(z)
    bce = F.binary_cross_entropy(probs, x.expand_as(probs), reduction="none").sum(-1)
    assert torch.allclose(model.log_px(x, model.decode_logits(z)), -bce)


def test_log_px_is_the_plain_formula_and_differentiable_in_both_arguments():
    g = torch.Generator().manual_seed(4)
    x = torch.rand(3, 5, generator=g, dtype=torch.float64)
    logits = (torch.randn(3, 5, generator=g, dtype=torch.float64) * 10).requires_grad_()
    with torch.no_grad():  # the same number without a gradient
        plain = VAE.log_px(x, logits)
    assert torch.allclose(VAE.log_px(x, logits), plain, rtol=1e-12, atol=0)
    assert torch.autograd.gradcheck(VAE.log_px, (x.clone().requires_grad_(), logits))


def test_encode_is_the_mu_and_logvar_layers_on_the_last_hidden_layer():
    model, x = tiny_vae(), binary_rows(4, 6)
    mu, logvar = model.encode(x)
    h = model.encoder(x)
    assert torch.allclose(mu, model.mu(h)) and torch.allclose(logvar, model.logvar(h))


def test_log_weights_are_log_joint_minus_log_posterior():
    model, x = tiny_vae(), binary_rows(3, 6)
    log_w = model.log_weights(x, 4, torch.Generator().manual_seed(5))
    mu, logvar = model.encode(x)
    eps = torch.randn((4, 3, 2), generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    z = mu + (0.5 * logvar).exp() * eps
    p = model.decode(z)
    log_px = (x * p.log() + (1 - x) * (1 - p).log()).sum(-1)
    expected = log_px + Normal(0.0, 1.0).log_prob(z).sum(-1) - Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(-1)
    assert log_w.shape == (4, 3) and torch.allclose(log_w, expected)


def test_the_loss_is_bce_plus_kl_averaged_over_the_minibatch():
    model, x = tiny_vae(), binary_rows(8, 6)
    loss = model.loss(x, torch.Generator().manual_seed(1))
    mu, logvar = model.encode(x)
    z = model.reparameterize(mu, logvar, torch.Generator().manual_seed(1))
    bce = F.binary_cross_entropy(model.decode(z), x, reduction="sum")
    assert torch.allclose(loss, (bce + VAE.kl(mu, logvar).sum()) / 8)


def test_gradients_flow_through_the_reparameterisation():
    """Autograd's gradient of the loss for a fixed eps matches central finite differences,
    for every parameter, including the encoder's (reached only through z = mu + sigma * eps)."""
    model, x = tiny_vae(hidden=(3,)), binary_rows(4, 6)

    def loss() -> torch.Tensor:
        return model.loss(x, torch.Generator().manual_seed(7))  # the same eps every call

    model.zero_grad()
    loss().backward()
    h = 1e-6
    for name, param in model.named_parameters():
        numeric = torch.zeros_like(param)
        with torch.no_grad():
            for i in range(param.numel()):
                flat = param.view(-1)
                flat[i] += h
                up = loss()
                flat[i] -= 2 * h
                down = loss()
                flat[i] += h
                numeric.view(-1)[i] = (up - down) / (2 * h)
        assert torch.allclose(param.grad, numeric, atol=1e-7, rtol=1e-5), name
    # the reconstruction term alone reaches log sigma^2 only through z = mu + sigma * eps
    model.zero_grad()
    mu, logvar = model.encode(x)
    z = model.reparameterize(mu, logvar, torch.Generator().manual_seed(7))
    model.log_px(x, model.decode_logits(z)).sum().backward()
    assert model.logvar.weight.grad.abs().sum() > 0


def test_samples_are_probabilities_and_follow_the_generator():
    model = VAE(784, 20, generator=torch.Generator().manual_seed(0))
    a = model.sample(16, torch.Generator().manual_seed(1))
    b = model.sample(16, torch.Generator().manual_seed(1))
    assert a.shape == (16, 784) and 0 <= a.min() and a.max() <= 1 and torch.equal(a, b)


def test_calling_the_vae_is_encode_reparameterise_decode_and_gives_the_elbo():
    model, x = tiny_vae(), binary_rows(7, 6)
    logits, mu, logvar = model(x, torch.Generator().manual_seed(3))
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(3), dtype=mu.dtype)
    assert all(torch.equal(a, b) for a, b in zip((mu, logvar), model.encode(x)))
    assert torch.equal(logits, model.decode_logits(mu + torch.exp(0.5 * logvar) * eps))
    elbo = model.log_px(x, logits) - model.kl(mu, logvar).sum(-1)
    assert torch.equal(elbo, model.elbo(x, torch.Generator().manual_seed(3)))
    assert logits.shape == (7, 6) and mu.shape == logvar.shape == (7, 2)
