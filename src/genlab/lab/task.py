"""A lab task: the experiments of one task of the generative-models lab, run under a named preset."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from genlab.lab.executor import Job
from genlab.lab.presets import Preset

# Each task's title, in the reports and in ``genlab lab --help``.
TITLES = {
    "rbm": "Task 1: an RBM trained with CD-k",
    "dbn": "Task 2: a DBN of two greedily trained RBMs",
    "dbn-finetune": "Task 3: the DBN fine-tuned with the up-down algorithm",
    "vae": "Task 4: a variational autoencoder",
    "dcgan": "Task 5: a DCGAN",
    "literature": "Beyond the lab: genlab's strongest models against the published log-likelihoods",
}

# run(preset, out, device=, data_dir=, progress=) -> the task's output directory
RunTask = Callable[..., Path]


@dataclass(frozen=True)
class Task:
    name: str
    run: RunTask
    presets: dict[str, Preset]
    plan: Callable[[Preset], list[Job]]  # the runs ``run`` trains, for training them side by side

    @property
    def title(self) -> str:
        return TITLES[self.name]
