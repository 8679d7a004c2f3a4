"""Training a DCGAN with the binary cross-entropy game (SPEC task 5).

With l(x) the discriminator's logit, D(x) = sigma(l(x)), and z ~ N(0, I)::

    discriminator step:  minimise  BCE(l(x), 1) + BCE(l(G(z)), 0)
                                 = -log D(x) - log(1 - D(G(z)))
    generator step:      minimise  BCE(l(G(z)), 1) = -log D(G(z))     (the non-saturating loss)

each on one minibatch, with Adam (betas 0.5, 0.999). Real images are resized to
64x64 once per split and scaled to [-1, 1], the range of G's tanh output. The
cross-entropy is computed from the logits, which is exact where sigma(l) would
round to 0 or 1.

One iteration is ``d_steps`` discriminator minibatches followed by ``g_steps``
generator minibatches (SPEC 5.2 compares 2/1 and 1/2 with 1/1). An epoch is one
pass of the discriminator over the training images: each real minibatch is used
by exactly one discriminator step, so an epoch has ceil(batches / d_steps)
iterations and g_steps generator steps in each. Every step draws fresh noise.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from genlab import data, plots
from genlab.config import option, positive
from genlab.errors import GenlabError
from genlab.models.dcgan import DCGAN, IMAGE_SIZE
from genlab.rng import make_generator
from genlab.runs import Run, write_bytes
from genlab.train import common

GRID = 100  # the fixed noise batch drawn as a 10x10 grid after every epoch
CURVE_POINTS = 10  # loss curves: the mean over each tenth of an epoch


def adam_beta(value: float) -> str | None:
    return None if 0 <= value < 1 else "a number in [0, 1)"


@dataclass
class DCGANConfig(common.TrainConfig):
    """SPEC task 5's reference run by default."""

    latent: int = option(100, "size of the noise vector z ~ N(0, I)", check=positive)
    epochs: int = option(20, "passes of the discriminator over the training set", check=positive)
    batch_size: int = option(128, "minibatch size of both networks", check=positive)
    lr: float = option(2e-4, "Adam learning rate of both networks", check=positive)
    beta1: float = option(0.5, "Adam's beta1 (momentum)", check=adam_beta)
    beta2: float = option(0.999, "Adam's beta2", check=adam_beta)
    d_steps: int = option(1, "discriminator minibatches per iteration (SPEC 5.2)", check=positive)
    g_steps: int = option(1, "generator minibatches per iteration (SPEC 5.2)", check=positive)
    batchnorm: bool = option(True, "switch off batch normalisation in both networks (SPEC 5.3)")
    bf16: bool = option(
        False, "bfloat16 autocast in both networks (parameters and losses stay float32): 1.5x faster on a CPU with "
        "bfloat16 arithmetic but worse samples there; no faster than float32 on an H200 (see docs/dcgan.md)",
        identity="unless-default",
    )
    channels_last: bool = option(True, "contiguous instead of channels-last memory format (same float32 arithmetic, slower)")


class NonFiniteLoss(GenlabError):
    """A loss became NaN or infinite: training cannot go on."""


def bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    """Mean binary cross-entropy of sigma(logits) against a constant label, from the logits."""
    return F.binary_cross_entropy_with_logits(logits.float(), torch.full_like(logits, target, dtype=torch.float32))


def real_batch(images: torch.Tensor, idx: torch.Tensor, memory_format: torch.memory_format) -> torch.Tensor:
    """uint8 [N, 64, 64] rows ``idx`` -> [n, 1, 64, 64] floats in [-1, 1]."""
    x = data.to_signed(data.rows(images, idx)[:, None].float().div_(255))
    return x.contiguous(memory_format=memory_format)


def d_step(gan: DCGAN, real: torch.Tensor, opt: torch.optim.Optimizer, generator: torch.Generator, autocast) -> dict[str, torch.Tensor]:
    """One discriminator update on a real minibatch and as many fresh fakes; returns its numbers."""
    with torch.no_grad(), autocast():
        fake = gan.G(gan.noise(real.shape[0], generator))
    with autocast():
        logit_real, logit_fake = gan.D(real), gan.D(fake)
        loss = bce(logit_real, 1.0) + bce(logit_fake, 0.0)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return {
        "d_loss": loss.detach(),
        "d_real": torch.sigmoid(logit_real.detach().float()).mean(),
        "d_fake": torch.sigmoid(logit_fake.detach().float()).mean(),
    }


