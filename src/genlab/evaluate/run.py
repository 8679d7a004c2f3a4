"""``genlab eval RUN``: every number a run's family supports, written to ``RUN/eval.json``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genlab.config import Config, non_negative, option, positive
from genlab.devices import resolve_device
from genlab.runs import Run


@dataclass
class EvalConfig(Config):
    """Options of ``genlab eval`` (each family uses the ones that apply to it)."""

    seed: int = option(0, "seed of the evaluation's own randomness (AIS chains, samples)")
    test_limit: int | None = option(None, "evaluate on the first N test images only (quick checks)", check=positive)
    ais_runs: int = option(100, "AIS runs for log Z (RBM, DBN)", check=positive)
    ais_betas: int = option(14500, "AIS intermediate distributions (RBM, DBN)", check=positive)
    iwae_k: int = option(5000, "importance samples per test image for the IWAE estimate (VAE)", check=positive)
    samples: int = option(10000, "model samples for the sample-quality metrics (0 skips them)", check=non_negative)


def evaluate(
    run: Run | str | Path,
    config: EvalConfig | None = None,
    device: str | torch.device = "auto",
    data_dir: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate a run directory and write ``eval.json``; returns the results."""
    from genlab.families import family_of

    run = run if isinstance(run, Run) else Run.open(run)
    config = config or EvalConfig()
    dev = resolve_device(device)
    family = family_of(run)
    started = time.perf_counter()
    results: dict[str, Any] = {"family": run.family}
    results.update(family.evaluate(run, config, dev, data_dir, progress))
    if config.samples > 0:
        from genlab.metrics.quality import evaluate_samples

        results.update(evaluate_samples(run, family, config, dev, data_dir, progress))
    results["eval_config"] = config.to_dict()
    results["eval_time_s"] = round(time.perf_counter() - started, 2)
    results["device"] = str(dev)
    run.write_eval(results)
    return results
