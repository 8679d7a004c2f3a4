"""The estimators that measure a model: they take models and splits, never run directories.

* :mod:`~genlab.evaluation.loglik` and :mod:`~genlab.evaluation.ais` — log Z of an RBM, exact or by
  Annealed Importance Sampling, and log-likelihoods from it;
* :mod:`~genlab.evaluation.rbm`, :mod:`~genlab.evaluation.dbn`, :mod:`~genlab.evaluation.vae`,
  :mod:`~genlab.evaluation.dcgan` — each family's ``measure(model, train, test, config, generator)``,
  the numbers of its ``eval.json``;
* :mod:`~genlab.evaluation.probe` — linear-probe accuracy of features;
* :mod:`~genlab.evaluation.config` — the options of an evaluation.
"""
