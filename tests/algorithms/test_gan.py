"""genlab.algorithms.gan: the cross-entropy from logits, and the two updates of the game."""

from __future__ import annotations

import math

import pytest
import torch

from genlab.algorithms.gan import bce, d_step, g_step
from genlab.models.dcgan import DCGAN


def test_bce_from_logits_is_exact_where_the_sigmoid_saturates():
    # log(1 + e^-l) for l = 200 is about 1e-87, not log(1 - 1) = -inf; and the naive form gives inf at l = -200
    assert bce(torch.tensor([200.0]), 1.0).item() == pytest.approx(0.0, abs=1e-30)
    assert bce(torch.tensor([-200.0]), 1.0).item() == pytest.approx(200.0)
    assert bce(torch.tensor([0.0]), 0.0).item() == pytest.approx(math.log(2))


def test_a_discriminator_step_changes_d_only_and_a_generator_step_g_only():
    gan = DCGAN(latent=8, generator=torch.Generator().manual_seed(0))
    opt_d = torch.optim.Adam(gan.D.parameters(), lr=1e-3)
    opt_g = torch.optim.Adam(gan.G.parameters(), lr=1e-3)
    real = torch.rand(4, 1, 64, 64, generator=torch.Generator().manual_seed(1)) * 2 - 1

    def snapshot():
        return {k: t.clone() for k, t in gan.state_dict().items() if "running" not in k and "num_batches" not in k}

    before = snapshot()
    numbers = d_step(gan, real, gan.noise(4, torch.Generator().manual_seed(2)), opt_d)
    after = snapshot()
    assert all(torch.equal(after[k], before[k]) for k in after if k.startswith("G."))
    assert any(not torch.equal(after[k], before[k]) for k in after if k.startswith("D."))
    assert 0 < numbers["d_real"].item() < 1 and 0 < numbers["d_fake"].item() < 1 and numbers["d_loss"].item() > 0
    numbers = g_step(gan, gan.noise(4, torch.Generator().manual_seed(3)), opt_g)
    final = snapshot()
    assert all(torch.equal(final[k], after[k]) for k in final if k.startswith("D."))
    assert any(not torch.equal(final[k], after[k]) for k in final if k.startswith("G."))
    assert all(p.requires_grad for p in gan.D.parameters())  # D is trainable again after the generator's step
    assert numbers["g_loss"].item() > 0
