"""genlab.estimators.RBMEstimator: scikit-learn's contract, exact probabilities, and RBM features in a Pipeline."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import check_estimator

from genlab import data
from genlab.estimators import RBMEstimator
from genlab.evaluation.loglik import all_states


def binary_data(n=200, d=8, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n, d)) < np.linspace(0.1, 0.9, d)).astype(np.float64)


class SigmoidInput(RBMEstimator):
    """Reads any real X as sigmoid(X), so that scikit-learn's generic checks (whose data are
    not probabilities) exercise everything else of the estimator."""

    def _validated(self, X, reset):
        return 1 / (1 + np.exp(-super()._validated(X, reset)))


def test_scikit_learn_estimator_checks_pass():
    expected = {  # sigmoid(X) makes every input valid, so these negative-input checks cannot raise here
        "check_positive_only_tag_during_fit": "inputs are squashed into [0, 1] by the test subclass",
        "check_fit_non_negative": "inputs are squashed into [0, 1] by the test subclass",
    }
    check_estimator(SigmoidInput(hidden=6, epochs=2, batch_size=10), expected_failed_checks=expected)


def test_inputs_outside_the_unit_interval_are_refused_with_a_clear_message():
    est = RBMEstimator(hidden=4, epochs=1)
    with pytest.raises(ValueError, match="Negative values in data"):
        est.fit(-binary_data())
    with pytest.raises(ValueError, match=r"up to 255 \(scale pixels to \[0, 1\]\)"):
        est.fit(binary_data() * 255)
    with pytest.raises(ValueError, match="--hidden: expected a positive number"):
        RBMEstimator(hidden=0).fit(binary_data())


def test_fit_returns_self_and_clone_keeps_the_parameters():
    est = RBMEstimator(hidden=5, epochs=2, cd_k=2, random_state=3)
    assert est.fit(binary_data()) is est and est.n_features_in_ == 8
    assert est.components_.shape == (5, 8) and est.intercept_hidden_.shape == (5,) and est.intercept_visible_.shape == (8,)
    twin = clone(est)
    assert twin.get_params() == est.get_params() and not hasattr(twin, "rbm_")
    assert np.array_equal(twin.fit(binary_data()).components_, est.components_)  # same random_state, same weights
    assert est.set_params(lr=0.5).lr == 0.5


def test_transform_is_p_h_and_gibbs_gives_binary_samples():
    X = binary_data()
    est = RBMEstimator(hidden=5, epochs=3, random_state=0).fit(X)
    H = est.transform(X.astype(np.float32))
    assert H.dtype == np.float32 and H.shape == (200, 5)
    expected = est.rbm_.p_h(torch.from_numpy(X).float()).numpy()
    np.testing.assert_allclose(H, expected, rtol=1e-6)
    V = est.gibbs(X[:10])
    assert V.shape == (10, 8) and set(np.unique(V)) <= {0.0, 1.0}


def test_score_samples_are_normalised_log_probabilities():
    est = RBMEstimator(hidden=5, epochs=5, random_state=0).fit(binary_data())
    log_p = est.score_samples(all_states(8).numpy())
    assert np.logaddexp.reduce(log_p) == pytest.approx(0.0, abs=1e-9)  # sums to one over all 2^8 images


def test_partial_fit_runs_one_epoch_at_a_time_and_pickles():
    X = binary_data()
    est = RBMEstimator(hidden=5, epochs=4, batch_size=20, persistent=True, momentum=0.5, random_state=0)
    est.partial_fit(X)
    first = est.components_.copy()
    est.partial_fit(X[:50])
    assert est.n_samples_seen_ == 250 and not np.array_equal(first, est.components_)
    np.testing.assert_allclose(est.pixel_mean_, np.vstack([X, X[:50]]).mean(0))
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.transform(X), est.transform(X))


def test_rbm_features_in_a_pipeline_before_logistic_regression(mnist_dir):
    train = data.load_split("mnist", "train", limit=3000, data_dir=mnist_dir)
    test = data.load_split("mnist", "test", limit=1000, data_dir=mnist_dir)
    X, Xt = data.as_float(train.images).numpy(), data.as_float(test.images).numpy()
    y, yt = train.labels.numpy(), test.labels.numpy()

    def accuracy(**params) -> float:
        model = Pipeline([("rbm", RBMEstimator(hidden=100, random_state=0, **params)), ("clf", LogisticRegression(max_iter=500))])
        return model.fit(X, y).score(Xt, yt)

    trained, untrained = accuracy(epochs=20), accuracy(epochs=1, lr=1e-9)  # lr ~ 0: the random initial features
    assert trained > 0.86 and trained > untrained + 0.02
