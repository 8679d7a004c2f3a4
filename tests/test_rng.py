"""genlab.rng: seeded generators and Bernoulli samples from any source of uniform draws."""

from __future__ import annotations

import torch

from genlab.rng import UniformStream, bernoulli, make_generator


def test_bernoulli_from_a_generator_has_mean_p_and_repeats_for_a_seed():
    p = torch.linspace(0, 1, 11).repeat(20_000, 1)
    sample = bernoulli(p, make_generator(3))
    assert sample.dtype == p.dtype and set(sample.unique().tolist()) <= {0.0, 1.0}
    assert torch.allclose(sample.mean(0), p[0], atol=0.015)
    assert sample[:, 0].sum() == 0 and sample[:, -1].all()
    assert torch.equal(sample, bernoulli(p, make_generator(3)))
    assert not torch.equal(sample, bernoulli(p, make_generator(4)))


def test_bernoulli_takes_any_source_of_uniform_draws():
    class Halves:
        def uniform(self, shape):
            return torch.full(shape, 0.5)

    assert isinstance(Halves(), UniformStream)
    p = torch.tensor([0.2, 0.5, 0.8])
    assert bernoulli(p, Halves()).tolist() == [0.0, 0.0, 1.0]  # u < p with u = 0.5
