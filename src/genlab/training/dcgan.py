"""Training a DCGAN with the binary cross-entropy game (SPEC task 5): the loop, the run directory.

The two updates, a discriminator step and a generator step with Adam (betas 0.5,
0.999), are :func:`genlab.algorithms.gan.d_step` and :func:`~genlab.algorithms.gan.g_step`.
Real images are resized to 64x64 once per split and scaled to [-1, 1], the range of G's
tanh output.

One iteration is ``d_steps`` discriminator minibatches followed by ``g_steps``
generator minibatches (SPEC 5.2 compares 2/1 and 1/2 with 1/1). An epoch is one
pass of the discriminator over the training images: each real minibatch is used
by exactly one discriminator step, so an epoch has ceil(batches / d_steps)
iterations and g_steps generator steps in each. Every step draws fresh noise.

Under a launcher (docs/distributed.md) every rank draws the whole global minibatch's order and
noise, as one process does, and steps on its rows of them (:mod:`genlab.algorithms.gan` averages the
gradients over ranks). Batch normalisation uses each rank's own rows' statistics, as
``DistributedDataParallel`` does by default; after every epoch rank 0's running statistics are copied
to every rank, so all hold the same model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genlab import data, distributed
from genlab.algorithms.gan import d_step, g_step
from genlab.config import option, positive
from genlab.figures.dcgan import CURVE_POINTS, epoch_figures
from genlab.models.dcgan import DCGAN, IMAGE_SIZE
from genlab.rng import make_generator
from genlab.runs import Run
from genlab.training.session import (
    OnEpoch,
    TrainConfig,
    check_finite,
    end_epoch,
    epoch_bar,
    leaves_nothing_half_made,
    load_optimizer,
    optimizer_tensors,
    start,
    stopped_when_not_finite,
    warn_if_few_updates,
)

GRID = 100  # the fixed noise batch drawn as a 10x10 grid after every epoch
# Fewer iterations than this leave G's output hardly depending on z: the discriminator wins the first 100 to
# 200 iterations, and the samples look like digits by 300 to 400 (measured, docs/dcgan.md "Cost on the CPU")
ENOUGH_ITERATIONS = 200


def adam_beta(value: float) -> str | None:
    return None if 0 <= value < 1 else "a number in [0, 1)"


@dataclass
class DCGANConfig(TrainConfig):
    """SPEC task 5's reference run by default."""

    latent: int = option(100, "size of the noise vector z ~ N(0, I)", check=positive)
    epochs: int = option(20, "passes of the discriminator over the training set", check=positive)
    batch_size: int = option(128, "minibatch size of both networks", check=positive)
    lr: float = option(2e-4, "Adam learning rate of both networks", check=positive)
    beta1: float = option(0.5, "Adam's beta1 (momentum)", check=adam_beta)
    beta2: float = option(0.999, "Adam's beta2", check=adam_beta)
    d_steps: int = option(1, "discriminator minibatches per iteration (SPEC 5.2)", check=positive)
    g_steps: int = option(1, "generator minibatches per iteration (SPEC 5.2)", check=positive)
    batchnorm: bool = option(True, "batch normalisation after the hidden layers of both networks (SPEC 5)",
                             negated="switch off batch normalisation in both networks (SPEC 5.3)")
    bf16: bool = option(
        False, "bfloat16 autocast in both networks (parameters and losses stay float32): 1.5x faster on a CPU with "
        "bfloat16 arithmetic but worse samples there; no faster than float32 on an H200 (see docs/dcgan.md)",
    )
    channels_last: bool = option(True, "channels-last memory format in both networks (faster, the same arithmetic)",
                                 negated="contiguous instead of channels-last memory format (same float32 arithmetic, slower)")


def real_batch(images: torch.Tensor, idx: torch.Tensor, memory_format: torch.memory_format) -> torch.Tensor:
    """uint8 [N, 64, 64] rows ``idx`` -> [n, 1, 64, 64] floats in [-1, 1]."""
    x = data.to_signed(data.rows(images, idx)[:, None].float().div_(255))
    return x.contiguous(memory_format=memory_format)


def slice_means(values: torch.Tensor, parts: int = CURVE_POINTS) -> list[float]:
    """Means over ``parts`` consecutive, nearly equal slices of an epoch's step values."""
    return [chunk.mean().item() for chunk in torch.tensor_split(values, min(parts, len(values)))]


