"""The figures of an RBM (SPEC task 1): each takes a trained :class:`RBM` and writes one PNG."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from genlab import data
from genlab.data import ImageSet
from genlab.figures import plots
from genlab.figures.plots import hidden_grid_shape
from genlab.models.rbm import RBM
from genlab.rng import bernoulli, make_generator


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
    test = test.head(n)  # fewer when the test split is smaller
    n = len(test)
    x = data.as_float(test.images)
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
        col_labels=[str(int(c)) for c in test.labels],
    )


@torch.no_grad()
def buildup(rbm: RBM, h: torch.Tensor) -> tuple[list[int], torch.Tensor]:
    """SPEC 1.2's build-up of one reconstruction from a binary hidden state ``h`` [n_hidden].

    Returns the active units j_1 < j_2 < ... and the images sigma(a + W_:j_1 + ... + W_:j_t)
    for t = 0 .. (number active), as rows [1 + active, n_visible]; the last row is p(v = 1 | h).
    """
    units = h.nonzero().flatten().tolist()
    steps = rbm.W.t()[units]  # the weights added one at a time
    partial = torch.cat([rbm.v_bias[None], rbm.v_bias + steps.cumsum(0)])
    return units, torch.sigmoid(partial)


@torch.no_grad()
def buildup_figure(rbm: RBM, test: ImageSet, path: Path, generator: torch.Generator, index: int = 0, ncol: int = 10) -> Path:
    """The build-up of test image ``index``'s reconstruction: each added weight pattern, then sigma of the sum."""
    shape = test.image_shape
    x = data.as_float(test.images[index : index + 1])
    h, _ = rbm.reconstruct(x, generator)
    units, images = buildup(rbm, h[0])
    weights = plots.normalize_each(rbm.W.t()[units].reshape(-1, *shape)) if units else torch.empty(0, *shape)
    panels: list[tuple[str, torch.Tensor | None]] = [("input", x.reshape(shape)), ("sigma(a)", images[0].reshape(shape))]
    panels += [("", None)] * (ncol - 2)
    for start in range(0, len(units), ncol):
        block = range(start, min(start + ncol, len(units)))
        pad = [("", None)] * (ncol - len(block))
        panels += [(f"+W[:,{units[t]}]", weights[t]) for t in block] + pad
        panels += [(f"step {t + 1}", images[t + 1].reshape(shape)) for t in block] + pad
    return plots.panels_figure(
        panels,
        path,
        ncol=ncol,
        title=f"Build-up of the reconstruction of test image {index} from its {len(units)} active hidden units:\n"
        "each weight pattern added (upper rows), then sigma of the running sum a + W[:,j1] + ... (lower rows)",
    )


@torch.no_grad()
def unit_usage(rbm: RBM, x: torch.Tensor) -> torch.Tensor:
    """How often each hidden unit is on over the rows of x: the mean of p(h_j = 1 | v)."""
    return torch.cat([rbm.p_h(chunk) for chunk in x.split(10_000)]).mean(0)


@torch.no_grad()
def usage_figures(rbm: RBM, test: ImageSet, out: Path, prefix: str = "") -> tuple[list[Path], torch.Tensor]:
    """SPEC 1.3: the usage map with a colour bar and the weight grid sorted by usage. Returns (paths, usage)."""
    usage = unit_usage(rbm, data.as_float(test.images))
    heat = plots.heatmap_figure(
        usage.reshape(hidden_grid_shape(rbm.n_hidden)),
        out / f"{prefix}usage.png",
        title=f"How often each hidden unit is on ({len(test):,} test images)",
        label="mean p(h_j = 1 | v)",
    )
    order = usage.argsort(descending=True)
    grid = weights_figure(rbm, out / f"{prefix}weights_by_usage.png", test.image_shape, order, title="W sorted from most to least used unit")
    return [heat, grid], usage


@dataclass(frozen=True)
class Generation:
    """SPEC 1.7's hidden initialisations and chains."""

    n: int = 10  # chains of each kind
    fraction: float = 0.1  # random inits: this fraction of the units on ...
    gain: float = 20.0  # ... at this value
    strength: float = 10.0  # single-unit inits: one unit at this value
    steps: int = 19  # Gibbs steps

    def set_states(self, n_units: int, generator: torch.Generator,
                   device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor, list[int]]:
        """The set hidden states: (random rows [n, n_units], single-unit rows [<= n, n_units], the single units).

        Random rows have each unit on with probability ``fraction``, scaled by ``gain``; a
        single-unit row has one unit (spread evenly over the layer) at ``strength``, the others at 0.
        """
        random = bernoulli(torch.full((self.n, n_units), self.fraction, device=device), generator) * self.gain
        units = torch.linspace(0, n_units - 1, min(self.n, n_units)).round().long().tolist()
        single = torch.zeros(len(units), n_units, device=device)
        single[torch.arange(len(units)), units] = self.strength
        return random, single, units