def g_step(gan: DCGAN, n: int, opt: torch.optim.Optimizer, generator: torch.Generator, autocast) -> dict[str, torch.Tensor]:
    """One generator update on n fresh noise vectors (D's weights get no gradients)."""
    gan.D.requires_grad_(False)
    try:
        with autocast():
            loss = bce(gan.D(gan.G(gan.noise(n, generator))), 1.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    finally:
        gan.D.requires_grad_(True)
    return {"g_loss": loss.detach()}


def slice_means(values: torch.Tensor, parts: int = CURVE_POINTS) -> list[float]:
    """Means over ``parts`` consecutive, nearly equal slices of an epoch's step values."""
    return [chunk.mean().item() for chunk in torch.tensor_split(values, min(parts, len(values)))]


def fit(
    gan: DCGAN,
    images: torch.Tensor,
    config: DCGANConfig,
    generator: torch.Generator,
    progress: bool = True,
    on_epoch: common.OnEpoch | None = None,
) -> list[dict[str, float]]:
    """Train ``gan`` on uint8 [N, 64, 64] images; returns each epoch's numbers.

    Per epoch: mean ``d_loss`` and ``g_loss`` over the steps, mean ``d_real`` = D(x)
    and ``d_fake`` = D(G(z)) over the discriminator's minibatches, the step counts,
    and the loss curves ``d_loss_curve`` and ``g_loss_curve`` (the mean over each
    tenth of the epoch's steps). ``on_epoch(epoch, numbers)`` is called after each
    epoch whose losses are finite; a NaN or infinite loss raises NonFiniteLoss.
    """
    device = images.device
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    gan.to(memory_format=memory_format).train()

    def autocast():
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.bf16)

    betas = (config.beta1, config.beta2)
    opt_d = torch.optim.Adam(gan.D.parameters(), lr=config.lr, betas=betas)
    opt_g = torch.optim.Adam(gan.G.parameters(), lr=config.lr, betas=betas)

    def one_epoch(epoch: int) -> dict[str, Any]:
        d_stats, g_stats = [], []
        batches = list(data.batch_indices(images.shape[0], config.batch_size, generator))
        for start in range(0, len(batches), config.d_steps):
            for idx in batches[start : start + config.d_steps]:
                d_stats.append(d_step(gan, real_batch(images, idx, memory_format), opt_d, generator, autocast))
            for _ in range(config.g_steps):
                g_stats.append(g_step(gan, config.batch_size, opt_g, generator, autocast))
        d_losses, g_losses = torch.stack([s["d_loss"] for s in d_stats]), torch.stack([s["g_loss"] for s in g_stats])
        numbers = {name: torch.stack([s[name] for s in d_stats]).mean().item() for name in d_stats[0]}
        numbers["g_loss"] = g_losses.mean().item()
        numbers["d_updates"], numbers["g_updates"] = len(d_stats), len(g_stats)
        numbers["d_loss_curve"], numbers["g_loss_curve"] = slice_means(d_losses), slice_means(g_losses)
        for name, network in (("d_loss", "discriminator"), ("g_loss", "generator")):
            if not math.isfinite(numbers[name]):
                raise NonFiniteLoss(f"the {network} loss is {numbers[name]} in epoch {epoch}")
        return numbers

    def shown(n: dict[str, Any]) -> dict[str, str]:
        return {"d_loss": f"{n['d_loss']:.3f}", "g_loss": f"{n['g_loss']:.3f}", "D_x": f"{n['d_real']:.2f}",
                "D_Gz": f"{n['d_fake']:.2f}"}

    return common.run_epochs(config.epochs, "dcgan", one_epoch, shown, progress, on_epoch)


