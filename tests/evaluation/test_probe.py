"""genlab.evaluation.probe: the linear probe and the training images it is fitted on."""

from __future__ import annotations

import torch

from genlab import data
from genlab.evaluation.probe import linear_probe


def two_pixel_images(labels: list[int]) -> data.ImageSet:
    """Images of two pixels: class c lights pixel c."""
    y = torch.tensor(labels)
    images = torch.zeros(len(labels), 1, 2, dtype=torch.uint8)
    images[torch.arange(len(labels)), 0, y] = 255
    return data.ImageSet(images, y)


def test_the_probe_is_fitted_on_the_first_training_images_only():
    rule = [0, 1] * 50
    # the first 100 training images follow the rule; the 200 after them carry the opposite label
    train = two_pixel_images(rule + [0, 1] * 100)
    train = data.ImageSet(train.images, torch.cat([train.labels[:100], 1 - train.labels[100:]]))
    test = two_pixel_images(rule)
    first = linear_probe(lambda x: x, train, test, images=100)
    everything = linear_probe(lambda x: x, train, test)
    assert first == {"probe_accuracy": 1.0, "probe_images": 100}
    assert everything["probe_images"] == 300 and everything["probe_accuracy"] == 0.0
