"""The lab: each task's experiments as one command (``genlab lab TASK --preset NAME``).

Every task is a :class:`~genlab.lab.task.Task` of :data:`TASKS`: its experiments (``lab/rbm.py`` ...),
drawing with :mod:`genlab.figures`, reporting with :mod:`genlab.lab.findings` and
:mod:`genlab.lab.report`, under the presets of :mod:`genlab.lab.presets`. ``all`` runs every
task in order (:mod:`genlab.lab.all`). :class:`genlab.lab.core.Lab` re-uses finished runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path

import torch

from genlab.errors import ConfigError
from genlab.lab import dbn, dcgan, literature, rbm, vae
from genlab.lab import overrides as overrides_module
from genlab.lab.all import run_all
from genlab.lab.core import Lab, timed_from_here
from genlab.lab.executor import Executor, train_all
from genlab.lab.pdf import find_browser, print_pdf
from genlab.lab.presets import NAMES, PRESETS
from genlab.lab.task import Task

# In the order 'lab all' runs them: later tasks re-use earlier runs (the DBN stacks on the RBM).
TASKS: dict[str, Task] = {task.name: task for task in (
    Task("rbm", rbm.run, PRESETS["rbm"], rbm.plan),
    Task("dbn", dbn.run_dbn, PRESETS["dbn"], dbn.plan_dbn),
    Task("dbn-finetune", dbn.run_finetune, PRESETS["dbn-finetune"], dbn.plan_finetune),
    Task("vae", vae.run, PRESETS["vae"], vae.plan),
    Task("dcgan", dcgan.run, PRESETS["dcgan"], dcgan.plan),
)}
ALL = "all"  # every task, then one report
# Beyond the lab's tasks (not part of 'all'): the strong configurations against the literature.
EXTRA: dict[str, Task] = {"literature": Task("literature", literature.run, literature.PRESETS, literature.plan)}
PRESET_NAMES = tuple(dict.fromkeys([*NAMES, *(name for task in EXTRA.values() for name in task.presets)]))


def run_lab(task: str, preset: str, out: str | Path, device: str | torch.device = "auto",
            data_dir: str | Path | None = None, progress: bool = True, dataset: str | None = None,
            overrides: Sequence[str] = (), executor: Executor | None = None, pdf: bool = False) -> Path:
    """``genlab lab TASK --preset NAME [--dataset NAME|DIR] [--set KEY=VALUE ...]``: the task's experiments (or
    every task's, for ``all``) with every run on ``dataset`` and the ``--set`` overrides
    (:mod:`genlab.lab.overrides`); returns the output directory of the task (``OUT`` for ``all``). With an
    ``executor``, the task's runs are first trained side by side (:mod:`genlab.lab.executor`), then the task
    re-uses them. With ``pdf``, the report is also printed to ``report.pdf`` beside ``report.html``
    (:mod:`genlab.lab.pdf`; the browser is looked for before anything is trained)."""
    known = {**TASKS, **EXTRA}
    if task != ALL and task not in known:
        raise ConfigError(f"TASK: unknown lab task {task!r}, expected one of {', '.join(sorted([*known, ALL]))}")
    tasks = list(TASKS.values()) if task == ALL else [known[task]]
    if preset not in tasks[0].presets:
        raise ConfigError(f"--preset: lab {task} has the presets {', '.join(tasks[0].presets)}, got {preset!r}")
    changes = overrides_module.parse(overrides, [t.presets[preset] for t in tasks])
    dataset = overrides_module.dataset_option(dataset)
    presets = {t.name: overrides_module.customized(t.presets[preset], dataset, changes) for t in tasks}
    browser = find_browser() if pdf else None
    with timed_from_here() if executor is not None else nullcontext():  # the reports' times include the training
        if task == ALL:
            result = run_all(tasks, presets, Path(out), device=device, data_dir=data_dir, progress=progress,
                             executor=executor)
        else:
            if executor is not None:
                train_all(known[task].plan(presets[task]), Lab(out, preset, device, data_dir, progress), executor,
                          str(device))
            result = known[task].run(presets[task], Path(out), device=device, data_dir=data_dir, progress=progress)
    if browser is not None:
        print_pdf(result / "report.html", result / "report.pdf", browser)
    return result
