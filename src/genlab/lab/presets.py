"""What each lab task trains and how it measures, under the presets ``tiny``, ``quick``, ``cpu`` and ``full``.

* ``tiny``: a smoke test of every step in a few minutes (its numbers mean nothing);
* ``quick``: planned for :data:`QUICK_BUDGET_S` of ``genlab lab all`` on a 2-core CPU from the costs of every run
  measured there (:mod:`genlab.lab.budget`): as many of the lab's epochs as fit, the CD-1 runs of task 1 and tasks
  2 and 3 first, and the quick evaluation (``EvalConfig(quick=True)``);
* ``cpu``: planned the same way for :data:`CPU_BUDGET_S` (an hour), every run of tasks 1 to 4 first, the DCGANs
  after them;
* ``full``: the SPEC reference configs.

Every task's preset is a :class:`Preset`: the base config of each run it trains, how
every run is measured, the values of the settings its experiments compare, and a
sentence saying what the preset reduces from the SPEC reference (for the report).
"""

from __future__ import annotations

from collections.abc import Mapping
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from genlab.data import BINARIZE_SEED
from genlab.lab import budget
from genlab.evaluation.config import QUICK_TEST_STRIDE, EvalConfig
from genlab.training.dbn import DBNConfig
from genlab.training.dcgan import DCGANConfig
from genlab.training.rbm import RBMConfig
from genlab.training.session import TrainConfig
from genlab.training.updown import FinetuneConfig
from genlab.training.vae import VAEConfig

NAMES = ("tiny", "quick", "cpu", "full")

# What the tiny preset of every lab trains on and measures with.
TINY_IMAGES = 500  # first training images
TINY_TEST = 500  # first test images
# The tiny RBM and DBN evaluation: AIS with 10 runs x 200 distributions, RAISE with 50 (genlab eval: 1,000; the
# quick evaluation: 300) and 20 Gibbs steps for log Z's floor (1,000; 300)
TINY_EVAL = EvalConfig(test_limit=TINY_TEST, ais_runs=10, ais_betas=200, floor_steps=20, raise_betas=50,
                       samples=TINY_TEST)


@dataclass(frozen=True)
class Preset:
    """What a lab task trains and measures under one preset name."""

    name: str
    runs: Mapping[str, TrainConfig]  # the base config of each run, by its role in the task
    eval: EvalConfig  # how every run is measured
    note: str  # what the preset reduces from the SPEC reference, for the report
    compare: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)  # setting -> the values an experiment compares
    # what the preset gives single runs instead of their base config's settings, by the run's label (the budget
    # a plan gave them: epochs, images, path; genlab.lab.budget)
    changes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def variant(self, label: str, config: TrainConfig) -> TrainConfig:
        """The config of the run ``label``: ``config`` with this preset's changes for that run."""
        return config.replace(**self.changes.get(label, {}))


# ----------------------------------------------------------------------------- the planned presets

QUICK_BUDGET_S = 25 * 60 + 30  # genlab lab all --preset quick on a 2-core CPU (docs/lab.md, "The quick preset": why not 15)
CPU_BUDGET_S = 60 * 60  # genlab lab all --preset cpu on a 2-core CPU
QUICK_EVAL = EvalConfig(quick=True)  # every 5th test image, AIS 100 x 4,000, RAISE 300, IWAE k = 500, 1,000 samples

# The DCGAN lab's runs, in every preset: label, short name (file names), the change from the reference config.
DCGAN_VARIANTS = (
    ("reference: 1 D / 1 G step", "reference", {}),
    ("2 D steps per G step", "d2g1", {"d_steps": 2}),
    ("2 G steps per D step", "d1g2", {"g_steps": 2}),
    ("no batch norm", "no-batchnorm", {"batchnorm": False}),
)
DCGAN_LABELS = tuple(label for label, _, _ in DCGAN_VARIANTS)
PLANNED_DCGAN_BATCH = 16  # more iterations from the few images a CPU can afford (docs/dcgan.md)
# the lab's epochs of every run: 100, the DCGAN's 20
LAB_EPOCHS = {label: 20 if label in DCGAN_LABELS else 100 for label in budget.CPU_COSTS}
# the least training of the runs not kept, whatever the budget: enough epochs for CD-k, PCD and the VAE to learn,
# and 6,000 images (375 iterations) for each DCGAN
MINIMUM = {"k=3": 5, "k=10": 5, "k=25": 5, "PCD": 10, "latent 20": 10, "latent 2": 10,
           **{label: 0.1 for label in DCGAN_LABELS}}
