"""Every fast path of genlab, behind one door per family.

A fast path runs the update of :mod:`genlab.algorithms` faster and never changes what it
means. What is here:

* :mod:`~genlab.accel.threefry` — Threefry-2x32-20 counter streams: random numbers drawn
  inside compiled kernels, the same bits on every device and every fast path;
* :mod:`~genlab.accel.steps` — any step compiled by ``torch.compile``, drawing from a
  counter stream; :mod:`~genlab.accel.graphs` — CUDA graphs of whole epochs;
* :mod:`~genlab.accel.native` (``cd_epoch.c``) and :mod:`~genlab.accel.cd_cuda` — genlab's
  own CD-1 kernels, in C for the CPU and in Triton for CUDA;
* :mod:`~genlab.accel.vae` — the VAE's gradient and Adam update as one compiled step.

The doors below return a faster runner, or None when the run asks for the plain path. The
fast paths draw from counter streams keyed from the run's generator: a different random
stream from the plain path's, the same on every fast path and device. The DCGAN and up-down
fine-tuning have no door: their steps run as they are. Only :mod:`genlab.training` imports
this package (a contract checked in CI).
"""

from __future__ import annotations

import torch

from genlab.accel import rbm, steps, vae
from genlab.algorithms.cd import CD, CDState
from genlab.algorithms.dbn import greedy_step
from genlab.models.dbn import DBN
from genlab.models.rbm import RBM
from genlab.models.vae import VAE

# The most Gibbs steps of a compiled CD-k update (the counter stream's draws per step bound it).
MAX_GIBBS_STEPS = rbm.MAX_GIBBS_STEPS
check_compile = steps.check_compile


def rbm_epochs(model: RBM, x: torch.Tensor, cd: CD, binarize: bool, batch_size: int, state: CDState,
               enabled: bool) -> rbm.NativeCD1 | rbm.TritonCD1 | steps.CompiledSteps | None:
    """RBM: ``runner(generator)`` trains ``model`` for one epoch of CD on the rows of ``x`` and returns
    the summed squared reconstruction error (:func:`genlab.accel.rbm.cd_epochs`)."""
    return rbm.cd_epochs(model, x, cd, binarize, batch_size, state) if enabled else None


def dbn_top_epochs(model: DBN, x: torch.Tensor, cd: CD, batch_size: int, enabled: bool) -> steps.CompiledSteps | None:
    """A DBN's top RBM: ``runner(generator)`` runs one epoch of compiled greedy steps
    (:func:`genlab.algorithms.dbn.greedy_step`) and returns their summed squared error."""
    return steps.CompiledSteps(greedy_step, model, x, batch_size, cd) if enabled else None


def vae_step(model: VAE, loss: vae.Loss, lr: float, enabled: bool) -> vae.FusedAdamStep | None:
    """VAE: ``step(target, eps)`` updates ``model`` by Adam on ``loss(model, target, eps)`` and returns the loss."""
    return vae.adam_step(model, loss, lr) if enabled else None
