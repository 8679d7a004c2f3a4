"""Annealed Importance Sampling for the log partition function of an RBM.

Salakhutdinov & Murray (2008), "On the quantitative analysis of deep belief
networks". The base-rate model A has no weights, zero hidden biases and visible
biases a_A from the training data's pixel marginals, so

    log Z_A = sum_i softplus(a_A,i) + n_hidden * log 2.

The intermediate distributions, for 0 = beta_0 < ... < beta_K = 1, are

    log p*_k(v) = (1 - beta_k) a_A^T v + beta_k a^T v + sum_j softplus(beta_k (v^T W_:j + b_j)),

each with a Gibbs transition that leaves it invariant:
h ~ sigma(beta_k (v W + b)), then v ~ sigma((1 - beta_k) a_A + beta_k (W h + a)).
A run starting at v ~ p_A accumulates log w = sum_k [log p*_k(v_k) - log p*_{k-1}(v_k)],
and Z_B / Z_A is estimated by the mean of w over the runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm import tqdm

from genlab.models.rbm import RBM
from genlab.rng import bernoulli


@dataclass
class AISResult:
    log_z: float
    log_z_low: float | None  # log(r - 3 se); None when r - 3 se <= 0
    log_z_high: float
    log_z_base: float
    runs: int
    betas: int  # intermediate distributions after the base model (beta_1 .. beta_K = 1)


def default_betas(n: int = 14_500, device: torch.device | str = "cpu") -> torch.Tensor:
    """Salakhutdinov & Murray's schedule, scaled to n intermediate distributions:
    500 in [0, 0.5], 4,000 in [0.5, 0.9] and 10,000 in [0.9, 1] for n = 14,500."""
    parts = [(0.0, 0.5, 500), (0.5, 0.9, 4000), (0.9, 1.0, 10000)]
    pieces = [torch.zeros(1, dtype=torch.float64)]
    for lo, hi, count in parts:
        k = max(1, round(count * n / 14_500))
        pieces.append(torch.linspace(lo, hi, k + 1, dtype=torch.float64)[1:])
    return torch.cat(pieces).to(device)


def base_rate_bias(x: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Visible biases of the base-rate model: logits of the (smoothed) pixel marginals of x."""
    p = x.double().mean(0).clamp(eps, 1 - eps)
    return (p.log() - (-p).log1p()).to(x.dtype)


@torch.no_grad()
def ais_log_z(
    rbm: RBM,
    base_v_bias: torch.Tensor | None = None,
    runs: int = 100,
    betas: torch.Tensor | int = 14_500,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> AISResult:
    """Estimate log Z of ``rbm`` with ``runs`` independent AIS runs."""
    device, dtype = rbm.W.device, rbm.W.dtype
    a_A = torch.zeros(rbm.n_visible, device=device, dtype=dtype) if base_v_bias is None else base_v_bias.to(device, dtype)
    if isinstance(betas, int):
        betas = default_betas(betas)
    betas_list = betas.tolist()
    log_z_base = F.softplus(a_A.double()).sum().item() + rbm.n_hidden * math.log(2)

    W, a_B, b = rbm.W, rbm.v_bias, rbm.h_bias
    v = bernoulli(torch.sigmoid(a_A).expand(runs, -1).contiguous(), generator)
    log_w = torch.zeros(runs, dtype=torch.float64, device=device)
    a_diff = (a_B - a_A).double()
    x = torch.addmm(b, v, W)  # v W + b, reused by the weight update and the transition
    steps = range(1, len(betas_list))
    for k in tqdm(steps, desc="AIS", unit="beta", disable=not progress, leave=False, mininterval=1.0):
        beta_prev, beta = betas_list[k - 1], betas_list[k]
        xd = x.double()
        log_w += (beta - beta_prev) * (v.double() @ a_diff)
        log_w += (F.softplus(beta * xd) - F.softplus(beta_prev * xd)).sum(1)
        # transition leaving p_k invariant
        h = bernoulli(torch.sigmoid(beta * x), generator)
        v_logit = torch.addmm(a_B, h, W.t()).mul_(beta).add_(a_A, alpha=1 - beta)
        v = bernoulli(torch.sigmoid(v_logit), generator)
        x = torch.addmm(b, v, W)

    # log of the mean importance weight, and +/- 3 standard errors of the mean
    shift = log_w.max()
    w = (log_w - shift).exp()
    mean = w.mean()
    se = w.std(unbiased=True) / math.sqrt(runs) if runs > 1 else torch.zeros((), dtype=w.dtype)
    log_z = log_z_base + shift.item() + mean.log().item()
    high = log_z_base + shift.item() + (mean + 3 * se).log().item()
    low_arg = (mean - 3 * se).item()
    low = log_z_base + shift.item() + math.log(low_arg) if low_arg > 0 else None
    return AISResult(log_z, low, high, log_z_base, runs, len(betas_list) - 1)
