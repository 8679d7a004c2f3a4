"""The machinery every lab task shares.

* :class:`Lab` trains and evaluates runs under ``OUT/runs/``, each keyed by a hash of
  its family and config, so re-running a lab (after an interruption, or with one
  setting changed) only trains what is missing, and tasks share runs (the DBN lab
  re-uses the RBM lab's reference run).

Reports (what a task found, and how it is rendered) live in :mod:`genlab.lab.report`.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
import warnings
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import torch

from genlab import migrations
from genlab.devices import describe, resolve_device
from genlab.errors import ConfigError
from genlab.evaluation.config import EvalConfig, measured_with
from genlab.families import FAMILIES, evaluate
from genlab.lab.report import TaskReport
from genlab.runs import CHECKPOINT, Run, is_finished
from genlab.training.session import FewUpdatesWarning, TrainConfig

# When a command's runs were trained beforehand, side by side (--jobs), its labs count their time from the
# command's start, so that a report's time includes that training.
_COMMAND_STARTED: ContextVar[float | None] = ContextVar("command_started", default=None)


@contextmanager
def timed_from_here():
    """Within this block every :class:`Lab` counts its time from the block's start."""
    token = _COMMAND_STARTED.set(time.perf_counter())
    try:
        yield
    finally:
        _COMMAND_STARTED.reset(token)


def config_key(family: str, config: TrainConfig) -> str:
    """A short, stable hash of a family and its config (without locations: a stacked run is
    keyed by the checksum of the run below it, so a lab directory can move; without options
    added later, at the value earlier runs had: :func:`genlab.migrations.identity`)."""
    text = json.dumps({"family": family, "config": migrations.identity(family, config.identity())}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class Lab:
    """Trains and evaluates runs for the lab, re-using every finished one."""

    def __init__(
        self,
        out: str | Path,
        preset: str,
        device: str | torch.device = "auto",
        data_dir: str | Path | None = None,
        progress: bool = True,
    ) -> None:
        self.out = Path(out)
        self.preset = preset
        self.device = resolve_device(device)
        self.data_dir = data_dir
        self.progress = progress
        self.trained = self.reused = 0
        self.started = _COMMAND_STARTED.get() or time.perf_counter()
        self.out.mkdir(parents=True, exist_ok=True)

    @property
    def device_name(self) -> str:
        return describe(self.device)

    def say(self, message: str) -> None:
        """One line of progress on stderr (the overall progress display)."""
        if self.progress:
            print(f"[lab {self.preset}] {message}", file=sys.stderr, flush=True)

    def run_path(self, family: str, config: TrainConfig) -> Path:
        return self.out / "runs" / f"{family}-{config_key(family, config)}"

    def train(self, family: str, config: TrainConfig, label: str = "") -> Run:
        """The finished run of ``config``: re-used when present, else trained now. The ``tiny`` preset, a smoke
        test whose numbers mean nothing, trains without the warnings about runs too short to learn."""
        with warnings.catch_warnings():
            if self.preset == "tiny":
                warnings.simplefilter("ignore", FewUpdatesWarning)
            return self.train_or_reuse(family, config, label)

    def train_or_reuse(self, family: str, config: TrainConfig, label: str) -> Run:
        path = self.run_path(family, config)
        if is_finished(path):
            self.reused += 1
            self.say(f"re-using {family} run {path.name} {label}")
            return Run.open(path)
        if (path / CHECKPOINT).is_file():  # an interrupted earlier lab: continue its run
            self.say(f"resuming {family} {label} -> {path}")
            try:
                run = FAMILIES[family].train(config, path, device=self.device, data_dir=self.data_dir,
                                             progress=self.progress, resume=True)
                self.trained += 1
                return run
            except ConfigError as e:
                self.say(f"cannot resume ({e}); training it again")
        self.say(f"training {family} {label} -> {path}")
        run = FAMILIES[family].train(
            config, path, device=self.device, data_dir=self.data_dir, progress=self.progress, overwrite=True
        )
        self.trained += 1
        return run

    def evaluate(self, run: Run, eval_config: EvalConfig) -> dict[str, Any]:
        """``eval.json`` of the run for this eval config: re-used when it matches, else computed."""
        previous = run.read_eval()
        if previous is not None and measured_with(previous, eval_config):
            return previous
        self.say(f"evaluating {run.path.name}")
        return evaluate(run, eval_config, self.device, self.data_dir, self.progress)

    def report(self, task: str, title: str) -> TaskReport:
        """The task's report, timed from the start of this lab."""
        return TaskReport(task, title, self.preset, self.device_name, started=self.started)

    def task_dir(self, task: str) -> Path:
        d = self.out / task
        (d / "figures").mkdir(parents=True, exist_ok=True)
        return d
