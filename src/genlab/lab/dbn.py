"""The experiments of SPEC tasks 2 and 3: ``genlab lab dbn`` and ``genlab lab dbn-finetune``.

Both labs train the same RBM 1 (through ``Lab.train("rbm", ...)``, so they share the RBM
lab's run when its config matches) and the same greedy DBN on it; the fine-tuning lab
re-uses the DBN lab's runs when both write to the same output directory. The figures are
:mod:`genlab.figures.dbn`, the tables :mod:`genlab.lab.findings.dbn`, the presets
:data:`genlab.lab.presets.DBN`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genlab import data
from genlab.data import ImageSet
from genlab.evaluation.config import measured_images
from genlab.evaluation.dbn import measure
from genlab.figures import plots
from genlab.figures.dbn import (
    generation_figure,
    layer_weights_figure,
    lower_weights_figures,
    reconstructions_figure,
    samples_figure,
    top_weights_figure,
)
from genlab.files import write_json
from genlab.lab.core import Lab
from genlab.lab.executor import Job
from genlab.lab.findings.dbn import (
    chain_ends,
    comparison_table,
    dbn_reconstruction_answer,
    dbn_samples_answer,
    finetune_reconstruction_answer,
    finetune_samples_answer,
    layers,
    loglik_text,
    recon_errors,
    top_weights_answer,
    weights_apart_answer,
    wide_top_answer,
)
from genlab.lab.presets import Preset
from genlab.lab.questions import QUESTIONS
from genlab.lab.report import Figure, Section
from genlab.lab.task import TITLES
from genlab.models.dbn import DBN, UpDownDBN
from genlab.models.rbm import RBM
from genlab.rng import make_generator
from genlab.runs import Run, model_sha256
from genlab.training import dbn as train_dbn
from genlab.training import rbm as train_rbm
from genlab.training import updown as train_updown
from genlab.training.dbn import DBNConfig
from genlab.training.rbm import RBMConfig
from genlab.training.updown import FinetuneConfig

FIGURE_SEED = 2024  # the random draws of every lab figure
GIBBS_STEPS = 100  # SPEC 2.3: Gibbs steps in the top RBM when generating
RECON_NOTE = ("Recon error: mean squared error per pixel of one up-down pass, with no Gibbs step in a DBN's top RBM "
              "(2.2 and 3.2 measure it with the lab's steps).")


def stacked_config(base: DBNConfig, rbm_run: Run) -> DBNConfig:
    """``base`` on top of a finished RBM run: its path and model checksum are part of the
    config, so the lab's config hash changes whenever the RBM does."""
    rbm = rbm_run.config_as(RBMConfig)
    return base.replace(rbm=str(rbm_run.path.resolve()), rbm_sha256=model_sha256(rbm_run),
                        rbm_hidden=rbm.hidden, rbm_cd_k=rbm.cd_k)


def wide_config(base: DBNConfig, rbm_run: Run) -> DBNConfig:
    """SPEC 2.4's DBN on a finished RBM run: as many top hidden units as pixels, W2 starting as W1^T."""
    return stacked_config(base.replace(top_hidden=train_dbn.image_size(rbm_run), top_init="transpose"), rbm_run)


def finetune_config(base: FinetuneConfig, dbn_run: Run) -> FinetuneConfig:
    return base.replace(dbn=str(dbn_run.path.resolve()), dbn_sha256=model_sha256(dbn_run))


def stack_jobs(p: Preset) -> tuple[Job, Job]:
    """RBM 1 and the DBN on it, as both labs train them (for :mod:`genlab.lab.executor`)."""
    rbm = Job("rbm", p.runs["rbm"], "(RBM 1, as in task 1)", p.eval)
    return rbm, Job("dbn", p.runs["dbn"], "(task 2: the top RBM)", p.eval, rbm, stacked_config)


def plan_dbn(p: Preset) -> list[Job]:
    """The runs :func:`run_dbn` trains with the preset ``p``."""
    rbm, dbn = stack_jobs(p)
    return [rbm, dbn, Job("dbn", p.runs["dbn"], "(2.4: a top unit per pixel, W2 = W1^T)", p.eval, rbm, wide_config)]


def plan_finetune(p: Preset) -> list[Job]:
    """The runs :func:`run_finetune` trains with the preset ``p``."""
    rbm, dbn = stack_jobs(p)
    return [rbm, dbn, Job("dbn-finetune", p.runs["finetune"], "(task 3: up-down fine-tuning)", p.eval, dbn, finetune_config)]



