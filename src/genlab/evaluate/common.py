"""What every evaluation shares: the fixed binarised test set and the run's data."""

from __future__ import annotations

from pathlib import Path

import torch

from genlab import data
from genlab.rng import make_generator
from genlab.runs import Run

# The MNIST test set (and 10,000 training images) are binarised once, with this
# seed, for every log-likelihood in genlab, so numbers of different runs compare.
BINARIZE_SEED = 12345


def source_for_run(run: Run, data_dir: str | Path | None = None) -> data.DataSource:
    """The run's data set: ``data_dir`` if given, else where it was trained from, else the usual lookup."""
    meta = run.meta.get("data", {})
    name = meta.get("dataset", "mnist")
    known = name in data.DATASETS
    if data_dir is not None:
        return data.resolve(name if known else str(data_dir), data_dir if known else None)
    recorded = meta.get("directory")
    if recorded and data.has_files(Path(recorded)):
        return data.resolve(name, recorded) if known else data.resolve(recorded)
    return data.resolve(name)


def binarized(images: torch.Tensor, seed: int = BINARIZE_SEED) -> torch.Tensor:
    """[N, H, W] uint8 -> [N, H*W] binary floats, the same sample for the same images and seed (on the CPU)."""
    x = data.as_float(images.cpu())
    return data.binarize(x, make_generator(seed, "cpu")).to(images.device)
