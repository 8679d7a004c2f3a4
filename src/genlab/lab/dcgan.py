"""DCGAN experiments (SPEC task 5): samples, the D/G step ratio, batch normalisation off.

``genlab lab dcgan --preset quick|full --out DIR`` trains four runs that differ in one
setting each — the reference (one discriminator and one generator minibatch per
iteration), 2 discriminator minibatches per generator minibatch, 2 generator
minibatches per discriminator minibatch, and no batch normalisation — measures
each with the sample-quality metrics and writes ``DIR/dcgan/report.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genlab import plots
from genlab.evaluate.run import EvalConfig
from genlab.families import family_of, sample_images
from genlab.lab import TINY_TEST
from genlab.lab.core import Lab
from genlab.lab.report import Figure, Section, Table
from genlab.runs import Run
from genlab.train import dcgan
from genlab.train.dcgan import DCGANConfig

SAMPLE_SEED = 2024  # the random z of every variant's 10x10 grid


@dataclass(frozen=True)
class Preset:
    train: dict[str, Any]  # DCGANConfig fields shared by every variant
    samples: int  # model samples per sample-quality measurement
    note: str
    test_limit: int | None = None  # test images the metrics compare with (None: all)


PRESETS = {
    "tiny": Preset({"limit": 256, "epochs": 1, "batch_size": 32}, TINY_TEST,
                   f"tiny preset, a smoke test and not a measurement: the first 256 training images, 1 epoch, "
                   f"minibatch 32, {TINY_TEST} samples against the first {TINY_TEST} test images",
                   test_limit=TINY_TEST),
    # sized on this project's 2-core CPU: see docs/dcgan.md for the per-image cost
    "quick": Preset({"limit": 4000, "epochs": 2, "batch_size": 16}, 5000,
                    "quick preset: the first 4,000 training images, 2 epochs, minibatch 16, 5,000 samples per metric "
                    "(SPEC: 60,000 images, 20 epochs, minibatch 128)"),
    "full": Preset({}, 10_000, "full preset: SPEC's reference run, 60,000 images, 20 epochs, minibatch 128, 10,000 samples per metric"),
}

# label, short name (file names), the change from the reference config
VARIANTS = (
    ("reference: 1 D / 1 G step", "reference", {}),
    ("2 D steps per G step", "d2g1", {"d_steps": 2}),
    ("2 G steps per D step", "d1g2", {"g_steps": 2}),
    ("no batch norm", "no-batchnorm", {"batchnorm": False}),
)


def samples_grid(
    run: Run, path: Path, device: torch.device | str = "cpu", n: int = 100, seed: int = SAMPLE_SEED, title: str | None = None
) -> Path:
    """n new samples of any run (its family's ``sample``) as a grid of 10 per row, from a fixed seed.

    Images of any size are drawn as large as 28x28 ones, so grids of different models sit side by side.
    """
    images = sample_images(run, n, seed, device)
    return plots.grid_figure(images, path, nrow=10, title=title or f"{n} samples ({run.family})",
                             scale=plots.scale_for(images.shape[-1]))


def run(preset: str, out: Path, device: str = "auto", data_dir: str | Path | None = None, progress: bool = True) -> Path:
    """SPEC 5.1-5.3: train, measure and draw the four variants; write ``OUT/dcgan/report.md``."""
    lab = Lab(out, preset, device, data_dir, progress)
    spec = PRESETS[preset]
    task = lab.task_dir("dcgan")
    figures = task / "figures"
    report = lab.report("dcgan", "Task 5: DCGAN")
    eval_config = EvalConfig(samples=spec.samples, test_limit=spec.test_limit)
    base = DCGANConfig(**spec.train)

    runs: dict[str, Run] = {}
    results: dict[str, dict[str, Any]] = {}
    grids: dict[str, Path] = {}
    for label, name, change in VARIANTS:
        run = lab.train("dcgan", base.replace(**change), label)
        runs[name], results[name] = run, lab.evaluate(run, eval_config)
        grids[name] = samples_grid(run, figures / f"samples_{name}.png", lab.device, title=f"100 samples: {label}")

    table = summary_table(runs, results, spec.note)
    ref, ref_log = results["reference"], runs["reference"].log
    report.add(Section(
        "5.1 Samples of the reference DCGAN",
        text="100 images G(z) from random z ~ N(0, I) as a 10x10 grid (SPEC 5.1), and the losses and mean "
             "discriminator outputs over training.",
        configs={"reference": runs["reference"].config},
        figures=[Figure(grids["reference"], "100 samples of the reference DCGAN"),
                 Figure(dcgan.losses_figure({"discriminator": dcgan.curve(ref_log, "d_loss"), "generator": dcgan.curve(ref_log, "g_loss")},
                                            figures / "losses_reference.png", "Losses of the reference DCGAN"), "losses over training"),
                 Figure(dcgan.d_outputs_figure(ref_log, figures / "d_outputs_reference.png"), "mean D(x) and D(G(z)) per epoch")],
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
    report.add(vae_comparison(lab, preset, runs["reference"], results["reference"], eval_config, figures))
    report.models["DCGAN"] = runs["reference"].path
    report.write(task)
    lab.say(f"dcgan: report in {task / 'report.md'} ({lab.trained} trained, {lab.reused} re-used)")
    return task


def vae_comparison(lab: Lab, preset: str, gan_run: Run, gan: dict[str, Any], eval_config: EvalConfig,
                   figures: Path) -> Section:
    """SPEC 5.1's comparison: the VAE lab's 20-D reference run (trained here if missing) beside the
    DCGAN, both measured on the same number of samples."""
    from genlab.lab.vae import reference_config
    from genlab.metrics.quality import evaluate_samples

    vae_config = reference_config(preset).replace(dataset=dcgan.run_config(gan_run).dataset)
    vae_run = lab.train("vae", vae_config, "(the VAE of SPEC 4, for comparison)")
    lab.say("measuring the VAE's samples like the DCGAN's")
    vae = evaluate_samples(vae_run, family_of(vae_run), eval_config, lab.device, lab.data_dir)
    rows = [["VAE (20-D latent)", vae["fid"], vae["fid_floor"], vae["classifier_score"], vae["coverage"],
             vae_run.meta["train_time_s"]],
            ["DCGAN (reference)", gan["fid"], gan["fid_floor"], gan["classifier_score"], gan["coverage"],
             gan_run.meta["train_time_s"]]]
    better = "DCGAN" if gan["fid"] < vae["fid"] else "VAE"
    return Section(
        "VAE and DCGAN samples side by side",
        text="100 samples of the VAE of task 4 (its lab's reference run for this preset) and of the reference DCGAN, "
             f"measured the same way on {eval_config.samples:,} samples each.",
        configs={"vae": vae_run.config},
        figures=[Figure(samples_grid(vae_run, figures / "samples_vae.png", lab.device, title="100 samples: VAE (20-D latent)"),
                        "100 samples of the VAE"),
                 Figure(figures / "samples_reference.png", "100 samples of the DCGAN")],
        tables=[Table("VAE vs DCGAN", ["model", "fid", "fid floor", "classifier score", "label entropy (bits)",
                                       "train time [s]"], rows)],
        observations=[f"The {better} has the lower fid ({min(vae['fid'], gan['fid']):.1f} against "
                      f"{max(vae['fid'], gan['fid']):.1f}); classifier score {vae['classifier_score']:.2f} (VAE) and "
                      f"{gan['classifier_score']:.2f} (DCGAN)."],
    )


def runs_label(name: str) -> str:
    return next(label for label, short, _ in VARIANTS if short == name)


def summary_table(runs: dict[str, Run], results: dict[str, dict[str, Any]], note: str) -> Table:
    rows = []
    for label, name, _ in VARIANTS:
        r, log = results[name], runs[name].log
        rows.append([label, r["fid"], r["fid_floor"], r["classifier_score"], r["coverage"], r["coverage_min_share"],
                     log[-1]["d_real"], log[-1]["d_fake"], sum(e["d_updates"] for e in log), sum(e["g_updates"] for e in log),
                     runs[name].meta["train_time_s"], runs[name].meta.get("train_cpu_s")])
    columns = ["variant", "fid", "fid_floor", "classifier_score", "coverage (bits)", "rarest class share",
               "D(x)", "D(G(z))", "D updates", "G updates", "training time (s)", "CPU time (s)"]
    note = (f"{note}. fid: Frechet distance of classifier features to the test set (lower is better); fid_floor: "
            f"the same for real training images; classifier_score: at most 10; coverage: entropy of the predicted "
            f"labels, at most log2(10) = 3.32 bits. D(x), D(G(z)): mean over the last epoch. Training time: wall clock; CPU time: of all threads.")
    return Table("DCGAN variants", columns, rows, note)


def curves(runs: dict[str, Run], names: tuple[str, ...], loss: str, path: Path) -> Path:
    """One loss of several runs over training."""
    network = "Discriminator" if loss == "d_loss" else "Generator"
    return dcgan.losses_figure({runs_label(n): dcgan.curve(runs[n].log, loss) for n in names}, path,
                               f"{network} loss (mean over each tenth of an epoch)")


def time_text(run: Run) -> str:
    """'412 s (CPU 700 s)': wall clock and, where recorded, CPU time."""
    cpu = run.meta.get("train_cpu_s")
    return f"{run.meta['train_time_s']:.0f} s" + (f" (CPU {cpu:.0f} s)" if cpu is not None else "")


def reference_observation(r: dict[str, Any]) -> str:
    return (f"The reference DCGAN's samples have fid {r['fid']:.2f} against a real-data floor of {r['fid_floor']:.2f}, "
            f"a classifier score of {r['classifier_score']:.2f} (real test images: {r['classifier_score_real']:.2f}) "
            f"and a label entropy of {r['coverage']:.2f} of {r['coverage_max']:.2f} bits, the rarest class taking "
            f"{100 * r['coverage_min_share']:.1f}% of the samples.")


def compare_observations(results: dict[str, dict[str, Any]], runs: dict[str, Run], base: str, others: tuple[str, ...]) -> list[str]:
    """One sentence per variant: its fid, score and coverage against the base run's, and the time it took."""
    b = results[base]
    lines = []
    for name in others:
        r = results[name]
        better = "lower (better)" if r["fid"] < b["fid"] else "higher (worse)"
        lines.append(
            f"{runs_label(name)}: fid {r['fid']:.2f}, {better} than the reference's {b['fid']:.2f} "
            f"({r['fid'] / max(b['fid'], 1e-12):.2f}x); classifier score {r['classifier_score']:.2f} vs "
            f"{b['classifier_score']:.2f}; coverage {r['coverage']:.2f} vs {b['coverage']:.2f} bits; "
            f"{time_text(runs[name])} vs {time_text(runs[base])} of training."
        )
        if r["coverage"] < b["coverage"] - 0.25 or r["coverage_min_share"] < 0.25 * b["coverage_min_share"]:
            lines.append(f"{runs_label(name)} spreads its samples less evenly over the classes ({r['coverage']:.2f} bits, "
                         f"the rarest class {100 * r['coverage_min_share']:.1f}% of the samples, against "
                         f"{100 * b['coverage_min_share']:.1f}%): a sign of mode collapse.")
    best = min((base, *others), key=lambda n: results[n]["fid"])
    lines.append(f"Lowest fid of these: {runs_label(best)} ({results[best]['fid']:.2f}).")
    return lines
