"""The figures of a VAE (SPEC task 4): each takes a trained :class:`VAE` and writes one PNG."""

from __future__ import annotations

from pathlib import Path

import torch

from genlab import data
from genlab.data import ImageSet, binarized
from genlab.evaluation.vae import ACTIVE_THRESHOLD, latent_usage, posterior
from genlab.figures import plots
from genlab.figures.plots import hidden_grid_shape
from genlab.models.vae import VAE

plt = plots.plt


def top_kl_dims(model: VAE, x: torch.Tensor) -> tuple[list[int], list[float]]:
    """The two latent dimensions to plot: (0, 1) for a 2-D latent, else the two with the largest KL."""
    kl = latent_usage(*posterior(model, x))["kl_per_dim"]
    dims = [0, 1] if model.latent == 2 else sorted(range(model.latent), key=lambda j: -kl[j])[:2]
    return dims, [kl[j] for j in dims]


def dim_label(model: VAE, dim: int, kl: float, rank: int) -> str:
    if model.latent == 2:
        return f"z{dim + 1}"
    return f"z{dim + 1} ({'largest' if rank == 0 else '2nd largest'} KL: {kl:.2f} nats)"


@torch.no_grad()
def reconstructions_figure(model: VAE, test: ImageSet, path: Path, generator: torch.Generator, n: int = 20) -> Path:
    """SPEC 4.1: the first n test images, p(x = 1 | z) for z = mu and for z ~ q(z | x), and mu.

    Each row is one strip of images; the posterior means share one grey scale (and a
    colour bar), so that their values compare across images.
    """
    test = test.head(n)  # fewer when the test split is smaller
    n = len(test)
    x = data.as_float(test.images)
    mu, logvar = model.encode(x)
    z = model.reparameterize(mu, logvar, generator)
    shape = test.image_shape
    rows = [
        ("input", x.reshape(n, *shape)),
        ("p(x=1|z=mu)", model.decode(mu).reshape(n, *shape)),
        ("p(x=1|z~q)", model.decode(z).reshape(n, *shape)),
    ]
    grid = hidden_grid_shape(model.latent)
    fig, axes = plt.subplots(4, 1, figsize=(n * 0.55 + 1.5, 4 * 0.65 + 0.9), gridspec_kw={"hspace": 0.1})
    for ax, (label, images) in zip(axes, rows):
        ax.imshow(plots.tile(images, nrow=n, pad=2), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    limit = float(mu.abs().max())
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="0.25")  # dark gaps between the images
    im = axes[3].imshow(plots.tile(mu.reshape(n, *grid), nrow=n, pad=1, pad_value=float("nan")), cmap=cmap,
                        vmin=-limit, vmax=limit, interpolation="nearest", aspect="auto")
    axes[3].set_ylabel(f"mu ({grid[0]}x{grid[1]})", rotation=0, ha="right", va="center", fontsize=8)
    fig.colorbar(im, ax=list(axes), fraction=0.015, pad=0.01, label="mu")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    width = shape[1] + 2
    axes[0].set_xticks([i * width + shape[1] / 2 for i in range(n)], [str(int(c)) for c in test.labels], fontsize=7)
    axes[0].xaxis.tick_top()
    fig.suptitle(f"Reconstructions of the first {n} test images and their latent state ({model.latent}-D latent)", fontsize=10)
    return plots.save_figure(fig, path)


@torch.no_grad()
def latent_boxplots_figure(model: VAE, x: torch.Tensor, path: Path) -> Path:
    """SPEC 4.2: per latent dimension, box plots over the inputs x of mu and of sigma^2 = exp(log sigma^2),
    and over the decoder's first hidden units of their weights from that dimension."""
    mu, logvar = posterior(model, x)
    active = torch.tensor(latent_usage(mu, logvar)["posterior_mean_variance"]) > ACTIVE_THRESHOLD
    panels = [
        ("mu over the test inputs", mu),
        ("sigma^2 = exp(log sigma^2) over the test inputs", logvar.exp()),
        ("decoder's first-layer weights from each latent dimension", model.decoder[0].weight),
    ]
    dims = list(range(1, model.latent + 1))
    fig, axes = plt.subplots(3, 1, figsize=(max(5.0, 0.45 * model.latent + 1.5), 8.5), sharex=True)
    for ax, (title, values) in zip(axes, panels):
        boxes = ax.boxplot(values.detach().cpu().float().numpy(), positions=dims, showfliers=False, patch_artist=True)
        for box, on in zip(boxes["boxes"], active.tolist()):
            box.set_facecolor("tab:blue" if on else "0.7")
        ax.set_title(title, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[1].axhline(1.0, color="tab:red", lw=0.8, ls="--")  # the prior's variance
    axes[-1].set_xlabel(f"latent dimension (blue: active, Var(mu) > {ACTIVE_THRESHOLD}; grey: at the prior)")
    fig.suptitle(f"Latent usage of the {model.latent}-D VAE (whiskers 1.5 IQR, outliers not drawn)", fontsize=10)
    fig.tight_layout()
    return plots.save_figure(fig, path)


@torch.no_grad()
def latent_scatter_figure(model: VAE, test: ImageSet, x: torch.Tensor, path: Path) -> Path:
    """SPEC 4.3: the posterior means of the test inputs in two latent dimensions, coloured by label."""
    dims, kls = top_kl_dims(model, x)
    mu = posterior(model, x)[0][:, dims].cpu()
    labels = test.labels.cpu()
    fig, ax = plt.subplots(figsize=(6.2, 5.4))
    for c in labels.unique().tolist():
        points = mu[labels == c]
        ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.6, color=plt.cm.tab10(c % 10), label=str(c), rasterized=True)
    ax.set_xlabel(f"mu of {dim_label(model, dims[0], kls[0], 0)}")
    ax.set_ylabel(f"mu of {dim_label(model, dims[1], kls[1], 1)}")
    ax.legend(markerscale=5, fontsize=7, title="label", loc="best")
    ax.set_title(f"Test inputs in latent space ({model.latent}-D VAE)", fontsize=10)
    return plots.save_figure(fig, path)


