"""Variational autoencoder with a Gaussian latent and Bernoulli pixels (SPEC task 4).

Kingma & Welling (2014). With x a vector of D pixels and z a latent vector of L
values::

    prior          p(z)     = N(0, I)
    decoder        p(x | z) = prod_i Bernoulli(x_i; sigma(l_i(z)))      l = decoder logits
    encoder        q(z | x) = N(mu(x), diag(sigma^2(x)))                 (mu, log sigma^2) from x
    reparameterise z        = mu + sigma * eps,   eps ~ N(0, I)
    ELBO(x)                 = E_q[log p(x | z)] - KL(q(z | x) || p(z))
    KL                      = 1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2)
    log p(x | z)            = sum_i x_i l_i - softplus(l_i)                (= -BCE, from the logits)

The training loss is -ELBO averaged over the minibatch, with E_q estimated from one
sample of z per image. The importance weights of the IWAE bound (Burda et al. 2016)
are w = p(x | z) p(z) / q(z | x) for z ~ q(z | x); see ``log_weights``.

The targets x may be real values in [0, 1] ("soft" targets, the grey values read
as Bernoulli means): the same formula is then a cross-entropy, not a log-probability.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from genlab.models.saved import Saveable
from genlab.rng import device_of

ACTIVATIONS: dict[str, type[nn.Module]] = {"softplus": nn.Softplus, "relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU}


def mlp(sizes: Sequence[int], activation: str, generator: torch.Generator | None, device, dtype) -> nn.Sequential:
    """Linear layers between consecutive ``sizes``, each followed by the activation."""
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [linear(n_in, n_out, generator, device, dtype), ACTIVATIONS[activation]()]
    return nn.Sequential(*layers)


def linear(n_in: int, n_out: int, generator: torch.Generator | None, device, dtype) -> nn.Linear:
    """A linear layer with PyTorch's default initialisation, U(-1/sqrt(n_in), 1/sqrt(n_in)) for
    weights and biases, drawn from ``generator``."""
    layer = nn.Linear(n_in, n_out, device=device_of(generator, device), dtype=dtype)
    bound = 1 / math.sqrt(n_in)
    with torch.no_grad():
        layer.weight.uniform_(-bound, bound, generator=generator)
        layer.bias.uniform_(-bound, bound, generator=generator)
    return layer.to(device)  # drawn where the generator is, then moved


def bernoulli_log_px(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """log p(x | z) = sum_i x_i l_i - softplus(l_i), summed over the last (pixel) axis."""
    return (x * logits - F.softplus(logits)).sum(-1)


class VAE(nn.Module, Saveable):
    """Encoder D -> hidden... -> (mu, log sigma^2) of L latents; decoder L -> reversed hidden... -> D logits.

    ``vae(x)`` is one pass as in training (:meth:`forward`): (decoder logits, mu, log sigma^2).
    """

    family = "vae"

    def __init__(
        self,
        n_visible: int = 784,
        latent: int = 20,
        hidden: Sequence[int] = (200, 200),
        activation: str = "softplus",
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation: expected one of {', '.join(ACTIVATIONS)}, got {activation!r}")
        hidden = tuple(hidden)
        self.n_visible, self.latent, self.hidden, self.activation = n_visible, latent, hidden, activation
        make = dict(generator=generator, device=device, dtype=dtype)
        self.encoder = mlp((n_visible, *hidden), activation, **make)
        self.mu = linear(hidden[-1], latent, **make)
        self.logvar = linear(hidden[-1], latent, **make)
        self.decoder = mlp((latent, *reversed(hidden)), activation, **make)  # the encoder's mirror image
        self.logits = linear(hidden[0], n_visible, **make)

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One pass as in training: encode x, draw one z ~ q(z | x) by reparameterisation, decode z.

        The ELBO of this pass is ``log_px(x, logits) - kl(mu, logvar).sum(-1)`` (:meth:`elbo`).

        Args:
            x: Images as rows of pixels in [0, 1], [N, n_visible].
            generator: The random stream of z's noise (PyTorch's global one when None).

        Returns:
            (logits, mu, logvar): the decoder's logits l(z) of p(x = 1 | z) = sigma(l(z)), [N, n_visible],
            and q(z | x)'s mean and log variance, each [N, latent].
        """
        mu, logvar = self.encode(x)
        return self.decode_logits(self.reparameterize(mu, logvar, generator)), mu, logvar

    # -- the two networks ------------------------------------------------------

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z | x): (mu, log sigma^2), each [N, L].

        The two layers on h are one product with their weights stacked (a 2L-wide product
        runs about as fast as one L wide, on a CPU).
        """
        h = self.encoder(x)
        weight = torch.cat([self.mu.weight, self.logvar.weight])
        bias = torch.cat([self.mu.bias, self.logvar.bias])
        return F.linear(h, weight, bias).chunk(2, dim=-1)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """The logits l(z) of p(x_i = 1 | z) = sigma(l_i(z)), [..., D]."""
        return self.logits(self.decoder(z))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """p(x = 1 | z) = sigma(l(z)), pixel probabilities in [0, 1]."""
        return torch.sigmoid(self.decode_logits(z))

    @staticmethod
    def reparameterize(
        mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None, eps: torch.Tensor | None = None
    ) -> torch.Tensor:
        """z = mu + sigma * eps, eps ~ N(0, I) (drawn here unless given): a sample of q(z | x) that is
        differentiable in mu and sigma."""
        if eps is None:
            eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps

    # -- the terms of the ELBO -------------------------------------------------

    @staticmethod
    def kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """KL(q(z | x) || N(0, I)) per latent dimension, in closed form: [N, L]."""
        return 0.5 * (mu.square() + logvar.exp() - 1 - logvar)

    @staticmethod
    def log_px(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """log p(x | z) = sum_i x_i l_i - softplus(l_i) (= -BCE), summed over the last (pixel) axis."""
        return bernoulli_log_px(x, logits)

    def elbo(
        self, x: torch.Tensor, generator: torch.Generator | None = None, eps: torch.Tensor | None = None
    ) -> torch.Tensor:
        """ELBO(x) per row of x, with E_q[log p(x | z)] from one sample of z (noise ``eps`` if given): [N].

        The terms are computed in x's dtype even when the layers run in bfloat16 (autocast).
        """
        mu, logvar = (t.to(x.dtype) for t in self.encode(x))
        z = self.reparameterize(mu, logvar, generator, eps)
        return self.log_px(x, self.decode_logits(z).to(x.dtype)) - self.kl(mu, logvar).sum(-1)

    def loss(
        self, x: torch.Tensor, generator: torch.Generator | None = None, eps: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The training loss: binary cross-entropy summed over pixels plus the KL, averaged over
        the minibatch (= -ELBO)."""
        return -self.elbo(x, generator, eps).mean()

    def log_weights(self, x: torch.Tensor, k: int, generator: torch.Generator | None = None,
                    eps: torch.Tensor | None = None) -> torch.Tensor:
        """log w = log p(x | z) + log p(z) - log q(z | x) for k samples z ~ q(z | x) per row of x: [k, N].

        log p(z) - log q(z | x) = 1/2 sum_j (eps_j^2 - z_j^2 + log sigma_j^2), since
        z = mu + sigma * eps; the log(2 pi) terms cancel. In log p(x | z), with the
        logits l = W h + b of the decoder's last hidden layer h, the term
        sum_i x_i l_i = (x W).h + x.b is formed once per image instead of once per sample.
        """
        mu, logvar = self.encode(x)
        if eps is None:  # the noise of the k samples, [k, N, L]
            eps = torch.randn((k, *mu.shape), generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + torch.exp(0.5 * logvar) * eps
        log_prior_ratio = 0.5 * (eps.square() - z.square() + logvar).sum(-1)
        h = self.decoder(z)  # [k, N, H]
        W, b = self.logits.weight, self.logits.bias
        x_dot_l = (h * (x @ W)).sum(-1) + x @ b
        log_px = x_dot_l - F.softplus(F.linear(h, W, b)).sum(-1)
        return log_px + log_prior_ratio

    # -- generation ------------------------------------------------------------

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n new images p(x = 1 | z), z ~ N(0, I): [n, D] in [0, 1]."""
        ref = self.logits.weight
        z = torch.randn((n, self.latent), generator=generator, device=ref.device, dtype=ref.dtype)
        return self.decode(z)

    # -- (de)serialisation ----------------------------------------------------

    def tensors(self) -> dict[str, torch.Tensor]:
        return {name: t.detach() for name, t in self.state_dict().items()}

    def saved_config(self) -> dict[str, int | str]:
        return {"latent": self.latent, "hidden": ",".join(map(str, self.hidden)), "activation": self.activation}

    @staticmethod
    def shapes(n_visible: int, latent: int, hidden: Sequence[int]) -> dict[str, tuple[int, ...]]:
        """The name and shape of every tensor of a VAE (what ``tensors`` returns)."""
        shapes: dict[str, tuple[int, ...]] = {}

        def add(prefix: str, n_in: int, n_out: int) -> None:
            shapes[f"{prefix}.weight"], shapes[f"{prefix}.bias"] = (n_out, n_in), (n_out,)

        for net, sizes in (("encoder", (n_visible, *hidden)), ("decoder", (latent, *reversed(hidden)))):
            for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
                add(f"{net}.{2 * i}", n_in, n_out)  # layers 0, 2, ...; activations in between
        add("mu", hidden[-1], latent)
        add("logvar", hidden[-1], latent)
        add("logits", hidden[0], n_visible)
        return shapes
