"""genlab's RBM as a scikit-learn estimator, e.g. as the feature layer of a classifier.

::

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from genlab.estimators import RBMEstimator

    model = Pipeline([("rbm", RBMEstimator(hidden=100, epochs=10, random_state=0)),
                      ("clf", LogisticRegression(max_iter=1000))])
    model.fit(X_train, y_train)        # X: [n, n_features], pixel probabilities in [0, 1]
    model.score(X_test, y_test)

The parameters are those of ``genlab train rbm`` (same names, same defaults: the SPEC
reference run) plus ``random_state`` (an int for reproducible fits, or None),
``device`` and the AIS settings used by :meth:`RBMEstimator.score_samples`. Training
is :func:`genlab.training.rbm.fit` itself; the fitted model is ``rbm_``
(a :class:`genlab.models.rbm.RBM`).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from genlab.algorithms.cd import CDState
from genlab.devices import resolve_device
from genlab.evaluation.ais import log_partition
from genlab.models.rbm import RBM
from genlab.rng import make_generator
from genlab.training import rbm as train_rbm


class RBMEstimator(TransformerMixin, BaseEstimator):
    """A Bernoulli RBM trained with CD-k: ``transform`` gives the hidden probabilities p(h = 1 | x).

    Fitted attributes: ``rbm_`` (the model), ``components_`` ([hidden, n_features],
    W transposed), ``intercept_hidden_``, ``intercept_visible_``, ``n_features_in_``,
    ``n_samples_seen_`` and ``pixel_mean_`` (the visible marginals of the data seen,
    the AIS base-rate model).
    """

    def __init__(
        self,
        hidden: int = 100,
        cd_k: int = 1,
        lr: float = 0.1,
        epochs: int = 100,
        batch_size: int = 100,
        init_std: float = 0.1,
        binarize: bool = True,
        persistent: bool = False,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        random_state: int | np.random.RandomState | None = None,
        device: str = "cpu",
        ais_runs: int = 100,
        ais_betas: int = 14_500,
        verbose: bool = False,
    ) -> None:
        self.hidden = hidden
        self.cd_k = cd_k
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.init_std = init_std
        self.binarize = binarize
        self.persistent = persistent
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.random_state = random_state
        self.device = device
        self.ais_runs = ais_runs
        self.ais_betas = ais_betas
        self.verbose = verbose

    # -- fitting ----------------------------------------------------------------

    def fit(self, X, y=None) -> RBMEstimator:
        """Train a new RBM for ``epochs`` epochs on the rows of X (``y`` is ignored)."""
        x = self._start(X)
        train_rbm.fit(self.rbm_, x, self._config(), self.generator_, progress=self.verbose)
        return self

    def partial_fit(self, X, y=None) -> RBMEstimator:
        """One epoch of CD-k updates on the rows of X (a new RBM on the first call).

        Persistent chains and momentum carry over between calls.
        """
        x = self._start(X) if not hasattr(self, "rbm_") else self._update_seen(self._input(X, reset=False))
        train_rbm.train_epoch(self.rbm_, x, self._config(), self.generator_, self.cd_state_)
        return self

    def _start(self, X) -> torch.Tensor:
        """Check X and the parameters, and set up a fresh model."""
        config = self._config()  # raises ValueError naming an invalid parameter
        x = self._input(X, reset=True)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        device = resolve_device(self.device)
        self.generator_ = make_generator(seed, device)
        self.rbm_ = RBM(x.shape[1], config.hidden, config.init_std, generator=self.generator_, device=device)
        self.cd_state_ = CDState()
        self.n_samples_seen_ = 0
        self.pixel_mean_ = np.zeros(x.shape[1])
        return self._update_seen(x)

    def _update_seen(self, x: torch.Tensor) -> torch.Tensor:
        n = self.n_samples_seen_ + x.shape[0]
        self.pixel_mean_ = self.pixel_mean_ + (x.double().sum(0).cpu().numpy() - x.shape[0] * self.pixel_mean_) / n
        self.n_samples_seen_ = n
        self.log_z_ = None  # the model changes: log Z is computed again when needed
        return x

    def _config(self) -> train_rbm.RBMConfig:
        return train_rbm.RBMConfig(
            hidden=self.hidden, cd_k=self.cd_k, lr=self.lr, epochs=self.epochs, batch_size=self.batch_size,
            init_std=self.init_std, binarize=self.binarize, persistent=self.persistent,
            momentum=self.momentum, weight_decay=self.weight_decay,
        )

    def _input(self, X, reset: bool) -> torch.Tensor:
        """X as a float32 tensor on the model's device, checked to lie in [0, 1]."""
        return self._checked(X, reset)[0]

    def _checked(self, X, reset: bool) -> tuple[torch.Tensor, np.dtype]:
        """(X as a float32 tensor on the model's device, the float dtype results are given in)."""
        X = self._validated(X, reset)
        if X.size and X.min() < 0:
            raise ValueError(f"Negative values in data passed to X: expected pixel probabilities in [0, 1], got {X.min():g}")
        if X.size and X.max() > 1:
            raise ValueError(f"X: expected pixel probabilities in [0, 1], got values up to {X.max():g} (scale pixels to [0, 1])")
        device = self.rbm_.W.device if not reset else resolve_device(self.device)
        return torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)).to(device), X.dtype

    def _validated(self, X, reset: bool) -> np.ndarray:
        """scikit-learn's checks of X (2-D, finite, n_features_in_); a float array."""
        return validate_data(self, X, reset=reset, dtype=[np.float64, np.float32])

    # -- using the fitted model -------------------------------------------------

    @torch.no_grad()
    def transform(self, X) -> np.ndarray:
        """p(h = 1 | x) for each row of X: the features, [n, hidden].

        Computed in float64, so that a row's features do not depend on the other rows
        (float32 matrix products may sum in a different order for a different batch).
        """
        check_is_fitted(self, "rbm_")
        x, dtype = self._checked(X, reset=False)
        return self._double().p_h(x.double()).cpu().numpy().astype(dtype)

    @torch.no_grad()
    def score_samples(self, X) -> np.ndarray:
        """log p(x) in nats for each (binary) row of X: -F(x) - log Z.

        log Z is exact when the smaller layer has at most 20 units, otherwise the checked
        AIS estimate of :func:`genlab.evaluation.ais.log_partition` with ``ais_runs`` runs
        over ``ais_betas`` distributions, from base-rate models of the mean of the data
        seen (computed once per fitted model).
        """
        check_is_fitted(self, "rbm_")
        x = self._input(X, reset=False)
        if self.log_z_ is None:
            mean = torch.from_numpy(self.pixel_mean_)[None].to(x)  # the base-rate models come from the data's mean
            self.log_z_ = log_partition(self.rbm_, mean, self.ais_runs, self.ais_betas, self.generator_)["log_z"]
        return (-self._double().free_energy(x.double()) - self.log_z_).cpu().numpy()  # row-independent sums

    def _double(self) -> RBM:
        """The fitted RBM in float64."""
        return RBM.from_tensors({k: t.double() for k, t in self.rbm_.tensors().items()})

    @torch.no_grad()
    def gibbs(self, v) -> np.ndarray:
        """One Gibbs step v -> h -> v from each row of v: a binary sample, like v in shape."""
        check_is_fitted(self, "rbm_")
        x, dtype = self._checked(v, reset=False)
        sample, _ = self.rbm_.gibbs(x, 1, self.generator_)
        return sample.cpu().numpy().astype(dtype)

    # -- fitted attributes in scikit-learn's names ------------------------------

    @property
    def components_(self) -> np.ndarray:
        return self.rbm_.W.t().cpu().numpy()

    @property
    def intercept_hidden_(self) -> np.ndarray:
        return self.rbm_.h_bias.cpu().numpy()

    @property
    def intercept_visible_(self) -> np.ndarray:
        return self.rbm_.v_bias.cpu().numpy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
