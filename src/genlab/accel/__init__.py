"""Every fast path of genlab, behind one door per family.

A fast path runs the update of :mod:`genlab.algorithms` faster and never changes what it
means. What is here:

* :mod:`~genlab.accel.threefry` — Threefry-2x32-20 counter streams: random numbers drawn
  inside compiled kernels, the same bits on every device and every fast path;
* :mod:`~genlab.accel.steps` — any step compiled by ``torch.compile``, drawing from a
  counter stream; :mod:`~genlab.accel.graphs` — CUDA graphs of whole epochs;
* :mod:`~genlab.accel.native` (``cd_epoch.c``) and :mod:`~genlab.accel.cd_cuda` — genlab's
  own CD kernels: CD-k in C for the CPU, CD-1 in Triton for CUDA; :mod:`~genlab.accel.dbn` — a DBN's top
  RBM in the C kernel;
* :mod:`~genlab.accel.vae` — the VAE's gradient and Adam update as one compiled step.

The doors below return a faster runner, or None where the plain loop runs: the run asked for
it, no fast path does these settings, or none can be built here (no compiler, no Triton). Each
runner's ``path`` names it for the run's config.json (:func:`path_of`). The RBM's and the DBN's
paths, plain included, draw from the same counter streams keyed from the run's generator, and
the VAE's fused step takes the plain loop's noise, so every path computes the same numbers up to
floating-point rounding. The DCGAN and up-down fine-tuning have no door: their steps run as they
are. Only :mod:`genlab.training` imports this package (a contract checked in CI), and the evaluation's
random draws (:func:`estimator_draws`), through :mod:`genlab.evaluation.shards` alone.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from genlab.accel import choice, dbn, native, rbm, steps, vae
from genlab.accel.threefry import CounterSequence, CounterStream, new_key
from genlab.algorithms.cd import CD, CDState
from genlab.algorithms.dbn import greedy_step
from genlab.models.dbn import DBN
from genlab.models.rbm import RBM
from genlab.models.vae import VAE

# The most Gibbs steps of a CD-k update (the counter stream's draws per step bound it).
MAX_GIBBS_STEPS = rbm.MAX_GIBBS_STEPS
epoch_draws = steps.epoch_draws
PLAIN = choice.PLAIN


def path_of(runner: object | None) -> str:
    """The name of the path a door's answer takes: ``kernel``, ``steps`` or ``plain`` (no runner)."""
    return PLAIN if runner is None else runner.path  # type: ignore[attr-defined]


def counter_streams(key: torch.Tensor, device: torch.device) -> Callable[[int], CounterStream]:
    """An epoch's counter streams under ``key`` for a plain loop: ``streams(i)`` is minibatch ``i``'s. On the
    CPU, where genlab's native library builds (and ``$GENLAB_FAST_PATH`` does not ask for ``plain`` alone), their
    numbers are computed in C (:class:`~genlab.accel.native.NativeCounterStream`, 3x faster for CD-10 than
    the Threefry rounds as PyTorch operations), else as PyTorch tensor arithmetic; the same numbers either way."""
    if device.type == "cpu" and choice.preferred(["kernel"]) != PLAIN and native.library() is not None:
        return lambda step: native.NativeCounterStream(key, step)
    return lambda step: CounterStream(key, torch.tensor(step, device=device))


def estimator_draws(generator: torch.Generator) -> torch.Generator | CounterSequence:
    """Where an estimator seeded by ``generator`` (AIS, RAISE, Gibbs chains drawing samples) takes its uniform
    draws: on the CPU, a :class:`~genlab.accel.threefry.CounterSequence` under a key drawn from ``generator``,
    computed in C where the native library builds (about 8x faster per number than ``torch.rand``'s Mersenne
    Twister, which takes most of a Gibbs chain's time) and as PyTorch operations elsewhere, the same numbers;
    on a GPU the generator itself (its Philox draws cost little there)."""
    if generator.device.type != "cpu":
        return generator
    return CounterSequence(counter_streams(new_key(generator), generator.device))


def steps_wanted(device: torch.device, enabled: bool) -> bool:
    """Whether compiled steps run here: the run asked for fast paths, ``torch.compile`` works on ``device``
    and ``$GENLAB_FAST_PATH`` does not prefer the plain loop."""
    return enabled and steps.available(device) and choice.preferred(["steps"]) != PLAIN


def rbm_epochs(model: RBM, x: torch.Tensor, cd: CD, binarize: bool, batch_size: int, state: CDState,
               enabled: bool) -> rbm.Runner | None:
    """RBM: ``runner(generator)`` trains ``model`` for one epoch of CD on the rows of ``x`` and returns
    the summed squared reconstruction error (:func:`genlab.accel.rbm.cd_epochs`); None for the plain loop,
    which alone does centring and tempering."""
    if not enabled or cd.centering or cd.temperatures > 1:
        return None
    return rbm.cd_epochs(model, x, cd, binarize, batch_size, state)


def dbn_top_epochs(model: DBN, x: torch.Tensor, cd: CD, batch_size: int,
                   enabled: bool) -> dbn.NativeGreedy | steps.CompiledSteps | None:
    """A DBN's top RBM: ``runner(generator)`` runs one epoch of greedy steps
    (:func:`genlab.algorithms.dbn.greedy_step`) and returns their summed squared error: in genlab's native
    kernel where it applies (:mod:`genlab.accel.dbn`: nothing to compile, and on a 2-core AVX2 CPU an epoch
    1.7-1.9x shorter than the plain loop's and the compiled steps'), else as compiled steps; None for the
    plain loop (which alone does centring)."""
    if not enabled or cd.centering:
        return None
    candidates = [name for name, here in (("kernel", dbn.kernel_applies(model, x, cd, batch_size)),
                                          ("steps", steps.available(x.device))) if here]
    wanted = choice.preferred(candidates)
    name = wanted if wanted is not None else next(iter(candidates), PLAIN)
    if name == "kernel":
        return dbn.NativeGreedy(model, x, cd, batch_size)
    return steps.CompiledSteps(greedy_step, model, x, batch_size, cd) if name == "steps" else None


def vae_step(model: VAE, loss: vae.Loss, lr: float, enabled: bool) -> vae.FusedAdamStep | None:
    """VAE: ``step(target, eps)`` updates ``model`` by Adam on ``loss(model, target, eps)`` and returns the
    loss; None for the plain loop."""
    device = next(model.parameters()).device
    if not steps_wanted(device, enabled):
        return None
    return vae.adam_step(model, loss, lr)
