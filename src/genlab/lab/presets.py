"""What each lab task trains and how it measures, under the presets ``tiny``, ``quick`` and ``full``.

* ``tiny``: a smoke test of every step in a few minutes (its numbers mean nothing);
* ``quick``: reduced data, epochs and estimator sizes, sized for a laptop CPU;
* ``full``: the SPEC reference configs.

Every task's preset is a :class:`Preset`: the base config of each run it trains, how
every run is measured, the values of the settings its experiments compare, and a
sentence saying what the preset reduces from the SPEC reference (for the report).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from genlab.data import BINARIZE_SEED
from genlab.evaluation.config import EvalConfig
from genlab.training.dbn import DBNConfig
from genlab.training.dcgan import DCGANConfig
from genlab.training.rbm import RBMConfig
from genlab.training.session import TrainConfig
from genlab.training.updown import FinetuneConfig
from genlab.training.vae import VAEConfig

NAMES = ("tiny", "quick", "full")

# What the tiny preset of every lab trains on and measures with.
TINY_IMAGES = 500  # first training images
TINY_TEST = 500  # first test images
# RAISE's distributions for the conservative log-likelihood (genlab eval: 1,000). On a CD-1 RBM of MNIST (100 hidden,
# 500 test images, a loaded 2-core CPU) 1,000 took 122 s and 300 took 25 s, and gave an estimate 7 nats lower; the
# quick presets take 300, the tiny ones 50
TINY_RAISE_BETAS, QUICK_RAISE_BETAS = 50, 300


@dataclass(frozen=True)
class Preset:
    """What a lab task trains and measures under one preset name."""

    name: str
    runs: Mapping[str, TrainConfig]  # the base config of each run, by its role in the task
    eval: EvalConfig  # how every run is measured
    note: str  # what the preset reduces from the SPEC reference, for the report
    compare: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)  # setting -> the values an experiment compares


# ----------------------------------------------------------------------------- task 1: RBM


def rbm_settings(base: RBMConfig, e: EvalConfig) -> str:
    images = "all training images" if base.limit is None else f"the first {base.limit:,} training images"
    test = "all test images" if e.test_limit is None else f"the first {e.test_limit:,} test images"
    return (f"{base.epochs} epochs on {images}; log-likelihood on {test} (binarised with seed {BINARIZE_SEED}), "
            f"by AIS of {e.ais_runs} runs x {e.ais_betas:,} distributions above 20 hidden units")


def rbm_preset(name: str, base: RBMConfig, e: EvalConfig, **compare: tuple[Any, ...]) -> Preset:
    """The RBM lab's preset: the reference run ``base`` (each experiment changes one setting of it), the same
    run trained with persistent chains (PCD, whose chains 1.7 sets beside the reference's), and the table note
    with this preset's settings and the full preset's."""
    full = rbm_settings(RBM_FULL, EvalConfig())
    here = rbm_settings(base, e)
    note = f"Preset {name}: {here}" + ("." if here == full else f". Full preset: {full}.")
    compare = {"cd_k": (1, 3, 10, 25), "lr": (0.01, 0.03, 0.1, 0.3, 1.0), "hidden": (25, 50, 100, 250, 500), **compare}
    return Preset(name, {"reference": base, "pcd": base.replace(persistent=True)}, e, note, compare)


RBM_FULL = RBMConfig(eval_every=10)
RBM = {
    "tiny": rbm_preset("tiny", RBMConfig(limit=TINY_IMAGES, epochs=2),
                       EvalConfig(test_limit=TINY_TEST, ais_runs=10, ais_betas=200, raise_betas=TINY_RAISE_BETAS, samples=TINY_TEST),
                       cd_k=(1, 3), lr=(0.03, 0.1), hidden=(20, 100)),
    # a sixth of the data, a tenth of the epochs, a cheaper AIS, no log-likelihood during training
    "quick": rbm_preset("quick", RBMConfig(limit=10_000, epochs=10), EvalConfig(ais_runs=100, ais_betas=4_000, raise_betas=QUICK_RAISE_BETAS, samples=1_000)),
    "full": rbm_preset("full", RBM_FULL, EvalConfig()),
}

# ----------------------------------------------------------------------------- tasks 2 and 3: DBN, up-down

# Both DBN labs train the same RBM 1 as the RBM lab's reference run of the same preset (so they share that
# run) and the same greedy DBN on it; the fine-tuning lab re-uses the DBN lab's runs.
QUICK_IMAGES, QUICK_DBN_EPOCHS = 10_000, 20


def dbn_preset(name: str, rbm: RBMConfig, dbn: DBNConfig, finetune: FinetuneConfig, e: EvalConfig, note: str) -> Preset:
    """The DBN labs' preset: RBM 1, the DBN on it and its fine-tuning. SPEC 2.2 and 3.2 reconstruct with k
    Gibbs steps in the top RBM between the up and the down pass, compared with the plain up-down pass (0
    steps): ``recon_steps`` holds k, the top RBM's CD-k (2 by SPEC 2)."""
    return Preset(name, {"rbm": rbm, "dbn": dbn, "finetune": finetune}, e, note, {"recon_steps": (dbn.cd_k,)})


DBN = {
    "tiny": dbn_preset(
        "tiny",
        RBMConfig(epochs=2, limit=TINY_IMAGES), DBNConfig(epochs=2, limit=TINY_IMAGES),
        FinetuneConfig(epochs=2, limit=TINY_IMAGES),
        EvalConfig(test_limit=TINY_TEST, ais_runs=10, ais_betas=200, raise_betas=TINY_RAISE_BETAS, samples=TINY_TEST),
        f"a smoke test, not a measurement: the first {TINY_IMAGES} training images, 2 epochs per layer and of "
        f"fine-tuning, the first {TINY_TEST} test images, AIS with 10 runs and 200 distributions",
    ),
    "quick": dbn_preset(
        "quick",
        RBMConfig(epochs=10, limit=QUICK_IMAGES), DBNConfig(epochs=QUICK_DBN_EPOCHS, limit=QUICK_IMAGES),
        FinetuneConfig(epochs=QUICK_DBN_EPOCHS, limit=QUICK_IMAGES),
        EvalConfig(ais_runs=100, ais_betas=4_000, raise_betas=QUICK_RAISE_BETAS, samples=1_000),
        f"reduced from the reference configs: the first {QUICK_IMAGES:,} training images (instead of 60,000), 10 epochs "
        f"for RBM 1 and {QUICK_DBN_EPOCHS} for the top RBM and for fine-tuning (instead of 100), AIS with 100 runs "
        "and 4,000 distributions (instead of 14,500)",
    ),
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


def vae_preset(name: str, epochs: int, limit: int | None, e: EvalConfig, note: str,
               longer: VAEConfig | None = None) -> Preset:
    """The VAE lab's preset: the reference run with a 20-D and a 2-D latent space (SPEC 4.1-4.4),
    and optionally a run beyond the reference, toward the published numbers."""
    runs: dict[str, TrainConfig] = {"latent 20": VAEConfig(latent=20, epochs=epochs, limit=limit),
                                    "latent 2": VAEConfig(latent=2, epochs=epochs, limit=limit)}
    if longer is not None:
        runs["latent 50, binarized, batch 100"] = longer
    return Preset(name, runs, e, note)


VAE = {
    "tiny": vae_preset("tiny", 2, TINY_IMAGES, EvalConfig(iwae_k=10, test_limit=TINY_TEST, samples=TINY_TEST),
                       f"a smoke test, not a measurement: the first {TINY_IMAGES} training images, 2 epochs, "
                       f"the first {TINY_TEST} test images, IWAE with k = 10"),
    "quick": vae_preset("quick", 30, None, EvalConfig(iwae_k=500),
                        "30 epochs instead of 100; IWAE with k = 500 instead of 5000"),
    "full": vae_preset("full", 100, None, EvalConfig(iwae_k=5000),
                       "nothing: the reference runs and IWAE with k = 5000, plus one run beyond the reference",
                       longer=TOWARD_BURDA),
}

# ----------------------------------------------------------------------------- task 5: DCGAN

# Each DCGAN preset holds the VAE lab's 20-D reference run of the same name ("vae"), to compare samples with.
DCGAN = {
    "tiny": Preset("tiny", {"reference": DCGANConfig(limit=256, epochs=1, batch_size=32), "vae": VAE["tiny"].runs["latent 20"]},
                   EvalConfig(samples=TINY_TEST, test_limit=TINY_TEST),
                   f"tiny preset, a smoke test and not a measurement: the first 256 training images, 1 epoch, "
                   f"minibatch 32, {TINY_TEST} samples against the first {TINY_TEST} test images"),
    # sized on this project's 2-core CPU: see docs/dcgan.md for the per-image cost
    "quick": Preset("quick", {"reference": DCGANConfig(limit=4000, epochs=2, batch_size=16), "vae": VAE["quick"].runs["latent 20"]},
                    EvalConfig(samples=5000),
                    "quick preset: the first 4,000 training images, 2 epochs, minibatch 16, 5,000 samples per metric "
                    "(reference: 60,000 images, 20 epochs, minibatch 128)"),
    "full": Preset("full", {"reference": DCGANConfig(), "vae": VAE["full"].runs["latent 20"]}, EvalConfig(samples=10_000),
                   "full preset: the reference run, 60,000 images, 20 epochs, minibatch 128, 10,000 samples per metric"),
}

# The DCGAN lab's runs, in every preset: label, short name (file names), the change from the reference config.
DCGAN_VARIANTS = (
    ("reference: 1 D / 1 G step", "reference", {}),
    ("2 D steps per G step", "d2g1", {"d_steps": 2}),
    ("2 G steps per D step", "d1g2", {"g_steps": 2}),
    ("no batch norm", "no-batchnorm", {"batchnorm": False}),
)

# task -> preset name -> preset
PRESETS: dict[str, dict[str, Preset]] = {"rbm": RBM, "dbn": DBN, "dbn-finetune": DBN, "vae": VAE, "dcgan": DCGAN}
