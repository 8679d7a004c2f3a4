"""The experiments of SPEC task 1, ``genlab lab rbm``: the reference RBM and its variants, trained,
measured and drawn, into ``OUT/rbm/report.md`` and ``results.json`` with one table per comparison.

The figures are :mod:`genlab.figures.rbm`; the tables and observations :mod:`genlab.lab.findings.rbm`;
the presets :data:`genlab.lab.presets.RBM`.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from genlab import data
from genlab.data import ImageSet
from genlab.figures import plots
from genlab.figures.rbm import (
    Generation,
    buildup_figure,
    generation_figure,
    reconstruction_comparison_figure,
    reconstructions_figure,
    samples_figure,
    unit_usage,
    usage_figures,
    weights_figure,
)
from genlab.lab.core import Lab, config_key
from genlab.lab.executor import Job
from genlab.lab.findings.rbm import (
    Generated,
    Result,
    binarize_answer,
    buildup,
    buildup_answer,
    buildup_observations,
    compare,
    escape,
    filters,
    generation_answer,
    hidden_answer,
    k_answer,
    lr_answer,
    reference_observations,
    table,
    usage_answer,
    usage_observations,
    weights_answer,
)
from genlab.lab.presets import Preset, rbm_runs
from genlab.lab.questions import QUESTIONS
from genlab.lab.report import Figure, Section, plural
from genlab.lab.task import TITLES
from genlab.rng import make_generator
from genlab.training.rbm import RBMConfig, load

GENERATION = Generation()  # SPEC 1.7's set hidden states and Gibbs steps
SAMPLE_STEPS = 1000  # Gibbs steps of 1.7's free chains from random images


def run(p: Preset, out: Path, device: str | torch.device = "auto", data_dir: str | Path | None = None,
        progress: bool = True) -> Path:
    """``genlab lab rbm``: SPEC 1.1-1.8 with the preset ``p``; returns OUT/rbm."""
    runs = rbm_runs(p)
    base = runs["reference"]
    lab = Lab(out, p.name, device, data_dir, progress)
    task = lab.task_dir("rbm")
    figures = task / "figures"
    report = lab.report("rbm", TITLES["rbm"])
    results: dict[str, Result] = {}

    def result(label: str, config: RBMConfig) -> Result:
        key = config_key("rbm", config)
        if key not in results:
            run_ = lab.train("rbm", config, label)
            results[key] = Result(label, run_, lab.evaluate(run_, p.eval), load(run_, lab.device))
        return Result(label, results[key].run, results[key].eval, results[key].model)

    lab.say("1.1-1.3: the reference run")
    ref = result("reference", base)
    source = data.resolve(base.dataset, data_dir)
    test = data.load_split(source, "test", lab.device)
    shape = test.image_shape
    gen = lambda: make_generator(0, lab.device)  # noqa: E731 - the same draws for every figure

    s = report.add(Section("1.1 Weights", "Each hidden unit's weights as a 28x28 image: the pattern the unit detects.",
                           configs={"reference": base.to_dict()}, question=QUESTIONS["1.1"]))
    s.figures.append(Figure(weights_figure(ref.model, figures / "1.1-weights.png", shape), "W of the reference run"))
    s.tables.append(table("Reference run", [ref], p.note))
    s.observations += reference_observations(ref)
    usage = unit_usage(ref.model, data.as_float(test.images))
    s.answer = weights_answer(filters(ref.model, shape, usage), base.epochs)

    s = report.add(Section("1.2 Reconstructions", "The first 20 test images, their reconstructions p(v=1|h) with h ~ p(h|v), "
                           "and the hidden state h (10x10). Below: the build-up of the first reconstruction, starting from "
                           "sigma(a) and adding the weights of each active hidden unit in turn.", question=QUESTIONS["1.2"]))
    s.figures.append(Figure(reconstructions_figure(ref.model, test, figures / "1.2-reconstructions.png", gen()), "reconstructions"))
    s.figures.append(Figure(buildup_figure(ref.model, test, figures / "1.2-buildup.png", gen()), "build-up of one reconstruction"))
    built = buildup(ref.model, test)
    s.observations += buildup_observations(built)
    s.answer = buildup_answer(built)

    s = report.add(Section("1.3 Hidden unit usage", "How often each hidden unit is on over the test set (mean p(h=1|v)), and "
                           "the weights sorted from the most to the least used unit.", question=QUESTIONS["1.3"]))
    paths, usage = usage_figures(ref.model, test, figures, prefix="1.3-")
    s.figures += [Figure(paths[0], "usage map"), Figure(paths[1], "weights sorted by usage")]
    s.observations += usage_observations(usage)
    s.answer = usage_answer(usage)

    comparisons = [
        ("1.4 Training on pixel probabilities instead of binary samples", "Training on the real-valued pixels themselves instead of a fresh Bernoulli sample of "
         "them (--no-binarize), against the reference run.", "1.4-binarize",
         [("reference (sampled v)", base), ("real-valued v", runs["real-valued v"])], lambda rs: binarize_answer(*rs)),
        ("1.5 Gibbs steps k in CD-k", "CD-k with several k, otherwise the reference settings.", "1.5-k",
         [(f"k={k}", runs[f"k={k}"]) for k in p.compare["cd_k"]], k_answer),
        ("1.6 Learning rate", "Several learning rates, otherwise the reference settings.", "1.6-lr",
         [(f"lr={lr:g}", runs[f"lr={lr:g}"]) for lr in p.compare["lr"]], lr_answer),
    ]
    for title, text, tag, variants, answer in comparisons:
        lab.say(title)
        rs = [result(label, cfg) for label, cfg in variants]
        s = report.add(Section(title, text, configs={r.label: cfg.to_dict() for r, (_, cfg) in zip(rs, variants)},
                               question=QUESTIONS[title.split()[0]]))
        s.tables.append(table(title, rs, p.note))
        s.figures += comparison_figures(rs, test, figures, tag)
        s.observations += compare(rs)
        s.answer = answer(rs)

    lab.say("1.7 Generation")
    pcd_config = runs["PCD"]
    pcd = result("PCD", pcd_config)
    s = report.add(Section("1.7 Generation", f"Chains started from set hidden states: {GENERATION.fraction:.0%} of the units "
                           f"on at {GENERATION.gain:g}, and single units at {GENERATION.strength:g}; "
                           f"{GENERATION.steps:,} Gibbs steps; the set state, the final hidden state and p(v=1|h). The "
                           "same chains of the reference run trained with persistent chains (PCD) beside them.",
                           configs={"PCD": pcd_config.to_dict()}, question=QUESTIONS["1.7"]))
    generated = []
    for r, name, tag in ((ref, f"reference run (CD-{base.cd_k})", ""), (pcd, "PCD run", "-pcd")):
        fig, stats = generation_figure(r.model, figures / f"1.7-generation{tag}.png", shape, gen(), GENERATION,
                                       title=f"Generation, {name}")
        samples, free = samples_figure(r.model, figures / f"1.7-samples{tag}.png", shape, gen(), steps=SAMPLE_STEPS,
                                      title=name)
        s.figures += [Figure(fig, f"generation from set hidden states, {name}"),
                      Figure(samples, f"samples after {SAMPLE_STEPS:,} Gibbs steps, {name}")]
        generated.append(Generated(name, stats, free, SAMPLE_STEPS, escape(r.model), r.model.n_hidden, r))
    s.tables.append(table(f"1.7 CD-{base.cd_k} and PCD", [ref, pcd], p.note))
    s.answer = generation_answer(*generated, GENERATION.steps)

    lab.say("1.8 Fewer and more hidden units")
    variants = [(f"{n} hidden", runs[f"{n} hidden"]) for n in p.compare["hidden"]]
    rs = [result(label, cfg) for label, cfg in variants]
    s = report.add(Section("1.8 Fewer and more hidden units", "The experiments above with other hidden layer sizes: weights, "
                           "reconstructions, usage and generation for each.",
                           configs={r.label: cfg.to_dict() for r, (_, cfg) in zip(rs, variants)},
                           question=QUESTIONS["1.8"]))
    s.tables.append(table("1.8 Hidden layer size", rs, p.note))
    s.figures += comparison_figures(rs, test, figures, "1.8-hidden")
    filters_by_label = {}
    for r in rs:
        tag = f"1.8-h{r.model.n_hidden}"
        s.figures.append(Figure(weights_figure(r.model, figures / f"{tag}-weights.png", shape), f"weights, {r.label}"))
        s.figures.append(Figure(reconstructions_figure(r.model, test, figures / f"{tag}-reconstructions.png", gen()), f"reconstructions, {r.label}"))
        usage_paths, usage = usage_figures(r.model, test, figures, prefix=f"{tag}-")
        filters_by_label[r.label] = filters(r.model, shape, usage)
        s.figures += [Figure(usage_paths[0], f"usage, {r.label}"), Figure(usage_paths[1], f"weights by usage, {r.label}")]
        s.figures.append(Figure(generation_figure(r.model, figures / f"{tag}-generation.png", shape, gen(), GENERATION)[0], f"generation, {r.label}"))
    s.observations += compare(rs)
    s.answer = hidden_answer(rs, filters_by_label)

    report.models["RBM (reference)"] = ref.run.path
    report.write(task)
    lab.say(f"done: {plural(lab.trained, 'run')} trained, {lab.reused:,} re-used; report in {task / 'report.md'}")
    return task


def plan(p: Preset) -> list[Job]:
    """The runs :func:`run` trains with the preset ``p`` (for :mod:`genlab.lab.executor`)."""
    return [Job("rbm", config, label, p.eval) for label, config in rbm_runs(p).items()]


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