def walk_latents(model: VAE, dims: list[int], n: int = 15, extent: float = 1.5) -> torch.Tensor:
    """The z of an n x n grid over [-extent, extent]^2 of two latent dimensions, the others 0: [n * n, latent],
    row by row from the top left (dims[0] grows to the right, dims[1] upward)."""
    ref = model.logits.weight
    values = torch.linspace(-extent, extent, n, device=ref.device, dtype=ref.dtype)
    z = torch.zeros(n * n, model.latent, device=ref.device, dtype=ref.dtype)
    z[:, dims[0]] = values.repeat(n)  # columns: left to right
    z[:, dims[1]] = values.flip(0).repeat_interleave(n)  # rows: top to bottom
    return z


@torch.no_grad()
def latent_walk_figure(
    model: VAE, x: torch.Tensor, path: Path, image_shape: tuple[int, int], n: int = 15, extent: float = 1.5
) -> Path:
    """SPEC 4.4: p(x = 1 | z) decoded on an n x n grid over [-extent, extent]^2 of two latent dimensions
    (the other dimensions at 0, the prior mean)."""
    dims, kls = top_kl_dims(model, x)
    z = walk_latents(model, dims, n, extent)
    array = plots.tile(model.decode(z).reshape(n * n, *image_shape), nrow=n, pad=0)
    step = 2 * extent / (n - 1)
    fig, ax = plt.subplots(figsize=(6.4, 6.4))
    lim = (-extent - step / 2, extent + step / 2)
    ax.imshow(array, cmap="gray", vmin=0, vmax=1, extent=(*lim, *lim), interpolation="nearest")
    ax.set_xlabel(dim_label(model, dims[0], kls[0], 0))
    ax.set_ylabel(dim_label(model, dims[1], kls[1], 1))
    others = "" if model.latent == 2 else ", other dimensions 0"
    ax.set_title(f"p(x=1|z) on a {n}x{n} grid over [-{extent}, {extent}]^2{others}", fontsize=10)
    return plots.save_figure(fig, path)


@torch.no_grad()
def samples_figure(model: VAE, path: Path, image_shape: tuple[int, int], generator: torch.Generator, n: int = 100) -> Path:
    """100 new images p(x = 1 | z), z ~ N(0, I), as a 10x10 grid (compare with the DCGAN's)."""
    images = model.sample(n, generator).reshape(n, *image_shape)
    return plots.grid_figure(images, path, nrow=10, title=f"{n} samples p(x=1|z), z ~ N(0, I) ({model.latent}-D latent)")


FIGURES = ("reconstructions", "latent_boxplots", "latent_scatter", "latent_walk", "samples")


def figure_names(latent: int) -> tuple[str, ...]:
    """The standard figures of a VAE with this latent size (the latent-plane ones need two dimensions)."""
    return FIGURES if latent >= 2 else tuple(n for n in FIGURES if n not in ("latent_scatter", "latent_walk"))


def model_inputs(images: torch.Tensor, targets: str) -> torch.Tensor:
    """uint8 [N, H, W] images as a VAE trained with ``targets`` saw them: grey values in [0, 1] (``soft``) or the
    fixed binarised sample (``binarized``), [N, H*W]."""
    return binarized(images) if targets == "binarized" else data.as_float(images)


def standard_figures(model: VAE, test: ImageSet, out: Path, generator: torch.Generator, targets: str = "soft") -> dict[str, Path]:
    """The figures every VAE run writes (``figure_names``), by name; the latent figures encode the test images
    as the model was trained on them (``targets``: :func:`model_inputs`)."""
    x = model_inputs(test.images, targets)
    shape = test.image_shape
    paths = {name: out / f"{name}.png" for name in figure_names(model.latent)}
    reconstructions_figure(model, test, paths["reconstructions"], generator)
    latent_boxplots_figure(model, x, paths["latent_boxplots"])
    if "latent_scatter" in paths:
        latent_scatter_figure(model, test, x, paths["latent_scatter"])
        latent_walk_figure(model, x, paths["latent_walk"], shape)
    samples_figure(model, paths["samples"], shape, generator)
    return paths