@dataclass
class Stack:
    """The trained runs and models both labs use."""

    rbm_run: Run
    dbn_run: Run
    rbm: RBM
    dbn: DBN
    test: ImageSet
    train: ImageSet
    eval_test: ImageSet  # the test images every run is measured on


def recon_steps(p: Preset) -> int:
    """SPEC 2.2 / 3.2: k, the preset's number of Gibbs steps in the top RBM between a reconstruction's up
    and down pass."""
    (k,) = p.compare["recon_steps"]
    return k


def recon_title(k: int) -> str:
    return f"Reconstructions of the first test images (the DBNs: up pass, {k} Gibbs steps in the top RBM, down pass)"


def reconstruction_errors(models: dict[str, RBM | DBN | UpDownDBN], s: Stack, k: int, p: Preset,
                          device: torch.device) -> dict[str, torch.Tensor]:
    """Each model's per-image reconstruction errors on the measured test images, drawn from the eval seed: under
    its name with ``k`` Gibbs steps in the top RBM (an RBM's one up-down pass), for a DBN under 'NAME plain' with none."""
    x = data.as_float(s.eval_test.images)
    g = make_generator(p.eval.seed, device)
    errors = {}
    for name, model in models.items():
        errors[name] = recon_errors(model, x, k, g)
        if not isinstance(model, RBM):
            errors[f"{name} plain"] = recon_errors(model, x, 0, g)
    return errors


def train_stack(lab: Lab, p: Preset) -> Stack:
    rbm_run = lab.train("rbm", p.runs["rbm"], "(RBM 1, as in task 1)")
    dbn_run = lab.train("dbn", stacked_config(p.runs["dbn"], rbm_run), "(task 2: the top RBM)")
    source = rbm_run.data_source(lab.data_dir)
    train = data.load_split(source, "train", lab.device, limit=p.runs["rbm"].limit)
    test = data.load_split(source, "test", lab.device)
    return Stack(rbm_run, dbn_run, train_rbm.load(rbm_run, lab.device), train_dbn.load(dbn_run, lab.device), test, train,
                 measured_images(test, p.eval))


