"""Evaluating an RBM run: log-likelihood (exact or AIS), reconstruction error, probe accuracy."""

from __future__ import annotations

from typing import Any

import torch

from genlab import data
from genlab.evaluate import loglik
from genlab.evaluate.common import binarized, source_for_run
from genlab.rng import make_generator
from genlab.runs import Run
from genlab.train import rbm as train_rbm


@torch.no_grad()
def evaluate(run: Run, config, device: torch.device, data_dir=None, progress: bool = True) -> dict[str, Any]:
    model = train_rbm.load(run, device)
    source = source_for_run(run, data_dir)
    test = data.load_split(source, "test", device).head(config.test_limit)
    generator = make_generator(config.seed, device)
    results: dict[str, Any] = {
        "recon_error": train_rbm.recon_error(model, data.as_float(test.images), generator),
    }
    if min(model.n_visible, model.n_hidden) <= loglik.MAX_EXACT_UNITS:
        log_z = loglik.log_z_exact(model)
        results.update(
            log_z=log_z,
            test_loglik=loglik.mean_log_prob(model, binarized(test.images), log_z),
            test_loglik_method="exact",
        )
    return results
