"""Which fast path runs a task: the fastest on this machine, measured once and remembered.

Which path is fastest depends on the machine: on a 2-core AMD EPYC with AVX2 the compiled
PyTorch steps once beat genlab's own CD-1 kernel, which wins on processors with AVX-512, so a
fixed order picks wrongly somewhere. :func:`fastest` times every candidate on a short trial the
first time this machine meets a task, and keeps the winner and the times in genlab's cache
directory (``paths-<machine>.json``); later runs choose at once. Every candidate computes the
same update from the same random bits, so the choice changes the speed and nothing else beyond
floating-point rounding.

``$GENLAB_FAST_PATH`` lists paths by preference (``kernel``, ``steps``, ``plain``; e.g. ``kernel,plain``):
the first one that is a candidate is taken without measuring, and ``plain``, always a candidate, means
the plain PyTorch loop. For runs that must take one path on every machine, and for the tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import torch

from genlab.data import cache_root
from genlab.errors import ConfigError
from genlab.files import write_json
from genlab.version import __version__

ENV = "GENLAB_FAST_PATH"
PATHS = ("kernel", "steps", "plain")  # genlab's own kernel (native C, Triton); torch.compile'd steps; no fast path
PLAIN = "plain"


def preferred(candidates: Iterable[str]) -> str | None:
    """The first path of ``$GENLAB_FAST_PATH`` among ``candidates`` or ``plain`` (always one); None when the
    variable is unset or names none of them."""
    wanted = [name.strip() for name in os.environ.get(ENV, "").split(",") if name.strip()]
    unknown = [name for name in wanted if name not in PATHS]
    if unknown:
        raise ConfigError(f"${ENV}={os.environ[ENV]}: {unknown[0]!r} is not a path; expected a comma-separated list of "
                          f"{', '.join(PATHS)}")
    return next((name for name in wanted if name in (*candidates, PLAIN)), None)


def fastest(task: str, trials: dict[str, Callable[[], None]], machine: bytes, repeats: int = 2) -> str:
    """The name of the fastest of ``trials`` for ``task`` on this ``machine``.

    The :func:`preferred` one when ``$GENLAB_FAST_PATH`` names one (``plain`` included); the only one when
    there is one; else the cached choice; else each trial runs once to warm up (compilation, kernel
    builds) and is then timed ``repeats`` times, the best time counting, and the winner is cached.
    """
    wanted = preferred(trials)
    if wanted is not None:
        return wanted
    if len(trials) == 1:
        return next(iter(trials))
    path = cache_file(machine)
    known = read(path)
    if known.get(task, {}).get("choice") in trials:
        return known[task]["choice"]
    seconds = {name: best_time(trial, repeats) for name, trial in trials.items()}
    choice = min(seconds, key=seconds.__getitem__)
    known[task] = {"choice": choice, "seconds": seconds}
    write(path, known)
    return choice


def best_time(trial: Callable[[], None], repeats: int) -> float:
    """The shortest of ``repeats`` timed calls of ``trial``, after one untimed call."""
    trial()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        trial()
        times.append(time.perf_counter() - start)
    return min(times)


def cache_file(machine: bytes) -> Path:
    """The file of this machine's choices; a new genlab or PyTorch version measures afresh."""
    versions = f"genlab {__version__} torch {torch.__version__}".encode()
    return cache_root() / f"paths-{hashlib.sha256(machine + b'|' + versions).hexdigest()[:16]}.json"


def read(path: Path) -> dict:
    """The cached choices, or none when the file is missing or unreadable (it is measured again)."""
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return known if isinstance(known, dict) else {}


def write(path: Path, known: dict) -> None:
    """Write the choices whole or not at all (a cache that cannot be written is measured again next time)."""
    try:
        write_json(path, known)
    except OSError:
        pass
