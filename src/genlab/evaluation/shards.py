"""Estimators split across the ranks of a distributed evaluation, drawing what one process draws.

Under ``torchrun`` each rank takes its contiguous share (:func:`genlab.distributed.share`) of the
rows an estimator works on (AIS chains, test images, samples) and the results are gathered in rank
order, so every rank ends with the whole, as one process has it. The random numbers stay those of
one process: every rank holds the same generator and draws the numbers of *all* rows, with the same
calls and shapes as one process, and keeps its own (:class:`~genlab.distributed.ShareOfDraws`).
The generator therefore leaves each estimator in the same state on every rank and in one process,
and the next estimator starts from the same state too. Drawing the other ranks' numbers costs little: a Bernoulli or
Gaussian draw per unit against a matrix product per unit.

In one process (a world of one) every function here returns what it was given or computes the
whole, by the very calls the estimators made before they were split: nothing changes there.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from genlab.accel import estimator_draws
from genlab.distributed import ShareOfDraws, broadcast_, current, gather, share
from genlab.rng import RandomStream

Keep = slice | torch.Tensor  # the rows of a draw this rank keeps: a range, or their indices


def stream(generator: torch.Generator | None, rows: int, keep: Keep, dtype: torch.dtype) -> RandomStream:
    """Where the Bernoulli draws of this rank's rows ``keep`` (of ``rows``) come from: the draws an estimator seeded
    by ``generator`` makes (:func:`genlab.accel.estimator_draws`: on the CPU a counter stream keyed from it,
    computed in C), all of them in one process, else a :class:`~genlab.distributed.ShareOfDraws` of them; None
    (PyTorch's global stream, which no two processes share) when ``generator`` is None."""
    if generator is None:
        return None
    draws = estimator_draws(generator)
    return ShareOfDraws(draws, rows, keep, dtype) if current().distributed else draws


def own_rows(start: int, stop: int, n: int) -> slice:
    """This rank's rows (of ``n``) among rows ``start`` to ``stop``, counted from ``start`` (may be empty)."""
    part = share(n)
    return slice(min(max(part.start, start), stop) - start, max(min(part.stop, stop), start) - start)


def same_on_every_rank(number: float) -> float:
    """Rank 0's ``number`` on every rank (``number`` itself in one process): a result only rank 0 computes."""
    if not current().distributed:
        return number
    return broadcast_(torch.tensor([number], dtype=torch.float64), "sharing rank 0's result").item()


def split_rows(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """``fn`` of every row of ``x`` (a function of each row alone, such as features), each rank computing its share."""
    return gather(fn(x[share(x.shape[0])]))
