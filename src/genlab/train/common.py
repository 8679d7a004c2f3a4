"""What every training run shares: the common options, data, device, seed and run directory."""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
from tqdm import tqdm

from genlab import data
from genlab.config import Config, option, positive
from genlab.devices import check_compile, resolve_device
from genlab.rng import CounterStream, make_generator, new_key
from genlab.runs import Run

T = TypeVar("T")


@dataclass
class TrainConfig(Config):
    """Options every model family has."""

    dataset: str = option("mnist", "data set: mnist, fashion-mnist, or a directory holding the four IDX files")
    limit: int | None = option(None, "train on the first N training images only (quick runs)", check=positive)
    seed: int = option(0, "random seed; on the CPU the same seed gives bit-identical weights")


@dataclass
class Session:
    """A training run in progress: its directory, device, random stream and data."""

    run: Run
    device: torch.device
    generator: torch.Generator
    source: data.DataSource
    train: data.ImageSet
    test: data.ImageSet
    started: float

    def elapsed(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter() - self.started


def start(
    family: str,
    config: TrainConfig,
    out: str | Path,
    device: str | torch.device = "auto",
    data_dir: str | Path | None = None,
    overwrite: bool = False,
) -> Session:
    """Resolve device and data, seed everything, and create the run directory."""
    dev = resolve_device(device)
    if getattr(config, "compile", False):
        check_compile(dev)  # before anything is written
    source = data.resolve(config.dataset, data_dir)
    train = data.load_split(source, "train", dev, limit=config.limit)
    test = data.load_split(source, "test", dev)
    torch.manual_seed(config.seed)  # for nn.Module initialisers that take no generator
    run = Run.create(
        out,
        family,
        config.to_dict(),
        data={
            "dataset": source.name,
            "directory": str(source.directory.resolve()),
            "sha256": data.checksums(source),
            "train_images": len(train),
            "test_images": len(test),
            "image_shape": list(train.image_shape),
            "classes": source.classes,
        },
        device=str(dev),
        overwrite=overwrite,
    )
    return Session(run, dev, make_generator(config.seed, dev), source, train, test, time.perf_counter())


def epochs(n: int, desc: str, progress: bool = True) -> tqdm:
    """A progress bar over epochs; set its postfix with the epoch's numbers."""
    return tqdm(range(1, n + 1), desc=desc, unit="epoch", disable=not progress, dynamic_ncols=True, leave=True)


OnEpoch = Callable[[int, Any], "dict[str, Any] | None"]


def run_epochs(
    n: int,
    desc: str,
    one_epoch: Callable[[int], T],
    shown: Callable[[T], dict[str, Any]],
    progress: bool = True,
    on_epoch: OnEpoch | None = None,
    compiling: bool = False,
) -> list[T]:
    """Every training loop of genlab: ``one_epoch(epoch)`` for epochs 1 to ``n`` under a progress bar.

    After each epoch, ``on_epoch(epoch, result)`` (1-based; logging, checkpoints,
    evaluation) may return more numbers for the bar, beside ``shown(result)``.
    ``compiling`` says on the bar that the first epoch includes compiling the step.
    Returns the epochs' results.
    """
    results = []
    bar = epochs(n, desc, progress)
    if compiling:
        bar.set_postfix_str("compiling the training step (torch.compile; later runs reuse it)")
    for epoch in bar:
        result = one_epoch(epoch)
        results.append(result)
        postfix = shown(result)
        if on_epoch is not None:
            postfix.update(on_epoch(epoch, result) or {})
        bar.set_postfix(postfix)
    return results


# -- compiled minibatch steps ---------------------------------------------------


def counter_step(step: Callable[..., torch.Tensor]) -> Callable[..., None]:
    """``step(model, batch, *extra, source)`` as one minibatch of an epoch drawing from the counter stream:
    ``f(model, x, idx, total, *extra, key=, step_no=)`` adds the step's output for the rows ``idx`` of
    ``x`` to ``total`` (so that, compiled, gathering the rows and summing join the step's kernels)."""

    def minibatch(model: Any, x: torch.Tensor, idx: torch.Tensor, total: torch.Tensor, *extra: Any,
                  key: torch.Tensor, step_no: torch.Tensor) -> None:
        total += step(model, data.rows(x, idx), *extra, CounterStream(key, step_no))

    return minibatch


@functools.cache
def compiled(step: Callable[..., torch.Tensor]) -> Callable[..., None]:
    """:func:`counter_step` of ``step`` under ``torch.compile`` (compiled at its first call for each
    shape of its arguments; PyTorch caches the result on disk)."""
    return torch.compile(counter_step(step), dynamic=False)


class MinibatchEpochs:
    """Epochs of ``step(model, batch, *extra, source)`` over shuffled minibatches of the rows of ``x``.

    ``epochs(model, x, batch_size, generator, *extra)`` runs one epoch and returns the
    sum of the steps' outputs (a tensor on x's device). Without ``compile`` the steps
    draw from ``generator``. With it each step is compiled and draws from a counter
    stream under a key drawn from ``generator`` at the start of each epoch; on CUDA
    (unless ``cuda_graph`` is off) the first epoch runs as it is and every later one
    replays a CUDA graph of a whole epoch's compiled steps, captured once: one launch
    per epoch instead of several per minibatch, with the same random numbers and
    arithmetic as the steps run one by one.
    """

    def __init__(self, step: Callable[..., torch.Tensor], compile: bool, cuda_graph: bool = True) -> None:
        self.step, self.compile, self.cuda_graph = step, compile, cuda_graph
        self.graphed = GraphedEpochs(self.compiled_epoch)

    def __call__(self, model: Any, x: torch.Tensor, batch_size: int, generator: torch.Generator, *extra: Any) -> torch.Tensor:
        device = x.device
        if not self.compile:
            total = torch.zeros((), device=device)
            for idx in data.batch_indices(x.shape[0], batch_size, generator):
                total += self.step(model, data.rows(x, idx), *extra, generator)
            return total
        check_compile(device)
        key, order = counter_epoch_draws(x.shape[0], generator, device)
        inputs = (model, x, batch_size, *extra)
        if device.type != "cuda" or not self.cuda_graph:
            return self.compiled_epoch(inputs, key, order)
        return self.graphed(inputs, key, order)

    def compiled_epoch(self, inputs: tuple[Any, ...], key: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
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


def counter_epoch_draws(n: int, generator: torch.Generator, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """What an epoch drawing from a counter stream takes from the run's generator: the stream's key, then
    the order of the n rows."""
    return new_key(generator, device), torch.randperm(n, generator=generator, device=device)


class GraphedEpochs:
    """``epoch(inputs, key, order)`` -> total on CUDA, replayed from a CUDA graph: the first call for some
    ``inputs`` runs as it is (compiling what it compiles, every variant of its kernels), on the
    stream the capture will use, as CUDA graphs want; the second captures a graph of it, which
    every later call replays with its own key and order."""

    def __init__(self, epoch: Callable[..., torch.Tensor]) -> None:
        self.epoch = epoch
        self.graph: EpochGraph | None = None
        self.previous: tuple[Any, ...] | None = None  # the inputs of the last epoch run without a graph
        self.stream: torch.cuda.Stream | None = None  # where epochs are warmed up and captured

    def __call__(self, inputs: tuple[Any, ...], key: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
        if self.graph is None or not self.graph.captured_for(inputs):
            self.stream = self.stream or torch.cuda.Stream(order.device)
            if self.previous is None or not same_objects(inputs, self.previous):
                self.previous = inputs
                with on_side_stream(self.stream):
                    return self.epoch(inputs, key, order)
            self.graph = EpochGraph(self.epoch, inputs, order, self.stream)
        return self.graph.replay(key, order)


def same_objects(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return len(a) == len(b) and all(p is q for p, q in zip(a, b))


class EpochGraph:
    """A CUDA graph of one epoch, replayed with a new key and minibatch order each epoch."""

    def __init__(self, epoch: Callable[..., torch.Tensor], inputs: tuple[Any, ...], order: torch.Tensor,
                 stream: torch.cuda.Stream) -> None:
        self.inputs = inputs
        self.key = torch.zeros(2, dtype=torch.int64, device=order.device)  # static buffers that the graph reads
        self.order = torch.empty_like(order)
        self.graph = torch.cuda.CUDAGraph()
        torch.cuda.synchronize(order.device)
        with torch.cuda.graph(self.graph, stream=stream):
            self.total = epoch(inputs, self.key, self.order)

    def captured_for(self, inputs: tuple[Any, ...]) -> bool:
        return same_objects(inputs, self.inputs)

    def replay(self, key: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
        self.key.copy_(key)
        self.order.copy_(order)
        self.graph.replay()
        return self.total.clone()


@contextlib.contextmanager
def on_side_stream(stream: torch.cuda.Stream) -> Iterator[None]:
    """Run the block's CUDA work on ``stream``, ordered after and before the current stream's."""
    current = torch.cuda.current_stream(stream.device)
    stream.wait_stream(current)
    with torch.cuda.stream(stream):
        yield
    current.wait_stream(stream)


def chunks(x: torch.Tensor, size: int) -> Iterator[torch.Tensor]:
    """Consecutive row blocks of ``x`` (for evaluation in bounded memory)."""
    for start in range(0, x.shape[0], size):
        yield x[start : start + size]


def mean_over(batches: Iterable[tuple[float, int]]) -> float:
    """Weighted mean of (value, count) pairs."""
    total = count = 0.0
    for value, n in batches:
        total += value * n
        count += n
    return total / max(count, 1)
