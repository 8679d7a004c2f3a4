"""``genlab lab literature``: genlab's strongest configurations of each model class against the published
test log-likelihoods of the same classes on binarised MNIST, into ``OUT/literature/report.md`` and
``results.json``: genlab's number, its interval and conservative estimate, the literature's number and
its source, the protocol of both, wall time and device.

Presets: ``tiny`` (a smoke test), ``quick`` (minutes on a 2-core CPU: the trend only), ``cpu`` (about an
hour on a 2-core CPU) and ``full`` (the published training budgets, meant for a GPU).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genlab.evaluation.config import EvalConfig
from genlab.evaluation.protocol import conservative_above_model, conservative_caveat, interval_text, protocol_line
from genlab.lab.core import Lab
from genlab.lab.executor import Job
from genlab.lab.presets import TINY_EVAL, TINY_IMAGES, Preset
from genlab.lab.report import Section, Table
from genlab.lab.task import TITLES
from genlab.training.dbn import DBNConfig
from genlab.training.rbm import RBMConfig
from genlab.training.session import TrainConfig
from genlab.training.vae import VAEConfig


@dataclass(frozen=True)
class Reference:
    """A published test log-likelihood of a model class, with its source and protocol (SPEC's table of references)."""

    model: str
    loglik: float
    source: str
    protocol: str


SM2008 = "Salakhutdinov & Murray (2008)"
BURDA2016 = "Burda, Grosse & Salakhutdinov (2016)"
# each family's strong run, and the published numbers it is measured against
REFERENCES: dict[str, list[Reference]] = {
    "rbm": [Reference("RBM 500 hidden, CD-25", -86.34, SM2008, "AIS"),
            Reference("RBM 500 hidden, centred, PCD-1, 200 epochs", -84.86, "PyDeep's MNIST tutorial (Melchior et al.'s centring)",
                      "AIS; -96.61 by reverse AIS")],
    "dbn": [Reference("DBN 784-500-2000", -86.22, SM2008, "AIS-based variational lower bound")],
    "vae": [Reference("VAE, one stochastic layer, k = 1", -86.76, BURDA2016, "dynamic binarisation, IWAE-5000 evaluation"),
            Reference("VAE with KL warm-up", -86.32, "a public reimplementation of Burda et al.", "dynamic binarisation, IWAE-5000 evaluation")],
    "iwae": [Reference("IWAE, one stochastic layer, k = 50", -84.78, BURDA2016, "dynamic binarisation, IWAE-5000 evaluation")],
}


FAMILIES: dict[type, str] = {RBMConfig: "rbm", DBNConfig: "dbn", VAEConfig: "vae"}


def family_of(config: TrainConfig) -> str:
    return FAMILIES[type(config)]


def references_of(config: TrainConfig) -> list[Reference]:
    """The published numbers a strong run is measured against: its model class's."""
    if isinstance(config, VAEConfig) and config.iwae_train_k > 1:
        return REFERENCES["iwae"]
    return REFERENCES[family_of(config)]


def strong_runs(epochs: dict[str, int], limit: int | None, iwae_k: int) -> dict[str, TrainConfig]:
    """The strong configurations by label, trained ``epochs[key]`` epochs (keys rbm, dbn, vae, iwae) on the first
    ``limit`` training images.

    The RBM is centred (Melchior, Fischer & Wiskott 2016) and trained with PCD-1 at PyDeep's learning
    rate of 0.01 without momentum (measured on all 60,000 images, 50 epochs: -99.9 nats by a quick AIS
    against -133.8 by the full AIS for a learning rate of 0.05 with momentum 0.5); the DBN stacks a centred
    top RBM of 2,000 units on a centred RBM of 500; the VAEs follow Burda et al. (2016): 50 latent
    dimensions, dynamic binarisation, minibatch 100, the output bias at the logit of the mean image; the
    first with the ELBO and a linear KL warm-up over a tenth of its epochs, the second with the IWAE
    objective of ``iwae_k`` samples.
    """
    vae = VAEConfig(latent=50, targets="binarized", batch_size=100, lr=1e-3, output_bias="mean", epochs=epochs["vae"],
                    limit=limit)
    return {
        "RBM 500 hidden, centred, PCD-1": RBMConfig(hidden=500, persistent=True, centering=True, lr=0.01,
                                                    epochs=epochs["rbm"], limit=limit),
        "DBN 784-500-2000, centred": DBNConfig(rbm_hidden=500, top_hidden=2000, centering=True, lr=0.05,
                                               epochs=epochs["dbn"], limit=limit),
        "VAE 50-D, ELBO, KL warm-up": vae.replace(kl_warmup=max(1, epochs["vae"] // 10)),
        f"VAE 50-D, IWAE objective, k = {iwae_k}": vae.replace(iwae_train_k=iwae_k, epochs=epochs["iwae"]),
    }


def preset(name: str, epochs: dict[str, int], limit: int | None, iwae_k: int, e: EvalConfig, note: str) -> Preset:
    return Preset(name, strong_runs(epochs, limit, iwae_k), e, note)


NAMES = ("tiny", "quick", "cpu", "full")
PRESETS = {
    "tiny": preset("tiny", {"rbm": 2, "dbn": 2, "vae": 2, "iwae": 2}, TINY_IMAGES, 2,
                   TINY_EVAL.replace(iwae_k=10, samples=0),
                   "a smoke test, not a measurement: 500 training images, 2 epochs, tiny estimators"),
    "quick": preset("quick", {"rbm": 10, "dbn": 10, "vae": 10, "iwae": 10}, 10_000, 5, EvalConfig(quick=True, samples=0),
                    "the trend only: the first 10,000 training images, 10 epochs each, the IWAE objective with k = 5, "
                    "genlab eval --quick's estimators"),
    "cpu": preset("cpu", {"rbm": 100, "dbn": 25, "vae": 120, "iwae": 60}, None, 5, EvalConfig(samples=0),
                  "sized for about an hour on a 2-core CPU: all 60,000 images, 100 epochs (RBM), 25 per layer (DBN), "
                  "120 (the VAE with warm-up), 60 (the IWAE objective, k = 5); genlab eval's full estimators"),
    "full": preset("full", {"rbm": 200, "dbn": 200, "vae": 3280, "iwae": 3280}, None, 50, EvalConfig(samples=0),
                   "the published budgets: 200 epochs (RBM, each DBN layer), 3,280 (VAEs, Burda et al.'s schedule "
                   "length), the IWAE objective with k = 50; genlab eval's full estimators"),
}

COLUMNS = ["model", "genlab (nats)", "interval", "conservative (nats)", "published model", "published (nats)",
           "genlab minus published (nats)", "source", "genlab's protocol", "published protocol", "train time (s)", "device"]


def rows(label: str, config: TrainConfig, ev: dict[str, Any], meta: dict[str, Any]) -> list[list[Any]]:
    """One row per published number the run of ``config`` is measured against."""
    ours = [label, ev["test_loglik"], interval_text(ev), ev.get("test_loglik_conservative")]
    return [ours + [r.model, r.loglik, round(ev["test_loglik"] - r.loglik, 2), r.source,
                    protocol_line(ev["protocol"]) if "protocol" in ev else "n/a", r.protocol,
                    f"{meta.get('train_time_s', 0.0):.0f}", meta.get("device")] for r in references_of(config)]


def observations(table_rows: list[list[Any]], no_bound: set[str] = frozenset()) -> list[str]:
    """Where each model stands against each published number, from the table's rows; ``no_bound``: the models
    whose conservative estimate is no lower bound (:func:`~genlab.evaluation.protocol.conservative_above_model`)."""
    out = []
    for r in table_rows:
        label, ours, _, conservative, model, theirs, gap = r[:7]
        line = (f"{label}: {ours:.2f} nats, {abs(gap):.2f} {'above' if gap >= 0 else 'below'} the published {theirs:.2f} "
                f"({model})")
        if label in no_bound:
            line += (f"; its conservative estimate {conservative:.2f} lies above the AIS estimate, so it is no bound "
                     "here (the table's note)")
        elif conservative is not None:
            line += (f"; the conservative estimate {conservative:.2f} "
                     f"{'also passes' if conservative >= theirs else 'does not reach'} it")
        out.append(line + ".")
    return out


def run(p: Preset, out: Path, device: str | torch.device = "auto", data_dir=None, progress: bool = True) -> Path:
    """``genlab lab literature``: train and measure every strong configuration; one table against the literature."""
    lab = Lab(out, p.name, device, data_dir, progress)
    task = lab.task_dir("literature")
    report = lab.report("literature", TITLES["literature"])
    table_rows, evals = [], {}
    for label, config in p.runs.items():
        run_ = lab.train(family_of(config), config, f"({label})")
        evals[label] = lab.evaluate(run_, p.eval)
        table_rows += rows(label, config, evals[label], run_.meta)
        report.models[label] = run_.path
    report.add(Section(
        "Against the literature",
        "Test log-likelihood on binarised MNIST, nats (higher is better), of genlab's strongest configuration of "
        "each model class beside the published number of the same class. Compare numbers of the same protocol only: "
        "static and dynamic binarisation differ by about 2 nats.",
        configs={label: config.to_dict() for label, config in p.runs.items()},
        tables=[Table("genlab against the literature", COLUMNS, table_rows,
                      note=" ".join(part for part in (f"Preset {p.name}: {p.note}.", conservative_caveat(evals)) if part))],
        observations=observations(table_rows, {label for label, ev in evals.items() if conservative_above_model(ev)}),
    ))
    report.write(task)
    lab.say(f"done: {lab.trained} runs trained, {lab.reused} re-used; report in {task / 'report.md'}")
    return task


def plan(p: Preset) -> list[Job]:
    """The runs :func:`run` trains with the preset ``p`` (for :mod:`genlab.lab.executor`)."""
    return [Job(family_of(config), config, f"({label})", p.eval) for label, config in p.runs.items()]
