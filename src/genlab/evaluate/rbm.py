"""Evaluating an RBM run: log-likelihood (exact, or the checked AIS estimate of
:func:`genlab.evaluate.ais.log_partition`), reconstruction error, probe accuracy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from genlab import data
from genlab.evaluate import loglik
from genlab.evaluate.ais import log_partition
from genlab.evaluate.common import binarized, source_for_run
from genlab.evaluate.probe import probe_accuracy
from genlab.models.rbm import RBM
from genlab.rng import make_generator
from genlab.runs import Run
from genlab.train import rbm as train_rbm

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
def evaluate(run: Run, config, device: torch.device, data_dir=None, progress: bool = True) -> dict[str, Any]:
    model = train_rbm.load(run, device)
    source = source_for_run(run, data_dir)
    train = data.load_split(source, "train", device, limit=run.config.get("limit"))
    test = data.load_split(source, "test", device).head(config.test_limit)
    generator = make_generator(config.seed, device)
    train_x, test_x = data.as_float(train.images), data.as_float(test.images)

    d = LoglikData.of(train, test)
    results = log_partition(model, d.train_x, config.ais_runs, config.ais_betas, generator, progress)
    results.update(logliks(model, d, results))
    results["recon_error"] = train_rbm.recon_error(model, test_x, generator)
    results["probe_accuracy"] = probe_accuracy(model.p_h(train_x), train.labels, model.p_h(test_x), test.labels)
    results["n_params"] = sum(t.numel() for t in model.tensors().values())
    return results
