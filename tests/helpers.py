"""Helpers for tests: writing IDX files and small data sets."""

from __future__ import annotations

import contextlib
import gzip
import os
import re
from collections.abc import Iterator
from pathlib import Path

import torch


def write_idx(path: Path, array: torch.Tensor, compress: bool | None = None) -> Path:
    """Write a uint8 tensor as an IDX file (gzip when the name ends in .gz)."""
    header = bytes([0, 0, 0x08, array.dim()]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    payload = header + array.to(torch.uint8).contiguous().numpy().tobytes()
    compress = path.suffix == ".gz" if compress is None else compress
    path.write_bytes(gzip.compress(payload, mtime=0) if compress else payload)
    return path


def write_dataset(directory: Path, n_train: int = 300, n_test: int = 100, seed: int = 0, gz: bool = True) -> Path:
    """A small custom data set of random 28x28 'images' with labels 0..9 in the standard file names."""
    g = torch.Generator().manual_seed(seed)
    directory.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = (torch.rand(n, 28, 28, generator=g) ** 3 * 255).to(torch.uint8)
        labels = torch.arange(n) % 10
        write_idx(directory / f"{split}-images-idx3-ubyte{ext}", images)
        write_idx(directory / f"{split}-labels-idx1-ubyte{ext}", labels)
    return directory


# '{name}', '{name[...', '{name.x', '{name(', '{name:,}', '{name!r}': what a string meant as an f-string leaves unformatted
PLACEHOLDER = re.compile(r"\{[A-Za-z_]\w*[\[.(:!}]")


def unformatted_placeholders(text: str) -> list[str]:
    """The unformatted fields in a text; JSON ('{"key"') and CSS ('body { ...') have none."""
    return PLACEHOLDER.findall(text)


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    """Run the block with ``mask`` as the process's umask."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)