def fit(
    gan: DCGAN,
    images: torch.Tensor,
    config: DCGANConfig,
    generator: torch.Generator,
    progress: bool = True,
    on_epoch: OnEpoch | None = None,
    optimizers: tuple[torch.optim.Adam, torch.optim.Adam] | None = None,
    first_epoch: int = 1,
) -> list[dict[str, float]]:
    """Train ``gan`` on uint8 [N, 64, 64] images for epochs ``first_epoch`` to ``config.epochs``; returns
    each epoch's numbers. ``optimizers``: D's and G's (by default fresh :func:`adam_pair`).

    Per epoch: mean ``d_loss`` and ``g_loss`` over the steps, mean ``d_real`` = D(x)
    and ``d_fake`` = D(G(z)) over the discriminator's minibatches, the step counts,
    and the loss curves ``d_loss_curve`` and ``g_loss_curve`` (the mean over each
    tenth of the epoch's steps). ``on_epoch(epoch, numbers)`` is called after each
    epoch whose losses and parameters are finite; a NaN or infinite one raises
    :class:`genlab.training.session.NonFiniteTraining`.
    """
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    gan.to(memory_format=memory_format).train()

    opt_d, opt_g = adam_pair(gan, config) if optimizers is None else optimizers
    history = []
    bar = epoch_bar(config.epochs, images.shape[0], config.batch_size, "dcgan", progress, first=first_epoch,
                    per_step=config.d_steps, unit="iteration")
    for epoch in bar:
        d_stats, g_stats = [], []
        batches = list(data.batch_indices(images.shape[0], config.batch_size, generator))
        # an iteration: d_steps D minibatches, g_steps G minibatches
        for first in bar.steps(range(0, len(batches), config.d_steps)):
            for idx in batches[first : first + config.d_steps]:
                mine = distributed.share(idx.shape[0])  # this rank's rows of the global minibatch (all in one process)
                z = gan.noise(idx.shape[0], generator)[mine]
                d_stats.append(d_step(gan, real_batch(images, idx[mine], memory_format), z, opt_d, config.bf16))
            for _ in range(config.g_steps):
                z = gan.noise(config.batch_size, generator)[distributed.share(config.batch_size)]
                g_stats.append(g_step(gan, z, opt_g, config.bf16))
        distributed.broadcast_buffers(gan)  # rank 0's running batch-norm statistics on every rank
        numbers = epoch_numbers(d_stats, g_stats)
        check_finite(gan, epoch, {"discriminator loss": numbers["d_loss"], "generator loss": numbers["g_loss"]})
        history.append(numbers)
        shown = {"d_loss": f"{numbers['d_loss']:.3f}", "g_loss": f"{numbers['g_loss']:.3f}",
                 "D_x": f"{numbers['d_real']:.2f}", "D_Gz": f"{numbers['d_fake']:.2f}"}
        end_epoch(bar, shown, on_epoch, epoch, numbers)
    return history


def adam_pair(gan: DCGAN, config: DCGANConfig) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    """The discriminator's and the generator's optimisers."""
    betas = (config.beta1, config.beta2)
    return (torch.optim.Adam(gan.D.parameters(), lr=config.lr, betas=betas),
            torch.optim.Adam(gan.G.parameters(), lr=config.lr, betas=betas))


def epoch_numbers(d_stats: list[dict[str, torch.Tensor]], g_stats: list[dict[str, torch.Tensor]]) -> dict[str, Any]:
    """An epoch's numbers from its steps': the means, the step counts and the loss curves."""
    d_losses, g_losses = torch.stack([s["d_loss"] for s in d_stats]), torch.stack([s["g_loss"] for s in g_stats])
    numbers: dict[str, Any] = {name: torch.stack([s[name] for s in d_stats]).mean().item() for name in d_stats[0]}
    numbers["g_loss"] = g_losses.mean().item()
    numbers["d_updates"], numbers["g_updates"] = len(d_stats), len(g_stats)
    numbers["d_loss_curve"], numbers["g_loss_curve"] = slice_means(d_losses), slice_means(g_losses)
    return numbers


@leaves_nothing_half_made
def train(
    config: DCGANConfig,
    out: str | Path,
    device: str | torch.device = "auto",
    data_dir: str | Path | None = None,
    progress: bool = True,
    overwrite: bool = False,
    resume: bool = False,
) -> Run:
    """Train a DCGAN and write its run directory: config, model, log, sample grids and curves.

    ``config.json`` gets ``train_time_s`` (wall clock) and ``train_cpu_s`` (CPU time of
    the process, all threads) at the end.
    """
    s = start("dcgan", config, out, device, data_dir, overwrite,
              shapes=lambda n: DCGAN.shapes(config.latent, config.batchnorm), resume=resume)
    cpu_started = time.process_time()
    images = data.resize(s.train.images, IMAGE_SIZE)
    gan = DCGAN(config.latent, config.batchnorm, s.generator, s.device)
    fixed_z = gan.noise(GRID, make_generator(config.seed + 1, s.device))
    opt_d, opt_g = adam_pair(gan, config)
    warn_if_few_updates("dcgan", config.epochs, len(s.train), config.batch_size, ENOUGH_ITERATIONS, config.d_steps,
                        ("iteration", "iterations"))
    if s.resumed is not None:
        gan.load_state_dict(s.resumed.part("model"))
        load_optimizer(opt_d, s.resumed.part("adam_d"))
        load_optimizer(opt_g, s.resumed.part("adam_g"))
        s.resumed.restore_generators({"train": s.generator})
        cpu_started -= s.resumed.meta["train_cpu_s"]

    def log_epoch(epoch: int, numbers: dict[str, float]) -> None:
        s.log({"epoch": epoch, **numbers, "time_s": s.elapsed()})
        s.run.save_model(gan.tensors())
        distributed.rank_0_alone(lambda: epoch_figures(gan, fixed_z, s.run.log, s.run.figures, epoch))
        s.checkpoint("dcgan", epoch, {"model": gan.state_dict(), "adam_d": optimizer_tensors(opt_d),
                                      "adam_g": optimizer_tensors(opt_g)}, {"train": s.generator},
                     train_cpu_s=time.process_time() - cpu_started)

    with stopped_when_not_finite(s.run):
        fit(gan, images, config, s.generator, progress, log_epoch, (opt_d, opt_g), s.first_epoch("dcgan"))
    s.finish(train_time_s=s.elapsed(), train_cpu_s=time.process_time() - cpu_started)
    return s.run


def load(run: Run, device: str | torch.device = "cpu") -> DCGAN:
    """The trained DCGAN of a run directory."""
    cfg = run.config_as(DCGANConfig)
    tensors = run.load_model(DCGAN.shapes(cfg.latent, cfg.batchnorm))
    gan = DCGAN(cfg.latent, cfg.batchnorm, device="cpu")
    gan.load_state_dict(tensors)
    return gan.to(device, memory_format=torch.channels_last if cfg.channels_last else torch.contiguous_format)
