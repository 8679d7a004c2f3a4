"""RAISE, reverse annealed importance sampling: a conservative estimate of an RBM's log p(v).

Burda, Grosse & Salakhutdinov (2015), "Accurate and conservative estimates of MRF
log-likelihood using reverse annealing". AIS (:mod:`genlab.evaluation.ais`) estimates Z without
bias, so its log Z is low on average (Jensen) and the log-likelihood it implies is optimistic;
when the chains miss modes, by many nats. RAISE errs the other way.

It uses the annealing path of AIS, log f_k(v) = (1 - beta_k) a_A^T v + beta_k a^T v +
sum_j softplus(beta_k (v^T W_:j + b_j)) from the base-rate model p_0 = f_0 / Z_0 (beta_0 = 0) to
the RBM (beta_K = 1), and the Gibbs transitions T_k that leave each f_k invariant. Read forwards
(x_0 ~ p_0, x_k ~ T_k(. | x_{k-1})), the path is itself a generative model, p_ann(v) = p(x_K = v),
which approaches the RBM's p(v) as K grows. RAISE starts at a test image, x_K = v, walks the
path backwards, x_{k-1} ~ T_k(. | x_k) (Gibbs transitions are their own reversals), and weighs
the walk by

    log w = log p_0(x_0) + sum_{k=1..K} [log f_k(x_k) - log f_k(x_{k-1})],

an unbiased estimate of p_ann(v). So E[log w] <= log p_ann(v): averaged over test images, a
stochastic lower bound on the annealing model's log-likelihood. With the log Z of AIS above it,
the two bracket the RBM's test log-likelihood from both sides when p_ann is close to p (long
schedules). With few distributions p_ann can be far from p in either direction: for CD-1 RBMs whose
Gibbs chains fall into one state (10 epochs on 10,000 MNIST images), RAISE with 300 distributions
came out 30 to 85 nats *above* their AIS estimates, where their log-likelihood is not
(:func:`genlab.evaluation.protocol.conservative_above_model` flags such numbers in the lab's tables).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from genlab.distributed import gather, share
from genlab.evaluation.ais import default_betas
from genlab.evaluation.progress import bar
from genlab.evaluation.shards import stream
from genlab.models.rbm import RBM
from genlab.rng import bernoulli


def log_f(rbm: RBM, v: torch.Tensor, x: torch.Tensor, base_v_bias: torch.Tensor, beta: float) -> torch.Tensor:
    """log f_beta(v) (float64) given x = v W + b: the AIS path's unnormalised log-probability."""
    visible = (v.double() @ ((1 - beta) * base_v_bias + beta * rbm.v_bias).double())
    return visible + F.softplus(beta * x.double()).sum(1)


@torch.no_grad()
def raise_log_prob(
    rbm: RBM,
    v: torch.Tensor,
    base_v_bias: torch.Tensor,
    betas: torch.Tensor | int = 1000,
    runs: int = 1,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """RAISE's estimate of log p(v) for each (binary) row of ``v``: the log of the mean weight of
    ``runs`` reverse walks over ``betas`` intermediate distributions (float64, [N]). On average it
    lies below the annealing model's log-likelihood (see the module's docstring).

    Under ``torchrun`` each rank walks from its share of the rows, drawing what one process draws
    for them (:mod:`~genlab.evaluation.shards`); every rank returns the estimates of all rows."""
    if isinstance(betas, int):
        betas = default_betas(betas)
    betas_list = betas.tolist()
    a_A = base_v_bias.to(rbm.W.device, rbm.W.dtype)
    n, own = v.shape[0], share(v.shape[0])
    x_v = v[own].to(rbm.W.dtype).repeat(runs, 1)  # run-major: walk r of image i is row r * n + i of all walks
    walks = torch.arange(runs, device=v.device)[:, None] * n + torch.arange(own.start, own.stop, device=v.device)
    random = stream(generator, runs * n, walks.flatten(), rbm.W.dtype)
    x = torch.addmm(rbm.h_bias, x_v, rbm.W)
    log_w = torch.zeros(x_v.shape[0], dtype=torch.float64, device=rbm.W.device)
    steps = range(len(betas_list) - 1, 0, -1)
    for k in bar(steps, "RAISE", progress, unit="beta"):
        beta = betas_list[k]
        log_w += log_f(rbm, x_v, x, a_A, beta)
        h = bernoulli(torch.sigmoid(beta * x), random)  # x_{k-1} ~ T_k(. | x_k)
        v_logit = torch.addmm(rbm.v_bias, h, rbm.W.t()).mul_(beta).add_(a_A, alpha=1 - beta)
        x_v = bernoulli(torch.sigmoid(v_logit), random)
        x = torch.addmm(rbm.h_bias, x_v, rbm.W)
        log_w -= log_f(rbm, x_v, x, a_A, beta)
    log_w += x_v.double() @ a_A.double() - F.softplus(a_A.double()).sum()  # log p_0(x_0)
    return gather(torch.logsumexp(log_w.reshape(runs, -1), 0) - math.log(runs))
