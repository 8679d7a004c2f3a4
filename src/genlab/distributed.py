"""Data-parallel runs on PyTorch's own engine: ``torchrun ... -m genlab train ...``.

genlab never starts processes itself. When a launcher such as ``torchrun`` has set ``RANK`` and
``WORLD_SIZE`` (with ``WORLD_SIZE`` above 1), :func:`setup` joins its process group (NCCL on CUDA,
gloo on the CPU) and gives each process its device (``cuda:LOCAL_RANK`` on a GPU machine). In a plain
process every function here is a no-op over a world of one, so code written with them reads the same
in both cases:

    world = current()
    rows = share(batch_size, world)            # this rank's part of a global minibatch
    all_reduce_sum(gradient_sum)               # the sum over every rank's part
    results = gather(my_results)               # every rank's rows, in rank order
    grads = mean_over_ranks(grads, n)          # means over this rank's n rows -> over the global minibatch
    if world.main: write_run_directory(...)    # rank 0 alone writes files

A collective that fails because another process died raises :class:`~genlab.errors.GenlabError`
naming this rank, so every surviving rank ends with one line instead of a traceback.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist

from genlab.errors import ConfigError, GenlabError
from genlab.rng import RandomStream, UniformStream

T = TypeVar("T")


@dataclass(frozen=True)
class World:
    """Where this process stands: its rank among ``size`` processes, and its rank on this machine."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Whether this is rank 0, the process that writes files, logs and shows progress."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def launched() -> bool:
    """Whether a launcher (torchrun or an equivalent) started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


_alone = False  # inside rank_0_alone: compute as a world of one


def current() -> World:
    """This process's place in the running process group (a world of one when there is none, or inside
    :func:`rank_0_alone`)."""
    if _alone or not (dist.is_available() and dist.is_initialized()):
        return World()
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def setup(device: torch.device, timeout_s: float = 600.0) -> tuple[World, torch.device]:
    """Join the launcher's process group, if there is one, and return the world and this rank's device.

    ``device`` is the device the user asked for, already resolved; on CUDA each rank takes
    ``cuda:LOCAL_RANK``. Outside a launcher this returns a world of one and ``device`` unchanged.
    """
    if not launched():
        return World(), device
    if not dist.is_available():
        raise ConfigError("torchrun: this PyTorch build has no torch.distributed")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ConfigError(f"torchrun: LOCAL_RANK {local_rank} but only {torch.cuda.device_count()} CUDA device(s) "
                              "on this machine (use --nproc_per_node at most the number of GPUs)")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        backend = "nccl"
    elif device.type == "cpu":
        backend = "gloo"
    else:
        raise ConfigError(f"--device {device.type}: distributed runs need cuda (NCCL) or cpu (gloo)")
    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))
    return current(), device


def teardown() -> None:
    """Leave the process group (at the end of a command)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


@contextmanager
def collective(what: str) -> Iterator[None]:
    """Turn the failure of a collective (another rank died or hung) into one line naming this rank."""
    try:
        yield
    except (RuntimeError, dist.DistBackendError) as e:  # gloo and NCCL report a lost peer as these
        world = current()
        raise GenlabError(f"rank {world.rank} of {world.size}: {what} failed, another rank stopped "
                          f"({str(e).splitlines()[0] if str(e) else type(e).__name__})") from e


def all_reduce_sum(tensor: torch.Tensor, what: str = "summing over ranks") -> torch.Tensor:
    """Replace ``tensor`` by its sum over every rank, in place (nothing to do in a world of one)."""
    if current().distributed:
        with collective(what):
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def group_device() -> torch.device:
    """The device the process group's collectives run on: this rank's GPU with NCCL, the CPU with gloo."""
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def gather(tensor: torch.Tensor, what: str = "gathering from ranks") -> torch.Tensor:
    """Every rank's ``tensor`` concatenated along dimension 0 in rank order (sizes may differ by rank), on
    ``tensor``'s device (``tensor`` itself in a world of one)."""
    world = current()
    if not world.distributed:
        return tensor
    with collective(what):
        mine = tensor.to(group_device())
        sizes = [torch.zeros((), dtype=torch.long, device=mine.device) for _ in range(world.size)]
        dist.all_gather(sizes, torch.tensor(mine.shape[0], device=mine.device))
        longest = int(max(sizes))
        padded = torch.zeros((longest, *mine.shape[1:]), dtype=mine.dtype, device=mine.device)
        padded[: mine.shape[0]] = mine
        parts = [torch.empty_like(padded) for _ in range(world.size)]
        dist.all_gather(parts, padded)
    return torch.cat([part[: int(n)] for part, n in zip(parts, sizes)]).to(tensor.device)


def broadcast_(tensor: torch.Tensor, what: str = "sharing rank 0's values") -> torch.Tensor:
    """Overwrite ``tensor`` on every rank with rank 0's, in place."""
    if current().distributed:
        with collective(what):
            shared = tensor.to(group_device())
            dist.broadcast(shared, src=0)
        tensor.copy_(shared)
    return tensor


