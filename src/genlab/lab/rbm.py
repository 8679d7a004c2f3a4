"""RBM experiments and figures (SPEC task 1)."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from genlab import data, plots
from genlab.data import ImageSet
from genlab.models.rbm import RBM


def hidden_grid_shape(n_hidden: int) -> tuple[int, int]:
    """The most square (rows, cols) layout of n hidden units, e.g. 100 -> (10, 10)."""
    rows = math.isqrt(n_hidden)
    while n_hidden % rows:
        rows -= 1
    return rows, n_hidden // rows


@torch.no_grad()
def weights_figure(rbm: RBM, path: Path, image_shape: tuple[int, int], order: torch.Tensor | None = None, title: str | None = None) -> Path:
    """SPEC 1.1: each hidden unit's weights as an image, on a square grid."""
    W = rbm.W.t() if order is None else rbm.W.t()[order]
    images = plots.normalize_each(W.reshape(-1, *image_shape))
    _, cols = hidden_grid_shape(rbm.n_hidden)
    return plots.grid_figure(images, path, nrow=cols, title=title or f"W: weights of the {rbm.n_hidden} hidden units")


@torch.no_grad()
def reconstructions_figure(rbm: RBM, test: ImageSet, path: Path, generator: torch.Generator, n: int = 20) -> Path:
    """SPEC 1.2: the first n test images, p(v = 1 | h) and the hidden state h ~ p(h | v)."""
    x = data.as_float(test.images[:n])
    h, p = rbm.reconstruct(x, generator)
    shape = test.image_shape
    return plots.rows_figure(
        [
            ("input", x.reshape(n, *shape)),
            ("p(v=1|h)", p.reshape(n, *shape)),
            ("h", h.reshape(n, *hidden_grid_shape(rbm.n_hidden))),
        ],
        path,
        title="Reconstructions of the first test images",
        col_labels=[str(int(c)) for c in test.labels[:n]],
    )


@torch.no_grad()
def samples_figure(rbm: RBM, path: Path, image_shape: tuple[int, int], generator: torch.Generator, n: int = 100, steps: int = 1000) -> Path:
    from genlab.train.rbm import sample

    images = sample(rbm, n, generator, steps).reshape(n, *image_shape)
    return plots.grid_figure(images, path, nrow=10, title=f"{n} samples, p(v=1|h) after {steps} Gibbs steps")


def standard_figures(rbm: RBM, test: ImageSet, out: Path, generator: torch.Generator) -> list[Path]:
    """The figures every RBM run writes: weights, reconstructions and samples."""
    shape = test.image_shape
    return [
        weights_figure(rbm, out / "weights.png", shape),
        reconstructions_figure(rbm, test, out / "reconstructions.png", generator),
        samples_figure(rbm, out / "samples.png", shape, generator),
    ]
