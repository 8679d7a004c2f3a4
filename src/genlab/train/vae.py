"""Training a VAE by stochastic gradient ascent on the ELBO (SPEC task 4).

Per minibatch of N images: one z ~ q(z | x) per image by reparameterisation, the
loss -ELBO = binary cross-entropy summed over pixels + KL(q(z | x) || N(0, I)),
averaged over the minibatch, and one Adam step. The targets x are either the grey
values themselves (``soft``, the pixel read as p(x_i = 1) as in SPEC's lab) or a
fresh Bernoulli sample of them for every minibatch (``binarized``, "dynamic
binarisation", which matches the binary data the log-likelihood is measured on).

After every epoch the log records the mean training loss and the ELBO of the
binarised test set (one z per image, the same noise every epoch).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from genlab import data
from genlab.config import one_of, option, positive
from genlab.devices import check_compile
from genlab.evaluate.common import binarized
from genlab.models.vae import ACTIVATIONS, VAE
from genlab.rng import bernoulli, make_generator
from genlab.runs import Run
from genlab.train import common

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
class VAEConfig(common.TrainConfig):
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
    bf16: bool = option(
        False, "compute the layers in bfloat16 (autocast; parameters, noise and loss stay float32): faster where the "
        "processor has bfloat16 arithmetic (CPUs with AVX512-BF16 or AMX, recent GPUs), numbers differ slightly",
        identity="unless-default",
    )
    compile: bool = option(
        False, "compile the loss and its gradient into fused kernels (torch.compile; needs a C++ compiler on the "
        "CPU, Triton on CUDA); the same random stream as without",
        identity="unless-default",
    )


@torch.no_grad()
def mean_elbo(model: VAE, x: torch.Tensor, generator: torch.Generator | None = None, chunk: int = 10_000) -> float:
    """The ELBO averaged over the rows of x (one z per row), in nats."""
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    for part in common.chunks(x, chunk):
        total += model.elbo(part, generator).double().sum()
    return total.item() / x.shape[0]


def fit(
    model: VAE,
    x: torch.Tensor,
    config: VAEConfig,
    generator: torch.Generator,
    progress: bool = True,
    on_epoch: common.OnEpoch | None = None,
) -> list[float]:
    """Train ``model`` on the rows of ``x``; returns the per-epoch mean losses.

    ``x`` holds grey values in [0, 1], as floats or as uint8 pixels 0-255 read as k / 255
    (:func:`genlab.data.as_float`, the same numbers): a quarter of the memory to gather
    per minibatch, and with ``compile`` their conversion joins the step's first kernels.

    ``on_epoch(epoch, train_loss)`` is called after each epoch (logging, evaluation); what it
    returns (a dict of strings) is shown on the progress bar.
    The loss is accumulated on the device and read once per epoch.
    """
    def batch_loss(model: VAE, target: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=config.bf16):
            return model.loss(grey_values(target), eps=eps)

    if config.compile:
        check_compile(x.device)
        step = AdamStep(model, batch_loss, config.lr)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)

        def step(target: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
            loss = batch_loss(model, target, eps)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            return loss.detach()

    def one_epoch(_: int) -> float:
        total = torch.zeros((), device=x.device)
        for idx in data.batch_indices(x.shape[0], config.batch_size, generator):
            target = data.rows(x, idx)
            if config.targets == "binarized":
                target = bernoulli(grey_values(target), generator)
            eps = torch.randn(idx.shape[0], config.latent, generator=generator, device=x.device)
            total += step(target, eps) * idx.shape[0]
        return total.item() / x.shape[0]

    return common.run_epochs(config.epochs, "vae", one_epoch, lambda loss: {"loss": f"{loss:.2f}"}, progress, on_epoch,
                             compiling=config.compile)


def grey_values(rows: torch.Tensor) -> torch.Tensor:
    """Minibatch rows as grey values in [0, 1]: uint8 pixels become k / 255, floats stay as they are."""
    return data.as_float(rows) if rows.dtype == torch.uint8 else rows


class Objective(nn.Module):
    """``loss(model, target, eps)`` as a module, for ``torch.func.functional_call``."""

    def __init__(self, model: VAE, loss: Callable[[VAE, torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.model, self.loss = model, loss

    def forward(self, target: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        return self.loss(self.model, target, eps)


class AdamStep:
    """A whole training step, gradient and Adam update, as one ``torch.compile``d function.

    ``step(target, eps)`` differentiates ``loss(model, target, eps)`` with ``torch.func``
    (the parameters as inputs) and applies torch.optim.Adam's update with its defaults
    (betas 0.9, 0.999, eps 1e-8) to the model's parameters in place; it returns the loss.
    Compiled as one graph, the backward pass's element-wise work and the update join the
    forward pass's fused kernels, and each step is one call instead of an autograd pass
    and an optimizer's Python loop.
    """

    def __init__(self, model: VAE, loss: Callable[[VAE, torch.Tensor, torch.Tensor], torch.Tensor], lr: float,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.objective, self.lr, self.betas, self.eps = Objective(model, loss), lr, betas, eps
        self.names = [name for name, _ in self.objective.named_parameters()]
        self.params = [p.detach() for p in model.parameters()]  # the parameters' storage, updated in place
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.steps = 0
        self.compiled = torch.compile(self.update, dynamic=False)

    def __call__(self, target: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        self.steps += 1
        beta1, beta2 = self.betas
        # the bias corrections as tensors (numbers would be compiled in, a new graph each step)
        device = self.params[0].device
        step_size = torch.tensor(self.lr / (1 - beta1**self.steps), device=device)
        correction2_sqrt = torch.tensor(math.sqrt(1 - beta2**self.steps), device=device)
        return self.compiled(self.params, self.exp_avg, self.exp_avg_sq, target, eps, step_size, correction2_sqrt)

    def loss_at(self, values: list[torch.Tensor], target: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(self.objective, dict(zip(self.names, values)), (target, eps))

    def update(self, params: list[torch.Tensor], exp_avg: list[torch.Tensor], exp_avg_sq: list[torch.Tensor],
               target: torch.Tensor, eps: torch.Tensor, step_size: torch.Tensor,
               correction2_sqrt: torch.Tensor) -> torch.Tensor:
        grads, loss = torch.func.grad_and_value(self.loss_at)(params, target, eps)
        beta1, beta2 = self.betas
        for p, m, v, g in zip(params, exp_avg, exp_avg_sq, grads):
            m.lerp_(g, 1 - beta1)
            v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            p.sub_(step_size * m / (v.sqrt() / correction2_sqrt + self.eps))
        return loss


def build(config: VAEConfig, n_visible: int, generator: torch.Generator | None = None, device=None) -> VAE:
    """A freshly initialised VAE of this config."""
    return VAE(n_visible, config.latent, hidden_sizes(config.hidden), config.activation, generator=generator, device=device)


def train(
    config: VAEConfig,
    out: str | Path,
    device: str | torch.device = "auto",
    data_dir: str | Path | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> Run:
    """Train a VAE and write its run directory (config, model, log, standard figures)."""
    from genlab.lab.vae import standard_figures

    s = common.start("vae", config, out, device, data_dir, overwrite)
    x = data.pixel_rows(s.train.images)  # uint8: see fit
    test_v = binarized(s.test.images)
    model = build(config, x.shape[1], s.generator, s.device)

    def log_epoch(epoch: int, train_loss: float) -> dict[str, str]:
        test_elbo = mean_elbo(model, test_v, make_generator(config.seed + 1, s.device))
        s.run.append_log({"epoch": epoch, "train_loss": train_loss, "test_elbo": test_elbo, "time_s": s.elapsed()})
        s.run.save_model(model.tensors())
        return {"test_elbo": f"{test_elbo:.2f}"}

    fit(model, x, config, s.generator, progress, log_epoch)
    s.run.update_meta(train_time_s=s.elapsed())
    standard_figures(model, s.test, s.run.figures, make_generator(config.seed + 1, s.device))
    return s.run


def load(run: Run, device: str | torch.device = "cpu") -> VAE:
    """The trained VAE of a run directory."""
    cfg = VAEConfig.from_dict(run.config)
    h, w = run.meta["data"]["image_shape"]
    tensors = run.load_model(VAE.shapes(h * w, cfg.latent, hidden_sizes(cfg.hidden)))
    model = build(cfg, h * w, device=device)
    model.load_state_dict(tensors)
    return model


def sample(model: VAE, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """n new images p(x = 1 | z), z ~ N(0, I), [n, D] in [0, 1]."""
    return model.sample(n, generator)
