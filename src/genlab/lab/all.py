"""``genlab lab all``: every task of the SPEC, then one report with the cross-model table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from genlab import plots
from genlab.lab.core import Lab
from genlab.lab.report import Table, load_results, write_combined_report
from genlab.rng import make_generator
from genlab.runs import Run

# The order of the tasks: later ones re-use earlier runs (the DBN stacks on the RBM).
TASKS = ("rbm", "dbn", "dbn-finetune", "vae", "dcgan")

SUMMARY_COLUMNS = [
    "model",
    "test log-likelihood (nats)",
    "obtained by",
    "fid",
    "fid floor (real data)",
    "classifier score",
    "label entropy (bits)",
    "smallest class share",
    "probe accuracy",
    "parameters",
    "training time (s)",
    "device",
]


def summary_row(name: str, run: Run) -> list[Any]:
    """One model's numbers from its eval.json and config.json."""
    ev = run.read_eval() or {}
    return [
        name,
        ev.get("test_loglik"),
        ev.get("test_loglik_method", "n/a"),
        ev.get("fid"),
        ev.get("fid_floor"),
        ev.get("classifier_score"),
        ev.get("coverage"),
        ev.get("coverage_min_share"),
        ev.get("probe_accuracy"),
        ev.get("n_params"),
        None if run.meta.get("train_time_s") is None else round(run.meta["train_time_s"], 1),
        run.meta.get("device"),
    ]


def headline_runs(task_dirs: list[Path]) -> list[tuple[str, Run]]:
    """Each task's headline models (results.json "models"), in task order."""
    out = []
    for d in task_dirs:
        for name, rel in load_results(d).get("models", {}).items():
            out.append((name, Run.open(d / rel)))
    return out


@torch.no_grad()
def samples_figure(models: list[tuple[str, Run]], path: Path, device: torch.device, n: int = 10, seed: int = 0) -> Path:
    """One row of n samples from each model, side by side."""
    from genlab.families import family_of

    rows = []
    for name, run in models:
        family = family_of(run)
        model = family.load(run, device)
        images = family.sample(model, n, make_generator(seed, device))
        shape = tuple(run.meta["data"]["image_shape"])
        images = plots.as_images(images.float().clamp(0, 1), shape)
        rows.append((name, images.cpu()))
    return plots.rows_figure(rows, path, title=f"{n} samples from each model (seed {seed})")


def run_all(preset: str, out: Path, device: str = "auto", data_dir=None, progress: bool = True) -> Path:
    from genlab.lab import LABS, lab_function

    lab = Lab(out, preset, device, data_dir, progress)
    tasks = [t for t in TASKS if t in LABS]
    task_dirs = []
    for i, task in enumerate(tasks, 1):
        lab.say(f"=== task {i}/{len(tasks)}: {task} ===")
        task_dirs.append(lab_function(task)(preset, out, device=device, data_dir=data_dir, progress=progress))
    models = headline_runs(task_dirs)
    table = Table(
        "Every model on the same measurements",
        SUMMARY_COLUMNS,
        [summary_row(name, run) for name, run in models],
        note="test log-likelihood on the MNIST test set binarised once with a fixed seed: exact or AIS for the RBM, "
        "the AIS-based variational lower bound for the DBNs, the importance-weighted estimate for the VAEs; "
        "fid and the classifier score use genlab's own MNIST classifier; n/a where a measure does not apply.",
    )
    figure = samples_figure(models, out / "figures" / "samples_side_by_side.png", lab.device)
    write_combined_report(
        out,
        "genlab: every experiment of the generative-models lab",
        f"Preset '{preset}' on {lab.device_name}. Each task below lists what was run (exact configs), "
        "its figures, its numbers and what they show.",
        task_dirs,
        [table],
        [(figure, "One row of samples from each model")],
    )
    lab.say(f"report: {out / 'report.html'}")
    return out
