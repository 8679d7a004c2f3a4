"""The two updates of a DCGAN: a discriminator step and a generator step (SPEC task 5).

With l(x) the discriminator's logit, D(x) = sigma(l(x)), and z ~ N(0, I)::

    discriminator step:  minimise  BCE(l(x), 1) + BCE(l(G(z)), 0)
                                 = -log D(x) - log(1 - D(G(z)))
    generator step:      minimise  BCE(l(G(z)), 1) = -log D(G(z))     (the non-saturating loss)

each on one minibatch, with Adam (betas 0.5, 0.999). The cross-entropy is computed
from the logits, which is exact where sigma(l) would round to 0 or 1.

With ``bf16`` the networks run under bfloat16 autocast; parameters and losses stay float32.

Under a launcher (docs/distributed.md) each rank steps on its rows of the global minibatch: the
gradients, and the numbers returned, are averaged over every rank's rows before the update
(:func:`genlab.distributed.mean_gradients_over_ranks`); in one process these change nothing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genlab.distributed import mean_gradients_over_ranks, mean_over_ranks
from genlab.models.dcgan import DCGAN


def bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    """Mean binary cross-entropy of sigma(logits) against a constant label, from the logits."""
    return F.binary_cross_entropy_with_logits(logits.float(), torch.full_like(logits, target, dtype=torch.float32))


def autocast(device: torch.device, bf16: bool) -> torch.autocast:
    """bfloat16 autocast on ``device`` when ``bf16``, else a context that changes nothing."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)


def d_step(gan: DCGAN, real: torch.Tensor, z: torch.Tensor, opt: torch.optim.Optimizer,
           bf16: bool = False) -> dict[str, torch.Tensor]:
    """One discriminator update on a real minibatch and the fakes G(z), one per row of ``z`` (fresh noise,
    as many rows as ``real``); returns its numbers."""
    with torch.no_grad(), autocast(real.device, bf16):
        fake = gan.G(z)
    with autocast(real.device, bf16):
        logit_real, logit_fake = gan.D(real), gan.D(fake)
        loss = bce(logit_real, 1.0) + bce(logit_fake, 0.0)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    mean_gradients_over_ranks(gan.D, real.shape[0])
    opt.step()
    return mean_over_ranks({
        "d_loss": loss.detach(),
        "d_real": torch.sigmoid(logit_real.detach().float()).mean(),
        "d_fake": torch.sigmoid(logit_fake.detach().float()).mean(),
    }, real.shape[0], "averaging the discriminator's numbers over ranks")


def g_step(gan: DCGAN, z: torch.Tensor, opt: torch.optim.Optimizer, bf16: bool = False) -> dict[str, torch.Tensor]:
    """One generator update on the fresh noise vectors ``z`` (D's weights get no gradients)."""
    gan.D.requires_grad_(False)
    try:
        with autocast(gan.device, bf16):
            loss = bce(gan.D(gan.G(z)), 1.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        mean_gradients_over_ranks(gan.G, z.shape[0])
        opt.step()
    finally:
        gan.D.requires_grad_(True)
    return mean_over_ranks({"g_loss": loss.detach()}, z.shape[0], "averaging the generator's loss over ranks")
