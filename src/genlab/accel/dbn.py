"""The DBN's fast path on the CPU: its top RBM's greedy epochs in genlab's native CD kernel.

A greedy step (:func:`genlab.algorithms.dbn.greedy_step`) draws v ~ Bernoulli(x) and h1 ~ p(h1 | v)
through the frozen first layer, then makes a CD-k update of the top RBM on h1. Here the first two
draws of every minibatch of an epoch are made as the plain loop makes them (draws 0 and 1 of the
counter stream (key, i)) by the native up pass (:func:`genlab.accel.native.dbn_up`, its products sums
of W1's rows at v's ones as in the CD kernel), and the epoch's h1, in the order the minibatches come,
go to the native CD kernel (:func:`genlab.accel.native.cd_epoch`), which runs the top RBM's CD-k from
draw 1 on: its v0 ~ Bernoulli(h1) is h1 itself (u < 1 and not u < 0 for every draw u), its h_t and v_t+1
are the plain step's draws 2 + 2t and 3 + 2t. So the update is the plain loop's, up to the kernel's
order of summation, and the error is the same sum of (h1 - p(h1 | h_top))^2.
"""

from __future__ import annotations

import torch

from genlab.accel import native
from genlab.accel.rbm import kernels_apply
from genlab.accel.steps import epoch_draws
from genlab.accel.threefry import CounterStream
from genlab.algorithms.cd import CD
from genlab.models.dbn import DBN


def kernel_applies(dbn: DBN, x: torch.Tensor, cd: CD, batch_size: int) -> bool:
    """Whether the native kernel can run these greedy epochs: the RBM's kernel's plain CD-k updates
    (:func:`genlab.accel.rbm.kernels_apply`) on the CPU in float32, in the draws a counter-stream step holds
    (v, h1 and 2k more)."""
    return (kernels_apply(cd, True, batch_size) and 2 * cd.k + 2 <= CounterStream.DRAWS_PER_STEP
            and native.supports(x, dbn.top.W) and native.supports(x, dbn.rbm1.W))


class NativeGreedy:
    """Epochs of the top RBM's greedy training; ``runner(generator)`` -> the epoch's summed squared error of
    the top RBM's reconstruction of h1."""

    path = "kernel"

    def __init__(self, dbn: DBN, x: torch.Tensor, cd: CD, batch_size: int) -> None:
        self.dbn, self.x, self.cd, self.batch_size = dbn, x, cd, batch_size

    def __call__(self, generator: torch.Generator) -> torch.Tensor:
        dbn, x, top = self.dbn, self.x, self.dbn.top
        key, order = epoch_draws(x.shape[0], generator, x.device)
        h1 = native.dbn_up(dbn.rbm1.W.data, dbn.rbm1.h_bias.data, x, order, key, self.batch_size)  # draws 0 and 1
        in_order = torch.arange(x.shape[0])
        error = native.cd_epoch(top.W.data, top.v_bias.data, top.h_bias.data, h1, in_order, key, self.cd.lr,
                                self.batch_size, self.cd.k, first_draw=1)
        return torch.tensor(error)
