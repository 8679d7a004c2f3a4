"""Independent truth for RBM tests: exact log-likelihoods by enumeration, a tiny data set whose
optimum is known, replays of the draws of a generator, and an epoch of plain PyTorch steps on a
counter stream (what genlab's CD-1 kernels must reproduce)."""

from __future__ import annotations

import torch

from genlab.accel.threefry import CounterStream
from genlab.algorithms.cd import CDState, rbm_step
from genlab.evaluation import loglik
from genlab.models.rbm import RBM
from genlab.training.rbm import RBMConfig


def random_rbm(n_visible, n_hidden, seed=0, std=0.5) -> RBM:
    g = torch.Generator().manual_seed(seed)
    rbm = RBM(n_visible, n_hidden, init_std=std, generator=g, dtype=torch.float64)
    rbm.v_bias.data.normal_(0, 0.5, generator=g)
    rbm.h_bias.data.normal_(0, 0.5, generator=g)
    return rbm


def exact_mean_loglik(W, a, b, v):
    """Mean log p(v) by enumerating all visible states (autograd-friendly)."""
    def neg_free_energy(x):
        return x @ a + torch.nn.functional.softplus(x @ W + b).sum(-1)

    states = loglik.all_states(W.shape[0])
    return neg_free_energy(v).mean() - torch.logsumexp(neg_free_energy(states), 0)


def update_of(rbm: RBM, step) -> torch.Tensor:
    """The parameter change made by step(rbm) on a copy, flattened as (W, v_bias, h_bias)."""
    copy = RBM.from_tensors({k: t.clone() for k, t in rbm.tensors().items()})
    step(copy)
    return torch.cat([(copy.tensors()[k] - rbm.tensors()[k]).flatten() for k in ("W", "v_bias", "h_bias")])


def bars_and_stripes(n: int = 3) -> torch.Tensor:
    """All n x n images with every row, or every column, either on or off (14 for n = 3)."""
    rows = loglik.all_states(n)
    bars = rows[:, :, None].expand(-1, n, n).reshape(-1, n * n)
    stripes = rows[:, None, :].expand(-1, n, n).reshape(-1, n * n)
    return torch.cat([bars, stripes]).unique(dim=0).double()


def replay_bernoulli(p: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return (torch.rand(p.shape, generator=g, dtype=p.dtype) < p).to(p.dtype)


def eager_epoch(rbm: RBM, x: torch.Tensor, order: torch.Tensor, key: torch.Tensor, config: RBMConfig) -> float:
    """The same epoch through the PyTorch step: minibatch i draws from the counter stream (key, i)."""
    total = 0.0
    for i, start in enumerate(range(0, len(order), config.batch_size)):
        batch = x[order[start : start + config.batch_size]]
        total += rbm_step(rbm, batch, config.cd(), config.binarize, CDState(), CounterStream(key, torch.tensor(i))).item()
    return total


def same_stream_case(visible: int, hidden: int, batch: int, rows: int, k: int = 1):
    """A small epoch of CD-k for a kernel to run from the same start and counter stream as the PyTorch steps:
    (x, order, key, config, the start, the RBM the steps trained, their summed error)."""
    g = torch.Generator().manual_seed(visible)
    x = torch.rand(rows + 7, visible, generator=g)
    order = torch.randperm(rows + 7, generator=g)[:rows]
    key = torch.tensor([0x12345678, 0x9ABCDEF0])
    config = RBMConfig(hidden=hidden, batch_size=batch, lr=0.5, cd_k=k, compile=True)
    start = RBM(visible, hidden, 0.5, generator=g)
    eager = RBM.from_tensors({k: t.clone() for k, t in start.tensors().items()})
    return x, order, key, config, start, eager, eager_epoch(eager, x, order, key, config)
