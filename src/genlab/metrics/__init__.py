"""Sample-quality metrics for every model family, on the features of genlab's own classifier.

* :mod:`genlab.metrics.scores` — the formulas: Frechet distance, classifier score, coverage;
* :mod:`genlab.metrics.classifier` — the small convolutional classifier, trained once per
  data set and cached with a checksum of its weights;
* :mod:`genlab.metrics.quality` — samples of a run against the data set's test images
  (``frechet_classifier_distance`` and its ``_floor``, ``classifier_score``, ``coverage``), used by ``genlab eval``.
"""
