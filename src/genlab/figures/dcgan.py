"""The figures of a DCGAN (SPEC task 5): sample grids of G and the curves of its training log."""

from __future__ import annotations

from pathlib import Path

import torch

from genlab.figures import plots
from genlab.files import write_bytes
from genlab.models.dcgan import DCGAN

CURVE_POINTS = 10  # a loss curve has the mean over each tenth of an epoch (genlab.training.dcgan logs them)


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


def epoch_figures(gan: DCGAN, fixed_z: torch.Tensor, log: list[dict], out: Path, epoch: int) -> None:
    """The fixed noise batch as a 10x10 grid (``samples_epoch_NNN.png``, ``samples.png``) and the curves of
    the log so far, in the directory ``out``."""
    title = f"G(z) for a fixed z, epoch {epoch}"
    grid = samples_figure(gan.generate(fixed_z), out / f"samples_epoch_{epoch:03d}.png", title)
    write_bytes(out / "samples.png", grid.read_bytes())
    losses_figure({"discriminator": curve(log, "d_loss"), "generator": curve(log, "g_loss")}, out / "losses.png",
                  "DCGAN losses (mean over each tenth of an epoch)")
    d_outputs_figure(log, out / "d_outputs.png")
