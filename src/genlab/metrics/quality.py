"""Sample quality of any model, measured with genlab's own classifier (SPEC "Measurement").

For N model samples (images in [0, 1]):

* ``frechet_classifier_distance`` (FCD): Frechet distance between the classifier's
  penultimate-layer features of the samples and of the test images. It is not the
  Inception FID of papers (docs/metrics.md says why), so its numbers compare only with
  each other;
* ``frechet_classifier_distance_floor``: the same distance between the first N training images and the test
  images — what real data scores, with the same N (the estimate is biased upward
  for small N, so samples and floor are compared at equal N);
* ``classifier_score``: the Inception-Score formula on the classifier's p(y | x)
  (``classifier_score_real`` for the test images, close to the number of classes);
* ``coverage``: entropy in bits of the histogram of predicted labels, and
  ``coverage_min_share``, the share of the rarest predicted class.

Samples of another size than the data set's (the DCGAN's 64x64) are resized to it
(bilinear, antialiased), and the real images of the reference and of the floor take
the same path: up to the samples' size as the model saw them in training
(``data.resize``), then down with the same resize. Both sides are then blurred alike
by the round trip, which the classifier's features notice: on MNIST, round-tripped
training images against the original test images score 118 instead of 4.7 (see
docs/metrics.md), which would otherwise be charged to the model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from genlab import data
from genlab.distributed import barrier, current, gather
from genlab.evaluation.progress import bar
from genlab.evaluation.shards import own_rows, stream
from genlab.metrics.classifier import Classifier, ClassifierConfig, load_classifier
from genlab.metrics.scores import classifier_score, coverage, frechet_distance_of
from genlab.models.dbn import BeliefNet
from genlab.models.rbm import RBM

CHUNK = 1000  # images per forward pass (model sampling and classifier features)


def as_data_images(images: torch.Tensor, image_shape: tuple[int, int]) -> torch.Tensor:
    """Images in [0, 1] as [n, D], [n, H, W] or [n, 1, H', W'] -> [n, 1, H, W] of the data set's size."""
    images = as_images(images, image_shape).float()
    if tuple(images.shape[-2:]) != tuple(image_shape):
        images = F.interpolate(images, size=tuple(image_shape), mode="bilinear", antialias=True, align_corners=False)
    return images.clamp_(0, 1)


def as_images(images: torch.Tensor, image_shape: tuple[int, int]) -> torch.Tensor:
    """[n, D] (D = H*W of the data set), [n, H', W'] or [n, 1, H', W'] -> [n, 1, H', W']."""
    if images.dim() == 2:
        return images.reshape(images.shape[0], 1, *image_shape)
    return images[:, None] if images.dim() == 3 else images


def real_images(split: data.ImageSet, size: tuple[int, int]) -> torch.Tensor:
    """A split's images as the metrics see samples of ``size``: resized to it (as the model saw them) and back."""
    images = split.images if tuple(size) == split.image_shape else data.resize(split.images, size[0])
    return as_data_images(images.float().div(255), split.image_shape)


@torch.no_grad()
def draw_samples(model: Any, n: int, generator: torch.Generator, image_shape: tuple[int, int],
                 chunk: int = CHUNK, progress: bool = False) -> torch.Tensor:
    """n samples of ``model.sample(n, generator)`` (any family's model), drawn in chunks: [n, 1, H', W'] on the CPU.

    Under ``torchrun`` every rank returns all n, the samples one process draws. An RBM's or a DBN's
    chains (thousands of Gibbs steps each) are split across the ranks, each drawing what one process
    draws for its own (:mod:`~genlab.evaluation.shards`); a VAE or a DCGAN, whose sampler is one pass
    of a network, draws every chunk on every rank and keeps its share.
    """
    starts = bar(range(0, n, chunk), f"drawing {n:,} samples", progress, unit="chunk")
    return gather(torch.cat([own_samples(model, start, min(start + chunk, n), n, generator, image_shape)
                             for start in starts]))


def own_samples(model: Any, start: int, stop: int, n: int, generator: torch.Generator,
                image_shape: tuple[int, int]) -> torch.Tensor:
    """This rank's samples among samples ``start`` to ``stop`` of n, drawn as one process draws them, on the CPU."""
    rows = own_rows(start, stop, n)
    if isinstance(model, (RBM, BeliefNet)):  # their samplers draw only Bernoulli variables, row by row
        random = stream(generator, stop - start, rows, torch.get_default_dtype())
        images = model.sample(rows.stop - rows.start, random)
    else:
        images = model.sample(stop - start, generator)[rows]
    return as_images(images, image_shape).float().cpu()


