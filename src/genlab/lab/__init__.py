"""The lab: each SPEC task's experiments as one command (``genlab lab TASK``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from genlab.errors import ConfigError

PRESETS = ("quick", "full")

# task name -> function(preset, out, device=, data_dir=, progress=) -> output directory
LABS: dict[str, Callable[..., Path]] = {}


def run_lab(task: str, preset: str, out: str | Path, device: str = "auto", data_dir: str | Path | None = None, progress: bool = True) -> Path:
    if task not in LABS:
        raise ConfigError(f"TASK: unknown lab task {task!r}, expected one of {', '.join(sorted(LABS)) or '(none yet)'}")
    if preset not in PRESETS:
        raise ConfigError(f"--preset: expected one of {', '.join(PRESETS)}, got {preset!r}")
    return LABS[task](preset, Path(out), device=device, data_dir=data_dir, progress=progress)


def _vae(*args, **kwargs) -> Path:
    from genlab.lab import vae

    return vae.run(*args, **kwargs)


LABS["vae"] = _vae
