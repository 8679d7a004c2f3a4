"""genlab.lab.executor: the lab's runs trained side by side (--jobs N, --executor ray) give the
sequential lab's results, re-use finished runs, retry a failed run once, and copy run directories
back where a worker does not share the lab directory."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
import torch
from helpers import write_dataset

from genlab import cli
from genlab.errors import GenlabError
from genlab.evaluation.config import EvalConfig
from genlab.figures.rbm import Generation
from genlab.lab import dbn as lab_dbn
from genlab.lab import rbm as lab_rbm
from genlab.lab.core import Lab, timed_from_here
from genlab.lab.executor import (
    Job,
    LocalExecutor,
    Place,
    Step,
    lab_id,
    pack_run,
    train_all,
    unpack_run,
    work,
)
from genlab.lab.presets import Preset, rbm_preset
from genlab.runs import MODEL, is_finished
from genlab.training.dbn import DBNConfig
from genlab.training.rbm import RBMConfig
from genlab.training.updown import FinetuneConfig


def tiny_rbm_preset(dataset: Path) -> Preset:
    """The RBM lab's experiments on a tiny data set: 6 runs of 1 epoch, no sample metrics."""
    return rbm_preset("tiny", RBMConfig(dataset=str(dataset), hidden=8, epochs=1, batch_size=100),
                      EvalConfig(ais_runs=4, ais_betas=40, samples=0), cd_k=(1, 2), lr=(0.1, 0.3), hidden=(4, 8))


def comparable(task: Path) -> dict[str, Any]:
    """A task's results.json without what is timed (the lab's and each run's wall time)."""
    results = json.loads((task / "results.json").read_text())
    del results["time_s"]
    for section in results["sections"]:
        section["observations"] = [o for o in section["observations"] if not o.startswith("Training took")]
        for table in section["tables"]:
            keep = [i for i, c in enumerate(table["columns"]) if "time" not in c]
            table["columns"] = [table["columns"][i] for i in keep]
            table["rows"] = [[row[i] for i in keep] for row in table["rows"]]
    return results


def run_stamps(out: Path) -> dict[str, int]:
    return {p.name: (p / MODEL).stat().st_mtime_ns for p in (out / "runs").iterdir()}


@pytest.fixture(scope="module")
def sequential(tmp_path_factory) -> tuple[Preset, Path]:
    """The tiny RBM lab run one run after another, as without an executor (once for this module), with one
    thread as each of the executors' workers: CPU kernels sum in an order that depends on the thread count, so
    runs trained with other counts differ in rounding (about 1e-8 here)."""
    root = tmp_path_factory.mktemp("sequential")
    preset = tiny_rbm_preset(write_dataset(root / "tiny"))
    with pytest.MonkeyPatch.context() as m, one_thread():
        m.setattr(lab_rbm, "GENERATION", Generation(n=3))
        return preset, lab_rbm.run(preset, root / "lab", device="cpu", progress=False)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def driver_on_one_thread():
    """The driver's own work (the task's figures and tables after the runs) on one thread too."""
    with one_thread():
        yield


@pytest.fixture(autouse=True)
def few_generation_chains(monkeypatch):
    monkeypatch.setattr(lab_rbm, "GENERATION", Generation(n=3))


def side_by_side(preset: Preset, out: Path, executor) -> tuple[int, Path]:
    """The tiny RBM lab with its runs trained by ``executor`` first: (steps that ran, task directory)."""
    ran = train_all(lab_rbm.plan(preset), Lab(out, "tiny", "cpu", progress=False), executor, "cpu")
    return ran, lab_rbm.run(preset, out, device="cpu", progress=False)


def test_jobs_2_gives_the_sequential_results_and_a_second_call_trains_nothing(sequential, tmp_path):
    preset, expected = sequential
    ran, task = side_by_side(preset, tmp_path / "jobs", LocalExecutor(2))
    assert ran == 6  # reference, real-valued v, k=2, lr=0.3, 4 hidden, PCD (k=1, lr=0.1 and 8 hidden are the reference)
    assert comparable(task) == comparable(expected)
    stamps = run_stamps(tmp_path / "jobs")
    ran, _ = side_by_side(preset, tmp_path / "jobs", LocalExecutor(2))
    assert ran == 0 and run_stamps(tmp_path / "jobs") == stamps