@torch.no_grad()
def classify(classifier: Classifier, images: torch.Tensor, chunk: int = CHUNK, progress: bool = False,
             desc: str = "classifier features") -> tuple[torch.Tensor, torch.Tensor]:
    """(penultimate features, class probabilities) for [n, 1, H, W] images in [0, 1] (a progress bar named ``desc``),
    on the CPU. Under ``torchrun`` each rank classifies its share of the images, and every rank returns all n."""
    device = next(classifier.parameters()).device
    n = images.shape[0]
    features, probs = [], []
    for start in bar(range(0, n, chunk), desc, progress, unit="chunk"):
        f = classifier.features(images[start : start + chunk][own_rows(start, min(start + chunk, n), n)].to(device))
        features.append(f.cpu())
        probs.append(torch.softmax(classifier.out(f), 1).cpu())
    return gather(torch.cat(features)), gather(torch.cat(probs))


def sample_quality(
    samples: torch.Tensor,
    source: data.DataSource,
    device: torch.device | str = "cpu",
    test_limit: int | None = None,
    classifier_config: ClassifierConfig | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """frechet_classifier_distance and its floor, classifier_score and coverage of ``samples`` against the data set's test split.

    ``samples``: N images in [0, 1], [N, D] with D = H*W of the data set, or [N, 1, H', W'].
    """
    classifier, record = shared_classifier(source, classifier_config, progress)
    classifier = classifier.to(device)
    shape = tuple(record["image_shape"])
    size = tuple(as_images(samples[:1], shape).shape[-2:])
    real = reference(classifier, record, source, size, test_limit, samples.shape[0], progress)
    f_samples, p_samples = classify(classifier, as_data_images(samples, shape), progress=progress,
                                    desc="classifier features of the samples")
    classes = p_samples.shape[1]
    entropy, min_share = coverage(p_samples.argmax(1), classes)
    return {
        "frechet_classifier_distance": frechet_distance_of(f_samples, real.test_features),
        "frechet_classifier_distance_floor": real.floor,
        "classifier_score": classifier_score(p_samples),
        "classifier_score_real": real.test_score,
        "coverage": entropy,
        "coverage_min_share": min_share,
        "coverage_max": torch.log2(torch.tensor(float(classes))).item(),
        "metric_samples": samples.shape[0],
        "metric_test_images": real.test_images,
        "metric_sample_size": list(size),
        "classifier_test_accuracy": record["test_accuracy"],
    }


@dataclass(frozen=True)
class Reference:
    """What the metrics set a model's samples against, the same for every model of a data set: the classifier's
    features of the test images, their classifier score, and the floor (the Frechet distance of as many
    training images as samples)."""

    test_features: torch.Tensor
    test_score: float
    test_images: int
    floor: float


_REFERENCES: dict[tuple[Any, ...], Reference] = {}  # computed once per process (a lab evaluates dozens of runs)


def reference(classifier: Classifier, record: dict[str, Any], source: data.DataSource, size: tuple[int, int],
              test_limit: int | None, n: int, progress: bool = False) -> Reference:
    """The :class:`Reference` for N samples of ``size`` from the test split (its first ``test_limit`` images),
    computed on first use and then kept for this process, keyed by the classifier's weights, the data set's
    checksums and these options."""
    device = next(classifier.parameters()).device
    key = (record["weights_sha256"], json.dumps(record["data_sha256"], sort_keys=True), size, test_limit, n, str(device))
    if key not in _REFERENCES:
        test = data.read_split(source, "test").head(test_limit)
        train = data.read_split(source, "train").head(n)
        f_test, p_test = classify(classifier, real_images(test, size), progress=progress,
                                  desc="classifier features of the test images")
        f_train, _ = classify(classifier, real_images(train, size), progress=progress,
                              desc="classifier features of the training images")
        _REFERENCES[key] = Reference(f_test, classifier_score(p_test), len(test), frechet_distance_of(f_train, f_test))
    return _REFERENCES[key]


def shared_classifier(source: data.DataSource, config: ClassifierConfig | None,
                      progress: bool) -> tuple[Classifier, dict[str, Any]]:
    """:func:`~genlab.metrics.classifier.load_classifier`; under ``torchrun`` rank 0 trains and caches it
    when it is not cached yet, while the other ranks wait, then read it from the cache."""
    if current().main:
        found = load_classifier(source, config, progress)
        barrier("waiting for rank 0's metrics classifier")
        return found
    barrier("waiting for rank 0's metrics classifier")
    return load_classifier(source, config)
