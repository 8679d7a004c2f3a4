"""genlab.metrics.scores against closed forms and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from genlab.metrics.scores import (
    classifier_score,
    coverage,
    frechet_distance,
    frechet_distance_of,
    gaussian_stats,
)


def random_spd(d: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, generator=g, dtype=torch.float64)
    return a @ a.t() / d + 0.1 * torch.eye(d, dtype=torch.float64)


def test_one_dimensional_gaussians_match_the_closed_form():
    """W2^2(N(m1, s1^2), N(m2, s2^2)) = (m1 - m2)^2 + (s1 - s2)^2."""
    d2 = frechet_distance(torch.tensor([1.0]), torch.tensor([[4.0]]), torch.tensor([-2.0]), torch.tensor([[0.25]]))
    assert d2 == pytest.approx(3.0**2 + (2.0 - 0.5) ** 2, rel=1e-12)


def test_diagonal_covariances_match_the_closed_form():
    """For commuting (diagonal) covariances the trace term is sum_i sqrt(a_i b_i)."""
    a, b = torch.tensor([1.0, 2.0, 9.0]), torch.tensor([4.0, 0.5, 1.0])
    mu1, mu2 = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 1.0, 0.0])
    expected = (mu1 - mu2).square().sum() + (a.sqrt() - b.sqrt()).square().sum()
    assert frechet_distance(mu1, torch.diag(a), mu2, torch.diag(b)) == pytest.approx(expected.item(), rel=1e-12)


def test_general_covariances_match_scipy_sqrtm():
    """tr(S1 + S2 - 2 (S1 S2)^1/2) with an independent matrix square root (scipy's Schur method)."""
    s1, s2 = random_spd(6, 0), random_spd(6, 1)
    mu1, mu2 = torch.arange(6.0), torch.ones(6)
    cross = np.trace(scipy.linalg.sqrtm(s1.numpy() @ s2.numpy())).real
    expected = (mu1 - mu2).square().sum().item() + s1.trace().item() + s2.trace().item() - 2 * cross
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)


def test_distance_between_samples_converges_to_the_gaussians_distance():
    g = torch.Generator().manual_seed(3)
    s1, s2 = random_spd(3, 4), random_spd(3, 5)
    mu1, mu2 = torch.tensor([0.0, 0.5, -1.0], dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    n = 200_000
    x = mu1 + torch.randn(n, 3, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(s1).t()
    y = mu2 + torch.randn(n, 3, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(s2).t()
    assert frechet_distance_of(x, y) == pytest.approx(frechet_distance(mu1, s1, mu2, s2), rel=0.02)


@pytest.mark.parametrize("n, d", [(500, 20), (50, 128)])  # the second: fewer rows than features (singular)
def test_distance_of_a_set_to_itself_is_zero(n, d):
    g = torch.Generator().manual_seed(0)
    features = torch.relu(torch.randn(n, d, generator=g) * 3 + 1)  # ReLU-like, with exact zeros
    scale = gaussian_stats(features)[1].trace().item()
    assert frechet_distance_of(features, features) == pytest.approx(0.0, abs=1e-9 * scale)
    assert frechet_distance_of(features, features + 1) == pytest.approx(d, rel=1e-6)  # only the means differ


def test_distance_is_symmetric():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(300, 5, generator=g), torch.randn(400, 5, generator=g) * 2
    assert frechet_distance_of(x, y) == pytest.approx(frechet_distance_of(y, x), rel=1e-9)


def test_classifier_score_of_confident_uniform_classes_is_the_number_of_classes():
    labels = torch.arange(1000) % 10
    assert classifier_score(torch.nn.functional.one_hot(labels, 10).float()) == pytest.approx(10.0, rel=1e-12)
    # confident but only 4 classes used: 4; the same distribution for every sample: 1
    assert classifier_score(torch.nn.functional.one_hot(torch.arange(1000) % 4, 10).float()) == pytest.approx(4.0)
    assert classifier_score(torch.full((100, 10), 0.1)) == pytest.approx(1.0)


def test_classifier_score_of_a_two_sample_example_by_hand():
    p = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
    py = p.mean(0)
    kl = [sum(p[i, k] * math.log(p[i, k] / py[k]) for k in range(2)) for i in range(2)]
    assert classifier_score(p) == pytest.approx(math.exp(sum(kl) / 2), rel=1e-6)


@pytest.mark.parametrize(
    "counts, classes, bits, min_share",
    [
        ([10] * 10, 10, math.log2(10), 0.1),
        ([50], 10, 0.0, 0.0),  # every sample the same label: no entropy, nine classes missing
        ([5, 5], 2, 1.0, 0.5),
        ([1, 1, 2, 4], 4, 1.75, 0.125),  # -(2 * 1/8 log2 1/8 + 1/4 log2 1/4 + 1/2 log2 1/2)
    ],
)
def test_coverage_of_known_histograms(counts, classes, bits, min_share):
    labels = torch.cat([torch.full((c,), k) for k, c in enumerate(counts)])
    entropy, share = coverage(labels, classes)
    assert entropy == pytest.approx(bits, abs=1e-12) and share == pytest.approx(min_share)
