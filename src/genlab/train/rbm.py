"""Training an RBM with contrastive divergence (CD-k) or persistent CD (SPEC task 1).

The update for a minibatch of N visible vectors v^0 (SPEC 1)::

    dW = lr * (<v h>^0 - <v h>^k) / N,   da = lr * (<v>^0 - <v>^k),   db = lr * (<h>^0 - <h>^k)

where <.>^0 uses the data and p(h | v^0), and <.>^k the state after k Gibbs steps
(all hidden units sampled, then all visible units) and p(h | v^k). With
``persistent`` the negative chain continues from where the previous minibatch left
it instead of restarting at the data (PCD, Tieleman 2008).

With ``compile`` each whole minibatch step (binarisation, Gibbs steps, update)
runs as one ``torch.compile``d function whose random numbers come from a
counter-based generator (:class:`genlab.rng.CounterStream`) inside its fused
kernels: the same update, a different (equally valid) random stream, and the same
bits on every device. Compiled CD-1 with binarised data (the reference run) goes
further: whole epochs run in genlab's own kernels, with the same random bits as the
compiled step: on the CPU a C kernel whose products add up the rows picked by the
binary states (:mod:`genlab.native`), on CUDA Triton kernels, four a minibatch
(:mod:`genlab.native.cd_cuda`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from genlab import data, native
from genlab.config import non_negative, option, positive
from genlab.errors import ConfigError
from genlab.models.rbm import RBM
from genlab.native import cd_cuda
from genlab.rng import CounterStream, RandomSource, bernoulli
from genlab.runs import Run
from genlab.train import common


@dataclass
class RBMConfig(common.TrainConfig):
    """The reference run of SPEC task 1 by default."""

    hidden: int = option(100, "number of hidden units", check=positive)
    cd_k: int = option(1, "Gibbs steps per update (CD-k)", check=positive)
    lr: float = option(0.1, "learning rate", check=positive)
    epochs: int = option(100, "passes over the training set", check=positive)
    batch_size: int = option(100, "minibatch size", check=positive)
    init_std: float = option(0.1, "standard deviation of the initial weights W ~ N(0, std^2)", check=non_negative)
    binarize: bool = option(
        True, "use the pixel probabilities themselves as v instead of a fresh Bernoulli sample of them (SPEC 1.4)"
    )
    persistent: bool = option(False, "persistent chains (PCD) instead of restarting the chains at the data")
    momentum: float = option(0.0, "momentum of the parameter updates, in [0, 1)", check=lambda m: None if 0 <= m < 1 else "a number in [0, 1)")
    weight_decay: float = option(0.0, "L2 weight decay on W", check=non_negative)
    eval_every: int = option(
        0,
        "every N epochs (and at the last) add the test log-likelihood to log.jsonl: exact for at most 20 "
        "hidden units, else a cheap AIS estimate (0: never)",
        check=non_negative,
    )
    compile: bool = option(
        False, "compile each minibatch step into fused kernels (torch.compile; needs a C++ compiler on the CPU, "
        "Triton on CUDA); CD-1 with binarised data runs whole epochs in genlab's own kernels instead (native C "
        "on the CPU, Triton on CUDA); its random numbers come from a counter-based generator (Threefry) seeded "
        "by --seed",
        identity="unless-default",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.compile:
            check_compiled_cd_k("--cd-k", self.cd_k)


def check_compiled_cd_k(flag: str, k: int) -> None:
    """A compiled CD-k step draws 2k + 2 times from one counter stream step: k must leave room for that."""
    most = CounterStream.DRAWS_PER_STEP // 2 - 1
    if k > most:
        raise ConfigError(f"{flag} {k}: with --compile at most {most} Gibbs steps per update")


@dataclass
class CDState:
    """What carries over between minibatches: momentum velocities and the persistent chain."""

    velocity: dict[str, torch.Tensor] = field(default_factory=dict)
    chain: torch.Tensor | None = None


def cd_step(
    rbm: RBM,
    v0: torch.Tensor,
    k: int,
    lr: float,
    generator: RandomSource = None,
    state: CDState | None = None,
    persistent: bool = False,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
) -> torch.Tensor:
    """One CD-k (or PCD-k) update of ``rbm`` in place.

    Returns the reconstruction p(v = 1 | h^0), h^0 ~ p(h | v^0), computed on the
    way (the caller measures the reconstruction error with it).
    """
    n = v0.shape[0]
    ph0 = rbm.p_h(v0)
    h = bernoulli(ph0, generator)
    recon = p_v = rbm.p_v(h)
    if persistent:
        if state is None:
            raise ValueError("persistent CD needs a CDState to keep its chains")
        if state.chain is None or state.chain.shape[0] < n:
            state.chain = v0.clone()  # the chains start at the first minibatch
        # a short (last) minibatch continues the first n chains
        h = bernoulli(rbm.p_h(state.chain[:n]), generator)
        p_v = rbm.p_v(h)
    # k Gibbs steps; the first p(v | h) is already computed.
    for step in range(k):
        if step > 0:
            p_v = rbm.p_v(h)
        v = bernoulli(p_v, generator)
        ph = rbm.p_h(v)
        if step < k - 1:
            h = bernoulli(ph, generator)
    if persistent:
        state.chain[:n] = v  # type: ignore[index,union-attr]

    grads = {
        "W": (v0.t() @ ph0).sub_(v.t() @ ph).div_(n),
        "v_bias": (v0 - v).mean(0),
        "h_bias": (ph0 - ph).mean(0),
    }
    if weight_decay:
        grads["W"].sub_(rbm.W, alpha=weight_decay)
    params = {"W": rbm.W.data, "v_bias": rbm.v_bias.data, "h_bias": rbm.h_bias.data}
    for name, grad in grads.items():
        if momentum:
            if state is None:
                raise ValueError("momentum needs a CDState to keep its velocities")
            vel = state.velocity.get(name)
            grad = grad if vel is None else vel.mul_(momentum).add_(grad)
            state.velocity[name] = grad
        params[name].add_(grad, alpha=lr)
    return recon


def recon_error(rbm: RBM, x: torch.Tensor, generator: torch.Generator | None = None, chunk: int = 10_000) -> float:
    """Mean squared error per pixel between x and p(v = 1 | h), h ~ p(h | x)."""
    total = 0.0
    for start in range(0, x.shape[0], chunk):
        v = x[start : start + chunk]
        _, p = rbm.reconstruct(v, generator)
        total += (v - p).square().sum().item()
    return total / x.numel()


class CDEpochs:
    """Epochs of CD updates, ``epochs(rbm, x, batch_size, generator, config, state)`` -> summed squared error.

    Compiled CD-1 with binarised data, no persistence, momentum or weight decay runs in
    genlab's own kernels: on the CPU the native C kernel (:func:`genlab.native.cd1_epoch`)
    when this machine can build it, on CUDA the Triton kernels (:func:`genlab.native.cd_cuda.cd1_epoch`),
    replayed as one CUDA graph an epoch from the second on. Everything else runs
    :func:`minibatch_step` through :class:`genlab.train.common.MinibatchEpochs`. All of them draw
    the counter stream's key and the minibatch order from ``generator`` the same way and the
    same random bits from it.
    """

    def __init__(self, compile: bool) -> None:
        self.steps = common.MinibatchEpochs(minibatch_step, compile)
        self.cuda = common.GraphedEpochs(self.cuda_epoch)

    def __call__(self, rbm: RBM, x: torch.Tensor, batch_size: int, generator: torch.Generator, config: RBMConfig,
                 state: CDState) -> torch.Tensor:
        if not (native_cd1(config) and (native.supports(x, rbm.W) or cd_cuda.supports(x, rbm.W))):
            return self.steps(rbm, x, batch_size, generator, config, state)
        key, order = common.counter_epoch_draws(x.shape[0], generator, x.device)
        if x.is_cuda:
            return self.cuda((rbm, x, batch_size, config), key, order)
        error = native.cd1_epoch(rbm.W.data, rbm.v_bias.data, rbm.h_bias.data, x, order, key, config.lr, batch_size)
        return torch.tensor(error)

    @staticmethod
    def cuda_epoch(inputs: tuple[RBM, torch.Tensor, int, RBMConfig], key: torch.Tensor,
                   order: torch.Tensor) -> torch.Tensor:
        rbm, x, batch_size, config = inputs
        return cd_cuda.cd1_epoch(rbm.W.data, rbm.v_bias.data, rbm.h_bias.data, x, order, key, config.lr, batch_size)


def native_cd1(config: RBMConfig) -> bool:
    """Whether ``config`` asks for what genlab's own kernels do: compiled CD-1 with binarised data, plain updates
    (and minibatches of at most ``native.MAX_INDEX`` images)."""
    return (config.compile and config.cd_k == 1 and config.binarize and not config.persistent
            and not config.momentum and not config.weight_decay and config.batch_size <= native.MAX_INDEX)


def train_epoch(rbm: RBM, x: torch.Tensor, config: RBMConfig, generator: torch.Generator, state: CDState,
                epochs: CDEpochs | common.MinibatchEpochs | None = None) -> float:
    """One pass of CD-k updates over the rows of ``x`` (pixel probabilities in [0, 1]) in shuffled minibatches.

    Each minibatch is a fresh Bernoulli sample of its pixels (unless ``config.binarize``
    is off). Returns the mean squared error per pixel between x and the reconstructions.
    ``epochs`` runs the steps (:class:`CDEpochs` by default; with ``config.compile`` compiled,
    drawing from a counter stream keyed once per epoch from ``generator``; on CUDA replayed as a
    graph from the second epoch on); pass the same one to every epoch of a run.
    """
    epochs = epochs or CDEpochs(config.compile)
    return epochs(rbm, x, config.batch_size, generator, config, state).item() / x.numel()


def minibatch_step(rbm: RBM, probs: torch.Tensor, config: RBMConfig, state: CDState, source: RandomSource) -> torch.Tensor:
    """One CD update on a minibatch of pixel probabilities; returns its summed squared reconstruction error."""
    v0 = bernoulli(probs, source) if config.binarize else probs
    recon = cd_step(rbm, v0, config.cd_k, config.lr, source, state, config.persistent, config.momentum, config.weight_decay)
    return (probs - recon).square().sum()


def fit(
    rbm: RBM,
    x: torch.Tensor,
    config: RBMConfig,
    generator: torch.Generator,
    progress: bool = True,
    on_epoch: common.OnEpoch | None = None,
) -> list[float]:
    """Train ``rbm`` for ``config.epochs`` epochs on the rows of ``x``; returns per-epoch train errors.

    ``on_epoch(epoch, train_error)`` is called after each epoch (logging, evaluation);
    the numbers it returns join the progress bar's.
    """
    state, epochs = CDState(), CDEpochs(config.compile)
    return common.run_epochs(config.epochs, "rbm", lambda _: train_epoch(rbm, x, config, generator, state, epochs),
                             recon_shown, progress, on_epoch, compiling=config.compile)


def recon_shown(error: float) -> dict[str, str]:
    """An epoch's reconstruction error for the progress bar."""
    return {"recon_error": f"{error:.4f}"}