class InThisProcess:
    """An executor that runs each step here, at once, and records the order of the steps."""

    ships_runs = False

    def __init__(self) -> None:
        self.steps: list[Step] = []

    def threads(self) -> int:
        return 1

    def submit(self, place: Place, step: Step, ancestors: list[bytes]) -> Future:
        self.steps.append(step)
        future: Future = Future()
        future.set_result(work(place, step, ancestors))
        return future

    def close(self) -> None:
        pass


def test_a_stacked_run_is_submitted_after_its_parent_on_top_of_its_finished_run(tiny_dataset, tmp_path, monkeypatch):
    monkeypatch.setattr(Lab, "evaluate", lambda lab, run, config: {})  # the order of training is what counts here
    preset = Preset("tiny", {"rbm": RBMConfig(dataset=str(tiny_dataset), hidden=8, epochs=1),
                             "dbn": DBNConfig(dataset=str(tiny_dataset), top_hidden=6, epochs=1),
                             "finetune": FinetuneConfig(dataset=str(tiny_dataset), epochs=1)},
                    EvalConfig(test_limit=50, ais_runs=4, ais_betas=40, samples=0), "tiny")
    executor = InThisProcess()
    lab = Lab(tmp_path / "lab", "tiny", "cpu", progress=False)
    # lab all: the fine-tuning lab's RBM 1 and DBN are the DBN lab's
    assert train_all([*lab_dbn.plan_dbn(preset), *lab_dbn.plan_finetune(preset)], lab, executor, "cpu") == 4
    rbm, dbn, wide, finetune = executor.steps
    assert [s.family for s in executor.steps] == ["rbm", "dbn", "dbn", "dbn-finetune"]
    rbm_run = lab.train("rbm", rbm.config)
    assert dbn.config == lab_dbn.stacked_config(preset.runs["dbn"], rbm_run)
    assert wide.config.top_hidden == 28 * 28 and finetune.ancestors == (lab.run_path("dbn", dbn.config).name, rbm_run.path.name)
    assert finetune.config == lab_dbn.finetune_config(preset.runs["finetune"], lab.train("dbn", dbn.config))
    assert lab.trained == 0


def test_a_run_failing_twice_stops_the_lab_naming_it_and_keeps_the_finished_runs(tiny_dataset, tmp_path):
    good = Job("rbm", RBMConfig(dataset=str(tiny_dataset), hidden=4, epochs=1), "good")
    bad = Job("rbm", RBMConfig(dataset=str(tmp_path / "no-such-data"), hidden=4, epochs=1), "broken")
    lab = Lab(tmp_path / "lab", "tiny", "cpu", progress=False)
    with pytest.raises(GenlabError, match=r"^lab run rbm broken failed twice, the last time with: ConfigError: ") as e:
        train_all([good, bad], lab, LocalExecutor(1), "cpu")
    assert "\n" not in str(e.value)
    assert is_finished(lab.run_path("rbm", good.config)) and not is_finished(lab.run_path("rbm", bad.config))


