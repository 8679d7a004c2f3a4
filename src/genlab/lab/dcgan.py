"""The experiments of SPEC task 5, ``genlab lab dcgan``: samples, the D/G step ratio, batch normalisation off.

``genlab lab dcgan --preset quick|full --out DIR`` trains four runs that differ in one
setting each — the reference (one discriminator and one generator minibatch per
iteration), 2 discriminator minibatches per generator minibatch, 2 generator
minibatches per discriminator minibatch, and no batch normalisation — measures
each with the sample-quality metrics and writes ``DIR/dcgan/report.md``: under 5.1 the
VAE of task 4 beside the reference, its samples measured the way the DCGAN's are, and
the reference's deliberate deviations from the lab's template; under 5.1-5.3 the lab's
questions, answered from the measurements. The figures
are :mod:`genlab.figures.dcgan`, the tables, observations and answers :mod:`genlab.lab.findings.dcgan`,
the presets :data:`genlab.lab.presets.DCGAN`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genlab import data
from genlab.evaluation.config import EvalConfig
from genlab.families import evaluate_samples, sample_images
from genlab.figures import plots
from genlab.figures.dcgan import curve, d_outputs_figure, losses_figure
from genlab.lab.core import Lab
from genlab.lab.executor import Job
from genlab.lab.findings.dcgan import (
    FCD,
    FCD_FLOOR,
    INK,
    SOLID,
    batchnorm_answer,
    compare_observations,
    deviations_table,
    first_layer_batchnorm,
    grey_share,
    ratio_answer,
    reference_observation,
    runs_label,
    summary_table,
    versus_vae_answer,
)
from genlab.lab.presets import DCGAN_VARIANTS as VARIANTS
from genlab.lab.presets import Preset
from genlab.lab.questions import QUESTIONS
from genlab.lab.report import Figure, Section, Table
from genlab.lab.task import TITLES
from genlab.metrics.quality import as_data_images, draw_samples, real_images, sample_quality
from genlab.models.dcgan import IMAGE_SIZE
from genlab.rng import make_generator
from genlab.runs import Run
from genlab.training import vae as train_vae
from genlab.training.dcgan import DCGANConfig
from genlab.training.dcgan import load as load_dcgan

SAMPLE_SEED = 2024  # the random z of every variant's 10x10 grid
GREY_SAMPLES = 1000  # samples (at most) whose grey share of ink 5.1 compares


def as_pixels(images: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1], [n, 1, H, W] -> uint8 [n, H, W], as data sets hold them."""
    return images[:, 0].mul(255).round_().clamp_(0, 255).to(torch.uint8)


