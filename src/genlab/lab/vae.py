"""VAE experiments and figures (SPEC task 4).

``genlab lab vae`` trains the reference VAE (20 latent dimensions) and the one with
a 2-D latent space, measures both (ELBO, IWAE, active units, probe accuracy) and
draws SPEC 4.1-4.4: reconstructions with the latent state, box plots of mu,
sigma^2 and the decoder's first-layer weights per latent dimension, the test set in
latent space, a decoded walk over a latent grid, and 100 samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genlab import data, plots
from genlab.data import ImageSet
from genlab.evaluate.common import binarized, source_for_run
from genlab.evaluate.run import EvalConfig
from genlab.evaluate.vae import ACTIVE_THRESHOLD, latent_usage, posterior
from genlab.lab import TINY_IMAGES, TINY_TEST
from genlab.lab.core import Lab
from genlab.lab.rbm import hidden_grid_shape
from genlab.lab.report import Figure, Section, Table
from genlab.models.vae import VAE
from genlab.rng import make_generator
from genlab.runs import Run
from genlab.train import vae as train_vae
from genlab.train.vae import VAEConfig

plt = plots.plt
BURDA_2016_VAE = -86.76  # test log-likelihood (k = 5000) of their one-stochastic-layer VAE, 50 latents


# ----------------------------------------------------------------------------- figures


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
    x = data.as_float(test.images[:n])
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
    axes[0].set_xticks([i * width + shape[1] / 2 for i in range(n)], [str(int(c)) for c in test.labels[:n]], fontsize=7)
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


@torch.no_grad()
def latent_walk_figure(
    model: VAE, x: torch.Tensor, path: Path, image_shape: tuple[int, int], n: int = 15, extent: float = 1.5
) -> Path:
    """SPEC 4.4: p(x = 1 | z) decoded on an n x n grid over [-extent, extent]^2 of two latent dimensions
    (the other dimensions at 0, the prior mean)."""
    dims, kls = top_kl_dims(model, x)
    ref = model.logits.weight
    values = torch.linspace(-extent, extent, n, device=ref.device, dtype=ref.dtype)
    z = torch.zeros(n * n, model.latent, device=ref.device, dtype=ref.dtype)
    z[:, dims[0]] = values.repeat(n)  # columns: left to right
    z[:, dims[1]] = values.flip(0).repeat_interleave(n)  # rows: top to bottom
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


def standard_figures(model: VAE, test: ImageSet, out: Path, generator: torch.Generator) -> dict[str, Path]:
    """The figures every VAE run writes (``figure_names``), by name."""
    x = binarized(test.images)
    shape = test.image_shape
    paths = {name: out / f"{name}.png" for name in figure_names(model.latent)}
    reconstructions_figure(model, test, paths["reconstructions"], generator)
    latent_boxplots_figure(model, x, paths["latent_boxplots"])
    if "latent_scatter" in paths:
        latent_scatter_figure(model, test, x, paths["latent_scatter"])
        latent_walk_figure(model, x, paths["latent_walk"], shape)
    samples_figure(model, paths["samples"], shape, generator)
    return paths


def run_figures(run: Run, device: torch.device, data_dir=None) -> dict[str, Path]:
    """A run's standard figures, drawn again only when one is missing."""
    paths = {name: run.figures / f"{name}.png" for name in figure_names(run.config["latent"])}
    if not all(p.is_file() for p in paths.values()):
        test = data.load_split(source_for_run(run, data_dir), "test", device)
        standard_figures(train_vae.load(run, device), test, run.figures, make_generator(run.config["seed"] + 1, device))
    return paths


# ----------------------------------------------------------------------------- the lab


@dataclass(frozen=True)
class Preset:
    epochs: int
    limit: int | None  # training images (None: all)
    iwae_k: int
    reduced: str  # what is reduced with respect to the SPEC reference, for the report
    longer: VAEConfig | None = None  # a run beyond the reference, toward the published numbers
    test_limit: int | None = None  # test images measured (None: all)
    samples: int = 10_000  # model samples for the sample-quality metrics


# Beyond the reference: 50 latents and dynamic binarisation as in Burda et al. (2016), and ten
# times as many Adam steps per epoch (minibatch 100) at a larger learning rate.
TOWARD_BURDA = VAEConfig(latent=50, targets="binarized", batch_size=100, lr=1e-3, epochs=100)

