"""Compiled minibatch steps: any step of :mod:`genlab.algorithms` as ``torch.compile``d kernels.

A step ``step(model, batch, *extra, random)`` draws its random numbers from ``random``.
Here it draws them from a counter stream (:class:`~genlab.accel.threefry.CounterStream`)
inside its fused kernels: minibatch i of an epoch uses the stream (key, i), where the key
and the minibatch order are drawn from the run's generator at the start of the epoch
(:func:`epoch_draws`). On CUDA every epoch after the first replays a CUDA graph of the
whole epoch (:mod:`genlab.accel.graphs`).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
from collections.abc import Callable
from typing import Any

import torch

from genlab import data
from genlab.accel.graphs import GraphReplay
from genlab.accel.threefry import CounterStream, new_key
from genlab.errors import ConfigError


def check_compile(device: torch.device) -> None:
    """Fail early, in one line, when ``torch.compile`` cannot build kernels for ``device``.

    On the CPU its kernels are C++ built by the system's compiler; on CUDA they are Triton.
    """
    if device.type == "cpu":
        compiler = os.environ.get("CXX", "c++")
        if shutil.which(compiler) is None and shutil.which("g++") is None:
            raise ConfigError(f"--compile: torch.compile needs a C++ compiler on the CPU ({compiler} or g++ on PATH); "
                              "install one or train without --compile")
    elif device.type == "cuda":
        if importlib.util.find_spec("triton") is None:
            raise ConfigError("--compile: torch.compile needs Triton on CUDA (pip install triton); train without --compile")
    else:
        raise ConfigError(f"--compile: supported on cpu and cuda, not on {device.type}")


def available(device: torch.device) -> bool:
    """Whether ``torch.compile`` can build kernels for ``device`` (:func:`check_compile` passes)."""
    try:
        check_compile(device)
    except ConfigError:
        return False
    return True


def epoch_draws(n: int, generator: torch.Generator, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """What an epoch on a fast path takes from the run's generator: the counter stream's key, then
    the order of the n rows."""
    return new_key(generator, device), torch.randperm(n, generator=generator, device=device)


def with_counter_stream(step: Callable[..., torch.Tensor]) -> Callable[..., None]:
    """``step(model, batch, *extra, random)`` as one minibatch of an epoch drawing from the counter stream:
    ``f(model, x, idx, total, *extra, key=, step_no=)`` adds the step's output for the rows ``idx`` of
    ``x`` to ``total`` (so that, compiled, gathering the rows and summing join the step's kernels)."""

    def minibatch(model: Any, x: torch.Tensor, idx: torch.Tensor, total: torch.Tensor, *extra: Any,
                  key: torch.Tensor, step_no: torch.Tensor) -> None:
        total += step(model, data.rows(x, idx), *extra, CounterStream(key, step_no))

    return minibatch


@functools.cache
def compiled(step: Callable[..., torch.Tensor]) -> Callable[..., None]:
    """:func:`with_counter_stream` of ``step`` under ``torch.compile`` (compiled at its first call for each
    shape of its arguments; PyTorch caches the result on disk)."""
    return torch.compile(with_counter_stream(step), dynamic=False)


class CompiledSteps:
    """Epochs of compiled ``step(model, batch, *extra, random)`` over shuffled minibatches of the rows of ``x``.

    ``runner(generator)`` runs one epoch and returns the sum of the steps' outputs (a tensor
    on x's device). On CUDA (unless ``cuda_graph`` is off) the first epoch runs as it is and
    every later one replays a CUDA graph of the whole epoch, captured once: one launch per
    epoch instead of several per minibatch, with the same random numbers and arithmetic as
    the steps run one by one.
    """

    path = "steps"

    def __init__(self, step: Callable[..., torch.Tensor], model: Any, x: torch.Tensor, batch_size: int, *extra: Any,
                 cuda_graph: bool = True) -> None:
        check_compile(x.device)
        self.step, self.inputs = step, (model, x, batch_size, *extra)
        self.graph = GraphReplay(self.epoch) if x.device.type == "cuda" and cuda_graph else None

    def __call__(self, generator: torch.Generator) -> torch.Tensor:
        x = self.inputs[1]
        key, order = epoch_draws(x.shape[0], generator, x.device)
        if self.graph is None:
            return self.epoch(self.inputs, key, order)
        return self.graph(self.inputs, key, order)

    def epoch(self, inputs: tuple[Any, ...], key: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
        """One epoch of compiled steps; minibatch i draws from the counter stream (key, i)."""
        model, x, batch_size, *extra = inputs
        minibatch = compiled(self.step)
        total = torch.zeros((), device=x.device)
        starts = range(0, x.shape[0], batch_size)
        # minibatch i's step number, steps[i, 0]: one tensor made on the device (CUDA graphs allow no copies
        # from the host), rows of 16 bytes so that each view is as aligned as the compiled kernels assume
        steps = torch.arange(len(starts), device=x.device).repeat_interleave(2).view(-1, 2)
        for i, start in enumerate(starts):
            minibatch(model, x, order[start : start + batch_size], total, *extra, key=key, step_no=steps[i, 0])
        return total
