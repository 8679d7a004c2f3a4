"""The model families genlab trains, and what the CLI and the lab need of each.

Adding a family means writing its model, its training module and one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from genlab.errors import ConfigError
from genlab.evaluate import dbn as evaluate_dbn
from genlab.evaluate import dcgan as evaluate_dcgan
from genlab.evaluate import rbm as evaluate_rbm
from genlab.evaluate import vae as evaluate_vae
from genlab.rng import make_generator
from genlab.runs import Run
from genlab.train import dbn, dcgan, rbm, vae
from genlab.train.common import TrainConfig


@dataclass(frozen=True)
class Family:
    name: str
    help: str
    config: type[TrainConfig]
    # train(config, out, device=, data_dir=, progress=, overwrite=) -> Run
    train: Callable[..., Run]
    # load(run, device) -> model
    load: Callable[[Run, torch.device], Any]
    # sample(model, n, generator) -> images in [0, 1], [n, D] or [n, 1, H, W]
    sample: Callable[[Any, int, torch.Generator], torch.Tensor]
    # evaluate(run, eval_config, device, data_dir, progress) -> numbers for eval.json
    evaluate: Callable[..., dict[str, Any]]


FAMILIES: dict[str, Family] = {
    "rbm": Family("rbm", "Restricted Boltzmann Machine trained with CD-k (SPEC task 1)",
                  rbm.RBMConfig, rbm.train, rbm.load, rbm.sample, evaluate_rbm.evaluate),
    "dbn": Family("dbn", "Deep Belief Network: a top RBM trained greedily on RBM 1 (SPEC task 2)",
                  dbn.DBNConfig, dbn.train, dbn.load, dbn.sample, evaluate_dbn.evaluate),
    "dbn-finetune": Family("dbn-finetune", "a DBN run fine-tuned with the up-down (wake-sleep) algorithm (SPEC task 3)",
                           dbn.FinetuneConfig, dbn.train_finetune, dbn.load_finetuned, dbn.sample,
                           evaluate_dbn.evaluate),
    "vae": Family("vae", "Variational autoencoder with Bernoulli pixels, ELBO and IWAE (SPEC task 4)",
                  vae.VAEConfig, vae.train, vae.load, vae.sample, evaluate_vae.evaluate),
    "dcgan": Family("dcgan", "Deep Convolutional GAN on 64x64 images (SPEC task 5)",
                    dcgan.DCGANConfig, dcgan.train, dcgan.load, dcgan.sample, evaluate_dcgan.evaluate),
}


@torch.no_grad()
def sample_images(run: Run, n: int, seed: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """n new images from a run's model (its family's ``sample``, seeded): [n, H, W] in [0, 1] on the CPU."""
    from genlab.plots import as_images

    family = family_of(run)
    images = family.sample(family.load(run, device), n, make_generator(seed, device))
    return as_images(images.float(), tuple(run.meta["data"]["image_shape"])).clamp(0, 1).cpu()


def family_of(run: Run) -> Family:
    try:
        return FAMILIES[run.family]
    except KeyError:
        raise ConfigError(f"RUN {run.path}: unknown model family {run.family!r} in config.json") from None