PRESETS = {
    "tiny": Preset(epochs=2, limit=TINY_IMAGES, iwae_k=10, test_limit=TINY_TEST, samples=TINY_TEST,
                   reduced=f"a smoke test, not a measurement: the first {TINY_IMAGES} training images, 2 epochs, "
                   f"the first {TINY_TEST} test images, IWAE with k = 10"),
    "quick": Preset(epochs=30, limit=None, iwae_k=500, reduced="30 epochs instead of 100; IWAE with k = 500 instead of 5000"),
    "full": Preset(epochs=100, limit=None, iwae_k=5000, reduced="nothing: the SPEC reference runs and IWAE with k = 5000, plus one run beyond the reference",
                   longer=TOWARD_BURDA),
}


@dataclass
class Measured:
    """One run of the lab with its evaluation."""

    label: str
    config: VAEConfig
    run: Run
    results: dict[str, Any]

    def row(self) -> list[Any]:
        r, c = self.results, self.config
        return [
            self.label, c.latent, c.targets, c.batch_size, f"{c.lr:g}", c.epochs, self.run.meta["data"]["train_images"],
            r["test_elbo"], r["test_iwae"], r["iwae_k"], f"{r['active_units']} / {c.latent}", r["probe_accuracy"],
            self.run.meta["train_time_s"],
        ]


COLUMNS = ["run", "latent", "targets", "batch", "lr", "epochs", "train images", "test ELBO", "test IWAE", "IWAE k",
           "active units", "probe accuracy", "training time (s)"]


def observations(measured: list[Measured]) -> list[str]:
    """What the numbers say, in sentences generated from them."""
    out = []
    for m in measured:
        r, latent = m.results, m.config.latent
        gap = r["test_iwae"] - r["test_elbo"]
        out.append(
            f"{m.label}: the importance-weighted estimate (k = {r['iwae_k']}) is {gap:.2f} nats above the ELBO "
            f"({r['test_iwae']:.2f} vs {r['test_elbo']:.2f}): q(z|x) is not the true posterior, and the ELBO pays for "
            f"the mismatch. Train ELBO {r['train_elbo']:.2f} vs test ELBO {r['test_elbo']:.2f}."
        )
        kl, var = r["kl_per_dim"], r["posterior_mean_variance"]
        active = [v > ACTIVE_THRESHOLD for v in var]
        if all(active):
            out.append(f"{m.label}: all {latent} dimensions are active (KL per dimension from {min(kl):.2f} to {max(kl):.2f} nats).")
        else:
            idle_kl = max(k for k, a in zip(kl, active) if not a)
            used_kl = [k for k, a in zip(kl, active) if a]
            used = f"{min(used_kl):.2f} to {max(used_kl):.2f} nats for the active ones" if used_kl else "no dimension is active"
            out.append(
                f"{m.label}: {r['active_units']} of {latent} dimensions are active (variance of mu over the test "
                f"inputs > {ACTIVE_THRESHOLD}); the other {latent - r['active_units']} collapse to the prior: their KL is "
                f"at most {idle_kl:.3f} nats, against {used}."
            )
    reference, two = measured[0], measured[1]
    out.append(
        f"Going from {reference.config.latent} to {two.config.latent} latent dimensions changes the test log-likelihood by "
        f"{two.results['test_iwae'] - reference.results['test_iwae']:+.2f} nats and the linear-probe accuracy on the "
        f"posterior means from {reference.results['probe_accuracy']:.3f} to {two.results['probe_accuracy']:.3f}."
    )
    for m in measured[2:]:
        out.append(
            f"{m.label} is {m.results['test_iwae'] - reference.results['test_iwae']:+.2f} nats from the 20-D reference run "
            f"(test IWAE {m.results['test_iwae']:.2f}), after {m.run.meta['train_time_s']:.0f} s of training against "
            f"{reference.run.meta['train_time_s']:.0f} s."
        )
    best = max(measured, key=lambda m: m.results["test_iwae"])
    out.append(
        f"For scale: Burda et al. (2016) report {BURDA_2016_VAE} nats for a VAE with one stochastic layer of 50 units "
        f"and two deterministic layers of 200, trained for 3,280 passes on dynamically binarised data; the best run here "
        f"({best.label}) is {BURDA_2016_VAE - best.results['test_iwae']:.2f} nats below it (docs/vae.md: what closes the gap)."
    )
    return out


def reference_config(preset: str, latent: int = 20) -> VAEConfig:
    """The SPEC 4 reference run as the preset trains it (the DCGAN lab compares against it)."""
    p = PRESETS[preset]
    return VAEConfig(latent=latent, epochs=p.epochs, limit=p.limit)


