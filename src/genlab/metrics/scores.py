"""The sample-quality formulas, on features and class probabilities (float64 throughout).

Frechet distance between Gaussians N(mu1, S1) and N(mu2, S2) fitted to two sets of
features (the squared 2-Wasserstein distance; called FID on Inception features,
FCD here, on genlab's classifier's)::

    d^2 = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1^1/2 S2 S1^1/2)^1/2)

The matrix square roots are taken of symmetric positive semi-definite matrices by
eigendecomposition, with eigenvalues below zero (rounding) clipped to zero.
tr((S1 S2)^1/2) equals tr((S1^1/2 S2 S1^1/2)^1/2), which is the symmetric form.

Classifier score (the Inception-Score formula with p(y | x) from genlab's classifier)::

    CS = exp( E_x KL(p(y | x) || p(y)) ),   p(y) = E_x p(y | x)

between 1 (every sample gets the same class distribution) and the number of classes
(confident predictions spread evenly over all classes).

Coverage: the entropy of the histogram of predicted labels, in bits (log2 10 = 3.32
for ten equally frequent classes, 0 when every sample gets the same label), and the
share of the rarest class (0.1 for ten equally frequent classes).
"""

from __future__ import annotations

import math

import torch


def gaussian_stats(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and (unbiased) covariance of the rows of ``features``, in float64."""
    x = features.double()
    mu = x.mean(0)
    centred = x - mu
    return mu, centred.t() @ centred / max(x.shape[0] - 1, 1)


def psd_sqrt(a: torch.Tensor) -> torch.Tensor:
    """The symmetric square root of a symmetric positive semi-definite matrix."""
    eigenvalues, eigenvectors = torch.linalg.eigh((a + a.t()) / 2)
    return (eigenvectors * eigenvalues.clamp_min(0).sqrt()) @ eigenvectors.t()


def frechet_distance(mu1: torch.Tensor, cov1: torch.Tensor, mu2: torch.Tensor, cov2: torch.Tensor) -> float:
    """d^2 between N(mu1, cov1) and N(mu2, cov2) (>= 0)."""
    mu1, cov1, mu2, cov2 = (t.double() for t in (mu1, cov1, mu2, cov2))
    root1 = psd_sqrt(cov1)
    middle = root1 @ cov2 @ root1
    cross = torch.linalg.eigvalsh((middle + middle.t()) / 2).clamp_min(0).sqrt().sum()
    d2 = (mu1 - mu2).square().sum() + cov1.trace() + cov2.trace() - 2 * cross
    return max(d2.item(), 0.0)


def frechet_distance_of(features1: torch.Tensor, features2: torch.Tensor) -> float:
    """d^2 between Gaussians fitted to two sets of feature rows."""
    return frechet_distance(*gaussian_stats(features1), *gaussian_stats(features2))


def classifier_score(probs: torch.Tensor) -> float:
    """exp(mean KL(p(y|x) || p(y))) for rows p(y|x) of ``probs`` [N, classes]."""
    p = probs.double()
    marginal = p.mean(0, keepdim=True)
    kl = (torch.special.xlogy(p, p) - torch.special.xlogy(p, marginal)).sum(1)
    return math.exp(kl.mean().item())


def coverage(labels: torch.Tensor, classes: int) -> tuple[float, float]:
    """(entropy in bits of the label histogram, share of the rarest class)."""
    shares = torch.bincount(labels.flatten().long(), minlength=classes).double() / labels.numel()
    entropy = -torch.special.xlogy(shares, shares).sum().item() / math.log(2) + 0.0  # + 0.0: no "-0.0"
    return entropy, shares.min().item()
