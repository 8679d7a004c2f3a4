"""Training an RBM with contrastive divergence (SPEC task 1): the loop, the run directory.

The update itself, CD-k or persistent CD with momentum and weight decay, is
:func:`genlab.algorithms.cd.cd_update`; :func:`fit` runs it over epochs of shuffled
minibatches. Minibatch i of an epoch draws its random numbers from the counter stream (key, i)
(:class:`genlab.accel.threefry.CounterStream`), the key and the order of the rows drawn from the
run's generator at the start of the epoch. By default (``compile``) the epochs run on the fastest
path this machine has for the settings (:func:`genlab.accel.rbm_epochs`: genlab's own CD
kernels, or compiled steps), which draw the same numbers: the path changes the speed and the
floating-point rounding, nothing else. The path taken is written into config.json.

Under a launcher (docs/distributed.md) each rank takes its rows of every global minibatch and draws
what one process draws for them (:func:`genlab.distributed.draws_of_rows`); the update averages its
statistics over every rank's rows, and each rank keeps the persistent chains of its rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genlab import accel, data, distributed
from genlab.accel.threefry import CounterStream
from genlab.algorithms.cd import CD, CDState, draws_per_update, rbm_step, start_centred
from genlab.config import non_negative, option, positive
from genlab.errors import ConfigError
from genlab.files import save_tensors
from genlab.evaluation import rbm as evaluate_rbm
from genlab.figures.rbm import standard_figures
from genlab.models.rbm import RBM
from genlab.runs import Run
from genlab.training.session import (
    EpochBar,
    OnEpoch,
    TrainConfig,
    check_finite,
    end_epoch,
    epoch_bar,
    fast_paths_wanted,
    leaves_nothing_half_made,
    start,
    stopped_when_not_finite,
    warn_if_few_updates,
)

# Fewer CD updates than this leave an RBM mostly untrained. Measured with the reference settings (minibatch 100,
# lr 0.1) on MNIST: the test reconstruction error falls from 0.045 after 50 updates to 0.030 after 300, half of
# its fall to 0.0175 after 4,200 updates; after 600 it is 0.026 on 5,000 as on 60,000 images, so the number of
# updates, not of images, is what counts. (Samples of 1,000 Gibbs steps were one grey image all along.)
ENOUGH_UPDATES = 300


OFFSETS = "offsets.safetensors"  # a centred run's offsets (v_offset mu, h_offset lambda), beside model.safetensors


@dataclass
class RBMConfig(TrainConfig):
    """The reference run of SPEC task 1 by default."""

    hidden: int = option(100, "number of hidden units", check=positive)
    cd_k: int = option(1, "Gibbs steps per update (CD-k)", check=positive)
    lr: float = option(0.1, "learning rate", check=positive)
    epochs: int = option(100, "passes over the training set", check=positive)
    batch_size: int = option(100, "minibatch size", check=positive)
    init_std: float = option(0.1, "standard deviation of the initial weights W ~ N(0, std^2)", check=non_negative)
    binarize: bool = option(
        True, "v is a fresh Bernoulli sample of the pixel probabilities each time (SPEC 1)",
        negated="use the pixel probabilities themselves as v instead of a fresh Bernoulli sample of them (SPEC 1.4)",
    )
    persistent: bool = option(False, "persistent chains (PCD) instead of restarting the chains at the data")
    temperatures: int = option(1, "with more than 1: PCD with parallel tempering, persistent chains at this many "
                               "temperatures from the model's to uniform that swap states (implies --persistent)",
                               check=positive)
    centering: bool = option(False, "centred gradient with offsets of the data (Melchior et al. 2016); the model is "
                             "saved as the equivalent plain RBM, its offsets beside it")
    offset_rate: float = option(0.01, "with --centering: how fast the offsets follow the minibatch means, in (0, 1]",
                                check=lambda r: None if 0 < r <= 1 else "a number in (0, 1]")
    momentum: float = option(0.0, "momentum of the parameter updates, in [0, 1)", check=lambda m: None if 0 <= m < 1 else "a number in [0, 1)")
    weight_decay: float = option(0.0, "L2 weight decay on W", check=non_negative)
    eval_every: int = option(
        0,
        "every N epochs (and at the last) add the test log-likelihood to log.jsonl: exact for at most 20 "
        "hidden units, else a cheap AIS estimate (0: never)",
        check=non_negative,
    )
    compile: bool = option(
        True, "run on the fastest path this machine has for the settings: genlab's own kernels for CD-k with "
        "binarised data (native C on the CPU, Triton on CUDA for CD-1), torch.compile'd steps otherwise, the plain loop where "
        "neither applies or can be built; the same random numbers on every path", identity=False,
        negated="run the plain PyTorch loop (for reading and debugging): the same random numbers as the fast paths, "
        "other floating-point rounding",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        check_draws("--cd-k", self.cd(), self.binarize)

    def cd(self) -> CD:
        """The settings of the CD update."""
        return CD(k=self.cd_k, lr=self.lr, persistent=self.persistent or self.temperatures > 1, momentum=self.momentum,
                  weight_decay=self.weight_decay, centering=self.centering, offset_rate=self.offset_rate,
                  temperatures=self.temperatures)


def check_draws(flag: str, cd: CD, binarize: bool, extra: int = 0) -> None:
    """A step's random numbers come from one step of the counter stream, which holds
    ``CounterStream.DRAWS_PER_STEP`` draws: refuse, in one line, an update that needs more (``extra``: the
    draws of the step before its update)."""
    draws = extra + int(binarize) + draws_per_update(cd)
    if draws > CounterStream.DRAWS_PER_STEP:
        tempering = f" at {cd.temperatures} temperatures" if cd.temperatures > 1 else ""
        raise ConfigError(f"{flag} {cd.k}{tempering}: a training step draws random numbers {draws} times, more than "
                          f"the {CounterStream.DRAWS_PER_STEP} a step of genlab's counter stream holds; choose a smaller "
                          f"{flag}" + (" or fewer --temperatures" if tempering else ""))


def fit(
    rbm: RBM,
    x: torch.Tensor,
    config: RBMConfig,
    generator: torch.Generator,
    progress: bool = True,
    on_epoch: OnEpoch | None = None,
    state: CDState | None = None,
    first_epoch: int = 1,
    paths: dict[str, str] | None = None,
) -> list[float]:
    """Train ``rbm`` for epochs ``first_epoch`` to ``config.epochs`` on the rows of ``x`` (pixel
    probabilities in [0, 1]); returns each epoch's mean squared error per pixel between x and the
    reconstructions. ``state`` carries momentum and persistent chains (a fresh one by default);
    ``paths["rbm"]``, when given, is set to the path the epochs run on (``kernel``, ``steps`` or ``plain``).

    ``on_epoch(epoch, error)`` is called after each epoch (logging, checkpoints, evaluation); the
    numbers it returns join the progress bar's.
    """
    state = CDState() if state is None else state
    if config.centering and not state.offsets:
        state.offsets = start_centred(rbm, x)
    fast = accel.rbm_epochs(rbm, x, config.cd(), config.binarize, config.batch_size, state,
                            enabled=fast_paths_wanted(config))
    if paths is not None:
        paths["rbm"] = accel.path_of(fast)
    errors = []
    bar = epoch_bar(config.epochs, x.shape[0], config.batch_size, "rbm", progress,
                    compiling=accel.path_of(fast) == "steps",
                    first=first_epoch)
    for epoch in bar:
        if fast is None:
            total = train_epoch(rbm, x, config, generator, state, bar)
        else:
            total = fast(generator)
        error = total.item() / x.numel()
        check_finite(rbm, epoch, {"reconstruction error": error})
        errors.append(error)
        end_epoch(bar, {"recon_error": f"{error:.4f}"}, on_epoch, epoch, error)
    return errors


def train_epoch(rbm: RBM, x: torch.Tensor, config: RBMConfig, generator: torch.Generator, state: CDState,
                bar: EpochBar | None = None) -> torch.Tensor:
    """One pass of CD updates over the rows of ``x`` in shuffled minibatches (counted on ``bar``), minibatch i
    drawing from the counter stream (key, i); returns the summed squared error between the pixels and their
    reconstructions (of every rank's rows)."""
    cd = config.cd()
    total = torch.zeros((), device=x.device)
    key, order = accel.epoch_draws(x.shape[0], generator, x.device)  # as every fast path draws them
    streams = accel.counter_streams(key, x.device)  # (in C where genlab's native library builds)
    batches = order.split(config.batch_size)
    for i, idx in enumerate(batches if bar is None else bar.steps(batches)):
        mine = distributed.share(idx.shape[0])  # this rank's rows of the global minibatch (all in one process)
        random = distributed.draws_of_rows(streams(i), idx.shape[0])
        total += rbm_step(rbm, data.rows(x, idx[mine]), cd, binarize=config.binarize, state=state, random=random)
    return distributed.all_reduce_sum(total, "summing the reconstruction error")


@leaves_nothing_half_made
def train(
    config: RBMConfig,
    out: str | Path,
    device: str | torch.device = "auto",
    data_dir: str | Path | None = None,
    progress: bool = True,
    overwrite: bool = False,
    resume: bool = False,
) -> Run:
    """Train an RBM and write its run directory (config, model, log, standard figures); with ``resume``,
    continue the interrupted run in ``out`` from its checkpoint.

    Each epoch's log entry has the train and test reconstruction errors and the
    training time so far (``time_s``, without the time spent on log-likelihoods);
    with ``eval_every`` some also have the log-likelihoods (see
    :func:`genlab.evaluation.rbm.training_loglik`). Evaluation draws from its own
    random stream, so it never changes the trained weights.
    """
    s = start("rbm", config, out, device, data_dir, overwrite, shapes=lambda n: RBM.shapes(n, config.hidden),
              resume=resume)
    x = data.as_float(s.train.images)
    test_x = data.as_float(s.test.images)
    rbm = RBM(x.shape[1], config.hidden, config.init_std, generator=s.generator, device=s.device)
    eval_gen = torch.Generator(device=s.device).manual_seed(config.seed + 1)
    generators = {"train": s.generator, "eval": eval_gen}
    loglik = evaluate_rbm.LoglikData.of(s.train, s.test) if config.eval_every else None
    warn_if_few_updates("rbm", config.epochs, len(s.train), config.batch_size, ENOUGH_UPDATES)
    state, eval_time = CDState(), 0.0
    if s.resumed is not None:
        rbm.load_state_dict(s.resumed.part("model"))
        state = rank_state(CDState.from_tensors(s.resumed.part("cd")))
        s.resumed.restore_generators(generators)
        eval_time = s.resumed.meta["eval_time_s"]

    def log_epoch(epoch: int, train_error: float) -> dict[str, Any]:
        nonlocal eval_time
        entry: dict[str, Any] = {
            "epoch": epoch,
            "recon_error": train_error,
            "test_recon_error": evaluate_rbm.recon_error(rbm, test_x, eval_gen),
            "time_s": s.elapsed() - eval_time,
        }
        shown = {}
        if loglik is not None and (epoch % config.eval_every == 0 or epoch == config.epochs):
            started = s.elapsed()
            entry.update(evaluate_rbm.training_loglik(rbm, loglik, eval_gen))
            eval_time += s.elapsed() - started
            shown["test_loglik"] = f"{entry['test_loglik']:.2f}"
        s.log(entry)
        s.run.save_model(rbm.tensors())
        if state.offsets and s.world.main:  # centring: the offsets beside the plain RBM
            save_tensors(s.run.path / OFFSETS, state.offsets)
        s.checkpoint("rbm", epoch, {"model": rbm.state_dict(), "cd": job_state(state)}, generators,
                     eval_time_s=eval_time)
        return shown

    paths: dict[str, str] = {}
    with stopped_when_not_finite(s.run):
        fit(rbm, x, config, s.generator, progress, log_epoch, state, s.first_epoch("rbm"), paths)
    train_time = s.elapsed() - eval_time
    distributed.rank_0_alone(lambda: standard_figures(rbm, s.test, s.run.figures, eval_gen))
    s.finish(train_time_s=train_time, path=paths["rbm"])  # last: marks the run as finished
    return s.run


def job_state(state: CDState) -> dict[str, torch.Tensor]:
    """The CD state as a checkpoint keeps it: every rank's persistent chains in rank order, which are the
    chains one process keeps (a collective: every rank calls it)."""
    tensors = state.tensors()
    if "chain" in tensors:
        tensors["chain"] = distributed.gather(tensors["chain"], "gathering the persistent chains")
    return tensors


def rank_state(state: CDState) -> CDState:
    """A checkpoint's CD state for this rank: the persistent chains of its rows (:func:`job_state` undone)."""
    if state.chain is not None:
        state.chain = state.chain[distributed.share(state.chain.shape[0])]
    return state


def load(run: Run, device: str | torch.device = "cpu") -> RBM:
    """The trained RBM of a run directory."""
    cfg = run.config_as(RBMConfig)
    h, w = run.meta["data"]["image_shape"]
    tensors = run.load_model(RBM.shapes(h * w, cfg.hidden))
    return RBM.from_tensors(tensors).to(device)
