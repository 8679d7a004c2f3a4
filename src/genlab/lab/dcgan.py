"""The experiments of SPEC task 5, ``genlab lab dcgan``: samples, the D/G step ratio, batch normalisation off.

``genlab lab dcgan --preset quick|full --out DIR`` trains four runs that differ in one
setting each — the reference (one discriminator and one generator minibatch per
iteration), 2 discriminator minibatches per generator minibatch, 2 generator
minibatches per discriminator minibatch, and no batch normalisation — measures
each with the sample-quality metrics and writes ``DIR/dcgan/report.md``. The figures
are :mod:`genlab.figures.dcgan`, the table and observations :mod:`genlab.lab.findings.dcgan`,
the presets :data:`genlab.lab.presets.DCGAN`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from genlab.evaluation.config import EvalConfig
from genlab.families import evaluate_samples, sample_images
from genlab.figures import plots
from genlab.figures.dcgan import curve, d_outputs_figure, losses_figure
from genlab.lab.core import Lab
from genlab.lab.executor import Job
from genlab.lab.findings.dcgan import FCD, FCD_FLOOR, compare_observations, reference_observation, runs_label, summary_table
from genlab.lab.presets import DCGAN_VARIANTS as VARIANTS
from genlab.lab.presets import Preset
from genlab.lab.report import Figure, Section, Table
from genlab.lab.task import TITLES
from genlab.runs import Run
from genlab.training.vae import VAEConfig

SAMPLE_SEED = 2024  # the random z of every variant's 10x10 grid


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
    return [*(Job("dcgan", base.replace(**change), label, p.eval) for label, _, change in VARIANTS),
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
        run = lab.train("dcgan", base.replace(**change), label)
        runs[name], results[name] = run, lab.evaluate(run, eval_config)
        grids[name] = samples_grid(run, figures / f"samples_{name}.png", lab.device, title=f"100 samples: {label}")

    table = summary_table(runs, results, p.note)
    ref, ref_log = results["reference"], runs["reference"].log
    report.add(Section(
        "5.1 Samples of the reference DCGAN",
        text="100 images G(z) from random z ~ N(0, I) as a 10x10 grid, and the losses and mean "
             "discriminator outputs over training.",
        configs={"reference": runs["reference"].config},
        figures=[Figure(grids["reference"], "100 samples of the reference DCGAN"),
                 Figure(losses_figure({"discriminator": curve(ref_log, "d_loss"), "generator": curve(ref_log, "g_loss")},
                                      figures / "losses_reference.png", "Losses of the reference DCGAN"), "losses over training"),
                 Figure(d_outputs_figure(ref_log, figures / "d_outputs_reference.png"), "mean D(x) and D(G(z)) per epoch")],
        tables=[table],
        observations=[reference_observation(ref)],
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
    ))
    report.add(vae_comparison(lab, p.runs["vae"], runs["reference"], results["reference"], eval_config, figures))
    report.models["DCGAN"] = runs["reference"].path
    report.write(task)
    lab.say(f"dcgan: report in {task / 'report.md'} ({lab.trained} trained, {lab.reused} re-used)")
    return task


def vae_comparison(lab: Lab, vae_config: VAEConfig, gan_run: Run, gan: dict[str, Any], eval_config: EvalConfig,
                   figures: Path) -> Section:
    """5.1's comparison: the VAE lab's 20-D reference run (trained here if missing) beside the
    DCGAN, both measured on the same number of samples."""
    vae_run = lab.train("vae", vae_config, "(the VAE of task 4, for comparison)")
    lab.say("measuring the VAE's samples like the DCGAN's")
    vae = evaluate_samples(vae_run, eval_config, lab.device, lab.data_dir)
    rows = [["VAE (20-D latent)", vae[FCD], vae[FCD_FLOOR], vae["classifier_score"], vae["coverage"],
             vae_run.meta["train_time_s"]],
            ["DCGAN (reference)", gan[FCD], gan[FCD_FLOOR], gan["classifier_score"], gan["coverage"],
             gan_run.meta["train_time_s"]]]
    better = "DCGAN" if gan[FCD] < vae[FCD] else "VAE"
    return Section(
        "VAE and DCGAN samples side by side",
        text="100 samples of the VAE of task 4 (its lab's reference run for this preset) and of the reference DCGAN, "
             f"measured the same way on {eval_config.samples:,} samples each.",
        configs={"vae": vae_run.config},
        figures=[Figure(samples_grid(vae_run, figures / "samples_vae.png", lab.device, title="100 samples: VAE (20-D latent)"),
                        "100 samples of the VAE"),
                 Figure(figures / "samples_reference.png", "100 samples of the DCGAN")],
        tables=[Table("VAE vs DCGAN", ["model", "FCD", "FCD floor", "classifier score", "label entropy (bits)",
                                       "train time [s]"], rows)],
        observations=[f"The {better} has the lower FCD ({min(vae[FCD], gan[FCD]):.1f} against "
                      f"{max(vae[FCD], gan[FCD]):.1f}); classifier score {vae['classifier_score']:.2f} (VAE) and "
                      f"{gan['classifier_score']:.2f} (DCGAN)."],
    )


def curves(runs: dict[str, Run], names: tuple[str, ...], loss: str, path: Path) -> Path:
    """One loss of several runs over training."""
    network = "Discriminator" if loss == "d_loss" else "Generator"
    return losses_figure({runs_label(n): curve(runs[n].log, loss) for n in names}, path,
                         f"{network} loss (mean over each tenth of an epoch)")


