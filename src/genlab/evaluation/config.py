"""The options of an evaluation (``genlab eval``): its seed, test images and estimator sizes."""

from __future__ import annotations

from dataclasses import dataclass

from genlab.config import Config, non_negative, option, positive, seed_range


@dataclass
class EvalConfig(Config):
    """Options of ``genlab eval`` (each family uses the ones that apply to it)."""

    seed: int = option(0, "seed of the evaluation's own randomness (AIS chains, samples)", check=seed_range)
    test_limit: int | None = option(None, "evaluate on the first N test images only (quick checks)", check=positive)
    ais_runs: int = option(100, "AIS runs for log Z (RBM, DBN)", check=positive)
    ais_betas: int = option(14500, "AIS intermediate distributions (RBM, DBN)", check=positive)
    raise_betas: int = option(1000, "reverse-annealing (RAISE) distributions for the conservative test log-likelihood "
                              "(RBM; 0 skips it)", check=non_negative)
    raise_runs: int = option(1, "RAISE walks per test image (RBM)", check=positive)
    iwae_k: int = option(5000, "importance samples per test image for the IWAE estimate (VAE)", check=positive)
    samples: int = option(10000, "model samples for the sample-quality metrics (0 skips them)", check=non_negative)
    unfinished: bool = option(False, "evaluate a run whose training has not finished (its last saved epoch); "
                              "eval.json says so")
