"""genlab.metrics.classifier: accuracy on MNIST, determinism, and the checksummed cache."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from genlab import data
from genlab.metrics import classifier as clf
from genlab.metrics.classifier import (
    ClassifierConfig,
    accuracy,
    classifier_dir,
    load_classifier,
    train_classifier,
)


def test_the_classifier_reaches_99_percent_on_mnist(shared_cache, mnist_dir):
    """The default (quick) schedule, trained once per test session and shared through the cache."""
    source = data.resolve("mnist", mnist_dir)
    model, record = load_classifier(source)
    measured = accuracy(model, data.read_split(source, "test"))
    assert measured >= 0.99 and record["test_accuracy"] == measured
    directory = classifier_dir(source, ClassifierConfig())
    assert directory.parent == shared_cache / "classifiers"
    stored = json.loads((directory / clf.META).read_text())
    assert stored["weights_sha256"] == clf.file_sha256(directory / clf.WEIGHTS) and stored["data_sha256"] == data.checksums(source)


def test_training_is_deterministic_for_a_seed(tiny_dataset):
    train = data.read_split(data.resolve(str(tiny_dataset)), "train")
    config = ClassifierConfig(epochs=1)
    a, b = train_classifier(train, config), train_classifier(train, config)
    c = train_classifier(train, config.replace(seed=1))
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.out.weight, c.out.weight)


def test_training_under_no_grad_trains_the_same_classifier(tiny_dataset):
    """A caller measuring under torch.no_grad() may need the classifier trained first (a lab's VAE answers)."""
    train = data.read_split(data.resolve(str(tiny_dataset)), "train")
    config = ClassifierConfig(epochs=1)
    with torch.no_grad():
        quiet = train_classifier(train, config)
    assert all(torch.equal(x, y) for x, y in zip(quiet.state_dict().values(), train_classifier(train, config).state_dict().values()))


def test_the_cache_is_reused_and_retrained_when_missing_or_tampered(tiny_dataset, monkeypatch):
    source = data.resolve(str(tiny_dataset))
    config = ClassifierConfig(epochs=1)
    trained = []
    real_train = clf.train_classifier
    monkeypatch.setattr(clf, "train_classifier", lambda *a, **k: trained.append(1) or real_train(*a, **k))

    first, record = load_classifier(source, config)
    again, _ = load_classifier(source, config)
    assert len(trained) == 1 and torch.equal(first.out.weight, again.out.weight)
    assert record["classes"] == 10 and record["image_shape"] == [28, 28]

    directory = classifier_dir(source, config)
    weights = directory / clf.WEIGHTS
    raw = bytearray(weights.read_bytes())
    raw[-1] ^= 0xFF  # one flipped byte in the tensor data
    weights.write_bytes(bytes(raw))
    load_classifier(source, config)
    assert len(trained) == 2 and clf.file_sha256(weights) == json.loads((directory / clf.META).read_text())["weights_sha256"]

    (directory / clf.META).unlink()  # as if interrupted before the record was written
    load_classifier(source, config)
    assert len(trained) == 3

    load_classifier(source, config.replace(epochs=2))  # another config is another cache entry
    assert len(trained) == 4 and classifier_dir(source, config.replace(epochs=2)) != directory


def test_callers_asking_at_once_train_the_classifier_once(tiny_dataset, tmp_path, monkeypatch):
    """Two threads asking for a classifier not yet cached (each opens the lock file itself, as processes do): one
    trains it, the other waits and loads it; both get the same weights."""
    monkeypatch.setenv("GENLAB_CACHE_DIR", str(tmp_path / "cache"))
    source = data.resolve(str(tiny_dataset))
    config = ClassifierConfig(epochs=1)
    trainings = []

    def slow_training(*args, **kwargs):
        trainings.append(1)
        time.sleep(1.0)  # long enough for the other caller to arrive
        return train_classifier(*args, **kwargs)

    monkeypatch.setattr(clf, "train_classifier", slow_training)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: load_classifier(source, config), range(2)))
    assert len(trainings) == 1
    (first, _), (second, _) = results
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))


def test_the_key_follows_the_data_set_checksums(tiny_dataset, tmp_path):
    from helpers import write_dataset

    other = write_dataset(tmp_path / "other", seed=1)
    config = ClassifierConfig()
    assert classifier_dir(data.resolve(str(tiny_dataset)), config) != classifier_dir(data.resolve(str(other)), config)


@pytest.mark.parametrize("shape", [(2, 784), (2, 28, 28), (2, 1, 28, 28), (2, 1, 64, 64)])
def test_samples_of_any_shape_become_data_sized_images(shape):
    from genlab.metrics.quality import as_data_images

    images = as_data_images(torch.full(shape, 0.25), (28, 28))
    assert images.shape == (2, 1, 28, 28) and torch.allclose(images, torch.tensor(0.25))
