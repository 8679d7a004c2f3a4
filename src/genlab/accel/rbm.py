"""The RBM's fast paths: CD epochs in genlab's own kernels, or as compiled steps.

CD-k with binarised data and plain updates (the reference run, a DBN's first layer, the
CD-k runs of the lab) can run whole epochs in genlab's own kernels: on the CPU the native C
kernel (:mod:`genlab.accel.native`, any k) where this machine can build it, on CUDA the
Triton kernels (:mod:`genlab.accel.cd_cuda`, CD-1), replayed as one CUDA graph an epoch from
the second on. Everything else runs :func:`genlab.algorithms.cd.rbm_step` as compiled steps
(:class:`genlab.accel.steps.CompiledSteps`); where both can, the faster on this machine runs,
measured once at CD-1 (:mod:`genlab.accel.choice`). All of them draw the counter stream's key and
the minibatch order from the run's generator the same way, and the same random bits.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Callable

import torch

from genlab.accel import cd_cuda, choice, native
from genlab.accel.graphs import GraphReplay
from genlab.accel.steps import CompiledSteps, epoch_draws
from genlab.accel.steps import available as steps_available
from genlab.accel.threefry import CounterStream
from genlab.algorithms.cd import CD, CDState, rbm_step
from genlab.models.rbm import RBM

# A compiled CD-k step draws 2k + 2 times from one step of the counter stream.
MAX_GIBBS_STEPS = CounterStream.DRAWS_PER_STEP // 2 - 1


def kernels_apply(cd: CD, binarize: bool, batch_size: int) -> bool:
    """Whether genlab's own kernels do this update: CD-k with binarised data and plain updates (no
    persistence, momentum, weight decay or centring), minibatches of at most ``native.MAX_INDEX`` images
    (the Triton kernels: CD-1 only)."""
    return (binarize and not cd.persistent and not cd.momentum and not cd.weight_decay and not cd.centering
            and cd.temperatures == 1 and batch_size <= native.MAX_INDEX)


class NativeCD:
    """Epochs of CD-k in the native C kernel; ``runner(generator)`` -> the epoch's summed squared error."""

    path = "kernel"

    def __init__(self, rbm: RBM, x: torch.Tensor, lr: float, batch_size: int, k: int = 1) -> None:
        self.rbm, self.x, self.lr, self.batch_size, self.k = rbm, x, lr, batch_size, k

    def __call__(self, generator: torch.Generator) -> torch.Tensor:
        rbm, x = self.rbm, self.x
        key, order = epoch_draws(x.shape[0], generator, x.device)
        error = native.cd_epoch(rbm.W.data, rbm.v_bias.data, rbm.h_bias.data, x, order, key, self.lr, self.batch_size,
                                self.k)
        return torch.tensor(error)


class TritonCD1:
    """Epochs of CD-1 in the Triton kernels, replayed as a CUDA graph from the second epoch on."""

    path = "kernel"

    def __init__(self, rbm: RBM, x: torch.Tensor, lr: float, batch_size: int) -> None:
        self.rbm, self.x, self.lr, self.batch_size = rbm, x, lr, batch_size
        self.graph = GraphReplay(self.epoch)

    def __call__(self, generator: torch.Generator) -> torch.Tensor:
        key, order = epoch_draws(self.x.shape[0], generator, self.x.device)
        return self.graph((self.rbm, self.x), key, order)

    def epoch(self, inputs: tuple[RBM, torch.Tensor], key: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
        rbm, x = inputs
        return cd_cuda.cd1_epoch(rbm.W.data, rbm.v_bias.data, rbm.h_bias.data, x, order, key, self.lr, self.batch_size)


Runner = NativeCD | TritonCD1 | CompiledSteps
MakeRunner = Callable[[RBM, torch.Tensor, CDState], Runner]


def cd_epochs(rbm: RBM, x: torch.Tensor, cd: CD, binarize: bool, batch_size: int, state: CDState) -> Runner | None:
    """The fastest runner of CD epochs for these settings: ``runner(generator)`` trains ``rbm`` for one
    epoch on the rows of ``x`` (pixel probabilities) and returns the summed squared reconstruction error;
    None when no fast path can be built here (no compiler) or ``$GENLAB_FAST_PATH`` prefers the plain loop.

    Where genlab's own kernel does the update (:func:`kernels_apply`), it and the compiled steps are
    timed on this machine the first time (:func:`genlab.accel.choice.fastest`, at CD-1 and the size of that
    first model) and the faster runs."""
    paths = runners(cd, binarize, batch_size, x, rbm)
    if not paths or choice.preferred(paths) == choice.PLAIN:
        return None
    # which path wins is the machine's (its vector units, its compiler), not the model's: timed at CD-1 at the
    # first size this machine trains, it holds for the others, which then start at once (a trial compiles the
    # steps for a size: 30 to 50 s on a 2-core CPU at CD-1, minutes at CD-25)
    task = f"rbm CD-1, minibatch {batch_size}, {device_name(x.device)}"
    at_cd1 = paths if cd.k == 1 else runners(dataclasses.replace(cd, k=1), binarize, batch_size, x, rbm)
    timed = trials(at_cd1 if at_cd1.keys() == paths.keys() else paths, rbm, x, batch_size)
    name = choice.fastest(task, timed, native.machine_id())
    return paths[name](rbm, x, state)


def runners(cd: CD, binarize: bool, batch_size: int, x: torch.Tensor, rbm: RBM) -> dict[str, MakeRunner]:
    """The fast paths that can run these settings here, by name: the compiled steps, genlab's own kernel."""
    paths: dict[str, MakeRunner] = {}
    if steps_available(x.device):
        paths["steps"] = lambda model, rows, st: CompiledSteps(rbm_step, model, rows, batch_size, cd, binarize, st)
    if kernels_apply(cd, binarize, batch_size):
        if native.supports(x, rbm.W):
            paths["kernel"] = lambda model, rows, st: NativeCD(model, rows, cd.lr, batch_size, cd.k)
        elif cd.k == 1 and cd_cuda.supports(x, rbm.W):
            paths["kernel"] = lambda model, rows, st: TritonCD1(model, rows, cd.lr, batch_size)
    return paths


TRIAL_MINIBATCHES = 20  # minibatches of a path's timed trial


def trials(paths: dict[str, MakeRunner], rbm: RBM, x: torch.Tensor, batch_size: int) -> dict[str, Callable[[], None]]:
    """Each path's trial: an epoch of its runner over the first TRIAL_MINIBATCHES minibatches of ``x``, on a
    copy of ``rbm``, a fresh state and a generator of its own (the run's model and random stream are left
    alone); the runner is built on the trial's first call."""

    def trial(make: MakeRunner) -> Callable[[], None]:
        runner = functools.cache(lambda: make(copy.deepcopy(rbm), x[: TRIAL_MINIBATCHES * batch_size], CDState()))
        generator = torch.Generator(device=x.device).manual_seed(0)
        return lambda: runner()(generator).item()  # .item() waits for the device

    return {name: trial(make) for name, make in paths.items()}


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
