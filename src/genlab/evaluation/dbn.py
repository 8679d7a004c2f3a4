"""Measuring a DBN (greedy or fine-tuned): the variational lower bound on log p(v),
reconstruction error and probe accuracy.

The bound (Salakhutdinov & Murray 2008, section 4). For any distribution q(h1 | v),
by Jensen's inequality::

    log p(v) = log sum_h1 p(h1) p(v | h1)
            >= sum_h1 q(h1 | v) [log p(h1) + log p(v | h1) - log q(h1 | v)]  =: B(v)
             = log p(v) - KL(q(h1 | v) || p(h1 | v))

with the terms of the DBN (x = h1 W1'^T + a, l = v R1 + b1; W1' = R1 = W1 before fine-tuning)::

    log p(h1)     = -F_top(h1) - log Z_top        the top RBM's marginal over its visible units,
                    F_top(h1) = -c^T h1 - sum_k softplus(h1^T W2_:k + d_k), c = top_v_bias, d = h2_bias
    log p(v | h1) = sum_i [v_i x_i - softplus(x_i)]
    log q(h1 | v) = sum_j [h1_j l_j - softplus(l_j)]   factorial: the recognition (up) weights

The sum over the 2^|h1| states is estimated without bias from S samples h1^s ~ q(h1 | v)::

    B(v) ~= (1/S) sum_s log w_s - log Z_top,   log w_s = -F_top(h1^s) + log p(v | h1^s) - log q(h1^s | v)

with S = ``BOUND_SAMPLES`` = 100 per test image, and log Z_top from AIS in both directions
and a certain lower bound from Gibbs chains, whichever is largest
(:func:`genlab.evaluation.ais.log_partition`; exact when the top RBM has a layer of at most 20 units). Taking log q of each sample, rather than q's
entropy in closed form, keeps the variance small: when q is the exact posterior every
log w_s - log Z_top equals log p(v). From the same samples, log (1/S) sum_s w_s - log Z_top
is the importance-sampling estimate of log p(v), a tighter bound in expectation (Burda,
Grosse & Salakhutdinov 2016) reported as ``test_loglik_iw``. Both inherit the AIS
estimate's uncertainty about log Z_top (``test_loglik_low``/``_high``), and AIS's optimism:
``test_loglik_conservative`` replaces log p(h1) by RAISE's estimate from below
(:func:`conservative_bound`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from genlab import data
from genlab.data import binarized
from genlab.distributed import gather
from genlab.evaluation.ais import FLOOR_STEPS, base_rate_bias, log_partition
from genlab.evaluation.config import EvalConfig
from genlab.evaluation.probe import linear_probe
from genlab.evaluation.progress import bar
from genlab.evaluation.rbm import TRAIN_LOGLIK_IMAGES
from genlab.evaluation.reverse_ais import raise_log_prob
from genlab.evaluation.shards import own_rows, split_rows, stream
from genlab.models.dbn import BeliefNet
from genlab.rng import bernoulli

BOUND_SAMPLES = 100  # samples of h1 ~ q(h1 | v) per image


@dataclass
class Bound:
    """Per-image estimates of the variational bound B(v) and of the importance-sampling
    estimate of log p(v), and the Monte-Carlo standard error of the bound's mean."""

    bound: torch.Tensor  # [N], float64
    iw: torch.Tensor  # [N], float64
    mc_se: float
    samples: int

    def mean(self) -> float:
        return self.bound.mean().item()


def log_weights(model: BeliefNet, v: torch.Tensor, h1: torch.Tensor, h1_logits: torch.Tensor) -> torch.Tensor:
    """log w = -F_top(h1) + log p(v | h1) - log q(h1 | v) for rows of v, h1 and the logits l of q(h1 | v)."""
    x = model.v_logits(h1)
    log_p_v = (v * x - F.softplus(x)).sum(1)
    log_q = (h1 * h1_logits - F.softplus(h1_logits)).sum(1)
    return -model.top.free_energy(h1) + log_p_v - log_q


@torch.no_grad()
def variational_bound(
    model: BeliefNet,
    v: torch.Tensor,
    log_z: float,
    samples: int = BOUND_SAMPLES,
    generator: torch.Generator | None = None,
    chunk: int = 20,
    progress: bool = False,
    desc: str = "variational bound",
) -> Bound:
    """B(v) and the importance-sampling estimate for each row of the binary v, from ``samples`` draws of q(h1 | v)
    (a progress bar named ``desc``). Under ``torchrun`` each rank measures its share of the rows, drawing what
    one process draws for them (:mod:`~genlab.evaluation.shards`)."""
    bounds, iws, variances = [], [], []
    for start in bar(range(0, v.shape[0], chunk), desc, progress, unit="chunk"):
        stop = min(start + chunk, v.shape[0])
        rows = own_rows(start, stop, v.shape[0])
        vb = v[start : stop][rows]
        logits = model.h1_logits(vb).repeat_interleave(samples, 0)
        keep = slice(rows.start * samples, rows.stop * samples)
        h1 = bernoulli(torch.sigmoid(logits), stream(generator, (stop - start) * samples, keep, logits.dtype))
        log_w = log_weights(model, vb.repeat_interleave(samples, 0), h1, logits).double().reshape(-1, samples)
        bounds.append(log_w.mean(1) - log_z)
        iws.append(torch.logsumexp(log_w, 1) - math.log(samples) - log_z)
        spread = samples > 1 and vb.shape[0] > 0  # a rank may have no image in this chunk
        variances.append(log_w.var(1) if spread else torch.zeros(vb.shape[0], dtype=torch.float64, device=v.device))
    var = gather(torch.cat(variances))
    mc_se = (var.sum() / samples).sqrt().item() / v.shape[0]  # of the mean over the images
    return Bound(gather(torch.cat(bounds)), gather(torch.cat(iws)), mc_se, samples)


