"""genlab.metrics.quality: the sample-quality metrics on real data."""

from __future__ import annotations

import pytest

from genlab import data
from genlab.metrics.quality import sample_quality


def test_real_test_images_score_as_real_data(shared_cache, mnist_dir):
    source = data.resolve("mnist", mnist_dir)
    test = data.read_split(source, "test")
    real = sample_quality(test.images.float().div(255), source)
    assert real["frechet_classifier_distance"] == pytest.approx(0.0, abs=1e-6)  # the reference set itself
    assert 0 < real["frechet_classifier_distance_floor"] < 10  # 10,000 training images against the test images
    assert real["classifier_score"] == pytest.approx(real["classifier_score_real"]) and real["classifier_score"] > 9.5
    assert real["coverage"] > 3.3 and real["coverage_min_share"] > 0.08
    # 64x64 samples are compared with real images taken to 64x64 (as a DCGAN saw them) and back
    n = 2000
    big = sample_quality(data.resize(test.images[:n], 64).float().div(255)[:, None], source, test_limit=n)
    assert big["frechet_classifier_distance"] == pytest.approx(0.0, abs=1e-6) and big["metric_sample_size"] == [64, 64]
    assert big["frechet_classifier_distance_floor"] > 0 and big["classifier_score_real"] > 9
    # a model that draws only one class is caught by coverage and score
    ones = test.images[test.labels == 1][:n].float().div(255)
    collapsed = sample_quality(ones, source, test_limit=n)
    assert collapsed["coverage"] < 0.2 and collapsed["classifier_score"] < 1.5
    assert collapsed["frechet_classifier_distance"] > 10 * collapsed["frechet_classifier_distance_floor"]
