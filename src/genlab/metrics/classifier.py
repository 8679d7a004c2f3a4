"""The classifier whose features the sample-quality metrics use, trained by genlab itself.

A small convolutional network on the data set's own images (28x28 for MNIST)::

    x -> conv 3x3 (c1) -> BN -> ReLU -> max-pool 2
      -> conv 3x3 (c2) -> BN -> ReLU -> max-pool 2
      -> linear (features) -> ReLU          <- the penultimate layer: the features
      -> linear (classes)                   <- logits of p(y | x)

trained with Adam and a one-cycle learning rate on the whole training split, on the
CPU (bit-identical for a seed), for a few epochs. Nothing is downloaded.

The trained weights are cached under ``cache_root()/classifiers/<key>/``, where the
key is a hash of the data set's checksums and the classifier's config. Beside the
weights, ``classifier.json`` holds the weights' sha256, the config and the test
accuracy; it is written last, so a directory without it is incomplete. A cached
classifier whose weights do not match the recorded sha256 is trained again.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from filelock import FileLock
from torch import nn

from genlab import data
from genlab.config import Config, option, positive
from genlab.errors import GenlabError
from genlab.evaluation.progress import bar
from genlab.rng import make_generator
from genlab.files import file_sha256, load_tensors, save_tensors, write_json

VERSION = 1  # bump when the architecture or the training procedure changes
WEIGHTS = "classifier.safetensors"
META = "classifier.json"


@dataclass
class ClassifierConfig(Config):
    """The classifier's architecture and training schedule (part of its cache key)."""

    channels1: int = option(16, "channels of the first convolution", check=positive)
    channels2: int = option(32, "channels of the second convolution", check=positive)
    features: int = option(128, "units of the penultimate (feature) layer", check=positive)
    epochs: int = option(2, "passes over the training split", check=positive)
    batch_size: int = option(128, "minibatch size", check=positive)
    lr: float = option(5e-3, "peak learning rate of the one-cycle schedule", check=positive)
    seed: int = option(0, "seed of the initialisation and the batch order")


class Classifier(nn.Module):
    """Two convolution blocks, a ReLU feature layer and a linear read-out of class logits."""

    def __init__(self, image_shape: tuple[int, int], classes: int, config: ClassifierConfig) -> None:
        super().__init__()
        c1, c2 = config.channels1, config.channels2
        self.conv = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.BatchNorm2d(c1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.BatchNorm2d(c2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
        )
        h, w = (s // 4 for s in image_shape)
        self.hidden = nn.Sequential(nn.Linear(c2 * h * w, config.features), nn.ReLU())
        self.out = nn.Linear(config.features, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate layer for images [n, 1, H, W] in [0, 1]."""
        return self.hidden(self.conv(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of p(y | x)."""
        return self.out(self.features(x))


def images_of(split: data.ImageSet) -> torch.Tensor:
    """uint8 [N, H, W] -> float [N, 1, H, W] in [0, 1]."""
    return split.images[:, None].float().div_(255)


@torch.enable_grad()  # trains, also when called under torch.no_grad()
def train_classifier(train: data.ImageSet, config: ClassifierConfig, progress: bool = False) -> Classifier:
    """Train the classifier on a split (on its device) with Adam and a one-cycle schedule; deterministic for the seed."""
    with torch.random.fork_rng(devices=[]):  # the layers' default initialisation, without touching the global stream
        torch.manual_seed(config.seed)
        model = Classifier(train.image_shape, int(train.labels.max()) + 1, config)
    generator = make_generator(config.seed)
    x, y = images_of(train), train.labels
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    steps = config.epochs * -(-len(train) // config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=steps)
    model.train()
    for epoch in range(1, config.epochs + 1):
        batches = bar(data.batch_indices(len(train), config.batch_size, generator),
                      f"classifier epoch {epoch}/{config.epochs}", progress, total=steps // config.epochs, unit="batch")
        for idx in batches:
            loss = F.cross_entropy(model(data.rows(x, idx)), data.rows(y, idx))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
    return model.eval()


@torch.no_grad()
def accuracy(model: Classifier, split: data.ImageSet, chunk: int = 5000) -> float:
    """The share of a split's images whose most probable class is their label."""
    x = images_of(split)
    correct = sum((model(x[i : i + chunk]).argmax(1) == split.labels[i : i + chunk]).sum().item()
                  for i in range(0, len(split), chunk))
    return correct / len(split)


# ----------------------------------------------------------------------------- the cache


def classifier_dir(source: data.DataSource, config: ClassifierConfig) -> Path:
    """Where the classifier of this data set and config is cached (keyed by checksums and config)."""
    text = json.dumps({"version": VERSION, "data": data.checksums(source), "config": config.to_dict()}, sort_keys=True)
    key = hashlib.sha256(text.encode()).hexdigest()[:16]
    return data.cache_root() / "classifiers" / f"{source.name}-{key}"


def cached(directory: Path, config: ClassifierConfig) -> tuple[Classifier, dict[str, Any]] | None:
    """The cached classifier when complete and its weights match their recorded sha256, else None."""
    try:
        meta = json.loads((directory / META).read_text())
        if file_sha256(directory / WEIGHTS) != meta["weights_sha256"]:
            return None
        tensors = load_tensors(directory / WEIGHTS)
        model = Classifier(tuple(meta["image_shape"]), meta["classes"], config)
        model.load_state_dict(tensors)
    except (OSError, ValueError, KeyError, RuntimeError, GenlabError):
        return None
    return model.eval(), meta


def load_classifier(
    source: data.DataSource, config: ClassifierConfig | None = None, progress: bool = False
) -> tuple[Classifier, dict[str, Any]]:
    """The data set's classifier (on the CPU) and its record: from the cache, else trained now and cached. Processes
    asking at once train it once: the others wait for it (a lock file beside the cache entry)."""
    config = config or ClassifierConfig()
    directory = classifier_dir(source, config)
    found = cached(directory, config)
    if found is not None:
        return found
    directory.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(directory.parent / f"{directory.name}.lock"):
        return cached(directory, config) or train_and_cache(source, config, directory, progress)


def train_and_cache(source: data.DataSource, config: ClassifierConfig, directory: Path,
                    progress: bool) -> tuple[Classifier, dict[str, Any]]:
    """Train the data set's classifier and write it to its cache ``directory``, its record last."""
    if progress:
        print(f"training the metrics classifier for {source.name} (once; cached in {directory})", file=sys.stderr, flush=True)
    train = data.read_split(source, "train")
    test = data.read_split(source, "test")
    started = time.perf_counter()
    model = train_classifier(train, config, progress)
    meta = {
        "dataset": source.name,
        "data_sha256": data.checksums(source),
        "config": config.to_dict(),
        "version": VERSION,
        "image_shape": list(train.image_shape),
        "classes": model.out.out_features,
        "test_accuracy": accuracy(model, test),
        "train_time_s": round(time.perf_counter() - started, 2),
    }
    save_tensors(directory / WEIGHTS, model.state_dict())
    meta["weights_sha256"] = file_sha256(directory / WEIGHTS)
    write_json(directory / META, meta)  # last: marks the cache entry complete
    return model, meta
