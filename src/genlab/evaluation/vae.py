"""Measuring a VAE: ELBO, importance-weighted log-likelihood, latent usage, probe accuracy.

The importance-weighted bound of Burda, Grosse & Salakhutdinov (2016), for
w_i = p(x | z_i) p(z_i) / q(z_i | x) with z_1..z_k ~ q(z | x)::

    L_k(x) = E[ log (1/k) sum_i w_i ],    ELBO = L_1 <= L_k <= L_{k+1} <= log p(x),

and L_k -> log p(x) as k grows; one draw of the inner average with k = 5000 is the
usual estimate of log p(x). A latent dimension u is *active* when
Cov_x(E_q[u | x]) = the variance over the test inputs of its posterior mean
exceeds 0.01 (Burda et al. 2016); the others carry no information about x.

Log-likelihood numbers use the binarised test set of :func:`genlab.data.binarized`
(the same fixed sample as every other model's).
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch

from genlab import data
from genlab.data import binarized, chunks
from genlab.distributed import all_reduce_sum, gather
from genlab.evaluation.config import EvalConfig
from genlab.evaluation.probe import linear_probe
from genlab.evaluation.progress import bar
from genlab.evaluation.shards import own_rows
from genlab.models.vae import VAE

ACTIVE_THRESHOLD = 0.01  # variance of the posterior mean over the inputs (Burda et al. 2016)
TRAIN_ELBO_IMAGES = 10_000  # training images for train_elbo (the overfitting gap)


def noise(shape: tuple[int, ...], generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    """The Gaussian noise of z ~ q(z | x), of ``shape`` (..., rows, latent) on the device and in the dtype of
    ``like``: the draw the model makes when it is given no noise."""
    return torch.randn(shape, generator=generator, device=like.device, dtype=like.dtype)


@torch.no_grad()
def mean_elbo(model: VAE, x: torch.Tensor, generator: torch.Generator | None = None, chunk: int = 10_000) -> float:
    """The ELBO averaged over the rows of x (one z per row), in nats. Under ``torchrun`` each rank
    measures its share of the rows with the noise one process draws for them, and the sums are added."""
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    for start in range(0, x.shape[0], chunk):
        part = x[start : start + chunk]
        rows = own_rows(start, start + part.shape[0], x.shape[0])
        eps = noise((part.shape[0], model.latent), generator, part)  # q's mean is in x's dtype
        total += model.elbo(part[rows], eps=eps[rows]).double().sum()
    return all_reduce_sum(total, "adding the ELBO over ranks").item() / x.shape[0]


@torch.no_grad()
def iwae(
    model: VAE,
    x: torch.Tensor,
    k: int,
    generator: torch.Generator | None = None,
    max_rows: int = 2048,
    progress: bool = False,
) -> torch.Tensor:
    """log (1/k) sum_i w_i for each row of x: float64 [N].

    At most ``max_rows`` samples of z are decoded at once: several images per chunk
    when k is small, chunks of one image's samples when k is large. The log-mean-exp
    over the k log-weights is taken in float64. Under ``torchrun`` each rank measures
    its share of the rows, with the noise one process draws for them, and every rank
    returns all N.
    """
    images_per_chunk = max(1, max_rows // k)
    samples_per_chunk = min(k, max_rows)
    sizes = [min(samples_per_chunk, k - start) for start in range(0, k, samples_per_chunk)]
    weight = model.logits.weight  # q's mean is in the model's dtype
    total = math.ceil(x.shape[0] / images_per_chunk)
    out = []
    for start in bar(range(0, x.shape[0], images_per_chunk), f"IWAE k={k}", progress, total=total, unit="chunk"):
        group = x[start : start + images_per_chunk]
        rows = own_rows(start, start + group.shape[0], x.shape[0])
        log_w = []
        for size in sizes:
            eps = noise((size, group.shape[0], model.latent), generator, weight)  # for every image of the group
            log_w.append(model.log_weights(group[rows], size, eps=eps[:, rows]).double())
        out.append(torch.logsumexp(torch.cat(log_w), 0) - math.log(k))
    return gather(torch.cat(out))


@torch.no_grad()
def posterior(model: VAE, x: torch.Tensor, chunk: int = 10_000) -> tuple[torch.Tensor, torch.Tensor]:
    """(mu, log sigma^2) of q(z | x) for every row of x (under ``torchrun`` each rank encodes its share)."""
    n = x.shape[0]
    parts = [model.encode(x[start : start + chunk][own_rows(start, min(start + chunk, n), n)])
             for start in range(0, n, chunk)]
    return gather(torch.cat([p[0] for p in parts])), gather(torch.cat([p[1] for p in parts]))


def latent_usage(mu: torch.Tensor, logvar: torch.Tensor) -> dict[str, Any]:
    """KL per latent dimension (mean over the inputs), the variance of each posterior mean, active units."""
    variance = mu.double().var(0)
    return {
        "kl_per_dim": VAE.kl(mu.double(), logvar.double()).mean(0).tolist(),
        "posterior_mean_variance": variance.tolist(),
        "active_units": int((variance > ACTIVE_THRESHOLD).sum()),
    }


@torch.no_grad()
def recon_error(model: VAE, x: torch.Tensor, generator: torch.Generator | None = None, chunk: int = 10_000) -> float:
    """Mean squared error per pixel between x and p(x = 1 | z), z ~ q(z | x)."""
    total = 0.0
    for part in chunks(x, chunk):
        mu, logvar = model.encode(part)
        p = model.decode(model.reparameterize(mu, logvar, generator))
        total += (part - p).square().sum().item()
    return total / x.numel()


@torch.no_grad()
def measure(model: VAE, train: data.ImageSet, test: data.ImageSet, config: EvalConfig, generator: torch.Generator,
            progress: bool = False) -> dict[str, Any]:
    """Every number of a VAE's eval.json, measured on the splits ``train`` and ``test``."""
    test_v = binarized(test.images)
    results: dict[str, Any] = {"test_elbo": mean_elbo(model, test_v, generator)}
    results["train_elbo"] = mean_elbo(model, binarized(train.images[:TRAIN_ELBO_IMAGES]), generator)
    started = time.perf_counter()
    per_image = iwae(model, test_v, config.iwae_k, generator, progress=progress)
    iwae_time = time.perf_counter() - started
    results.update(
        test_iwae=per_image.mean().item(),
        test_loglik=per_image.mean().item(),
        test_loglik_method="iwae",
        iwae_k=config.iwae_k,
        iwae_time_s=round(iwae_time, 2),
        iwae_ms_per_image=round(1000 * iwae_time / len(test), 3),
    )
    results.update(latent_usage(*posterior(model, test_v)))
    test_x = data.as_float(test.images)
    results["recon_error"] = recon_error(model, test_x, generator)
    results.update(linear_probe(lambda x: posterior(model, x)[0], train, test, config.probe_images, progress))
    results["n_params"] = sum(p.numel() for p in model.parameters())
    return results
