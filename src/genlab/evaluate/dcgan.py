"""Evaluating a DCGAN run: its size (the sample-quality metrics are added for every family)."""

from __future__ import annotations

from typing import Any

import torch

from genlab.runs import Run
from genlab.train import dcgan as train_dcgan


def evaluate(run: Run, config, device: torch.device, data_dir=None, progress: bool = True) -> dict[str, Any]:
    """A GAN has no likelihood to report; the numbers that apply are its parameter counts."""
    gan = train_dcgan.load(run, device)
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    return {"n_params": count(gan), "n_params_generator": count(gan.G), "n_params_discriminator": count(gan.D)}
