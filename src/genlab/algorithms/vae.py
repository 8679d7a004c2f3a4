"""One training step of a VAE: the negative ELBO of a minibatch and an Adam update (SPEC task 4).

Per minibatch of N images x, with noise eps ~ N(0, I) drawn by the caller::

    mu, log sigma^2 = encoder(x)
    z               = mu + sigma * eps                      (reparameterisation)
    loss            = -(1/N) sum_n [ log p(x_n | z_n) - KL(q(z | x_n) || N(0, I)) ]

then one Adam step on the loss's gradient (data-parallel, x holds this rank's rows of the global
minibatch and the gradient is first averaged over every rank's rows). Two options of the literature's strong VAEs: a KL
warm-up (the KL term weighted by beta rising from 0 to 1) and the IWAE objective with k samples
per image (:func:`negative_iwae_bound`). The gradient of the reconstruction term in
the decoder's logits l is the closed form x - sigma(l), formed in the same pass as its
value (:class:`BernoulliLogLikelihood`) instead of by autograd through the softplus.
"""

from __future__ import annotations

import math

import torch

from genlab.distributed import mean_gradients_over_ranks
from genlab.models.vae import VAE, bernoulli_log_px


class BernoulliLogLikelihood(torch.autograd.Function):
    """:func:`genlab.models.vae.bernoulli_log_px` of the targets x and the logits l, and its gradient
    x - sigma(l) in l, formed beside the value: compiled, both come from one pass over the N x D
    logits (autograd would go over them again for the gradient). The targets get no gradient."""

    @staticmethod
    def forward(x: torch.Tensor, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return bernoulli_log_px(x, logits), x - torch.sigmoid(logits)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        ctx.save_for_backward(output[1])

    @staticmethod
    def backward(ctx, grad_log_p: torch.Tensor, _) -> tuple[None, torch.Tensor]:
        (grad,) = ctx.saved_tensors
        return None, grad_log_p.unsqueeze(-1) * grad


def negative_elbo(model: VAE, x: torch.Tensor, eps: torch.Tensor, bf16: bool = False,
                  kl_weight: float = 1.0) -> torch.Tensor:
    """The training loss: -ELBO averaged over the minibatch x, one z = mu + sigma * eps per image.

    ``bf16``: the layers compute in bfloat16 (autocast); the ELBO's terms stay in x's dtype.
    ``kl_weight``: the KL term's weight, below 1 during a KL warm-up (Sonderby et al. 2016).
    """
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        mu, logvar = (t.to(x.dtype) for t in model.encode(x))
        z = model.reparameterize(mu, logvar, eps=eps)
        log_px = BernoulliLogLikelihood.apply(x, model.decode_logits(z).to(x.dtype))[0]
        return -(log_px - kl_weight * model.kl(mu, logvar).sum(-1)).mean()


def negative_iwae_bound(model: VAE, x: torch.Tensor, eps: torch.Tensor, bf16: bool = False) -> torch.Tensor:
    """The IWAE training loss (Burda, Grosse & Salakhutdinov 2016) with k = eps.shape[0] samples per image:
    -(1/N) sum_n log (1/k) sum_k w_nk, w = p(x, z_k) / q(z_k | x), z_k = mu + sigma * eps[k]. With k = 1 it
    is the ELBO estimated by one sample (the KL too), a noisier estimate than :func:`negative_elbo`'s."""
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        log_w = model.log_weights(x, eps.shape[0], eps=eps).to(x.dtype)  # [k, N]
        return -(torch.logsumexp(log_w, 0) - math.log(eps.shape[0])).mean()


def vae_step(model: VAE, optimizer: torch.optim.Optimizer, x: torch.Tensor, eps: torch.Tensor,
             bf16: bool = False, kl_weight: float = 1.0) -> torch.Tensor:
    """One update of ``model`` by ``optimizer`` (Adam) on the loss of the minibatch x; returns the loss:
    the negative ELBO for noise ``eps`` of one z per image [N, L], the IWAE loss for k per image [k, N, L]."""
    if eps.dim() == 3:
        loss = negative_iwae_bound(model, x, eps, bf16)
    else:
        loss = negative_elbo(model, x, eps, bf16, kl_weight)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    mean_gradients_over_ranks(model, x.shape[0])  # the gradient of the global minibatch's loss (one process: as is)
    optimizer.step()
    return loss.detach()
