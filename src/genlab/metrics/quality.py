"""Sample quality of any model, measured with genlab's own classifier (SPEC "Measurement").

For N model samples (images in [0, 1]):

* ``fid``: Frechet distance between the classifier's penultimate-layer features of
  the samples and of the test images;
* ``fid_floor``: the same distance between the first N training images and the test
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

from typing import Any

import torch
import torch.nn.functional as F

from genlab import data
from genlab.evaluation.progress import bar
from genlab.metrics.classifier import Classifier, ClassifierConfig, load_classifier
from genlab.metrics.scores import classifier_score, coverage, frechet_distance_of

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
    """n samples of ``model.sample(n, generator)`` (any family's model), drawn in chunks: [n, 1, H', W'] on the CPU."""
    starts = bar(range(0, n, chunk), f"drawing {n:,} samples", progress, unit="chunk")
    return torch.cat([as_images(model.sample(min(chunk, n - start), generator), image_shape).float().cpu()
                      for start in starts])


@torch.no_grad()
def classify(classifier: Classifier, images: torch.Tensor, chunk: int = CHUNK, progress: bool = False,
             desc: str = "classifier features") -> tuple[torch.Tensor, torch.Tensor]:
    """(penultimate features, class probabilities) for [n, 1, H, W] images in [0, 1] (a progress bar named ``desc``)."""
    device = next(classifier.parameters()).device
    features, probs = [], []
    for start in bar(range(0, images.shape[0], chunk), desc, progress, unit="chunk"):
        f = classifier.features(images[start : start + chunk].to(device))
        features.append(f.cpu())
        probs.append(torch.softmax(classifier.out(f), 1).cpu())
    return torch.cat(features), torch.cat(probs)


def sample_quality(
    samples: torch.Tensor,
    source: data.DataSource,
    device: torch.device | str = "cpu",
    test_limit: int | None = None,
    classifier_config: ClassifierConfig | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """fid, fid_floor, classifier_score and coverage of ``samples`` against the data set's test split.

    ``samples``: N images in [0, 1], [N, D] with D = H*W of the data set, or [N, 1, H', W'].
    """
    classifier, record = load_classifier(source, classifier_config, progress)
    classifier = classifier.to(device)
    test = data.read_split(source, "test").head(test_limit)
    train = data.read_split(source, "train").head(samples.shape[0])
    shape = test.image_shape
    size = tuple(as_images(samples[:1], shape).shape[-2:])
    f_samples, p_samples = classify(classifier, as_data_images(samples, shape), progress=progress,
                                    desc="classifier features of the samples")
    f_test, p_test = classify(classifier, real_images(test, size), progress=progress,
                              desc="classifier features of the test images")
    f_train, _ = classify(classifier, real_images(train, size), progress=progress,
                          desc="classifier features of the training images")
    classes = p_samples.shape[1]
    entropy, min_share = coverage(p_samples.argmax(1), classes)
    return {
        "fid": frechet_distance_of(f_samples, f_test),
        "fid_floor": frechet_distance_of(f_train, f_test),
        "classifier_score": classifier_score(p_samples),
        "classifier_score_real": classifier_score(p_test),
        "coverage": entropy,
        "coverage_min_share": min_share,
        "coverage_max": torch.log2(torch.tensor(float(classes))).item(),
        "metric_samples": samples.shape[0],
        "metric_test_images": len(test),
        "metric_sample_size": list(size),
        "classifier_test_accuracy": record["test_accuracy"],
    }
