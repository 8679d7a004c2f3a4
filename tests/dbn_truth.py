"""Brute-force truth for tiny DBNs: every probability by enumerating all (h1, h2) states.

Written from the raw tensors and torch.distributions, independently of genlab's
free energies and bound code.
"""

from __future__ import annotations

import itertools

import torch
from torch.distributions import Bernoulli

from genlab.models.dbn import DBN, UpDownDBN
from genlab.models.rbm import RBM


def states(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=torch.float64)


def random_rbm(n_visible: int, n_hidden: int, generator: torch.Generator, std: float = 1.0) -> RBM:
    rbm = RBM(n_visible, n_hidden, init_std=std, generator=generator, dtype=torch.float64)
    rbm.v_bias.data.normal_(0, 1, generator=generator)
    rbm.h_bias.data.normal_(0, 1, generator=generator)
    return rbm


def random_dbn(n_visible=12, n_h1=8, n_h2=6, seed=0, std=1.0) -> DBN:
    g = torch.Generator().manual_seed(seed)
    return DBN(random_rbm(n_visible, n_h1, g, std), random_rbm(n_h1, n_h2, g, std))


def parts(model) -> dict[str, torch.Tensor]:
    """(recognition W and bias, generative W and bias, top W, top visible bias, top hidden bias)."""
    t = model.tensors()
    if isinstance(model, UpDownDBN):
        return {"R": t["R1"], "b_up": t["h1_bias_up"], "G": t["W1_down"], "a": t["v_bias_down"],
                "W2": t["W2"], "c": t["top_v_bias"], "d": t["h2_bias"]}
    return {"R": t["W1"], "b_up": t["h1_bias"], "G": t["W1"], "a": t["v_bias"],
            "W2": t["W2"], "c": t["top_v_bias"], "d": t["h2_bias"]}


def log_p_h1(model) -> tuple[torch.Tensor, torch.Tensor]:
    """(all h1 states, log p(h1) of the top RBM) by summing over every (h1, h2)."""
    p = parts(model)
    H1, H2 = states(p["W2"].shape[0]), states(p["W2"].shape[1])
    neg_energy = H1 @ p["W2"] @ H2.T + (H1 @ p["c"])[:, None] + (H2 @ p["d"])[None, :]  # [|H1|, |H2|]
    log_z = torch.logsumexp(neg_energy.flatten(), 0)
    return H1, torch.logsumexp(neg_energy, 1) - log_z


def top_log_z(model) -> float:
    p = parts(model)
    H1, H2 = states(p["W2"].shape[0]), states(p["W2"].shape[1])
    neg_energy = H1 @ p["W2"] @ H2.T + (H1 @ p["c"])[:, None] + (H2 @ p["d"])[None, :]
    return torch.logsumexp(neg_energy.flatten(), 0).item()


def log_p_v_given_h1(model, v: torch.Tensor, H1: torch.Tensor) -> torch.Tensor:
    """[len(v), len(H1)] log p(v | h1)."""
    p = parts(model)
    logits = H1 @ p["G"].T + p["a"]  # [|H1|, n_visible]
    return Bernoulli(logits=logits[None]).log_prob(v[:, None]).sum(-1)


def log_q(model, v: torch.Tensor, H1: torch.Tensor) -> torch.Tensor:
    """[len(v), len(H1)] log q(h1 | v) of the factorial recognition model."""
    p = parts(model)
    logits = v @ p["R"] + p["b_up"]
    return Bernoulli(logits=logits[:, None]).log_prob(H1[None]).sum(-1)


def exact_log_p(model, v: torch.Tensor) -> torch.Tensor:
    """log p(v) = log sum_h1 p(h1) p(v | h1), per row of v."""
    H1, lp_h1 = log_p_h1(model)
    return torch.logsumexp(lp_h1[None] + log_p_v_given_h1(model, v, H1), 1)


def exact_bound(model, v: torch.Tensor) -> torch.Tensor:
    """sum_h1 q(h1|v) [log p(h1) + log p(v|h1) - log q(h1|v)], per row of v."""
    H1, lp_h1 = log_p_h1(model)
    lq = log_q(model, v, H1)
    return (lq.exp() * (lp_h1[None] + log_p_v_given_h1(model, v, H1) - lq)).sum(1)
