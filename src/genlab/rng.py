"""Seeds, generators and Bernoulli sampling.

All randomness in genlab flows through an explicit ``torch.Generator`` so that a
run is reproducible from its seed alone (bit-identical on the CPU).
"""

from __future__ import annotations

import torch


def make_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A generator on ``device`` seeded with ``seed``."""
    generator = torch.Generator(device=torch.device(device))
    generator.manual_seed(int(seed))
    return generator


def bernoulli(p: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A sample of independent Bernoulli(p) variables as 0./1. floats.

    Comparing uniform draws with the probabilities is the same distribution as
    ``torch.bernoulli`` and several times faster on the CPU (see
    ``benchmarks/``): P(u < p) = p for u ~ U[0, 1).
    """
    u = torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype)
    return u.lt_(p)