def measured_once(path: Path, key: dict[str, Any], measure: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``measure()``, kept in ``path`` with ``key`` and re-used while the key (inputs) is the same."""
    previous = json.loads(path.read_text()) if path.is_file() else {}
    if previous.get("key") == key:
        return previous["results"]
    results = measure()
    write_json(path, {"key": key, "results": results})
    return results


def run_dbn(p: Preset, out: Path, device: str | torch.device = "auto", data_dir=None, progress: bool = True) -> Path:
    """``genlab lab dbn``: SPEC task 2, experiments 2.1 to 2.4."""
    lab = Lab(out, p.name, device, data_dir, progress)
    s = train_stack(lab, p)
    pixels = s.rbm.n_visible  # SPEC 2.4: as many top hidden units as pixels, W2 starting as W1^T
    run_784 = lab.train("dbn", wide_config(p.runs["dbn"], s.rbm_run), f"(2.4: {pixels} top units, W2 = W1^T)")
    dbn_784 = train_dbn.load(run_784, lab.device)
    results = {name: lab.evaluate(run, p.eval) for name, run in
               (("rbm", s.rbm_run), ("dbn", s.dbn_run), ("dbn_784", run_784))}

    task = lab.task_dir("dbn")
    # the wide DBN before any training (= RBM 1), measured once
    key = {"rbm_sha256": model_sha256(s.rbm_run), "eval_config": p.eval.to_dict()}

    def measure_init() -> dict[str, Any]:
        lab.say(f"measuring the {pixels}-unit DBN at its initialisation (W2 = W1^T, before training)")
        return measure(DBN.stack(s.rbm, pixels, transpose=True), s.train, s.eval_test, p.eval,
                       make_generator(p.eval.seed, lab.device), progress)

    results["dbn_784_init"] = measured_once(task / "init_784_eval.json", key, measure_init)
    fig = task / "figures"
    shape = s.test.image_shape
    g = make_generator(FIGURE_SEED, lab.device)
    report = lab.report("dbn", TITLES["dbn"])
    configs = {"rbm": s.rbm_run.config, "dbn": s.dbn_run.config, "dbn_784": run_784.config}

    table = comparison_table(
        "RBM 1 alone, and the DBNs stacked on it", [
            ("RBM (task 1)", s.rbm_run, results["rbm"]),
            (f"DBN {layers(s.dbn)}", s.dbn_run, results["dbn"]),
            (f"DBN {layers(dbn_784)}, W2 = W1^T, at initialisation (= RBM 1)", None, results["dbn_784_init"]),
            (f"DBN {layers(dbn_784)}, W2 = W1^T, trained", run_784, results["dbn_784"]),
        ],
        "test log p(v): exact or AIS for the RBM, the variational lower bound (S&M 2008) for the DBNs; log Z the "
        "largest of AIS over each layer and the best Gibbs state; IS estimate: importance sampling with the same "
        f"{results['dbn'].get('bound_samples')} samples of "
        f"q(h1|v). {RECON_NOTE} Train time of a DBN: its top RBM only. {p.note}.",
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
    evals = {"RBM": results["rbm"], "DBN": results["dbn"], "784 init": results["dbn_784_init"], "784": results["dbn_784"]}
    usage = s.dbn.features(data.as_float(s.eval_test.images)).mean(0)
    report.add(Section("2.1 Top-level weights W2", "Each top unit's 100 weights from h1, as a 10x10 image.",
                       figures=[Figure(top_weights_figure(s.dbn, fig / "top_weights.png"), "W2 of the DBN")],
                       question=QUESTIONS["2.1"],
                       answer=top_weights_answer(s.dbn.top.W, s.dbn_run.config_as(DBNConfig).init_std, usage)))
    k = recon_steps(p)
    errors = reconstruction_errors({"RBM": s.rbm, "DBN": s.dbn}, s, k, p, lab.device)
    report.add(Section(
        "2.2 Reconstructions",
        f"Up pass v -> h1 -> h2, {k} Gibbs {'step' if k == 1 else 'steps'} h2 -> h1 -> h2 in the top RBM, down pass "
        "h2 -> h1 -> v (SPEC 2). The RBM reconstructs by one up-down pass v -> h -> v. The runs table's recon error "
        "is the DBN's with no Gibbs step.",
        figures=[Figure(reconstructions_figure(
            [("rbm", lambda x: s.rbm.reconstruct(x, g)), (f"dbn k={k}", lambda x: s.dbn.reconstruct(x, k, g))],
            s.test, fig / "reconstructions.png", title=recon_title(k)),
            "first 20 test images: input, reconstruction, top state")],
        question=QUESTIONS["2.2"], answer=dbn_reconstruction_answer(errors["RBM"], errors["DBN"], errors["DBN plain"], k),
    ))
    gen_figures = [
        Figure(generation_figure([("rbm", s.rbm), ("dbn", s.dbn)], GIBBS_STEPS, fig / "generation.png", shape,
                                 FIGURE_SEED, g),
               f"the initialisations of 1.7 Generation (10 random rows: 10% of units on at gain 20; 10 rows with one unit at 10), "
               f"{GIBBS_STEPS} Gibbs steps in the RBM and in the DBN's top RBM"),
        Figure(samples_figure(s.dbn, fig / "samples_dbn.png", shape, g, title="DBN: 100 samples after 1000 top Gibbs steps"),
               "DBN samples from random top states"),
        Figure(plots.grid_figure(s.rbm.sample(100, g).reshape(100, *shape), fig / "samples_rbm.png", nrow=10,
                                 title="RBM: 100 samples after 1000 Gibbs steps"), "RBM samples from random states"),
    ]
    report.add(Section("2.3 Generation from a random top state", figures=gen_figures, tables=[table],
                       question=QUESTIONS["2.3"], answer=dbn_samples_answer(evals)))

    rand_h2, rand_p = dbn_784.sample_chains(100, g)
    change = (dbn_784.top.W - s.rbm.W.t()).abs().mean().item()
    # the same chains of the wide DBN at initialisation, for how image-like its top states were
    init_h2, init_p = DBN.stack(s.rbm, pixels, transpose=True).sample_chains(100, make_generator(p.eval.seed, lab.device))
    wide_run = run_784.config_as(DBNConfig)
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
            Figure(generation_figure([("dbn 784", dbn_784)], GIBBS_STEPS, fig / "generation_784.png", shape,
                                     FIGURE_SEED, g),
                   "the initialisations of 1.7 Generation, of the 784 top units; the top states are 28x28 images"),
            Figure(plots.grid_figure(rand_h2.reshape(100, *shape), fig / "top_samples_784.png", nrow=10,
                                     title="top-layer samples h2 (28x28) after 1000 Gibbs steps"), "top-layer states"),
            Figure(plots.grid_figure(rand_p.reshape(100, *shape), fig / "samples_784.png", nrow=10,
                                     title="their images p(v=1|h1)"), "the images of the same chains"),
        ],
        question=QUESTIONS["2.4"],
        answer=wide_top_answer(evals, change, s.rbm.W.abs().mean().item(),
                               {"trained": chain_ends(rand_h2, rand_p), "init": chain_ends(init_h2, init_p)},
                               wide_run.cd_k, wide_run.epochs),
    ))
    report.models[f"DBN {layers(s.dbn)}"] = s.dbn_run.path
    report.write(task)
    return task


def run_finetune(p: Preset, out: Path, device: str | torch.device = "auto", data_dir=None, progress: bool = True) -> Path:
    """``genlab lab dbn-finetune``: SPEC task 3, experiments 3.1 to 3.3."""
    lab = Lab(out, p.name, device, data_dir, progress)
    s = train_stack(lab, p)
    ft_run = lab.train("dbn-finetune", finetune_config(p.runs["finetune"], s.dbn_run), "(task 3: up-down fine-tuning)")
    ft = train_updown.load(ft_run, lab.device)
    results = {name: lab.evaluate(run, p.eval) for name, run in
               (("rbm", s.rbm_run), ("dbn", s.dbn_run), ("finetuned", ft_run))}
    task = lab.task_dir("dbn-finetune")
    fig = task / "figures"
    shape = s.test.image_shape
    g = make_generator(FIGURE_SEED, lab.device)
    report = lab.report("dbn-finetune", TITLES["dbn-finetune"])
    table = comparison_table(
        "RBM, DBN and fine-tuned DBN", [
            ("RBM (task 1)", s.rbm_run, results["rbm"]),
            ("DBN (task 2)", s.dbn_run, results["dbn"]),
            ("DBN + up-down (task 3)", ft_run, results["finetuned"]),
        ],
        "test log p(v): exact or AIS for the RBM, the variational lower bound (S&M 2008) for the DBNs (log Z the "
        "largest of AIS over each layer and the best Gibbs state), q(h1|v) given by the recognition weights (R1 after fine-tuning). "
        f"{RECON_NOTE} Train time of the "
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
    ft_config = ft_run.config_as(FinetuneConfig)
    report.add(Section(
        "3.1 Recognition and generative weights",
        "Both start as the DBN's W1; the wake phase trains W1', the sleep phase R1.",
        figures=[Figure(path, path.stem.replace("_", " ")) for path in lower_weights_figures(ft, fig, shape)],
        question=QUESTIONS["3.1"],
        answer=weights_apart_answer(ft.R1, ft.W1_down, s.dbn.rbm1.W, data.as_float(s.train.images).mean(0),
                                    ft_config.epochs, ft_config.lr),
    ))
    k = recon_steps(p)
    errors = reconstruction_errors({"RBM": s.rbm, "DBN": s.dbn, "fine-tuned": ft}, s, k, p, lab.device)
    report.add(Section(
        "3.2 Reconstructions by the RBM, the DBN and the fine-tuned DBN",
        f"The DBNs: up pass, {k} Gibbs {'step' if k == 1 else 'steps'} in the top RBM, down pass (SPEC 2); the RBM: "
        "one up-down pass.",
        figures=[Figure(reconstructions_figure(
            [("rbm", lambda x: s.rbm.reconstruct(x, g)), (f"dbn k={k}", lambda x: s.dbn.reconstruct(x, k, g)),
             (f"up-down k={k}", lambda x: ft.reconstruct(x, k, g))], s.test, fig / "reconstructions.png",
            title=recon_title(k)),
            "first 20 test images: input, then each model's reconstruction and top state")],
        question=QUESTIONS["3.2"], answer=finetune_reconstruction_answer(errors, k),
    ))
    report.add(Section(
        "3.3 Generation compared with tasks 1 and 2",
        figures=[
            Figure(generation_figure([("rbm", s.rbm), ("dbn", s.dbn), ("up-down", ft)], GIBBS_STEPS,
                                     fig / "generation.png", shape, FIGURE_SEED, g),
                   f"the initialisations of 1.7 Generation, {GIBBS_STEPS} Gibbs steps in each model's top RBM"),
            Figure(plots.grid_figure(s.rbm.sample(100, g).reshape(100, *shape), fig / "samples_rbm.png", nrow=10,
                                     title="RBM (task 1)"), "RBM samples"),
            Figure(samples_figure(s.dbn, fig / "samples_dbn.png", shape, g, title="DBN (task 2)"), "DBN samples"),
            Figure(samples_figure(ft, fig / "samples_finetuned.png", shape, g, title="DBN + up-down (task 3)"),
                   "fine-tuned DBN samples"),
        ],
        tables=[table],
        question=QUESTIONS["3.3"],
        answer=finetune_samples_answer({"RBM": results["rbm"], "DBN": results["dbn"],
                                        "fine-tuned DBN": results["finetuned"]}),
    ))
    report.models["DBN + up-down fine-tuning"] = ft_run.path
    report.write(task)
    return task