def test_a_worker_without_the_lab_directory_trains_on_the_runs_sent_and_sends_its_run_back(tiny_dataset, tmp_path):
    """As on a node without the shared file system: the DBN's worker gets RBM 1's directory sent with
    the task, trains at the same path on its own disk, and its run directory is copied back."""
    out = tmp_path / "lab"
    lab = Lab(out, "tiny", "cpu", progress=False)
    rbm_run = lab.train("rbm", RBMConfig(dataset=str(tiny_dataset), hidden=8, epochs=1))
    config = lab_dbn.stacked_config(DBNConfig(dataset=str(tiny_dataset), top_hidden=6, epochs=1), rbm_run)
    place = Place(str(out), "tiny", "cpu", None, lab_id(out), threads=1)
    sent = pack_run(rbm_run.path)
    out.rename(tmp_path / "driver")  # the worker's disk: no lab directory at that path
    packed = work(place, Step("dbn", config, "on RBM 1"), [sent])
    assert packed is not None
    out.rename(tmp_path / "node")
    (tmp_path / "driver").rename(out)
    run_dir = lab.run_path("dbn", config)
    assert not run_dir.exists()
    assert unpack_run(out / "runs", packed) == run_dir and is_finished(run_dir)
    assert (run_dir / MODEL).read_bytes() == (tmp_path / "node" / "runs" / run_dir.name / MODEL).read_bytes()
    shared = Lab(out, "tiny", "cpu", progress=False)
    assert work(place, Step("dbn", config, "on RBM 1"), []) is None and shared.train("dbn", config).path == run_dir


def test_executor_ray_without_ray_exits_2_saying_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails
    assert cli.main(["lab", "rbm", "--preset", "tiny", "--out", str(tmp_path), "--executor", "ray"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'genlab[ray]'" in err


@pytest.mark.parametrize("args", [["--jobs", "0"], ["--jobs", "2", "--executor", "ray"], ["--address", "auto"]])
def test_contradictory_or_invalid_executor_options_exit_2(args, tmp_path, capsys):
    assert cli.main(["lab", "rbm", "--preset", "tiny", "--out", str(tmp_path), *args]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


# ----------------------------------------------------------------------------- on a local Ray


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray with 2 CPUs, started once for this module."""
    ray = pytest.importorskip("ray")
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this test module
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(sys.path)}})
    yield ray
    ray.shutdown()


def test_executor_ray_gives_the_sequential_results_and_a_second_call_trains_nothing(ray_cluster, sequential, tmp_path):
    from genlab.lab.executor import RayExecutor

    preset, expected = sequential
    ran, task = side_by_side(preset, tmp_path / "ray", RayExecutor(None))
    assert ran == 6 and comparable(task) == comparable(expected)
    stamps = run_stamps(tmp_path / "ray")
    ran, _ = side_by_side(preset, tmp_path / "ray", RayExecutor(None))
    assert ran == 0 and run_stamps(tmp_path / "ray") == stamps
    assert ray_cluster.is_initialized()  # a Ray the executor did not start is left running


def killed_the_first_time(place: Place, step: Step, ancestors: list[bytes]) -> bytes | None:
    """:func:`work`, except that the worker process is killed the first time (it leaves OUT/killed-once)."""
    marker = Path(place.out) / "killed-once"
    if not marker.exists():
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return work(place, step, ancestors)


def test_a_killed_ray_worker_task_is_retried(ray_cluster, tiny_dataset, tmp_path):
    from genlab.lab.executor import RayExecutor

    executor = RayExecutor(None)
    executor.remote = ray_cluster.remote(killed_the_first_time).options(num_cpus=1, max_retries=0)
    job = Job("rbm", RBMConfig(dataset=str(tiny_dataset), hidden=4, epochs=1), "killed once")
    lab = Lab(tmp_path / "lab", "tiny", "cpu", progress=False)
    assert train_all([job], lab, executor, "cpu") == 1
    assert (lab.out / "killed-once").exists() and is_finished(lab.run_path("rbm", job.config))


def test_a_report_after_side_by_side_training_counts_the_training_in_its_time(tmp_path):
    """With --jobs the runs are trained before the task runs; the task's Lab (and so its report's time) counts
    from the command's start, not from when the task began re-using the runs."""
    with timed_from_here():
        started = time.perf_counter()
        time.sleep(0.05)  # the side-by-side training
        lab = Lab(tmp_path, "tiny", "cpu", progress=False)
    assert lab.started <= started < lab.started + 0.05
    assert Lab(tmp_path, "tiny", "cpu", progress=False).started > started + 0.05  # outside: its own start
