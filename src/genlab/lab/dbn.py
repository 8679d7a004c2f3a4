"""DBN experiments and figures: SPEC task 2 (``genlab lab dbn``) and task 3 (``genlab lab dbn-finetune``).

Both labs train the same RBM 1 (through ``Lab.train("rbm", ...)``, so they share the RBM
lab's run when its config matches) and the same greedy DBN on it; the fine-tuning lab
re-uses the DBN lab's runs when both write to the same output directory.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genlab import data, plots
from genlab.data import ImageSet
from genlab.evaluate.run import EvalConfig
from genlab.lab import TINY_IMAGES, TINY_TEST
from genlab.lab.core import Lab
from genlab.lab.rbm import hidden_grid_shape, weights_figure
from genlab.lab.report import Figure, Section, Table
from genlab.models.dbn import DBN, BeliefNet, UpDownDBN
from genlab.models.rbm import RBM
from genlab.rng import bernoulli, make_generator
from genlab.runs import Run, write_json
from genlab.train.dbn import (
    DBNConfig,
    FinetuneConfig,
    model_sha256,
    sample,
    sample_chains,
)
from genlab.train.rbm import RBMConfig
from genlab.train.rbm import sample as sample_rbm

FIGURE_SEED = 2024  # the random draws of every lab figure

# ----------------------------------------------------------------------------- figures


def generation_initialisations(
    n_units: int, generator: torch.Generator, n_random: int = 10, n_single: int = 10,
    fraction: float = 0.1, gain: float = 20.0, strength: float = 10.0,
) -> torch.Tensor:
    """The hidden initialisations of SPEC 1.7, one per row: ``n_random`` rows with each unit
    on with probability ``fraction``, scaled by ``gain``; then ``n_single`` rows with one
    unit (evenly spread over the layer) at ``strength`` and the others at 0."""
    device = generator.device
    random_rows = bernoulli(torch.full((n_random, n_units), fraction, device=device), generator) * gain
    single_rows = torch.zeros(n_single, n_units, device=device)
    units = torch.linspace(0, n_units - 1, n_single, device=device).round().long()
    single_rows[torch.arange(n_single, device=device), units] = strength
    return torch.cat([random_rows, single_rows])


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
    x = data.as_float(test.images[:n])
    rows = [("input", x.reshape(n, *test.image_shape))]
    for name, reconstruct in models:
        top, p = reconstruct(x)
        rows += [(f"{name} p(v=1|h)", p.reshape(n, *test.image_shape)), (f"{name} top", as_grid(top))]
    return plots.rows_figure(rows, path, title=title, col_labels=[str(int(c)) for c in test.labels[:n]])


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
        init = generation_initialisations(units, make_generator(seed, generator.device))
        if shown is None or not torch.equal(init, shown):
            rows.append((f"set state ({units})", as_grid(init)))
            shown = init
        h, p = model.generate(init, steps, generator)
        rows += [(f"{name} top", as_grid(h)), (f"{name} p(v=1|h)", p.reshape(-1, *image_shape))]
    return plots.rows_figure(rows, path, title=title or f"Generation from set top states, {steps} Gibbs steps")


@torch.no_grad()
def samples_figure(model: BeliefNet, path: Path, image_shape: tuple[int, int], generator: torch.Generator,
                   n: int = 100, steps: int = 1000, title: str | None = None) -> Path:
    images = sample(model, n, generator, steps).reshape(n, *image_shape)
    return plots.grid_figure(images, path, nrow=10, title=title or f"{n} samples, p(v=1|h1) after {steps} top Gibbs steps")


@torch.no_grad()
def layer_weights_figure(W: torch.Tensor, path: Path, image_shape: tuple[int, int], title: str,
                         each: bool = True, n: int = 100) -> Path:
    """The first ``n`` columns of a (pixels x units) weight matrix as images: each on its own
    scale (patterns), or all on one scale from 0 (absolute differences)."""
    images = W.t()[:n].reshape(-1, *image_shape)
    if each:
        return plots.grid_figure(plots.normalize_each(images), path, nrow=10, title=title)
    return plots.grid_figure(images, path, nrow=10, title=title, cmap="magma", vmax=float(images.max()))


def dbn_figures(dbn: DBN, test: ImageSet, out: Path, generator: torch.Generator) -> list[Path]:
    """The figures every DBN run writes: W2, reconstructions and samples."""
    return [
        top_weights_figure(dbn, out / "top_weights.png"),
        reconstructions_figure([("dbn", lambda x: dbn.reconstruct(x, 0, generator))], test, out / "reconstructions.png"),
        samples_figure(dbn, out / "samples.png", test.image_shape, generator),
    ]


def finetune_figures(model: UpDownDBN, test: ImageSet, out: Path, generator: torch.Generator) -> list[Path]:
    """The figures every fine-tuned run writes: R1, W1', |R1 - W1'|, reconstructions and samples."""
    return [
        *lower_weights_figures(model, out, test.image_shape),
        reconstructions_figure([("up-down", lambda x: model.reconstruct(x, 0, generator))], test,
                               out / "reconstructions.png"),
        samples_figure(model, out / "samples.png", test.image_shape, generator),
    ]


def lower_weights_figures(model: UpDownDBN, out: Path, image_shape: tuple[int, int]) -> list[Path]:
    """SPEC 3.1: recognition weights R1, generative weights W1' and |R1 - W1'|."""
    return [
        layer_weights_figure(model.R1, out / "recognition_weights.png", image_shape, "R1: recognition (up) weights"),
        layer_weights_figure(model.W1_down, out / "generative_weights.png", image_shape, "W1': generative (down) weights"),
        layer_weights_figure((model.R1 - model.W1_down).abs(), out / "weights_difference.png", image_shape,
                             "|R1 - W1'| (one scale, from 0)", each=False),
    ]


# ----------------------------------------------------------------------------- presets


@dataclass
class Preset:
    """The runs of both DBN labs: RBM 1, the greedy DBNs, the fine-tuned DBN, and the evaluation."""

    name: str
    rbm: RBMConfig
    dbn: DBNConfig
    finetune: FinetuneConfig
    eval: EvalConfig
    note: str
    gibbs_steps: int = 100  # SPEC 2.3: Gibbs steps in the top RBM when generating


def preset(name: str) -> Preset:
    if name == "full":
        return Preset(
            "full", RBMConfig(), DBNConfig(), FinetuneConfig(), EvalConfig(),
            "the SPEC reference: 60,000 training images, 100 epochs per layer and of fine-tuning, "
            "AIS with 100 runs and 14,500 distributions",
        )
    if name == "quick":
        # RBM 1 and the evaluation as in the RBM lab's quick preset, so both labs share that run
        images, epochs = 10_000, 20
        return Preset(
            "quick",
            RBMConfig(epochs=10, limit=images),
            DBNConfig(epochs=epochs, limit=images),
            FinetuneConfig(epochs=epochs, limit=images),
            EvalConfig(ais_runs=100, ais_betas=4_000, samples=1_000),
            f"reduced from the SPEC reference: the first {images:,} training images (instead of 60,000), 10 epochs "
            f"for RBM 1 and {epochs} for the top RBM and for fine-tuning (instead of 100), AIS with 100 runs and "
            "4,000 distributions (instead of 14,500)",
        )
    if name == "tiny":  # RBM 1 and the evaluation as in the RBM lab's tiny preset
        return Preset(
            "tiny",
            RBMConfig(epochs=2, limit=TINY_IMAGES),
            DBNConfig(epochs=2, limit=TINY_IMAGES),
            FinetuneConfig(epochs=2, limit=TINY_IMAGES),
            EvalConfig(test_limit=TINY_TEST, ais_runs=10, ais_betas=200, samples=TINY_TEST),
            f"a smoke test, not a measurement: the first {TINY_IMAGES} training images, 2 epochs per layer and of "
            f"fine-tuning, the first {TINY_TEST} test images, AIS with 10 runs and 200 distributions",
        )
    raise ValueError(f"unknown preset {name!r}")


def stacked_config(base: DBNConfig, rbm_run: Run) -> DBNConfig:
    """``base`` on top of a finished RBM run: its path and model checksum are part of the
    config, so the lab's config hash changes whenever the RBM does."""
    rbm = RBMConfig.from_dict(rbm_run.config)
    return base.replace(rbm=str(rbm_run.path.resolve()), rbm_sha256=model_sha256(rbm_run),
                        rbm_hidden=rbm.hidden, rbm_cd_k=rbm.cd_k)


