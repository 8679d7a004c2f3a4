"""Shared fixtures: the real MNIST files and small IDX data sets written on the fly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

if os.environ.get("PYTEST_XDIST_WORKER"):
    # one thread a worker (and a worker's subprocesses): ./dev.sh test runs a worker per core, and two threads
    # each would wait on each other; set before PyTorch starts its thread pool
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

if not torch.cuda.is_available():
    # genlab's Triton kernels (genlab.accel.cd_cuda) run in Triton's interpreter, on CPU tensors; this must be
    # set before Triton is first imported
    os.environ.setdefault("TRITON_INTERPRET", "1")

# Training takes genlab's own kernel wherever it applies, as on a machine where it measured fastest (each test
# has a cache of its own, so each would otherwise time the paths), and the plain loop elsewhere (compiling
# steps takes seconds to minutes a shape); tests/accel/test_choice.py tests the measurement, and the tests of
# the compiled steps ask for them
os.environ.setdefault("GENLAB_FAST_PATH", "kernel,plain")

from helpers import write_dataset

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The real MNIST files: $GENLAB_DATA_DIR, else ../shared/datasets/mnist beside the project."""
    candidates = [os.environ.get("GENLAB_DATA_DIR"), ROOT.parent / "shared" / "datasets" / "mnist"]
    for c in candidates:
        if c and (Path(c) / "train-images-idx3-ubyte.gz").exists():
            return Path(c).resolve()  # $GENLAB_DATA_DIR may be relative, as in the README's test command
    pytest.skip("the MNIST files are not available (set GENLAB_DATA_DIR)")


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "tiny")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """No test reads or writes the real ~/.cache/genlab."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("GENLAB_CACHE_DIR", raising=False)
    return home


@pytest.fixture(scope="session")
def shared_cache_dir(tmp_path_factory) -> Path:
    """One genlab cache for the whole test session, all its worker processes: the metrics classifier of MNIST is
    trained once (genlab locks a cache entry while it trains it)."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the session's directory, above each worker's own
    (root / "shared-cache").mkdir(exist_ok=True)
    return root / "shared-cache"


@pytest.fixture
def shared_cache(shared_cache_dir, monkeypatch) -> Path:
    monkeypatch.setenv("GENLAB_CACHE_DIR", str(shared_cache_dir))
    return shared_cache_dir


@pytest.fixture(scope="session")
def mnist_subset_dir(mnist_dir, tmp_path_factory) -> Path:
    """The first 2,000 training and 500 test images of MNIST as a data set of their own (``--dataset DIR``): real
    digits, on which the metrics classifier trains in seconds instead of minutes."""
    from helpers import write_idx

    from genlab import data

    out = tmp_path_factory.mktemp("mnist-subset")
    source = data.resolve("mnist", mnist_dir)
    for split, prefix, n in (("train", "train", 2000), ("test", "t10k", 500)):
        images = data.read_split(source, split)
        write_idx(out / f"{prefix}-images-idx3-ubyte.gz", images.images[:n].cpu())
        write_idx(out / f"{prefix}-labels-idx1-ubyte.gz", images.labels[:n].cpu())
    return out