@torch.no_grad()
def conservative_bound(model: BeliefNet, v: torch.Tensor, base_v_bias: torch.Tensor, config: EvalConfig,
                       generator: torch.Generator | None = None, progress: bool = False) -> float:
    """The variational bound from below: one h1 ~ q(h1 | v) per image, and log p(h1) by RAISE
    (:func:`~genlab.evaluation.reverse_ais.raise_log_prob`) instead of -F_top(h1) - log Z_top, so that
    AIS's optimism about log Z_top does not enter. Its mean over images is at most B's on average."""
    logits = model.h1_logits(v)
    h1 = bernoulli(torch.sigmoid(logits), generator)
    x = model.v_logits(h1)
    log_p_v = (v * x - F.softplus(x)).sum(1).double()
    log_q = (h1 * logits - F.softplus(logits)).sum(1).double()
    log_p_h1 = raise_log_prob(model.top, h1, base_v_bias, config.raise_betas, config.raise_runs, generator, progress)
    return (log_p_v - log_q + log_p_h1).mean().item()


def top_log_partition(
    model: BeliefNet, train_x: torch.Tensor, runs: int, betas: int, generator: torch.Generator, progress: bool = False,
    floor_steps: int = FLOOR_STEPS,
) -> dict[str, Any]:
    """log Z of the top RBM (:func:`genlab.evaluation.ais.log_partition`), its base-rate models
    from the training data: the marginals of q(h1 | x) for h1, of p(h2 | q(h1 | x)) for h2."""
    return log_partition(model.top, model.p_h1(train_x), runs, betas, generator, progress, floor_steps)


@torch.no_grad()
def recon_error(model: BeliefNet, x: torch.Tensor, generator: torch.Generator | None = None, chunk: int = 10_000) -> float:
    """Mean squared error per pixel between x and p(v = 1 | h1) after v -> h1 -> h2 -> h1 -> v."""
    total = 0.0
    for v in data.chunks(x, chunk):
        _, p = model.reconstruct(v, 0, generator)
        total += (v - p).square().sum().item()
    return total / x.numel()


@torch.no_grad()
def measure(
    model: BeliefNet, train: data.ImageSet, test: data.ImageSet, config: EvalConfig, generator: torch.Generator,
    progress: bool = False,
) -> dict[str, Any]:
    """Every number of a DBN's eval.json, measured on the splits ``train`` and ``test``."""
    train_x, test_x = data.as_float(train.images), data.as_float(test.images)

    part = top_log_partition(model, train_x, config.ais_runs, config.ais_betas, generator, progress,
                             config.floor_steps)
    results: dict[str, Any] = {"log_z_method": part.pop("test_loglik_method"), **part}
    log_z = results["log_z"]

    bound = variational_bound(model, binarized(test.images), log_z, generator=generator, progress=progress,
                              desc="bound on test images")
    results["test_loglik"] = results["test_loglik_bound"] = bound.mean()
    results["test_loglik_method"] = "bound"
    results["bound_samples"] = bound.samples
    results["bound_mc_se"] = bound.mc_se
    results["test_loglik_iw"] = bound.iw.mean().item()
    low_z, high_z = results["log_z_low"], results["log_z_high"]  # the bound is linear in -log Z
    results["test_loglik_low"] = None if high_z is None else bound.mean() + log_z - high_z
    results["test_loglik_high"] = None if low_z is None else bound.mean() + log_z - low_z
    if results["log_z_method"] == "exact":
        results.update(test_loglik_conservative=bound.mean(), conservative_method="exact")
    elif config.raise_betas:
        base = base_rate_bias(model.p_h1(train_x))
        results["test_loglik_conservative"] = conservative_bound(model, binarized(test.images), base, config, generator,
                                                                 progress)
        results.update(conservative_method="raise", raise_betas=config.raise_betas, raise_runs=config.raise_runs)
    train_bound = variational_bound(model, binarized(train.images[:TRAIN_LOGLIK_IMAGES]), log_z, generator=generator,
                                    progress=progress, desc="bound on training images")
    results["train_loglik"] = train_bound.mean()

    results["recon_error"] = recon_error(model, test_x, generator)
    results.update(linear_probe(lambda x: split_rows(model.features, x), train, test, config.probe_images, progress))
    results["n_params"] = sum(t.numel() for t in model.tensors().values())
    return results
