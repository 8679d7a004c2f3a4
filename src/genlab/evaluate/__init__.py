"""The estimators that measure a model: they take models and splits, never run directories.

* :mod:`~genlab.evaluate.loglik` and :mod:`~genlab.evaluate.ais` — log Z of an RBM, exact or by
  Annealed Importance Sampling, and log-likelihoods from it;
* :mod:`~genlab.evaluate.rbm`, :mod:`~genlab.evaluate.dbn`, :mod:`~genlab.evaluate.vae`,
  :mod:`~genlab.evaluate.dcgan` — each family's ``measure(model, train, test, config, generator)``,
  the numbers of its ``eval.json``;
* :mod:`~genlab.evaluate.probe` — linear-probe accuracy of features;
* :mod:`~genlab.evaluate.config` — the options of an evaluation.
"""
