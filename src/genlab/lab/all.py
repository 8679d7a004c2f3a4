"""``genlab lab all``: every task of the SPEC, then one report with the cross-model table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from genlab.evaluation.config import EvalConfig
from genlab.evaluation.protocol import conservative_caveat, protocol_line
from genlab.families import evaluate_samples, sample_images
from genlab.figures import plots
from genlab.lab.core import Lab
from genlab.lab.presets import Preset
from genlab.lab.executor import Executor, train_all
from genlab.lab.report import Table, load_results, write_combined_report
from genlab.lab.task import Task
from genlab.runs import Run

SUMMARY_COLUMNS = [
    "model",
    "test log-likelihood (nats)",
    "obtained by",
    "conservative estimate (nats)",
    "FCD",
    "FCD floor (real data)",
    "classifier score",
    "label entropy (bits)",
    "smallest class share",
    "probe accuracy",
    "parameters",
    "training time (s)",
    "device",
    "log-likelihood protocol",
]


def summary_row(name: str, run: Run, ev: dict[str, Any]) -> list[Any]:
    """One model's numbers from its evaluation ``ev`` and its config.json."""
    return [
        name,
        ev.get("test_loglik"),
        ev.get("test_loglik_method", "n/a"),
        ev.get("test_loglik_conservative"),
        ev.get("frechet_classifier_distance"),
        ev.get("frechet_classifier_distance_floor"),
        ev.get("classifier_score"),
        ev.get("coverage"),
        ev.get("coverage_min_share"),
        ev.get("probe_accuracy"),
        ev.get("n_params"),
        None if run.meta.get("train_time_s") is None else f"{run.meta['train_time_s']:.1f}",
        run.meta.get("device"),
        protocol_line(ev["protocol"]) if "protocol" in ev else "n/a",
    ]


def at_equal_sample_count(models: list[tuple[str, Run]], lab: Lab) -> tuple[dict[str, dict[str, Any]], int | None, int | None]:
    """Each model's eval.json, its sample-quality numbers re-measured where needed so that all
    are taken at one sample count and one test set (the smallest any of them used): the FCD is
    biased upward at small sample counts, so only equal counts compare.

    Returns (evaluation per model, that sample count, that number of test images).
    """
    evals = {name: run.read_eval() or {} for name, run in models}
    measured = [ev for ev in evals.values() if "metric_samples" in ev]
    if not measured:
        return evals, None, None
    n = min(ev["metric_samples"] for ev in measured)
    test = min(ev["metric_test_images"] for ev in measured)
    for name, run in models:
        ev = evals[name]
        if "metric_samples" in ev and (ev["metric_samples"], ev["metric_test_images"]) != (n, test):
            lab.say(f"measuring {name}'s samples again at {n:,} samples, as every model's")
            config = EvalConfig(seed=ev.get("eval_config", {}).get("seed", 0), samples=n, test_limit=test)
            evals[name] = {**ev, **evaluate_samples(run, config, lab.device, lab.data_dir)}
    return evals, n, test


def headline_runs(task_dirs: list[Path]) -> list[tuple[str, Run]]:
    """Each task's headline models (results.json "models"), in task order."""
    out = []
    for d in task_dirs:
        for name, rel in load_results(d).get("models", {}).items():
            out.append((name, Run.open(d / rel)))
    return out


def samples_figure(models: list[tuple[str, Run]], path: Path, device: torch.device, n: int = 10, seed: int = 0) -> Path:
    """One row of n samples from each model, side by side."""
    rows = [(name, sample_images(run, n, seed, device)) for name, run in models]
    return plots.rows_figure(rows, path, title=f"{n} samples from each model (seed {seed})")


def run_all(tasks: list[Task], presets: dict[str, Preset], out: Path, device: str | torch.device = "auto",
            data_dir=None, progress: bool = True, executor: Executor | None = None) -> Path:
    """``genlab lab all``: every task with its preset (task name -> preset, all of one name), in order (later
    tasks re-use earlier runs: the DBN stacks on the RBM), then one report with the cross-model table. With an
    ``executor``, every task's runs are first trained side by side."""
    preset = presets[tasks[0].name].name
    lab = Lab(out, preset, device, data_dir, progress)
    if executor is not None:
        train_all([job for task in tasks for job in task.plan(presets[task.name])], lab, executor, str(device))
    task_dirs = []
    for i, task in enumerate(tasks, 1):
        lab.say(f"=== task {i}/{len(tasks)}: {task.title} ===")
        task_dirs.append(task.run(presets[task.name], out, device=device, data_dir=data_dir, progress=progress))
    models = headline_runs(task_dirs)
    evals, n, test = at_equal_sample_count(models, lab)
    samples_note = "" if n is None else f" ({n:,} samples of each model against the first {test:,} test images; the floor: as many training images, taken at the image size of the samples)"
    table = Table(
        "Every model on the same measurements",
        SUMMARY_COLUMNS,
        [summary_row(name, run, evals[name]) for name, run in models],
        note=("test log-likelihood on the test set binarised once with a fixed seed: exact or AIS for the RBM, "
            "the AIS-based variational lower bound for the DBNs, the importance-weighted estimate for the VAEs, each "
            "with its protocol (last column); the conservative estimate is a stochastic lower bound (RAISE: on the "
            "log-likelihood of its annealing path, which approaches the model's with many distributions; or the "
            "bound with an exact log Z) beside the AIS-based numbers, which can be optimistic; "
            f"FCD (the Frechet distance on the features of genlab's own classifier of the data set, not the Inception FID of "
            f"papers), its floor, the classifier score and the label coverage use that classifier{samples_note}; "
            "n/a where a measure does not apply. " + conservative_caveat({name: evals[name] for name, _ in models})
              ).strip(),
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
