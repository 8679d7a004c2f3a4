"""Training a VAE by stochastic gradient ascent on the ELBO (SPEC task 4): the loop, the run directory.

Per minibatch of N images: one z ~ q(z | x) per image by reparameterisation, the
loss -ELBO averaged over the minibatch, and one Adam step
(:func:`genlab.algorithms.vae.vae_step`). The targets x are either the grey values
themselves (``soft``, the pixel read as p(x_i = 1) as in SPEC's lab) or a fresh
Bernoulli sample of them for every minibatch (``binarized``, "dynamic binarisation",
which matches the binary data the log-likelihood is measured on). By default (``compile``) the
step runs on the fast path where it applies and can be built (:func:`genlab.accel.vae_step`), with
the same noise; the path taken is written into config.json.

After every epoch the log records the mean training loss and the ELBO of the
binarised test set (one z per image, the same noise every epoch).

Under a launcher (docs/distributed.md) every rank draws the whole global minibatch's targets and
noise, as one process does, and trains on its rows of them; the gradients are averaged over every
rank's rows before each Adam step (:func:`genlab.algorithms.vae.vae_step`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genlab import accel, data, distributed
from genlab.algorithms.vae import negative_elbo, vae_step
from genlab.config import non_negative, one_of, option, positive
from genlab.data import binarized
from genlab.errors import ConfigError
from genlab.evaluation.vae import mean_elbo
from genlab.figures.vae import standard_figures
from genlab.models.vae import ACTIVATIONS, VAE
from genlab.rng import bernoulli, make_generator
from genlab.runs import Run
from genlab.training.session import (
    OnEpoch,
    TrainConfig,
    check_finite,
    end_epoch,
    epoch_bar,
    fast_paths_wanted,
    leaves_nothing_half_made,
    load_optimizer,
    optimizer_tensors,
    start,
    stopped_when_not_finite,
    warn_if_few_updates,
)

# Fewer Adam steps than this leave a VAE barely trained. Measured with the reference lr 3.24e-4 on 5,000
# MNIST images: the test ELBO is -206 after 50 steps, -194 after 200 and still -189 after 400 (at minibatch 100 as at
# 1,024: -189.2 and -188.3 after 300), then learning starts: -173 after 600, -163 after 800 (lr 1e-3: -166 after 400).
ENOUGH_UPDATES = 500

TARGETS = ("soft", "binarized")


def hidden_sizes(text: str) -> tuple[int, ...]:
    """'200,200' -> (200, 200)."""
    return tuple(int(part) for part in text.split(","))


def _check_hidden(text: str) -> str | None:
    try:
        sizes = hidden_sizes(text)
    except ValueError:
        sizes = ()
    return None if sizes and all(n > 0 for n in sizes) else "comma-separated positive layer sizes, e.g. 200,200"


@dataclass
class VAEConfig(TrainConfig):
    """The reference run of SPEC task 4 by default."""

    latent: int = option(20, "dimensions of the latent z", check=positive)
    hidden: str = option("200,200", "encoder hidden layer sizes, comma-separated (the decoder mirrors them)", check=_check_hidden)
    activation: str = option("softplus", "activation of the hidden layers", check=one_of(*ACTIVATIONS))
    lr: float = option(3.24e-4, "Adam learning rate", check=positive)
    epochs: int = option(100, "passes over the training set", check=positive)
    batch_size: int = option(1024, "minibatch size", check=positive)
    targets: str = option(
        "soft", "soft: the grey values as Bernoulli targets; binarized: a fresh Bernoulli sample per minibatch",
        check=one_of(*TARGETS),
    )
    kl_warmup: int = option(0, "KL warm-up: the KL term's weight rises linearly from 0 to 1 over the first N epochs' "
                            "updates (0: none)", check=non_negative)
    iwae_train_k: int = option(1, "train on the IWAE bound with k samples per image instead of the ELBO (1: the ELBO)",
                               check=positive)
    output_bias: str = option("zero", "initial bias of the decoder's output layer: zero, or mean (the logit of the "
                              "training images' mean pixel values)", check=one_of("zero", "mean"))
    bf16: bool = option(
        False, "compute the layers in bfloat16 (autocast; parameters, noise and loss stay float32): faster where the "
        "processor has bfloat16 arithmetic (CPUs with AVX512-BF16 or AMX, recent GPUs), numbers differ slightly",
    )
    compile: bool = option(
        True, "run on the fast path where it applies: the loss, its gradient and the Adam update as one "
        "torch.compile'd step (needs a C++ compiler on the CPU, Triton on CUDA; not with --kl-warmup or "
        "--iwae-train-k, which the plain loop runs), the plain loop otherwise; the same random numbers on both",
        identity=False,
        negated="run the plain PyTorch loop (for reading and debugging): the same random numbers, other "
        "floating-point rounding",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.kl_warmup and self.iwae_train_k > 1:
            raise ConfigError("--kl-warmup: not with --iwae-train-k above 1 (the IWAE bound has no separate KL term)")


def fit(
    model: VAE,
    x: torch.Tensor,
    config: VAEConfig,
    generator: torch.Generator,
    progress: bool = True,
    on_epoch: OnEpoch | None = None,
    step: Updates | None = None,
    first_epoch: int = 1,
) -> list[float]:
    """Train ``model`` on the rows of ``x`` for epochs ``first_epoch`` to ``config.epochs``; returns the
    per-epoch mean losses. ``step`` makes the updates (by default a fresh :func:`updates`).

    ``x`` holds grey values in [0, 1], as floats or as uint8 pixels 0-255 read as k / 255
    (:func:`genlab.data.as_float`, the same numbers): a quarter of the memory to gather
    per minibatch, and with ``compile`` their conversion joins the step's first kernels.

    ``on_epoch(epoch, train_loss)`` is called after each epoch (logging, evaluation); what it
    returns (a dict of strings) is shown on the progress bar.
    The loss is accumulated on the device and read once per epoch.
    """
    step = updates(model, config) if step is None else step
    losses = []
    batches = -(-x.shape[0] // config.batch_size)
    k = config.iwae_train_k
    bar = epoch_bar(config.epochs, x.shape[0], config.batch_size, "vae", progress,
                    compiling=not isinstance(step, AdamUpdates), first=first_epoch)
    for epoch in bar:
        total = torch.zeros((), device=x.device)
        for i, idx in enumerate(bar.steps(data.batch_indices(x.shape[0], config.batch_size, generator))):
            target = data.rows(x, idx)
            if config.targets == "binarized":
                target = bernoulli(grey_values(target), generator)
            shape = (idx.shape[0], config.latent) if k == 1 else (k, idx.shape[0], config.latent)
            eps = torch.randn(shape, generator=generator, device=x.device)
            if config.kl_warmup:
                step.kl_weight = min(1.0, ((epoch - 1) * batches + i + 1) / (config.kl_warmup * batches))
            mine = distributed.share(idx.shape[0])  # this rank's rows of the global minibatch (all in one process)
            rows = mine.stop - mine.start  # none on some ranks when the last minibatch is shorter than the ranks
            loss = step(target[mine], eps[..., mine, :])
            total += loss * rows if rows else 0.0
        distributed.all_reduce_sum(total, "summing the training loss")
        train_loss = total.item() / x.shape[0]
        check_finite(model, epoch, {"training loss": train_loss})
        losses.append(train_loss)
        end_epoch(bar, {"loss": f"{train_loss:.2f}"}, on_epoch, epoch, train_loss)
    return losses


class AdamUpdates:
    """The plain path's updates: :func:`genlab.algorithms.vae.vae_step` with ``torch.optim.Adam``."""

    def __init__(self, model: VAE, config: VAEConfig) -> None:
        self.model, self.bf16 = model, config.bf16
        self.optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
        self.kl_weight = 1.0  # below 1 during a KL warm-up (set by fit)

    def __call__(self, target: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        return vae_step(self.model, self.optimizer, grey_values(target), eps, self.bf16, self.kl_weight)

    def state_dict(self) -> dict[str, Any]:
        return self.optimizer.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state)


