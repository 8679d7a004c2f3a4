"""genlab.figures.dbn: the set states of generation (SPEC 1.7, 2.3)."""

from __future__ import annotations

import torch

from genlab.figures.dbn import set_states


def test_the_set_states_are_those_of_spec_1_7():
    init = set_states(100, torch.Generator().manual_seed(0))
    random_rows, single_rows = init[:10], init[10:]
    assert set(random_rows.unique().tolist()) == {0.0, 20.0} and 0.03 < (random_rows > 0).float().mean() < 0.2
    assert torch.equal((single_rows > 0).sum(1), torch.ones(10, dtype=torch.long)) and single_rows.max() == 10.0
    assert single_rows.argmax(1).tolist() == [0, 11, 22, 33, 44, 55, 66, 77, 88, 99]
