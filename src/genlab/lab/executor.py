"""Training a lab's runs side by side: in processes on this machine (``--jobs N``) or as Ray tasks
on a cluster (``--executor ray``).

Each task module declares the runs it trains as :class:`Job` values (its ``plan(preset)``); a
job stacked on another run (the DBN on RBM 1, its fine-tuning on the DBN) names that run's job as
its ``parent``. :func:`train_all` trains and evaluates every job, each as soon as its parent is
done (and, for sample metrics, once the metrics classifier is), into the lab's content-addressed
run directories; the task itself then runs as it always does, and re-uses every one of those runs.
A run already finished is not submitted again, so an interrupted lab trains only what is missing.

Where the lab's directory is not seen by a worker (a Ray node without the shared file system:
it holds no copy of the lab's marker file), the worker trains into the same path on its own disk,
after unpacking the directories of the run's ancestors sent with the task, and the finished run
directory is copied back to the driver.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import shutil
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from tqdm import tqdm

from genlab import data
from genlab.errors import ConfigError, GenlabError
from genlab.evaluation.config import EvalConfig, measured_with
from genlab.files import write_bytes
from genlab.lab.core import Lab, config_key
from genlab.metrics.classifier import ClassifierConfig, cached, classifier_dir, load_classifier
from genlab.runs import Run, is_finished
from genlab.training.session import TrainConfig

EXECUTORS = ("local", "ray")
RAY_INSTALL = "pip install 'genlab[ray]'"
MARKER = ".lab-id"  # in the lab directory: a worker that reads the same id shares the driver's file system
RETRIES = 1  # a failed job is submitted once more before the lab stops


# ----------------------------------------------------------------------------- what a task trains


@dataclass
class Job:
    """One run of a lab task, trained (or re-used) and evaluated with ``eval``.

    With a ``parent``, the run's config is ``stack(config, parent_run)``: ``config`` put on top of
    the parent's finished run.
    """

    family: str
    config: TrainConfig
    label: str = ""
    eval: EvalConfig | None = None
    parent: Job | None = None
    stack: Callable[[Any, Run], TrainConfig] | None = None

    @property
    def key(self) -> tuple[str, ...]:
        """Equal for jobs that train the same run (whatever their label and evaluation)."""
        own = (self.family, config_key(self.family, self.config))
        if self.parent is None:
            return own
        return (*own, getattr(self.stack, "__qualname__", ""), *self.parent.key)

    def resolve(self, parent_run: Run | None) -> TrainConfig:
        """The run's config, given its parent's finished run."""
        return self.config if self.stack is None or parent_run is None else self.stack(self.config, parent_run)


@dataclass(frozen=True)
class Step:
    """What a worker does for one job: the run's config resolved, the run directories it stands on."""

    family: str
    config: TrainConfig | None  # None: the step trains the metrics classifier of ``classifier``
    label: str = ""
    eval: EvalConfig | None = None
    ancestors: tuple[str, ...] = ()  # run directory names, nearest first
    classifier: str | None = None  # the data set whose metrics classifier this step trains

    @property
    def name(self) -> str:
        return f"metrics classifier ({self.classifier})" if self.classifier else f"{self.family} {self.label}".strip()


def unique(jobs: Iterable[Job]) -> list[Job]:
    """The jobs without repeats (the first of equal ones kept), parents before children."""
    seen: dict[tuple[str, ...], Job] = {}

    def add(job: Job) -> None:
        if job.parent is not None:
            add(job.parent)
        seen.setdefault(job.key, job)

    for job in jobs:
        add(job)
    return list(seen.values())


# ----------------------------------------------------------------------------- the worker


@dataclass(frozen=True)
class Place:
    """Where and how a worker trains: the lab's directory and settings, and the driver's marker."""

    out: str
    preset: str
    device: str
    data_dir: str | None
    lab_id: str
    threads: int


