"""genlab.lab.core: runs keyed by config hash and re-used; reports."""

from __future__ import annotations

import json

import pytest

from genlab.evaluation.config import QUICK, EvalConfig
from genlab.lab.core import Lab, config_key
from genlab.training import rbm as train_rbm
from genlab.training.rbm import RBMConfig


def test_config_key_changes_with_any_setting_and_only_then():
    a = RBMConfig(epochs=3)
    assert config_key("rbm", a) == config_key("rbm", RBMConfig(epochs=3))
    assert config_key("rbm", a) != config_key("rbm", RBMConfig(epochs=4))
    assert config_key("rbm", a) != config_key("dbn", a)


def test_lab_trains_once_and_reuses_finished_runs(tiny_dataset, tmp_path):
    cfg = RBMConfig(dataset=str(tiny_dataset), hidden=8, epochs=1)
    lab = Lab(tmp_path / "lab", "quick", device="cpu", progress=False)
    first = lab.train("rbm", cfg)
    stamp = (first.path / "model.safetensors").stat().st_mtime_ns
    again = Lab(tmp_path / "lab", "quick", device="cpu", progress=False).train("rbm", cfg)
    assert again.path == first.path and (again.path / "model.safetensors").stat().st_mtime_ns == stamp
    other = lab.train("rbm", cfg.replace(hidden=9))
    assert other.path != first.path and lab.trained == 2


def test_an_interrupted_run_is_trained_again(tiny_dataset, tmp_path):
    cfg = RBMConfig(dataset=str(tiny_dataset), hidden=8, epochs=1)
    lab = Lab(tmp_path / "lab", "quick", device="cpu", progress=False)
    run = lab.train("rbm", cfg)
    meta = json.loads((run.path / "config.json").read_text())
    del meta["train_time_s"]  # as if killed before the end
    (run.path / "config.json").write_text(json.dumps(meta))
    lab.train("rbm", cfg)
    assert lab.trained == 2 and "train_time_s" in json.loads((run.path / "config.json").read_text())


def test_an_interrupted_run_with_a_checkpoint_is_resumed_to_the_same_weights(tiny_dataset, tmp_path, monkeypatch):
    cfg = RBMConfig(dataset=str(tiny_dataset), hidden=8, epochs=3, compile=False)  # (the plain loop is interrupted)
    whole = Lab(tmp_path / "whole", "quick", device="cpu", progress=False).train("rbm", cfg)
    step, calls = train_rbm.rbm_step, []

    def interrupt_in_epoch_3(*args, **kwargs):
        calls.append(1)
        if len(calls) == 7:  # 3 minibatches an epoch
            raise KeyboardInterrupt
        return step(*args, **kwargs)

    lab = Lab(tmp_path / "lab", "quick", device="cpu", progress=False)
    monkeypatch.setattr(train_rbm, "rbm_step", interrupt_in_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        lab.train("rbm", cfg)
    monkeypatch.setattr(train_rbm, "rbm_step", step)
    resumed_epochs = []
    monkeypatch.setattr(train_rbm, "rbm_step", lambda *a, **k: resumed_epochs.append(1) or step(*a, **k))
    run = lab.train("rbm", cfg)
    assert len(resumed_epochs) == 3  # only epoch 3 was trained again
    assert (run.path / "model.safetensors").read_bytes() == (whole.path / "model.safetensors").read_bytes()


def test_the_tiny_preset_trains_without_warnings_about_short_runs(tiny_dataset, tmp_path):
    import warnings

    from genlab.lab.core import Lab
    from genlab.training.rbm import RBMConfig
    from genlab.training.session import FewUpdatesWarning

    config = RBMConfig(dataset=str(tiny_dataset), hidden=8, epochs=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Lab(tmp_path / "tiny", "tiny", "cpu", progress=False).train("rbm", config)
        Lab(tmp_path / "quick", "quick", "cpu", progress=False).train("rbm", config)
    assert [type(w.message) for w in caught].count(FewUpdatesWarning) == 1  # the quick lab's only


def test_a_quick_evaluation_is_reused_not_measured_again(tiny_dataset, tmp_path):
    cfg = RBMConfig(dataset=str(tiny_dataset), hidden=8, epochs=1)
    lab = Lab(tmp_path / "lab", "quick", device="cpu", progress=False)
    run = lab.train("rbm", cfg)
    quick = EvalConfig(quick=True, samples=0, raise_betas=0)
    first = lab.evaluate(run, quick)
    stamp = (run.path / "eval.json").stat().st_mtime_ns
    assert first["eval_config"]["ais_betas"] == QUICK["ais_betas"]  # eval.json records the sizes measured
    assert Lab(tmp_path / "lab", "quick", device="cpu", progress=False).evaluate(run, quick) == first
    assert (run.path / "eval.json").stat().st_mtime_ns == stamp
    lab.evaluate(run, quick.replace(seed=1))
    assert (run.path / "eval.json").stat().st_mtime_ns != stamp