def finetune_config(base: FinetuneConfig, dbn_run: Run) -> FinetuneConfig:
    return base.replace(dbn=str(dbn_run.path.resolve()), dbn_sha256=model_sha256(dbn_run))


# ----------------------------------------------------------------------------- tables


COLUMNS = [  # (eval.json key, column title)
    ("test_loglik", "test log p(v) [nats]"),
    ("test_loglik_method", "method"),
    ("test_loglik_iw", "IS estimate [nats]"),
    ("recon_error", "recon error"),
    ("probe_accuracy", "probe accuracy"),
    ("fid", "FID"),
    ("classifier_score", "classifier score"),
    ("n_params", "parameters"),
]


def comparison_table(title: str, rows: list[tuple[str, Run | None, dict[str, Any]]], note: str = "") -> Table:
    """One row per model with the numbers its eval.json has; a column appears when any row has it."""
    keys = [(k, c) for k, c in COLUMNS if any(r.get(k) is not None for _, _, r in rows)]
    table_rows = []
    for name, run, results in rows:
        train_time = None if run is None or "train_time_s" not in run.meta else f"{run.meta['train_time_s']:.1f}"
        table_rows.append([name, *[results.get(k) for k, _ in keys], train_time])
    return Table(title, ["model", *[c for _, c in keys], "train time [s]"], table_rows, note)