def run(preset: str, out: Path, device: str = "auto", data_dir=None, progress: bool = True) -> Path:
    """``genlab lab vae``: the reference runs (20-D and 2-D latent), their measurements and every SPEC 4 figure."""
    p = PRESETS[preset]
    lab = Lab(out, preset, device, data_dir, progress)
    task = lab.task_dir("vae")
    report = lab.report("vae", "Task 4: variational autoencoder")
    eval_config = EvalConfig(iwae_k=p.iwae_k, test_limit=p.test_limit, samples=p.samples)
    configs = {"latent 20": reference_config(preset), "latent 2": reference_config(preset, latent=2)}
    if p.longer is not None:
        configs["latent 50, binarized, batch 100"] = p.longer
    measured = []
    for label, config in configs.items():
        run_ = lab.train("vae", config, f"({label})")
        measured.append(Measured(label, config, run_, lab.evaluate(run_, eval_config)))
    figures = {m.config.latent: run_figures(m.run, lab.device, data_dir) for m in measured[:2]}

    def fig(latent: int, name: str, caption: str) -> Figure:
        return Figure(figures[latent][name], caption)

    report.add(Section(
        "4.1 Reconstructions (20-D latent)",
        "The first 20 test images, their reconstructions p(x=1|z) from the posterior mean and from a sample of "
        "q(z|x), and the posterior mean mu as a 4x5 image.",
        configs={label: c.to_dict() for label, c in configs.items()},
        figures=[fig(20, "reconstructions", "Reconstructions and latent state, 20-D latent")],
    ))
    usage = measured[0].results
    report.add(Section(
        "4.2 Which latent dimensions are used (20-D latent)",
        "Box plots over the binarised test inputs of each dimension's mu and sigma^2 = exp(log sigma^2) (not its "
        "square), and of the decoder's first-layer weights from each dimension. A dimension at the prior has "
        "mu ~ 0 and sigma^2 ~ 1 for every input, and the decoder ignores it (weights ~ 0).",
        figures=[fig(20, "latent_boxplots", "mu, sigma^2 and decoder weights per latent dimension, 20-D latent")],
        tables=[Table("KL(q(z|x) || p(z)) per latent dimension, mean over the test set (nats)",
                      ["dimension", "KL", "Var(mu)"],
                      [[j + 1, kl, var] for j, (kl, var) in enumerate(zip(usage["kl_per_dim"], usage["posterior_mean_variance"]))])],
    ))
    report.add(Section(
        "4.3 The test set in latent space (20-D latent)",
        "Posterior means of the 10,000 test images in the two dimensions with the largest KL (named on the axes), "
        "coloured by label; and p(x=1|z) decoded on a grid over those two dimensions with the others at 0.",
        figures=[fig(20, "latent_scatter", "Test inputs in the two most used latent dimensions"),
                 fig(20, "latent_walk", "Decoded grid over the two most used latent dimensions")],
    ))
    report.add(Section(
        "4.4 A 2-D latent space",
        "The same with a 2-dimensional latent space, and the decoded 15x15 walk over [-1.5, 1.5]^2.",
        figures=[fig(2, name, f"{caption}, 2-D latent") for name, caption in (
            ("reconstructions", "Reconstructions and latent state"), ("latent_boxplots", "mu, sigma^2 and decoder weights"),
            ("latent_scatter", "Test inputs in latent space"), ("latent_walk", "Decoded 15x15 walk"))],
    ))
    curves = {m.label: [e["test_elbo"] for e in m.run.log] for m in measured}
    curves_path = plots.curves_figure(curves, task / "figures" / "test_elbo.png", "Test ELBO per epoch", ylabel="nats")
    report.add(Section(
        "Samples and measurements",
        "100 samples of each model (the DCGAN lab compares against these), the test ELBO during training, and the "
        "measurements of `genlab eval` on the test set binarised with the fixed seed.",
        figures=[fig(20, "samples", "100 samples, 20-D latent"), fig(2, "samples", "100 samples, 2-D latent"),
                 Figure(curves_path, "Test ELBO per epoch")],
        tables=[Table(
            "VAE measurements (nats; higher is better)", COLUMNS, [m.row() for m in measured],
            note=f"Preset {preset}: {p.reduced}. Training time as measured on {lab.device_name}.",
        )],
        observations=observations(measured),
    ))
    report.models.update({"VAE (20-D latent)": measured[0].run.path, "VAE (2-D latent)": measured[1].run.path})
    return report.write(task)
