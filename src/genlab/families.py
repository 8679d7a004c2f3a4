"""The model families genlab trains, and what is done with a run directory of each:
train it, load its model, draw samples, evaluate it (``genlab eval``).

Adding a family means writing its model, its algorithm, its training module, its
figures and its ``measure``, and one entry in :data:`FAMILIES`; the command line is
generated from it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genlab import data
from genlab.devices import check_fits, resolve_device
from genlab.distributed import current
from genlab.errors import ConfigError, GenlabError
from genlab.evaluation import dbn as evaluate_dbn
from genlab.evaluation import dcgan as evaluate_dcgan
from genlab.evaluation import rbm as evaluate_rbm
from genlab.evaluation import vae as evaluate_vae
from genlab.evaluation.config import EvalConfig, measured_images
from genlab.evaluation.notes import interval_notes, quick_note
from genlab.evaluation.protocol import protocol
from genlab.figures.plots import as_images
from genlab.metrics.quality import draw_samples, sample_quality
from genlab.rng import make_generator
from genlab.runs import MODEL, Run
from genlab.training import dbn, dcgan, rbm, updown, vae
from genlab.training.session import TrainConfig


@dataclass(frozen=True)
class Family:
    name: str
    help: str
    config: type[TrainConfig]
    # train(config, out, device=, data_dir=, progress=, overwrite=) -> Run
    train: Callable[..., Run]
    # load(run, device) -> the model, an nn.Module with sample(n, generator) -> images in [0, 1]
    load: Callable[[Run, torch.device], Any]
    # measure(model, train, test, eval_config, generator, progress) -> numbers for eval.json
    measure: Callable[..., dict[str, Any]]


FAMILIES: dict[str, Family] = {
    "rbm": Family("rbm", "Restricted Boltzmann Machine trained with CD-k (lab task 1)",
                  rbm.RBMConfig, rbm.train, rbm.load, evaluate_rbm.measure),
    "dbn": Family("dbn", "Deep Belief Network: a top RBM trained greedily on RBM 1 (lab task 2)",
                  dbn.DBNConfig, dbn.train, dbn.load, evaluate_dbn.measure),
    "dbn-finetune": Family("dbn-finetune", "a DBN run fine-tuned with the up-down (wake-sleep) algorithm (lab task 3)",
                           updown.FinetuneConfig, updown.train, updown.load, evaluate_dbn.measure),
    "vae": Family("vae", "Variational autoencoder with Bernoulli pixels, ELBO and IWAE (lab task 4)",
                  vae.VAEConfig, vae.train, vae.load, evaluate_vae.measure),
    "dcgan": Family("dcgan", "Deep Convolutional GAN on 64x64 images (lab task 5)",
                    dcgan.DCGANConfig, dcgan.train, dcgan.load, evaluate_dcgan.measure),
}


def family_of(run: Run) -> Family:
    try:
        return FAMILIES[run.family]
    except KeyError:
        raise ConfigError(f"RUN {run.path}: unknown model family {run.family!r} in config.json") from None


def require_finished(run: Run, unfinished: bool) -> str | None:
    """Refuse a run whose training has not finished, unless ``unfinished``; then say what its model is."""
    if run.finished:
        return None
    if not (run.path / MODEL).is_file():
        raise GenlabError(f"RUN {run.path}: no model yet (training stopped before its first epoch ended)")
    last = run.log[-1].get("epoch", "?") if run.log else "?"
    what = f"the model of epoch {last}; training has not finished" + (f": {' '.join(str(run.meta['stopped']).split())}" if "stopped" in run.meta else "")
    if not unfinished:
        raise ConfigError(f"RUN {run.path}: {what}; continue it with 'genlab train ... --resume', or pass --unfinished")
    return what


@torch.no_grad()
def sample_images(run: Run, n: int, seed: int, device: torch.device | str = "cpu", unfinished: bool = False) -> torch.Tensor:
    """n new images from a run's model (seeded): [n, H, W] in [0, 1] on the CPU. A run whose training has not
    finished is refused unless ``unfinished``."""
    require_finished(run, unfinished)
    model = family_of(run).load(run, device)
    pixels = math.prod(run.meta["data"]["image_shape"])
    units = sum(t.numel() for t in model.state_dict().values() if t.dim() == 1)  # the layer widths: biases
    check_fits(n * 16 * 4 * (pixels + units), torch.device(device), f"drawing {n:,} samples",
               "ask for fewer (e.g. --n 10000)")
    images = model.sample(n, make_generator(seed, device))
    return as_images(images.float(), tuple(run.meta["data"]["image_shape"])).clamp(0, 1).cpu()


def evaluate(
    run: Run | str | Path,
    config: EvalConfig | None = None,
    device: str | torch.device = "auto",
    data_dir: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate a run directory: every number its family supports, and the sample quality of its
    model; writes ``eval.json`` and returns the results. Under ``torchrun`` (a process group already
    set up) the ranks share the work and rank 0 alone writes ``eval.json``."""
    run = run if isinstance(run, Run) else Run.open(run)
    config = config or EvalConfig()
    unfinished = require_finished(run, config.unfinished)
    dev = resolve_device(device)
    family = family_of(run)
    started = time.perf_counter()
    source = run.data_source(data_dir)
    train = data.load_split(source, "train", dev, limit=run.config.get("limit"))
    all_test = data.load_split(source, "test", dev)
    test = measured_images(all_test, config)
    model = family.load(run, dev)
    results: dict[str, Any] = {"family": run.family} if unfinished is None else {"family": run.family,
                                                                                  "unfinished": unfinished}
    results.update(family.measure(model, train, test, config, make_generator(config.seed, dev), progress))
    if config.samples > 0:
        results.update(evaluate_samples(run, config, dev, data_dir, progress))
    results["test_images"] = len(test)
    if "test_loglik" in results:
        results["protocol"] = protocol(run.family, run.config, results, config, len(test), len(all_test))
    results["notes"] = interval_notes(results) + quick_note(config)
    results["eval_config"] = config.to_dict()
    results["eval_time_s"] = round(time.perf_counter() - started, 2)
    results["device"] = str(dev)
    if current().main:  # under torchrun every rank has the results, and rank 0 writes them
        run.write_eval(results)
    return results


def evaluate_samples(run: Run, config: EvalConfig, device: torch.device, data_dir: str | Path | None = None,
                     progress: bool = False) -> dict[str, Any]:
    """Draw ``config.samples`` samples from a run's model and measure their quality (every family alike)."""
    source = run.data_source(data_dir)
    shape = tuple(run.meta["data"]["image_shape"])
    model = family_of(run).load(run, device)
    started = time.perf_counter()
    samples = draw_samples(model, config.samples, make_generator(config.seed, device), shape, progress=progress)
    sample_time = time.perf_counter() - started
    results = sample_quality(samples, source, device, config.test_limit, progress=progress)
    results["sample_time_s"] = round(sample_time, 2)
    return results
