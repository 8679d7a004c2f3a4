"""Estimators split across the ranks of a distributed evaluation, drawing what one process draws.

Under ``torchrun`` each rank takes its contiguous share (:func:`genlab.distributed.share`) of the
rows an estimator works on (AIS chains, test images, samples) and the results are gathered in rank
order, so every rank ends with the whole, as one process has it. The random numbers stay those of
one process: every rank holds the same generator and draws the numbers of *all* rows, with the same
calls and shapes as one process, and keeps its own (:class:`RowStream`). The generator therefore
leaves each estimator in the same state on every rank and in one process, and the next estimator
starts from the same state too. Drawing the other ranks' numbers costs little: a Bernoulli or
Gaussian draw per unit against a matrix product per unit.

In one process (a world of one) every function here returns what it was given or computes the
whole, by the very calls the estimators made before they were split: nothing changes there.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.distributed as dist

from genlab.distributed import all_gather_cat, broadcast_, current, share
from genlab.rng import RandomStream

Keep = slice | torch.Tensor  # the rows of a draw this rank keeps: a range, or their indices


class RowStream:
    """A :class:`~genlab.rng.UniformStream` that draws ``rows`` rows of uniforms from ``generator``,
    as one process draws them for all rows, and returns the rows ``keep`` of this rank."""

    def __init__(self, generator: torch.Generator, rows: int, keep: Keep, dtype: torch.dtype) -> None:
        self.generator, self.rows, self.keep, self.dtype = generator, rows, keep, dtype

    def uniform(self, shape: torch.Size | tuple[int, ...]) -> torch.Tensor:
        every_row = torch.rand((self.rows, *shape[1:]), generator=self.generator, device=self.generator.device,
                               dtype=self.dtype)
        return every_row[self.keep]


def stream(generator: torch.Generator | None, rows: int, keep: Keep, dtype: torch.dtype) -> RandomStream:
    """Where the Bernoulli draws of this rank's rows ``keep`` (of ``rows``) come from: ``generator``
    itself in one process (which keeps every row) or when it is None (PyTorch's global stream, which
    no two processes share), else a :class:`RowStream` over it."""
    if generator is None or not current().distributed:
        return generator
    return RowStream(generator, rows, keep, dtype)


def own_rows(start: int, stop: int, n: int) -> slice:
    """This rank's rows (of ``n``) among rows ``start`` to ``stop``, counted from ``start`` (may be empty)."""
    part = share(n)
    return slice(min(max(part.start, start), stop) - start, max(min(part.stop, stop), start) - start)


def group_device() -> torch.device:
    """The device the process group's collectives run on: this rank's GPU with NCCL, the CPU with gloo."""
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def gather(rows: torch.Tensor) -> torch.Tensor:
    """Every rank's ``rows`` concatenated in rank order, on the device of ``rows`` (itself in one process)."""
    if not current().distributed:
        return rows
    return all_gather_cat(rows.to(group_device()), "gathering the evaluation's results").to(rows.device)


def same_on_every_rank(number: float) -> float:
    """Rank 0's ``number`` on every rank (``number`` itself in one process): a result only rank 0 computes."""
    if not current().distributed:
        return number
    shared = torch.tensor([number], dtype=torch.float64, device=group_device())
    return broadcast_(shared, "sharing rank 0's result").item()


def split_rows(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """``fn`` of every row of ``x`` (a function of each row alone, such as features), each rank computing its share."""
    return gather(fn(x[share(x.shape[0])]))
