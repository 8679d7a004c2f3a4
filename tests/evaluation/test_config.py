"""genlab.evaluation.config: the sizes of --quick and the test images an evaluation measures."""

from __future__ import annotations

import torch

from genlab import data
from genlab.evaluation.config import QUICK, SIZES, EvalConfig, measured_images


def sizes(c: EvalConfig) -> tuple:
    return (c.ais_runs, c.ais_betas, c.floor_steps, c.raise_betas, c.iwae_k, c.samples, c.probe_images)


def test_the_sizes_not_given_take_the_defaults_or_with_quick_the_quick_ones():
    assert sizes(EvalConfig()) == (100, 14_500, 1000, 1000, 5000, 10_000, None) == tuple(SIZES.values())
    quick = EvalConfig(quick=True)
    assert sizes(quick) == (100, 4000, 300, 300, 500, 1000, 10_000) == tuple(QUICK.values())
    assert quick.quick and quick.to_dict()["quick"] is True
    mine = EvalConfig(quick=True, samples=0, ais_betas=1000)
    assert (mine.samples, mine.ais_betas, mine.iwae_k) == (0, 1000, 500)


def test_a_size_given_is_kept_with_quick_even_when_it_is_the_default():
    # --quick --ais-betas 14500 anneals over 14,500 distributions, not quick's 4,000
    assert EvalConfig(quick=True, ais_betas=14_500, iwae_k=5000).ais_betas == 14_500
    assert EvalConfig(quick=True, ais_betas=14_500, iwae_k=5000).iwae_k == 5000
    # a config rebuilt from its record (a lab re-reading eval.json) or changed by replace keeps its sizes
    quick = EvalConfig(quick=True, ais_betas=14_500)
    assert EvalConfig.from_dict(quick.to_dict()) == quick
    assert quick.replace(seed=1).ais_betas == 14_500 and quick.replace(seed=1).raise_betas == 300


def test_turning_quick_on_or_off_changes_the_sizes_that_were_the_other_modes_defaults():
    assert EvalConfig().replace(quick=True) == EvalConfig(quick=True)
    assert EvalConfig(quick=True).replace(quick=False) == EvalConfig()
    mine = EvalConfig(ais_betas=1000, samples=0).replace(quick=True)
    assert (mine.ais_betas, mine.samples, mine.iwae_k, mine.quick) == (1000, 0, 500, True)
    assert EvalConfig().replace(quick=True, iwae_k=5000).iwae_k == 5000  # given with it


def test_quick_measures_every_fifth_test_image_unless_a_test_limit_is_given():
    test = data.ImageSet(torch.arange(20, dtype=torch.uint8)[:, None, None].expand(20, 2, 2), torch.arange(20))
    assert measured_images(test, EvalConfig()) is test
    assert measured_images(test, EvalConfig(quick=True)).labels.tolist() == [0, 5, 10, 15]
    assert measured_images(test, EvalConfig(quick=True, test_limit=3)).labels.tolist() == [0, 1, 2]
    assert measured_images(test, EvalConfig(test_limit=3)).images[:, 0, 0].tolist() == [0, 1, 2]
