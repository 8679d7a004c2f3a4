"""Linear-probe accuracy: how linearly separable the classes are in a model's features."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from genlab import data
from genlab.distributed import current
from genlab.evaluation.progress import step
from genlab.evaluation.shards import same_on_every_rank


def probe_accuracy(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
    max_iter: int = 300,
    seed: int = 0,
    progress: bool = False,
) -> float:
    """Test accuracy of a multinomial logistic regression fitted on standardised train features (under
    ``torchrun`` rank 0 fits it, given every rank's features, and tells the others the accuracy)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def np_(t: torch.Tensor) -> np.ndarray:
        return t.detach().float().cpu().numpy()

    if not current().main:
        return same_on_every_rank(0.0)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter, random_state=seed))
    with warnings.catch_warnings(), step(f"linear probe on {len(train_labels):,} images", progress):
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(np_(train_features), np_(train_labels).astype(int))
    return same_on_every_rank(float(model.score(np_(test_features), np_(test_labels).astype(int))))


def linear_probe(features: Callable[[torch.Tensor], torch.Tensor], train: data.ImageSet, test: data.ImageSet,
                 images: int | None = None, progress: bool = False) -> dict[str, Any]:
    """``probe_accuracy`` on the test images of a probe fitted on the first ``images`` training images (all when
    None), and ``probe_images``, their number; ``features`` maps rows of pixel values in [0, 1] to features."""
    fit = train.head(images)
    accuracy = probe_accuracy(features(data.as_float(fit.images)), fit.labels, features(data.as_float(test.images)),
                              test.labels, progress=progress)
    return {"probe_accuracy": accuracy, "probe_images": len(fit)}
