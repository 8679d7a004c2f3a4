"""Annealed Importance Sampling for the log partition function of an RBM, and the
checked estimate genlab reports (:func:`log_partition`).

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
from typing import Any

import torch
import torch.nn.functional as F

from genlab.distributed import gather, share
from genlab.evaluation import loglik
from genlab.evaluation.progress import bar
from genlab.evaluation.shards import stream
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
    desc: str = "AIS",
) -> AISResult:
    """Estimate log Z of ``rbm`` with ``runs`` independent AIS runs (a progress bar named ``desc``).

    Under ``torchrun`` each rank anneals its share of the runs, drawing what one process draws for
    them (:mod:`~genlab.evaluation.shards`), and the estimate is formed from every run's log-weight.
    """
    device, dtype = rbm.W.device, rbm.W.dtype
    own = share(runs)
    random = stream(generator, runs, own, dtype)
    a_A = torch.zeros(rbm.n_visible, device=device, dtype=dtype) if base_v_bias is None else base_v_bias.to(device, dtype)
    if isinstance(betas, int):
        betas = default_betas(betas)
    betas_list = betas.tolist()
    log_z_base = F.softplus(a_A.double()).sum().item() + rbm.n_hidden * math.log(2)

    W, a_B, b = rbm.W, rbm.v_bias, rbm.h_bias
    v = bernoulli(torch.sigmoid(a_A).expand(own.stop - own.start, -1).contiguous(), random)
    log_w = torch.zeros(own.stop - own.start, dtype=torch.float64, device=device)
    a_diff = (a_B - a_A).double()
    x = torch.addmm(b, v, W)  # v W + b, reused by the weight update and the transition
    steps = range(1, len(betas_list))
    for k in bar(steps, desc, progress, unit="beta"):
        beta_prev, beta = betas_list[k - 1], betas_list[k]
        xd = x.double()
        log_w += (beta - beta_prev) * (v.double() @ a_diff)
        log_w += (F.softplus(beta * xd) - F.softplus(beta_prev * xd)).sum(1)
        # transition leaving p_k invariant
        h = bernoulli(torch.sigmoid(beta * x), random)
        v_logit = torch.addmm(a_B, h, W.t()).mul_(beta).add_(a_A, alpha=1 - beta)
        v = bernoulli(torch.sigmoid(v_logit), random)
        x = torch.addmm(b, v, W)

    log_w = gather(log_w)
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


FLOOR_CHAINS, FLOOR_STEPS = 1000, 300  # Gibbs chains for the certain lower bound on log Z
# Past FLOOR_ROWS new states in a layer, the floor keeps only the distinct ones within FLOOR_NATS of the largest -F:
# the dropped ones weigh less than e^-40 each against it, and a sum with fewer terms is still a lower bound
FLOOR_ROWS, FLOOR_NATS = 2**20, 40.0


def packed(states: torch.Tensor) -> torch.Tensor:
    """Rows of 0/1 values as rows of whole numbers, 24 units each (exact in float32), equal exactly when the
    states are: the states times a matrix of powers of two."""
    units = states.shape[1]
    unit = torch.arange(units, device=states.device)
    powers = torch.zeros(units, -(-units // 24), dtype=states.dtype, device=states.device)
    powers[unit, unit // 24] = 2.0 ** (unit % 24).to(states.dtype)
    return states @ powers


def distinct(states: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The distinct rows of ``states`` (:func:`packed`) and each one's value (its duplicates carry the same).

    Rows are told apart by a 64-bit hash (a fixed random combination of their whole numbers, wrapping), sorted
    as single numbers instead of row by row (about 15x faster for 300,000 rows of 784 units); every row is then
    compared with the first of its hash, and should two different rows share one, the rows are sorted out
    whole instead, so the answer is exact either way."""
    hashed = (states.to(torch.int64) * hash_weights(states.shape[1], states.device)).sum(1)
    keys, which = torch.unique(hashed, return_inverse=True)
    first = torch.full((keys.shape[0],), states.shape[0], dtype=torch.int64, device=states.device)
    first.scatter_reduce_(0, which, torch.arange(states.shape[0], device=states.device), "amin")
    if not torch.equal(states, states[first[which]]):  # two different rows with one hash
        unique, which = torch.unique(states, dim=0, return_inverse=True)
        return unique, values.new_empty(unique.shape[0]).scatter_(0, which, values)
    return states[first], values[first]


def hash_weights(columns: int, device: torch.device) -> torch.Tensor:
    """Odd 63-bit multipliers, one a column, the same on every call (a fixed seed)."""
    words = torch.randint(0, 2**62, (columns,), generator=torch.Generator().manual_seed(20261204))
    return (words * 2 + 1).to(device)


def log_sum_distinct(states: list[torch.Tensor], values: list[torch.Tensor], beat: float = -math.inf) -> float:
    """log sum_s exp(value(s)) over the distinct states s among ``states`` (:func:`packed` rows, every rank's),
    each once; -inf without sorting the states out when that sum cannot exceed ``beat`` (its largest term
    times the number of visits does not)."""
    values = gather(torch.cat(values)).double()
    if values.numel() == 0 or values.max().item() + math.log(values.numel()) <= beat:
        return -math.inf
    return torch.logsumexp(distinct(gather(torch.cat(states)), values)[1], 0).item()


