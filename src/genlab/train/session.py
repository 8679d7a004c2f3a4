"""What every training run shares: the common options, the run directory, device, seed and data,
and the progress bar over epochs."""

from __future__ import annotations

import contextlib
import functools
import math
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn
from tqdm import tqdm

from genlab import accel, data
from genlab.config import Config, option, positive, seed_range
from genlab.devices import check_fits, resolve_device
from genlab.errors import GenlabError
from genlab.rng import make_generator
from genlab.runs import LOG, MODEL, Run

# Called after each epoch of a training loop with (epoch, its result); what it returns joins the progress bar.
OnEpoch = Callable[[int, Any], "dict[str, Any] | None"]


@dataclass
class TrainConfig(Config):
    """Options every model family has."""

    dataset: str = option("mnist", "data set: mnist, fashion-mnist, or a directory holding the four IDX files")
    limit: int | None = option(None, "train on the first N training images only (quick runs)", check=positive)
    seed: int = option(0, "random seed; on the CPU the same seed gives bit-identical weights", check=seed_range)


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
    shapes: Callable[[int], dict[str, tuple[int, ...]]] | None = None,
) -> Session:
    """Resolve device and data, seed everything, and create the run directory. ``shapes(n_pixels)``, the
    model's tensor shapes, lets a model too large for the device be refused before anything is made."""
    dev = resolve_device(device)
    if getattr(config, "compile", False):
        accel.check_compile(dev)  # before anything is written
    source = data.resolve(config.dataset, data_dir)
    train = data.load_split(source, "train", dev, limit=config.limit)
    test = data.load_split(source, "test", dev)
    if shapes is not None:
        pixels = train.images[0].numel()
        check_fits(training_memory(shapes(pixels), config.batch_size, pixels), dev, "training this model",  # type: ignore[attr-defined]
                   "choose smaller layers or a smaller --batch-size")
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


def training_memory(shapes: dict[str, tuple[int, ...]], batch_size: int, pixels: int) -> int:
    """A rough upper estimate of training's memory in bytes: four float32 copies of the parameters (the
    weights, their gradients and an optimiser's two moments) and four of a minibatch's pixels and units
    (the layer widths: the biases' sizes)."""
    params = sum(math.prod(shape) for shape in shapes.values())
    units = sum(shape[0] for shape in shapes.values() if len(shape) == 1)
    return 4 * 4 * (params + batch_size * (pixels + units))


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


Train = TypeVar("Train", bound=Callable[..., Run])


def leaves_nothing_half_made(train: Train) -> Train:
    """Wrap a family's ``train(config, out, ...)``: when it fails before its first epoch is logged, in a
    directory ``out`` that this call made, that directory is removed again."""

    @functools.wraps(train)
    def guarded(config: Any, out: str | Path, *args: Any, **kwargs: Any) -> Run:
        path = Path(out)
        existed = path.exists()
        try:
            return train(config, out, *args, **kwargs)
        except BaseException:
            if not existed and path.is_dir() and not (path / LOG).exists():
                shutil.rmtree(path, ignore_errors=True)
            raise

    return guarded  # type: ignore[return-value]


class NonFiniteTraining(GenlabError):
    """A loss, an error or a parameter became NaN or infinite: training cannot go on."""


def check_finite(model: nn.Module, epoch: int, numbers: dict[str, float]) -> None:
    """After an epoch, before anything is saved: raise :class:`NonFiniteTraining` when one of the epoch's
    ``numbers`` (by what they are, e.g. ``{"reconstruction error": 0.05}``) or a tensor of ``model`` is
    NaN or infinite (one pass over the parameters, cheap beside an epoch)."""
    for what, value in numbers.items():
        if not math.isfinite(value):
            raise NonFiniteTraining(f"the {what} is {value} in epoch {epoch}")
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise NonFiniteTraining(f"{name} holds NaN or infinite values after epoch {epoch}")


@contextlib.contextmanager
def stopped_when_not_finite(run: Run) -> Iterator[None]:
    """Turn :class:`NonFiniteTraining` inside the block into a one-line error: the run is marked as
    stopped (config.json's ``stopped``, no ``train_time_s``) and keeps its last finite model."""
    try:
        yield
    except NonFiniteTraining as e:
        run.update_meta(stopped=str(e))
        if (run.path / MODEL).is_file() and run.log:
            last = run.log[-1]
            epoch = f"epoch {last['epoch']}" + (f" of layer {last['layer']}" if "layer" in last else "")
            kept = f"{run.path / MODEL} keeps {epoch}, the last with finite values"
        elif run.log:  # a DBN's RBM 1 is saved with its top RBM
            kept = "no model was saved"
        else:
            kept = "no epoch finished, so no model was saved"
        raise GenlabError(f"{run.family}: {e}; training stopped ({kept}); a lower --lr may help") from None
