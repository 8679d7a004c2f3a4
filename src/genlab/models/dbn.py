"""Deep Belief Networks with two hidden layers (SPEC tasks 2 and 3).

Both models here are the same generative model, v <- h1 <-> h2::

    p(h1, h2) = exp(-E_top(h1, h2)) / Z_top                  the top RBM (weights W2)
    p(v | h1) = prod_i sigma(sum_j W1'_ij h1_j + a_i)          a directed down pass

with a factorial recognition model for the up pass::

    q(h1 | v) = prod_j sigma(sum_i R1_ij v_i + b1_j)

* :class:`DBN` is the greedily stacked network of SPEC task 2: the lower weights are
  tied, R1 = W1' = W1 of RBM 1, b1 = RBM 1's hidden bias and a = RBM 1's visible
  bias. The top RBM is a separate :class:`RBM` over (h1, h2). Its visible bias is a
  second bias on h1: it starts as RBM 1's hidden bias and is trained with the top
  RBM, while the up pass keeps RBM 1's own. Saved tensors: ``W1``, ``v_bias``,
  ``h1_bias`` (RBM 1), ``W2``, ``top_v_bias``, ``h2_bias`` (the top RBM).
* :class:`UpDownDBN` is the network after generative fine-tuning (SPEC task 3):
  recognition weights ``R1`` with up bias ``h1_bias_up``, generative weights
  ``W1_down`` with down bias ``v_bias_down``, and the tied top RBM as above.

All weight matrices are stored (lower layer x upper layer), like ``RBM.W``.
"""

from __future__ import annotations

import torch
from torch import nn

from genlab.models.rbm import RBM
from genlab.models.saved import Saveable
from genlab.rng import bernoulli