# the runs each plan keeps at the lab's settings first. quick: task 1's CD-1 runs, tasks 2 and 3; cpu: tasks 1 to 4
QUICK_KEEP = {"reference", "real-valued v", "lr=0.01", "lr=0.03", "lr=0.3", "lr=1", "25 hidden", "50 hidden",
              "250 hidden", "500 hidden", "top RBM", "top RBM, 784 units", "fine-tuning"}
CPU_KEEP = {label for label in LAB_EPOCHS if label not in DCGAN_LABELS}


@dataclass(frozen=True)
class Plan:
    """A preset planned for ``budget_s`` of ``genlab lab all`` on a 2-core CPU from the measured costs
    (:mod:`genlab.lab.budget`): each run's share of its lab epochs, the ``keep`` runs first."""

    name: str
    budget_s: float
    items: tuple[budget.Item, ...]
    shares: Mapping[str, budget.Share]

    def changes(self, label: str, batch_size: int = 100) -> dict[str, Any]:
        """The config changes this plan gives the run ``label``: its epochs (and images), and its path."""
        return self.shares[label].changes(LAB_EPOCHS[label], batch_size)

    def note(self, configs: Mapping[str, TrainConfig], names: Mapping[str, str] | None = None) -> str:
        """What this plan gave these runs (by their labels in the plan), against the lab's settings."""
        return (f"Planned for {self.budget_s / 60:g} minutes of genlab lab all on a 2-core CPU from measured costs. "
                + budget.budget_note(configs, LAB_EPOCHS, names))


def plan(name: str, budget_s: float, keep: set[str]) -> Plan:
    """The :class:`Plan` of every run of the lab in ``budget_s``, the ``keep`` runs at the lab's settings first."""
    items = tuple(budget.Item(label, LAB_EPOCHS[label], cost, label in keep, MINIMUM.get(label, 1.0))
                  for label, cost in budget.CPU_COSTS.items())
    return Plan(name, budget_s, items, budget.shares(items, budget_s, budget.CPU_OVERHEAD_S))


QUICK = plan("quick", QUICK_BUDGET_S, QUICK_KEEP)
CPU = plan("cpu", CPU_BUDGET_S, CPU_KEEP)


# ----------------------------------------------------------------------------- task 1: RBM


def rbm_settings(base: RBMConfig, e: EvalConfig) -> str:
    images = "all training images" if base.limit is None else f"the first {base.limit:,} training images"
    test = ("all test images" if e.test_limit is None else f"the first {e.test_limit:,} test images") if not e.quick \
        else f"every {QUICK_TEST_STRIDE}th test image"
    return (f"{base.epochs} epochs on {images}; log-likelihood on {test} (binarised with seed {BINARIZE_SEED}), "
            f"by AIS of {e.ais_runs} runs x {e.ais_betas:,} distributions above 20 hidden units")


def rbm_preset(name: str, base: RBMConfig, e: EvalConfig, changes: Mapping[str, Mapping[str, Any]] | None = None,
               **compare: tuple[Any, ...]) -> Preset:
    """The RBM lab's preset: the reference run ``base`` (each experiment changes one setting of it), the same
    run trained with persistent chains (PCD, whose chains 1.7 sets beside the reference's), and the table note
    with this preset's settings and the full preset's."""
    full = rbm_settings(RBM_FULL, EvalConfig())
    here = rbm_settings(base, e)
    note = f"Preset {name}: {here}" + ("." if here == full else f". Full preset: {full}.")
    compare = {"cd_k": (1, 3, 10, 25), "lr": (0.01, 0.03, 0.1, 0.3, 1.0), "hidden": (25, 50, 100, 250, 500), **compare}
    return Preset(name, {"reference": base, "pcd": base.replace(persistent=True)}, e, note, compare, changes or {})


