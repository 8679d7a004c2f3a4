"""The options of an evaluation (``genlab eval``): its seed, test images and estimator sizes, and the
smaller sizes of ``--quick``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from genlab import data
from genlab.config import Check, Config, non_negative, option, positive, seed_range


# The estimators' sizes of an evaluation, and of ``--quick``. AIS of 100 runs x 4,000 distributions is the lab's
# quick preset (docs/rbm.md), as are RAISE's 300 distributions and the log Z floor's 300 Gibbs steps (1,000 steps
# raised the floor of a 100-epoch RBM by 4.6 nats; docs/rbm.md); 1,000 samples is the lab's quick sample count, so
# that the FCD compares with its tables; the probe's logistic regression on 10,000 training images instead of 60,000
# costs a sixth (docs/lab.md gives what it changes); every QUICK_TEST_STRIDE-th test image keeps both halves of the
# MNIST test set, which differ in difficulty (the first half is the cleaner one).
SIZES = {"ais_runs": 100, "ais_betas": 14_500, "floor_steps": 1000, "raise_betas": 1000, "iwae_k": 5000,
         "samples": 10_000, "probe_images": None}
QUICK = {"ais_runs": 100, "ais_betas": 4_000, "floor_steps": 300, "raise_betas": 300, "iwae_k": 500, "samples": 1_000,
         "probe_images": 10_000}
QUICK_TEST_STRIDE = 5


def size(name: str, help: str, check: Check) -> Any:
    """An estimator's size: left out (None), the evaluation's default, :data:`SIZES`, or with ``quick``
    :data:`QUICK` (resolved on construction); a value given is kept, whatever ``quick`` says."""
    full, quick = ("all" if SIZES[name] is None else f"{SIZES[name]}"), f"{QUICK[name]}"
    return option(None, help, check=check, shown=f"{full}; --quick: {quick}")


@dataclass
class EvalConfig(Config):
    """Options of ``genlab eval`` (each family uses the ones that apply to it). The estimators' sizes left
    out take the evaluation's defaults, or with ``quick`` the quick ones; every size is set once constructed."""

    seed: int = option(0, "seed of the evaluation's own randomness (AIS chains, samples)", check=seed_range)
    test_limit: int | None = option(None, "evaluate on the first N test images only (quick checks)", check=positive)
    ais_runs: int | None = size("ais_runs", "AIS runs for log Z (RBM, DBN)", positive)
    ais_betas: int | None = size("ais_betas", "AIS intermediate distributions (RBM, DBN)", positive)
    floor_steps: int | None = size("floor_steps", "Gibbs steps of the 1,000 chains whose distinct states give a "
                                   "certain lower bound on log Z (RBM, DBN)", positive)
    raise_betas: int | None = size("raise_betas", "reverse-annealing (RAISE) distributions for the conservative test "
                                   "log-likelihood (RBM; 0 skips it)", non_negative)
    raise_runs: int = option(1, "RAISE walks per test image (RBM)", check=positive)
    iwae_k: int | None = size("iwae_k", "importance samples per test image for the IWAE estimate (VAE)", positive)
    samples: int | None = size("samples", "model samples for the sample-quality metrics (0 skips them)", non_negative)
    probe_images: int | None = size("probe_images", "fit the linear probe on the first N training images only",
                                    positive)
    unfinished: bool = option(False, "evaluate a run whose training has not finished (its last saved epoch); "
                              "eval.json says so")
    quick: bool = option(False, "a quicker, less precise evaluation: AIS of 100 x 4,000, a log Z floor of 300 Gibbs "
                         "steps, RAISE of 300, IWAE k = 500, 1,000 samples, the probe fitted on 10,000 training images "
                         "and every 5th test image, for the sizes not given; eval.json says so")

    def __post_init__(self) -> None:
        for name, value in (QUICK if self.quick else SIZES).items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        super().__post_init__()

    def replace(self, **changes: Any) -> EvalConfig:
        """This config with ``changes``; turning ``quick`` on or off also changes the sizes that were the other
        mode's defaults (``--set eval.quick=true`` on a preset measuring with genlab eval's sizes)."""
        if changes.get("quick", self.quick) != self.quick:
            before = QUICK if self.quick else SIZES
            changes = {**{name: None for name, value in before.items() if getattr(self, name) == value}, **changes}
        return super().replace(**changes)


def measured_with(results: dict[str, Any] | None, config: EvalConfig) -> bool:
    """Whether an ``eval.json``'s ``results`` were measured with ``config`` (which records its sizes as measured:
    ``--quick``'s among them), so that a lab re-uses them."""
    return results is not None and results.get("eval_config") == config.to_dict()


def measured_images(test: data.ImageSet, config: EvalConfig) -> data.ImageSet:
    """The test images an evaluation measures: the first ``test_limit``, all of them, or with ``quick`` (and no
    ``test_limit``) every :data:`QUICK_TEST_STRIDE`-th."""
    if config.test_limit is not None or not config.quick:
        return test.head(config.test_limit)
    return data.ImageSet(test.images[::QUICK_TEST_STRIDE], test.labels[::QUICK_TEST_STRIDE], test.name)
