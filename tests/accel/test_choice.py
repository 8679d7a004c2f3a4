"""genlab.accel.choice: the fastest path measured once per machine, remembered, and overridable."""

from __future__ import annotations

import time

import pytest
import torch

from genlab.accel import choice, native, rbm
from genlab.algorithms.cd import CD, CDState
from genlab.errors import ConfigError
from genlab.models.rbm import RBM

MACHINE = b"test machine"


@pytest.fixture(autouse=True)
def measured(monkeypatch, tmp_path):
    """Every test here measures: no override, and a cache of its own."""
    monkeypatch.delenv(choice.ENV, raising=False)
    monkeypatch.setenv("GENLAB_CACHE_DIR", str(tmp_path / "cache"))


def counting_trials(seconds: dict[str, float], calls: dict[str, int]) -> dict:
    def trial(name):
        def run():
            calls[name] = calls.get(name, 0) + 1
            time.sleep(seconds[name])
        return run
    return {name: trial(name) for name in seconds}


def test_the_faster_path_is_chosen_after_a_warm_up_and_timed_calls():
    calls = {}
    assert choice.fastest("task", counting_trials({"kernel": 0.03, "steps": 0.001}, calls), MACHINE) == "steps"
    assert calls == {"kernel": 3, "steps": 3}  # one warm-up and two timed calls each
    calls.clear()
    assert choice.fastest("other", counting_trials({"kernel": 0.001, "steps": 0.03}, calls), MACHINE) == "kernel"


def test_a_choice_is_remembered_per_task_and_machine():
    calls = {}
    choice.fastest("task", counting_trials({"kernel": 0.001, "steps": 0.03}, calls), MACHINE)
    calls.clear()
    # now "steps" would be faster, but the cached choice stands and nothing is timed
    assert choice.fastest("task", counting_trials({"kernel": 0.03, "steps": 0.001}, calls), MACHINE) == "kernel"
    assert calls == {}
    assert choice.fastest("task", counting_trials({"kernel": 0.03, "steps": 0.001}, calls), b"another") == "steps"
    cached = choice.read(choice.cache_file(MACHINE))
    assert cached["task"]["choice"] == "kernel" and set(cached["task"]["seconds"]) == {"kernel", "steps"}


def test_an_unreadable_cache_is_measured_again():
    path = choice.cache_file(MACHINE)
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    calls = {}
    assert choice.fastest("task", counting_trials({"kernel": 0.03, "steps": 0.001}, calls), MACHINE) == "steps"
    assert calls["steps"] == 3 and choice.read(path)["task"]["choice"] == "steps"


def test_the_environment_names_the_path_without_measuring(monkeypatch):
    calls = {}
    monkeypatch.setenv(choice.ENV, "kernel")
    assert choice.fastest("task", counting_trials({"kernel": 0.03, "steps": 0.001}, calls), MACHINE) == "kernel"
    assert calls == {}
    # where the named path is no candidate, the only candidate runs
    assert choice.fastest("task", counting_trials({"steps": 0.001}, calls), MACHINE) == "steps"
    monkeypatch.setenv(choice.ENV, "kernel, plain")  # the first of the list that is a candidate; plain always is
    assert choice.fastest("task", counting_trials({"steps": 0.001}, calls), MACHINE) == "plain"
    assert choice.preferred(["steps", "kernel"]) == "kernel" and calls == {}
    monkeypatch.setenv(choice.ENV, "steps,fastest")
    with pytest.raises(ConfigError, match=r"^\$GENLAB_FAST_PATH=steps,fastest: 'fastest' is not a path; expected a "
                                          r"comma-separated list of kernel, steps, plain$"):
        choice.fastest("task", counting_trials({"steps": 0.001}, calls), MACHINE)


def test_plain_in_the_environment_keeps_the_rbm_on_the_plain_loop(monkeypatch):
    monkeypatch.setenv(choice.ENV, "plain")
    model = RBM(784, 20, 0.01, generator=torch.Generator().manual_seed(0))
    assert rbm.cd_epochs(model, torch.rand(30, 784), CD(lr=0.1, k=1), True, 10, CDState()) is None


@pytest.mark.skipif(native.library() is None, reason="no C compiler for the native kernel")
@pytest.mark.parametrize("faster", ["kernel", "steps"])
def test_the_rbm_takes_the_path_measured_faster_and_its_trials_leave_the_model_alone(monkeypatch, faster):
    """CD-1 with binarised data has two paths; the runner is the one timed faster, and the trials (the
    kernel's run here for real, on a copy; compiling the steps would take a while) leave the model as it was."""
    def timed(trial, repeats):
        name = next(n for n, t in pending.items() if t is trial)
        if name == "kernel":
            trial(), trial()
        return 0.5 if name == faster else 1.0

    pending = {}
    real_trials = rbm.trials
    monkeypatch.setattr(rbm, "trials", lambda *a: pending.update(real_trials(*a)) or pending)
    monkeypatch.setattr(choice, "best_time", timed)
    model = RBM(784, 20, 0.01, generator=torch.Generator().manual_seed(0))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.rand(300, 784, generator=torch.Generator().manual_seed(1))
    runner = rbm.cd_epochs(model, x, CD(lr=0.1, k=1), True, 10, CDState())
    assert set(pending) == {"kernel", "steps"}
    assert isinstance(runner, rbm.NativeCD if faster == "kernel" else rbm.CompiledSteps)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert choice.read(choice.cache_file(native.machine_id()))  # remembered


def test_a_single_path_is_taken_without_a_trial(monkeypatch):
    """PCD has no kernel: the compiled steps run, nothing is timed."""
    monkeypatch.setattr(choice, "best_time", lambda trial, repeats: pytest.fail("timed a single path"))
    model = RBM(784, 20, 0.01, generator=torch.Generator().manual_seed(0))
    runner = rbm.cd_epochs(model, torch.rand(30, 784), CD(lr=0.1, k=2, persistent=True), True, 10, CDState())
    assert isinstance(runner, rbm.CompiledSteps)


@pytest.mark.skipif(native.library() is None, reason="no C compiler for the native kernel")
def test_cd_k_takes_the_path_timed_at_cd_1_and_runs_its_own_k(monkeypatch):
    """Which path wins is the machine's: CD-25 is timed with CD-1's runners (compiling CD-25's steps for a
    trial would take minutes), under CD-1's task, and then runs CD-25 on the winner."""
    built, timed_k = [], []
    real_runners = rbm.runners
    monkeypatch.setattr(rbm, "runners", lambda cd, *a: built.append(cd.k) or real_runners(cd, *a))
    real_trials = rbm.trials
    monkeypatch.setattr(rbm, "trials", lambda paths, *a: timed_k.append(built[-1]) or real_trials(paths, *a))
    monkeypatch.setattr(choice, "best_time", lambda trial, repeats: {"kernel": 0.5, "steps": 1.0}[pending(trial)])
    names = {}
    pending = names.__getitem__
    real_fastest = choice.fastest

    def fastest(task, trials, machine):
        names.update({t: n for n, t in trials.items()})
        assert task.startswith("rbm CD-1, minibatch 10")
        return real_fastest(task, trials, machine)

    monkeypatch.setattr(choice, "fastest", fastest)
    model = RBM(784, 20, 0.01, generator=torch.Generator().manual_seed(0))
    runner = rbm.cd_epochs(model, torch.rand(300, 784), CD(lr=0.1, k=25), True, 10, CDState())
    assert built == [25, 1] and timed_k == [1]
    assert isinstance(runner, rbm.NativeCD) and runner.k == 25
