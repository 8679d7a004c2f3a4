"""What every training run shares: the common options, the run directory, device, seed and data,
and the progress bar over epochs."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from genlab import accel, data
from genlab.config import Config, option, positive
from genlab.devices import resolve_device
from genlab.rng import make_generator
from genlab.runs import Run

# Called after each epoch of a training loop with (epoch, its result); what it returns joins the progress bar.
OnEpoch = Callable[[int, Any], "dict[str, Any] | None"]


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
    data_source: data.DataSource
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
        accel.check_compile(dev)  # before anything is written
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


def epoch_bar(n: int, desc: str, progress: bool = True, compiling: bool = False) -> tqdm:
    """A progress bar over epochs 1 to n; set its postfix with each epoch's numbers. ``compiling`` says
    on the bar that the first epoch includes compiling the step."""
    bar = tqdm(range(1, n + 1), desc=desc, unit="epoch", disable=not progress, dynamic_ncols=True, leave=True)
    if compiling:
        bar.set_postfix_str("compiling the training step (torch.compile; later runs reuse it)")
    return bar


def end_epoch(bar: tqdm, shown: dict[str, Any], on_epoch: OnEpoch | None, epoch: int, result: Any) -> None:
    """After an epoch: ``on_epoch(epoch, result)`` (logging, checkpoints, evaluation), and the numbers for the bar."""
    if on_epoch is not None:
        shown.update(on_epoch(epoch, result) or {})
    bar.set_postfix(shown)