def layers(model: BeliefNet) -> str:
    return f"{model.n_visible}-{model.n_h1}-{model.n_h2}"


def loglik_text(results: dict[str, Any]) -> str:
    """'-98.2 nats (ais, -98.5 .. -97.9)' for a table note or observation."""
    low, high = results.get("test_loglik_low"), results.get("test_loglik_high")
    interval = f", {low:.2f} .. {high:.2f}" if low is not None and high is not None and high - low > 0.005 else ""
    return f"{results['test_loglik']:.2f} nats ({results['test_loglik_method']}{interval})"


# ----------------------------------------------------------------------------- the labs


@dataclass
class Stack:
    """The trained runs and models both labs use."""

    rbm_run: Run
    dbn_run: Run
    rbm: RBM
    dbn: DBN
    test: ImageSet
    train: ImageSet


def train_stack(lab: Lab, p: Preset) -> Stack:
    from genlab.evaluate.common import source_for_run
    from genlab.train import dbn as train_dbn
    from genlab.train import rbm as train_rbm

    rbm_run = lab.train("rbm", p.rbm, "(RBM 1, SPEC 1)")
    dbn_run = lab.train("dbn", stacked_config(p.dbn, rbm_run), "(SPEC 2: top RBM with 100 hidden units)")
    source = source_for_run(rbm_run, lab.data_dir)
    train = data.load_split(source, "train", lab.device, limit=p.rbm.limit)
    test = data.load_split(source, "test", lab.device)
    return Stack(rbm_run, dbn_run, train_rbm.load(rbm_run, lab.device), train_dbn.load(dbn_run, lab.device), test, train)