def train(
    config: RBMConfig,
    out: str | Path,
    device: str | torch.device = "auto",
    data_dir: str | Path | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> Run:
    """Train an RBM and write its run directory (config, model, log, standard figures).

    Each epoch's log entry has the train and test reconstruction errors and the
    training time so far (``time_s``, without the time spent on log-likelihoods);
    with ``eval_every`` some also have the log-likelihoods (see
    :func:`genlab.evaluate.rbm.training_loglik`). Evaluation draws from its own
    random stream, so it never changes the trained weights.
    """
    from genlab.evaluate import rbm as evaluate_rbm
    from genlab.lab.rbm import standard_figures

    s = common.start("rbm", config, out, device, data_dir, overwrite)
    x = data.as_float(s.train.images)
    test_x = data.as_float(s.test.images)
    rbm = RBM(x.shape[1], config.hidden, config.init_std, generator=s.generator, device=s.device)
    eval_gen = torch.Generator(device=s.device).manual_seed(config.seed + 1)
    loglik = evaluate_rbm.LoglikData.of(s.train, s.test) if config.eval_every else None
    eval_time = 0.0

    def log_epoch(epoch: int, train_error: float) -> dict[str, Any]:
        nonlocal eval_time
        entry: dict[str, Any] = {
            "epoch": epoch,
            "recon_error": train_error,
            "test_recon_error": recon_error(rbm, test_x, eval_gen),
            "time_s": s.elapsed() - eval_time,
        }
        shown = {}
        if loglik is not None and (epoch % config.eval_every == 0 or epoch == config.epochs):
            started = s.elapsed()
            entry.update(evaluate_rbm.training_loglik(rbm, loglik, eval_gen))
            eval_time += s.elapsed() - started
            shown["test_loglik"] = f"{entry['test_loglik']:.2f}"
        s.run.append_log(entry)
        s.run.save_model(rbm.tensors())
        return shown

    fit(rbm, x, config, s.generator, progress, log_epoch)
    train_time = s.elapsed() - eval_time
    standard_figures(rbm, s.test, s.run.figures, eval_gen)
    s.run.update_meta(train_time_s=train_time)  # last: marks the run as finished
    return s.run


def load(run: Run, device: str | torch.device = "cpu") -> RBM:
    """The trained RBM of a run directory."""
    cfg = RBMConfig.from_dict(run.config)
    h, w = run.meta["data"]["image_shape"]
    tensors = run.load_model(RBM.shapes(h * w, cfg.hidden))
    return RBM.from_tensors(tensors).to(device)


def sample(rbm: RBM, n: int, generator: torch.Generator | None = None, steps: int = 1000) -> torch.Tensor:
    """n images p(v = 1 | h) after ``steps`` Gibbs steps from uniformly random visible states."""
    v = bernoulli(torch.full((n, rbm.n_visible), 0.5, device=rbm.W.device), generator)
    _, h = rbm.sample_h(v, generator)
    _, p = rbm.generate(h, steps, generator)
    return p
