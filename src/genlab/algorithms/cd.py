"""Contrastive divergence: one CD-k (or PCD-k) update of an RBM (SPEC task 1).

For a minibatch of N visible vectors v^0, in the form of the textbook::

    positive phase   p(h | v^0), from the data
    negative phase   k steps of Gibbs sampling, h ~ p(h | v) then v ~ p(v | h), starting
                     at the data (CD, Hinton 2002) or where the previous minibatch's chains
                     stopped (persistent CD, Tieleman 2008); p(h | v^k) at the end
    update           dW = lr * (<v h>^0 - <v h>^k) / N  - lr * weight_decay * W
                     da = lr * (<v>^0 - <v>^k),  db = lr * (<h>^0 - <h>^k)   (means over the minibatch)

with momentum m: velocity = m * velocity + (the update / lr); parameter += lr * velocity.
The statistics <v h> use the hidden probabilities p(h | v), not samples (Hinton's guide:
less noise, the same expectation); the last hidden state of the chain is not sampled.

Every random draw comes from ``random``: a ``torch.Generator`` on the plain path, or a
counter-based stream on the fast paths, which draw in this same order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from genlab.models.rbm import RBM
from genlab.rng import RandomStream, bernoulli


@dataclass(frozen=True)
class CD:
    """The settings of a CD-k update."""

    k: int = 1  # Gibbs steps of the negative phase
    lr: float = 0.1
    persistent: bool = False  # PCD: the negative chains continue from minibatch to minibatch
    momentum: float = 0.0
    weight_decay: float = 0.0  # L2 penalty on W


@dataclass
class CDState:
    """What carries over between minibatches: momentum velocities and the persistent chains."""

    velocity: dict[str, torch.Tensor] = field(default_factory=dict)
    chain: torch.Tensor | None = None

    def tensors(self) -> dict[str, torch.Tensor]:
        """The state as named tensors (``velocity.W``, ..., ``chain``), e.g. for a checkpoint."""
        named = {f"velocity.{name}": v for name, v in self.velocity.items()}
        return named if self.chain is None else {**named, "chain": self.chain}

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor]) -> CDState:
        velocity = {name.removeprefix("velocity."): t for name, t in tensors.items() if name.startswith("velocity.")}
        return cls(velocity, tensors.get("chain"))


def cd_update(rbm: RBM, v0: torch.Tensor, cd: CD, random: RandomStream = None, state: CDState | None = None) -> torch.Tensor:
    """One CD-k (or PCD-k) update of ``rbm`` in place on the minibatch ``v0``.

    Returns the reconstruction p(v = 1 | h^0), h^0 ~ p(h | v^0), computed on the way:
    the caller measures the reconstruction error with it.
    """
    if (cd.persistent or cd.momentum) and state is None:
        raise ValueError("persistent chains and momentum need a CDState to keep them between minibatches")
    n, k = v0.shape[0], cd.k

    # positive phase: the data and p(h | data); h^0 ~ p(h | v^0) gives the reconstruction
    ph0 = rbm.p_h(v0)
    h = bernoulli(ph0, random)
    recon = p_v = rbm.p_v(h)

    # negative phase: k Gibbs steps from the data, or from the persistent chains
    if cd.persistent:
        if state.chain is None or state.chain.shape[0] < n:
            state.chain = v0.clone()  # the chains start at the first minibatch
        h = bernoulli(rbm.p_h(state.chain[:n]), random)  # a short (last) minibatch continues the first n chains
        p_v = rbm.p_v(h)
    for step in range(k):
        if step > 0:
            p_v = rbm.p_v(h)  # (the first p(v | h) is already computed)
        v = bernoulli(p_v, random)
        ph = rbm.p_h(v)
        if step < k - 1:
            h = bernoulli(ph, random)
    if cd.persistent:
        state.chain[:n] = v

    # update: the positive statistics minus the negative ones
    grads = {
        "W": (v0.t() @ ph0).sub_(v.t() @ ph).div_(n),
        "v_bias": (v0 - v).mean(0),
        "h_bias": (ph0 - ph).mean(0),
    }
    if cd.weight_decay:
        grads["W"].sub_(rbm.W, alpha=cd.weight_decay)
    params = {"W": rbm.W.data, "v_bias": rbm.v_bias.data, "h_bias": rbm.h_bias.data}
    for name, grad in grads.items():
        if cd.momentum:
            velocity = state.velocity.get(name)
            grad = grad if velocity is None else velocity.mul_(cd.momentum).add_(grad)
            state.velocity[name] = grad
        params[name].add_(grad, alpha=cd.lr)
    return recon


def rbm_step(rbm: RBM, probs: torch.Tensor, cd: CD, binarize: bool = True, state: CDState | None = None,
             random: RandomStream = None) -> torch.Tensor:
    """One training step on a minibatch of pixel probabilities (SPEC 1): v^0 a fresh Bernoulli sample of
    them (or, without ``binarize``, the probabilities themselves, SPEC 1.4), then :func:`cd_update`.
    Returns the summed squared error between the pixels and their reconstructions."""
    v0 = bernoulli(probs, random) if binarize else probs
    recon = cd_update(rbm, v0, cd, random, state)
    return (probs - recon).square().sum()
