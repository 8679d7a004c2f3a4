"""Presets planned from measured costs: how much of the lab's own settings each run gets in a budget.

A preset that cannot give every run the lab's settings has to choose what to cut. Rather than guess,
the lab plans it from what each run costs, measured on one machine class (the tables below; measured
by ``benchmarks/lab_costs.py``, which prints them), and a budget of wall time for the whole
``genlab lab all``:

1. every run's fixed costs come first: the start of its path (choosing it, compiling a step) and its
   evaluation at the preset's sizes, the lab's own work beside the runs (figures, chains, the metrics
   classifier), and the least training that lets the run show what its experiment is about (its
   ``minimum``);
2. then the runs the preset keeps at the lab's settings (``keep``: the CD-1 runs of task 1, tasks 2
   and 3): in full when they fit, else all at one fraction of their epochs;
3. then the rest (CD-k with large k, PCD, the VAE, the DCGAN), all at one fraction of their epochs,
   the largest that fits.

Each run takes the cheaper of its two paths for the epochs it gets: the fast one (after its start) or
the plain loop, which compiles nothing (``compile=False``: the same numbers up to rounding, the run's
identity unchanged). A run whose share is below one epoch trains one epoch on as many images as the
share buys (the DCGAN's). :func:`shares` returns what each run gets; :func:`budget_note` says it
against the lab's settings, for the reports.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TRAIN_IMAGES = 60_000  # MNIST's training set: the images of a full epoch


@dataclass(frozen=True)
class Cost:
    """What one run costs on a machine class, in seconds of wall time."""

    epoch_s: float  # one epoch on all training images, on the run's fast path
    start_s: float = 0.0  # once per run on the fast path: choosing it, compiling its step
    plain_epoch_s: float | None = None  # one epoch on the plain loop (None: not weighed; the run keeps its path)
    eval_s: float = 0.0  # its evaluation at the preset's sizes

    def train_s(self, epochs: float) -> float:
        """Seconds of training for ``epochs`` (full-set) epochs on the cheaper path."""
        fast = self.start_s + epochs * self.epoch_s
        return fast if self.plain_epoch_s is None else min(fast, epochs * self.plain_epoch_s)

    def plain_is_cheaper(self, epochs: float) -> bool:
        return self.plain_epoch_s is not None and epochs * self.plain_epoch_s < self.start_s + epochs * self.epoch_s


@dataclass(frozen=True)
class Item:
    """One run of the lab to plan: its label, its epochs at the lab's settings, its cost, whether the preset
    keeps it at the lab's settings first, and the (full-set) epochs it gets whatever the budget."""

    label: str
    epochs: int
    cost: Cost
    keep: bool = False
    minimum: float = 1.0


@dataclass(frozen=True)
class Share:
    """What a run gets: (full-set) epochs, possibly below one, and whether it runs on the plain loop."""

    epochs: float
    plain: bool

    def changes(self, lab_epochs: int, batch_size: int) -> dict[str, Any]:
        """The config changes that give a run this share: whole epochs on every image, or one epoch on the
        first images of the share (at least one minibatch) when it is below one epoch."""
        changes: dict[str, Any] = {"compile": False} if self.plain else {}
        if self.epochs >= 1:
            epochs = min(lab_epochs, math.floor(self.epochs + 1e-6))  # (a bisection's 9.9999999 is 10)
            return changes | {"epochs": epochs}
        return changes | {"epochs": 1, "limit": max(batch_size, round(self.epochs * TRAIN_IMAGES / batch_size) * batch_size)}


def shares(items: Sequence[Item], budget_s: float, overhead_s: float = 0.0) -> dict[str, Share]:
    """Each run's share of its lab epochs within ``budget_s`` seconds (with ``overhead_s`` of the lab's own
    work): every run its minimum, then the ``keep`` runs at one fraction of their epochs, then the rest at
    another (each run at least its minimum)."""

    def given(f_keep: float, f_rest: float) -> dict[str, float]:
        return {i.label: max(i.minimum, i.epochs * (f_keep if i.keep else f_rest)) for i in items}

    def total(epochs: Mapping[str, float]) -> float:
        return overhead_s + sum(i.cost.eval_s + i.cost.train_s(epochs[i.label]) for i in items)

    f_keep = largest(lambda f: total(given(f, 0.0)) <= budget_s)
    f_rest = largest(lambda f: total(given(f_keep, f)) <= budget_s) if f_keep == 1.0 else 0.0
    epochs = given(f_keep, f_rest)
    return {i.label: Share(epochs[i.label], i.cost.plain_is_cheaper(epochs[i.label])) for i in items}


def largest(fits: Any, steps: int = 40) -> float:
    """The largest fraction f in [0, 1] with ``fits(f)`` (which holds up to some f and not beyond), by bisection;
    0 when even nothing fits."""
    if fits(1.0):
        return 1.0
    low, high = 0.0, 1.0
    for _ in range(steps):
        mid = (low + high) / 2
        low, high = (mid, high) if fits(mid) else (low, mid)
    return low