def train(
    config: DCGANConfig,
    out: str | Path,
    device: str | torch.device = "auto",
    data_dir: str | Path | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> Run:
    """Train a DCGAN and write its run directory: config, model, log, sample grids and curves.

    ``config.json`` gets ``train_time_s`` (wall clock) and ``train_cpu_s`` (CPU time of
    the process, all threads) at the end.
    """
    s = common.start("dcgan", config, out, device, data_dir, overwrite)
    cpu_started = time.process_time()
    images = data.resize(s.train.images, IMAGE_SIZE)
    gan = DCGAN(config.latent, config.batchnorm, s.generator, s.device)
    fixed_z = gan.noise(GRID, make_generator(config.seed + 1, s.device))

    def log_epoch(epoch: int, numbers: dict[str, float]) -> None:
        s.run.append_log({"epoch": epoch, **numbers, "time_s": s.elapsed()})
        s.run.save_model(gan.tensors())
        epoch_figures(gan, fixed_z, s.run, epoch)

    try:
        fit(gan, images, config, s.generator, progress, log_epoch)
    except NonFiniteLoss as e:
        s.run.update_meta(stopped=str(e))
        if s.run.log:
            kept = f"{s.run.path / 'model.safetensors'} keeps epoch {len(s.run.log)}, the last with finite losses"
        else:
            kept = "no epoch finished, so no model was saved"
        raise GenlabError(f"dcgan: {e}; training stopped ({kept}); a lower --lr may help") from None
    s.run.update_meta(train_time_s=s.elapsed(), train_cpu_s=time.process_time() - cpu_started)
    return s.run


def samples_figure(images: torch.Tensor, path: Path, title: str) -> Path:
    """Images [n, 1, 64, 64] in [0, 1] as a grid of 10 per row, at a size that fits a page."""
    return plots.grid_figure(images[:, 0], path, nrow=10, title=title, scale=0.012)


def curve(log: list[dict], loss: str) -> list[float]:
    """A loss over the whole run: the ``<loss>_curve`` values of every epoch, in order."""
    return [value for entry in log for value in entry[f"{loss}_curve"]]


def losses_figure(series: dict[str, list[float]], path: Path, title: str) -> Path:
    """Loss curves (``curve`` values: the mean over each tenth of an epoch) against epochs."""
    xs = {name: [(i + 1) / CURVE_POINTS for i in range(len(values))] for name, values in series.items()}
    return plots.curves_figure(series, path, title, ylabel="binary cross-entropy", xs=xs)


def d_outputs_figure(log: list[dict], path: Path, title: str = "Mean discriminator output per epoch") -> Path:
    """Mean D(x) and D(G(z)) of each epoch."""
    return plots.curves_figure({"D(x), real": [e["d_real"] for e in log], "D(G(z)), fake": [e["d_fake"] for e in log]},
                               path, title, ylabel="probability of 'real'")


def epoch_figures(gan: DCGAN, fixed_z: torch.Tensor, run: Run, epoch: int) -> None:
    """The fixed noise batch as a 10x10 grid (``samples_epoch_NNN.png``, ``samples.png``) and the curves so far."""
    title = f"G(z) for a fixed z, epoch {epoch}"
    grid = samples_figure(gan.generate(fixed_z), run.figures / f"samples_epoch_{epoch:03d}.png", title)
    write_bytes(run.figures / "samples.png", grid.read_bytes())
    log = run.log
    losses_figure({"discriminator": curve(log, "d_loss"), "generator": curve(log, "g_loss")}, run.figures / "losses.png",
                  "DCGAN losses (mean over each tenth of an epoch)")
    d_outputs_figure(log, run.figures / "d_outputs.png")


def run_config(run: Run) -> DCGANConfig:
    """The config of a run directory. Before genlab 0.2, ``bf16`` (on by default) applied on CUDA only,
    and ``cpu_bf16`` asked for it on the CPU: such runs read as what they ran."""
    config = dict(run.config)
    written_by = re.match(r"(\d+)\.(\d+)", run.meta.get("versions", {}).get("genlab", "0.0"))
    if written_by is None or (int(written_by[1]), int(written_by[2])) < (0, 2):
        cpu_bf16 = config.pop("cpu_bf16", False)
        config["bf16"] = config.get("bf16", True) and (cpu_bf16 or str(run.meta.get("device", "")).startswith("cuda"))
    return DCGANConfig.from_dict(config)


def load(run: Run, device: str | torch.device = "cpu") -> DCGAN:
    """The trained DCGAN of a run directory."""
    cfg = run_config(run)
    tensors = run.load_model(DCGAN.shapes(cfg.latent, cfg.batchnorm))
    gan = DCGAN(cfg.latent, cfg.batchnorm, device="cpu")
    gan.load_state_dict(tensors)
    return gan.to(device, memory_format=torch.channels_last if cfg.channels_last else torch.contiguous_format)


def sample(gan: DCGAN, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """n new images G(z), z ~ N(0, I), in [0, 1]: [n, 1, 64, 64]."""
    return gan.generate(gan.noise(n, generator))

