"""The options of an evaluation (``genlab eval``): its seed, test images and estimator sizes, and the
smaller sizes of ``--quick``."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from genlab import data
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
    probe_images: int | None = option(None, "fit the linear probe on the first N training images only (--quick: 10,000)",
                                      check=positive)
    unfinished: bool = option(False, "evaluate a run whose training has not finished (its last saved epoch); "
                              "eval.json says so")
    quick: bool = option(False, "a quicker, less precise evaluation: AIS of 100 x 4,000, RAISE of 300, IWAE k = 500, "
                         "1,000 samples, the probe fitted on 10,000 training images and every 5th test image, for the "
                         "sizes left at their defaults; eval.json says so")


# What --quick changes, for the options left at their defaults. AIS of 100 runs x 4,000 distributions is the
# lab's quick preset (docs/rbm.md), as are RAISE's 300 distributions; 1,000 samples is the lab's quick sample count, so that the FCD compares with
# its tables; the probe's logistic regression on 10,000 training images instead of 60,000 costs a sixth (docs/lab.md
# gives what it changes); every QUICK_TEST_STRIDE-th test image keeps both halves of the MNIST test set, which differ in
# difficulty (the first half is the cleaner one).
QUICK = {"ais_runs": 100, "ais_betas": 4_000, "raise_betas": 300, "iwae_k": 500, "samples": 1_000, "probe_images": 10_000}
QUICK_TEST_STRIDE = 5


def quick_sizes(config: EvalConfig) -> EvalConfig:
    """``config`` with the sizes of :data:`QUICK` for the options still at their defaults (unchanged unless
    ``config.quick``)."""
    if not config.quick:
        return config
    defaults: dict[str, Any] = {f.name: f.default for f in fields(EvalConfig)}
    return config.replace(**{name: value for name, value in QUICK.items() if getattr(config, name) == defaults[name]})



def measured_with(results: dict[str, Any] | None, config: EvalConfig) -> bool:
    """Whether an ``eval.json``'s ``results`` were measured with ``config`` (which records its sizes as measured:
    ``--quick``'s resolved by :func:`quick_sizes`), so that a lab re-uses them."""
    return results is not None and results.get("eval_config") == quick_sizes(config).to_dict()


def measured_images(test: data.ImageSet, config: EvalConfig) -> data.ImageSet:
    """The test images an evaluation measures: the first ``test_limit``, all of them, or with ``quick`` (and no
    ``test_limit``) every :data:`QUICK_TEST_STRIDE`-th."""
    if config.test_limit is not None or not config.quick:
        return test.head(config.test_limit)
    return data.ImageSet(test.images[::QUICK_TEST_STRIDE], test.labels[::QUICK_TEST_STRIDE], test.name)