@dataclass(frozen=True)
class Chains:
    """Where a set of Gibbs chains ended: what SPEC 1.7's answer reads from them."""

    on: float  # the mean fraction of hidden units on in the final states
    spread: float  # the mean over pixels of the standard deviation of p(v=1|h) across the chains (0: one image for all)

    @staticmethod
    def of(h: torch.Tensor, p: torch.Tensor) -> Chains:
        """The chains whose final hidden states are the rows of ``h`` and whose p(v = 1 | h) are the rows of ``p``."""
        spread = p.std(0).mean().item() if p.shape[0] > 1 else 0.0
        return Chains(on=h.mean().item(), spread=spread)


@torch.no_grad()
def generation_figure(
    rbm: RBM, path: Path, image_shape: tuple[int, int], generator: torch.Generator, spec: Generation = Generation(),
    title: str = "Generation",
) -> tuple[Path, dict[str, Chains]]:
    """SPEC 1.7: chains from random and single-unit hidden inits; the set state, final h and p(v = 1 | h).

    Returns the figure and where each kind of chain ended, by the name of its initialisation.
    """
    random, single, units = spec.set_states(rbm.n_hidden, generator, rbm.W.device)
    grid = hidden_grid_shape(rbm.n_hidden)
    rows, stats = [], {}
    for name, h0 in ((f"{spec.fraction:.0%} on x{spec.gain:g}", random), (f"1 unit x{spec.strength:g}", single)):
        h, p = rbm.generate(h0, spec.steps, generator)
        rows += [(f"set h: {name}", h0.reshape(-1, *grid)), ("final h", h.reshape(-1, *grid)), ("p(v=1|h)", p.reshape(-1, *image_shape))]
        stats[name] = Chains.of(h, p)
    fig = plots.rows_figure(
        rows, path, title=f"{title}: {spec.steps:,} Gibbs steps from set hidden states (single units: {', '.join(map(str, units))})"
    )
    return fig, stats


@torch.no_grad()
def samples_figure(rbm: RBM, path: Path, image_shape: tuple[int, int], generator: torch.Generator, n: int = 100,
                   steps: int = 1000, title: str = "") -> tuple[Path, Chains]:
    """``n`` samples p(v = 1 | h) after ``steps`` Gibbs steps from uniformly random visible states (the chains of
    :meth:`RBM.sample`, the same draws); returns the figure and where the chains ended."""
    v = bernoulli(torch.full((n, rbm.n_visible), 0.5, device=rbm.W.device), generator)
    _, h = rbm.sample_h(v, generator)
    h, p = rbm.generate(h, steps, generator)
    heading = f"{n:,} samples, p(v=1|h) after {steps:,} Gibbs steps"
    figure = plots.grid_figure(p.reshape(n, *image_shape), path, nrow=10, title=f"{title}: {heading}" if title else heading)
    return figure, Chains.of(h, p)


def standard_figures(rbm: RBM, test: ImageSet, out: Path, generator: torch.Generator) -> list[Path]:
    """The figures every RBM run writes: weights, reconstructions and samples."""
    shape = test.image_shape
    return [
        weights_figure(rbm, out / "weights.png", shape),
        reconstructions_figure(rbm, test, out / "reconstructions.png", generator),
        samples_figure(rbm, out / "samples.png", shape, generator)[0],
    ]


@torch.no_grad()
def reconstruction_comparison_figure(models: dict[str, RBM], test: ImageSet, path: Path, n: int = 10) -> Path:
    """The first n test images and p(v = 1 | h) of each model, one row per model (same seed for each)."""
    test = test.head(n)  # fewer when the test split is smaller
    n = len(test)
    x = data.as_float(test.images)
    rows = [("input", x.reshape(n, *test.image_shape))]
    for label, rbm in models.items():
        _, p = rbm.reconstruct(x.to(rbm.W.device), make_generator(0, rbm.W.device))
        rows.append((label, p.reshape(n, *test.image_shape)))
    return plots.rows_figure(rows, path, title="Reconstructions p(v=1|h) of the first test images")
