"""genlab.figures.dbn: the set states of generation (SPEC 1.7, 2.3), the weights of fine-tuning (SPEC 3.1)."""

from __future__ import annotations

import torch
from dbn_truth import random_dbn

from genlab.figures.dbn import lower_weights_figures, set_states
from genlab.lab.report import png_size
from genlab.models.dbn import UpDownDBN


def test_the_set_states_are_those_of_spec_1_7():
    init = set_states(100, torch.Generator().manual_seed(0))
    random_rows, single_rows = init[:10], init[10:]
    assert set(random_rows.unique().tolist()) == {0.0, 20.0} and 0.03 < (random_rows > 0).float().mean() < 0.2
    assert torch.equal((single_rows > 0).sum(1), torch.ones(10, dtype=torch.long)) and single_rows.max() == 10.0
    assert single_rows.argmax(1).tolist() == [0, 11, 22, 33, 44, 55, 66, 77, 88, 99]


def test_the_difference_of_r1_and_w1_is_drawn_on_one_scale_with_a_colour_bar(tmp_path):
    model = UpDownDBN.from_dbn(random_dbn(784, 20, 6))
    model.R1.data.add_(0.5)
    r1, _, difference = lower_weights_figures(model, tmp_path, (28, 28))
    (r1_width, r1_height), (width, height) = png_size(r1), png_size(difference)
    assert abs(height - r1_height) < 0.1 * r1_height and width > r1_width + 50  # the same grid, the colour bar beside it