class BeliefNet(nn.Module, Saveable):
    """What both DBNs share: the top RBM, the up and down passes, reconstruction and generation.

    A subclass defines ``h1_logits`` (of the recognition model q(h1 = 1 | v)),
    ``v_logits`` (of the generative p(v = 1 | h1)), ``n_visible`` and ``tensors``.
    ``net(v)`` is the reconstruction of v (:meth:`forward`).
    """

    top: RBM

    def h1_logits(self, v: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def v_logits(self, h1: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def p_h1(self, v: torch.Tensor) -> torch.Tensor:
        """q(h1 = 1 | v), the up pass."""
        return torch.sigmoid(self.h1_logits(v))

    def p_v(self, h1: torch.Tensor) -> torch.Tensor:
        """p(v = 1 | h1), the down pass."""
        return torch.sigmoid(self.v_logits(h1))

    def tensors(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    @property
    def n_visible(self) -> int:
        raise NotImplementedError

    @property
    def n_h1(self) -> int:
        return self.top.n_visible

    @property
    def n_h2(self) -> int:
        return self.top.n_hidden

    def forward(self, v: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The reconstruction of each row of v, as :meth:`reconstruct` with no Gibbs steps: the up pass
        h1 ~ q(h1 | v), h2 ~ p(h2 | h1), then the down pass h1 ~ p(h1 | h2) and p(v = 1 | h1).

        Args:
            v: Visible states, [N, n_visible]: binary, or pixel probabilities in [0, 1].
            generator: The random stream of the passes' samples (PyTorch's global one when None).

        Returns:
            p(v = 1 | h1), [N, n_visible]: pixel probabilities in [0, 1].
        """
        return self.reconstruct(v, 0, generator)[1]

    # -- passes -----------------------------------------------------------------

    def up(self, v: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The up pass v -> h1 -> h2: h1 ~ q(h1 | v), h2 ~ p(h2 | h1). Returns (h1, h2)."""
        h1 = bernoulli(self.p_h1(v), generator)
        _, h2 = self.top.sample_h(h1, generator)
        return h1, h2

    def down(self, h2: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The down pass h2 -> h1 -> v: h1 ~ p(h1 | h2), then p(v = 1 | h1). Returns (h1, p(v=1|h1))."""
        _, h1 = self.top.sample_v(h2, generator)
        return h1, self.p_v(h1)

    def features(self, v: torch.Tensor) -> torch.Tensor:
        """Top-layer features p(h2 = 1 | q(h1 | v)) (a deterministic, mean-field up pass)."""
        return self.top.p_h(self.p_h1(v))

    # -- reconstruction and generation ------------------------------------------

    def reconstruct(
        self, v: torch.Tensor, steps: int = 0, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """SPEC 2: up pass v -> h1 -> h2, ``steps`` Gibbs steps h2 -> h1 -> h2 in the
        top RBM, down pass h2 -> h1 -> v. Returns (top state h2, p(v = 1 | h1))."""
        _, h2 = self.up(v, generator)
        h2, _ = self.top.generate(h2, steps, generator)
        _, p = self.down(h2, generator)
        return h2, p

    def generate(
        self, h2: torch.Tensor, steps: int = 100, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """SPEC 2.3: from a given, possibly real-valued, top state (as in SPEC 1.7), run
        ``steps`` Gibbs steps h2 -> h1 -> h2 in the top RBM, then the down pass.
        Returns (final top state h2, p(v = 1 | h1))."""
        h2, _ = self.top.generate(h2, steps, generator)
        _, p = self.down(h2, generator)
        return h2, p

    @torch.no_grad()
    def sample_chains(
        self, n: int, generator: torch.Generator | None = None, steps: int = 1000
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """n chains from uniformly random h1 states, ``steps`` Gibbs steps in the top RBM, then
        the down pass. Returns (top states h2, p(v = 1 | h1))."""
        W = self.top.W
        h1 = bernoulli(torch.full((n, self.n_h1), 0.5, device=W.device, dtype=W.dtype), generator)
        _, h2 = self.top.sample_h(h1, generator)
        return self.generate(h2, steps, generator)

    def sample(self, n: int, generator: torch.Generator | None = None, steps: int = 1000) -> torch.Tensor:
        """n new images p(v = 1 | h1) from :meth:`sample_chains`."""
        return self.sample_chains(n, generator, steps)[1]


class DBN(BeliefNet):
    """RBM 1 (W1, v_bias, h1_bias) under a top RBM (W2, top_v_bias, h2_bias), lower weights tied."""

    family = "dbn"

    def __init__(self, rbm1: RBM, top: RBM) -> None:
        super().__init__()
        if top.n_visible != rbm1.n_hidden:
            raise ValueError(f"the top RBM has {top.n_visible} visible units, RBM 1 has {rbm1.n_hidden} hidden units")
        self.rbm1 = rbm1
        self.top = top

    @classmethod
    def stack(
        cls,
        rbm1: RBM,
        n_h2: int = 100,
        init_std: float = 0.1,
        transpose: bool = False,
        generator: torch.Generator | None = None,
    ) -> DBN:
        """A new top RBM on RBM 1's hidden layer (SPEC 2).

        Its visible bias starts as RBM 1's hidden bias. With ``transpose`` (SPEC 2.4) it
        has as many hidden units as RBM 1 has visible units and starts as RBM 1 upside
        down: W2 = W1^T and h2 bias = RBM 1's visible bias. The DBN then defines exactly
        RBM 1's distribution over v, and q(h1 | v) is its exact posterior (Hinton,
        Osindero & Teh 2006), so the variational bound starts at RBM 1's log p(v).
        Otherwise W2 ~ N(0, init_std^2) and the h2 bias is zero.
        """
        W1 = rbm1.W.data
        if transpose:
            if n_h2 != rbm1.n_visible:
                raise ValueError(f"W2 = W1^T needs {rbm1.n_visible} top hidden units, got {n_h2}")
            top = RBM(rbm1.n_hidden, n_h2, init_std=0.0, device=W1.device, dtype=W1.dtype)
            top.W.data.copy_(W1.t())
            top.h_bias.data.copy_(rbm1.v_bias.data)
        else:
            top = RBM(rbm1.n_hidden, n_h2, init_std, generator=generator, device=W1.device, dtype=W1.dtype)
        top.v_bias.data.copy_(rbm1.h_bias.data)
        return cls(rbm1, top)

    @property
    def n_visible(self) -> int:
        return self.rbm1.n_visible

    def h1_logits(self, v: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.rbm1.h_bias, v, self.rbm1.W)

    def v_logits(self, h1: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.rbm1.v_bias, h1, self.rbm1.W.t())

    def tensors(self) -> dict[str, torch.Tensor]:
        return {
            "W1": self.rbm1.W.data,
            "v_bias": self.rbm1.v_bias.data,
            "h1_bias": self.rbm1.h_bias.data,
            "W2": self.top.W.data,
            "top_v_bias": self.top.v_bias.data,
            "h2_bias": self.top.h_bias.data,
        }

    def saved_config(self) -> dict[str, int]:
        return {"rbm_hidden": self.n_h1, "top_hidden": self.n_h2}

    @classmethod
    def from_tensors(cls, t: dict[str, torch.Tensor]) -> DBN:
        rbm1 = RBM.from_tensors({"W": t["W1"], "v_bias": t["v_bias"], "h_bias": t["h1_bias"]})
        top = RBM.from_tensors({"W": t["W2"], "v_bias": t["top_v_bias"], "h_bias": t["h2_bias"]})
        return cls(rbm1, top)

    @staticmethod
    def shapes(n_visible: int, n_h1: int, n_h2: int) -> dict[str, tuple[int, ...]]:
        return {
            "W1": (n_visible, n_h1), "v_bias": (n_visible,), "h1_bias": (n_h1,),
            "W2": (n_h1, n_h2), "top_v_bias": (n_h1,), "h2_bias": (n_h2,),
        }


class UpDownDBN(BeliefNet):
    """A DBN with untied lower weights, for up-down fine-tuning (SPEC task 3).

    q(h1 = 1 | v) = sigma(v R1 + h1_bias_up); p(v = 1 | h1) = sigma(h1 W1_down^T + v_bias_down);
    the top RBM (W2, top_v_bias, h2_bias) keeps its tied weights.
    """

    family = "dbn-finetune"

    def __init__(self, n_visible: int, n_h1: int, n_h2: int, device: torch.device | str | None = None,
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__()

        def param(*shape: int) -> nn.Parameter:
            return nn.Parameter(torch.zeros(*shape, device=device, dtype=dtype), requires_grad=False)

        self.R1 = param(n_visible, n_h1)
        self.h1_bias_up = param(n_h1)
        self.W1_down = param(n_visible, n_h1)
        self.v_bias_down = param(n_visible)
        self.top = RBM(n_h1, n_h2, init_std=0.0, device=device, dtype=dtype)

    @classmethod
    def from_dbn(cls, dbn: DBN) -> UpDownDBN:
        """Untie the DBN: R1 and W1_down both start as W1, the up and down biases as RBM 1's."""
        return cls.from_tensors({
            "R1": dbn.rbm1.W.data, "h1_bias_up": dbn.rbm1.h_bias.data,
            "W1_down": dbn.rbm1.W.data, "v_bias_down": dbn.rbm1.v_bias.data,
            "W2": dbn.top.W.data, "top_v_bias": dbn.top.v_bias.data, "h2_bias": dbn.top.h_bias.data,
        })

    @property
    def n_visible(self) -> int:
        return self.R1.shape[0]

    def h1_logits(self, v: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.h1_bias_up, v, self.R1)

    def v_logits(self, h1: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.v_bias_down, h1, self.W1_down.t())

    def tensors(self) -> dict[str, torch.Tensor]:
        return {
            "R1": self.R1.data,
            "h1_bias_up": self.h1_bias_up.data,
            "W1_down": self.W1_down.data,
            "v_bias_down": self.v_bias_down.data,
            "W2": self.top.W.data,
            "top_v_bias": self.top.v_bias.data,
            "h2_bias": self.top.h_bias.data,
        }

    def saved_config(self) -> dict[str, int]:
        return {}

    def saved_meta(self) -> dict[str, dict[str, dict[str, int]]]:
        """The layer sizes, which a fine-tuned run records as those of the DBN it started from."""
        return {"source": {"config": {"rbm_hidden": self.n_h1, "top_hidden": self.n_h2}}}

    @classmethod
    def from_tensors(cls, t: dict[str, torch.Tensor]) -> UpDownDBN:
        (n_visible, n_h1), n_h2 = t["R1"].shape, t["W2"].shape[1]
        model = cls(n_visible, n_h1, n_h2, device=t["R1"].device, dtype=t["R1"].dtype)
        for name, tensor in model.tensors().items():
            tensor.copy_(t[name])
        return model

    @staticmethod
    def shapes(n_visible: int, n_h1: int, n_h2: int) -> dict[str, tuple[int, ...]]:
        return {
            "R1": (n_visible, n_h1), "h1_bias_up": (n_h1,), "W1_down": (n_visible, n_h1), "v_bias_down": (n_visible,),
            "W2": (n_h1, n_h2), "top_v_bias": (n_h1,), "h2_bias": (n_h2,),
        }
