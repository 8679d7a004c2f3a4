"""The experiments of SPEC task 4, ``genlab lab vae``: the reference VAE (20 latent dimensions)
and the one with a 2-D latent space, measured (ELBO, IWAE, active units, probe accuracy) and
drawn (SPEC 4.1-4.4), into ``OUT/vae/report.md``, with the lab's question and an answer from
these measurements under each of 4.1-4.4 (:func:`look` measures what the answers need beyond
``eval.json``).

The figures are :mod:`genlab.figures.vae`, the tables, observations and answers
:mod:`genlab.lab.findings.vae`, the presets :data:`genlab.lab.presets.VAE`.
"""

from __future__ import annotations

from pathlib import Path

import torch

from genlab import data
from genlab.data import binarized
from genlab.evaluation.protocol import protocol_note
from genlab.evaluation.vae import posterior
from genlab.figures import plots
from genlab.figures.vae import (
    figure_names,
    model_inputs,
    standard_figures,
    top_kl_dims,
    walk_latents,
)
from genlab.lab.core import Lab
from genlab.lab.executor import Job
from genlab.lab.findings.vae import (
    COLUMNS,
    Looked,
    Measured,
    Recognised,
    knn_predictions,
    latent_map_answer,
    latent_use,
    latent_use_answer,
    observations,
    reconstructions_answer,
    separation,
    two_d_answer,
    walk_summary,
)
from genlab.lab.presets import Preset
from genlab.lab.questions import QUESTIONS
from genlab.lab.report import Figure, Section, Table
from genlab.lab.task import TITLES
from genlab.metrics.classifier import load_classifier
from genlab.metrics.quality import classify
from genlab.rng import make_generator
from genlab.runs import Run
from genlab.training import vae as train_vae

WALK_POINTS, WALK_EXTENT = 15, 1.5  # the walk figure's grid: 15 x 15 points over [-1.5, 1.5]^2
SHOWN = 20  # test images in the reconstructions figure
READ_IMAGES = 2_000  # the first test images whose neighbours vote and whose reconstructions the classifier reads


def run_figures(run: Run, device: torch.device, data_dir=None) -> dict[str, Path]:
    """A run's standard figures, drawn again only when one is missing."""
    paths = {name: run.figures / f"{name}.png" for name in figure_names(run.config["latent"])}
    if not all(p.is_file() for p in paths.values()):
        test = data.load_split(run.data_source(data_dir), "test", device)
        standard_figures(train_vae.load(run, device), test, run.figures, make_generator(run.config["seed"] + 1, device),
                         run.config.get("targets", "soft"))
    return paths


@torch.no_grad()
def look(run: Run, device: torch.device, data_dir=None) -> Looked:
    """What the answers need beyond eval.json, from the test split encoded as the model was trained on it: latent
    use and the paired ELBO on every test image; the digits' separation in the plotted plane and the recognised
    reconstructions on the first READ_IMAGES; the decoded walk (read by the metrics classifier, as the
    reconstructions are)."""
    source = run.data_source(data_dir)
    test = data.load_split(source, "test", device)
    model = train_vae.load(run, device)
    targets = run.config.get("targets", "soft")
    x = model_inputs(test.images, targets)
    mu, logvar = posterior(model, x)
    dims, _ = top_kl_dims(model, x)
    read_labels = test.labels[:READ_IMAGES].cpu()
    plane = mu[:, dims].cpu()
    classifier = load_classifier(source)[0].to(device)
    shape = test.image_shape
    generator = make_generator(run.config["seed"] + 1, device)

    def read(images: torch.Tensor) -> torch.Tensor:
        return classify(classifier, images.reshape(-1, 1, *shape).float())[1].argmax(1)

    walk = read(model.decode(walk_latents(model, dims, WALK_POINTS, WALK_EXTENT))).reshape(WALK_POINTS, WALK_POINTS)
    seen = read(data.as_float(test.images[:READ_IMAGES])) == read_labels
    rebuilt = read(model.decode(mu[:READ_IMAGES])) == read_labels
    recognised = Recognised(seen.double().mean().item(), rebuilt.double().mean().item(), len(read_labels),
                            int(rebuilt[:SHOWN].sum()), min(SHOWN, len(read_labels)))
    return Looked(
        use=latent_use(mu.cpu(), logvar.cpu(), model.decoder[0].weight.cpu()), dims=dims,
        separation=separation(read_labels, knn_predictions(plane[:READ_IMAGES], read_labels)), walk=walk_summary(walk, classifier.out.out_features),
        inside=(plane.abs() <= WALK_EXTENT).all(1).double().mean().item(), extent=WALK_EXTENT, recognised=recognised,
        inputs="binarised" if targets == "binarized" else "grey values",
        elbo=torch.cat([model.elbo(part, generator).double().cpu() for part in data.chunks(binarized(test.images), 10_000)]),
    )


