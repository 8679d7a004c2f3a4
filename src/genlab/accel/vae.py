"""The VAE's fast path: the training step of :func:`genlab.algorithms.vae.vae_step` (the loss, its
gradient and torch.optim.Adam's update) as one compiled function, with the same noise as the plain path."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from genlab.accel.steps import check_compile
from genlab.models.vae import VAE

Loss = Callable[[VAE, torch.Tensor, torch.Tensor], torch.Tensor]


class Objective(nn.Module):
    """``loss(model, target, eps)`` as a module, for ``torch.func.functional_call``."""

    def __init__(self, model: VAE, loss: Loss) -> None:
        super().__init__()
        self.model, self.loss = model, loss

    def forward(self, target: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        return self.loss(self.model, target, eps)


class FusedAdamStep:
    """A whole training step, gradient and Adam update, as one ``torch.compile``d function.

    ``step(target, eps)`` differentiates ``loss(model, target, eps)`` with ``torch.func``
    (the parameters as inputs) and applies torch.optim.Adam's update with its defaults
    (betas 0.9, 0.999, eps 1e-8) to the model's parameters in place; it returns the loss.
    Compiled as one graph, the backward pass's element-wise work and the update join the
    forward pass's fused kernels, and each step is one call instead of an autograd pass
    and an optimizer's Python loop.
    """

    path = "steps"

    def __init__(self, model: VAE, loss: Loss, lr: float,
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

    def state_dict(self) -> dict[str, Any]:
        """The optimiser's state as ``torch.optim.Adam.state_dict()`` holds it (for checkpoints)."""
        state = {i: {"step": torch.tensor(float(self.steps)), "exp_avg": m, "exp_avg_sq": v}
                 for i, (m, v) in enumerate(zip(self.exp_avg, self.exp_avg_sq))}
        return {"state": state, "param_groups": [{"lr": self.lr, "betas": self.betas, "eps": self.eps,
                                                  "params": list(state)}]}

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict` (copied into the buffers the compiled step holds)."""
        for i, state in saved["state"].items():
            self.exp_avg[i].copy_(state["exp_avg"])
            self.exp_avg_sq[i].copy_(state["exp_avg_sq"])
            self.steps = int(state["step"])

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


def adam_step(model: VAE, loss: Loss, lr: float) -> FusedAdamStep:
    """The compiled training step of ``model`` on ``loss(model, target, eps)`` with Adam at ``lr``:
    ``step(target, eps)`` updates the model in place and returns the loss."""
    check_compile(next(model.parameters()).device)
    return FusedAdamStep(model, loss, lr)
