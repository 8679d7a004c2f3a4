"""A lab task: one SPEC task's experiments, run under a named preset."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from genlab.lab.executor import Job
from genlab.lab.presets import Preset

# run(preset, out, device=, data_dir=, progress=) -> the task's output directory
RunTask = Callable[..., Path]


@dataclass(frozen=True)
class Task:
    name: str
    run: RunTask
    presets: dict[str, Preset]
    plan: Callable[[Preset], list[Job]]  # the runs ``run`` trains, for training them side by side
