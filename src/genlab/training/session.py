"""What every training run shares: the common options, the run directory, device, seed and data, the
log (with ``--tensorboard`` also as TensorBoard scalars), the progress bar and the warning of a run too short
to learn.

Under a launcher (``torchrun``, :mod:`genlab.distributed`) every rank runs the same training code; rank 0
alone writes the run directory, shows the progress bar and warns. The other ranks keep the run's config
and log in memory (:class:`UnwrittenRun`) and never write a file."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import shutil
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn
from tqdm import tqdm

from genlab import data, distributed
from genlab.config import Config, flag_of, option, positive, seed_range
from genlab.devices import check_fits, resolve_device
from genlab.errors import ConfigError, GenlabError, GenlabWarning
from genlab.files import jsonable
from genlab.rng import make_generator
from genlab.runs import CHECKPOINT, LOG, MODEL, FIGURES, Run

# Called after each epoch of a training loop with (epoch, its result); what it returns joins the progress bar.
OnEpoch = Callable[[int, Any], "dict[str, Any] | None"]
T = TypeVar("T")

TENSORBOARD = "tensorboard"  # RUN/tensorboard/: the event files of --tensorboard

@dataclass
class TrainConfig(Config):
    """Options every model family has."""

    dataset: str = option("mnist", "data set: mnist, fashion-mnist, or a directory holding the four IDX files")
    limit: int | None = option(None, "train on the first N training images only (quick runs)", check=positive)
    seed: int = option(0, "random seed; on the CPU the same seed gives bit-identical weights", check=seed_range)
    checkpoint_every: int = option(1, "write a checkpoint to continue from (--resume) after every N epochs",
                                   check=positive, identity=False)
    checkpoint_minutes: float = option(10.0, "... and after any epoch that ends this many minutes after the last one",
                                       check=positive, identity=False)
    tensorboard: bool = option(False, "also write every number of log.jsonl as a TensorBoard scalar into "
                               "RUN/tensorboard/ (needs pip install genlab[tensorboard])", identity=False)


@dataclass
class Checkpoint:
    """Where an interrupted run stands: the ``phase`` of training (e.g. a DBN's "layer 1" or "top"), its last
    finished ``epoch``, and the tensors to continue from, by prefix (``model.W``, ``rng.train``, ...)."""

    phase: str
    epoch: int
    tensors: dict[str, torch.Tensor]
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)
    device: torch.device = torch.device("cpu")

    def part(self, prefix: str) -> dict[str, torch.Tensor]:
        """The tensors saved under ``prefix`` (without it), on the run's device."""
        start = prefix + "."
        return {name[len(start):]: t.to(self.device) for name, t in self.tensors.items() if name.startswith(start)}

    def restore_generators(self, generators: dict[str, torch.Generator]) -> None:
        """Put the random generators where they were at the checkpoint (and PyTorch's global one)."""
        torch.set_rng_state(self.tensors["rng.torch"])
        for name, generator in generators.items():
            generator.set_state(self.tensors[f"rng.{name}"])


class UnwrittenRun(Run):
    """The run directory as a rank other than 0 sees it: its config.json and log, kept in memory only. Rank 0
    writes the files; here every method that would write one changes only what is in memory."""

    @property
    def figures(self) -> Path:
        return self.path / FIGURES

    def update_meta(self, **items: Any) -> None:
        self.meta.update(items)

    def append_log(self, entry: dict[str, Any]) -> None:
        self.log.append(jsonable(entry))

    def truncate_log(self, length: int) -> None:
        del self.log[length:]

    def save_model(self, tensors: dict[str, torch.Tensor]) -> Path:
        return self.path / MODEL

    def save_checkpoint(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
        return self.path / CHECKPOINT

    def remove_checkpoint(self) -> None:
        pass


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
    config: TrainConfig
    resumed: Checkpoint | None = None  # where training continues from (--resume)
    last_checkpoint: float = 0.0
    scalars: TensorBoardScalars | None = None  # with --tensorboard
    world: distributed.World = distributed.World()  # under a launcher: this rank among the job's processes

    def log(self, entry: dict[str, Any]) -> None:
        """Add one epoch's record to log.jsonl (with ``--tensorboard``, also its numbers as scalars)."""
        self.run.append_log(entry)
        if self.scalars is not None:
            self.scalars.add(self.run.log[-1])

    def elapsed(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter() - self.started

    def checkpoint(self, phase: str, epoch: int, tensors: dict[str, dict[str, torch.Tensor]],
                   generators: dict[str, torch.Generator], last: bool = False, **meta: Any) -> None:
        """After an epoch: write a checkpoint when one is due (every ``checkpoint_every`` epochs, or
        ``checkpoint_minutes`` after the last one), with the training state ``tensors`` by prefix and the
        random generators' states. ``last``: the phase's last epoch (always written); ``meta``: numbers
        to keep with it (:attr:`Checkpoint.meta`)."""
        minutes = (time.perf_counter() - self.last_checkpoint) / 60
        if not (last or epoch % self.config.checkpoint_every == 0 or minutes >= self.config.checkpoint_minutes):
            return
        flat = {f"{prefix}.{name}": t for prefix, part in tensors.items() for name, t in part.items()}
        flat["rng.torch"] = torch.get_rng_state()
        flat.update({f"rng.{name}": g.get_state() for name, g in generators.items()})
        where = {"phase": phase, "epoch": epoch, "log_length": len(self.run.log), "time_s": self.elapsed()}
        self.run.save_checkpoint(flat, {**where, **meta})
        self.last_checkpoint = time.perf_counter()

    def first_epoch(self, phase: str) -> int:
        """The epoch of ``phase`` that training starts at: 1, or the one after a resumed checkpoint's."""
        return self.resumed.epoch + 1 if self.resumed is not None and self.resumed.phase == phase else 1

    def finish(self, **meta: Any) -> None:
        """Mark the run as finished (``meta`` such as ``train_time_s`` joins config.json) and drop its checkpoint."""
        if self.scalars is not None:
            self.scalars.close()
        self.run.update_meta(**meta)
        self.run.remove_checkpoint()


class TensorBoardScalars:
    """Log entries as TensorBoard scalars in ``RUN/tensorboard/``: every number of an entry (not its lists,
    such as a DCGAN's loss curves) under its name, at its epoch as the step; a DBN's entries under
    ``layer N/NAME``, since both layers count their epochs from 1. The event file is made at the first
    entry and flushed after each one, so TensorBoard shows a run while it trains."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.writer: Any = None

    def add(self, entry: dict[str, Any]) -> None:
        if self.writer is None:
            self.writer = summary_writer()(str(self.directory))
        prefix = f"layer {entry['layer']}/" if "layer" in entry else ""
        for name, value in entry.items():
            if name not in ("epoch", "layer") and isinstance(value, int | float) and not isinstance(value, bool):
                self.writer.add_scalar(prefix + name, value, entry["epoch"])
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def summary_writer() -> type:
    """PyTorch's TensorBoard ``SummaryWriter``, or a one-line error saying how to install TensorBoard."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError("--tensorboard: TensorBoard is not installed; pip install genlab[tensorboard]") from None
    return SummaryWriter


def tensorboard_scalars(run: Run) -> TensorBoardScalars:
    """The scalars of ``run``, started again from its log.jsonl (after ``--resume`` the log holds only the epochs
    up to the checkpoint, and so will the event files)."""
    directory = run.path / TENSORBOARD
    shutil.rmtree(directory, ignore_errors=True)
    scalars = TensorBoardScalars(directory)
    for entry in run.log:
        scalars.add(entry)
    return scalars


def start(
    family: str,
    config: TrainConfig,
    out: str | Path,
    device: str | torch.device = "auto",
    data_dir: str | Path | None = None,
    overwrite: bool = False,
    shapes: Callable[[int], dict[str, tuple[int, ...]]] | None = None,
    resume: bool = False,
) -> Session:
    """Resolve device and data, seed everything, and create the run directory (with ``resume``, open the
    interrupted run there and its checkpoint). ``shapes(n_pixels)``, the model's tensor shapes, lets a
    model too large for the device be refused before anything is made."""
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite: choose one (continue the run in --out, or start it again)")
    world, dev = distributed.setup(resolve_device(device))  # joins the launcher's processes, if any
    if world.distributed:
        check_data_parallel(config)
    if config.tensorboard:
        summary_writer()  # installed? (before anything is written)
    source = distributed.rank_0_first(lambda: data.resolve(config.dataset, data_dir), "finding the data set")
    train = data.load_split(source, "train", dev, limit=config.limit)
    test = data.load_split(source, "test", dev)
    if shapes is not None:
        pixels = train.images[0].numel()
        check_fits(training_memory(shapes(pixels), config.batch_size, pixels), dev, "training this model",  # type: ignore[attr-defined]
                   "choose smaller layers or a smaller --batch-size")
    torch.manual_seed(config.seed)  # for nn.Module initialisers that take no generator
    if resume:
        if world.main:  # rank 0 checks the run and cuts its log back to the checkpoint, ...
            run, checkpoint = resumable(family, config, out, data.checksums(source), dev)
            run.truncate_log(checkpoint[1]["log_length"])
        distributed.barrier("opening the run to resume")
        if not world.main:  # ... then the other ranks read what it left
            opened = Run.open(out)
            run, checkpoint = UnwrittenRun(opened.path, opened.meta, opened.log), opened.load_checkpoint()
        started = time.perf_counter() - checkpoint[1]["time_s"]
        resumed = Checkpoint(checkpoint[1]["phase"], checkpoint[1]["epoch"], checkpoint[0], checkpoint[1], dev)
        return Session(run, dev, make_generator(config.seed, dev), source, train, test, started, config, resumed,
                       scalars=tensorboard_scalars(run) if config.tensorboard and world.main else None, world=world)
    record = {
        "dataset": source.name,
        "directory": str(source.directory.resolve()),
        "sha256": data.checksums(source),
        "train_images": len(train),
        "test_images": len(test),
        "image_shape": list(train.image_shape),
        "classes": source.classes,
    }
    if world.main:
        run = Run.create(out, family, config.to_dict(), data=record, device=str(dev), overwrite=overwrite)
        shutil.rmtree(run.path / TENSORBOARD, ignore_errors=True)  # the scalars of a run overwritten here
    else:
        run = UnwrittenRun(Path(out), {"family": family, "config": config.to_dict(), "data": record, "device": str(dev)})
    distributed.barrier("creating the run directory")  # a directory rank 0 cannot create ends every rank
    return Session(run, dev, make_generator(config.seed, dev), source, train, test, time.perf_counter(), config,
                   scalars=tensorboard_scalars(run) if config.tensorboard and world.main else None, world=world)


def fast_paths_wanted(config: TrainConfig) -> bool:
    """Whether the run may take a fast path: ``compile`` is on (the default) and it runs in one process (the
    fast paths run whole epochs, with no step at which to sum over ranks, so a launcher's ranks take the plain
    loop)."""
    return bool(getattr(config, "compile", False)) and not distributed.current().distributed


def check_data_parallel(config: TrainConfig) -> None:
    """Under a launcher: refuse, in one line, what does not train data-parallel (yet)."""
    if getattr(config, "temperatures", 1) > 1:
        raise ConfigError("--temperatures: not under torchrun yet (the tempered chains are not shared out by rank); "
                          "train in one process")


def resumable(family: str, config: TrainConfig, out: str | Path, checksums: dict[str, str], device: torch.device
              ) -> tuple[Run, tuple[dict[str, torch.Tensor], dict[str, Any]]]:
    """The interrupted run in ``out`` and its checkpoint, when ``config`` is the one it was started with."""
    run = Run.open(out)
    if run.family != family:
        raise ConfigError(f"--resume: {out} holds a {run.family} run, not a {family} run")
    if run.finished:
        raise ConfigError(f"--resume: the run in {out} has finished; nothing to continue")
    if run.meta.get("device") != str(device):
        raise ConfigError(f"--resume: the run in {out} was started on {run.meta.get('device')!r}, not on {device}; "
                          "pass the same --device")
    before = run.config_as(type(config)).identity()
    now = config.identity()
    changed = [f"{flag_of(f)} {before.get(f.name)!r} (now {now.get(f.name)!r})" for f in dataclasses.fields(config)
               if f.name in now and before.get(f.name) != now.get(f.name)]
    if changed:
        raise ConfigError(f"--resume: the run in {out} was started with other options: {', '.join(changed)}")
    if run.meta["data"].get("sha256") != checksums:
        raise ConfigError(f"--resume: the run in {out} was trained on other data files ({run.meta['data'].get('dataset')!r})")
    checkpoint = run.load_checkpoint()
    if checkpoint is None:
        raise ConfigError(f"--resume: the run in {out} has no checkpoint (no epoch finished); start it again with --overwrite")
    return run, checkpoint


def training_memory(shapes: dict[str, tuple[int, ...]], batch_size: int, pixels: int) -> int:
    """A rough upper estimate of training's memory in bytes: four float32 copies of the parameters (the
    weights, their gradients and an optimiser's two moments) and four of a minibatch's pixels and units
    (the layer widths: the biases' sizes)."""
    params = sum(math.prod(shape) for shape in shapes.values())
    units = sum(shape[0] for shape in shapes.values() if len(shape) == 1)
    return 4 * 4 * (params + batch_size * (pixels + units))


class EpochBar:
    """A progress bar over the steps (minibatches) of epochs ``first`` to ``epochs``, ``per_epoch`` each, with the
    epoch in its description, so that it moves within a long epoch. Iterate over it for the epochs and wrap each
    epoch's minibatches in :meth:`steps`; a fast path that runs a whole epoch at once moves it by the epoch. It
    draws no random numbers, and with ``progress=False`` (or on a rank other than 0) prints nothing."""

    def __init__(self, epochs: int, per_epoch: int, desc: str, progress: bool = True, compiling: bool = False,
                 first: int = 1, unit: str = "minibatch") -> None:
        self.epochs, self.per_epoch, self.desc, self.first = epochs, per_epoch, desc, first
        self.bar = tqdm(total=epochs * per_epoch, initial=(first - 1) * per_epoch, desc=self.describe(first),
                        unit=unit, disable=not (progress and distributed.current().main), dynamic_ncols=True,
                        leave=True)
        if compiling:
            self.bar.set_postfix_str("compiling the training step (torch.compile; later runs reuse it)")

    def __iter__(self) -> Iterator[int]:
        for epoch in range(self.first, self.epochs + 1):
            self.bar.set_description(self.describe(epoch))
            yield epoch
            self.bar.update(epoch * self.per_epoch - self.bar.n)  # the rest of the epoch
        self.bar.close()

    def describe(self, epoch: int) -> str:
        """The bar's description during ``epoch``."""
        return f"{self.desc} epoch {epoch}/{self.epochs}"

    def steps(self, items: Iterable[T]) -> Iterator[T]:
        """``items`` (an epoch's minibatches, or a DCGAN's iterations), moving the bar by one after each."""
        for item in items:
            yield item
            self.bar.update()

    def show(self, numbers: dict[str, Any]) -> None:
        """Show an epoch's numbers beside the bar."""
        self.bar.set_postfix(numbers)


def steps_per_epoch(images: int, batch_size: int, per_step: int = 1) -> int:
    """An epoch's steps (updates): its minibatches of ``batch_size`` of the ``images``, ``per_step`` at a time
    (a DCGAN's ``d_steps``)."""
    return math.ceil(math.ceil(images / batch_size) / per_step)


def epoch_bar(epochs: int, images: int, batch_size: int, desc: str, progress: bool = True, compiling: bool = False,
              first: int = 1, per_step: int = 1, unit: str = "minibatch") -> EpochBar:
    """The :class:`EpochBar` of epochs over ``images`` in steps of ``per_step`` minibatches of ``batch_size``;
    ``compiling`` says on it that the first epoch includes compiling the step."""
    return EpochBar(epochs, steps_per_epoch(images, batch_size, per_step), desc, progress, compiling, first, unit)


def end_epoch(bar: EpochBar, shown: dict[str, Any], on_epoch: OnEpoch | None, epoch: int, result: Any) -> None:
    """After an epoch: ``on_epoch(epoch, result)`` (logging, checkpoints, evaluation), and the numbers for the bar."""
    if on_epoch is not None:
        shown.update(on_epoch(epoch, result) or {})
    bar.show(shown)


class FewUpdatesWarning(GenlabWarning):
    """A training run makes too few parameter updates to learn anything."""


def warn_if_few_updates(what: str, epochs: int, images: int, batch_size: int, enough: int, per_step: int = 1,
                        unit: tuple[str, str] = ("minibatch", "minibatches"), outcome: str = "results will be noise",
                        ) -> None:
    """Warn (:class:`FewUpdatesWarning`, one line) when ``epochs`` over ``images`` in steps (``unit``, singular
    and plural) of ``per_step`` minibatches of ``batch_size`` make fewer than the ``enough`` updates that ``what``
    needs, and say what to change (``outcome`` says what happens otherwise). Among several processes, rank 0
    alone warns."""
    per_epoch = steps_per_epoch(images, batch_size, per_step)
    updates = epochs * per_epoch
    if updates >= enough or not distributed.current().main:  # rank 0 speaks for every rank
        return
    advice = f"use --epochs {math.ceil(enough / per_epoch)}"
    smaller = images * epochs // (enough * per_step)  # a minibatch size that makes about enough updates
    if smaller >= 10:
        advice += f" or a smaller --batch-size (e.g. --batch-size {smaller // 10 * 10})"
    steps = counted(per_epoch, *unit) + (f" of {per_step} minibatches" if per_step > 1 else "")
    warnings.warn(f"{what}: only {updates} updates ({counted(epochs, 'epoch', 'epochs')} x {steps} of {batch_size}); "
                  f"{outcome}: {advice}", FewUpdatesWarning, stacklevel=2)


def counted(n: int, singular: str, plural: str) -> str:
    """'1 epoch', '3 epochs'."""
    return f"{n} {singular if n == 1 else plural}"


Train = TypeVar("Train", bound=Callable[..., Run])


def leaves_nothing_half_made(train: Train) -> Train:
    """Wrap a family's ``train(config, out, ...)``: when it fails before its first epoch is logged, in a
    directory ``out`` that this call made, that directory is removed again (by rank 0, which made it)."""

    @functools.wraps(train)
    def guarded(config: Any, out: str | Path, *args: Any, **kwargs: Any) -> Run:
        path = Path(out)
        existed = path.exists()
        try:
            return train(config, out, *args, **kwargs)
        except BaseException:
            if distributed.current().main and not existed and path.is_dir() and not (path / LOG).exists():
                shutil.rmtree(path, ignore_errors=True)
            raise

    return guarded  # type: ignore[return-value]


def optimizer_tensors(optimizer: Any) -> dict[str, torch.Tensor]:
    """An optimiser's state (``state_dict()["state"]``, as torch.optim writes it) as named tensors."""
    return {f"{index}.{key}": torch.as_tensor(value) for index, state in optimizer.state_dict()["state"].items()
            for key, value in state.items()}


def load_optimizer(optimizer: Any, tensors: dict[str, torch.Tensor]) -> None:
    """Put :func:`optimizer_tensors` back into ``optimizer``."""
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, tensor in tensors.items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = tensor
    saved = optimizer.state_dict()
    optimizer.load_state_dict({**saved, "state": state})


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