def work(place: Place, step: Step, ancestors: Sequence[bytes]) -> bytes | None:
    """Train and evaluate one step; returns the run directory packed, where the driver cannot see
    the worker's copy of the lab directory, else None."""
    torch.set_num_threads(place.threads)
    out = Path(place.out)
    shared = _read_marker(out) == place.lab_id
    lab = Lab(out, place.preset, place.device, place.data_dir, progress=False)
    if step.classifier:
        load_classifier(data.resolve(step.classifier, place.data_dir))
        return None
    if not shared:
        for packed in ancestors:
            unpack_run(out / "runs", packed)
    run = lab.train(step.family, step.config, step.label)
    if step.eval is not None:
        lab.evaluate(run, step.eval)
    return None if shared else pack_run(run.path)


def pack_run(path: Path) -> bytes:
    """A run directory as a tar archive in memory."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(path, arcname=path.name)
    return buffer.getvalue()


def unpack_run(runs: Path, packed: bytes) -> Path:
    """A packed run directory, unpacked under ``runs`` in place of any unfinished copy; a finished
    copy is kept as it is."""
    runs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=runs, prefix=".incoming-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(packed), mode="r:gz") as tar:
            tar.extractall(tmp, filter="data")
        (unpacked,) = Path(tmp).iterdir()
        target = runs / unpacked.name
        if not is_finished(target):
            shutil.rmtree(target, ignore_errors=True)
            os.replace(unpacked, target)
    return target


def _read_marker(out: Path) -> str | None:
    try:
        return (out / MARKER).read_text()
    except OSError:
        return None


def lab_id(out: Path) -> str:
    """The lab directory's id (written on first use): a worker that reads it shares the directory."""
    found = _read_marker(out)
    if found:
        return found
    write_bytes(out / MARKER, uuid.uuid4().hex.encode())
    return (out / MARKER).read_text()


# ----------------------------------------------------------------------------- executors


class Executor(Protocol):
    """Runs :func:`work` somewhere and hands back a future of its result."""

    ships_runs: bool  # whether a step's ancestors are sent with it (its worker may not see the lab directory)

    def submit(self, place: Place, step: Step, ancestors: Sequence[bytes]) -> Future: ...

    def threads(self) -> int: ...

    def close(self) -> None: ...


class WorkerDied(GenlabError):
    """A worker process ended without a result (killed, out of memory)."""


def _child(send: Any, place: Place, step: Step, ancestors: Sequence[bytes]) -> None:
    try:
        send.send((True, work(place, step, ancestors)))
    except BaseException as e:  # noqa: BLE001 - every failure goes back to the driver as one line
        send.send((False, f"{type(e).__name__}: {e}"))


