"""Data-parallel runs on PyTorch's own engine: ``torchrun ... -m genlab train ...``.

genlab never starts processes itself. When a launcher such as ``torchrun`` has set ``RANK`` and
``WORLD_SIZE`` (with ``WORLD_SIZE`` above 1), :func:`setup` joins its process group (NCCL on CUDA,
gloo on the CPU) and gives each process its device (``cuda:LOCAL_RANK`` on a GPU machine). In a plain
process every function here is a no-op over a world of one, so code written with them reads the same
in both cases:

    world = current()
    rows = share(batch_size, world)            # this rank's part of a global minibatch
    all_reduce_sum(gradient_sum)               # the sum over every rank's part
    if world.main: write_run_directory(...)    # rank 0 alone writes files

A collective that fails because another process died raises :class:`~genlab.errors.GenlabError`
naming this rank, so every surviving rank ends with one line instead of a traceback.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist

from genlab.errors import ConfigError, GenlabError


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


def current() -> World:
    """This process's place in the running process group (a world of one when there is none)."""
    if not (dist.is_available() and dist.is_initialized()):
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


def all_gather_cat(tensor: torch.Tensor, what: str = "gathering from ranks") -> torch.Tensor:
    """Every rank's ``tensor`` concatenated along dimension 0 in rank order (sizes may differ by rank)."""
    world = current()
    if not world.distributed:
        return tensor
    with collective(what):
        sizes = [torch.zeros((), dtype=torch.long, device=tensor.device) for _ in range(world.size)]
        dist.all_gather(sizes, torch.tensor(tensor.shape[0], device=tensor.device))
        longest = int(max(sizes))
        padded = torch.zeros((longest, *tensor.shape[1:]), dtype=tensor.dtype, device=tensor.device)
        padded[: tensor.shape[0]] = tensor
        parts = [torch.empty_like(padded) for _ in range(world.size)]
        dist.all_gather(parts, padded)
    return torch.cat([part[: int(n)] for part, n in zip(parts, sizes)])


def broadcast_(tensor: torch.Tensor, what: str = "sharing rank 0's values") -> torch.Tensor:
    """Overwrite ``tensor`` on every rank with rank 0's, in place."""
    if current().distributed:
        with collective(what):
            dist.broadcast(tensor, src=0)
    return tensor


def barrier(what: str = "waiting for every rank") -> None:
    if current().distributed:
        with collective(what):
            dist.barrier()


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