def as_unit(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 [n, H, W] -> [n, 1, H, W] in [0, 1]."""
    return pixels[:, None].float().div_(255)


def samples_grid(
    run: Run, path: Path, device: torch.device | str = "cpu", n: int = 100, seed: int = SAMPLE_SEED, title: str | None = None
) -> Path:
    """n new samples of any run (its family's ``sample``) as a grid of 10 per row, from a fixed seed.

    Images of any size are drawn as large as 28x28 ones, so grids of different models sit side by side.
    """
    images = sample_images(run, n, seed, device)
    return plots.grid_figure(images, path, nrow=10, title=title or f"{n} samples ({run.family})",
                             scale=plots.scale_for(images.shape[-1]))


def plan(p: Preset) -> list[Job]:
    """The runs :func:`run` trains with the preset ``p`` (for :mod:`genlab.lab.executor`)."""
    base = p.runs["reference"]
    return [*(Job("dcgan", p.variant(label, base.replace(**change)), label, p.eval) for label, _, change in VARIANTS),
            Job("vae", p.runs["vae"], "(the VAE of task 4, for comparison)")]


def run(p: Preset, out: Path, device: str | torch.device = "auto", data_dir: str | Path | None = None,
        progress: bool = True) -> Path:
    """``genlab lab dcgan``: SPEC 5.1-5.3, the four variants trained, measured and drawn into ``OUT/dcgan/report.md``."""
    lab = Lab(out, p.name, device, data_dir, progress)
    task = lab.task_dir("dcgan")
    figures = task / "figures"
    report = lab.report("dcgan", TITLES["dcgan"])
    eval_config = p.eval
    base = p.runs["reference"]

    runs: dict[str, Run] = {}
    results: dict[str, dict[str, Any]] = {}
    grids: dict[str, Path] = {}
    for label, name, change in VARIANTS:
        run = lab.train("dcgan", p.variant(label, base.replace(**change)), label)
        runs[name], results[name] = run, lab.evaluate(run, eval_config)
        grids[name] = samples_grid(run, figures / f"samples_{name}.png", lab.device, title=f"100 samples: {label}")

    table = summary_table(runs, results, p.note)
    ref_run, ref_log = runs["reference"], runs["reference"].log
    gan = load_dcgan(ref_run, lab.device)
    vae_run = lab.train("vae", p.runs["vae"], "(the VAE of task 4, for comparison)")
    comparison = vae_comparison(lab, vae_run, ref_run, results["reference"], eval_config)
    report.add(Section(
        "5.1 Samples of the reference DCGAN and of the VAE",
        text="100 images G(z) from random z ~ N(0, I) as a 10x10 grid, the losses and mean discriminator outputs over "
             "training, and 100 samples of the VAE of task 4 (its lab's 20-D reference run for this preset) beside "
             f"them, both measured the same way on {eval_config.samples:,} samples each.",
        configs={"reference": ref_run.config, "vae": vae_run.config},
        figures=[Figure(grids["reference"], "100 samples of the reference DCGAN"),
                 Figure(samples_grid(vae_run, figures / "samples_vae.png", lab.device, title="100 samples: VAE (20-D latent)"),
                        "100 samples of the VAE"),
                 Figure(losses_figure({"discriminator": curve(ref_log, "d_loss"), "generator": curve(ref_log, "g_loss")},
                                      figures / "losses_reference.png", "Losses of the reference DCGAN"), "losses over training"),
                 Figure(d_outputs_figure(ref_log, figures / "d_outputs_reference.png"), "mean D(x) and D(G(z)) per epoch")],
        tables=[table, comparison.table,
                deviations_table(ref_run.config, first_layer_batchnorm(gan.D), DCGANConfig().batch_size)],
        observations=[reference_observation(results["reference"])],
        question=QUESTIONS["5.1"], answer=versus_vae_answer(results["reference"], comparison.vae, comparison.vae_native,
                                                            comparison.grey, sum(e["g_updates"] for e in ref_log)),
    ))
    ratio = ("reference", "d2g1", "d1g2")
    report.add(Section(
        "5.2 Discriminator and generator steps per iteration",
        text="Two discriminator minibatches per generator minibatch, and the reverse, against one of each. "
             "All three see the same real images per epoch (one discriminator step per real minibatch), so "
             "2 D / 1 G makes half as many generator updates and 1 D / 2 G twice as many.",
        configs={name: runs[name].config for name in ratio[1:]},
        figures=[Figure(grids[name], f"100 samples: {runs_label(name)}") for name in ratio[1:]]
        + [Figure(curves(runs, ratio, "d_loss", figures / "d_loss_ratio.png"), "discriminator loss"),
           Figure(curves(runs, ratio, "g_loss", figures / "g_loss_ratio.png"), "generator loss")],
        observations=compare_observations(results, runs, "reference", ratio[1:]),
        question=QUESTIONS["5.2"], answer=ratio_answer(results, runs),
    ))
    bn = ("reference", "no-batchnorm")
    report.add(Section(
        "5.3 Batch normalisation switched off",
        text="The same training without batch normalisation in either network.",
        configs={"no-batchnorm": runs["no-batchnorm"].config},
        figures=[Figure(grids["no-batchnorm"], "100 samples without batch normalisation"),
                 Figure(curves(runs, bn, "d_loss", figures / "d_loss_batchnorm.png"), "discriminator loss"),
                 Figure(curves(runs, bn, "g_loss", figures / "g_loss_batchnorm.png"), "generator loss")],
        observations=compare_observations(results, runs, "reference", ("no-batchnorm",)),
        question=QUESTIONS["5.3"], answer=batchnorm_answer(results, runs),
    ))
    report.models["DCGAN"] = ref_run.path
    report.write(task)
    lab.say(f"dcgan: report in {task / 'report.md'} ({lab.trained} trained, {lab.reused} re-used)")
    return task


@dataclass
class Comparison:
    """5.1's measurements of the VAE beside the DCGAN."""

    table: Table
    vae: dict[str, Any]  # the VAE's sample metrics with its samples taken to the DCGAN's size first
    vae_native: dict[str, Any]  # the same at the VAE's own size (another reference and floor)
    grey: dict[str, float]  # grey_share of "dcgan", "vae" and "real" images, as the metrics see them


@torch.no_grad()
def vae_comparison(lab: Lab, vae_run: Run, gan_run: Run, gan: dict[str, Any], eval_config: EvalConfig) -> Comparison:
    """The VAE's samples measured like the DCGAN's: taken up to the DCGAN's 64x64 the way the real images are
    (``data.resize``), so that the metrics take both back to 28x28 and compare them with the same test images
    and the same real-data floor; and at the VAE's own size, for reference."""
    lab.say("measuring the VAE's samples like the DCGAN's")
    source = vae_run.data_source(lab.data_dir)
    shape = tuple(vae_run.meta["data"]["image_shape"])
    samples = draw_samples(train_vae.load(vae_run, lab.device), eval_config.samples,
                           make_generator(eval_config.seed, lab.device), shape)
    upsized = as_unit(data.resize(as_pixels(samples), IMAGE_SIZE))
    vae = sample_quality(upsized, source, lab.device, eval_config.test_limit)
    vae_native = evaluate_samples(vae_run, eval_config, lab.device, lab.data_dir)
    n = min(GREY_SAMPLES, eval_config.samples)
    gan_samples = sample_images(gan_run, n, SAMPLE_SEED, lab.device)
    test = data.read_split(source, "test").head(n)
    grey = {"dcgan": grey_share(as_data_images(gan_samples, shape)), "vae": grey_share(as_data_images(upsized[:n], shape)),
            "real": grey_share(real_images(test, (IMAGE_SIZE, IMAGE_SIZE)))}
    columns = ["model", "FCD", "FCD floor", "classifier score", "coverage (bits)", "rarest class share",
               "grey share of ink", "training time (s)"]

    def row(name: str, r: dict[str, Any], run: Run, grey_share_: float | None) -> list[Any]:
        return [name, r[FCD], r[FCD_FLOOR], r["classifier_score"], r["coverage"], r["coverage_min_share"], grey_share_,
                f"{run.meta['train_time_s']:.1f}"]

    rows = [row("DCGAN (reference)", gan, gan_run, grey["dcgan"]),
            row("VAE (20-D latent), samples taken to 64x64", vae, vae_run, grey["vae"]),
            row("VAE (20-D latent) at 28x28: another reference and floor, not comparable", vae_native, vae_run, None)]
    note = (f"{eval_config.samples:,} samples per model. The first two rows are measured alike: samples at 64x64 (the "
            "VAE's taken up as the real images are), brought to 28x28 for the classifier, against the test images "
            "through the same round trip; their floors are the same training images' through it. Grey share of ink: of "
            f"the pixels above {INK}, the share not above {SOLID} (real test images taken the same way: {grey['real']:.3f}), "
            f"on {n:,} samples.")
    return Comparison(Table("VAE vs DCGAN", columns, rows, note), vae, vae_native, grey)


def curves(runs: dict[str, Run], names: tuple[str, ...], loss: str, path: Path) -> Path:
    """One loss of several runs over training."""
    network = "Discriminator" if loss == "d_loss" else "Generator"
    return losses_figure({runs_label(n): curve(runs[n].log, loss) for n in names}, path,
                         f"{network} loss (mean over each tenth of an epoch)")


