"""The two DBN updates: greedy training of the top RBM (SPEC task 2) and up-down fine-tuning (SPEC task 3).

Greedy stacking: RBM 1 is trained as in SPEC 1 and frozen. The top RBM is trained with
CD-k (k = 2) on hidden samples of RBM 1: for each minibatch a fresh binary image
v ~ Bernoulli(pixels) and h1 ~ p(h1 | v), then the CD update of
:func:`genlab.algorithms.cd.cd_update` on h1 (:func:`greedy_step`).

Up-down fine-tuning (Hinton, Osindero & Teh 2006, appendix), per minibatch of N binary
images v. Every quantity is computed from the parameters as they are at the start of the
minibatch, then all updates are applied, each averaged over the minibatch (<.> below; data-parallel,
over every rank's rows of it: :func:`genlab.distributed.mean_over_ranks`)::

    wake   s1 ~ sigma(v R1 + b_up)                         recognition (up) pass
           v_new ~ sigma(s1 W1'^T + a_down)                 what the generative weights predict
           dW1' = lr <(v - v_new)^T s1>,  da_down = lr <v - v_new>
    top    CD-k of the top RBM starting at h1 = s1 (k = 2), the rule of SPEC 1 with
           p(h2 | h1) in the statistics; its chain ends at the h1 state s1_down
           dW2 = lr (<s1^T p(h2|s1)> - <s1_down^T p(h2|s1_down)>)
           d top_v_bias = lr <s1 - s1_down>,  d h2_bias = lr <p(h2|s1) - p(h2|s1_down)>
    sleep  v_down ~ sigma(s1_down W1'^T + a_down)           generative (down) pass
           s1_new ~ sigma(v_down R1 + b_up)                 what the recognition weights predict
           dR1 = lr <v_down^T (s1_down - s1_new)>,  db_up = lr <s1_down - s1_new>

``v_new``, ``v_down`` and ``s1_new`` are samples as SPEC 3 says; without
``sample_predictions`` they are the probabilities themselves, as in the
appendix's code (the updates have the same expectation, with less noise). The appendix
also uses sampled top states in the top RBM's statistics; p(h2 | h1) has the same
expectation.
"""

from __future__ import annotations

import torch

from genlab.algorithms.cd import CD, CDState, cd_update
from genlab.distributed import mean_over_ranks
from genlab.models.dbn import DBN, UpDownDBN
from genlab.rng import RandomStream, bernoulli


def greedy_step(dbn: DBN, probs: torch.Tensor, cd: CD, random: RandomStream = None,
                state: CDState | None = None) -> torch.Tensor:
    """One CD update of the top RBM on h1 ~ p(h1 | v), v ~ Bernoulli(probs), RBM 1 frozen (``state``: the
    top RBM's, for centring). Returns the summed squared error of the top RBM's reconstruction of h1."""
    v = bernoulli(probs, random)
    h1 = bernoulli(dbn.p_h1(v), random)
    recon = cd_update(dbn.top, h1, cd, random, state)
    return (h1 - recon).square().sum()


@torch.no_grad()
def updown_step(
    model: UpDownDBN,
    v: torch.Tensor,
    lr: float,
    k: int = 2,
    random: RandomStream = None,
    sample_predictions: bool = True,
) -> torch.Tensor:
    """One up-down update of ``model`` in place on the binary minibatch ``v`` (module docstring).

    Returns p(v = 1 | s1) of the wake pass (the caller measures the reconstruction error with it).
    """
    def predict(p: torch.Tensor) -> torch.Tensor:
        return bernoulli(p, random) if sample_predictions else p

    n = v.shape[0]
    top = model.top
    # wake: recognise, and see what the generative weights predict of the data
    s1 = bernoulli(model.p_h1(v), random)
    p_wake = model.p_v(s1)
    v_new = predict(p_wake)
    # top RBM: CD-k from h1 = s1
    ph2_0 = top.p_h(s1)
    h2 = bernoulli(ph2_0, random)
    for step in range(k):
        s1_down = bernoulli(top.p_v(h2), random)
        ph2 = top.p_h(s1_down)
        if step < k - 1:
            h2 = bernoulli(ph2, random)
    # sleep: generate from the top RBM's h1 state, and see what the recognition weights predict of it
    v_down = predict(model.p_v(s1_down))
    s1_new = predict(model.p_h1(v_down))

    updates = mean_over_ranks({
        "W1_down": (v - v_new).t() @ s1 / n,
        "v_bias_down": (v - v_new).mean(0),
        "W2": (s1.t() @ ph2_0 - s1_down.t() @ ph2) / n,
        "top_v_bias": (s1 - s1_down).mean(0),
        "h2_bias": (ph2_0 - ph2).mean(0),
        "R1": v_down.t() @ (s1_down - s1_new) / n,
        "h1_bias_up": (s1_down - s1_new).mean(0),
    }, n, "summing the up-down statistics")
    params = model.tensors()
    for name, update in updates.items():
        params[name].add_(update, alpha=lr)
    return p_wake


def updown_minibatch(model: UpDownDBN, probs: torch.Tensor, lr: float, k: int, random: RandomStream,
                     sample_predictions: bool = True) -> torch.Tensor:
    """One up-down update on v ~ Bernoulli(probs); returns its summed squared wake reconstruction error."""
    p_wake = updown_step(model, bernoulli(probs, random), lr, k, random, sample_predictions)
    return (probs - p_wake).square_().sum()
