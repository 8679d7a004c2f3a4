"""What each run of finished labs cost: the measurements behind genlab.lab.budget's tables.

    python benchmarks/lab_costs.py LAB_DIR [LAB_DIR ...] [--preset quick ...] [--wall SECONDS ...]

reads the run directories of ``genlab lab all --preset PRESET --out LAB_DIR`` and prints, for each run by
its label in the plan (:data:`genlab.lab.presets.LAB_EPOCHS`), the path it took, the seconds of one epoch of
all 60,000 training images on that path (its later epochs, scaled from the images it trained on), the
seconds of its first epoch beyond that (the path's start: a trial, a compilation), its evaluation and its
whole training, as ``config.json``, ``log.jsonl`` and ``eval.json`` recorded them. The lab's own work beside
its runs is the lab's wall time (given with ``--wall``) less the runs' training and evaluation.

Given several labs (their presets and wall times in the same order), it also prints the costs pooled over
them, as lines of :data:`genlab.lab.budget.CPU_COSTS`: each path's epoch weighted by the later epochs each lab
measured, the starts averaged, and the evaluations averaged over those with the same sizes (the table's are
the quick evaluation's; a path no lab took is left out: its numbers stay the table's).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from genlab.evaluation.config import QUICK_TEST_STRIDE
from genlab.lab import TASKS
from genlab.lab.budget import TRAIN_IMAGES
from genlab.lab.core import Lab
from genlab.runs import Run

# the labels of the lab's plans (genlab.lab.*.plan) as the cost tables name them
LABELS = {"(RBM 1, as in task 1)": "reference", "(task 2: the top RBM)": "top RBM",
          "(2.4: a top unit per pixel, W2 = W1^T)": "top RBM, 784 units", "(task 3: up-down fine-tuning)": "fine-tuning",
          "(latent 20)": "latent 20", "(latent 2)": "latent 2", "(the VAE of task 4, for comparison)": "latent 20"}


def epoch_times(run: Run) -> list[float]:
    """The cumulative ``time_s`` of each epoch line of the run's last layer (a DBN's top RBM)."""
    rows = [json.loads(line) for line in (run.path / "log.jsonl").read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "time_s" in r and "epoch" in r]
    last = max((r.get("layer", 0) for r in rows), default=0)
    return [r["time_s"] for r in rows if r.get("layer", 0) == last]


def cost_row(run: Run) -> dict:
    config = json.loads((run.path / "config.json").read_text())
    images = config["config"].get("limit") or TRAIN_IMAGES
    times = epoch_times(run)
    epoch = (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else times[0]
    scale = TRAIN_IMAGES / images
    evaluation = json.loads((run.path / "eval.json").read_text())
    return {"path": config.get("path", "-"), "epoch_s": epoch * scale, "start_s": max(0.0, times[0] - epoch),
            "eval_s": evaluation.get("eval_time_s") or 0.0, "eval": sizes(evaluation.get("eval_config", {})),
            "train_s": config.get("train_time_s") or 0.0, "epochs": len(times), "images": images}


def sizes(eval_config: dict) -> str:
    """The estimators' sizes of an evaluation, in a few words (evaluations are pooled by them)."""
    quick = eval_config.get("quick") and eval_config.get("test_limit") is None
    test = f"every {QUICK_TEST_STRIDE}th test image" if quick else "test set"
    return (f"AIS {eval_config.get('ais_runs')} x {eval_config.get('ais_betas')}, RAISE {eval_config.get('raise_betas')}, "
            f"IWAE {eval_config.get('iwae_k')}, {eval_config.get('samples')} samples, {test}")