def predicted_s(items: Sequence[Item], given: Mapping[str, Share], overhead_s: float = 0.0) -> float:
    """The plan's wall time: the lab's own work, and every run's training and evaluation."""
    return overhead_s + sum(i.cost.eval_s + i.cost.train_s(given[i.label].epochs) for i in items)


def budget_note(configs: Mapping[str, Any], lab_epochs: Mapping[str, int], names: Mapping[str, str] | None = None) -> str:
    """One sentence: the epochs (and images) each run got against the lab's settings, for a report's table;
    ``configs`` by the runs' labels in the plan, shown as ``names`` gives them."""
    parts = []
    for label, c in configs.items():
        images = "" if c.limit is None else f" of the first {c.limit:,} images"
        shown = (names or {}).get(label, label)
        parts.append(f"{shown}: {c.epochs} epoch{'s' if c.epochs != 1 else ''}{images} (lab: {lab_epochs[label]})")
    return "Budget of each run against the lab's settings: " + "; ".join(parts) + "."


# What each run of ``genlab lab all`` costs on a 2-core AMD EPYC with AVX-512 (the CPU class of this project's
# test machines), by its label in the lab, with the quick preset's evaluation (``EvalConfig(quick=True)``); epochs
# of all 60,000 training images (the DCGAN's at minibatch 16). Measured by ``benchmarks/lab_costs.py`` on three
# labs from empty caches, pooled: the quick lab (38 epochs of the runs kept, 5-10 of the rest) and the cpu lab
# (76 epochs of every run of tasks 1-4) of genlab 0.3.3, and the cpu lab of 100 epochs (commit dbab775) of
# docs/lab.md; on the path each run took there. The CD-k runs' kernel (genlab 0.3.4): ``genlab train rbm
# --cd-k K --epochs 3`` (docs/lab.md). The other path's numbers (``epoch_s`` and ``start_s`` of the compiled steps
# of a run that took the plain loop) are from the quick labs of 0.3.1 and 0.3.2 and runs of 1 or 2 epochs on the
# same machine. The reference's start includes building genlab's kernel and timing it against the steps; its
# evaluation, training the metrics classifier (once per cache, 22 s).
CPU_COSTS: dict[str, Cost] = {
    # task 1: CD-1 and CD-k on genlab's kernel
    "reference": Cost(0.48, start_s=47.2, eval_s=51.8),
    "real-valued v": Cost(1.24, start_s=19.0, plain_epoch_s=0.94, eval_s=18.3),
    "k=3": Cost(0.80, plain_epoch_s=1.72, eval_s=19.5),
    "k=10": Cost(1.65, plain_epoch_s=3.67, eval_s=18.2),
    "k=25": Cost(3.69, plain_epoch_s=8.82, eval_s=17.1),
    "lr=0.01": Cost(0.44, eval_s=16.8),
    "lr=0.03": Cost(0.39, eval_s=17.2),
    "lr=0.3": Cost(0.43, eval_s=21.1),
    "lr=1": Cost(0.41, eval_s=19.8),
    "25 hidden": Cost(0.31, eval_s=12.1),
    "50 hidden": Cost(0.26, eval_s=13.3),
    "250 hidden": Cost(0.85, eval_s=30.0),
    "500 hidden": Cost(1.26, eval_s=52.4),
    # PCD: the compiled steps (their start: compiling the step) or the plain loop
    "PCD": Cost(1.02, start_s=73.0, plain_epoch_s=1.27, eval_s=18.2),
    # tasks 2 and 3 (the top RBMs' fast path as the compiled steps it was until genlab 0.3.8, which runs them in the
    # native kernel on the CPU, without a start, not yet measured on this class: so the plan keeps them on the plain
    # loop, as before; fine-tuning has no fast path)
    "top RBM": Cost(0.58, start_s=52.0, plain_epoch_s=0.68, eval_s=10.1),
    "top RBM, 784 units": Cost(1.8, start_s=59.0, plain_epoch_s=1.64, eval_s=28.3),
    "fine-tuning": Cost(2.23, eval_s=13.0),
    # task 4: the fused Adam step compiled, or the plain loop
    "latent 20": Cost(1.5, start_s=21.0, plain_epoch_s=1.57, eval_s=5.7),
    "latent 2": Cost(1.5, start_s=21.0, plain_epoch_s=1.51, eval_s=5.9),
    # task 5: an epoch of 60,000 images at minibatch 16
    "reference: 1 D / 1 G step": Cost(1084, eval_s=13.1),
    "2 D steps per G step": Cost(884, eval_s=10.6),
    "2 G steps per D step": Cost(1595, eval_s=11.1),
    "no batch norm": Cost(1200, eval_s=10.0),
}
# The lab's own work beside its runs: figures, the chains and measurements of the reports, the cross-model table
# (the same labs' wall times less their runs')
CPU_OVERHEAD_S = 97.0