Updates = AdamUpdates | accel.vae.FusedAdamStep  # step(target, eps) -> loss, with an optimiser's state_dict


def updates(model: VAE, config: VAEConfig) -> Updates:
    """What updates ``model`` by Adam on the negative ELBO: the fast path's fused step where it applies and
    can be built, or the plain one (:func:`path_of` names it)."""

    def loss(model: VAE, target: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        return negative_elbo(model, grey_values(target), eps, config.bf16)

    plain_only = config.kl_warmup or config.iwae_train_k > 1  # the fused step has no KL weight, one sample
    fast = accel.vae_step(model, loss, config.lr, enabled=fast_paths_wanted(config) and not plain_only)
    return fast or AdamUpdates(model, config)


def path_of(step: Updates) -> str:
    """The path ``step`` takes: ``steps`` (the fused compiled step) or ``plain``."""
    return accel.path_of(None if isinstance(step, AdamUpdates) else step)


def grey_values(rows: torch.Tensor) -> torch.Tensor:
    """Minibatch rows as grey values in [0, 1]: uint8 pixels become k / 255, floats stay as they are."""
    return data.as_float(rows) if rows.dtype == torch.uint8 else rows


def build(config: VAEConfig, n_visible: int, generator: torch.Generator | None = None, device=None) -> VAE:
    """A freshly initialised VAE of this config."""
    return VAE(n_visible, config.latent, hidden_sizes(config.hidden), config.activation, generator=generator, device=device)


@leaves_nothing_half_made
def train(
    config: VAEConfig,
    out: str | Path,
    device: str | torch.device = "auto",
    data_dir: str | Path | None = None,
    progress: bool = True,
    overwrite: bool = False,
    resume: bool = False,
) -> Run:
    """Train a VAE and write its run directory (config, model, log, standard figures); with ``resume``,
    continue the interrupted run in ``out`` from its checkpoint."""
    s = start("vae", config, out, device, data_dir, overwrite,
              shapes=lambda n: VAE.shapes(n, config.latent, hidden_sizes(config.hidden)), resume=resume)
    x = data.pixel_rows(s.train.images)  # uint8: see fit
    test_v = binarized(s.test.images)
    model = build(config, x.shape[1], s.generator, s.device)
    if config.output_bias == "mean":
        model.logits.bias.data.copy_(torch.logit(x.float().mean(0) / 255, eps=1e-3))  # x: uint8 pixels
    step = updates(model, config)
    warn_if_few_updates("vae", config.epochs, len(s.train), config.batch_size, ENOUGH_UPDATES)
    if s.resumed is not None:
        model.load_state_dict(s.resumed.part("model"))
        load_optimizer(step, s.resumed.part("adam"))
        s.resumed.restore_generators({"train": s.generator})

    def log_epoch(epoch: int, train_loss: float) -> dict[str, str]:
        test_elbo = mean_elbo(model, test_v, make_generator(config.seed + 1, s.device))
        s.log({"epoch": epoch, "train_loss": train_loss, "test_elbo": test_elbo, "time_s": s.elapsed()})
        s.run.save_model(model.tensors())
        s.checkpoint("vae", epoch, {"model": model.state_dict(), "adam": optimizer_tensors(step)}, {"train": s.generator})
        return {"test_elbo": f"{test_elbo:.2f}"}

    with stopped_when_not_finite(s.run):
        fit(model, x, config, s.generator, progress, log_epoch, step, s.first_epoch("vae"))
    s.finish(train_time_s=s.elapsed(), path=path_of(step))
    distributed.rank_0_alone(lambda: standard_figures(model, s.test, s.run.figures,
                                                      make_generator(config.seed + 1, s.device), config.targets))
    return s.run


def load(run: Run, device: str | torch.device = "cpu") -> VAE:
    """The trained VAE of a run directory."""
    cfg = run.config_as(VAEConfig)
    h, w = run.meta["data"]["image_shape"]
    tensors = run.load_model(VAE.shapes(h * w, cfg.latent, hidden_sizes(cfg.hidden)))
    model = build(cfg, h * w, device=device)
    model.load_state_dict(tensors)
    return model
