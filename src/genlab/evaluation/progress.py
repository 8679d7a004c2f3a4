"""Progress bars of an evaluation's slow steps: tqdm on stderr, drawn only when asked.

Every step of ``genlab eval`` that can take more than a second shows one, named after what
it computes (``AIS over visible units``, ``drawing samples``, ...); ``--quiet`` (``progress=False``)
turns them all off, and then nothing is printed. Under ``torchrun`` only rank 0 draws them.
Finished bars are cleared, so that an evaluation leaves only its results on the terminal.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from tqdm import tqdm

from genlab.distributed import current

T = TypeVar("T")


def bar(items: Iterable[T], desc: str, progress: bool, total: int | None = None, unit: str = "it") -> tqdm:
    """``items`` with a progress bar named ``desc`` (no bar unless ``progress``, and on rank 0)."""
    return tqdm(items, desc=desc, total=total, unit=unit, disable=not (progress and current().main), leave=False,
                mininterval=1.0, dynamic_ncols=True)


@contextmanager
def step(desc: str, progress: bool) -> Iterator[None]:
    """A line naming a step that reports no progress of its own (fitting the linear probe), shown while it runs."""
    with tqdm(total=1, desc=desc, bar_format="{desc} ...", disable=not (progress and current().main),
              leave=False) as shown:
        yield
        shown.update()
