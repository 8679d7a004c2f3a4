"""Log partition functions and log-likelihoods of RBMs.

Exact: log Z = log sum_v exp(-F(v)), summing over all states of the smaller
layer (free energy of the other layer in closed form), feasible up to ~20 units.
"""

from __future__ import annotations

import torch

from genlab.models.rbm import RBM

MAX_EXACT_UNITS = 20


def all_states(n: int, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """All 2^n binary vectors of length n, as rows."""
    codes = torch.arange(2**n, device=device).unsqueeze(1)
    bits = 1 << torch.arange(n, device=device)
    return (codes & bits).ne(0).to(dtype)


def log_z_exact(rbm: RBM, chunk: int = 1 << 16) -> float:
    """log Z by enumerating the smaller layer (at most MAX_EXACT_UNITS units), in float64."""
    small = min(rbm.n_visible, rbm.n_hidden)
    if small > MAX_EXACT_UNITS:
        raise ValueError(f"exact log Z needs a layer of at most {MAX_EXACT_UNITS} units, the smaller has {small}")
    r = RBM.from_tensors({k: v.double() for k, v in rbm.tensors().items()})
    states = all_states(small, r.W.device)
    free = r.free_energy_h if rbm.n_hidden <= rbm.n_visible else r.free_energy
    parts = torch.cat([-free(states[i : i + chunk]) for i in range(0, states.shape[0], chunk)])
    return torch.logsumexp(parts, 0).item()


def mean_log_prob(rbm: RBM, v: torch.Tensor, log_z: float, chunk: int = 10_000) -> float:
    """Average log p(v) = -F(v) - log Z over the rows of v, in nats."""
    total = 0.0
    for start in range(0, v.shape[0], chunk):
        total += -rbm.free_energy(v[start : start + chunk]).double().sum().item()
    return total / v.shape[0] - log_z
