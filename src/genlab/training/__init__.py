"""Training: each family's config (the SPEC reference by default), its loop and its run directory.

Each module has ``fit(model, x, config, generator)`` — ``for epoch: for minibatch: step``,
with the step from :mod:`genlab.algorithms`, or a faster runner of the same step from
:mod:`genlab.accel` when the config asks for it — and ``train(config, out)``, which
writes a run directory (config, model, per-epoch log, standard figures), and ``load(run)``.
:mod:`~genlab.training.session` has what every run shares.
"""
