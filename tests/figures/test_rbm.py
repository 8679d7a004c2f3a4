"""genlab.figures.rbm: the figure computations against their definitions."""

from __future__ import annotations

import pytest
import torch

from genlab.figures.plots import hidden_grid_shape
from genlab.figures.rbm import Chains, Generation, buildup
from genlab.models.rbm import RBM


def test_buildup_starts_at_the_visible_bias_and_ends_at_the_reconstruction():
    rbm = RBM(12, 6, init_std=1.0, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    rbm.v_bias.data.normal_(0, 1, generator=torch.Generator().manual_seed(1))
    h = torch.tensor([1.0, 0, 1, 1, 0, 0], dtype=torch.float64)
    units, images = buildup(rbm, h)
    assert units == [0, 2, 3] and images.shape == (4, 12)
    assert torch.allclose(images[0], torch.sigmoid(rbm.v_bias))
    assert torch.allclose(images[2], torch.sigmoid(rbm.v_bias + rbm.W[:, 0] + rbm.W[:, 2]))
    assert torch.allclose(images[-1], rbm.p_v(h[None])[0])


def test_generation_set_states_follow_the_spec():
    spec = Generation(n=200, fraction=0.1, gain=20.0, strength=10.0)
    random, single, units = spec.set_states(100, torch.Generator().manual_seed(0))
    assert set(random.unique().tolist()) == {0.0, 20.0} and abs((random > 0).float().mean().item() - 0.1) < 0.01
    assert len(units) == 100 and torch.equal(single.sum(1), torch.full((100,), 10.0))
    assert torch.equal(single.argmax(1), torch.tensor(units))


def test_hidden_grid_is_as_square_as_possible():
    assert [hidden_grid_shape(n) for n in (100, 25, 50, 250, 500, 7)] == [(10, 10), (5, 5), (5, 10), (10, 25), (20, 25), (1, 7)]


def test_chains_report_the_share_of_units_on_and_how_far_their_images_differ():
    h = torch.tensor([[1.0, 0, 0, 0], [1, 1, 0, 0]])
    same = torch.full((2, 5), 0.3)
    assert Chains.of(h, same) == Chains(on=0.375, spread=0.0)
    apart = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    assert Chains.of(h[:, :2], apart).spread == pytest.approx(2**-0.5)  # the standard deviation of {0, 1}
    assert Chains.of(h[:1], apart[:1]).spread == 0.0  # one chain: nothing to differ from
