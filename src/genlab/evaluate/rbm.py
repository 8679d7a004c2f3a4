"""Evaluating an RBM run: log-likelihood (exact or AIS), reconstruction error, probe accuracy."""

from __future__ import annotations

from typing import Any

import torch

from genlab import data
from genlab.evaluate import loglik
from genlab.evaluate.ais import ais_log_z, base_rate_bias
from genlab.evaluate.common import binarized, source_for_run
from genlab.evaluate.probe import probe_accuracy
from genlab.models.rbm import RBM
from genlab.rng import make_generator
from genlab.runs import Run
from genlab.train import rbm as train_rbm

TRAIN_LOGLIK_IMAGES = 10_000  # training images for train_loglik (the overfitting gap)


def log_partition(
    model: RBM, train_x: torch.Tensor, runs: int, betas: int, generator: torch.Generator, progress: bool = False
) -> dict[str, Any]:
    """log Z exactly when the smaller layer has at most 20 units, else by AIS from a base-rate model."""
    if min(model.n_visible, model.n_hidden) <= loglik.MAX_EXACT_UNITS:
        log_z = loglik.log_z_exact(model)
        return {"log_z": log_z, "log_z_low": log_z, "log_z_high": log_z, "test_loglik_method": "exact"}
    result = ais_log_z(model, base_rate_bias(train_x), runs, betas, generator, progress)
    return {
        "log_z": result.log_z,
        "log_z_low": result.log_z_low,
        "log_z_high": result.log_z_high,
        "test_loglik_method": "ais",
        "ais_runs": result.runs,
        "ais_betas": result.betas,
    }


@torch.no_grad()
def evaluate(run: Run, config, device: torch.device, data_dir=None, progress: bool = True) -> dict[str, Any]:
    model = train_rbm.load(run, device)
    source = source_for_run(run, data_dir)
    train = data.load_split(source, "train", device, limit=run.config.get("limit"))
    test = data.load_split(source, "test", device).head(config.test_limit)
    generator = make_generator(config.seed, device)
    train_x, test_x = data.as_float(train.images), data.as_float(test.images)

    results = log_partition(model, train_x, config.ais_runs, config.ais_betas, generator, progress)
    log_z = results["log_z"]
    test_v = binarized(test.images)
    train_v = binarized(train.images[:TRAIN_LOGLIK_IMAGES])
    results["test_loglik"] = loglik.mean_log_prob(model, test_v, log_z)
    results["train_loglik"] = loglik.mean_log_prob(model, train_v, log_z)
    if results["log_z_low"] is not None:  # log p = -F - log Z: a high log Z gives a low log p
        results["test_loglik_low"] = loglik.mean_log_prob(model, test_v, results["log_z_high"])
        results["test_loglik_high"] = loglik.mean_log_prob(model, test_v, results["log_z_low"])
    results["recon_error"] = train_rbm.recon_error(model, test_x, generator)
    results["probe_accuracy"] = probe_accuracy(model.p_h(train_x), train.labels, model.p_h(test_x), test.labels)
    results["n_params"] = sum(t.numel() for t in model.tensors().values())
    return results
