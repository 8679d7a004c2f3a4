"""The lab: each SPEC task's experiments as one command (``genlab lab TASK``)."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from pathlib import Path

from genlab.errors import ConfigError

# tiny: a smoke test of every step in a few minutes (its numbers mean nothing);
# quick: minutes to tens of minutes on a laptop CPU; full: the SPEC reference configs.
PRESETS = ("tiny", "quick", "full")

# What the tiny preset of every lab trains on and measures with.
TINY_IMAGES = 500  # first training images
TINY_TEST = 500  # first test images

# task name -> "module:function"; the function takes (preset, out, device=, data_dir=, progress=)
# and returns the task's output directory. Modules are imported only when their task runs.
LABS: dict[str, str] = {
    "rbm": "genlab.lab.rbm:run",
    "dbn": "genlab.lab.dbn:run_dbn",
    "dbn-finetune": "genlab.lab.dbn:run_finetune",
    "vae": "genlab.lab.vae:run",
    "dcgan": "genlab.lab.dcgan:run",
    "all": "genlab.lab.all:run_all",
}


def lab_function(task: str) -> Callable[..., Path]:
    if task not in LABS:
        raise ConfigError(f"TASK: unknown lab task {task!r}, expected one of {', '.join(sorted(LABS))}")
    module, name = LABS[task].split(":")
    return getattr(import_module(module), name)


def run_lab(task: str, preset: str, out: str | Path, device: str = "auto", data_dir: str | Path | None = None, progress: bool = True) -> Path:
    if preset not in PRESETS:
        raise ConfigError(f"--preset: expected one of {', '.join(PRESETS)}, got {preset!r}")
    return lab_function(task)(preset, Path(out), device=device, data_dir=data_dir, progress=progress)
