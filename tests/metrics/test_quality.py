"""genlab.metrics.quality: the sample-quality metrics on real data."""

from __future__ import annotations

import pytest

from genlab import data
from genlab.metrics import quality
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


def test_the_reference_of_a_data_set_is_classified_once_per_process(shared_cache, mnist_dir, monkeypatch):
    source = data.resolve("mnist", mnist_dir)
    test = data.read_split(source, "test")
    described = []
    classify = quality.classify
    monkeypatch.setattr(quality, "classify", lambda *a, **k: described.append(k["desc"]) or classify(*a, **k))
    quality._REFERENCES.clear()
    first = sample_quality(test.images[:500].float().div(255), source, test_limit=1000)
    again = sample_quality(test.images[500:1000].float().div(255), source, test_limit=1000)
    features = ["classifier features of the test images", "classifier features of the training images"]
    assert described == features + ["classifier features of the samples"] * 2
    # the same numbers as a reference computed afresh; another sample count has its own floor (equal N)
    quality._REFERENCES.clear()
    assert sample_quality(test.images[500:1000].float().div(255), source, test_limit=1000) == again
    more = sample_quality(test.images[:1000].float().div(255), source, test_limit=1000)
    assert first["frechet_classifier_distance_floor"] == again["frechet_classifier_distance_floor"]
    assert more["frechet_classifier_distance_floor"] != first["frechet_classifier_distance_floor"]
    assert more["frechet_classifier_distance"] == pytest.approx(0.0, abs=1e-6)  # the reference set itself
