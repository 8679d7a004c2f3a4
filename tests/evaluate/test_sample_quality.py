"""Sample-quality metrics in ``genlab eval``, for any family, and their values on real data."""

from __future__ import annotations

import json
import math

import pytest

from genlab import data
from genlab.evaluate.run import EvalConfig, evaluate
from genlab.metrics.quality import sample_quality
from genlab.train import rbm as train_rbm
from genlab.train.rbm import RBMConfig

KEYS = ("fid", "fid_floor", "classifier_score", "coverage", "coverage_min_share")


def test_eval_adds_the_sample_quality_metrics_for_an_rbm(tiny_dataset, tmp_path):
    run = train_rbm.train(RBMConfig(dataset=str(tiny_dataset), hidden=8, epochs=1), tmp_path / "run", device="cpu", progress=False)
    results = evaluate(run, EvalConfig(samples=150, test_limit=60), device="cpu", progress=False)
    assert all(math.isfinite(results[k]) for k in KEYS)
    assert results["fid"] > 0 and results["fid_floor"] > 0
    assert 1 <= results["classifier_score"] <= 10 and 0 <= results["coverage"] <= math.log2(10) + 1e-9
    assert results["metric_samples"] == 150 and results["metric_test_images"] == 60 and results["sample_time_s"] >= 0
    assert json.loads((run.path / "eval.json").read_text())["fid"] == results["fid"]
    assert "fid" not in evaluate(run, EvalConfig(samples=0, test_limit=60), device="cpu", progress=False)


def test_real_test_images_score_as_real_data(shared_cache, mnist_dir):
    source = data.resolve("mnist", mnist_dir)
    test = data.read_split(source, "test")
    real = sample_quality(test.images.float().div(255), source)
    assert real["fid"] == pytest.approx(0.0, abs=1e-6)  # the reference set itself
    assert 0 < real["fid_floor"] < 10  # 10,000 training images against the test images
    assert real["classifier_score"] == pytest.approx(real["classifier_score_real"]) and real["classifier_score"] > 9.5
    assert real["coverage"] > 3.3 and real["coverage_min_share"] > 0.08
    # 64x64 samples are compared with real images taken to 64x64 (as a DCGAN saw them) and back
    n = 2000
    big = sample_quality(data.resize(test.images[:n], 64).float().div(255)[:, None], source, test_limit=n)
    assert big["fid"] == pytest.approx(0.0, abs=1e-6) and big["metric_sample_size"] == [64, 64]
    assert big["fid_floor"] > 0 and big["classifier_score_real"] > 9
    # a model that draws only one class is caught by coverage and score
    ones = test.images[test.labels == 1][:n].float().div(255)
    collapsed = sample_quality(ones, source, test_limit=n)
    assert collapsed["coverage"] < 0.2 and collapsed["classifier_score"] < 1.5 and collapsed["fid"] > 10 * collapsed["fid_floor"]
