"""Contrastive divergence: one CD-k (or PCD-k) update of an RBM (SPEC task 1).

For a minibatch of N visible vectors v^0, in the form of the textbook::

    positive phase   p(h | v^0), from the data
    negative phase   k steps of Gibbs sampling, h ~ p(h | v) then v ~ p(v | h), starting
                     at the data (CD, Hinton 2002) or where the previous minibatch's chains
                     stopped (persistent CD, Tieleman 2008), optionally at several temperatures
                     that swap states (parallel tempering, genlab.algorithms.tempering);
                     p(h | v^k) at the end
    update           dW = lr * (<v h>^0 - <v h>^k) / N  - lr * weight_decay * W
                     da = lr * (<v>^0 - <v>^k),  db = lr * (<h>^0 - <h>^k)   (means over the minibatch)

with momentum m: velocity = m * velocity + (the update / lr); parameter += lr * velocity.
The statistics <v h> use the hidden probabilities p(h | v), not samples (Hinton's guide:
less noise, the same expectation); the last hidden state of the chain is not sampled.

Centring (Montavon & Mueller 2012; Melchior, Fischer & Wiskott, JMLR 2016) writes the energy
with offsets mu (visible) and lambda (hidden), E = -(v - mu)^T W (h - lambda) - ..., which
leaves the model family unchanged but conditions the gradient far better. genlab keeps the
plain parameters (W, a, b of the equivalent plain RBM) and applies the *centred gradient*,
the published update expressed in them (the paper's Algorithm 1, offsets of the data, "dd")::

    mu     <- (1 - nu) mu     + nu <v>^0            (sliding means of the data ...
    lambda <- (1 - nu) lambda + nu <p(h | v)>^0      ... and of its hidden probabilities)
    dW_c   =  dW - da lambda^T - mu db^T
    da_c   =  da - dW_c lambda,     db_c = db - dW_c^T mu

where dW, da, db are the plain CD statistics above; weight decay and momentum act on the
centred gradient. With the offsets held at zero it is the plain update.

Every random draw comes from ``random``: a ``torch.Generator`` on the plain path, or a
counter-based stream on the fast paths, which draw in this same order.

Data-parallel (several processes, :mod:`genlab.distributed`), ``v0`` holds this rank's rows of the
global minibatch: the means <.>^0 and <.>^k become the means over every rank's rows
(:func:`~genlab.distributed.mean_over_ranks`, nothing to do in one process) before the update, so
every rank makes the same update; the persistent chains stay with their rows' rank.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from genlab.algorithms.tempering import inverse_temperatures, tempered_step
from genlab.distributed import mean_over_ranks
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
    centering: bool = False  # the centred gradient, with offsets of the data (Melchior et al. 2016)
    offset_rate: float = 0.01  # nu: how fast the offsets follow the minibatch means
    temperatures: int = 1  # > 1: persistent chains with parallel tempering at this many temperatures


@dataclass
class CDState:
    """What carries over between minibatches: momentum velocities, the persistent chains and, when
    centring, the offsets (``v_offset`` mu and ``h_offset`` lambda)."""

    velocity: dict[str, torch.Tensor] = field(default_factory=dict)
    chain: torch.Tensor | None = None
    offsets: dict[str, torch.Tensor] = field(default_factory=dict)

    def tensors(self) -> dict[str, torch.Tensor]:
        """The state as named tensors (``velocity.W``, ..., ``chain``, ``offset.v_offset``), e.g. for a checkpoint."""
        named = {f"velocity.{name}": v for name, v in self.velocity.items()}
        named.update({f"offset.{name}": t for name, t in self.offsets.items()})
        return named if self.chain is None else {**named, "chain": self.chain}

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor]) -> CDState:
        velocity = {name.removeprefix("velocity."): t for name, t in tensors.items() if name.startswith("velocity.")}
        offsets = {name.removeprefix("offset."): t for name, t in tensors.items() if name.startswith("offset.")}
        return cls(velocity, tensors.get("chain"), offsets)


def initial_offsets(rbm: RBM, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The offsets centring starts from (as published): mu the data's pixel means, lambda = 0.5."""
    return {"v_offset": x.mean(0).to(rbm.W.dtype),
            "h_offset": torch.full((rbm.n_hidden,), 0.5, device=rbm.W.device, dtype=rbm.W.dtype)}


def start_centred(rbm: RBM, x: torch.Tensor, eps: float = 1e-3) -> dict[str, torch.Tensor]:
    """Start centred training as published: the offsets of :func:`initial_offsets`, and the centred
    biases logit(mu) (visible) and logit(lambda) = 0 (hidden), written as the plain RBM's biases
    a = logit(mu) - W lambda and b = -W^T mu. Returns the offsets."""
    offsets = initial_offsets(rbm, x)
    mu, lam = offsets["v_offset"], offsets["h_offset"]
    rbm.v_bias.data.copy_(torch.logit(mu, eps) - rbm.W @ lam)
    rbm.h_bias.data.copy_(-(mu @ rbm.W))
    return offsets


