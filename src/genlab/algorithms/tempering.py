"""Parallel tempering: the negative phase of persistent CD from chains at several temperatures.

Persistent chains of a well-trained RBM mix slowly between its modes. Parallel tempering
(Desjardins et al. 2010; Cho, Raiko & Ilin 2010) runs one set of persistent chains per
inverse temperature 1 = beta_1 > beta_2 > ... > beta_M = 0, each sampling the tempered model

    p_beta(v)  proportional to  exp(-F_beta(v)),   F_beta(v) = -beta a^T v - sum_j softplus(beta (v^T W_:j + b_j)),

(the joint exp(-beta E(v, h)) with h summed out; beta = 0 is uniform, so the hottest chains
move freely). After each chain's Gibbs steps, neighbours i, i+1 swap states with probability

    min(1, exp(F_beta_i(v_i) + F_beta_i+1(v_i+1) - F_beta_i(v_i+1) - F_beta_i+1(v_i))),

the Metropolis rule for the product of the tempered models, which leaves it invariant. The
negative statistics come from the chains at beta = 1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genlab.models.rbm import RBM
from genlab.rng import RandomStream, bernoulli


def inverse_temperatures(m: int, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """m inverse temperatures, evenly spaced from 1 (the model) down to 0 (uniform)."""
    return torch.linspace(1.0, 0.0, m, device=device, dtype=dtype)


def tempered_free_energy(rbm: RBM, v: torch.Tensor, beta: float | torch.Tensor) -> torch.Tensor:
    """F_beta(v) for each row of v."""
    return -beta * (v @ rbm.v_bias) - F.softplus(beta * torch.addmm(rbm.h_bias, v, rbm.W)).sum(-1)


def tempered_gibbs(rbm: RBM, v: torch.Tensor, beta: float, k: int, random: RandomStream = None) -> torch.Tensor:
    """k Gibbs steps of the tempered model p_beta from v: h ~ sigma(beta (v W + b)), v ~ sigma(beta (h W^T + a))."""
    for _ in range(k):
        h = bernoulli(torch.sigmoid(beta * torch.addmm(rbm.h_bias, v, rbm.W)), random)
        v = bernoulli(torch.sigmoid(beta * torch.addmm(rbm.v_bias, h, rbm.W.t())), random)
    return v


def swap_probability(rbm: RBM, v_hot: torch.Tensor, v_cold: torch.Tensor, beta_hot: float, beta_cold: float) -> torch.Tensor:
    """For each pair of rows: the probability that chains at ``beta_cold`` > ``beta_hot`` exchange their states."""
    log_ratio = (tempered_free_energy(rbm, v_cold, beta_cold) + tempered_free_energy(rbm, v_hot, beta_hot)
                 - tempered_free_energy(rbm, v_hot, beta_cold) - tempered_free_energy(rbm, v_cold, beta_hot))
    return log_ratio.clamp(max=0).exp()


def tempered_step(rbm: RBM, chains: torch.Tensor, betas: list[float], k: int, random: RandomStream = None) -> torch.Tensor:
    """One step of parallel tempering: ``chains`` [M, n, n_visible] (chain m at ``betas[m]``, coldest
    first) take k Gibbs steps each, then neighbours swap, coldest pair first; returns the new chains."""
    chains = torch.stack([tempered_gibbs(rbm, chains[m], beta, k, random) for m, beta in enumerate(betas)])
    for m in range(len(betas) - 1):
        p = swap_probability(rbm, chains[m + 1], chains[m], betas[m + 1], betas[m])
        swap = bernoulli(p, random).bool()[:, None]
        cold, hot = chains[m].clone(), chains[m + 1].clone()
        chains[m] = torch.where(swap, hot, cold)
        chains[m + 1] = torch.where(swap, cold, hot)
    return chains