def measured_once(path: Path, key: dict[str, Any], measure: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``measure()``, kept in ``path`` with ``key`` and re-used while the key (inputs) is the same."""
    previous = json.loads(path.read_text()) if path.is_file() else {}
    if previous.get("key") == key:
        return previous["results"]
    results = measure()
    write_json(path, {"key": key, "results": results})
    return results


def run_dbn(preset_name: str | Preset, out: Path, device: str = "auto", data_dir=None, progress: bool = True) -> Path:
    """SPEC task 2, experiments 2.1 to 2.4."""
    from genlab.evaluate.dbn import measure
    from genlab.train import dbn as train_dbn

    p = preset_name if isinstance(preset_name, Preset) else preset(preset_name)
    lab = Lab(out, p.name, device, data_dir, progress)
    s = train_stack(lab, p)
    pixels = s.rbm.n_visible  # SPEC 2.4: as many top hidden units as pixels, W2 starting as W1^T
    wide = p.dbn.replace(top_hidden=pixels, top_init="transpose")
    run_784 = lab.train("dbn", stacked_config(wide, s.rbm_run), f"(SPEC 2.4: {pixels} top units, W2 = W1^T)")
    dbn_784 = train_dbn.load(run_784, lab.device)
    results = {name: lab.evaluate(run, p.eval) for name, run in
               (("rbm", s.rbm_run), ("dbn", s.dbn_run), ("dbn_784", run_784))}

    task = lab.task_dir("dbn")
    # the wide DBN before any training (= RBM 1), measured once
    key = {"rbm_sha256": model_sha256(s.rbm_run), "eval_config": p.eval.to_dict()}

    def measure_init() -> dict[str, Any]:
        lab.say(f"measuring the {pixels}-unit DBN at its initialisation (W2 = W1^T, before training)")
        return measure(DBN.stack(s.rbm, pixels, transpose=True), s.train, s.test.head(p.eval.test_limit), p.eval,
                       make_generator(p.eval.seed, lab.device), progress)

    results["dbn_784_init"] = measured_once(task / "init_784_eval.json", key, measure_init)
    fig = task / "figures"
    shape = s.test.image_shape
    g = make_generator(FIGURE_SEED, lab.device)
    report = lab.report("dbn", "SPEC task 2: a DBN of two greedily trained RBMs")
    configs = {"rbm": s.rbm_run.config, "dbn": s.dbn_run.config, "dbn_784": run_784.config}

    table = comparison_table(
        "RBM 1 alone, and the DBNs stacked on it", [
            ("RBM (task 1)", s.rbm_run, results["rbm"]),
            (f"DBN {layers(s.dbn)}", s.dbn_run, results["dbn"]),
            (f"DBN {layers(dbn_784)}, W2 = W1^T, at initialisation (= RBM 1)", None, results["dbn_784_init"]),
            (f"DBN {layers(dbn_784)}, W2 = W1^T, trained", run_784, results["dbn_784"]),
        ],
        "test log p(v): exact or AIS for the RBM, the variational lower bound (S&M 2008) for the DBNs; log Z the "
        "largest of AIS over each layer and the best Gibbs state; IS estimate: importance sampling with the same {results['dbn'].get('bound_samples')} samples of "
        f"q(h1|v). Train time of a DBN: its top RBM only. {p.note}.",
    )
    report.add(Section(
        "Runs and numbers", f"Preset `{p.name}`: {p.note}.", configs=configs, tables=[table],
        observations=[
            f"RBM test log p(v) {loglik_text(results['rbm'])}; DBN bound {loglik_text(results['dbn'])}; "
            f"784-unit DBN bound {loglik_text(results['dbn_784'])} after training, "
            f"{loglik_text(results['dbn_784_init'])} at initialisation.",
            f"At initialisation the wide DBN is exactly RBM 1 and q(h1|v) its exact posterior, so its bound is RBM 1's "
            f"log p(v): {results['dbn_784_init']['test_loglik']:.2f} nats, with log Z {results['dbn_784_init']['log_z']:.2f} "
            f"against RBM 1's own {results['rbm']['log_z']:.2f}.",
        ],
    ))
    report.add(Section("2.1 Top-level weights W2", "Each top unit's 100 weights from h1, as a 10x10 image.",
                       figures=[Figure(top_weights_figure(s.dbn, fig / "top_weights.png"), "W2 of the DBN")]))
    report.add(Section("2.2 Reconstructions", "Up pass v -> h1 -> h2, down pass h2 -> h1 -> v (no extra Gibbs step).",
                       figures=[Figure(reconstructions_figure(
                           [("rbm", lambda x: s.rbm.reconstruct(x, g)), ("dbn", lambda x: s.dbn.reconstruct(x, 0, g))],
                           s.test, fig / "reconstructions.png"), "first 20 test images: input, reconstruction, top state")]))
    gen_figures = [
        Figure(generation_figure([("rbm", s.rbm), ("dbn", s.dbn)], p.gibbs_steps, fig / "generation.png", shape,
                                 FIGURE_SEED, g),
               f"the SPEC 1.7 initialisations (10 random rows: 10% of units on at gain 20; 10 rows with one unit at 10), "
               f"{p.gibbs_steps} Gibbs steps in the RBM and in the DBN's top RBM"),
        Figure(samples_figure(s.dbn, fig / "samples_dbn.png", shape, g, title="DBN: 100 samples after 1000 top Gibbs steps"),
               "DBN samples from random top states"),
        Figure(plots.grid_figure(sample_rbm(s.rbm, 100, g).reshape(100, *shape), fig / "samples_rbm.png", nrow=10,
                                 title="RBM: 100 samples after 1000 Gibbs steps"), "RBM samples from random states"),
    ]
    report.add(Section("2.3 Generation from a random top state", figures=gen_figures, tables=[table]))

    rand_h2, rand_p = sample_chains(dbn_784, 100, g)
    change = (dbn_784.top.W - s.rbm.W.t()).abs().mean().item()
    report.add(Section(
        "2.4 A top RBM with 784 hidden units, W2 starting as W1^T",
        "The top RBM starts as RBM 1 upside down (W2 = W1^T, h2 bias = RBM 1's visible bias), so the DBN starts "
        "as exactly RBM 1 and its bound equals RBM 1's log p(v). With q(h1|v) fixed, every gain of the top RBM's "
        "log-likelihood of the samples of q(h1|v) raises the bound (Hinton, Osindero & Teh 2006); CD-2 only "
        "approximates that gradient. Its h2 layer has one unit per pixel.",
        figures=[
            Figure(layer_weights_figure(dbn_784.top.W.t(), fig / "w2_784.png", shape,
                                        "W2 (784-unit top): each h1 unit's weights to h2"), "W2 after training"),
            Figure(layer_weights_figure(s.rbm.W, fig / "w1.png", shape, "W1: RBM 1's weights"), "W1, where W2 started"),
            Figure(generation_figure([("dbn 784", dbn_784)], p.gibbs_steps, fig / "generation_784.png", shape,
                                     FIGURE_SEED, g),
                   "the SPEC 1.7 initialisations of the 784 top units; the top states are 28x28 images"),
            Figure(plots.grid_figure(rand_h2.reshape(100, *shape), fig / "top_samples_784.png", nrow=10,
                                     title="top-layer samples h2 (28x28) after 1000 Gibbs steps"), "top-layer states"),
            Figure(plots.grid_figure(rand_p.reshape(100, *shape), fig / "samples_784.png", nrow=10,
                                     title="their images p(v=1|h1)"), "the images of the same chains"),
        ],
        observations=[
            f"Mean |W2 - W1^T| after training: {change:.4f} (mean |W1| = {s.rbm.W.abs().mean().item():.4f}).",
            f"Bound at initialisation {results['dbn_784_init']['test_loglik']:.2f}, after training "
            f"{results['dbn_784']['test_loglik']:.2f} nats; the 100-unit top gives {results['dbn']['test_loglik']:.2f}.",
        ],
    ))
    report.models[f"DBN {layers(s.dbn)}"] = s.dbn_run.path
    report.write(task)
    return task


def run_finetune(preset_name: str | Preset, out: Path, device: str = "auto", data_dir=None, progress: bool = True) -> Path:
    """SPEC task 3, experiments 3.1 to 3.3."""
    from genlab.train import dbn as train_dbn

    p = preset_name if isinstance(preset_name, Preset) else preset(preset_name)
    lab = Lab(out, p.name, device, data_dir, progress)
    s = train_stack(lab, p)
    ft_run = lab.train("dbn-finetune", finetune_config(p.finetune, s.dbn_run), "(SPEC 3: up-down fine-tuning)")
    ft = train_dbn.load_finetuned(ft_run, lab.device)
    results = {name: lab.evaluate(run, p.eval) for name, run in
               (("rbm", s.rbm_run), ("dbn", s.dbn_run), ("finetuned", ft_run))}
    task = lab.task_dir("dbn-finetune")
    fig = task / "figures"
    shape = s.test.image_shape
    g = make_generator(FIGURE_SEED, lab.device)
    report = lab.report("dbn-finetune", "SPEC task 3: the DBN fine-tuned with the up-down algorithm")
    table = comparison_table(
        "RBM, DBN and fine-tuned DBN", [
            ("RBM (task 1)", s.rbm_run, results["rbm"]),
            ("DBN (task 2)", s.dbn_run, results["dbn"]),
            ("DBN + up-down (task 3)", ft_run, results["finetuned"]),
        ],
        "test log p(v): exact or AIS for the RBM, the variational lower bound (S&M 2008) for the DBNs (log Z the "
        "largest of AIS over each layer and the best Gibbs state), q(h1|v) given by the recognition weights (R1 after fine-tuning). Train time of the "
        f"fine-tuned DBN: the up-down epochs only. {p.note}.",
    )
    before, after = results["dbn"], results["finetuned"]
    report.add(Section(
        "Runs and numbers", f"Preset `{p.name}`: {p.note}.",
        configs={"rbm": s.rbm_run.config, "dbn": s.dbn_run.config, "finetuned": ft_run.config}, tables=[table],
        observations=[
            f"Bound before fine-tuning {loglik_text(before)}, after {loglik_text(after)}: "
            f"{after['test_loglik'] - before['test_loglik']:+.2f} nats.",
            f"Reconstruction error {before['recon_error']:.4f} -> {after['recon_error']:.4f}; "
            f"probe accuracy {before['probe_accuracy']:.4f} -> {after['probe_accuracy']:.4f}.",
        ],
    ))
    diff = (ft.R1 - ft.W1_down).abs()
    moved_r = (ft.R1 - s.dbn.rbm1.W).abs().mean().item()
    moved_g = (ft.W1_down - s.dbn.rbm1.W).abs().mean().item()
    report.add(Section(
        "3.1 Recognition and generative weights",
        "Both start as the DBN's W1; the wake phase trains W1', the sleep phase R1.",
        figures=[Figure(path, path.stem.replace("_", " ")) for path in lower_weights_figures(ft, fig, shape)],
        observations=[
            f"mean |R1 - W1'| = {diff.mean().item():.4f} (max {diff.max().item():.3f}); "
            f"mean |W1| = {s.dbn.rbm1.W.abs().mean().item():.4f}.",
            f"Moved from W1 during fine-tuning: R1 by {moved_r:.4f} on average, W1' by {moved_g:.4f}.",
        ],
    ))
    report.add(Section(
        "3.2 Reconstructions by the RBM, the DBN and the fine-tuned DBN",
        figures=[Figure(reconstructions_figure(
            [("rbm", lambda x: s.rbm.reconstruct(x, g)), ("dbn", lambda x: s.dbn.reconstruct(x, 0, g)),
             ("up-down", lambda x: ft.reconstruct(x, 0, g))], s.test, fig / "reconstructions.png"),
            "first 20 test images: input, then each model's reconstruction and top state")],
    ))
    report.add(Section(
        "3.3 Generation compared with tasks 1 and 2",
        figures=[
            Figure(generation_figure([("rbm", s.rbm), ("dbn", s.dbn), ("up-down", ft)], p.gibbs_steps,
                                     fig / "generation.png", shape, FIGURE_SEED, g),
                   f"the SPEC 1.7 initialisations, {p.gibbs_steps} Gibbs steps in each model's top RBM"),
            Figure(plots.grid_figure(sample_rbm(s.rbm, 100, g).reshape(100, *shape), fig / "samples_rbm.png", nrow=10,
                                     title="RBM (task 1)"), "RBM samples"),
            Figure(samples_figure(s.dbn, fig / "samples_dbn.png", shape, g, title="DBN (task 2)"), "DBN samples"),
            Figure(samples_figure(ft, fig / "samples_finetuned.png", shape, g, title="DBN + up-down (task 3)"),
                   "fine-tuned DBN samples"),
        ],
        tables=[table],
    ))
    report.models["DBN + up-down fine-tuning"] = ft_run.path
    report.write(task)
    return task
