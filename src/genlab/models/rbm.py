"""Restricted Boltzmann Machine with Bernoulli visible and hidden units (SPEC task 1).

Energy and conditionals, with W (visible x hidden), a = ``v_bias``, b = ``h_bias``::

    E(v, h)        = -v^T W h - b^T h - a^T v
    p(h_j=1 | v)   = sigma(sum_i w_ij v_i + b_j)
    p(v_i=1 | h)   = sigma(sum_j w_ij h_j + a_i)
    F(v)           = -a^T v - sum_j softplus(v^T W_:j + b_j)       (free energy)
    p(v)           = exp(-F(v)) / Z

The parameters are plain tensors updated by contrastive divergence (see
``genlab.algorithms.cd``), not by autograd; they are registered as parameters without
gradients so that ``state_dict`` and ``.to(device)`` work as usual.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genlab.models.saved import Saveable
from genlab.rng import bernoulli, device_of


class RBM(nn.Module, Saveable):
    """A Bernoulli RBM of ``n_visible`` x ``n_hidden`` units; ``rbm(v)`` is the free energy of each row of v."""

    family = "rbm"

    def __init__(
        self,
        n_visible: int = 784,
        n_hidden: int = 100,
        init_std: float = 0.1,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        W = torch.randn(n_visible, n_hidden, generator=generator, dtype=dtype,
                        device=device_of(generator, device)).to(device) * init_std
        self.W = nn.Parameter(W, requires_grad=False)
        self.v_bias = nn.Parameter(torch.zeros(n_visible, device=device, dtype=dtype), requires_grad=False)
        self.h_bias = nn.Parameter(torch.zeros(n_hidden, device=device, dtype=dtype), requires_grad=False)

    @property
    def n_visible(self) -> int:
        return self.W.shape[0]

    @property
    def n_hidden(self) -> int:
        return self.W.shape[1]

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        """The free energy F(v) of each row of v, :meth:`free_energy`: log p(v) = -F(v) - log Z.

        Args:
            v: Visible states, [N, n_visible]: binary, or pixel probabilities in [0, 1].

        Returns:
            F(v), [N]; a lower free energy is a more probable v.
        """
        return self.free_energy(v)

    # -- conditionals ----------------------------------------------------------

    def p_h(self, v: torch.Tensor) -> torch.Tensor:
        """p(h = 1 | v) = sigma(v W + b), for a batch of (possibly real-valued) v."""
        return torch.sigmoid(torch.addmm(self.h_bias, v, self.W))

    def p_v(self, h: torch.Tensor) -> torch.Tensor:
        """p(v = 1 | h) = sigma(h W^T + a), for a batch of (possibly real-valued) h."""
        return torch.sigmoid(torch.addmm(self.v_bias, h, self.W.t()))

    def sample_h(self, v: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(p(h=1|v), a binary sample of h)."""
        p = self.p_h(v)
        return p, bernoulli(p, generator)

    def sample_v(self, h: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(p(v=1|h), a binary sample of v)."""
        p = self.p_v(h)
        return p, bernoulli(p, generator)

    # -- Gibbs chains ----------------------------------------------------------

    def gibbs(
        self, v: torch.Tensor, k: int = 1, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """k full Gibbs steps v -> h -> v from ``v``; returns (v_k, p(v=1 | h_{k-1}))."""
        p_v = v
        for _ in range(k):
            _, h = self.sample_h(v, generator)
            p_v, v = self.sample_v(h, generator)
        return v, p_v

    def generate(
        self, h: torch.Tensor, steps: int = 19, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run a chain from a given, possibly real-valued, hidden state (SPEC 1.7).

        The first visible sample is drawn from p(v | h_init); each further step
        samples h then v. Returns (final hidden state, p(v = 1 | final h)).
        """
        for _ in range(steps):
            _, v = self.sample_v(h, generator)
            _, h = self.sample_h(v, generator)
        return h, self.p_v(h)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, steps: int = 1000) -> torch.Tensor:
        """n new images p(v = 1 | h) after ``steps`` Gibbs steps from uniformly random visible states."""
        v = bernoulli(torch.full((n, self.n_visible), 0.5, device=self.W.device), generator)
        _, h = self.sample_h(v, generator)
        _, p = self.generate(h, steps, generator)
        return p

    def reconstruct(
        self, v: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One up-down pass: h ~ p(h | v), then p(v = 1 | h). Returns (h, p(v=1|h))."""
        _, h = self.sample_h(v, generator)
        return h, self.p_v(h)

    # -- energies --------------------------------------------------------------

    def energy(self, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """E(v, h) for each row of v and h."""
        return -((v @ self.W) * h).sum(-1) - h @ self.h_bias - v @ self.v_bias

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        """F(v) = -log sum_h exp(-E(v, h)) for each row of v."""
        return -(v @ self.v_bias) - F.softplus(torch.addmm(self.h_bias, v, self.W)).sum(-1)

    def free_energy_h(self, h: torch.Tensor) -> torch.Tensor:
        """The free energy of the hidden layer: -log sum_v exp(-E(v, h))."""
        return -(h @ self.h_bias) - F.softplus(torch.addmm(self.v_bias, h, self.W.t())).sum(-1)

    # -- (de)serialisation ----------------------------------------------------

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"W": self.W.data, "v_bias": self.v_bias.data, "h_bias": self.h_bias.data}

    def saved_config(self) -> dict[str, int]:
        return {"hidden": self.n_hidden}

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor]) -> RBM:
        W = tensors["W"]
        rbm = cls(W.shape[0], W.shape[1], init_std=0.0, device=W.device, dtype=W.dtype)
        rbm.W.data.copy_(W)
        rbm.v_bias.data.copy_(tensors["v_bias"])
        rbm.h_bias.data.copy_(tensors["h_bias"])
        return rbm

    @staticmethod
    def shapes(n_visible: int, n_hidden: int) -> dict[str, tuple[int, ...]]:
        return {"W": (n_visible, n_hidden), "v_bias": (n_visible,), "h_bias": (n_hidden,)}
