"""Measuring a DCGAN: its size (a GAN has no likelihood; the sample-quality metrics apply to every family)."""

from __future__ import annotations

from typing import Any

import torch

from genlab import data
from genlab.evaluation.config import EvalConfig
from genlab.models.dcgan import DCGAN


def measure(gan: DCGAN, train: data.ImageSet, test: data.ImageSet, config: EvalConfig, generator: torch.Generator,
            progress: bool = False) -> dict[str, Any]:
    """The parameter counts of both networks (the splits and the generator are not needed)."""
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    return {"n_params": count(gan), "n_params_generator": count(gan.G), "n_params_discriminator": count(gan.D)}