def centred(grads: dict[str, torch.Tensor], v_offset: torch.Tensor, h_offset: torch.Tensor) -> dict[str, torch.Tensor]:
    """The centred gradient of the plain parameters from the plain one (see the module's docstring)."""
    W = grads["W"] - torch.outer(grads["v_bias"], h_offset) - torch.outer(v_offset, grads["h_bias"])
    return {"W": W, "v_bias": grads["v_bias"] - W @ h_offset, "h_bias": grads["h_bias"] - v_offset @ W}


def draws_per_update(cd: CD) -> int:
    """How many times :func:`cd_update` draws random numbers: h^0, then the negative phase's draws (h from
    the persistent chains; k v's and k - 1 h's; with tempering k h's and k v's at each temperature and
    one swap decision per neighbouring pair)."""
    if cd.temperatures > 1:
        return 1 + cd.temperatures * 2 * cd.k + cd.temperatures - 1
    return 1 + int(cd.persistent) + 2 * cd.k - 1


def cd_update(rbm: RBM, v0: torch.Tensor, cd: CD, random: RandomStream = None, state: CDState | None = None) -> torch.Tensor:
    """One CD-k (or PCD-k) update of ``rbm`` in place on the minibatch ``v0``.

    Returns the reconstruction p(v = 1 | h^0), h^0 ~ p(h | v^0), computed on the way:
    the caller measures the reconstruction error with it.
    """
    if (cd.persistent or cd.momentum or cd.centering or cd.temperatures > 1) and state is None:
        raise ValueError("persistent chains, momentum and centring need a CDState to keep them between minibatches")
    n, k = v0.shape[0], cd.k

    # positive phase: the data and p(h | data); h^0 ~ p(h | v^0) gives the reconstruction
    ph0 = rbm.p_h(v0)
    h = bernoulli(ph0, random)
    recon = p_v = rbm.p_v(h)

    # negative phase: k Gibbs steps from the data (CD), from the persistent chains (PCD), or from
    # persistent chains at several temperatures that swap states (parallel tempering)
    if cd.temperatures > 1:
        v = tempered_negative_phase(rbm, v0, cd, state, random)
    else:
        if cd.persistent:
            if state.chain is None or state.chain.shape[0] < n:
                state.chain = v0.clone()  # the chains start at the first minibatch
            h = bernoulli(rbm.p_h(state.chain[:n]), random)  # a short (last) minibatch continues the first n chains
            p_v = rbm.p_v(h)
        for step in range(k):
            if step > 0:
                p_v = rbm.p_v(h)  # (the first p(v | h) is already computed)
            v = bernoulli(p_v, random)
            if step < k - 1:
                h = bernoulli(rbm.p_h(v), random)
        if cd.persistent:
            state.chain[:n] = v
    ph = rbm.p_h(v)

    # update: the positive statistics minus the negative ones (their means over every rank's rows)
    grads = mean_over_ranks({
        "W": (v0.t() @ ph0).sub_(v.t() @ ph).div_(n),
        "v_bias": (v0 - v).mean(0),
        "h_bias": (ph0 - ph).mean(0),
    }, n, "summing the CD statistics")
    if cd.centering:
        offsets = state.offsets or initial_offsets(rbm, v0)
        nu = cd.offset_rate
        means = mean_over_ranks({"v": v0.mean(0), "h": ph0.mean(0)}, n, "summing the offsets' means")
        state.offsets = {"v_offset": offsets["v_offset"].mul(1 - nu).add_(means["v"], alpha=nu),
                         "h_offset": offsets["h_offset"].mul(1 - nu).add_(means["h"], alpha=nu)}
        grads = centred(grads, state.offsets["v_offset"], state.offsets["h_offset"])
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


def tempered_negative_phase(rbm: RBM, v0: torch.Tensor, cd: CD, state: CDState, random: RandomStream) -> torch.Tensor:
    """PCD-k with parallel tempering: ``state.chain`` holds [temperatures, chains, n_visible] persistent
    states, all starting at the first minibatch; returns the new states of the chains at beta = 1."""
    n = v0.shape[0]
    if state.chain is None or state.chain.dim() != 3 or state.chain.shape[1] < n:
        state.chain = v0.expand(cd.temperatures, *v0.shape).clone()
    betas = inverse_temperatures(cd.temperatures).tolist()
    state.chain[:, :n] = tempered_step(rbm, state.chain[:, :n], betas, cd.k, random)
    return state.chain[0, :n]


def rbm_step(rbm: RBM, probs: torch.Tensor, cd: CD, binarize: bool = True, state: CDState | None = None,
             random: RandomStream = None) -> torch.Tensor:
    """One training step on a minibatch of pixel probabilities (SPEC 1): v^0 a fresh Bernoulli sample of
    them (or, without ``binarize``, the probabilities themselves, SPEC 1.4), then :func:`cd_update`.
    Returns the summed squared error between the pixels and their reconstructions."""
    v0 = bernoulli(probs, random) if binarize else probs
    recon = cd_update(rbm, v0, cd, random, state)
    return (probs - recon).square().sum()