def rbm_runs(p: Preset) -> dict[str, RBMConfig]:
    """Every run of the RBM lab (SPEC 1.1-1.8) by its label, as the preset ``p`` plans it: the reference, each
    change of one of its settings (a change to the reference's own value, such as k=1, is the reference's run),
    and the reference trained with persistent chains (PCD)."""
    base = p.runs["reference"]
    runs = {"reference": base, "real-valued v": base.replace(binarize=False),
            **{f"k={k}": base.replace(cd_k=k) for k in p.compare["cd_k"]},
            **{f"lr={lr:g}": base.replace(lr=lr) for lr in p.compare["lr"]},
            **{f"{n} hidden": base.replace(hidden=n) for n in p.compare["hidden"]},
            "PCD": p.runs["pcd"]}
    return {label: p.variant(label, config) for label, config in runs.items()}


def planned_rbm(plan: Plan) -> Preset:
    """The RBM lab's preset of a plan: the reference run and each variant with the epochs the plan gives it."""
    base = RBMConfig(**plan.changes("reference"))
    unplanned = rbm_preset(plan.name, base, QUICK_EVAL)
    variants = [label for label, config in rbm_runs(unplanned).items() if label in LAB_EPOCHS and config != base]
    p = dataclasses.replace(unplanned, changes={label: plan.changes(label) for label in variants})
    planned = {label: config for label, config in rbm_runs(p).items() if label in LAB_EPOCHS}
    return dataclasses.replace(p, note=f"{p.note} {plan.note(planned)}")


RBM_FULL = RBMConfig(eval_every=10)
RBM = {
    "tiny": rbm_preset("tiny", RBMConfig(limit=TINY_IMAGES, epochs=2), TINY_EVAL,
                       cd_k=(1, 3), lr=(0.03, 0.1), hidden=(20, 100)),
    "quick": planned_rbm(QUICK),
    "cpu": planned_rbm(CPU),
    "full": rbm_preset("full", RBM_FULL, EvalConfig()),
}

# ----------------------------------------------------------------------------- tasks 2 and 3: DBN, up-down

# Both DBN labs train the same RBM 1 as the RBM lab's reference run of the same preset (so they share that
# run) and the same greedy DBN on it; the fine-tuning lab re-uses the DBN lab's runs.


def dbn_preset(name: str, rbm: RBMConfig, dbn: DBNConfig, finetune: FinetuneConfig, e: EvalConfig, note: str) -> Preset:
    """The DBN labs' preset: RBM 1, the DBN on it and its fine-tuning. SPEC 2.2 and 3.2 reconstruct with k
    Gibbs steps in the top RBM between the up and the down pass, compared with the plain up-down pass (0
    steps): ``recon_steps`` holds k, the top RBM's CD-k (2 by SPEC 2)."""
    return Preset(name, {"rbm": rbm, "dbn": dbn, "finetune": finetune}, e, note, {"recon_steps": (dbn.cd_k,)})


def planned_dbn(plan: Plan) -> Preset:
    """The DBN labs' preset of a plan, with the quick evaluation."""
    rbm, dbn, finetune = (RBMConfig(**plan.changes("reference")), DBNConfig(**plan.changes("top RBM")),
                          FinetuneConfig(**plan.changes("fine-tuning")))
    note = plan.note({"reference": rbm, "top RBM": dbn, "fine-tuning": finetune},
                     {"reference": "RBM 1 (the RBM lab's reference)"}).rstrip(".")
    return dbn_preset(plan.name, rbm, dbn, finetune, QUICK_EVAL,
                      "the quick evaluation (every 5th test image, AIS with 100 runs and 4,000 distributions instead of "
                      f"14,500). {note}")


DBN = {
    "tiny": dbn_preset(
        "tiny",
        RBMConfig(epochs=2, limit=TINY_IMAGES), DBNConfig(epochs=2, limit=TINY_IMAGES),
        FinetuneConfig(epochs=2, limit=TINY_IMAGES),
        TINY_EVAL,
        f"a smoke test, not a measurement: the first {TINY_IMAGES} training images, 2 epochs per layer and of "
        f"fine-tuning, the first {TINY_TEST} test images, AIS with 10 runs and 200 distributions",
    ),
    "quick": planned_dbn(QUICK),
    "cpu": planned_dbn(CPU),
    "full": dbn_preset(
        "full", RBMConfig(), DBNConfig(), FinetuneConfig(), EvalConfig(),
        "the reference configs: 60,000 training images, 100 epochs per layer and of fine-tuning, "
        "AIS with 100 runs and 14,500 distributions",
    ),
}

# ----------------------------------------------------------------------------- task 4: VAE

