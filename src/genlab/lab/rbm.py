"""RBM experiments and figures (SPEC task 1), and ``genlab lab rbm``.

The figure functions each take a trained :class:`RBM` and write one PNG; the lab
(:func:`run`) trains the runs of SPEC 1.1-1.8, evaluates them, draws the figures and
writes ``OUT/rbm/report.md`` and ``results.json`` with one table per comparison.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from genlab import data, plots
from genlab.data import ImageSet
from genlab.evaluate.common import BINARIZE_SEED
from genlab.evaluate.run import EvalConfig
from genlab.lab import TINY_IMAGES, TINY_TEST
from genlab.lab.core import Lab, config_key
from genlab.lab.report import Figure, Section, Table
from genlab.models.rbm import RBM
from genlab.rng import bernoulli, make_generator
from genlab.runs import Run
from genlab.train.rbm import RBMConfig, load, sample

# ============================================================================ figures


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

    def inits(self, n_hidden: int, generator: torch.Generator, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor, list[int]]:
        """(random inits [n, n_hidden], single-unit inits [n, n_hidden], the single units)."""
        random = bernoulli(torch.full((self.n, n_hidden), self.fraction, device=device), generator) * self.gain
        units = torch.linspace(0, n_hidden - 1, min(self.n, n_hidden)).round().long().tolist()
        single = torch.zeros(len(units), n_hidden, device=device)
        single[torch.arange(len(units)), units] = self.strength
        return random, single, units


@torch.no_grad()
def generation_figure(
    rbm: RBM, path: Path, image_shape: tuple[int, int], generator: torch.Generator, spec: Generation = Generation()
) -> tuple[Path, dict[str, float]]:
    """SPEC 1.7: chains from random and single-unit hidden inits; the set state, final h and p(v = 1 | h).

    Returns the figure and the mean fraction of hidden units on at the end of each kind of chain.
    """
    random, single, units = spec.inits(rbm.n_hidden, generator, rbm.W.device)
    grid = hidden_grid_shape(rbm.n_hidden)
    rows, stats = [], {}
    for name, h0 in ((f"{spec.fraction:.0%} on x{spec.gain:g}", random), (f"1 unit x{spec.strength:g}", single)):
        h, p = rbm.generate(h0, spec.steps, generator)
        rows += [(f"set h: {name}", h0.reshape(-1, *grid)), ("final h", h.reshape(-1, *grid)), ("p(v=1|h)", p.reshape(-1, *image_shape))]
        stats[name] = h.mean().item()
    fig = plots.rows_figure(
        rows, path, title=f"Generation: {spec.steps} Gibbs steps from set hidden states (single units: {', '.join(map(str, units))})"
    )
    return fig, stats


@torch.no_grad()
def samples_figure(rbm: RBM, path: Path, image_shape: tuple[int, int], generator: torch.Generator, n: int = 100, steps: int = 1000) -> Path:
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


@torch.no_grad()
def reconstruction_comparison_figure(models: dict[str, RBM], test: ImageSet, path: Path, n: int = 10) -> Path:
    """The first n test images and p(v = 1 | h) of each model, one row per model (same seed for each)."""
    x = data.as_float(test.images[:n])
    rows = [("input", x.reshape(n, *test.image_shape))]
    for label, rbm in models.items():
        _, p = rbm.reconstruct(x.to(rbm.W.device), make_generator(0, rbm.W.device))
        rows.append((label, p.reshape(n, *test.image_shape)))
    return plots.rows_figure(rows, path, title="Reconstructions p(v=1|h) of the first test images")


# ============================================================================ the lab


@dataclass(frozen=True)
class Preset:
    """What ``genlab lab rbm --preset NAME`` trains and how it measures."""

    name: str
    base: RBMConfig  # the reference run; the variants change one setting each
    eval: EvalConfig
    ks: tuple[int, ...] = (1, 3, 10, 25)
    lrs: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3, 1.0)
    hiddens: tuple[int, ...] = (25, 50, 100, 250, 500)
    generation: Generation = field(default_factory=Generation)

    def settings(self) -> str:
        b, e = self.base, self.eval
        images = "all training images" if b.limit is None else f"the first {b.limit:,} training images"
        test = "all test images" if e.test_limit is None else f"the first {e.test_limit:,} test images"
        return (f"{b.epochs} epochs on {images}; log-likelihood on {test} (binarised with seed {BINARIZE_SEED}), "
                f"by AIS of {e.ais_runs} runs x {e.ais_betas:,} distributions above 20 hidden units")

    def note(self) -> str:
        """The table note: this preset's settings, and the full preset's when they differ."""
        full = PRESETS["full"]
        return f"Preset {self.name}: {self.settings()}" + ("." if self == full else f". Full preset: {full.settings()}.")


PRESETS = {
    "tiny": Preset("tiny", RBMConfig(limit=TINY_IMAGES, epochs=2),
                   EvalConfig(test_limit=TINY_TEST, ais_runs=10, ais_betas=200, samples=TINY_TEST),
                   ks=(1, 3), lrs=(0.03, 0.1), hiddens=(20, 100)),
    "full": Preset("full", RBMConfig(eval_every=10), EvalConfig()),
    # a sixth of the data, a tenth of the epochs, a cheaper AIS, no log-likelihood during training
    "quick": Preset("quick", RBMConfig(limit=10_000, epochs=10), EvalConfig(ais_runs=100, ais_betas=4_000, samples=1_000)),
}


@dataclass
class Result:
    """One trained and evaluated variant."""

    label: str
    run: Run
    eval: dict[str, Any]
    model: RBM

    @property
    def train_time(self) -> float:
        return float(self.run.meta["train_time_s"])


def run(preset: str, out: Path, device: str = "auto", data_dir: str | Path | None = None, progress: bool = True) -> Path:
    """``genlab lab rbm``: SPEC 1.1-1.8 with the named preset; returns OUT/rbm."""
    return run_preset(PRESETS[preset], out, device, data_dir, progress)


def run_preset(p: Preset, out: Path, device: str | torch.device = "auto", data_dir: str | Path | None = None, progress: bool = True) -> Path:
    lab = Lab(out, p.name, device, data_dir, progress)
    task = lab.task_dir("rbm")
    figures = task / "figures"
    report = lab.report("rbm", "Task 1: RBM trained with CD-k")
    results: dict[str, Result] = {}

    def result(label: str, config: RBMConfig) -> Result:
        key = config_key("rbm", config)
        if key not in results:
            run_ = lab.train("rbm", config, label)
            results[key] = Result(label, run_, lab.evaluate(run_, p.eval), load(run_, lab.device))
        return Result(label, results[key].run, results[key].eval, results[key].model)

    lab.say("SPEC 1.1-1.3, 1.7: the reference run")
    ref = result("reference", p.base)
    source = data.resolve(p.base.dataset, data_dir)
    test = data.load_split(source, "test", lab.device)
    shape = test.image_shape
    gen = lambda: make_generator(0, lab.device)  # noqa: E731 - the same draws for every figure

    s = report.add(Section("1.1 Weights", "Each hidden unit's weights as a 28x28 image: the pattern the unit detects.",
                           configs={"reference": p.base.to_dict()}))
    s.figures.append(Figure(weights_figure(ref.model, figures / "1.1-weights.png", shape), "W of the reference run"))
    s.tables.append(table("Reference run", [ref], p))
    s.observations += reference_observations(ref)

    s = report.add(Section("1.2 Reconstructions", "The first 20 test images, their reconstructions p(v=1|h) with h ~ p(h|v), "
                           "and the hidden state h (10x10). Below: the build-up of the first reconstruction, starting from "
                           "sigma(a) and adding the weights of each active hidden unit in turn."))
    s.figures.append(Figure(reconstructions_figure(ref.model, test, figures / "1.2-reconstructions.png", gen()), "reconstructions"))
    s.figures.append(Figure(buildup_figure(ref.model, test, figures / "1.2-buildup.png", gen()), "build-up of one reconstruction"))
    s.observations += buildup_observations(ref.model, test)

    s = report.add(Section("1.3 Hidden unit usage", "How often each hidden unit is on over the test set (mean p(h=1|v)), and "
                           "the weights sorted from the most to the least used unit."))
    paths, usage = usage_figures(ref.model, test, figures, prefix="1.3-")
    s.figures += [Figure(paths[0], "usage map"), Figure(paths[1], "weights sorted by usage")]
    s.observations += usage_observations(usage)

    comparisons = [
        ("1.4 No initial sampling", "Training on the real-valued pixels themselves instead of a fresh Bernoulli sample of "
         "them (--no-binarize), against the reference run.", "1.4-binarize",
         [("reference (sampled v)", p.base), ("real-valued v", p.base.replace(binarize=False))]),
        ("1.5 Gibbs steps k in CD-k", "CD-k with several k, otherwise the reference settings.", "1.5-k",
         [(f"k={k}", p.base.replace(cd_k=k)) for k in p.ks]),
        ("1.6 Learning rate", "Several learning rates, otherwise the reference settings.", "1.6-lr",
         [(f"lr={lr:g}", p.base.replace(lr=lr)) for lr in p.lrs]),
    ]
    for title, text, tag, variants in comparisons:
        lab.say(f"SPEC {title}")
        rs = [result(label, cfg) for label, cfg in variants]
        s = report.add(Section(title, text, configs={r.label: cfg.to_dict() for r, (_, cfg) in zip(rs, variants)}))
        s.tables.append(table(title, rs, p))
        s.figures += comparison_figures(rs, test, figures, tag)
        s.observations += compare(rs)

    lab.say("SPEC 1.7: generation")
    s = report.add(Section("1.7 Generation", f"Chains started from set hidden states: {p.generation.fraction:.0%} of the units "
                           f"on at {p.generation.gain:g}, and single units at {p.generation.strength:g}; "
                           f"{p.generation.steps} Gibbs steps; the set state, the final hidden state and p(v=1|h)."))
    fig, stats = generation_figure(ref.model, figures / "1.7-generation.png", shape, gen(), p.generation)
    s.figures.append(Figure(fig, "generation from set hidden states (reference run)"))
    s.observations += generation_observations(stats, p.generation.steps)
    s.figures.append(Figure(samples_figure(ref.model, figures / "1.7-samples.png", shape, gen()), "samples after 1,000 Gibbs steps"))

    lab.say("SPEC 1.8: hidden layer sizes")
    variants = [(f"{n} hidden", p.base.replace(hidden=n)) for n in p.hiddens]
    rs = [result(label, cfg) for label, cfg in variants]
    s = report.add(Section("1.8 Fewer and more hidden units", "The experiments above with other hidden layer sizes: weights, "
                           "reconstructions, usage and generation for each.",
                           configs={r.label: cfg.to_dict() for r, (_, cfg) in zip(rs, variants)}))
    s.tables.append(table("1.8 Hidden layer size", rs, p))
    s.figures += comparison_figures(rs, test, figures, "1.8-hidden")
    for r in rs:
        tag = f"1.8-h{r.model.n_hidden}"
        s.figures.append(Figure(weights_figure(r.model, figures / f"{tag}-weights.png", shape), f"weights, {r.label}"))
        s.figures.append(Figure(reconstructions_figure(r.model, test, figures / f"{tag}-reconstructions.png", gen()), f"reconstructions, {r.label}"))
        usage_paths, _ = usage_figures(r.model, test, figures, prefix=f"{tag}-")
        s.figures += [Figure(usage_paths[0], f"usage, {r.label}"), Figure(usage_paths[1], f"weights by usage, {r.label}")]
        s.figures.append(Figure(generation_figure(r.model, figures / f"{tag}-generation.png", shape, gen(), p.generation)[0], f"generation, {r.label}"))
    s.observations += compare(rs)

    report.models["RBM (reference)"] = ref.run.path
    report.write(task)
    lab.say(f"done: {lab.trained} runs trained, {lab.reused} re-used; report in {task / 'report.md'}")
    return task


# ----------------------------------------------------------------------------- tables and observations

OPTIONAL_COLUMNS = {"fid": "FID", "classifier_score": "classifier score"}


def table(title: str, rs: list[Result], p: Preset) -> Table:
    """One row per variant: test log-likelihood with its method and interval, recon error, probe, time."""
    extra = [key for key in OPTIONAL_COLUMNS if any(key in r.eval for r in rs)]
    columns = ["variant", "test log-lik (nats)", "interval", "method", "train log-lik", "recon error", "probe accuracy", "train time (s)"]
    rows = []
    for r in rs:
        e = r.eval
        rows.append([
            r.label, e["test_loglik"], _interval(e), _method(e), e["train_loglik"], e["recon_error"], e["probe_accuracy"],
            f"{r.train_time:.1f}", *(e.get(key) for key in extra),
        ])
    return Table(title, columns + [OPTIONAL_COLUMNS[k] for k in extra], rows, note=p.note())


def _interval(e: dict[str, Any]) -> str:
    if e["test_loglik_method"] == "exact":
        return "exact"
    low, high = e.get("test_loglik_low"), e.get("test_loglik_high")
    return "[" + ", ".join("n/a" if x is None else f"{x:.2f}" for x in (low, high)) + "]"


def _method(e: dict[str, Any]) -> str:
    if e["test_loglik_method"] == "ais":
        return f"AIS {e['ais_runs']}x{e['ais_betas']:,}"
    return e["test_loglik_method"]


def _resolved(better: Result, worse: Result) -> str:
    """'.' when better's interval lies wholly above worse's, else why the ranking rests on the point estimates."""
    high, low = worse.eval.get("test_loglik_high"), better.eval.get("test_loglik_low")
    if high is None:
        return (f"; {worse.label}'s AIS interval has no upper end (the mean importance weight minus 3 standard "
                "errors is not positive), so the ranking rests on the point estimates.")
    if low is None:
        return (f"; {better.label}'s AIS interval has no lower end (a Gibbs state showed log Z above it), "
                "so the ranking rests on the point estimates.")
    if low > high:
        return "."
    return "; the intervals overlap, so the difference is not resolved."


def compare(rs: list[Result]) -> list[str]:
    """What the numbers of a comparison say, in sentences computed from them."""
    if len(rs) < 2:
        return []
    first = rs[0]
    by_ll = sorted(rs, key=lambda r: r.eval["test_loglik"], reverse=True)
    best, worst = by_ll[0], by_ll[-1]
    out = []
    other = by_ll[1] if best is first else first  # the runner-up, or the first variant listed
    out.append(f"{best.label} gave the highest test log-likelihood ({best.eval['test_loglik']:.2f} nats), "
               f"{best.eval['test_loglik'] - other.eval['test_loglik']:.2f} nats above "
               f"{'the next best, ' if best is first else ''}{other.label} ({other.eval['test_loglik']:.2f})"
               + _resolved(best, other))
    out.append(f"The lowest was {worst.label} ({worst.eval['test_loglik']:.2f} nats, "
               f"{best.eval['test_loglik'] - worst.eval['test_loglik']:.2f} below the best).")
    gaps = {r.label: r.eval["train_loglik"] - r.eval["test_loglik"] for r in rs}
    widest = max(gaps, key=gaps.get)
    out.append(f"Train minus test log-likelihood (overfitting gap) ranged from {min(gaps.values()):.2f} to "
               f"{gaps[widest]:.2f} nats ({widest}).")
    by_recon = min(rs, key=lambda r: r.eval["recon_error"])
    by_probe = max(rs, key=lambda r: r.eval["probe_accuracy"])
    out.append(f"Lowest reconstruction error: {by_recon.label} ({by_recon.eval['recon_error']:.4f} vs "
               f"{max(r.eval['recon_error'] for r in rs):.4f} at worst)"
               + ("." if by_recon is best else f"; it is not the variant with the highest log-likelihood ({best.label}), "
                  "so reconstruction error is no proxy for likelihood."))
    out.append(f"Best probe accuracy: {by_probe.label} ({by_probe.eval['probe_accuracy']:.2%} vs "
               f"{min(r.eval['probe_accuracy'] for r in rs):.2%} at worst).")
    slow, fast = max(rs, key=lambda r: r.train_time), min(rs, key=lambda r: r.train_time)
    out.append(f"Training took {fast.train_time:.0f} s ({fast.label}) to {slow.train_time:.0f} s ({slow.label}), "
               f"{slow.train_time / max(fast.train_time, 1e-9):.1f}x.")
    return out


def reference_observations(ref: Result) -> list[str]:
    e = ref.eval
    out = [f"Test log-likelihood {e['test_loglik']:.2f} nats ({_method(e)}, interval {_interval(e)}), train "
           f"{e['train_loglik']:.2f}: an overfitting gap of {e['train_loglik'] - e['test_loglik']:.2f} nats."]
    out.append(f"Reconstruction error {e['recon_error']:.4f} per pixel; a linear probe on p(h|v) reaches "
               f"{e['probe_accuracy']:.2%} test accuracy.")
    return out


@torch.no_grad()
def buildup_observations(rbm: RBM, test: ImageSet) -> list[str]:
    x = data.as_float(test.images)
    h, p = rbm.reconstruct(x, make_generator(0, x.device))
    active = h.sum(1)
    return [f"A test image turns on {active.mean().item():.1f} of {rbm.n_hidden} hidden units on average "
            f"(from {int(active.min())} to {int(active.max())}); the reconstruction is sigma of the visible bias plus "
            f"the sum of their weights, so every image is drawn from a few dozen strokes."]


def usage_observations(usage: torch.Tensor) -> list[str]:
    n = usage.numel()
    rare, common = int((usage < 0.01).sum()), int((usage > 0.5).sum())
    return [f"The most used unit is on for {usage.max().item():.1%} of the test images, the least used for "
            f"{usage.min().item():.2%}; {rare} of {n} units are on for under 1% (unused), {common} for over half."]


def generation_observations(stats: dict[str, float], steps: int) -> list[str]:
    out = []
    for name, on in stats.items():
        line = f"After {steps} steps from '{name}', {on:.1%} of the hidden units are on on average"
        if on < 0.01:
            line += ("; these chains fell into the all-off hidden state, whose p(v=1|h) is sigma(a), the same "
                     "blurred image for every chain")
        out.append(line + ".")
    return out


def comparison_figures(rs: list[Result], test: ImageSet, figures: Path, tag: str) -> list[Figure]:
    """Reconstructions of every variant, their weights side by side, and the learning curves."""
    out = [Figure(reconstruction_comparison_figure({r.label: r.model for r in rs}, test, figures / f"{tag}-reconstructions.png"),
                  "reconstructions by variant")]
    if all(r.model.n_hidden == rs[0].model.n_hidden for r in rs):
        for r in rs:
            name = f"{tag}-weights-{_slug(r.label)}.png"
            out.append(Figure(weights_figure(r.model, figures / name, test.image_shape, title=f"W, {r.label}"), f"weights, {r.label}"))
    curves = {r.label: [e["test_recon_error"] for e in r.run.log] for r in rs}
    out.append(Figure(plots.curves_figure(curves, figures / f"{tag}-recon-curves.png", "Test reconstruction error",
                                          ylabel="mean squared error per pixel"), "test reconstruction error by epoch"))
    logged = {r.label: [e for e in r.run.log if "test_loglik" in e] for r in rs}
    if all(logged.values()):
        out.append(Figure(plots.curves_figure(
            {k: [e["test_loglik"] for e in v] for k, v in logged.items()}, figures / f"{tag}-loglik-curves.png",
            "Test log-likelihood during training (exact, or the cheap AIS of --eval-every)", ylabel="nats",
            xs={k: [e["epoch"] for e in v] for k, v in logged.items()}), "test log-likelihood by epoch"))
    return out


def _slug(label: str) -> str:
    """A label as part of a file name: 'reference (sampled v)' -> 'reference-sampled-v'."""
    return re.sub(r"[^A-Za-z0-9.=]+", "-", label).strip("-")
