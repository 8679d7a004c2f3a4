"""Figures: image grids, rows of images, heat maps, curves — all written atomically as PNG.

These are the generic figure types; the experiments (``genlab.lab``) compose them.
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

from genlab.runs import atomic_write  # noqa: E402


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


def grid_figure(
    images: torch.Tensor,
    path: str | Path,
    nrow: int | None = None,
    title: str | None = None,
    cmap: str = "gray",
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
    scale: float = 0.06,
) -> Path:
    """One grid of images, e.g. the 10x10 weights of 100 hidden units or 100 samples."""
    array = tile(images, nrow, pad_value=vmax if vmax is not None else float(images.max()))
    h, w = array.shape
    fig, ax = plt.subplots(figsize=(max(2.5, w * scale), max(2.5, h * scale) + (0.4 if title else 0)))
    ax.imshow(array, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    return save_figure(fig, path)


def rows_figure(
    rows: Sequence[tuple[str, torch.Tensor]],
    path: str | Path,
    title: str | None = None,
    col_labels: Sequence[str] | None = None,
    cell: float = 0.7,
) -> Path:
    """Labelled rows of images with the same count, e.g. inputs / reconstructions / hidden states.

    Each image is shown on its own [min, max] grey scale unless its values lie in [0, 1].
    """
    n_rows, n_cols = len(rows), max(len(images) for _, images in rows)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(n_cols * cell + 1.2, n_rows * cell + (0.5 if title else 0.1)))
    axes = np.atleast_2d(axes)
    if n_rows == 1 and axes.shape[0] != 1:
        axes = axes.reshape(1, -1)
    for r, (label, images) in enumerate(rows):
        images = images.detach().float().cpu()
        unit = bool(images.min() >= 0 and images.max() <= 1)
        for c in range(n_cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(images):
                ax.imshow(images[c].numpy(), cmap="gray", vmin=0 if unit else None, vmax=1 if unit else None)
            if c == 0:
                ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
            if r == 0 and col_labels is not None and c < len(col_labels):
                ax.set_title(col_labels[c], fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(wspace=0.05, hspace=0.05)
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
) -> Path:
    """Lines over epochs, e.g. losses or reconstruction errors of several variants."""
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for name, values in series.items():
        ax.plot(range(1, len(values) + 1), list(values), label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    if logy:
        ax.set_yscale("log")
    if len(series) > 1:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)