@torch.no_grad()
def log_z_floor(rbm: RBM, data_x: torch.Tensor | None = None, chains: int = FLOOR_CHAINS, steps: int = FLOOR_STEPS,
                generator: torch.Generator | None = None, progress: bool = False, keep: int = FLOOR_ROWS) -> float:
    """A certain lower bound on log Z from the states that Gibbs chains visit: Z = sum_v exp(-F(v)) >= the
    sum over the distinct visible states visited, and likewise Z = sum_h exp(-F_h(h)) >= the sum over the
    distinct hidden states visited; the larger of the two. With ``data_x`` (rows of visible probabilities)
    half the chains start at h ~ p(h | x) for its rows in turn, where the model's mass lies if it fits the
    data; the others (all, without data) at uniformly random hidden states, which find modes far from the
    data. Each rank of a distributed evaluation runs its share of the chains; the states are pooled before
    the sums. Every ``keep`` new states of a layer, only the distinct ones within :data:`FLOOR_NATS` of the
    largest -F are kept, which bounds the memory of long chains."""
    own = share(chains)
    random = stream(generator, chains, own, rbm.W.dtype)
    start = torch.full((chains, rbm.n_hidden), 0.5, device=rbm.W.device, dtype=rbm.W.dtype)
    if data_x is not None and data_x.shape[0]:
        rows = torch.arange(chains // 2, device=data_x.device) % data_x.shape[0]
        start[: chains // 2] = rbm.p_h(data_x[rows].to(rbm.W))
    h = bernoulli(start[own.start : own.stop], random)
    seen = {"v": ([], []), "h": ([], [])}  # packed states and their -F, step by step
    fresh = {"v": 0, "h": 0}  # the rows appended since what was kept last
    for _ in bar(range(steps), "log Z floor (Gibbs chains)", progress, unit="step"):
        _, v = rbm.sample_v(h, random)
        _, h = rbm.sample_h(v, random)
        for layer, state, value in (("v", v, -rbm.free_energy(v)), ("h", h, -rbm.free_energy_h(h))):
            states, values = seen[layer]
            states.append(packed(state))
            values.append(value)
            fresh[layer] += state.shape[0]
            if fresh[layer] >= keep:
                fresh[layer] = 0
                unique, per_state = distinct(torch.cat(states), torch.cat(values))
                near = per_state >= per_state.max() - FLOOR_NATS
                states[:], values[:] = [unique[near]], [per_state[near]]
    over_h = log_sum_distinct(*seen["h"])
    return max(over_h, log_sum_distinct(*seen["v"], beat=over_h))


@torch.no_grad()
def log_partition(
    rbm: RBM, data_x: torch.Tensor, runs: int, betas: int, generator: torch.Generator, progress: bool = False,
    floor_steps: int = FLOOR_STEPS,
) -> dict[str, Any]:
    """log Z of an RBM as genlab reports it, for data ``data_x`` (rows of visible probabilities).

    Exact when a layer has at most 20 units; otherwise the largest of three estimates that
    can each only fall short of log Z (beyond chance):

    * AIS annealing over the visible units (hidden summed out) from the base-rate model of
      the data's pixel marginals,
    * AIS annealing over the hidden units (visible summed out: the RBM flipped) from the
      base-rate model of the marginals of p(h | data),
    * :func:`log_z_floor`, a certain lower bound from the states of Gibbs chains (``floor_steps`` steps of
      1,000 chains, half of them from the data).

    AIS estimates Z without bias, so a log estimate exceeds log Z by t nats with probability
    at most e^-t; but a chain that never finds one of the model's modes underestimates log Z
    with a deceptively small spread, and which direction does depends on the model (on
    briefly trained CD-1 RBMs of MNIST the two directions differ by 20 to 50 nats, see
    docs/dbn.md). The largest estimate is the closest, and keeps log-likelihoods from being
    overstated. When the floor is above the better AIS run's interval, that interval no
    longer applies: ``log_z_low`` is the floor (certain) and ``log_z_high`` unknown (None).
    """
    if min(rbm.n_visible, rbm.n_hidden) <= loglik.MAX_EXACT_UNITS:
        log_z = loglik.log_z_exact(rbm)
        return {"log_z": log_z, "log_z_low": log_z, "log_z_high": log_z, "test_loglik_method": "exact"}
    flipped = RBM.from_tensors({"W": rbm.W.t(), "v_bias": rbm.h_bias, "h_bias": rbm.v_bias})
    over_visible = ais_log_z(rbm, base_rate_bias(data_x), runs, betas, generator, progress, "AIS over visible units")
    over_hidden = ais_log_z(flipped, base_rate_bias(rbm.p_h(data_x)), runs, betas, generator, progress,
                            "AIS over hidden units")
    floor = log_z_floor(rbm, data_x, steps=floor_steps, generator=generator, progress=progress)
    best = max(over_visible, over_hidden, key=lambda r: r.log_z)
    low, high = best.log_z_low, best.log_z_high
    if floor > best.log_z_high:
        low, high = floor, None
    return {
        "log_z": max(best.log_z, floor), "log_z_low": low, "log_z_high": high, "test_loglik_method": "ais",
        "ais_runs": best.runs, "ais_betas": best.betas,
        "log_z_ais_visible": over_visible.log_z, "log_z_ais_hidden": over_hidden.log_z, "log_z_floor": floor,
        "floor_chains": FLOOR_CHAINS, "floor_steps": floor_steps,
    }