def broadcast_buffers(module: torch.nn.Module) -> None:
    """Overwrite ``module``'s buffers (batch norm's running statistics) on every rank with rank 0's, as
    ``DistributedDataParallel`` does before each forward pass (nothing to do in a world of one)."""
    if current().distributed:
        for buffer in module.buffers():
            broadcast_(buffer, "sharing rank 0's running statistics")


def barrier(what: str = "waiting for every rank") -> None:
    if current().distributed:
        with collective(what):
            dist.barrier()


def rank_0_first(make: Callable[[], T], what: str) -> T:
    """``make()`` on rank 0, then on the other ranks: what it writes (a data set downloaded into a cache the
    ranks share) is there when they look, so they only read. In a world of one, ``make()``."""
    world = current()
    if world.main:
        made = make()
    barrier(what)
    if not world.main:
        made = make()
    return made


def rank_0_alone(make: Callable[[], T]) -> T | None:
    """``make()`` on rank 0 only, computing as a world of one (the estimators it calls split nothing and wait
    for no other rank, which are not there); None on the other ranks. For what rank 0 alone writes, such as
    a run's figures. In a world of one, ``make()``."""
    global _alone
    if not current().main:
        return None
    before, _alone = _alone, True
    try:
        return make()
    finally:
        _alone = before


def mean_over_ranks(means: dict[str, torch.Tensor], rows: int, what: str = "averaging over ranks"
                    ) -> dict[str, torch.Tensor]:
    """Means over this rank's ``rows`` rows of a global minibatch -> the means over all its rows, on every
    rank: sum_r rows_r * mean_r / sum_r rows_r, in one collective (ranks may hold different numbers of
    rows, or none: a rank without a row of a short last minibatch adds nothing). In a world of one, ``means``
    themselves."""
    if not current().distributed:
        return means
    first = next(iter(means.values()))
    flat = torch.cat([*(m.reshape(-1) * rows if rows else torch.zeros_like(m).reshape(-1) for m in means.values()),
                      torch.tensor([float(rows)], dtype=first.dtype, device=first.device)])
    all_reduce_sum(flat, what)
    total, sizes = flat[-1], [m.numel() for m in means.values()]
    return {name: part.div_(total).view_as(m)
            for (name, m), part in zip(means.items(), flat[:-1].split(sizes))}


def mean_gradients_over_ranks(module: torch.nn.Module, rows: int) -> None:
    """Replace the gradients of ``module``'s parameters, those of a loss averaged over this rank's ``rows``
    rows, by the gradients of the loss averaged over the whole global minibatch (nothing to do in a world
    of one). Unlike ``DistributedDataParallel``, this needs no wrapped ``forward`` and weighs ranks that
    hold different numbers of rows (a short last minibatch) by their rows."""
    if not current().distributed:
        return
    grads = {name: p.grad for name, p in module.named_parameters() if p.grad is not None}
    for name, mean in mean_over_ranks(grads, rows, "averaging gradients over ranks").items():
        grads[name].copy_(mean)


class ShareOfDraws:
    """A random stream (:class:`genlab.rng.UniformStream`) that draws from ``source`` (a generator or a counter
    stream) what one process draws for all ``rows`` rows (a global minibatch, every AIS chain) and keeps this
    rank's: the rows ``keep`` (a slice or their indices; by default its :func:`share`).

    Every rank holds the same source and makes the same draws, so W processes sample exactly the
    numbers one process samples, each row's from its own position among all rows. The draws' first
    dimension is the rows."""

    def __init__(self, source: torch.Generator | UniformStream, rows: int, keep: slice | torch.Tensor | None = None,
                 dtype: torch.dtype = torch.float32) -> None:
        self.source, self.rows, self.dtype = source, rows, dtype
        self.keep = share(rows) if keep is None else keep

    def uniform(self, shape: torch.Size | tuple[int, ...]) -> torch.Tensor:
        everyone = (self.rows, *shape[1:])
        if isinstance(self.source, torch.Generator):
            drawn = torch.rand(everyone, generator=self.source, device=self.source.device, dtype=self.dtype)
        else:
            drawn = self.source.uniform(everyone).to(self.dtype)
        drawn = drawn[self.keep]
        if drawn.shape[0] != shape[0]:
            raise ValueError(f"draws of {shape[0]} rows, but this rank keeps {drawn.shape[0]} of {self.rows}")
        return drawn


def draws_of_rows(source: torch.Generator | UniformStream, rows: int) -> RandomStream:
    """The random stream of this rank's rows of a global minibatch of ``rows`` rows: ``source`` (a generator
    or a counter stream) itself in a world of one, a :class:`ShareOfDraws` of it among several processes."""
    return ShareOfDraws(source, rows) if current().distributed else source


def share(n: int, world: World | None = None) -> slice:
    """This rank's contiguous part of ``n`` items (a global minibatch, a set of chains or test images).

    The parts of ranks 0..size-1 follow each other in order and differ in length by at most one,
    so concatenating them in rank order gives back all ``n``:

    >>> [share(10, World(r, 3)) for r in range(3)]
    [slice(0, 4, None), slice(4, 7, None), slice(7, 10, None)]
    """
    world = world or current()
    base, extra = divmod(n, world.size)
    start = world.rank * base + min(world.rank, extra)
    return slice(start, start + base + (1 if world.rank < extra else 0))
