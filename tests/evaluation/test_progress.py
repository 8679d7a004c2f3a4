"""genlab.evaluation.progress: bars on stderr when asked, nothing at all when not."""

from __future__ import annotations

import torch

from genlab.evaluation import ais
from genlab.evaluation.progress import bar, step
from genlab.models.rbm import RBM


def test_bars_and_steps_print_nothing_when_off(capfd):
    assert list(bar(range(3), "counting", progress=False)) == [0, 1, 2]
    with step("fitting", progress=False):
        pass
    rbm = RBM(30, 25, init_std=0.1, generator=torch.Generator().manual_seed(0))
    ais.ais_log_z(rbm, runs=5, betas=50, generator=torch.Generator().manual_seed(0), progress=False)
    ais.log_z_floor(rbm, chains=10, steps=20, progress=False)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_bars_and_steps_name_their_step_on_stderr_when_on(capfd):
    assert list(bar(range(3), "counting", progress=True)) == [0, 1, 2]
    with step("fitting the probe", progress=True):
        pass
    out, err = capfd.readouterr()
    assert out == "" and "counting" in err and "fitting the probe" in err
