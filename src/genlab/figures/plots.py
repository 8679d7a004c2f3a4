"""Figures: image grids, rows of images, heat maps, curves — all written atomically as PNG.

These are the generic figure types; the figures of each family (``genlab.figures.*``) and
the experiments (``genlab.lab``) compose them.
Matplotlib runs with the non-interactive Agg backend, so no display is needed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from genlab.files import atomic_write  # noqa: E402


def save_figure(fig: plt.Figure, path: str | Path, dpi: int = 110) -> Path:
    """Save a matplotlib figure as PNG through a temporary file, then close it."""
    try:
        return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png"))
    finally:
        plt.close(fig)


def tile(images: torch.Tensor, nrow: int | None = None, pad: int = 1, pad_value: float = 1.0) -> np.ndarray:
    """Arrange [n, H, W] images into one [rows*(H+pad)-pad, nrow*(W+pad)-pad] array."""
    images = images.detach().float().cpu()
    n, h, w = images.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    out = torch.full((rows * (h + pad) - pad, nrow * (w + pad) - pad), pad_value)
    for i in range(n):
        r, c = divmod(i, nrow)
        out[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = images[i]
    return out.numpy()


def hidden_grid_shape(n_hidden: int) -> tuple[int, int]:
    """The most square (rows, cols) layout of n hidden units, e.g. 100 -> (10, 10)."""
    rows = math.isqrt(n_hidden)
    while n_hidden % rows:
        rows -= 1
    return rows, n_hidden // rows


def normalize_each(images: torch.Tensor) -> torch.Tensor:
    """Scale each image to [0, 1] on its own (for weight patterns)."""
    flat = images.reshape(images.shape[0], -1)
    lo, hi = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
    return ((flat - lo) / (hi - lo).clamp_min(1e-12)).reshape(images.shape)


def as_images(x: torch.Tensor, shape: tuple[int, int] | None = None) -> torch.Tensor:
    """[n, H*W] or [n, 1, H, W] or [n, H, W] -> [n, H, W]."""
    if x.dim() == 4:
        return x[:, 0]
    if x.dim() == 2:
        if shape is None:
            side = math.isqrt(x.shape[1])
            shape = (side, x.shape[1] // side)
        return x.reshape(x.shape[0], *shape)
    return x


def scale_for(width: int) -> float:
    """A ``grid_figure`` scale that draws images ``width`` pixels wide as large as 28-pixel ones by default."""
    return 0.06 * 28 / width


def grid_figure(
    images: torch.Tensor,
    path: str | Path,
    nrow: int | None = None,
    title: str | None = None,
    cmap: str = "gray",
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
    scale: float = 0.06,
    colorbar: str | None = None,
) -> Path:
    """One grid of images, e.g. the 10x10 weights of 100 hidden units or 100 samples; with ``colorbar``,
    a colour bar of that label beside it (for images on one common scale)."""
    array = tile(images, nrow, pad_value=vmax if vmax is not None else float(images.max()))
    h, w = array.shape
    width = max(2.5, w * scale) + (1.2 if colorbar else 0)
    fig, ax = plt.subplots(figsize=(width, max(2.5, h * scale) + (0.4 if title else 0)))
    im = ax.imshow(array, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.axis("off")
    if colorbar:
        fig.colorbar(im, ax=ax, label=colorbar, fraction=0.046, pad=0.02)
    if title:
        ax.set_title(title, fontsize=10)
    return save_figure(fig, path)


def framed(images: torch.Tensor, nrow: int, pad: int = 1) -> tuple[np.ndarray, matplotlib.colors.Colormap]:
    """Tile [n, H, W] images in [0, 1] with coloured gaps and an outer frame, and the colour map to show them.

    The gaps are neither black nor white, so a pixel at an image's edge stays visible.
    """
    array = np.pad(tile(images, nrow, pad=pad, pad_value=float("nan")), 1, constant_values=np.nan)
    return array, matplotlib.colormaps["gray"].with_extremes(bad="#b0c4de")


def unit_scaled(image: torch.Tensor) -> torch.Tensor:
    """An image as shown: unchanged when its values lie in [0, 1], else scaled to [0, 1] on its own."""
    image = image.detach().float().cpu()
    if image.numel() and image.min() >= 0 and image.max() <= 1:
        return image
    return normalize_each(image[None])[0]


def rows_figure(
    rows: Sequence[tuple[str, torch.Tensor]],
    path: str | Path,
    title: str | None = None,
    col_labels: Sequence[str] | None = None,
    cell: float = 0.7,
) -> Path:
    """Labelled rows of images, e.g. inputs / reconstructions / hidden states (one strip per row).

    Each image is shown on its own [min, max] grey scale unless its values lie in [0, 1];
    a row with fewer images than the longest is left-aligned.
    """
    n_rows, n_cols = len(rows), max(len(images) for _, images in rows)
    fig, axes = plt.subplots(n_rows, 1, figsize=(n_cols * cell + 1.2, n_rows * cell + (0.5 if title else 0.1)), squeeze=False)
    for r, (label, images) in enumerate(rows):
        ax = axes[r, 0]
        cells = torch.stack([unit_scaled(image) for image in images])
        blank = torch.full((n_cols - len(cells), *cells.shape[1:]), float("nan"))
        array, cmap = framed(torch.cat([cells, blank]), n_cols)
        ax.imshow(array, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        width = cells.shape[2] + 1
        ax.set_yticks([])
        ax.set_xticks([])
        if r == 0 and col_labels is not None:
            ax.set_xticks([1 + c * width + (width - 2) / 2 for c in range(len(col_labels))], list(col_labels), fontsize=7)
            ax.xaxis.tick_top()
            ax.tick_params(length=0, pad=1)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(hspace=0.05)
    return save_figure(fig, path)


def panels_figure(
    panels: Sequence[tuple[str, torch.Tensor | None]],
    path: str | Path,
    ncol: int = 10,
    title: str | None = None,
    cell: float = 0.8,
) -> Path:
    """Same-shaped images each with its own caption, row by row (``None`` leaves a panel empty).

    Each image is shown on its own [min, max] grey scale unless its values lie in [0, 1].
    """
    shape = next(image.shape for _, image in panels if image is not None)
    n_rows = max(1, math.ceil(len(panels) / ncol))
    cells = torch.full((n_rows * ncol, *shape), float("nan"))
    for i, (_, image) in enumerate(panels):
        if image is not None:
            cells[i] = unit_scaled(image)
    gap = max(2, shape[0] // 3)  # room for the captions
    fig, ax = plt.subplots(figsize=(ncol * cell, n_rows * (cell + 0.15) + (0.4 if title else 0)))
    array, cmap = framed(cells, ncol, pad=gap)
    ax.imshow(array, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    for i, (caption, image) in enumerate(panels):
        if image is not None and caption:
            r, c = divmod(i, ncol)
            ax.text(1 + c * (shape[1] + gap) + shape[1] / 2, r * (shape[0] + gap) + 0.5, caption, ha="center", va="bottom", fontsize=5)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9, pad=8)
    return save_figure(fig, path)


def heatmap_figure(values: torch.Tensor, path: str | Path, title: str, label: str, cmap: str = "viridis") -> Path:
    """A 2-D map with a colour bar, e.g. how often each of 100 hidden units is on."""
    fig, ax = plt.subplots(figsize=(4.2, 3.6))
    im = ax.imshow(values.detach().float().cpu().numpy(), cmap=cmap)
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.colorbar(im, ax=ax, label=label)
    return save_figure(fig, path)


def curves_figure(
    series: dict[str, Sequence[float]],
    path: str | Path,
    title: str,
    xlabel: str = "epoch",
    ylabel: str = "",
    logy: bool = False,
    xs: dict[str, Sequence[float]] | None = None,
) -> Path:
    """Lines over epochs, e.g. losses or reconstruction errors of several variants.

    A series is drawn at x = 1, 2, ... unless ``xs`` gives its x values.
    """
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for name, values in series.items():
        x = (xs or {}).get(name) or range(1, len(values) + 1)
        ax.plot(list(x), list(values), label=name, marker="." if len(values) < 30 else None)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    if logy:
        ax.set_yscale("log")
    if len(series) > 1:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)
