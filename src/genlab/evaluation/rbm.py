"""Measuring an RBM: log-likelihood (exact, or the checked AIS estimate of
:func:`genlab.evaluation.ais.log_partition`, with RAISE's conservative estimate beside it),
reconstruction error, probe accuracy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from genlab import data
from genlab.data import binarized
from genlab.evaluation import loglik
from genlab.evaluation.ais import base_rate_bias, log_partition
from genlab.evaluation.config import EvalConfig
from genlab.evaluation.probe import linear_probe
from genlab.evaluation.reverse_ais import raise_log_prob
from genlab.evaluation.shards import split_rows
from genlab.models.rbm import RBM

TRAIN_LOGLIK_IMAGES = 10_000  # training images for train_loglik (the overfitting gap)

# The cheap AIS of ``genlab train rbm --eval-every N``: 100 runs over 2,000 distributions,
# about 1/7 of the full ``genlab eval`` (100 x 14,500). On the reference run (100 hidden
# units, 100 epochs) it estimated log Z 2.0 nats low on average (5 seeds, spread 0.4),
# so its log-likelihoods read about 2 nats high; see docs/rbm.md.
TRAINING_AIS_RUNS = 100
TRAINING_AIS_BETAS = 2000


@dataclass
class LoglikData:
    """What log-likelihoods are measured on: the test set binarised once with the fixed
    seed, as many training images binarised the same way, and the training images'
    pixel probabilities (for the base-rate models of AIS)."""

    test_v: torch.Tensor
    train_v: torch.Tensor
    train_x: torch.Tensor

    @classmethod
    def of(cls, train: data.ImageSet, test: data.ImageSet) -> LoglikData:
        return cls(binarized(test.images), binarized(train.images[:TRAIN_LOGLIK_IMAGES]), data.as_float(train.images))


def logliks(model: RBM, d: LoglikData, partition: dict[str, Any]) -> dict[str, Any]:
    """Mean log p(v) of the test and training images given log Z and its interval.

    log p = -F - log Z, so the upper end of log Z gives the lower end of the log-likelihood;
    ``test_loglik_high`` is None when AIS's lower bound on log Z is undefined (mean - 3 se <= 0),
    ``test_loglik_low`` when its upper bound is (the certain floor lies above the AIS interval).
    """
    low_z, high_z = partition["log_z_low"], partition["log_z_high"]
    return {
        "test_loglik": loglik.mean_log_prob(model, d.test_v, partition["log_z"]),
        "test_loglik_low": None if high_z is None else loglik.mean_log_prob(model, d.test_v, high_z),
        "test_loglik_high": None if low_z is None else loglik.mean_log_prob(model, d.test_v, low_z),
        "train_loglik": loglik.mean_log_prob(model, d.train_v, partition["log_z"]),
    }


@torch.no_grad()
def training_loglik(model: RBM, d: LoglikData, generator: torch.Generator) -> dict[str, Any]:
    """The log-likelihoods logged during training: exact log Z, or the cheap AIS."""
    partition = log_partition(model, d.train_x, TRAINING_AIS_RUNS, TRAINING_AIS_BETAS, generator)
    return {**partition, **logliks(model, d, partition)}


@torch.no_grad()
def conservative_loglik(model: RBM, d: LoglikData, partition: dict[str, Any], config: EvalConfig,
                        generator: torch.Generator, progress: bool = False) -> dict[str, Any]:
    """The test log-likelihood from below, beside AIS's from above: RAISE
    (:func:`~genlab.evaluation.reverse_ais.raise_log_prob`) on the same test images, annealing from
    the base-rate model of the training pixels; the exact value when log Z is exact."""
    if partition["test_loglik_method"] == "exact":
        return {"test_loglik_conservative": loglik.mean_log_prob(model, d.test_v, partition["log_z"]),
                "conservative_method": "exact"}
    if config.raise_betas == 0:
        return {}
    log_p = raise_log_prob(model, d.test_v, base_rate_bias(d.train_x), config.raise_betas, config.raise_runs,
                           generator, progress)
    return {"test_loglik_conservative": log_p.mean().item(), "conservative_method": "raise",
            "raise_betas": config.raise_betas, "raise_runs": config.raise_runs}


@torch.no_grad()
def recon_error(rbm: RBM, x: torch.Tensor, generator: torch.Generator | None = None, chunk: int = 10_000) -> float:
    """Mean squared error per pixel between x and p(v = 1 | h), h ~ p(h | x)."""
    total = 0.0
    for v in data.chunks(x, chunk):
        _, p = rbm.reconstruct(v, generator)
        total += (v - p).square().sum().item()
    return total / x.numel()


@torch.no_grad()
def measure(model: RBM, train: data.ImageSet, test: data.ImageSet, config: EvalConfig, generator: torch.Generator,
            progress: bool = False) -> dict[str, Any]:
    """Every number of an RBM's eval.json, measured on the splits ``train`` and ``test``."""
    test_x = data.as_float(test.images)

    d = LoglikData.of(train, test)
    results = log_partition(model, d.train_x, config.ais_runs, config.ais_betas, generator, progress,
                            config.floor_steps)
    results.update(logliks(model, d, results))
    results.update(conservative_loglik(model, d, results, config, generator, progress))
    results["recon_error"] = recon_error(model, test_x, generator)
    results.update(linear_probe(lambda x: split_rows(model.p_h, x), train, test, config.probe_images, progress))
    results["n_params"] = sum(t.numel() for t in model.tensors().values())
    return results