# Beyond the reference: 50 latents and dynamic binarisation as in Burda et al. (2016), and ten
# times as many Adam steps per epoch (minibatch 100) at a larger learning rate.
TOWARD_BURDA = VAEConfig(latent=50, targets="binarized", batch_size=100, lr=1e-3, epochs=100)


def vae_preset(name: str, e: EvalConfig, note: str, changes: Mapping[str, Mapping[str, Any]] | None = None,
               longer: VAEConfig | None = None, **common: Any) -> Preset:
    """The VAE lab's preset: the reference run with a 20-D and a 2-D latent space (SPEC 4.1-4.4), with the
    ``common`` settings and each run's ``changes``, and optionally a run beyond the reference, toward the
    published numbers."""
    changes = changes or {}
    runs: dict[str, TrainConfig] = {label: VAEConfig(latent=latent, **common).replace(**changes.get(label, {}))
                                    for label, latent in (("latent 20", 20), ("latent 2", 2))}
    if longer is not None:
        runs["latent 50, binarized, batch 100"] = longer
    return Preset(name, runs, e, note)


def planned_vae(plan: Plan) -> Preset:
    """The VAE lab's preset of a plan, with the quick evaluation."""
    changes = {label: plan.changes(label) for label in ("latent 20", "latent 2")}
    note = plan.note({label: VAEConfig(**c) for label, c in changes.items()})
    return vae_preset(plan.name, QUICK_EVAL, f"the quick evaluation (every 5th test image, IWAE with k = 500 instead of "
                      f"5,000). {note}", changes=changes)


VAE = {
    "tiny": vae_preset("tiny", EvalConfig(iwae_k=10, test_limit=TINY_TEST, samples=TINY_TEST),
                       f"a smoke test, not a measurement: the first {TINY_IMAGES} training images, 2 epochs, "
                       f"the first {TINY_TEST} test images, IWAE with k = 10", epochs=2, limit=TINY_IMAGES),
    "quick": planned_vae(QUICK),
    "cpu": planned_vae(CPU),
    "full": vae_preset("full", EvalConfig(iwae_k=5000),
                       "nothing: the reference runs and IWAE with k = 5000, plus one run beyond the reference",
                       longer=TOWARD_BURDA),
}

# ----------------------------------------------------------------------------- task 5: DCGAN

# Each DCGAN preset holds the VAE lab's 20-D reference run of the same name ("vae"), to compare samples with.
def planned_dcgan(plan: Plan) -> Preset:
    """The DCGAN lab's preset of a plan: minibatch :data:`PLANNED_DCGAN_BATCH`, 5,000 samples per metric."""
    changes = {label: plan.changes(label, PLANNED_DCGAN_BATCH) for label in DCGAN_LABELS}
    note = plan.note({label: DCGANConfig(batch_size=PLANNED_DCGAN_BATCH, **c) for label, c in changes.items()})
    return Preset(plan.name, {"reference": DCGANConfig(batch_size=PLANNED_DCGAN_BATCH), "vae": VAE[plan.name].runs["latent 20"]},
                  EvalConfig(samples=5000),
                  f"{plan.name} preset: minibatch {PLANNED_DCGAN_BATCH} (reference: 128), 5,000 samples per metric. {note}",
                  changes=changes)


DCGAN = {
    "tiny": Preset("tiny", {"reference": DCGANConfig(limit=256, epochs=1, batch_size=32), "vae": VAE["tiny"].runs["latent 20"]},
                   EvalConfig(samples=TINY_TEST, test_limit=TINY_TEST),
                   f"tiny preset, a smoke test and not a measurement: the first 256 training images, 1 epoch, "
                   f"minibatch 32, {TINY_TEST} samples against the first {TINY_TEST} test images"),
    "quick": planned_dcgan(QUICK),
    "cpu": planned_dcgan(CPU),
    "full": Preset("full", {"reference": DCGANConfig(), "vae": VAE["full"].runs["latent 20"]}, EvalConfig(samples=10_000),
                   "full preset: the reference run, 60,000 images, 20 epochs, minibatch 128, 10,000 samples per metric"),
}

# task -> preset name -> preset
PRESETS: dict[str, dict[str, Preset]] = {"rbm": RBM, "dbn": DBN, "dbn-finetune": DBN, "vae": VAE, "dcgan": DCGAN}