def plan(p: Preset) -> list[Job]:
    """The runs :func:`run` trains with the preset ``p`` (for :mod:`genlab.lab.executor`)."""
    return [Job("vae", config, f"({label})", p.eval) for label, config in p.runs.items()]


def run(p: Preset, out: Path, device: str | torch.device = "auto", data_dir=None, progress: bool = True) -> Path:
    """``genlab lab vae``: the reference runs (20-D and 2-D latent), their measurements and every SPEC 4 figure."""
    lab = Lab(out, p.name, device, data_dir, progress)
    task = lab.task_dir("vae")
    report = lab.report("vae", TITLES["vae"])
    configs = p.runs
    measured = []
    for label, config in configs.items():
        run_ = lab.train("vae", config, f"({label})")
        measured.append(Measured(label, config, run_, lab.evaluate(run_, p.eval)))
    figures = {m.config.latent: run_figures(m.run, lab.device, data_dir) for m in measured[:2]}
    lab.say("measuring the latent spaces for the answers")
    looked = {m.config.latent: look(m.run, lab.device, data_dir) for m in measured[:2]}
    reference, two = measured[0], measured[1]

    def fig(latent: int, name: str, caption: str) -> Figure:
        return Figure(figures[latent][name], caption)

    report.add(Section(
        "4.1 Reconstructions (20-D latent)",
        "The first 20 test images, their reconstructions p(x=1|z) from the posterior mean and from a sample of "
        "q(z|x), and the posterior mean mu as a 4x5 image.",
        configs={label: c.to_dict() for label, c in configs.items()},
        figures=[fig(20, "reconstructions", "Reconstructions and latent state, 20-D latent")],
        question=QUESTIONS["4.1"], answer=reconstructions_answer(reference, looked[20]),
    ))
    use = looked[20].use
    report.add(Section(
        "4.2 Which latent dimensions are used (20-D latent)",
        f"Box plots over the test inputs ({looked[20].inputs}, as the model was trained on them) of each dimension's mu "
        "and sigma^2 = exp(log sigma^2) (not its square), and of the decoder's first-layer weights from each dimension. "
        "A dimension at the prior has mu ~ 0 and sigma^2 ~ 1 for every input, and the decoder ignores it (weights ~ 0).",
        figures=[fig(20, "latent_boxplots", "mu, sigma^2 and decoder weights per latent dimension, 20-D latent")],
        tables=[Table(f"Per latent dimension, over the {use.inputs:,} test inputs: KL(q(z|x) || p(z)) (mean, nats), "
                      "the variance of mu, the mean of sigma^2, and the norm of the decoder's weights from it",
                      ["dimension", "KL", "Var(mu)", "mean sigma^2", "decoder weight norm", "active"],
                      [[j + 1, use.kl[j], use.mu_variance[j], use.sigma2[j], use.weight_norm[j], j in use.active]
                       for j in range(len(use.kl))])],
        question=QUESTIONS["4.2"], answer=latent_use_answer(reference, looked[20]),
    ))
    report.add(Section(
        "4.3 The test set in latent space (20-D latent)",
        "Posterior means of the 10,000 test images in the two dimensions with the largest KL (named on the axes), "
        "coloured by label; and p(x=1|z) decoded on a grid over those two dimensions with the others at 0.",
        figures=[fig(20, "latent_scatter", "Test inputs in the two most used latent dimensions"),
                 fig(20, "latent_walk", "Decoded grid over the two most used latent dimensions")],
        question=QUESTIONS["4.3"], answer=latent_map_answer(reference, looked[20]),
    ))
    report.add(Section(
        "4.4 A 2-D latent space",
        "The same with a 2-dimensional latent space, and the decoded 15x15 walk over [-1.5, 1.5]^2.",
        figures=[fig(2, name, f"{caption}, 2-D latent") for name, caption in (
            ("reconstructions", "Reconstructions and latent state"), ("latent_boxplots", "mu, sigma^2 and decoder weights"),
            ("latent_scatter", "Test inputs in latent space"), ("latent_walk", "Decoded 15x15 walk"))],
        question=QUESTIONS["4.4"], answer=two_d_answer(reference, two, looked[20], looked[2]),
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
            note=f"Preset {p.name}: {p.note}. Training time as measured on {lab.device_name}. "
                 + protocol_note({m.label: m.results for m in measured}),
        )],
        observations=observations(measured),
    ))
    report.models.update({"VAE (20-D latent)": measured[0].run.path, "VAE (2-D latent)": measured[1].run.path})
    return report.write(task)
