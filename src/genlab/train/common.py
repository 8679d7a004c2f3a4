"""What every training run shares: the common options, data, device, seed and run directory."""

from __future__ import annotations

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


def counter_step(step: Callable[..., T]) -> Callable[..., T]:
    """``step(*args, source)`` as ``f(*args, key=, step=)``: drawing from the counter stream (key, step)."""

    def with_counter(*args: Any, key: torch.Tensor, step_no: torch.Tensor) -> T:
        return step(*args, CounterStream(key, step_no))

    return with_counter


@functools.cache
def compiled(step: Callable[..., T]) -> Callable[..., T]:
    """:func:`counter_step` of ``step`` under ``torch.compile`` (compiled at its first call for each
    shape of its arguments; PyTorch caches the result on disk)."""
    return torch.compile(counter_step(step), dynamic=False)


def step_runner(step: Callable[..., T], compile: bool, generator: torch.Generator, device: torch.device) -> Callable[..., T]:
    """One epoch's way of running ``step(*args, source)``: ``run(i, *args)`` for minibatch i.

    Without ``compile`` the source is ``generator``; with it the step is compiled and draws
    from a counter stream under a key drawn from ``generator`` now (once per epoch).
    """
    if not compile:
        return lambda i, *args: step(*args, generator)
    check_compile(device)
    key, fn = new_key(generator, device), compiled(step)
    return lambda i, *args: fn(*args, key=key, step_no=torch.tensor(i, device=device))


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
