"""Evaluating a DBN (greedy or fine-tuned): the variational lower bound on log p(v),
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
(:func:`checked_log_partition`; exact when the top RBM has a layer of at most 20 units). Taking log q of each sample, rather than q's
entropy in closed form, keeps the variance small: when q is the exact posterior every
log w_s - log Z_top equals log p(v). From the same samples, log (1/S) sum_s w_s - log Z_top
is the importance-sampling estimate of log p(v), a tighter bound in expectation (Burda,
Grosse & Salakhutdinov 2016) reported as ``test_loglik_iw``. Both inherit the AIS
estimate's uncertainty about log Z_top (``test_loglik_low``/``_high``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from genlab import data
from genlab.evaluate.common import binarized, source_for_run
from genlab.evaluate.probe import probe_accuracy
from genlab.evaluate import loglik
from genlab.evaluate.ais import ais_log_z, base_rate_bias
from genlab.evaluate.rbm import TRAIN_LOGLIK_IMAGES
from genlab.models.dbn import BeliefNet
from genlab.models.rbm import RBM
from genlab.rng import bernoulli, make_generator
from genlab.runs import Run
from genlab.train import dbn as train_dbn

BOUND_SAMPLES = 100  # samples of h1 ~ q(h1 | v) per image
FLOOR_CHAINS, FLOOR_STEPS = 1000, 300  # Gibbs chains for the certain lower bound on log Z


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
) -> Bound:
    """B(v) and the importance-sampling estimate for each row of the binary v, from ``samples`` draws of q(h1 | v)."""
    bounds, iws, variances = [], [], []
    for start in range(0, v.shape[0], chunk):
        vb = v[start : start + chunk]
        logits = model.h1_logits(vb).repeat_interleave(samples, 0)
        h1 = bernoulli(torch.sigmoid(logits), generator)
        log_w = log_weights(model, vb.repeat_interleave(samples, 0), h1, logits).double().reshape(-1, samples)
        bounds.append(log_w.mean(1) - log_z)
        iws.append(torch.logsumexp(log_w, 1) - math.log(samples) - log_z)
        variances.append(log_w.var(1) if samples > 1 else torch.zeros(vb.shape[0], dtype=torch.float64, device=v.device))
    var = torch.cat(variances)
    mc_se = (var.sum() / samples).sqrt().item() / v.shape[0]  # of the mean over the images
    return Bound(torch.cat(bounds), torch.cat(iws), mc_se, samples)


@torch.no_grad()
def log_z_floor(rbm: RBM, chains: int = FLOOR_CHAINS, steps: int = FLOOR_STEPS,
                generator: torch.Generator | None = None) -> float:
    """A certain lower bound on log Z: Z >= exp(-F(v)) and Z >= exp(-F_h(h)) for any single
    state, maximised over the states that Gibbs chains from uniformly random hidden states visit."""
    h = bernoulli(torch.full((chains, rbm.n_hidden), 0.5, device=rbm.W.device, dtype=rbm.W.dtype), generator)
    best = -math.inf
    for _ in range(steps):
        _, v = rbm.sample_v(h, generator)
        _, h = rbm.sample_h(v, generator)
        best = max(best, (-rbm.free_energy(v)).max().item(), (-rbm.free_energy_h(h)).max().item())
    return best


@torch.no_grad()
def checked_log_partition(
    rbm: RBM, visible_base: torch.Tensor, hidden_base: torch.Tensor, runs: int, betas: int,
    generator: torch.Generator, progress: bool = False,
) -> dict[str, Any]:
    """log Z of an RBM: exact when a layer has at most 20 units; otherwise the largest of three
    estimates that can each only fall short of it (beyond chance):

    * AIS annealing over the visible units (hidden summed out) from a base-rate model with
      visible biases ``visible_base``,
    * AIS annealing over the hidden units (visible summed out: the RBM flipped) from a
      base-rate model with biases ``hidden_base``,
    * :func:`log_z_floor`, a certain lower bound from the states of Gibbs chains.

    AIS estimates Z without bias, so a log estimate exceeds log Z by t nats with probability
    at most e^-t; but a chain that never finds one of the model's modes underestimates log Z
    with a deceptively small spread, and which direction does depends on the model (on CD-1
    RBMs of MNIST the two directions differ by 20 to 50 nats, see docs/dbn.md). The
    largest estimate is the closest, and keeps a bound on log p(v) a lower bound. When the
    floor is above the better AIS run's interval, that interval no longer applies (None).
    """
    if min(rbm.n_visible, rbm.n_hidden) <= loglik.MAX_EXACT_UNITS:
        log_z = loglik.log_z_exact(rbm)
        return {"log_z": log_z, "log_z_low": log_z, "log_z_high": log_z, "test_loglik_method": "exact"}
    flipped = RBM.from_tensors({"W": rbm.W.t(), "v_bias": rbm.h_bias, "h_bias": rbm.v_bias})
    over_visible = ais_log_z(rbm, visible_base, runs, betas, generator, progress)
    over_hidden = ais_log_z(flipped, hidden_base, runs, betas, generator, progress)
    floor = log_z_floor(rbm, generator=generator)
    best = max(over_visible, over_hidden, key=lambda r: r.log_z)
    low, high = best.log_z_low, best.log_z_high
    if floor > best.log_z_high:
        low = high = None
    return {
        "log_z": max(best.log_z, floor), "log_z_low": low, "log_z_high": high, "test_loglik_method": "ais",
        "ais_runs": best.runs, "ais_betas": best.betas,
        "log_z_ais_visible": over_visible.log_z, "log_z_ais_hidden": over_hidden.log_z, "log_z_floor": floor,
    }


def top_log_partition(
    model: BeliefNet, train_x: torch.Tensor, runs: int, betas: int, generator: torch.Generator, progress: bool = False
) -> dict[str, Any]:
    """log Z of the top RBM (:func:`checked_log_partition`), its base-rate models from the
    training data: the marginals of q(h1 | x) for h1, of p(h2 | q(h1 | x)) for h2."""
    h1 = model.p_h1(train_x)
    return checked_log_partition(model.top, base_rate_bias(h1), base_rate_bias(model.top.p_h(h1)), runs, betas,
                                 generator, progress)


@torch.no_grad()
def measure(
    model: BeliefNet, train: data.ImageSet, test: data.ImageSet, config, generator: torch.Generator, progress: bool = False
) -> dict[str, Any]:
    """Every number of a DBN's eval.json, for a model in memory (``config``: an EvalConfig)."""
    train_x, test_x = data.as_float(train.images), data.as_float(test.images)

    part = top_log_partition(model, train_x, config.ais_runs, config.ais_betas, generator, progress)
    results: dict[str, Any] = {"log_z_method": part.pop("test_loglik_method"), **part}
    log_z = results["log_z"]

    bound = variational_bound(model, binarized(test.images), log_z, generator=generator)
    results["test_loglik"] = results["test_loglik_bound"] = bound.mean()
    results["test_loglik_method"] = "bound"
    results["bound_samples"] = bound.samples
    results["bound_mc_se"] = bound.mc_se
    results["test_loglik_iw"] = bound.iw.mean().item()
    if results["log_z_low"] is not None and results["log_z_high"] is not None:  # the bound is linear in -log Z
        results["test_loglik_low"] = bound.mean() + log_z - results["log_z_high"]
        results["test_loglik_high"] = bound.mean() + log_z - results["log_z_low"]
    train_bound = variational_bound(model, binarized(train.images[:TRAIN_LOGLIK_IMAGES]), log_z, generator=generator)
    results["train_loglik"] = train_bound.mean()

    results["recon_error"] = train_dbn.recon_error(model, test_x, generator)
    results["probe_accuracy"] = probe_accuracy(model.features(train_x), train.labels, model.features(test_x), test.labels)
    results["n_params"] = sum(t.numel() for t in model.tensors().values())
    return results


def evaluate(run: Run, config, device: torch.device, data_dir=None, progress: bool = True) -> dict[str, Any]:
    """The numbers of eval.json for a DBN or fine-tuned DBN run."""
    from genlab.families import family_of

    model: BeliefNet = family_of(run).load(run, device)
    source = source_for_run(run, data_dir)
    train = data.load_split(source, "train", device, limit=run.config.get("limit"))
    test = data.load_split(source, "test", device).head(config.test_limit)
    return measure(model, train, test, config, make_generator(config.seed, device), progress)
