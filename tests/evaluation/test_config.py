"""genlab.evaluation.config: the sizes of --quick and the test images an evaluation measures."""

from __future__ import annotations

import torch

from genlab import data
from genlab.evaluation.config import QUICK, EvalConfig, measured_images, quick_sizes


def test_quick_takes_its_sizes_for_the_options_left_at_their_defaults():
    assert quick_sizes(EvalConfig()) == EvalConfig()
    quick = quick_sizes(EvalConfig(quick=True))
    sizes = (quick.ais_runs, quick.ais_betas, quick.raise_betas, quick.iwae_k, quick.samples, quick.probe_images)
    assert sizes == (100, 4000, 300, 500, 1000, 10_000) == tuple(QUICK.values())
    assert quick.quick and quick.to_dict()["quick"] is True
    mine = quick_sizes(EvalConfig(quick=True, samples=0, ais_betas=1000))
    assert (mine.samples, mine.ais_betas, mine.iwae_k) == (0, 1000, 500)


def test_quick_measures_every_fifth_test_image_unless_a_test_limit_is_given():
    test = data.ImageSet(torch.arange(20, dtype=torch.uint8)[:, None, None].expand(20, 2, 2), torch.arange(20))
    assert measured_images(test, EvalConfig()) is test
    assert measured_images(test, EvalConfig(quick=True)).labels.tolist() == [0, 5, 10, 15]
    assert measured_images(test, EvalConfig(quick=True, test_limit=3)).labels.tolist() == [0, 1, 2]
    assert measured_images(test, EvalConfig(test_limit=3)).images[:, 0, 0].tolist() == [0, 1, 2]