class LocalExecutor:
    """``--jobs N``: each step in a fresh process of this machine, up to N at once.

    The processes are forked from a server process that has imported genlab and PyTorch once (no
    CUDA or thread state of the lab's own process is inherited).
    """

    def __init__(self, jobs: int) -> None:
        if jobs < 1:
            raise ConfigError(f"--jobs: expected a whole number of runs at once of at least 1, got {jobs}")
        self.ships_runs = False
        self.jobs = jobs
        self.pool = ThreadPoolExecutor(jobs)
        self.processes: set[Any] = set()

    def threads(self) -> int:
        return max(1, (os.cpu_count() or 1) // self.jobs)

    def submit(self, place: Place, step: Step, ancestors: Sequence[bytes]) -> Future:
        return self.pool.submit(self._in_process, place, step, ancestors)

    def _in_process(self, place: Place, step: Step, ancestors: Sequence[bytes]) -> bytes | None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        receive, send = context.Pipe(duplex=False)
        process = context.Process(target=_child, args=(send, place, step, ancestors), daemon=True)
        process.start()
        self.processes.add(process)
        send.close()
        try:
            ok, value = receive.recv()
        except EOFError:
            process.join()
            raise WorkerDied(f"its worker process ended without a result (exit code {process.exitcode})") from None
        finally:
            self.processes.discard(process)
        process.join()
        if not ok:
            raise GenlabError(value)
        return value

    def close(self) -> None:
        for process in list(self.processes):
            process.terminate()
        self.pool.shutdown(wait=True, cancel_futures=True)


class RayExecutor:
    """``--executor ray``: each step a Ray task (1 CPU, and 1 GPU when the lab's device is CUDA)
    on the cluster at ``address``, or on a Ray started for this lab (or already started here)."""

    def __init__(self, address: str | None, device: str = "auto") -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError(f"--executor ray: Ray is not installed; install it with {RAY_INSTALL}") from None
        self.ray = ray
        self.started = not ray.is_initialized()
        if self.started:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        self.ships_runs = True
        on_gpus = device.startswith("cuda") or (device == "auto" and ray.cluster_resources().get("GPU", 0) > 0)
        gpus = 1 if on_gpus else 0
        self.remote = ray.remote(work).options(num_cpus=1, num_gpus=gpus, max_retries=0)  # retries: train_all's
        self.refs: list[Any] = []

    def threads(self) -> int:
        return 1

    def submit(self, place: Place, step: Step, ancestors: Sequence[bytes]) -> Future:
        ref = self.remote.remote(place, step, list(ancestors))
        self.refs.append(ref)
        return ref.future()

    def close(self) -> None:
        for ref in self.refs:
            self.ray.cancel(ref, force=True)
        if self.started:
            self.ray.shutdown()


def make_executor(jobs: int | None, executor: str | None, address: str | None, device: str) -> Executor | None:
    """The executor of the lab command's options; None for the sequential lab (neither given)."""
    if executor not in (None, *EXECUTORS):
        raise ConfigError(f"--executor: expected one of {', '.join(EXECUTORS)}, got {executor!r}")
    if address is not None and executor != "ray":
        raise ConfigError("--address: only with --executor ray")
    if executor == "ray":
        if jobs is not None:
            raise ConfigError("--jobs: not with --executor ray (the cluster's resources set how many runs run at once)")
        return RayExecutor(address, device)
    if jobs is None:
        return None if executor is None else LocalExecutor(os.cpu_count() or 1)
    return LocalExecutor(jobs)


# ----------------------------------------------------------------------------- the schedule


def needs_classifier(job: Job) -> bool:
    return job.eval is not None and job.eval.samples > 0


def train_all(jobs: Iterable[Job], lab: Lab, executor: Executor, device: str) -> int:
    """Train and evaluate every job with ``executor``, each once its parent (and the metrics
    classifier, for sample metrics) is done; returns how many steps ran.

    A step that fails is submitted once more; when it fails again the running steps are stopped
    and a one-line :class:`GenlabError` names its run. Every finished run stays in the lab.
    """
    place = Place(str(lab.out.resolve()), lab.preset, device, None if lab.data_dir is None else str(lab.data_dir),
                  lab_id(lab.out), executor.threads())
    schedule = Schedule(lab, executor, place, unique(jobs))
    threads = torch.get_num_threads()
    try:
        return schedule.run()
    finally:
        schedule.bar.close()
        executor.close()
        torch.set_num_threads(threads)  # as before, whatever a step run here or the executor's start-up set


class Schedule:
    """The jobs of a lab, submitted to an executor as their parents finish."""

    def __init__(self, lab: Lab, executor: Executor, place: Place, jobs: list[Job]) -> None:
        self.lab, self.executor, self.place = lab, executor, place
        self.waiting = jobs
        self.done: dict[tuple[str, ...], Path] = {}  # job key -> its finished run
        self.classifiers = {job.config.dataset: False for job in jobs if needs_classifier(job)}  # data set -> ready
        self.running: dict[Future, tuple[Job | None, Step, int]] = {}  # -> (job, its step, attempt)
        self.ran = 0
        self.started = time.perf_counter()
        self.bar = tqdm(total=len(jobs) + len(self.classifiers), desc=f"lab {lab.preset}", unit="run",
                        disable=not lab.progress, file=sys.stderr, dynamic_ncols=True)

    def run(self) -> int:
        """Every job trained; returns how many steps ran."""
        for dataset in sorted(self.classifiers):
            if cached(classifier_dir(data.resolve(dataset, self.lab.data_dir), ClassifierConfig()), ClassifierConfig()):
                self.classifiers[dataset] = True
                self.bar.update()
            else:
                self.submit(None, Step("", None, classifier=dataset))
        while True:
            self.submit_ready()
            if not self.running:
                return self.ran
            finished, _ = wait(self.running, return_when=FIRST_COMPLETED)
            for future in finished:
                self.collect(future)

    def ready(self, job: Job) -> bool:
        parent_done = job.parent is None or job.parent.key in self.done
        return parent_done and self.classifiers.get(job.config.dataset, True)

    def submit_ready(self) -> None:
        """Submit every job whose parent is done; a job whose run is finished (and evaluated) is done at once."""
        for job in [j for j in self.waiting if self.ready(j)]:
            self.waiting.remove(job)
            step = self.step(job)
            if self.finished(step):
                self.done[job.key] = self.lab.run_path(step.family, step.config)
                self.bar.update()
            else:
                self.submit(job, step)

    def step(self, job: Job) -> Step:
        parent = None if job.parent is None else Run.open(self.done[job.parent.key])
        ancestors, below = [], job.parent
        while below is not None:
            ancestors.append(self.done[below.key].name)
            below = below.parent
        return Step(job.family, job.resolve(parent), job.label, job.eval, tuple(ancestors))

    def finished(self, step: Step) -> bool:
        """Whether the step's run is trained and, where asked, evaluated with its eval config."""
        path = self.lab.run_path(step.family, step.config)
        if not is_finished(path):
            return False
        return step.eval is None or measured_with(Run.open(path).read_eval(), step.eval)

    def submit(self, job: Job | None, step: Step, attempt: int = 0) -> None:
        runs = self.lab.out / "runs"
        ancestors = [pack_run(runs / name) for name in step.ancestors] if self.executor.ships_runs else []
        self.running[self.executor.submit(self.place, step, ancestors)] = (job, step, attempt)

    def collect(self, future: Future) -> None:
        """A step's outcome: its run copied back where it was trained elsewhere, or the step tried once more."""
        job, step, attempt = self.running.pop(future)
        try:
            packed = future.result()
        except Exception as e:  # noqa: BLE001 - any failure of the worker: retried, then reported
            if attempt < RETRIES:
                self.say(f"{step.name} failed ({one_line(e)}); trying it once more")
                self.submit(job, step, attempt + 1)
                return
            raise GenlabError(f"lab run {step.name} failed twice, the last time with: {one_line(e)}") from None
        self.ran += 1
        self.bar.update()
        seconds = f"({time.perf_counter() - self.started:.0f} s)"
        if job is None:
            self.classifiers[step.classifier] = True
            self.say(f"finished the {step.name} {seconds}")
            return
        if packed is not None:
            unpack_run(self.lab.out / "runs", packed)
        path = self.lab.run_path(step.family, step.config)
        self.done[job.key] = path
        self.say(f"finished {step.name} -> {path.name} {seconds}")

    def say(self, message: str) -> None:
        """One line above the overall bar."""
        if self.lab.progress:
            self.bar.write(f"[lab {self.lab.preset}] {message}", file=sys.stderr)


def one_line(e: BaseException) -> str:
    """An exception as one line: a Ray task error's cause, or the exception itself."""
    cause = getattr(e, "cause", None) or e
    text = str(cause).strip().splitlines()
    return text[-1] if text else type(cause).__name__
