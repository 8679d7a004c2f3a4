"""The figures of a DBN (SPEC tasks 2 and 3): each takes trained models and writes one PNG."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from genlab import data
from genlab.data import ImageSet
from genlab.figures import plots
from genlab.figures.plots import hidden_grid_shape
from genlab.figures.rbm import Generation, weights_figure
from genlab.models.dbn import DBN, BeliefNet, UpDownDBN
from genlab.models.rbm import RBM
from genlab.rng import make_generator

# A run's own reconstruction figure: the plain up-down pass, without SPEC 2's Gibbs steps in the top RBM
# (the lab's figures of 2.2 and 3.2 take them)
PLAIN_TITLE = "Reconstructions of the first test images: up pass, no Gibbs step (k=0) in the top RBM, down pass"


def set_states(n_units: int, generator: torch.Generator) -> torch.Tensor:
    """SPEC 1.7's set hidden states for a layer of ``n_units``, one per row: the random rows, then
    the single-unit rows (:meth:`genlab.figures.rbm.Generation.set_states`)."""
    random, single, _ = Generation().set_states(n_units, generator, generator.device)
    return torch.cat([random, single])


def as_grid(h: torch.Tensor) -> torch.Tensor:
    """Hidden states [n, units] as [n, rows, cols] images (100 -> 10x10, 784 -> 28x28)."""
    return h.reshape(h.shape[0], *hidden_grid_shape(h.shape[1]))


@torch.no_grad()
def top_weights_figure(dbn: BeliefNet, path: Path, title: str | None = None) -> Path:
    """SPEC 2.1: each top hidden unit's weights over h1, as an image of the h1 layer."""
    return weights_figure(
        dbn.top, path, hidden_grid_shape(dbn.n_h1),
        title=title or f"W2: weights of the {dbn.n_h2} top units over the {dbn.n_h1} units of h1",
    )


@torch.no_grad()
def reconstructions_figure(
    models: list[tuple[str, Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]]],
    test: ImageSet, path: Path, n: int = 20, title: str = "Reconstructions of the first test images",
) -> Path:
    """SPEC 2.2 / 3.2: the first n test images, then for each model its p(v = 1 | h) and top state.

    Each model is given as (name, reconstruct) with ``reconstruct(x) -> (top state, p(v = 1 | h))``.
    """
    test = test.head(n)  # fewer when the test split is smaller
    n = len(test)
    x = data.as_float(test.images)
    rows = [("input", x.reshape(n, *test.image_shape))]
    for name, reconstruct in models:
        top, p = reconstruct(x)
        rows += [(f"{name} p(v=1|h)", p.reshape(n, *test.image_shape)), (f"{name} top", as_grid(top))]
    return plots.rows_figure(rows, path, title=title, col_labels=[str(int(c)) for c in test.labels])


@torch.no_grad()
def generation_figure(
    models: list[tuple[str, RBM | BeliefNet]], steps: int, path: Path, image_shape: tuple[int, int], seed: int,
    generator: torch.Generator, title: str | None = None,
) -> Path:
    """SPEC 1.7 / 2.3 / 3.3: from the SPEC 1.7 set states of each model's top layer, ``steps``
    Gibbs steps, then p(v = 1 | h).

    Works for an RBM (its hidden layer) and a DBN (its top layer) alike: both have
    ``generate(h, steps)``. The set states come from ``seed``, so top layers of the same
    size start from the same states (shown once).
    """
    rows: list[tuple[str, torch.Tensor]] = []
    shown = None
    for name, model in models:
        units = model.n_hidden if isinstance(model, RBM) else model.n_h2
        init = set_states(units, make_generator(seed, generator.device))
        if shown is None or not torch.equal(init, shown):
            rows.append((f"set state ({units})", as_grid(init)))
            shown = init
        h, p = model.generate(init, steps, generator)
        rows += [(f"{name} top", as_grid(h)), (f"{name} p(v=1|h)", p.reshape(-1, *image_shape))]
    return plots.rows_figure(rows, path, title=title or f"Generation from set top states, {steps} Gibbs steps")


@torch.no_grad()
def samples_figure(model: BeliefNet, path: Path, image_shape: tuple[int, int], generator: torch.Generator,
                   n: int = 100, steps: int = 1000, title: str | None = None) -> Path:
    images = model.sample(n, generator, steps).reshape(n, *image_shape)
    return plots.grid_figure(images, path, nrow=10, title=title or f"{n} samples, p(v=1|h1) after {steps} top Gibbs steps")


@torch.no_grad()
def layer_weights_figure(W: torch.Tensor, path: Path, image_shape: tuple[int, int], title: str,
                         each: bool = True, n: int = 100, colorbar: str = "") -> Path:
    """The first ``n`` columns of a (pixels x units) weight matrix as images: each on its own
    scale (patterns), or all on one scale from 0 (absolute differences), with a colour bar."""
    images = W.t()[:n].reshape(-1, *image_shape)
    if each:
        return plots.grid_figure(plots.normalize_each(images), path, nrow=10, title=title)
    return plots.grid_figure(images, path, nrow=10, title=title, cmap="magma", vmax=float(images.max()),
                             colorbar=colorbar)


def dbn_figures(dbn: DBN, test: ImageSet, out: Path, generator: torch.Generator) -> list[Path]:
    """The figures every DBN run writes: W2, reconstructions and samples."""
    return [
        top_weights_figure(dbn, out / "top_weights.png"),
        reconstructions_figure([("dbn k=0", lambda x: dbn.reconstruct(x, 0, generator))], test, out / "reconstructions.png",
                               title=PLAIN_TITLE),
        samples_figure(dbn, out / "samples.png", test.image_shape, generator),
    ]


def finetune_figures(model: UpDownDBN, test: ImageSet, out: Path, generator: torch.Generator) -> list[Path]:
    """The figures every fine-tuned run writes: R1, W1', |R1 - W1'|, reconstructions and samples."""
    return [
        *lower_weights_figures(model, out, test.image_shape),
        reconstructions_figure([("up-down k=0", lambda x: model.reconstruct(x, 0, generator))], test,
                               out / "reconstructions.png", title=PLAIN_TITLE),
        samples_figure(model, out / "samples.png", test.image_shape, generator),
    ]


def lower_weights_figures(model: UpDownDBN, out: Path, image_shape: tuple[int, int]) -> list[Path]:
    """SPEC 3.1: recognition weights R1, generative weights W1' and |R1 - W1'|."""
    return [
        layer_weights_figure(model.R1, out / "recognition_weights.png", image_shape, "R1: recognition (up) weights"),
        layer_weights_figure(model.W1_down, out / "generative_weights.png", image_shape, "W1': generative (down) weights"),
        layer_weights_figure((model.R1 - model.W1_down).abs(), out / "weights_difference.png", image_shape,
                             "|R1 - W1'| (one scale, from 0)", each=False, colorbar="|R1 - W1'|"),
    ]