def lab_costs(out: Path, preset: str) -> dict[str, dict]:
    """The cost row of every finished run of one lab, by its label in the plan."""
    lab = Lab(out, preset, "cpu", progress=False)
    rows: dict[str, dict] = {}
    for task in TASKS.values():
        runs: dict[tuple, Run] = {}
        for job in task.plan(task.presets[preset]):
            parent = runs.get(job.parent.key) if job.parent is not None else None
            path = lab.run_path(job.family, job.resolve(parent))
            if not (path / "eval.json").is_file():  # not (yet) trained and evaluated
                continue
            seen = job.key in runs  # a run two labels share (k=1 is the reference) is counted once
            run = runs[job.key] = Run.open(path)
            if not seen and all(r["run"] != path for r in rows.values()):
                rows.setdefault(LABELS.get(job.label, job.label), {"run": path, **cost_row(run)})
    return rows


def pooled(labs: list[dict[str, dict]]) -> dict[str, dict[str, dict]]:
    """label -> path -> the epoch (weighted by each lab's later epochs), start and evaluation (by its sizes:
    ``eval_s`` maps them to the seconds) over the labs."""
    out: dict[str, dict[str, dict]] = {}
    for rows in labs:
        for label, r in rows.items():
            p = out.setdefault(label, {}).setdefault(r["path"], {"weighted": 0.0, "weight": 0.0, "starts": [], "evals": {}})
            weight = max(1, r["epochs"] - 1) * r["images"] / TRAIN_IMAGES
            p["weighted"] += r["epoch_s"] * weight
            p["weight"] += weight
            p["starts"].append(r["start_s"])
            p["evals"].setdefault(r["eval"], []).append(r["eval_s"])
    return {label: {path: {"epoch_s": p["weighted"] / p["weight"], "start_s": sum(p["starts"]) / len(p["starts"]),
                           "eval_s": {e: sum(s) / len(s) for e, s in p["evals"].items()}} for path, p in paths.items()}
            for label, paths in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labs", type=Path, nargs="+")
    parser.add_argument("--preset", nargs="+", default=["quick"], help="each lab's preset (one for all: the same)")
    parser.add_argument("--wall", type=float, nargs="+", help="each lab's wall time in seconds, for the lab's own work")
    args = parser.parse_args()
    presets = args.preset * len(args.labs) if len(args.preset) == 1 else args.preset
    walls = args.wall or [None] * len(args.labs)
    if len(presets) != len(args.labs) or len(walls) != len(args.labs):
        parser.error("give one --preset (or one for all) and one --wall (or none) for each lab")
    labs, own = [], []
    for out, preset, wall in zip(args.labs, presets, walls):
        rows = lab_costs(out, preset)
        labs.append(rows)
        print(f"{out} (preset {preset})")
        print(f"{'run':28s} {'path':7s} {'epoch_s':>8s} {'start_s':>8s} {'eval_s':>7s} {'train_s':>8s} epochs images")
        for label, r in rows.items():
            print(f"{label:28s} {r['path']:7s} {r['epoch_s']:8.2f} {r['start_s']:8.1f} {r['eval_s']:7.1f} "
                  f"{r['train_s']:8.1f} {r['epochs']:6d} {r['images']:,}")
        runs_s = sum(r["eval_s"] + r["train_s"] for r in rows.values())
        if wall is not None:
            own.append(wall - runs_s)
        print(f"runs: {runs_s:.0f} s of training and evaluation"
              + ("" if wall is None else f"; the lab's own work: {wall - runs_s:.0f} s of {wall:.0f}") + "\n")
    if len(labs) > 1:
        print("pooled (label: path -> epoch_s, start_s, eval_s by the evaluation's sizes)")
        for label, paths in pooled(labs).items():
            shown = "; ".join(f"{path} {p['epoch_s']:.2f}, {p['start_s']:.1f}, "
                              + ", ".join(f"{s:.1f} ({e})" for e, s in p["eval_s"].items()) for path, p in paths.items())
            print(f"  {label!r}: {shown}")
        if own:
            print(f"the lab's own work: {sum(own) / len(own):.0f} s on average")


if __name__ == "__main__":
    main()
